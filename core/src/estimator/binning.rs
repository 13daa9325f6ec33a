//! Binning (plug-in) estimators of I(X;T) and I(T;Y), in bits.
//!
//! Each unit's value is mapped to a bin; a layer's row of bins (all its units jointly) is one
//! symbol t. With the empirical distributions of t, (t, y) and (t, x):
//!
//! * `H(T) = (N log₂N − S_T) / N`, where `S_T = Σ_t c_t log₂ c_t` over the symbol counts `c_t`;
//! * `H(T|Y) = Σ_y p(y) H(T|Y=y) = (S_Y − S_TY) / N`, each class with its own `N_y`;
//! * `H(T|X) = (S_X − S_TX) / N`, zero when every input is distinct;
//! * I(T;Y) = H(T) − H(T|Y), I(X;T) = H(T) − H(T|X), clamped at 0 (the plug-in values are
//!   non-negative exactly, so a negative result could only be rounding).
//!
//! Counting is exact and allocation-free: each row's symbol is packed into a `u64` key (or,
//! when the bins of a wide layer need more than 64 bits, replaced by its rank after a
//! lexicographic sort of the rows); keys joined with the label or input id are sorted and the
//! runs counted, O(N log N). Every S is accumulated from a histogram of count values,
//! `Σ_c m_c · c log₂ c` over c ascending (`m_c` = how many symbols occur c times), in `f64`. That
//! order does not depend on how symbols are keyed, so any correct counting gives the same
//! bits.
//!
//! # Scratch
//! This estimator works on integer keys: its scratch is `u64` words
//! ([`BinningPlan::scratch_req`]).
//!
//! # Registered as
//! `binning` ([`BinRule::Edges`]), `binning-size` ([`BinRule::Size`]) and `binning-range`
//! ([`BinRule::LayerRange`]) in the estimator [`REGISTRY`](super::REGISTRY).

use super::{Kind, Layer, Param, Part, Partial, Settings};
use crate::Error;
use crate::info::{Info, PlanePoint};
use crate::mat::MatRef;
use crate::math;
use crate::scratch::{Scratch, ScratchReq};
use core::cmp::Ordering;

/// How values are mapped to bins.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum BinRule {
    /// `n_edges` edges `linspace(lo, hi, n_edges)` computed in f64 and rounded to f32, making
    /// `n_edges − 1` intervals (Shwartz-Ziv & Tishby: 30 edges on [−1, 1]).
    ///
    /// Default mode: values are clipped to [lo, hi]; hi belongs to the last interval.
    /// `idnns` mode reproduces the IDNNs code (`bins[np.digitize(v, bins) − 1]`): each value
    /// maps to the left edge of its interval, v ≥ hi gets a cell of its own, and v < lo wraps
    /// into that same top cell.
    Edges {
        /// Number of edges (≥ 2).
        n_edges: u32,
        /// First edge.
        lo: f32,
        /// Last edge (> lo).
        hi: f32,
        /// IDNNs-compatibility mode.
        idnns: bool,
    },
    /// Unbounded bins of a fixed size: bin = ⌊v / size⌋ in f32 (Saxe et al.'s ibsgd; 0.07 on
    /// the 12-bit task, 0.5 on MNIST).
    Size {
        /// Bin size (> 0).
        size: f32,
    },
    /// `n_edges` edges spanning the layer's own min–max (all units) for this call, clipped
    /// as in [`BinRule::Edges`] default mode.
    LayerRange {
        /// Number of edges (≥ 2).
        n_edges: u32,
    },
}

impl BinRule {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `bins`, `range` or `bin_size`.
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            Self::Edges {
                n_edges, lo, hi, ..
            } => {
                if !(2..=MAX_EDGES).contains(&n_edges) {
                    return Err(Error::InvalidParameter { name: "bins" });
                }
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(Error::InvalidParameter { name: "range" });
                }
            }
            Self::LayerRange { n_edges } => {
                if !(2..=MAX_EDGES).contains(&n_edges) {
                    return Err(Error::InvalidParameter { name: "bins" });
                }
            }
            Self::Size { size } => {
                if !(size.is_finite() && size > 0.0) {
                    return Err(Error::InvalidParameter { name: "bin_size" });
                }
            }
        }
        Ok(())
    }

    const fn n_edges(&self) -> usize {
        match *self {
            Self::Edges { n_edges, .. } | Self::LayerRange { n_edges } => n_edges as usize,
            Self::Size { .. } => 0,
        }
    }
}

/// Most edges a binning takes (2²⁰): the edges are stored, and no layer of any data set
/// here tells more than a million levels of one unit apart.
pub const MAX_EDGES: u32 = 1 << 20;

/// A checked plan for binning `n` samples of a `d`-unit layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinningPlan {
    n: usize,
    d: usize,
    rule: BinRule,
    miller_madow: bool,
    scratch_len: usize,
}

