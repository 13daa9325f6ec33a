//! IDX files, the format the MNIST and Fashion-MNIST data sets ship in, read over byte
//! slices without copying.
//!
//! An IDX file is a 4-byte magic number — two zero bytes, a type code (`0x08`: unsigned
//! bytes, the only type these data sets use) and the number of dimensions — then each
//! dimension as a big-endian `u32`, then the values, row-major. Images (`*-idx3-ubyte`) have
//! three dimensions (count, rows, columns), labels (`*-idx1-ubyte`) one (count).
//!
//! Everything is checked: the magic, the type, the number of dimensions, that no dimension
//! is zero, that the data is exactly as long as the dimensions say (a truncated file and one
//! with trailing bytes are both refused), and that every label is below the class count.
//! Errors name what is wrong and never panic. Pixels stay bytes: [`IdxImages::matrix`] views
//! them as a [`ByteMatRef`] read as `byte / 255` when a batch is gathered.

use crate::mat::ByteMatRef;

/// The type code of unsigned-byte data.
const UBYTE: u8 = 0x08;

/// What is wrong with an IDX file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdxError {
    /// Shorter than its header (the magic number and the dimensions).
    TruncatedHeader {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The magic number is not `00 00 <type> <dims>`: not an IDX file (a gzip file starts
    /// `1f 8b`).
    BadMagic {
        /// The first four bytes.
        got: [u8; 4],
    },
    /// The values are not unsigned bytes (type code `0x08`).
    UnsupportedType {
        /// The type code found.
        code: u8,
    },
    /// The wrong number of dimensions: an image file where labels were expected, or the
    /// other way round.
    WrongDimensions {
        /// Dimensions expected (3 for images, 1 for labels).
        expected: u8,
        /// Dimensions found.
        got: u8,
    },
    /// A dimension is zero.
    EmptyDimension {
        /// Which one (0: the count).
        index: usize,
    },
    /// The data is not as long as the dimensions say (truncated, or trailing bytes).
    WrongLength {
        /// Bytes of data the dimensions imply.
        expected: usize,
        /// Bytes of data there are.
        got: usize,
    },
    /// The dimensions multiply past `usize`.
    TooLarge,
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// The label's position in the file (0-based).
        index: usize,
        /// Its value.
        label: u8,
        /// The number of classes.
        classes: u8,
    },
}

impl core::fmt::Display for IdxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TruncatedHeader { needed, got } => write!(
                f,
                "truncated: {got} bytes, shorter than the {needed}-byte IDX header"
            ),
            Self::BadMagic { got } => {
                let [a, b, c, d] = *got;
                write!(
                    f,
                    "not an IDX file: starts {a:02x} {b:02x} {c:02x} {d:02x}, expected 00 00 08 and the \
                     number of dimensions{}",
                    if [a, b] == [0x1f, 0x8b] {
                        " (this is gzip data)"
                    } else {
                        ""
                    }
                )
            }
            Self::UnsupportedType { code } => write!(
                f,
                "IDX type code 0x{code:02x} is not supported: expected 0x08 (unsigned bytes)"
            ),
            Self::WrongDimensions { expected, got } => write!(
                f,
                "{got} dimensions, expected {expected} ({})",
                if *expected == 3 {
                    "an idx3-ubyte image file"
                } else {
                    "an idx1-ubyte label file"
                }
            ),
            Self::EmptyDimension { index } => write!(f, "dimension {index} is zero"),
            Self::WrongLength { expected, got } => write!(
                f,
                "{got} bytes of data where the header says {expected} ({})",
                if got < expected {
                    "truncated"
                } else {
                    "trailing bytes"
                }
            ),
            Self::TooLarge => f.write_str("dimensions too large"),
            Self::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "label {label} at position {index} is not below the {classes} classes"
            ),
        }
    }
}

impl core::error::Error for IdxError {}

/// The images of an `idx3-ubyte` file: `count` images of `rows × cols` bytes, row-major.
#[derive(Debug, Clone, Copy)]
pub struct IdxImages<'a> {
    pixels: &'a [u8],
    count: usize,
    rows: usize,
    cols: usize,
}

