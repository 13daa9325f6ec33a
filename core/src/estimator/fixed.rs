//! Exact sums of per-row terms, so an estimate split across threads has the bits of one call.
//!
//! Estimators that average a term over the rows (the KDE bounds: one log-sum per row and per
//! conditioning) round each term toward zero to a multiple of `2^-64` and add the integers in
//! `i128`. Integer addition is exact and associative, so the order in which rows, parts or
//! threads are summed cannot change the result; only the final conversion to `f64` rounds,
//! once.

/// `2^64`: terms are summed in units of `2^-64`.
const FIXED_ONE: f64 = 18_446_744_073_709_551_616.0;

/// The fixed-point sums of up to three per-row terms (for the KDE bounds: over all rows,
/// over the row's class, over the row's input group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowSums {
    sums: [i128; 3],
}

impl RowSums {
    /// Adds one row's terms. Each term is rounded toward zero to a multiple of `2^-64`; the
    /// conversion saturates far outside any term an estimator writes (|term| < 2^60), and
    /// so do the sums, so nothing can overflow.
    #[inline]
    pub fn push(&mut self, terms: [f64; 3]) {
        for (s, t) in self.sums.iter_mut().zip(terms) {
            #[allow(clippy::cast_possible_truncation)] // truncation toward zero is the rounding
            let x = (t * FIXED_ONE) as i128;
            *s = s.saturating_add(x);
        }
    }

    /// The sums of both, exactly.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        let mut out = self;
        for (s, o) in out.sums.iter_mut().zip(other.sums) {
            *s = s.saturating_add(o);
        }
        out
    }

    /// Term `k`'s sum in `f64`, rounded once to nearest.
    #[must_use]
    pub fn get(&self, k: usize) -> f64 {
        #[allow(clippy::cast_precision_loss)] // one rounding, to nearest
        let v = self.sums.get(k).copied().unwrap_or(0) as f64 / FIXED_ONE;
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn sums_are_exact_and_order_free() {
        let terms = [0.1f64, 1e-19, 3.5, 22.2, 1.0 / 3.0, 7e-5];
        let mut fwd = RowSums::default();
        let mut parts = [RowSums::default(), RowSums::default()];
        for (i, &t) in terms.iter().enumerate() {
            fwd.push([t, 2.0 * t, 0.0]);
            parts[i % 2].push([t, 2.0 * t, 0.0]);
        }
        let mut back = RowSums::default();
        for &t in terms.iter().rev() {
            back.push([t, 2.0 * t, 0.0]);
        }
        assert_eq!(fwd, back);
        assert_eq!(fwd, parts[1].merge(parts[0]));
        let want: f64 = terms.iter().sum();
        assert!((fwd.get(0) - want).abs() < 1e-15);
        assert_eq!(fwd.get(2), 0.0);
        assert_eq!(fwd.get(9), 0.0);
    }
}