impl BinningPlan {
    /// A plan for `n` samples × `d` units.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] if `n` or `d` is 0; [`Error::TooLarge`] if `n` exceeds `u32`
    /// or the scratch size overflows; as [`BinRule::validate`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{BinningPlan, BinRule, MatRef, estimator::Layer};
    /// let rule = BinRule::Edges { n_edges: 3, lo: -1.0, hi: 1.0, idnns: false };
    /// let plan = BinningPlan::new(4, 1, rule)?;
    /// let mut scratch = [0u64; 64];
    /// // Two bins, two samples each, each bin holding one class: 1 bit of each.
    /// let t = MatRef::new(&[-0.5, -0.5, 0.5, 0.5], 4, 1)?;
    /// let p = plan.estimate(&Layer::new(t, &[0, 0, 1, 1], None)?, &mut scratch)?;
    /// assert_eq!(p.i_ty.in_bits(), 1.0);
    /// assert_eq!(p.i_xt.in_bits(), 1.0);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn new(n: usize, d: usize, rule: BinRule) -> Result<Self, Error> {
        rule.validate()?;
        if n == 0 || d == 0 {
            return Err(Error::EmptyInput);
        }
        if u32::try_from(n).is_err() {
            return Err(Error::TooLarge);
        }
        // keys (n)  +  aux (n)  +  count histogram (n + 1)  +  edges  +  per-unit min and width (2d)
        let scratch_len = n
            .checked_mul(3)
            .and_then(|v| v.checked_add(1))
            .and_then(|v| v.checked_add(rule.n_edges()))
            .and_then(|v| v.checked_add(d.checked_mul(2)?))
            .ok_or(Error::TooLarge)?;
        Ok(Self {
            n,
            d,
            rule,
            miller_madow: false,
            scratch_len,
        })
    }

    /// The plan with the Miller–Madow bias correction on (or off): every plug-in entropy
    /// `H` of `N` samples over `M` occupied cells becomes `H + (M − 1) / (2N)` nats, each
    /// conditional entropy `H(T|Y=y)` with its own `N_y` and `M_y`. So
    /// `I(T;Y) = I_plug-in + ((M_T − 1) − (M_TY − K_Y)) / (2N ln 2)` bits, with `M_TY` the
    /// occupied (t, y) cells and `K_Y` the classes (likewise for I(X;T) with the input
    /// groups; without groups every input is its own, and the correction is that of `H(T)`).
    #[must_use]
    pub const fn with_miller_madow(self, on: bool) -> Self {
        Self {
            miller_madow: on,
            ..self
        }
    }

    /// Scratch: `3n + 1 + n_edges + 2d` `u64`s. May change between versions: ask, do not
    /// hard-code.
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        ScratchReq::u64(self.scratch_len)
    }

    /// The rule.
    #[must_use]
    pub const fn rule(&self) -> BinRule {
        self.rule
    }

    /// I(X;T) and I(T;Y) in bits for a layer, its labels and its optional input groups
    /// (without them every sample is a distinct input, so I(X;T) = H(T)).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if the layer is not `n × d`; [`Error::ScratchTooSmall`].
    ///
    /// # Scratch
    /// [`BinningPlan::scratch_req`].
    ///
    /// # Complexity
    /// O(n·d + n log n) time when a row's bins pack into 64 bits, O(n·d·log n) otherwise.
    pub fn estimate(&self, layer: &Layer<'_>, scratch: &mut [u64]) -> Result<PlanePoint, Error> {
        let (n, d) = (self.n, self.d);
        layer.check_shape(n, d)?;
        let (t, labels, x_ids) = (layer.t(), layer.labels(), layer.inputs());
        let mut c = Scratch::new(scratch, self.scratch_req())?;
        let keys = c.u64(n)?;
        let aux = c.u64(n)?;
        let hist = c.u64(n + 1)?;
        let edges = c.u64(self.rule.n_edges())?;
        let unit_min = c.u64(d)?;
        let unit_bits = c.u64(d)?;

        let binner = Binner::new(self.rule, t, edges)?;
        let bits_y = bits_for(u64::from(labels.iter().copied().max().unwrap_or(0)));
        let bits_x = x_ids.map_or(0, |x| {
            bits_for(u64::from(x.iter().copied().max().unwrap_or(0)))
        });
        let bits_t = binner.unit_layout(t, unit_min, unit_bits);
        let tid_bits = if bits_t + bits_y.max(bits_x) <= 64 {
            pack_rows(&binner, t, unit_min, unit_bits, keys);
            bits_t
        } else {
            rank_rows(&binner, t, keys, aux)
        };

        // Each S with the number of distinct symbols it ran over (for Miller–Madow).
        let s_y = value_counts_sum(labels, aux, hist);
        let k_y = occupied(hist);
        #[allow(clippy::cast_precision_loss)] // n < 2^32 is exact in f64
        let (s_x, k_x, s_tx, m_tx) = match x_ids {
            None => (0.0, n as f64, 0.0, n as f64),
            Some(x) => {
                let s_x = value_counts_sum(x, aux, hist);
                let k_x = occupied(hist);
                // S_X = 0 exactly when every input occurs once; then so does every (t, x).
                if s_x == 0.0 {
                    (0.0, k_x, 0.0, k_x)
                } else {
                    let s_tx = joint_sum(keys, x, bits_x, aux, hist, 0);
                    (s_x, k_x, s_tx, occupied(hist))
                }
            }
        };
        let s_ty = joint_sum(keys, labels, bits_y, aux, hist, 0);
        let m_ty = occupied(hist);
        // aux is now sorted by (t, y): runs of t alone are contiguous too.
        let s_t = runs_sum(aux, bits_y, hist);
        let m_t = occupied(hist);
        let _ = tid_bits;

        #[allow(clippy::cast_precision_loss)] // n < 2^32 is exact in f64
        let nf = n as f64;
        // (N log₂N − S_T)/N: with one symbol S_T is the same product N·log₂N, so H(T) is exactly 0.
        let h_t = (nf * math::log2_f64(nf) - s_t) / nf;
        // Miller–Madow: (occupied cells − 1) / (2N ln 2) bits per entropy, summed over the
        // conditionals ((M_TY − K_Y) for H(T|Y)).
        let (c_t, c_ty, c_tx) = if self.miller_madow {
            let per = 1.0 / (2.0 * nf * core::f64::consts::LN_2);
            ((m_t - 1.0) * per, (m_ty - k_y) * per, (m_tx - k_x) * per)
        } else {
            (0.0, 0.0, 0.0)
        };
        let i_ty = ((h_t + c_t) - ((s_y - s_ty) / nf + c_ty)).max(0.0);
        let i_xt = ((h_t + c_t) - ((s_x - s_tx) / nf + c_tx)).max(0.0);
        Ok(PlanePoint {
            i_xt: Info::from_bits(i_xt),
            i_ty: Info::from_bits(i_ty),
        })
    }
}

