//! Shared test support for infoplane: seeded fixtures, slow reference implementations,
//! named tolerances and the golden-file format (STYLE R20, R26).
//!
//! * [`fixtures`]: every random input the integration tests and the benches use, from fixed
//!   seeds through [`infoplane_core::StreamRng`], so a failure reproduces exactly.
//! * [`reference`](mod@reference): obviously correct, slow versions of the core kernels (map-based binning,
//!   an `f64` network for finite differences, `f64` optimiser steps, the epoch schedules).
//! * [`tolerance`]: every allowed error, with the reason for its size.
//! * [`golden`]: parsing and writing `data/golden/*.txt`, shared with the wasm tests.
//!
//! The integration tests live in `integration/` (one binary, `cargo test -p infoplane-tests`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fixtures;
pub mod golden;
pub mod reference;
pub mod tolerance;
