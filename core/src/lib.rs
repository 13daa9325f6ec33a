//! # infoplane-core
//!
//! Trains small fully connected networks and measures, while they learn, the mutual
//! information between each layer T and the input X, I(X;T), and the label Y, I(T;Y): the
//! *information plane* of Shwartz-Ziv & Tishby (2017), with the estimators Saxe et al. (2018)
//! used to dispute it. Everything here is `no_std`, allocation-free and deterministic: the
//! caller hands in every buffer, and the same inputs give the same bits on every target.
//!
//! ## Quick start, no allocation
//! ```
//! use infoplane_core::MatRef;
//! use infoplane_core::estimator::{Estimator, Layer, Settings};
//! // Eight samples of a 2-unit layer and their labels.
//! let t = [0.9f32, 0.9, 0.9, 0.9, -0.9, 0.1, -0.9, 0.1, 0.2, 0.2, 0.2, 0.2, -0.5, -0.5, -0.5, -0.5];
//! let y = [1u32, 0, 1, 0, 1, 0, 1, 0];
//! let binning = Estimator::new("binning", Settings::DEFAULT)?; // 30 edges on [−1, 1]
//! let plan = binning.plan(8, 2)?;
//! let mut scratch = [0u64; 64]; // ≥ plan.scratch_req().words() = 3·8 + 1 + 30 + 2·2 = 59
//! let layer = Layer::new(MatRef::new(&t, 8, 2)?, &y, None)?;
//! let p = plan.estimate(&layer, &mut scratch)?;
//! assert_eq!(p.i_xt.in_bits(), 2.0); // four distinct binned rows, two samples each
//! assert_eq!(p.i_ty.in_bits(), 0.0); // each binned row holds one sample of each class
//! # Ok::<(), infoplane_core::Error>(())
//! ```
//!
//! ## Memory model
//! Every kernel is a *plan* built from sizes and settings and checked once
//! ([`estimator::Estimator::plan`], [`MlpPlan::new`]), a scratch requirement
//! ([`ScratchReq`]: typed pieces that compose with `and` and `any_of`), and a call that takes
//! the data as slices and the scratch as one `&mut [u64]` buffer, which the kernel carves into
//! `f32`, `u32` and `u64` views ([`Scratch`]). A short scratch is an
//! [`Error::ScratchTooSmall`], never a panic; what the scratch holds on entry is ignored, and
//! every element is written before it is read. Persistent state (weights, optimiser moments)
//! lives in separate caller buffers sized by `param_len()` and `state_len()`. Scratch sizes
//! may change between versions: ask, do not hard-code. With the `alloc` feature,
//! [`Workspace`] sizes itself.
//!
//! Matrices are row-major: element `(r, c)` of a `rows × cols` [`MatRef`] is at
//! `r * cols + c`; a row is a sample, a column a unit.
//!
//! ## The parts
//! * [`estimator`]: every mutual-information estimator behind one interface (binning in
//!   three forms, the KDE bounds), a registry, and input groups for I(X;T).
//! * [`mlp`], [`optim`], [`train`]: the network, its optimisers and the epoch loop.
//! * [`data`], [`dataset`]: Tishby's 12-bit task; data sets of `f32` or byte inputs with their
//!   input identity.
//! * [`preset`]: the published set-ups, owning every default of a run.
//! * [`schedule`]: which epochs are measured.
//! * `experiment` (feature `alloc`): the run driver every frontend shares.
//!
//! ## Determinism
//! * All transcendental functions go through [`math`] (libm, plus a deterministic
//!   [`math::tanh`] and [`math::exp_neg`] in plain f32 arithmetic).
//! * Reductions run in one documented order (see [`math::lane_dot`]); no parallel
//!   reductions, no fused multiply-add. Sums split across threads are exact
//!   ([`estimator::RowSums`]).
//! * The hot kernels are compiled for several x86-64 levels and the best one the CPU has runs
//!   ([`simd`]); every level computes the same lanes in the same order, so only speed changes.
//! * Randomness comes from named, seeded streams ([`rng`]).
//! * NaN never reaches an output: inputs are checked at the boundary.
//!
//! ## Crate features
//! * `alloc` (off by default): `experiment`, a whole run (data set, split, training loop,
//!   capture points, a planner deciding which snapshots to measure, measurement, release in
//!   order, CSV rows) that owns its buffers, so the CLI and the browser build run the same
//!   code and write the same bytes; [`Workspace`]; owned data sets.
//! * `serde` (off by default): `Serialize` for the configuration, presets and estimators,
//!   and (with `alloc`) `catalog`, everything a frontend offers as one value.
//!
//! ## What is implemented, and what is not
//! Implemented: the MLP (any widths up to [`mlp::MAX_LAYERS`] weight layers; tanh, relu,
//! sigmoid, linear, leaky relu, softsign, softplus; softmax output with cross-entropy), three
//! initialisers, SGD with momentum and Adam, Tishby's 12-bit data set, data sets of `f32` or
//! byte inputs, the binning estimators (Tishby edges with an IDNNs-compatibility mode, fixed
//! size, per-layer range), the KDE upper and lower bounds (Kolchinsky & Tracey), input groups
//! in every estimator, the epoch schedules, delta skip and pooled (as-if-random) estimates
//! (with `alloc`), and [`idx`] files (MNIST's format). Not yet: k-NN and adaptive binning
//! estimators, the `saxe-mnist` preset as a run.
//!
//! ## MSRV
//! Rust 1.89 (the AVX-512 target features the x86-64 dispatch compiles for were stabilised in
//! 1.89).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
// The module docs link to the run driver's types (`Workspace`, `Dataset`, …), which exist
// with the `alloc` feature; documented without it, those links are plain text.
#![cfg_attr(not(feature = "alloc"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod act;
#[cfg(all(feature = "alloc", feature = "serde"))]
pub mod catalog;
pub mod data;
pub mod dataset;
mod error;
pub mod estimator;
#[cfg(feature = "alloc")]
pub mod experiment;
pub mod idx;
mod info;
mod mat;
pub mod math;
pub mod metrics;
pub mod mlp;
pub mod optim;
pub mod preset;
pub mod rng;
pub mod schedule;
mod scratch;
#[cfg(feature = "serde")]
mod serde_impls;
pub mod simd;
pub mod train;

pub use act::Activation;
pub use error::{Error, MAX_LOSS, all_finite, check_finite};
pub use estimator::binning::{self, BinRule, BinningPlan};
pub use estimator::kde::{self, KdeBoth, KdeBound, KdePlan, KdeTree};
pub use info::{Info, PlanePoint};
pub use mat::{ByteMatRef, Inputs, MatRef};
pub use mlp::{Init, MlpPlan, MlpShape, Parallel, Serial};
pub use optim::Optimizer;
pub use rng::{Stream, StreamRng};
pub use schedule::{Capture, Schedule};
#[cfg(feature = "alloc")]
pub use scratch::Workspace;
pub use scratch::{Scratch, ScratchReq};
pub use simd::Isa;
pub use train::{BatchOrder, Trainer};