/// A `u64` index as `usize`; out of range maps to `usize::MAX`, which every `get` rejects.
#[inline]
fn ix(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Number of bits needed to store values 0..=max.
const fn bits_for(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Per-call binning state.
#[derive(Debug)]
enum Binner<'a> {
    Edges {
        edges: &'a [u64],
        lo: f32,
        inv: f32,
        idnns: bool,
    },
    Size {
        size: f32,
    },
}

impl<'a> Binner<'a> {
    /// Builds the edge table (as f32 bit patterns in `edges`) for edge rules.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"bin_size"` when a value's bin number `floor(v / size)`
    /// passes ±2⁶² (or overflows f32): so small a size would merge every such value into
    /// one bin, silently.
    fn new(rule: BinRule, t: MatRef<'_>, edges: &'a mut [u64]) -> Result<Self, Error> {
        let (lo, hi, idnns) = match rule {
            BinRule::Edges { lo, hi, idnns, .. } => (lo, hi, idnns),
            BinRule::LayerRange { .. } => {
                let (lo, hi) = min_max(t.as_slice());
                (lo, hi, false)
            }
            BinRule::Size { size } => {
                if !t.as_slice().is_empty() {
                    let (lo, hi) = min_max(t.as_slice());
                    let fits = |v: f32| libm_floor(v / size).abs() < SYMBOL_LIMIT;
                    if !(fits(lo) && fits(hi)) {
                        return Err(Error::InvalidParameter { name: "bin_size" });
                    }
                }
                return Ok(Self::Size { size });
            }
        };
        let n = edges.len();
        // numpy.linspace: edge_k = k·step + lo in f64, the last edge exactly hi.
        #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX
        let step = (f64::from(hi) - f64::from(lo)) / (n - 1) as f64;
        for (k, e) in edges.iter_mut().enumerate() {
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            // rounding to f32 intended
            let v = if k + 1 == n {
                hi
            } else {
                ((k as f64) * step + f64::from(lo)) as f32
            };
            *e = u64::from(v.to_bits());
        }
        #[allow(clippy::cast_precision_loss)]
        let inv = (n - 1) as f32 / (hi - lo);
        let inv = if inv.is_finite() && hi > lo { inv } else { 0.0 };
        let edges: &'a [u64] = edges;
        Ok(Self::Edges {
            edges,
            lo,
            inv,
            idnns,
        })
    }

    /// The bin symbol of one value, as a non-negative integer for edge rules.
    #[inline]
    fn symbol(&self, v: f32) -> i64 {
        match *self {
            Self::Edges {
                edges,
                lo,
                inv,
                idnns,
            } => {
                let c = i64::from(edge_count(edges, v, lo, inv));
                #[allow(clippy::cast_possible_wrap)] // n_edges ≤ u32::MAX
                let n = edges.len() as i64;
                if idnns {
                    // bins[digitize(v) − 1]: count 0 wraps to index −1, the last edge, which is
                    // also where v ≥ hi (count n) lands; counts 1..n−1 are the left edges.
                    if c == 0 { n } else { c }
                } else {
                    c.clamp(1, n - 1) - 1
                }
            }
            Self::Size { size } => size_symbol(v, size),
        }
    }

    /// Per-unit minimum symbol and field width; returns the total bits of a packed row.
    fn unit_layout(&self, t: MatRef<'_>, unit_min: &mut [u64], unit_bits: &mut [u64]) -> u32 {
        match *self {
            Self::Edges { edges, .. } => {
                let bits = bits_for(edges.len() as u64);
                unit_min.fill(0);
                unit_bits.fill(u64::from(bits));
                u32::try_from(unit_bits.len()).map_or(u32::MAX, |d| d.saturating_mul(bits))
            }
            Self::Size { size } if t.cols() <= SYMBOL_BLOCK => {
                // ⌊v / size⌋ is non-decreasing in v (size > 0), so a unit's smallest and
                // largest symbols are those of its smallest and largest values: one pass of
                // comparisons instead of a symbol per value.
                let mut lo = [f32::INFINITY; SYMBOL_BLOCK];
                let mut hi = [f32::NEG_INFINITY; SYMBOL_BLOCK];
                for row in t.row_iter() {
                    for ((&v, l), h) in row.iter().zip(lo.iter_mut()).zip(hi.iter_mut()) {
                        *l = if v < *l { v } else { *l };
                        *h = if v > *h { v } else { *h };
                    }
                }
                let mut total = 0u32;
                for (((mn, bits), &l), &h) in unit_min
                    .iter_mut()
                    .zip(unit_bits.iter_mut())
                    .zip(lo.iter())
                    .zip(hi.iter())
                {
                    let (sl, sh) = (size_symbol(l, size), size_symbol(h, size));
                    #[allow(clippy::cast_sign_loss)] // bit pattern of the i64 minimum
                    {
                        *mn = sl as u64;
                    }
                    let b = bits_for(sh.abs_diff(sl));
                    *bits = u64::from(b);
                    total = total.saturating_add(b);
                }
                total
            }
            Self::Size { .. } => {
                let mut total = 0u32;
                for (u, (mn, bits)) in unit_min.iter_mut().zip(unit_bits.iter_mut()).enumerate() {
                    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
                    for row in t.row_iter() {
                        let s = self.symbol(row.get(u).copied().unwrap_or(0.0));
                        lo = lo.min(s);
                        hi = hi.max(s);
                    }
                    #[allow(clippy::cast_sign_loss)]
                    // bit pattern of the i64 minimum, restored below
                    {
                        *mn = lo as u64;
                    }
                    let b = bits_for(hi.abs_diff(lo));
                    *bits = u64::from(b);
                    total = total.saturating_add(b);
                }
                total
            }
        }
    }
}

/// Smallest and largest of finite `values` (∞ and −∞ for none). Eight independent lanes,
/// so the comparisons vectorise instead of forming one serial chain; the result is the same
/// minimum and maximum (which of −0.0 and +0.0 is returned cannot change any bin: every
/// use of lo and hi treats them alike).
fn min_max(values: &[f32]) -> (f32, f32) {
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(rest) {
        *l = if v < *l { v } else { *l };
        *h = if v > *h { v } else { *h };
    }
    (
        lo.iter()
            .fold(f32::INFINITY, |a, &b| if b < a { b } else { a }),
        hi.iter()
            .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a }),
    )
}