impl<'a> IdxImages<'a> {
    /// Parses an image file.
    ///
    /// # Errors
    /// Every [`IdxError`] but [`IdxError::LabelOutOfRange`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::idx::IdxImages;
    /// // Two 2 × 3 images.
    /// let mut file = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
    /// file.extend(0..12u8);
    /// let images = IdxImages::parse(&file)?;
    /// assert_eq!((images.count(), images.rows(), images.cols()), (2, 2, 3));
    /// assert_eq!(images.image(1), Some(&[6, 7, 8, 9, 10, 11][..]));
    /// # Ok::<(), infoplane_core::idx::IdxError>(())
    /// ```
    pub fn parse(bytes: &'a [u8]) -> Result<Self, IdxError> {
        let (dims, data) = header::<3>(bytes)?;
        let [count, rows, cols] = dims;
        Ok(Self {
            pixels: data,
            count,
            rows,
            cols,
        })
    }

    /// Number of images.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Pixel rows per image (28 for MNIST).
    #[must_use]
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Pixel columns per image (28 for MNIST).
    #[must_use]
    pub const fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes per image, `rows × cols` (784 for MNIST).
    #[must_use]
    pub const fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Every pixel, image after image.
    #[must_use]
    pub const fn pixels(&self) -> &'a [u8] {
        self.pixels
    }

    /// Image `i`'s pixels, or `None` past the end.
    #[must_use]
    pub fn image(&self, i: usize) -> Option<&'a [u8]> {
        let len = self.pixels_per_image();
        let start = i.checked_mul(len)?;
        self.pixels.get(start..start.checked_add(len)?)
    }

    /// The images as a `count × (rows·cols)` byte matrix read as `byte / 255` (so in [0, 1]).
    #[must_use]
    pub fn matrix(&self) -> ByteMatRef<'a> {
        ByteMatRef::new(self.pixels, self.count, self.pixels_per_image(), 255.0)
            .unwrap_or(ByteMatRef::EMPTY)
    }
}

/// The labels of an `idx1-ubyte` file, each below a class count.
#[derive(Debug, Clone, Copy)]
pub struct IdxLabels<'a> {
    labels: &'a [u8],
}

impl<'a> IdxLabels<'a> {
    /// Parses a label file whose labels must all be below `classes`.
    ///
    /// # Errors
    /// Every [`IdxError`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::idx::{IdxError, IdxLabels};
    /// let file = [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9];
    /// let labels = IdxLabels::parse(&file, 10)?;
    /// assert_eq!(labels.as_slice(), &[7, 0, 9]);
    /// assert_eq!(
    ///     IdxLabels::parse(&file, 9).unwrap_err(),
    ///     IdxError::LabelOutOfRange { index: 2, label: 9, classes: 9 }
    /// );
    /// # Ok::<(), IdxError>(())
    /// ```
    pub fn parse(bytes: &'a [u8], classes: u8) -> Result<Self, IdxError> {
        let (_, labels) = header::<1>(bytes)?;
        if let Some(index) = labels.iter().position(|&l| l >= classes) {
            return Err(IdxError::LabelOutOfRange {
                index,
                label: labels.get(index).copied().unwrap_or(0),
                classes,
            });
        }
        Ok(Self { labels })
    }

    /// Number of labels.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.labels.len()
    }

    /// The labels.
    #[must_use]
    pub const fn as_slice(&self) -> &'a [u8] {
        self.labels
    }

    /// How many labels of each class `0..N` (classes at or past `N` are not counted).
    #[must_use]
    pub fn histogram<const N: usize>(&self) -> [usize; N] {
        let mut h = [0; N];
        for &l in self.labels {
            if let Some(c) = h.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        h
    }
}

