//! Tishby's 12-bit task, generated from its icosahedral rule (SPEC: data sets).
//!
//! The 12 input bits sit on the vertices of a regular icosahedron. For a pattern with k ones,
//! n1 pairs of ones that are neighbours, n3 antipodal pairs of ones and n2 remaining pairs of
//! ones, the label is `1` exactly when `23k + n1 − 5n2 − 8n3 ≥ 99`. This reproduces the labels
//! of Shwartz-Ziv & Tishby's `var_u.mat` exactly (2118 ones).

use crate::Error;

/// Number of input bits.
pub const TISHBY_BITS: usize = 12;
/// Number of patterns (rows): every 12-bit pattern once.
pub const TISHBY_ROWS: usize = 1 << TISHBY_BITS;

/// Neighbours of each vertex of the icosahedron, by column index.
pub const ICOSAHEDRON_NEIGHBOURS: [[u8; 5]; 12] = [
    [1, 3, 5, 10, 11],
    [0, 2, 3, 4, 11],
    [1, 3, 4, 8, 9],
    [0, 1, 2, 8, 10],
    [1, 2, 6, 9, 11],
    [0, 6, 7, 10, 11],
    [4, 5, 7, 9, 11],
    [5, 6, 8, 9, 10],
    [2, 3, 7, 9, 10],
    [2, 4, 6, 7, 8],
    [0, 3, 5, 7, 8],
    [0, 1, 4, 5, 6],
];

/// Antipode of each vertex.
pub const ICOSAHEDRON_ANTIPODE: [u8; 12] = [9, 7, 5, 6, 10, 2, 3, 1, 11, 0, 4, 8];

#[allow(clippy::indexing_slicing)] // const fn: loops over fixed arrays' own bounds
/// Bit mask (over column indices, column `c` at bit `c`) of each vertex's neighbours.
const fn neighbour_masks() -> [u16; 12] {
    let mut masks = [0u16; 12];
    let mut v = 0;
    while v < 12 {
        let mut k = 0;
        while k < 5 {
            masks[v] |= 1 << ICOSAHEDRON_NEIGHBOURS[v][k];
            k += 1;
        }
        v += 1;
    }
    masks
}
const NEIGHBOUR_MASKS: [u16; 12] = neighbour_masks();

/// The label of one pattern, given as a 12-bit mask with column `c` at bit `c`.
///
/// Counts k (ones), n1 (neighbouring pairs of ones), n3 (antipodal pairs of ones) and
/// n2 = C(k, 2) − n1 − n3, and returns `1` if `23k + n1 − 5n2 − 8n3 ≥ 99`, else `0`.
#[must_use]
#[allow(clippy::indexing_slicing)] // const fn: `v` runs over 0..12, the arrays' length
pub const fn tishby_label_of_columns(columns: u16) -> u32 {
    let k = (columns & 0x0fff).count_ones() as i32;
    let mut n1 = 0i32;
    let mut n3 = 0i32;
    let mut v = 0;
    while v < 12 {
        if columns & (1 << v) != 0 {
            n1 += (columns & NEIGHBOUR_MASKS[v]).count_ones() as i32;
            if columns & (1 << ICOSAHEDRON_ANTIPODE[v]) != 0 {
                n3 += 1;
            }
        }
        v += 1;
    }
    // Each unordered pair was counted from both ends.
    n1 /= 2;
    n3 /= 2;
    let n2 = k * (k - 1) / 2 - n1 - n3;
    if 23 * k + n1 - 5 * n2 - 8 * n3 >= 99 {
        1
    } else {
        0
    }
}

/// The label of row `row` (0..4096): its binary expansion, column 0 the most significant bit.
#[must_use]
pub const fn tishby_label(row: u16) -> u32 {
    tishby_label_of_columns(row_to_columns(row))
}

/// Maps a row index to the column mask (column `c` at bit `c`): column 0 is bit 11 of the row.
#[must_use]
pub const fn row_to_columns(row: u16) -> u16 {
    (row & 0x0fff).reverse_bits() >> 4
}