/// Number of edges ≤ v (numpy's `digitize` index), from an arithmetic guess corrected
/// against the exact f32 edges.
#[inline]
fn edge_count(edges: &[u64], v: f32, lo: f32, inv: f32) -> u32 {
    let n = edges.len();
    let edge = |k: usize| {
        edges.get(k).map_or(f32::INFINITY, |&b| {
            f32::from_bits(u32::try_from(b).unwrap_or(0))
        })
    };
    let g = (v - lo) * inv;
    // k = number of edges ≤ v; the guess is clamped into 0..=n before conversion.
    #[allow(clippy::cast_precision_loss)]
    let g = if g >= 0.0 {
        (g + 1.0).min(n as f32)
    } else {
        0.0
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 ≤ g ≤ n
    let mut k = g as usize;
    while k < n && v >= edge(k) {
        k += 1;
    }
    while k > 0 && v < edge(k - 1) {
        k -= 1;
    }
    #[allow(clippy::cast_possible_truncation)] // k ≤ n_edges ≤ u32::MAX
    let k = k as u32;
    k
}

/// `floor` for f32 through the math door's rules: exact, no libm call needed for an integer
/// conversion, but kept here so binning never depends on `as` saturation.
#[inline]
fn libm_floor(x: f32) -> f32 {
    math::floor(x)
}

/// Writes each row's packed symbol key into `keys`.
///
/// The rule is matched once per call, not once per value, so each arm below is a tight
/// loop the compiler can keep in registers; the symbols are the ones [`Binner::symbol`]
/// gives, so the keys (and every result) are unchanged.
fn pack_rows(
    binner: &Binner<'_>,
    t: MatRef<'_>,
    unit_min: &[u64],
    unit_bits: &[u64],
    keys: &mut [u64],
) {
    match *binner {
        Binner::Edges {
            edges,
            lo,
            inv,
            idnns,
        } => {
            // unit_layout gave every unit the same width and a minimum of 0.
            let bits = bits_for(edges.len() as u64);
            let look = EdgeLookup::new(edges, lo, inv);
            if look.usable() && t.cols() <= SYMBOL_BLOCK {
                pack_blocks(&look, idnns, t, bits, keys);
            } else if idnns {
                pack_fixed(t, bits, keys, |v| look.idnns_symbol(v));
            } else {
                pack_fixed(t, bits, keys, |v| look.clipped_symbol(v));
            }
        }
        Binner::Size { size } if t.cols() <= SYMBOL_BLOCK => {
            let mut rows = keys.iter_mut();
            for_each_size_row(t, size, |syms| {
                let mut k = 0u64;
                for ((&s, &mn), &bits) in syms.iter().zip(unit_min).zip(unit_bits) {
                    #[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap)]
                    // field = symbol − min ≥ 0
                    let field = s.wrapping_sub(mn as i64) as u64;
                    k = k
                        .checked_shl(u32::try_from(bits).unwrap_or(64))
                        .unwrap_or(0)
                        | field;
                }
                if let Some(key) = rows.next() {
                    *key = k;
                }
            });
        }
        Binner::Size { size } => {
            for (key, row) in keys.iter_mut().zip(t.row_iter()) {
                let mut k = 0u64;
                for ((&v, &mn), &bits) in row.iter().zip(unit_min).zip(unit_bits) {
                    #[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap)]
                    // field = symbol − min ≥ 0
                    let field = size_symbol(v, size).wrapping_sub(mn as i64) as u64;
                    k = k
                        .checked_shl(u32::try_from(bits).unwrap_or(64))
                        .unwrap_or(0)
                        | field;
                }
                *key = k;
            }
        }
    }
}

/// Packs rows whose fields all have the same width `bits` (≤ 32, so the shift never wraps).
#[inline(always)]
fn pack_fixed(t: MatRef<'_>, bits: u32, keys: &mut [u64], symbol: impl Fn(f32) -> u64) {
    for (key, row) in keys.iter_mut().zip(t.row_iter()) {
        *key = row
            .iter()
            .fold(0u64, |k, &v| k.wrapping_shl(bits) | symbol(v));
    }
}

/// Values whose symbols are computed together before being packed.
const SYMBOL_BLOCK: usize = 256;

/// Packs whole rows, a block of values at a time: the symbols of a block are computed by a
/// loop without table lookups or branches (see [`EdgeLookup::block_symbols`]), which the
/// compiler vectorises, and then shifted into each row's key.
fn pack_blocks(look: &EdgeLookup<'_>, idnns: bool, t: MatRef<'_>, bits: u32, keys: &mut [u64]) {
    let d = t.cols().max(1);
    let rows_per_block = SYMBOL_BLOCK / d;
    let mut buf = [0u32; SYMBOL_BLOCK];
    for (key_block, values) in keys
        .chunks_mut(rows_per_block.max(1))
        .zip(t.as_slice().chunks(rows_per_block.max(1) * d))
    {
        let Some(syms) = buf.get_mut(..values.len()) else {
            return;
        };
        look.block_symbols(values, idnns, syms);
        for (key, row) in key_block.iter_mut().zip(syms.chunks_exact(d)) {
            *key = row
                .iter()
                .fold(0u64, |k, &s| k.wrapping_shl(bits) | u64::from(s));
        }
    }
}

/// An edge table with the constants of its arithmetic guess, for the packing loops.
///
/// The guess `g = (v − lo)·inv` places v between edges ⌊g⌋ and ⌊g⌋ + 1. Rounding in g and
/// in the f32 edges can move v across an edge only when g is within `eps` of an integer
/// (see [`EdgeLookup::new`]); away from integers ⌊g⌋ + 1 is the exact count, and near them
/// the exact search [`edge_count`] decides. Both give the same count, so results do not
/// change.
#[derive(Debug, Clone, Copy)]
struct EdgeLookup<'a> {
    edges: &'a [u64],
    lo: f32,
    inv: f32,
    /// Half-width of the uncertain band around each integer g, in cells; 0 when the bound
    /// does not hold (then every value takes the exact search).
    eps: f32,
}

