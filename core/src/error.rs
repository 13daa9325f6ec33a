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
    if all_finite(values) {
        return Ok(());
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { index }),
        None => Ok(()),
    }
}

/// Whether no value is NaN or infinite. Branch-free within blocks of 1024 values (an OR of
/// "exponent all ones" the compiler vectorises), where `iter().all(is_finite)` tests and
/// branches per value: the per-step checks of a network's 800 000 parameters and gradients
/// cost a tenth of a training step that way.
#[must_use]
pub fn all_finite(values: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    values.chunks(1024).all(|block| {
        block
            .iter()
            .fold(0u32, |m, v| m | u32::from(v.to_bits() & EXP == EXP))
            == 0
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    /// `all_finite` and `check_finite` agree with a per-value `is_finite` scan: every
    /// non-finite kind at the edges of the 1024-value blocks and between, beside the largest
    /// finite values and subnormals, which are finite.
    #[test]
    fn finite_checks_find_every_non_finite_value() {
        let base: std::vec::Vec<f32> = (0..3000)
            .map(|i| match i % 5 {
                0 => f32::MAX,
                1 => -f32::MAX,
                2 => f32::MIN_POSITIVE / 4.0,
                3 => -0.0,
                _ => 1.5,
            })
            .collect();
        assert!(all_finite(&base));
        assert_eq!(check_finite(&base), Ok(()));
        assert!(all_finite(&[]));
        for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 1, 1023, 1024, 1025, 2047, 2999] {
                let mut v = base.clone();
                v[at] = bad;
                // A second bad value later: the index is the first.
                v[2999.min(at + 700)] = f32::INFINITY;
                assert!(!all_finite(&v), "{bad} at {at}");
                assert_eq!(check_finite(&v), Err(Error::NonFinite { index: at }));
                assert!(!all_finite(&v[at..=at]));
            }
        }
    }
}
