//! The `infoplane` command line: parse, call the core, write results (R22).
//!
//! The library half exists so tests and fuzzers can call the I/O and the commands in-process.
#![forbid(unsafe_code)]

pub mod args;
pub mod cmd;
pub mod error;
pub mod io;
pub mod plot;
pub mod progress;