impl<'a> EdgeLookup<'a> {
    fn new(edges: &'a [u64], lo: f32, inv: f32) -> Self {
        let n = edges.len();
        let first = edges
            .first()
            .map_or(lo, |&b| f32::from_bits(u32::try_from(b).unwrap_or(0)));
        let last = edges
            .last()
            .map_or(lo, |&b| f32::from_bits(u32::try_from(b).unwrap_or(0)));
        // Error budget, in cells (u = 2⁻²⁴, unit roundoff of f32):
        // * g = fl(fl(v − lo)·inv), inv = fl((n − 1)/fl(hi − lo)): four roundings, so
        //   |g − G| ≤ 4.0001u·|G| + inv·2⁻¹⁴⁹ (a subnormal v − lo), G the exact position;
        //   only |G| ≤ n matters (beyond, g is clamped well away from every edge).
        // * edge j = fl32(fl64(j·step + lo)) is within 2⁻⁵⁰·M (f64) + u·M + 2⁻¹⁵⁰ (f32,
        //   possibly subnormal) of lo + j·(hi − lo)/(n − 1), M = max(|lo|, |hi|).
        // eps doubles their sum and adds 2⁻²⁰ for the rounding of g − ⌊g⌋ near 0.
        let width = f64::from(last) - f64::from(first);
        let mag = f64::from(first.abs().max(last.abs()));
        #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX
        let (nf, cells) = (n as f64, (n - 1) as f64);
        let u = 1.0 / 16_777_216.0;
        let tiny = 1.0e-45; // ≥ 2^-149
        let d_g = 4.0001 * u * nf + f64::from(inv) * tiny;
        let d_e = (2.0 * u * mag + 2.0 * tiny) * cells / width;
        let eps = 2.0 * (d_g + d_e) + 1.0 / 1_048_576.0;
        let usable = (2..=1 << 20).contains(&n)
            && inv.is_finite()
            && inv > 0.0
            && width > 0.0
            && (last - first).is_finite()
            && eps < 0.25;
        #[allow(clippy::cast_possible_truncation)] // eps < 0.25; rounded up below
        let eps32 = if usable { (eps * 1.001) as f32 } else { 0.0 };
        Self {
            edges,
            lo,
            inv,
            eps: eps32,
        }
    }

