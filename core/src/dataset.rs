//! Data sets the run driver trains on, and input identity for grouping.
//!
//! A [`Dataset`] (feature `alloc`) holds the inputs (`f32` rows, or bytes that stay bytes
//! until a batch needs them), the labels, the class count and the *input identity*: which
//! rows are the same input, so every estimator can form
//! `I(X;T) = H(T) − Σ_x p(x) H(T|X=x)`. The driver takes any data set; Tishby's 12-bit task
//! is one ([`Dataset::tishby`]), users' own data another.
//!
//! [`group_rows`] and [`group_byte_rows`] (no allocation) assign those group ids.

use crate::Error;
use crate::mat::{ByteMatRef, MatRef};
use crate::scratch::{Scratch, ScratchReq};
use core::cmp::Ordering;

/// Assigns each row of `x` a group id (dense, from 0, in lexicographic order of the rows),
/// equal ids for equal rows (−0.0 equals 0.0). Use it to build the input groups of an
/// estimator's [`Layer`](crate::estimator::Layer) from raw inputs.
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `ids.len() == x.rows()`; [`Error::NonFinite`];
/// [`Error::ScratchTooSmall`] if `scratch.len() < x.rows()`; [`Error::TooLarge`] for more
/// than `u32::MAX` rows.
///
/// # Scratch
/// `x.rows()` `u64`s.
///
/// # Complexity
/// O(rows · cols · log rows).
///
/// # Examples
/// ```
/// use infoplane_core::{MatRef, dataset::group_rows};
/// let x = MatRef::new(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 3, 2)?;
/// let mut ids = [9u32; 3];
/// group_rows(x, &mut ids, &mut [0u64; 3])?;
/// assert_eq!(ids, [1, 0, 1]);
/// # Ok::<(), infoplane_core::Error>(())
/// ```
pub fn group_rows(x: MatRef<'_>, ids: &mut [u32], scratch: &mut [u64]) -> Result<(), Error> {
    crate::error::check_finite(x.as_slice())?;
    assign(x.rows(), ids, scratch, |a, b| {
        let (ra, rb) = (x.row(a).unwrap_or(&[]), x.row(b).unwrap_or(&[]));
        for (&va, &vb) in ra.iter().zip(rb) {
            // Adding 0.0 turns −0.0 into +0.0, so the total order compares values.
            match (va + 0.0).total_cmp(&(vb + 0.0)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    })
}

/// [`group_rows`] for byte rows: equal ids for equal rows of bytes.
///
/// # Errors
/// As [`group_rows`], without the non-finite case.
pub fn group_byte_rows(
    x: ByteMatRef<'_>,
    ids: &mut [u32],
    scratch: &mut [u64],
) -> Result<(), Error> {
    let (data, cols) = (x.as_slice(), x.cols());
    assign(x.rows(), ids, scratch, |a, b| {
        let row = |r: usize| data.get(r * cols..(r + 1) * cols).unwrap_or(&[]);
        row(a).cmp(row(b))
    })
}

/// Sorts row indices by `cmp` and writes dense ranks into `ids`.
fn assign(
    n: usize,
    ids: &mut [u32],
    scratch: &mut [u64],
    cmp: impl Fn(usize, usize) -> Ordering,
) -> Result<(), Error> {
    if ids.len() != n {
        return Err(Error::ShapeMismatch {
            expected: n,
            got: ids.len(),
        });
    }
    if u32::try_from(n).is_err() {
        return Err(Error::TooLarge);
    }
    let idx = Scratch::new(scratch, ScratchReq::u64(n))?.u64(n)?;
    idx.iter_mut().zip(0u64..).for_each(|(s, i)| *s = i);
    let ix = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    idx.sort_unstable_by(|&a, &b| cmp(ix(a), ix(b)));
    let mut id = 0u32;
    let mut prev: Option<u64> = None;
    for &i in idx.iter() {
        if let Some(p) = prev
            && cmp(ix(p), ix(i)) != Ordering::Equal
        {
            id += 1;
        }
        if let Some(slot) = ids.get_mut(ix(i)) {
            *slot = id;
        }
        prev = Some(i);
    }
    Ok(())
}

#[cfg(feature = "alloc")]
pub use owned::{Dataset, InputData};

#[cfg(feature = "alloc")]
mod owned {
    use super::{group_byte_rows, group_rows};
    use crate::Error;
    use crate::data::{TISHBY_BITS, TISHBY_ROWS, tishby_dataset};
    use crate::mat::{ByteMatRef, Inputs, MatRef};
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    /// The inputs of a data set.
    #[derive(Debug, Clone, PartialEq)]
    pub enum InputData {
        /// `f32` values, row-major.
        F32(Vec<f32>),
        /// Bytes, row-major, read as `byte / divisor` when a batch is gathered.
        U8 {
            /// The bytes.
            data: Vec<u8>,
            /// The divisor (255 for pixels in [0, 1]).
            divisor: f32,
        },
    }

    /// A data set: inputs, labels, the class count and which rows share an input.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Dataset {
        name: String,
        inputs: InputData,
        rows: usize,
        cols: usize,
        labels: Vec<u32>,
        classes: u32,
        groups: Option<Vec<u32>>,
        split: Option<usize>,
    }

    impl Dataset {
        /// Tishby's 12-bit task: all 4096 patterns (0.0/1.0), their labels, 2 classes, every
        /// input distinct.
        #[must_use]
        pub fn tishby() -> Self {
            let mut x = vec![0.0f32; TISHBY_ROWS * TISHBY_BITS];
            let mut labels = vec![0u32; TISHBY_ROWS];
            // The buffers have the sizes tishby_dataset checks, so it cannot fail.
            let filled = tishby_dataset(&mut x, &mut labels);
            debug_assert!(filled.is_ok());
            Self {
                name: "tishby-12bit".into(),
                inputs: InputData::F32(x),
                rows: TISHBY_ROWS,
                cols: TISHBY_BITS,
                labels,
                classes: 2,
                groups: None,
                split: None,
            }
        }

        /// A data set of `f32` inputs (`labels.len()` rows of `cols` values), labels in
        /// `0..classes`. Equal rows become one input group.
        ///
        /// # Errors
        /// [`Error::EmptyInput`] for no rows or columns; [`Error::ShapeMismatch`] unless
        /// `x.len() == labels.len() · cols`; [`Error::NonFinite`];
        /// [`Error::InvalidParameter`] `"classes"` for fewer than 2 classes or a label
        /// ≥ `classes`; [`Error::TooLarge`] for more than `u32::MAX` rows.
        pub fn from_f32(
            name: &str,
            x: Vec<f32>,
            cols: usize,
            labels: Vec<u32>,
            classes: u32,
        ) -> Result<Self, Error> {
            let rows = labels.len();
            let m = MatRef::new(&x, rows, cols)?;
            check_labels(rows, cols, &labels, classes)?;
            let mut ids = vec![0u32; rows];
            group_rows(m, &mut ids, &mut vec![0u64; rows])?;
            Ok(Self {
                name: name.into(),
                groups: repeated(ids, rows),
                inputs: InputData::F32(x),
                rows,
                cols,
                labels,
                classes,
                split: None,
            })
        }

        /// A data set of byte inputs read as `byte / divisor`. Equal rows become one input
        /// group.
        ///
        /// # Errors
        /// As [`Dataset::from_f32`]; [`Error::InvalidParameter`] `"divisor"` unless it is
        /// finite and positive.
        pub fn from_u8(
            name: &str,
            x: Vec<u8>,
            cols: usize,
            divisor: f32,
            labels: Vec<u32>,
            classes: u32,
        ) -> Result<Self, Error> {
            let rows = labels.len();
            let m = ByteMatRef::new(&x, rows, cols, divisor)?;
            check_labels(rows, cols, &labels, classes)?;
            let mut ids = vec![0u32; rows];
            group_byte_rows(m, &mut ids, &mut vec![0u64; rows])?;
            Ok(Self {
                name: name.into(),
                groups: repeated(ids, rows),
                inputs: InputData::U8 { data: x, divisor },
                rows,
                cols,
                labels,
                classes,
                split: None,
            })
        }

        /// The same data set with a split of its own: rows `0..train` are its training rows,
        /// the rest its test rows (MNIST's 60 000 and 10 000). Runs then train on those rows
        /// and hold out the others, whatever their `train_frac`.
        ///
        /// # Errors
        /// [`Error::InvalidParameter`] `"split"` unless `0 < train < rows`.
        pub fn with_split(mut self, train: usize) -> Result<Self, Error> {
            if train == 0 || train >= self.rows {
                return Err(Error::InvalidParameter { name: "split" });
            }
            self.split = Some(train);
            Ok(self)
        }

        /// The data set's own split: the number of leading rows that train, if it has one.
        #[must_use]
        pub const fn split(&self) -> Option<usize> {
            self.split
        }

        /// The rows `rows` (each an index below [`Dataset::rows`], in the order given) as a
        /// data set of their own, named `name`, with its own input groups and no split.
        ///
        /// # Errors
        /// [`Error::EmptyInput`] for no rows; [`Error::ShapeMismatch`] for an index out of
        /// range.
        pub fn subset(&self, name: &str, rows: &[u32]) -> Result<Self, Error> {
            let cols = self.cols;
            let out_of_range = Error::ShapeMismatch {
                expected: self.rows,
                got: rows.iter().map(|&r| r as usize + 1).max().unwrap_or(0),
            };
            let mut labels = Vec::with_capacity(rows.len());
            for &r in rows {
                labels.push(*self.labels.get(r as usize).ok_or(out_of_range)?);
            }
            match &self.inputs {
                InputData::F32(x) => {
                    let mut v = Vec::with_capacity(rows.len() * cols);
                    for &r in rows {
                        let r = r as usize;
                        v.extend_from_slice(x.get(r * cols..(r + 1) * cols).ok_or(out_of_range)?);
                    }
                    Self::from_f32(name, v, cols, labels, self.classes)
                }
                InputData::U8 { data, divisor } => {
                    let mut v = Vec::with_capacity(rows.len() * cols);
                    for &r in rows {
                        let r = r as usize;
                        v.extend_from_slice(
                            data.get(r * cols..(r + 1) * cols).ok_or(out_of_range)?,
                        );
                    }
                    Self::from_u8(name, v, cols, *divisor, labels, self.classes)
                }
            }
        }

        /// Its name (recorded in manifests).
        #[must_use]
        pub fn name(&self) -> &str {
            &self.name
        }

        /// Number of rows.
        #[must_use]
        pub const fn rows(&self) -> usize {
            self.rows
        }

        /// Number of input columns.
        #[must_use]
        pub const fn cols(&self) -> usize {
            self.cols
        }

        /// Number of classes (the network's output width).
        #[must_use]
        pub const fn classes(&self) -> u32 {
            self.classes
        }

        /// The labels, one per row.
        #[must_use]
        pub fn labels(&self) -> &[u32] {
            &self.labels
        }

        /// Input-group ids (equal ids: the same input), or `None` when every row is a
        /// distinct input.
        #[must_use]
        pub fn groups(&self) -> Option<&[u32]> {
            self.groups.as_deref()
        }

        /// The inputs, as the network reads them.
        #[must_use]
        pub fn inputs(&self) -> Inputs<'_> {
            // Both views were checked when the data set was built, so neither can fail.
            match &self.inputs {
                InputData::F32(x) => {
                    Inputs::F32(MatRef::new(x, self.rows, self.cols).unwrap_or(MatRef::EMPTY))
                }
                InputData::U8 { data, divisor } => Inputs::U8(
                    ByteMatRef::new(data, self.rows, self.cols, *divisor)
                        .unwrap_or(ByteMatRef::EMPTY),
                ),
            }
        }
    }

    fn check_labels(rows: usize, cols: usize, labels: &[u32], classes: u32) -> Result<(), Error> {
        if rows == 0 || cols == 0 {
            return Err(Error::EmptyInput);
        }
        if u32::try_from(rows).is_err() {
            return Err(Error::TooLarge);
        }
        if classes < 2 || labels.iter().any(|&y| y >= classes) {
            return Err(Error::InvalidParameter { name: "classes" });
        }
        Ok(())
    }

    /// `Some(ids)` if some input repeats, `None` if all `rows` are distinct.
    fn repeated(ids: Vec<u32>, rows: usize) -> Option<Vec<u32>> {
        let distinct = ids.iter().max().map_or(0, |&m| m as usize + 1);
        (distinct < rows).then_some(ids)
    }
}
