//! Checked views over flat row-major data (R5).
//!
//! Layout, once for the whole crate: a matrix of `rows × cols` is stored row-major, element
//! `(r, c)` at flat index `r * cols + c`. One row is one sample; one column is one unit.

use crate::Error;

/// A read-only `rows × cols` row-major view of `f32` data whose length was checked.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatRef<'a> {
    /// Wraps `data` as `rows × cols`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `rows * cols` overflows; [`Error::ShapeMismatch`] unless
    /// `data.len() == rows * cols`.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::MatRef;
    /// let m = MatRef::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)?;
    /// assert_eq!(m.row(1), Some(&[4.0, 5.0, 6.0][..]));
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, Error> {
        let expected = rows.checked_mul(cols).ok_or(Error::TooLarge)?;
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                expected,
                got: data.len(),
            });
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows (samples).
    #[must_use]
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (units).
    #[must_use]
    pub const fn cols(&self) -> usize {
        self.cols
    }

    /// The flat data, row-major.
    #[must_use]
    pub const fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `r`, or `None` past the end.
    #[must_use]
    pub fn row(&self, r: usize) -> Option<&'a [f32]> {
        let start = r.checked_mul(self.cols)?;
        self.data.get(start..start.checked_add(self.cols)?)
    }

    /// Iterates over the rows. A matrix with zero columns yields no rows.
    pub fn row_iter(&self) -> impl Iterator<Item = &'a [f32]> + 'a {
        self.data
            .chunks_exact(self.cols.max(1))
            .take(if self.cols == 0 { 0 } else { self.rows })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert_eq!(
            MatRef::new(&[0.0; 5], 2, 3).unwrap_err(),
            Error::ShapeMismatch {
                expected: 6,
                got: 5
            }
        );
        assert_eq!(
            MatRef::new(&[], usize::MAX, 2).unwrap_err(),
            Error::TooLarge
        );
        let m = MatRef::new(&[1.0, 2.0, 3.0, 4.0], 2, 2).unwrap();
        assert_eq!(m.row(2), None);
        assert_eq!(m.row_iter().count(), 2);
        assert_eq!(MatRef::new(&[], 3, 0).unwrap().row_iter().count(), 0);
    }
}