    /// Whether the fast path applies at all.
    fn usable(&self) -> bool {
        self.eps > 0.0
    }

    /// Writes the symbols of `values` into `out`: the edge counts by the guess (a loop with
    /// no table lookups or branches, which the compiler vectorises), then, only if some
    /// value fell in an uncertain band, the whole block again by the exact search.
    #[inline(always)]
    fn block_symbols(&self, values: &[f32], idnns: bool, out: &mut [u32]) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // usable ⇒ n ≤ 2^20
        let n = self.edges.len() as i32;
        #[allow(clippy::cast_precision_loss)] // n ≤ 2^20, exact
        let top = n as f32 - 0.5;
        let (lo, inv, eps) = (self.lo, self.inv, self.eps);
        // 1.5·2²³: adding it to |x| < 2²² rounds x to an integer held in the low mantissa
        // bits; float-to-int `as` casts saturate, which does not vectorise.
        const MAGIC: f32 = 12_582_912.0;
        const MAGIC_BITS: u32 = 0x4b40_0000;
        let mut unsure = 0u32;
        for (o, &v) in out.iter_mut().zip(values) {
            // Clamped to [−0.5, n − 0.5]: below the first edge or past the last, the clamped
            // g sits mid-cell, so it is never unsure and counts 0 or n.
            let g = ((v - lo) * inv).max(-0.5).min(top);
            let r = (g + MAGIC) - MAGIC; // nearest integer (exact for |g| < 2^22)
            let fl = if r > g { r - 1.0 } else { r }; // ⌊g⌋
            let frac = g - fl;
            unsure |= u32::from(frac < eps || frac > 1.0 - eps);
            #[allow(clippy::cast_possible_wrap)] // 0 ≤ ⌊g⌋ + 1 ≤ n ≤ 2^20
            let c = ((fl + 1.0 + MAGIC).to_bits().wrapping_sub(MAGIC_BITS)) as i32;
            let sym = if idnns {
                if c == 0 { n } else { c }
            } else {
                c.clamp(1, n - 1) - 1
            };
            #[allow(clippy::cast_sign_loss)] // 0 ≤ sym ≤ n
            {
                *o = sym as u32;
            }
        }
        if unsure != 0 {
            for (o, &v) in out.iter_mut().zip(values) {
                let c = u64::from(edge_count(self.edges, v, self.lo, self.inv));
                let n = self.edges.len() as u64;
                let sym = if idnns {
                    if c == 0 { n } else { c }
                } else {
                    c.clamp(1, n - 1) - 1
                };
                #[allow(clippy::cast_possible_truncation)] // sym ≤ n ≤ 2^20
                {
                    *o = sym as u32;
                }
            }
        }
    }

    /// Default mode: `clamp(count, 1, n − 1) − 1`, as [`Binner::symbol`].
    #[inline(always)]
    fn clipped_symbol(&self, v: f32) -> u64 {
        let n = self.edges.len() as u64;
        u64::from(edge_count(self.edges, v, self.lo, self.inv)).clamp(1, n - 1) - 1
    }

    /// IDNNs mode: count 0 wraps to `n`, as [`Binner::symbol`].
    #[inline(always)]
    fn idnns_symbol(&self, v: f32) -> u64 {
        let c = u64::from(edge_count(self.edges, v, self.lo, self.inv));
        if c == 0 { self.edges.len() as u64 } else { c }
    }
}

