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
    /// The empty `0 × 0` matrix.
    pub const EMPTY: MatRef<'static> = MatRef {
        data: &[],
        rows: 0,
        cols: 0,
    };

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

/// A read-only `rows × cols` row-major view of bytes whose length was checked, read as
/// `f32::from(byte) / divisor` (MNIST pixels: divisor 255, so values in [0, 1]). Inputs stay
/// bytes until a batch needs them.
#[derive(Debug, Clone, Copy)]
pub struct ByteMatRef<'a> {
    data: &'a [u8],
    rows: usize,
    cols: usize,
    divisor: f32,
}

impl<'a> ByteMatRef<'a> {
    /// The empty `0 × 0` matrix.
    pub const EMPTY: ByteMatRef<'static> = ByteMatRef {
        data: &[],
        rows: 0,
        cols: 0,
        divisor: 1.0,
    };

    /// Wraps `data` as `rows × cols`, each value read as `byte / divisor`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `rows * cols` overflows; [`Error::ShapeMismatch`] unless
    /// `data.len() == rows * cols`; [`Error::InvalidParameter`] `"divisor"` unless it is
    /// finite and positive.
    pub fn new(data: &'a [u8], rows: usize, cols: usize, divisor: f32) -> Result<Self, Error> {
        let expected = rows.checked_mul(cols).ok_or(Error::TooLarge)?;
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                expected,
                got: data.len(),
            });
        }
        if !(divisor.is_finite() && divisor > 0.0) {
            return Err(Error::InvalidParameter { name: "divisor" });
        }
        Ok(Self {
            data,
            rows,
            cols,
            divisor,
        })
    }

    /// Number of rows (samples).
    #[must_use]
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    #[must_use]
    pub const fn cols(&self) -> usize {
        self.cols
    }

    /// The divisor.
    #[must_use]
    pub const fn divisor(&self) -> f32 {
        self.divisor
    }

    /// The flat bytes, row-major.
    #[must_use]
    pub const fn as_slice(&self) -> &'a [u8] {
        self.data
    }
}

/// Network inputs: `f32` values, or bytes scaled when a batch is gathered.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a> {
    /// `f32` rows.
    F32(MatRef<'a>),
    /// Byte rows, read as `byte / divisor`.
    U8(ByteMatRef<'a>),
}

impl Inputs<'_> {
    /// Number of rows (samples).
    #[must_use]
    pub const fn rows(&self) -> usize {
        match self {
            Self::F32(m) => m.rows(),
            Self::U8(m) => m.rows(),
        }
    }

    /// Number of columns (features).
    #[must_use]
    pub const fn cols(&self) -> usize {
        match self {
            Self::F32(m) => m.cols(),
            Self::U8(m) => m.cols(),
        }
    }
}

impl<'a> From<MatRef<'a>> for Inputs<'a> {
    fn from(m: MatRef<'a>) -> Self {
        Self::F32(m)
    }
}

impl<'a> From<ByteMatRef<'a>> for Inputs<'a> {
    fn from(m: ByteMatRef<'a>) -> Self {
        Self::U8(m)
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