/// Writes Tishby's data set: `x` gets the 4096 × 12 inputs (row i = binary expansion of i,
/// column 0 the most significant bit, values 0.0 or 1.0), `labels` the 4096 labels.
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `x.len() == 4096 * 12` and `labels.len() == 4096`.
///
/// # Examples
/// ```
/// use infoplane_core::data::{tishby_dataset, TISHBY_BITS, TISHBY_ROWS};
/// let mut x = [0.0f32; TISHBY_ROWS * TISHBY_BITS];
/// let mut y = [0u32; TISHBY_ROWS];
/// tishby_dataset(&mut x, &mut y)?;
/// assert_eq!(y.iter().sum::<u32>(), 2118);
/// # Ok::<(), infoplane_core::Error>(())
/// ```
pub fn tishby_dataset(x: &mut [f32], labels: &mut [u32]) -> Result<(), Error> {
    if x.len() != TISHBY_ROWS * TISHBY_BITS {
        return Err(Error::ShapeMismatch {
            expected: TISHBY_ROWS * TISHBY_BITS,
            got: x.len(),
        });
    }
    if labels.len() != TISHBY_ROWS {
        return Err(Error::ShapeMismatch {
            expected: TISHBY_ROWS,
            got: labels.len(),
        });
    }
    for (row, (xr, y)) in x
        .chunks_exact_mut(TISHBY_BITS)
        .zip(labels.iter_mut())
        .enumerate()
    {
        #[allow(clippy::cast_possible_truncation)] // row < 4096
        let row = row as u16;
        for (c, v) in xr.iter_mut().enumerate() {
            *v = if (row >> (TISHBY_BITS - 1 - c)) & 1 == 1 {
                1.0
            } else {
                0.0
            };
        }
        *y = tishby_label(row);
    }
    Ok(())
}

/// Number of training rows for a fraction `frac` of `n`: `rint(frac · n)`, rounding half to
/// even as IDNNs' `np.rint` does (80% of 4096 is 3277).
///
/// # Errors
/// [`Error::InvalidParameter`] `"train_frac"` unless 0 < frac ≤ 1 and at least one row
/// trains.
pub fn train_count(n: usize, frac: f64) -> Result<usize, Error> {
    let bad = Error::InvalidParameter { name: "train_frac" };
    if !(frac > 0.0 && frac <= 1.0) {
        return Err(bad);
    }
    #[allow(clippy::cast_precision_loss)] // data sets have < 2^53 rows
    let v = crate::math::rint_f64(frac * n as f64);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 ≤ v ≤ n
    let count = v as usize;
    if count == 0 {
        Err(bad)
    } else {
        Ok(count.min(n))
    }
}

/// Writes a permutation of `0..perm.len()` into `perm`: the identity, or a Fisher–Yates
/// shuffle from `rng`. The first `train_count` entries are the training rows.
///
/// # Errors
/// [`Error::TooLarge`] if `perm` has more than `u32::MAX` entries.
pub fn split_rows(perm: &mut [u32], rng: Option<&mut crate::rng::StreamRng>) -> Result<(), Error> {
    if u32::try_from(perm.len()).is_err() {
        return Err(Error::TooLarge);
    }
    perm.iter_mut().zip(0u32..).for_each(|(p, i)| *p = i);
    if let Some(r) = rng {
        r.shuffle(perm);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
    use super::*;

    #[test]
    fn icosahedron_is_consistent() {
        for v in 0..12 {
            let a = ICOSAHEDRON_ANTIPODE[v] as usize;
            assert_eq!(ICOSAHEDRON_ANTIPODE[a] as usize, v);
            for &w in &ICOSAHEDRON_NEIGHBOURS[v] {
                assert!(
                    ICOSAHEDRON_NEIGHBOURS[w as usize].contains(&(v as u8)),
                    "{v}-{w}"
                );
                assert_ne!(w as usize, a);
            }
            // The antipode's neighbours are the antipodes of the neighbours.
            for &w in &ICOSAHEDRON_NEIGHBOURS[v] {
                let aw = ICOSAHEDRON_ANTIPODE[w as usize];
                assert!(ICOSAHEDRON_NEIGHBOURS[a].contains(&aw));
            }
        }
    }

    #[test]
    fn known_rows() {
        assert_eq!(row_to_columns(0b1000_0000_0000), 1);
        assert_eq!(row_to_columns(1), 1 << 11);
        assert_eq!(tishby_label(0), 0);
        assert_eq!((0..4096u16).map(tishby_label).sum::<u32>(), 2118);
    }
}