/// Calls `f` with each row's fixed-size symbols, in row order (needs `t.cols() ≤
/// SYMBOL_BLOCK`). A block of symbols is computed by a branch-free loop the compiler
/// vectorises — ⌊q⌋ by rounding through 1.5·2²³, exact for |q| < 2²² — and the block is
/// redone by [`size_symbol`] if any quotient was outside that range, so the symbols are
/// exactly [`size_symbol`]'s.
fn for_each_size_row(t: MatRef<'_>, size: f32, mut f: impl FnMut(&[i64])) {
    const MAGIC: f32 = 12_582_912.0;
    const MAGIC_BITS: u32 = 0x4b40_0000;
    const LIMIT: f32 = 4_194_000.0;
    let d = t.cols().max(1);
    let rows_per_block = (SYMBOL_BLOCK / d).max(1);
    let mut buf = [0i64; SYMBOL_BLOCK];
    for values in t.as_slice().chunks(rows_per_block * d) {
        let Some(syms) = buf.get_mut(..values.len()) else {
            return;
        };
        let mut unsure = 0u32;
        for (o, &v) in syms.iter_mut().zip(values) {
            let q = v / size;
            let qc = q.clamp(-LIMIT, LIMIT);
            unsure |= u32::from(q.abs() > LIMIT);
            let r = (qc + MAGIC) - MAGIC;
            let fl = if r > qc { r - 1.0 } else { r };
            #[allow(clippy::cast_possible_wrap)] // |fl| ≤ 2^22: the difference fits in i32
            let k = (fl + MAGIC).to_bits().wrapping_sub(MAGIC_BITS) as i32;
            *o = i64::from(k);
        }
        if unsure != 0 {
            for (o, &v) in syms.iter_mut().zip(values) {
                *o = size_symbol(v, size);
            }
        }
        syms.chunks_exact(d).for_each(&mut f);
    }
}

/// The largest bin number a fixed-size bin may have, in magnitude (2⁶², as f32).
const SYMBOL_LIMIT: f32 = 4.611_686e18;

/// The fixed-size bin of `v`: `floor(v / size)` in f32, as numpy does on float32
/// activations. The clamp makes the conversion explicit instead of relying on `as`
/// saturation (R17).
#[inline(always)]
fn size_symbol(v: f32, size: f32) -> i64 {
    let q = libm_floor(v / size);
    // `Binner::new` has checked that no value reaches the limit; the clamp only keeps the
    // conversion explicit.
    let q = q.clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT);
    #[allow(clippy::cast_possible_truncation)] // clamped into i64 range above
    let b = q as i64;
    b
}

