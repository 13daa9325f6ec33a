//! The one error type of the core crate (R10).

use core::fmt;

/// The mean training loss (nats) above which a run counts as diverged. A network that
/// guesses uniformly over C classes scores ln C (0.69 for two); 1000 nats means the true
/// class gets e^-1000 on average: outputs saturated far past anything a working rate gives.
pub const MAX_LOSS: f64 = 1000.0;

/// Everything that can go wrong in a core call. Variants carry the numbers a caller needs to
/// act; nothing allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The scratch is shorter than the plan's requirement (`scratch_req()` or `scratch_len()`).
    ScratchTooSmall {
        /// Elements the kernel needs.
        needed: usize,
        /// Elements it was given.
        got: usize,
    },
    /// A slice length disagrees with the shape it was declared with.
    ShapeMismatch {
        /// Length the shape implies.
        expected: usize,
        /// Length that was passed.
        got: usize,
    },
    /// One dimension of a matrix disagrees with the plan, for example a transposed layer.
    DimensionMismatch {
        /// Which dimension: `"rows"` (samples) or `"columns"` (units).
        dim: &'static str,
        /// What the plan expects.
        expected: usize,
        /// What was passed.
        got: usize,
    },
    /// There are no samples, rows, units or epochs to work on.
    EmptyInput,
    /// A NaN or infinite value at this flat index of the input.
    NonFinite {
        /// Flat (row-major) index of the first offending value.
        index: usize,
    },
    /// A size whose arithmetic would overflow `usize` (or `u32` where data stores counts).
    TooLarge,
    /// A computed result overflowed to a non-finite value (a diverging run: lower the learning
    /// rate). Nothing non-finite is ever returned as `Ok`.
    Overflow,
    /// Training diverged: the mean training loss passed [`MAX_LOSS`] nats (lower the learning
    /// rate).
    Diverged,
    /// A parameter outside its documented domain.
    InvalidParameter {
        /// The parameter's name as documented.
        name: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ScratchTooSmall { needed, got } => {
                write!(f, "scratch too small: needed {needed} elements, got {got}")
            }
            Self::ShapeMismatch { expected, got } => {
                write!(f, "shape mismatch: expected {expected} elements, got {got}")
            }
            Self::DimensionMismatch { dim, expected, got } => {
                write!(f, "dimension mismatch: {got} {dim}, expected {expected}")
            }
            Self::EmptyInput => f.write_str("empty input"),
            Self::NonFinite { index } => write!(f, "non-finite value at flat index {index}"),
            Self::TooLarge => f.write_str("size too large"),
            Self::Diverged => write!(
                f,
                "training diverged: the mean training loss is above {MAX_LOSS} nats (lower the learning rate)"
            ),
            Self::Overflow => {
                f.write_str("a result overflowed to a non-finite value (is training diverging?)")
            }
            Self::InvalidParameter { name } => write!(f, "invalid parameter `{name}`"),
        }
    }
}

impl core::error::Error for Error {}

/// Fails with [`Error::NonFinite`] at the first value that is NaN or infinite.
///
/// # Errors
/// [`Error::NonFinite`] with the flat index of the first offending value.
pub fn check_finite(values: &[f32]) -> Result<(), Error> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { index }),
        None => Ok(()),
    }
}