/// Checks the magic number and `D` dimensions; returns them with the data, which must be
/// exactly their product long.
fn header<const D: usize>(bytes: &[u8]) -> Result<([usize; D], &[u8]), IdxError> {
    let needed = 4 + 4 * D;
    let truncated = IdxError::TruncatedHeader {
        needed,
        got: bytes.len(),
    };
    let Some(magic) = bytes.get(..4) else {
        return Err(truncated);
    };
    let got = [
        magic.first().copied().unwrap_or(0),
        magic.get(1).copied().unwrap_or(0),
        magic.get(2).copied().unwrap_or(0),
        magic.get(3).copied().unwrap_or(0),
    ];
    // The magic number first: a label file given as images says so, whatever its length.
    match got {
        [0, 0, UBYTE, d] if usize::from(d) == D => {}
        [0, 0, UBYTE, d] => {
            return Err(IdxError::WrongDimensions {
                expected: u8::try_from(D).unwrap_or(u8::MAX),
                got: d,
            });
        }
        [0, 0, code @ (0x09 | 0x0b | 0x0c | 0x0d | 0x0e), _] => {
            return Err(IdxError::UnsupportedType { code });
        }
        _ => return Err(IdxError::BadMagic { got }),
    }
    let (Some(rest), Some(data)) = (bytes.get(4..needed), bytes.get(needed..)) else {
        return Err(truncated);
    };
    let mut dims = [0usize; D];
    for (i, (d, b)) in dims.iter_mut().zip(rest.chunks_exact(4)).enumerate() {
        let v = u32::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
            b.get(2).copied().unwrap_or(0),
            b.get(3).copied().unwrap_or(0),
        ]);
        if v == 0 {
            return Err(IdxError::EmptyDimension { index: i });
        }
        *d = usize::try_from(v).map_err(|_| IdxError::TooLarge)?;
    }
    let expected = dims
        .iter()
        .try_fold(1usize, |p, &d| p.checked_mul(d))
        .ok_or(IdxError::TooLarge)?;
    if data.len() != expected {
        return Err(IdxError::WrongLength {
            expected,
            got: data.len(),
        });
    }
    Ok((dims, data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::vec::Vec;

    fn file(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut f = std::vec![0, 0, UBYTE, u8::try_from(dims.len()).unwrap()];
        for d in dims {
            f.extend_from_slice(&d.to_be_bytes());
        }
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn images_and_labels_round_trip() {
        let pixels: Vec<u8> = (0..=255).cycle().take(3 * 4 * 5).collect();
        let f = file(&[3, 4, 5], &pixels);
        let im = IdxImages::parse(&f).unwrap();
        assert_eq!((im.count(), im.rows(), im.cols()), (3, 4, 5));
        assert_eq!(im.pixels(), &pixels[..]);
        assert_eq!(im.image(2), Some(&pixels[40..60]));
        assert_eq!(im.image(3), None);
        let m = im.matrix();
        assert_eq!((m.rows(), m.cols(), m.divisor()), (3, 20, 255.0));
        let l = file(&[4], &[3, 1, 3, 0]);
        let labels = IdxLabels::parse(&l, 4).unwrap();
        assert_eq!(labels.histogram::<4>(), [1, 1, 0, 2]);
        assert_eq!(labels.histogram::<2>(), [1, 1]);
    }

    #[test]
    fn malformed_files_are_refused_with_what_is_wrong() {
        let good = file(&[2, 2, 2], &[0; 8]);
        // Every truncation of the header (past the magic number, which is checked first),
        // and of the data.
        for cut in 0..16 {
            assert_eq!(
                IdxImages::parse(&good[..cut]).unwrap_err(),
                IdxError::TruncatedHeader {
                    needed: 16,
                    got: cut
                }
            );
        }
        assert_eq!(
            IdxImages::parse(&good[..20]).unwrap_err(),
            IdxError::WrongLength {
                expected: 8,
                got: 4
            }
        );
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            IdxImages::parse(&long).unwrap_err(),
            IdxError::WrongLength {
                expected: 8,
                got: 9
            }
        );
        let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let e = IdxImages::parse(&gz).unwrap_err();
        assert_eq!(
            e,
            IdxError::BadMagic {
                got: [0x1f, 0x8b, 8, 0]
            }
        );
        assert!(std::format!("{e}").contains("gzip"));
        let mut float = good.clone();
        float[2] = 0x0d;
        assert_eq!(
            IdxImages::parse(&float).unwrap_err(),
            IdxError::UnsupportedType { code: 0x0d }
        );
        // Labels where images were expected, and the other way round.
        let labels = file(&[2], &[0, 1]);
        assert_eq!(
            IdxImages::parse(&labels).unwrap_err(),
            IdxError::WrongDimensions {
                expected: 3,
                got: 1
            }
        );
        assert_eq!(
            IdxLabels::parse(&good, 10).unwrap_err(),
            IdxError::WrongDimensions {
                expected: 1,
                got: 3
            }
        );
        assert_eq!(
            IdxImages::parse(&file(&[2, 0, 2], &[])).unwrap_err(),
            IdxError::EmptyDimension { index: 1 }
        );
        // (2^32 − 1)² · 2 passes 2^64.
        assert_eq!(
            IdxImages::parse(&file(&[u32::MAX, u32::MAX, 2], &[])).unwrap_err(),
            IdxError::TooLarge
        );
        assert_eq!(
            IdxLabels::parse(&file(&[3], &[0, 10, 4]), 10).unwrap_err(),
            IdxError::LabelOutOfRange {
                index: 1,
                label: 10,
                classes: 10
            }
        );
    }
}