/// Sorts row indices lexicographically by their bins and writes each row's rank (dense,
/// from 0) into `keys`. Returns the bits a rank needs.
fn rank_rows(binner: &Binner<'_>, t: MatRef<'_>, keys: &mut [u64], idx: &mut [u64]) -> u32 {
    idx.iter_mut().zip(0u64..).for_each(|(s, i)| *s = i);
    let cmp = |a: u64, b: u64| -> Ordering {
        let (ra, rb) = (t.row(ix(a)).unwrap_or(&[]), t.row(ix(b)).unwrap_or(&[]));
        for (&va, &vb) in ra.iter().zip(rb) {
            match binner.symbol(va).cmp(&binner.symbol(vb)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    };
    idx.sort_unstable_by(|&a, &b| cmp(a, b));
    let mut rank = 0u64;
    let mut prev: Option<u64> = None;
    for &i in idx.iter() {
        if let Some(p) = prev
            && cmp(p, i) != Ordering::Equal
        {
            rank += 1;
        }
        if let Some(k) = keys.get_mut(ix(i)) {
            *k = rank;
        }
        prev = Some(i);
    }
    bits_for(rank)
}

/// S = `Σ_v` `c_v` log₂ `c_v` over the distinct values of `values`.
fn value_counts_sum(values: &[u32], aux: &mut [u64], hist: &mut [u64]) -> f64 {
    let max = values.iter().copied().max().unwrap_or(0) as usize;
    if let Some(counts) = aux.get_mut(..=max) {
        // Small values: count directly.
        counts.fill(0);
        for &v in values {
            if let Some(c) = counts.get_mut(v as usize) {
                *c += 1;
            }
        }
        hist.fill(0);
        for &c in counts.iter().filter(|&&c| c > 0) {
            if let Some(h) = hist.get_mut(ix(c)) {
                *h += 1;
            }
        }
        count_hist_sum(hist)
    } else {
        aux.iter_mut()
            .zip(values)
            .for_each(|(a, &v)| *a = u64::from(v));
        aux.sort_unstable();
        runs_sum(aux, 0, hist)
    }
}

/// Fills `aux` with `(key << bits) | value`, sorts it and returns S over the distinct pairs.
fn joint_sum(
    keys: &[u64],
    values: &[u32],
    bits: u32,
    aux: &mut [u64],
    hist: &mut [u64],
    shift: u32,
) -> f64 {
    for ((a, &k), &v) in aux.iter_mut().zip(keys).zip(values) {
        *a = k.checked_shl(bits).unwrap_or(0) | u64::from(v);
    }
    aux.sort_unstable();
    runs_sum(aux, shift, hist)
}

/// S over the runs of equal `key >> shift` in the sorted `keys`.
fn runs_sum(keys: &[u64], shift: u32, hist: &mut [u64]) -> f64 {
    hist.fill(0);
    let mut bump = |run: u64| {
        if let Some(h) = hist.get_mut(ix(run)) {
            *h += 1;
        }
    };
    let mut prev = None;
    let mut run = 0u64;
    for &k in keys {
        let g = k.checked_shr(shift).unwrap_or(0);
        if prev == Some(g) {
            run += 1;
        } else {
            if run > 0 {
                bump(run);
            }
            prev = Some(g);
            run = 1;
        }
    }
    if run > 0 {
        bump(run);
    }
    count_hist_sum(hist)
}

/// The number of distinct symbols a count histogram counted (`Σ_c m_c`), in `f64`.
fn occupied(hist: &[u64]) -> f64 {
    #[allow(clippy::cast_precision_loss)] // at most n < 2^32
    let m = hist.iter().sum::<u64>() as f64;
    m
}

/// `Σ_c` `m_c` · (c log₂ c) over c ascending, in f64 (c = 1 contributes 0).
fn count_hist_sum(hist: &[u64]) -> f64 {
    let mut s = 0.0f64;
    for (c, &m) in hist.iter().enumerate().skip(2) {
        if m > 0 {
            #[allow(clippy::cast_precision_loss)] // counts < 2^32
            let (cf, mf) = (c as f64, m as f64);
            s += mf * (cf * math::log2_f64(cf));
        }
    }
    s
}

/// A binning estimator in the registry: which [`BinRule`] it builds from the settings.
#[derive(Debug, Clone, Copy)]
pub struct BinningKind {
    name: &'static str,
    summary: &'static str,
    params: &'static [Param],
    rule: fn(&Settings) -> BinRule,
}

/// `binning`: Tishby's fixed edges ([`BinRule::Edges`]).
pub static EDGES: BinningKind = BinningKind {
    name: "binning",
    summary: "Shwartz-Ziv & Tishby: `bins` edges linspace(lo, hi) (f32), a layer's row of bins is one symbol; values clipped to the range, or the IDNNs code's quirks with idnns_compat",
    params: &[
        Param::Bins,
        Param::Range,
        Param::IdnnsCompat,
        Param::MillerMadow,
    ],
    rule: |s| BinRule::Edges {
        n_edges: s.bins,
        lo: s.lo,
        hi: s.hi,
        idnns: s.idnns_compat,
    },
};

/// `binning-size`: Saxe et al.'s fixed-size bins ([`BinRule::Size`]).
pub static SIZE: BinningKind = BinningKind {
    name: "binning-size",
    summary: "Saxe et al. (ibsgd): bin = floor(v / bin_size), unbounded",
    params: &[Param::BinSize, Param::MillerMadow],
    rule: |s| BinRule::Size { size: s.bin_size },
};

/// `binning-range`: `bins` edges over each layer's own range ([`BinRule::LayerRange`]).
pub static RANGE: BinningKind = BinningKind {
    name: "binning-range",
    summary: "`bins` edges spanning the layer's own min to max at that epoch",
    params: &[Param::Bins, Param::MillerMadow],
    rule: |s| BinRule::LayerRange { n_edges: s.bins },
};

impl BinningKind {
    fn plan(&self, s: &Settings, n: usize, d: usize) -> Result<BinningPlan, Error> {
        Ok(BinningPlan::new(n, d, (self.rule)(s))?.with_miller_madow(s.miller_madow))
    }
}

impl Kind for BinningKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn params(&self) -> &'static [Param] {
        self.params
    }

    fn check(&self, s: &Settings) -> Result<(), Error> {
        (self.rule)(s).validate()
    }

    fn scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        Ok(self.plan(s, n, d)?.scratch_req())
    }

    fn part(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        if part != Part::WHOLE {
            return Err(Error::InvalidParameter { name: "parts" });
        }
        let plan = self.plan(s, layer.n(), layer.d())?;
        plan.estimate(layer, scratch).map(Partial::Whole)
    }

    fn finish(
        &self,
        _: &Settings,
        _: &Layer<'_>,
        partial: Partial,
        _: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        match partial {
            Partial::Whole(p) => Ok(p),
            Partial::Rows(_) => Err(Error::InvalidParameter { name: "parts" }),
        }
    }
}
