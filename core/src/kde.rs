//! Kernel (KDE) upper and lower bounds on I(X;T) and the matching estimate of I(T;Y), in bits,
//! as Saxe et al. (2018) use them.
//!
//! # What is computed
//! The layer is made stochastic by adding Gaussian noise, `T' = T + N(0, σ²I)`. With every
//! input distinct, `T'` is a mixture of `N` Gaussians of covariance `σ²I` centred on the rows
//! `t_i`, and `I(X;T') = H(T') − H(T'|X) = H(T') − (d/2) ln(2πeσ²)`. Kolchinsky & Tracey (2017,
//! "Estimating mixture entropy with pairwise distances", Entropy 19:361) bound the entropy of
//! such a mixture by the pairwise-distance estimator
//! `H(X|C) − Σ_i c_i ln Σ_j c_j exp(−D(p_i ‖ p_j))`: an upper bound with `D` the
//! Kullback–Leibler divergence, a lower bound with `D` the Bhattacharyya distance (the
//! tightest Chernoff-α lower bound for components that are symmetric and of one location
//! family). For two Gaussians of covariance `σ²I` these are `D_ij / (2σ²)` and `D_ij / (8σ²)`,
//! with `D_ij = ‖t_i − t_j‖²`. With weights `c_i = 1/N`:
//!
//! * `I_upper(X;T) = −(1/N) Σ_i ln[(1/N) Σ_j exp(−D_ij / (2σ²))]`, the pairwise-distance
//!   upper bound (Kolchinsky, Tracey & Wolpert, "Nonlinear Information Bottleneck", eq. 10);
//! * `I_lower(X;T)`: the same with `8σ²` in place of `2σ²`;
//! * `H(T) = I(X;T) + (d/2) ln(2πeσ²)` for either bound; `H(T|Y) = Σ_y p(y) H(T_y)`, where
//!   `H(T_y)` is the same estimate over the class-y rows with their own `N_y`; and
//!   `I(T;Y) = H(T) − H(T|Y)`. The `(d/2) ln(2πeσ²)` terms cancel, so with
//!   `Σ_y p(y) H(T_y) = (1/N) Σ_i (ln N_{y_i} − b_i) + (d/2) ln(2πeσ²)`:
//!
//! ```text
//! a_i = ln Σ_{all j} exp(−D_ij / (c σ²))          c = 2 (upper) or 8 (lower)
//! b_i = ln Σ_{j: y_j = y_i} exp(−D_ij / (c σ²))
//! I(X;T) = ln N − (1/N) Σ_i a_i
//! I(T;Y) = I(X;T) − [(1/N) Σ_y N_y ln N_y − (1/N) Σ_i b_i]
//! ```
//!
//! The self term `j = i` is always included, so each sum is at least 1 and nothing can
//! overflow or underflow: no max-shift is needed. `I(T;Y)` is a difference of two bounds, not a
//! bound; it can be slightly negative on small samples and is reported as computed. `I(X;T)`
//! lies in `[0, ln N]` and is clamped at 0 against rounding.
//!
//! # How
//! * **Streaming.** The `N × N` matrix is never built. Each row's two sums are accumulated
//!   over the other rows into eight `f64` lanes; memory is O(N·d).
//! * **Tree.** Every call orders the rows by a k-d tree built in scratch (median splits on
//!   the widest coordinate, at leaf boundaries, by quickselect; leaves of 8 rows;
//!   O(N·d·log N)). Each leaf is stored coordinate-major (the 8 values of unit 0, then of
//!   unit 1, …, then the 8 labels and the 8 row indices, each `u32` split into two `f32`
//!   halves below `2^16`, which are exact), so the inner loops run over 8 rows at once and
//!   vectorise. Every node stores its bounding box.
//! * **What a row adds.** Row `i` adds leaf `L` (its eight kernel values, to both sums)
//!   unless every one of the eight `D_ij·s` exceeds a threshold `τ`, with `s = 1/(cσ²)`:
//!   - *exact* mode ([`KdePlan::with_cutoff`]`(false)`): `τ = 87`, beyond which
//!     [`math::exp_neg`] is exactly 0. Only exact zeros are skipped: every term is
//!     bit-identical to adding all `N` pairs.
//!   - *cut-off* mode (the default): `τ = min(87, ln(N / CUTOFF_REL)·(1 + 1e-6))`, so every
//!     skipped value is below `CUTOFF_REL / N` (the margin covers the 1-ulp error of
//!     [`math::exp_neg`]) and a row's skipped mass is below `CUTOFF_REL = 1e-12` of its sum,
//!     which is ≥ 1: each `a_i`, `b_i` is within `1e-12` nats of the exact mode.
//! * **Finding those leaves.** Query rows go a leaf (8 rows) at a time down the tree. At each
//!   node, every row still in play is tested against the node's box: `D·s` to the box's
//!   nearest point, summed in the same coordinate order as `D`. Rounding is monotone, so in
//!   f32 no point of the box is nearer than that, and a row beyond `τ` would skip every leaf
//!   below; it drops out for the subtree. At a leaf, the 8 × 8 block of distances is summed
//!   coordinate by coordinate and abandoned (after 2, 4, 8, … coordinates) once every row
//!   would skip it. The tests only decide which leaves are *looked at*; the rule above
//!   decides what is added. For `σ² = 1e-3` on tanh-like data almost every pair is skipped.
//! * **Distance.** `D_ij = Σ_k (t_ik − t_jk)²` in f32, coordinates in ascending order. The
//!   alternative `‖t_i‖² + ‖t_j‖² − 2 t_i·t_j` saves one of three operations per coordinate
//!   but cancels where the kernel matters (`t_i ≈ t_j`). Measured on clustered 4096×10
//!   tanh-like layers at `σ² = 1e-3`, its per-row terms were off by up to 9.9e-4 nats against
//!   8.2e-8 for the direct form, and in this kernel it was also slower (a dense 4096×10 layer:
//!   85 ms against 69 ms; 10000×20 at `σ² = 0.1`: 673 ms against 471 ms), because it needs a
//!   second pass and its partial sums cannot end a block early. The direct form is never NaN
//!   (no `∞ − ∞`) and never negative, so the clamp of negative distances is implicit.
//! * **Exponential.** [`math::exp_neg`]: deterministic, vectorisable, at most 1 ulp, exactly 0
//!   below `e^{-87}`, about 1 ns per value against about 7–9 ns for `libm::expf` here. The
//!   argument is `−(D_ij · s)` with `s` rounded once to f32.
//!
//! Single-threaded times for [`KdePlan::row_terms`] over all rows, upper bound, on a shared
//! 2-core x86-64 VM (SSE2 only, medians): 4096×10 uniform on (−1, 1) at `σ² = 1e-3` about
//! 4 ms (of which about 1 ms builds the tree, which each thread repeats); 4096×10 in 16 tight
//! clusters about 12 ms; 4096×10 all in one cluster (every pair counts) about 70 ms;
//! 10000×20 uniform at `σ² = 0.1` about 0.48 s.
//!
//! # Determinism
//! For each row `i`: the leaves it adds (see above) in ascending leaf order; for each, eight
//! f32 distance lanes, one [`math::exp_neg`] each, added into eight `f64` lane accumulators
//! per sum; then `((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))` and `ln` in f64. Which rows share a
//! query leaf, and which range of rows a call computes, never changes which leaves a row
//! adds, so a row's terms (and their bits) depend on the data alone. The tree depends on the
//! data and its row order. The combination adds the terms in 2⁻⁶⁴-nat fixed point (`i128`),
//! which is exact and so independent of order. No fused multiply-add, no CPU-feature
//! dispatch.

use crate::Error;
use crate::info::{Info, PlanePoint};
use crate::mat::MatRef;
use crate::math;
use crate::scratch::Carver;
use core::ops::Range;

/// Rows per leaf, which is also the number of accumulator lanes.
const LANES: usize = 8;

/// Fields per record besides the `d` coordinates: label low/high half, index low/high half.
const EXTRA: usize = 4;

/// Largest skipped kernel mass per row, relative to the row's sum (which is ≥ 1), with the
/// cut-off on: each per-row term differs from the exact mode's by less than this, in nats.
pub const CUTOFF_REL: f64 = 1e-12;

/// The kernel argument beyond which [`math::exp_neg`] is exactly 0.
const ZERO_ARG: f32 = -math::EXP_NEG_MIN;

/// Depth limit of the explicit tree stacks. A tree over at most `u32::MAX` rows has at most
/// `2^29` leaves and so depth ≤ 30; 64 leaves a wide margin.
const STACK: usize = 64;

/// `2^64`: per-row terms are summed as integers in units of `2^-64` nats.
const FIXED_ONE: f64 = 18_446_744_073_709_551_616.0;

/// Which of the two Kolchinsky–Tracey bounds to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdeBound {
    /// Kullback–Leibler distance between the noise components: kernel `exp(−D_ij / (2σ²))`.
    Upper,
    /// Bhattacharyya distance between the noise components: kernel `exp(−D_ij / (8σ²))`.
    Lower,
}

impl KdeBound {
    /// The `c` in `exp(−D_ij / (c σ²))`.
    const fn c(self) -> f64 {
        match self {
            Self::Upper => 2.0,
            Self::Lower => 8.0,
        }
    }
}

/// What the tree traversal may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prune {
    /// Kernel values below `CUTOFF_REL / N`.
    Cutoff,
    /// Exact zeros only.
    Exact,
    /// Nothing: every pair is evaluated (tests compare it with `Exact` bit for bit).
    #[cfg(test)]
    Nothing,
}

/// A checked plan for the KDE bounds of `n` samples of a `d`-unit layer.
///
/// The plan holds sizes only; build it once per layer shape and reuse it for every epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdePlan {
    n: usize,
    d: usize,
    leaves: usize,
    /// f32s per leaf: `8·(d + 4)`.
    leaf_len: usize,
    /// f32s of all leaves: `leaves · leaf_len`.
    tree_len: usize,
    /// f32s of all node boxes: `(2·leaves − 1) · 2d`.
    boxes_len: usize,
    scratch_len: usize,
    prune: Prune,
}

impl KdePlan {
    /// A plan for `n` samples × `d` units, with the cut-off on.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] if `n` or `d` is 0; [`Error::TooLarge`] if `n` exceeds `u32::MAX`
    /// or the scratch size overflows `usize`.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::kde::KdePlan;
    /// const PLAN: KdePlan = match KdePlan::new(16, 2) {
    ///     Ok(p) => p,
    ///     Err(_) => panic!("valid sizes"),
    /// };
    /// let scratch = [0.0f32; PLAN.scratch_len()]; // sized at compile time
    /// assert_eq!(scratch.len(), 2 * 8 * (2 + 4) + 3 * 2 * 2 + 3 * 16);
    /// ```
    pub const fn new(n: usize, d: usize) -> Result<Self, Error> {
        if n == 0 || d == 0 {
            return Err(Error::EmptyInput);
        }
        if n as u64 > 0xFFFF_FFFF {
            return Err(Error::TooLarge);
        }
        let leaves = n.div_ceil(LANES);
        // leaves: leaves · 8 · (d + 4)  +  node boxes: (2·leaves − 1) · 2d
        //   +  row order while building: 3n       (all three live at once)
        let Some(rec) = d.checked_add(EXTRA) else {
            return Err(Error::TooLarge);
        };
        let Some(leaf_len) = rec.checked_mul(LANES) else {
            return Err(Error::TooLarge);
        };
        let Some(tree_len) = leaves.checked_mul(leaf_len) else {
            return Err(Error::TooLarge);
        };
        let Some(nodes) = leaves.checked_mul(2) else {
            return Err(Error::TooLarge);
        };
        let Some(box_len) = d.checked_mul(2) else {
            return Err(Error::TooLarge);
        };
        let Some(boxes_len) = (nodes - 1).checked_mul(box_len) else {
            return Err(Error::TooLarge);
        };
        let Some(with_boxes) = tree_len.checked_add(boxes_len) else {
            return Err(Error::TooLarge);
        };
        let Some(order_len) = n.checked_mul(3) else {
            return Err(Error::TooLarge);
        };
        let Some(scratch_len) = with_boxes.checked_add(order_len) else {
            return Err(Error::TooLarge);
        };
        Ok(Self {
            n,
            d,
            leaves,
            leaf_len,
            tree_len,
            boxes_len,
            scratch_len,
            prune: Prune::Cutoff,
        })
    }

    /// The same plan with the spatial cut-off on (`true`, the default: kernel values below
    /// `CUTOFF_REL / n` may be skipped) or off (`false`: only exact zeros are skipped, and
    /// every per-row term is bit-identical to adding all `n` pairs). The two differ by less
    /// than [`CUTOFF_REL`] nats in every per-row term.
    #[must_use]
    pub const fn with_cutoff(self, cutoff: bool) -> Self {
        let prune = if cutoff { Prune::Cutoff } else { Prune::Exact };
        Self { prune, ..self }
    }

    /// Whether the cut-off is on.
    #[must_use]
    pub const fn cutoff(&self) -> bool {
        matches!(self.prune, Prune::Cutoff)
    }

    /// Number of samples `n`.
    #[must_use]
    pub const fn n(&self) -> usize {
        self.n
    }

    /// Number of units `d`.
    #[must_use]
    pub const fn d(&self) -> usize {
        self.d
    }

    /// Exact `f32` scratch count for [`KdePlan::mutual_information`]; the same as
    /// [`KdePlan::row_terms_scratch_len`]. May change between versions: ask, do not
    /// hard-code.
    #[must_use]
    pub const fn scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// Exact `f32` scratch count for [`KdePlan::row_terms`] (per call, so per thread): the
    /// rows in tree order, `8·⌈n/8⌉·(d + 4)`, plus the node boxes, `(2⌈n/8⌉ − 1)·2d`, plus the
    /// row order used while building, `3n`. May change between versions: ask, do not
    /// hard-code.
    #[must_use]
    pub const fn row_terms_scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// Per-row terms for the rows `rows` (a sub-range of `0..n`). For the k-th row `i` of the
    /// range it writes `out[2k] = a_i = ln Σ_{all j} exp(−D_ij / (c σ²))` and
    /// `out[2k + 1] = b_i = ln Σ_{j: y_j = y_i} exp(−D_ij / (c σ²))`, in nats, with `c = 2`
    /// ([`KdeBound::Upper`]) or `8` ([`KdeBound::Lower`]); both lie in `[0, ln n]`.
    ///
    /// Each row's terms depend only on the data, never on the range they were computed in, so
    /// callers may split `0..n` across threads (each with its own scratch), concatenate the
    /// outputs, and get the bits of one call over `0..n`. Then call [`KdePlan::combine`].
    ///
    /// Accumulator: eight `f64` lanes per sum, leaves in ascending tree order (module docs).
    /// Accuracy, measured against an `f64` double loop with `f64` exponentials: per-row terms
    /// within about `1e-7` nats on 4096×10 and 10000×20 tanh-like layers (the f32 distances
    /// and the 1-ulp exponential dominate).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"noise_var"` unless `noise_var` is finite, positive and
    /// `1/(2·noise_var)` is finite in f32 (`noise_var ≳ 1.5e-39`); `"rows"` if `rows` is not a
    /// sub-range of `0..n`; [`Error::ShapeMismatch`] if `t` is not `n × d`, `labels` is not `n`
    /// long, or `out` is not `2·rows.len()` long; [`Error::NonFinite`] for a NaN or infinite
    /// activation; [`Error::ScratchTooSmall`].
    ///
    /// # Scratch
    /// [`KdePlan::row_terms_scratch_len`] `f32`s. Each call builds the tree of all `n` rows in
    /// it, so every thread needs its own.
    ///
    /// # Complexity
    /// O(n·d·log n) to build the tree, then O(len·n·d) for `len` rows in the worst case (every
    /// pair within the threshold); pairs farther apart than about `√(87·cσ²)` (exact mode) or
    /// `√(cσ²·ln(10¹² n))` (cut-off) are skipped a tree node at a time.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, kde::{KdeBound, KdePlan}};
    /// let t = [0.0f32, 0.0, 0.0, 0.0, 5.0, 5.0];
    /// let plan = KdePlan::new(3, 2)?;
    /// let mut scratch = [0.0f32; 64];
    /// let mut out = [0.0f64; 6];
    /// let (t, labels) = (MatRef::new(&t, 3, 2)?, [0, 1, 1]);
    /// plan.row_terms(t, &labels, 1e-3, KdeBound::Upper, 0..3, &mut out,
    ///                &mut scratch[..plan.row_terms_scratch_len()])?;
    /// // Rows 0 and 1 coincide: a = ln 2; row 2 is alone: a = ln 1 = 0.
    /// assert!((out[0] - core::f64::consts::LN_2).abs() < 1e-12 && out[4] == 0.0);
    /// // Row 0's only class-mate is itself: b = 0.
    /// assert_eq!(out[1], 0.0);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)] // the signature the CLI threads row ranges through
    pub fn row_terms(
        &self,
        t: MatRef<'_>,
        labels: &[u32],
        noise_var: f32,
        bound: KdeBound,
        rows: Range<usize>,
        out: &mut [f64],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let scale = kernel_scale(noise_var, bound)?;
        self.check_data(t, labels)?;
        if rows.start > rows.end || rows.end > self.n {
            return Err(Error::InvalidParameter { name: "rows" });
        }
        let len = rows.end - rows.start;
        // len ≤ n ≤ u32::MAX, so 2·len cannot overflow.
        if out.len() != 2 * len {
            return Err(Error::ShapeMismatch {
                expected: 2 * len,
                got: out.len(),
            });
        }
        let start = rows.start;
        self.run(
            t,
            labels,
            scale,
            rows,
            0..self.leaves,
            scratch,
            |i, a, b| {
                if let Some([oa, ob]) = out
                    .get_mut(2 * (i - start)..2 * (i - start) + 2)
                    .and_then(|o| <&mut [f64; 2]>::try_from(o).ok())
                {
                    *oa = a;
                    *ob = b;
                }
            },
        )
    }

    /// Per-row terms for part `part` of `parts` of the work, split by the tree's leaves rather
    /// than by row index, so each part costs about `1/parts` of the whole (a range of row
    /// indices touches every leaf). Writes the rows it covered into `rows_out` and their terms
    /// `a_i`, `b_i` (as in [`KdePlan::row_terms`], bit for bit) into `terms_out[2k]`,
    /// `terms_out[2k + 1]` for the k-th row; returns how many rows it covered. The parts
    /// `0..parts` together cover every row exactly once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"part"` unless `part < parts`; [`Error::ShapeMismatch`]
    /// unless `rows_out` holds `n` and `terms_out` `2n` values; otherwise as
    /// [`KdePlan::row_terms`].
    ///
    /// # Scratch
    /// [`KdePlan::row_terms_scratch_len`] `f32`s per call (each part builds its own tree).
    ///
    /// # Complexity
    /// About `1/parts` of [`KdePlan::row_terms`] over all rows, plus the tree build.
    #[allow(clippy::too_many_arguments)] // data, settings, part and three caller buffers (R8)
    pub fn row_terms_part(
        &self,
        t: MatRef<'_>,
        labels: &[u32],
        noise_var: f32,
        bound: KdeBound,
        (part, parts): (usize, usize),
        rows_out: &mut [u32],
        terms_out: &mut [f64],
        scratch: &mut [f32],
    ) -> Result<usize, Error> {
        let scale = kernel_scale(noise_var, bound)?;
        self.check_data(t, labels)?;
        if part >= parts {
            return Err(Error::InvalidParameter { name: "part" });
        }
        if rows_out.len() != self.n {
            return Err(Error::ShapeMismatch {
                expected: self.n,
                got: rows_out.len(),
            });
        }
        if terms_out.len() != 2 * self.n {
            return Err(Error::ShapeMismatch {
                expected: 2 * self.n,
                got: terms_out.len(),
            });
        }
        // Leaf bounds part·L/parts in u128, so no product can overflow on 32-bit targets.
        let bound_of = |p: usize| {
            let v = (p as u128) * (self.leaves as u128) / (parts as u128);
            usize::try_from(v).unwrap_or(self.leaves)
        };
        let (a, b) = (bound_of(part), bound_of(part + 1));
        let mut k = 0usize;
        self.run(t, labels, scale, 0..self.n, a..b, scratch, |i, ta, tb| {
            if let (Some(r), Some(o)) = (rows_out.get_mut(k), terms_out.get_mut(2 * k..2 * k + 2)) {
                *r = u32::try_from(i).unwrap_or(u32::MAX);
                o.copy_from_slice(&[ta, tb]);
            }
            k += 1;
        })?;
        Ok(k)
    }

    /// Combines the terms of all `n` rows, as [`KdePlan::row_terms`] wrote them over `0..n`
    /// (`2n` values, row order), with the class counts into I(X;T) and I(T;Y), in bits:
    /// `I(X;T) = ln N − (1/N) Σ_i a_i` (clamped at 0) and
    /// `I(T;Y) = I(X;T) − [(1/N) Σ_y N_y ln N_y − (1/N) Σ_i b_i]` (not clamped: it is a
    /// difference of bounds), converted from nats. The `(d/2) ln(2πeσ²)` entropy offsets cancel,
    /// so `noise_var` and `bound` are only checked, for symmetry with the call that made the
    /// terms.
    ///
    /// Accumulators: `Σ a_i` and `Σ b_i` in fixed point (each term rounded toward zero to a
    /// multiple of `2^-64` nats, summed exactly in `i128`, so the order does not matter and
    /// terms from any split of the rows give the same bits); `Σ_y N_y ln N_y` in `f64` over
    /// the labels in ascending order. Terms outside `[0, ln n]` (which
    /// [`KdePlan::row_terms`] never writes) give meaningless but finite results.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"noise_var"` as in [`KdePlan::row_terms`];
    /// [`Error::ShapeMismatch`] unless `terms.len() == 2n` and `labels.len() == n`;
    /// [`Error::NonFinite`] with the index of the first non-finite term.
    ///
    /// # Scratch
    /// None: the class counts `N_y` are found by scanning the labels once per distinct label
    /// (each pass finds the next larger label and counts it).
    ///
    /// # Complexity
    /// O(n·C) for C distinct labels (O(n²) if every label is distinct).
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::kde::{KdeBound, KdePlan};
    /// // Two rows far apart, one per class: every sum holds only the self term, ln 1 = 0.
    /// let plan = KdePlan::new(2, 1)?;
    /// let p = plan.combine(&[0.0; 4], &[0, 1], 1e-3, KdeBound::Upper)?;
    /// assert!((p.i_xt.in_bits() - 1.0).abs() < 1e-12);
    /// assert!((p.i_ty.in_bits() - 1.0).abs() < 1e-12);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn combine(
        &self,
        terms: &[f64],
        labels: &[u32],
        noise_var: f32,
        bound: KdeBound,
    ) -> Result<PlanePoint, Error> {
        kernel_scale(noise_var, bound)?;
        let n = self.n;
        if terms.len() != 2 * n {
            return Err(Error::ShapeMismatch {
                expected: 2 * n,
                got: terms.len(),
            });
        }
        if labels.len() != n {
            return Err(Error::ShapeMismatch {
                expected: n,
                got: labels.len(),
            });
        }
        if let Some(index) = terms.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { index });
        }
        let mut acc = TermSums::default();
        for pair in terms.chunks_exact(2) {
            if let [a, b] = *pair {
                acc.push(a, b);
            }
        }
        Ok(acc.finish(n, labels))
    }

    /// I(X;T) and I(T;Y) in bits for layer activations `t` (`n × d`, row-major) and labels:
    /// [`KdePlan::row_terms`] over `0..n`, then [`KdePlan::combine`], single-threaded, with the
    /// same bits as that pair of calls (however the rows were split).
    ///
    /// # Errors
    /// As [`KdePlan::row_terms`], without the `rows` and `out` cases.
    ///
    /// # Scratch
    /// [`KdePlan::scratch_len`] `f32`s.
    ///
    /// # Complexity
    /// As [`KdePlan::row_terms`] over all rows, plus O(n·C) for C distinct labels.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, kde::{KdeBound, KdePlan}};
    /// // Four well separated points, two per class, small noise: I(X;T) = log2 4 and
    /// // I(T;Y) = H(Y) = 1 bit.
    /// let t = [0.0f32, 1.0, 2.0, 3.0];
    /// let plan = KdePlan::new(4, 1)?;
    /// let mut scratch = [0.0f32; 64];
    /// let p = plan.mutual_information(MatRef::new(&t, 4, 1)?, &[0, 0, 1, 1], 1e-3,
    ///                                 KdeBound::Upper, &mut scratch[..plan.scratch_len()])?;
    /// assert!((p.i_xt.in_bits() - 2.0).abs() < 1e-12);
    /// assert!((p.i_ty.in_bits() - 1.0).abs() < 1e-12);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn mutual_information(
        &self,
        t: MatRef<'_>,
        labels: &[u32],
        noise_var: f32,
        bound: KdeBound,
        scratch: &mut [f32],
    ) -> Result<PlanePoint, Error> {
        let scale = kernel_scale(noise_var, bound)?;
        self.check_data(t, labels)?;
        let mut acc = TermSums::default();
        self.run(
            t,
            labels,
            scale,
            0..self.n,
            0..self.leaves,
            scratch,
            |_, a, b| {
                acc.push(a, b);
            },
        )?;
        Ok(acc.finish(self.n, labels))
    }

    /// Checks `t` and `labels` against the plan and `t` for non-finite values.
    fn check_data(&self, t: MatRef<'_>, labels: &[u32]) -> Result<(), Error> {
        if t.rows() != self.n || t.cols() != self.d {
            return Err(Error::ShapeMismatch {
                expected: self.n * self.d,
                got: t.rows().saturating_mul(t.cols()),
            });
        }
        if labels.len() != self.n {
            return Err(Error::ShapeMismatch {
                expected: self.n,
                got: labels.len(),
            });
        }
        crate::error::check_finite(t.as_slice())
    }

    /// The pruning threshold `τ` on `D·s` (see the module docs).
    fn threshold(&self) -> f32 {
        match self.prune {
            Prune::Cutoff => {
                // ln(n / CUTOFF_REL) ≤ 50.1 for n ≤ 2^32; rounded up to f32, so that every
                // skipped argument exceeds the f64 value.
                #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX is exact in f64
                let nf = self.n as f64;
                let t = math::ln_f64(nf / CUTOFF_REL) * (1.0 + 1e-6) * (1.0 + 1.0 / 1_048_576.0);
                #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended; margin above
                let t = t as f32;
                t.min(ZERO_ARG)
            }
            Prune::Exact => ZERO_ARG,
            #[cfg(test)]
            Prune::Nothing => f32::INFINITY,
        }
    }

    /// Builds the tree in `scratch` and hands `(i, a_i, b_i)` to `sink` for every row `i` in
    /// `rows` that sits in one of the query leaves `query_leaves`, a leaf of query rows at a
    /// time (so in tree order, not row order).
    #[allow(clippy::too_many_arguments)] // private: the two public entry points differ in how they select rows
    fn run(
        &self,
        t: MatRef<'_>,
        labels: &[u32],
        scale: f32,
        rows: Range<usize>,
        query_leaves: Range<usize>,
        scratch: &mut [f32],
        mut sink: impl FnMut(usize, f64, f64),
    ) -> Result<(), Error> {
        let mut c = Carver::new(scratch, self.scratch_len)?;
        if rows.is_empty() {
            return Ok(());
        }
        let leaves = c.take(self.tree_len)?;
        let boxes = c.take(self.boxes_len)?;
        let order = c.take(3 * self.n)?;
        let tree = self.build(t, labels, leaves, boxes, order)?;
        let tau = self.threshold();
        let k = Kernel {
            scale,
            tau,
            prune: tau.is_finite(),
        };
        for ql in query_leaves.start..query_leaves.end.min(self.leaves) {
            tree.query_leaf(ql, labels, &rows, &k, &mut sink);
        }
        Ok(())
    }

    /// Copies the rows into the leaf layout and builds the k-d tree and its node boxes.
    fn build<'s>(
        &self,
        t: MatRef<'_>,
        labels: &[u32],
        leaves: &'s mut [f32],
        boxes: &'s mut [f32],
        order: &mut [f32],
    ) -> Result<Tree<'s>, Error> {
        let (n, d) = (self.n, self.d);
        let mut ord = Order { buf: order };
        for (p, slot) in ord.buf.chunks_exact_mut(3).enumerate() {
            let (lo, hi) = halves(u32::try_from(p).unwrap_or(0));
            slot.copy_from_slice(&[0.0, lo, hi]);
        }
        // Preorder node ids: a subtree over s leaves has 2s − 1 nodes, so the right child of
        // node `id` over leaves a..b, split at m, is `id + 2(m − a)`.
        let mut stack = [(0usize, 0usize, 0usize); STACK];
        let mut top = 0usize;
        push(&mut stack, &mut top, (0, 0, self.leaves));
        while let Some((id, a, b)) = pop(&stack, &mut top) {
            let (r0, r1) = (a * LANES, (b * LANES).min(n));
            let bx = boxes
                .get_mut(id * 2 * d..(id + 1) * 2 * d)
                .unwrap_or_default();
            let (lo, hi) = bx.split_at_mut(d.min(bx.len()));
            ord.bounding_box(t, r0, r1, lo, hi);
            if b - a > 1 {
                // Split on the widest coordinate (lowest index on ties) at the middle leaf.
                let mut s = 0usize;
                let mut widest = f32::NEG_INFINITY;
                for (k, (&l, &h)) in lo.iter().zip(hi.iter()).enumerate() {
                    if h - l > widest {
                        widest = h - l;
                        s = k;
                    }
                }
                let m = a + (b - a) / 2;
                ord.load_keys(t, r0, r1, s);
                ord.select(r0, r1, m * LANES);
                if !push(&mut stack, &mut top, (id + 2 * (m - a), m, b))
                    || !push(&mut stack, &mut top, (id + 1, a, m))
                {
                    // Cannot happen (depth ≤ 30 < STACK), but never panic.
                    return Err(Error::TooLarge);
                }
            }
        }
        // The leaves, coordinate-major. Padding lanes of the last leaf (positions n..) repeat
        // its first row, so every stored value is finite and the smallest distance over a
        // leaf's eight lanes is the smallest over its real rows; they are masked out of every
        // sum.
        for (l, leaf) in leaves.chunks_exact_mut(self.leaf_len).enumerate() {
            for lane in 0..LANES {
                let p = l * LANES + lane;
                let i = ord.index(if p < n { p } else { l * LANES });
                let row = t.row(i).unwrap_or(&[]);
                let (ylo, yhi) = halves(labels.get(i).copied().unwrap_or(0));
                let (ilo, ihi) = halves(u32::try_from(i).unwrap_or(0));
                let extra = [ylo, yhi, ilo, ihi];
                for (col, &v) in leaf.chunks_exact_mut(LANES).zip(row.iter().chain(&extra)) {
                    if let Some(slot) = col.get_mut(lane) {
                        *slot = v;
                    }
                }
            }
        }
        let leaves: &'s [f32] = leaves;
        let boxes: &'s [f32] = boxes;
        Ok(Tree {
            leaves,
            boxes,
            n,
            d,
            n_leaves: self.leaves,
            leaf_len: self.leaf_len,
        })
    }
}

/// `s = 1/(cσ²)` rounded once to f32, after checking `noise_var`.
fn kernel_scale(noise_var: f32, bound: KdeBound) -> Result<f32, Error> {
    let bad = Error::InvalidParameter { name: "noise_var" };
    if !(noise_var.is_finite() && noise_var > 0.0) {
        return Err(bad);
    }
    let v = f64::from(noise_var);
    // The upper bound has the larger scale; requiring it finite for both keeps validity
    // independent of the bound.
    #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended
    let upper = (1.0 / (2.0 * v)) as f32;
    if !upper.is_finite() {
        return Err(bad);
    }
    #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended
    let s = (1.0 / (bound.c() * v)) as f32;
    Ok(s)
}

/// A `u32` as two `f32`s, each an integer below `2^16` and so exact.
fn halves(v: u32) -> (f32, f32) {
    let lo = u16::try_from(v & 0xFFFF).unwrap_or(0);
    let hi = u16::try_from(v >> 16).unwrap_or(0);
    (f32::from(lo), f32::from(hi))
}

/// The inverse of [`halves`].
fn from_halves(lo: f32, hi: f32) -> usize {
    // Both are integers in 0..2^16 written by `halves`; the clamp makes the conversion
    // explicit rather than relying on `as` saturation.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 ≤ v < 2^16
    let part = |v: f32| v.clamp(0.0, 65_535.0) as u32;
    usize::try_from((part(hi) << 16) | part(lo)).unwrap_or(usize::MAX)
}

/// Pushes onto a fixed stack; `false` if it is full.
fn push<T>(stack: &mut [T], top: &mut usize, v: T) -> bool {
    match stack.get_mut(*top) {
        Some(slot) => {
            *slot = v;
            *top += 1;
            true
        }
        None => false,
    }
}

/// Pops from a fixed stack.
fn pop<T: Copy>(stack: &[T], top: &mut usize) -> Option<T> {
    *top = top.checked_sub(1)?;
    stack.get(*top).copied()
}

/// The row order while the tree is built: position `p` holds the triple
/// `[key, index low half, index high half]`, where `key` is the row's coordinate on the
/// current node's split axis. Moving three contiguous floats is much cheaper than moving
/// whole rows.
struct Order<'s> {
    buf: &'s mut [f32],
}

impl Order<'_> {
    #[inline]
    fn key(&self, p: usize) -> f32 {
        self.buf.get(3 * p).copied().unwrap_or(0.0)
    }

    #[inline]
    fn index(&self, p: usize) -> usize {
        match self.buf.get(3 * p + 1..3 * p + 3) {
            Some(&[lo, hi]) => from_halves(lo, hi),
            _ => usize::MAX,
        }
    }

    #[inline]
    fn swap(&mut self, p: usize, q: usize) {
        if p == q {
            return;
        }
        let (p, q) = (p.min(q), p.max(q));
        let (head, tail) = self.buf.split_at_mut(3 * q);
        if let (Some(a), Some(b)) = (head.get_mut(3 * p..3 * p + 3), tail.get_mut(..3)) {
            a.swap_with_slice(b);
        }
    }

    /// Per-coordinate minimum and maximum over the rows at positions `r0..r1` (non-empty).
    fn bounding_box(&self, t: MatRef<'_>, r0: usize, r1: usize, lo: &mut [f32], hi: &mut [f32]) {
        lo.fill(f32::INFINITY);
        hi.fill(f32::NEG_INFINITY);
        for p in r0..r1 {
            let row = t.row(self.index(p)).unwrap_or(&[]);
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                *l = l.min(v);
                *h = h.max(v);
            }
        }
    }

    /// Sets the keys of positions `r0..r1` to coordinate `s` of their rows.
    fn load_keys(&mut self, t: MatRef<'_>, r0: usize, r1: usize, s: usize) {
        for p in r0..r1 {
            let v = t
                .row(self.index(p))
                .and_then(|row| row.get(s))
                .copied()
                .unwrap_or(0.0);
            if let Some(slot) = self.buf.get_mut(3 * p) {
                *slot = v;
            }
        }
    }

    /// Rearranges positions `lo..hi` so that every key before position `p` is ≤ every key
    /// from `p` on: quickselect with Hoare's partition around a median-of-three pivot (which
    /// splits runs of equal keys, such as saturated units, evenly), falling back to heapsort
    /// after `2·log2(len) + 4` rounds so the worst case stays O(len·log len). Deterministic:
    /// the result depends only on the keys and their order.
    fn select(&mut self, mut lo: usize, mut hi: usize, p: usize) {
        let mut budget = 2 * (usize::BITS - (hi - lo).leading_zeros()) + 4;
        while hi - lo > 1 {
            if budget == 0 {
                self.heapsort(lo, hi);
                return;
            }
            budget -= 1;
            let mid = lo + (hi - lo) / 2;
            let (x, y, z) = (self.key(lo), self.key(mid), self.key(hi - 1));
            let pivot = x.max(y).min(x.min(y).max(z));
            // After the loop: keys at [lo, j] ≤ pivot, keys at [i, hi) ≥ pivot, i > j, and
            // any position between holds the pivot value.
            let (mut i, mut j) = (lo, hi - 1);
            loop {
                while i < hi && self.key(i) < pivot {
                    i += 1;
                }
                while j > lo && self.key(j) > pivot {
                    j -= 1;
                }
                if i >= j {
                    break;
                }
                self.swap(i, j);
                i += 1;
                j -= 1;
            }
            // Here i ≥ j; when i == j that position holds the pivot and sits between the
            // halves.
            let (left_end, right_start) = if i == j { (j, i + 1) } else { (j + 1, i) };
            if p < left_end {
                hi = left_end;
            } else if p >= right_start {
                lo = right_start;
            } else {
                return;
            }
        }
    }

    /// Sorts positions `lo..hi` by key (heapsort: O(len·log len), no memory).
    fn heapsort(&mut self, lo: usize, hi: usize) {
        let len = hi - lo;
        let sift = |this: &mut Self, mut root: usize, end: usize| {
            loop {
                let mut child = 2 * root + 1;
                if child >= end {
                    break;
                }
                if child + 1 < end && this.key(lo + child + 1) > this.key(lo + child) {
                    child += 1;
                }
                if this.key(lo + child) > this.key(lo + root) {
                    this.swap(lo + root, lo + child);
                    root = child;
                } else {
                    break;
                }
            }
        };
        for root in (0..len / 2).rev() {
            sift(self, root, len);
        }
        for end in (1..len).rev() {
            self.swap(lo, lo + end);
            sift(self, 0, end);
        }
    }
}

/// Per-call kernel parameters.
#[derive(Debug, Clone, Copy)]
struct Kernel {
    /// `s = 1/(cσ²)`.
    scale: f32,
    /// Threshold on `D·s` of the per-row skip rule (see [`Tree::add_leaf`]).
    tau: f32,
    /// Whether anything may be skipped (off only in the test-only mode that evaluates every
    /// pair).
    prune: bool,
}

/// A query row: its index and its label's two halves.
type Query = Option<(usize, f32, f32)>;

/// The built tree: leaves (coordinate-major blocks of 8 rows) and preorder node boxes.
struct Tree<'s> {
    leaves: &'s [f32],
    boxes: &'s [f32],
    n: usize,
    d: usize,
    n_leaves: usize,
    leaf_len: usize,
}

impl Tree<'_> {
    fn leaf(&self, l: usize) -> &[f32] {
        self.leaves
            .get(l * self.leaf_len..(l + 1) * self.leaf_len)
            .unwrap_or(&[])
    }

    /// The box `(lo, hi)` of node `id`.
    fn node_box(&self, id: usize) -> (&[f32], &[f32]) {
        let d = self.d;
        let bx = self.boxes.get(id * 2 * d..(id + 1) * 2 * d).unwrap_or(&[]);
        bx.split_at(d.min(bx.len()))
    }

    /// Computes the terms of the rows of leaf `ql` that lie in `rows` and hands them to
    /// `sink`. The leaf's rows share one walk down the tree; a row drops out of a subtree as
    /// soon as the subtree's box is beyond `τ` for it ([`points_box_alive`]), and the walk
    /// ends where no row is left.
    fn query_leaf(
        &self,
        ql: usize,
        labels: &[u32],
        rows: &Range<usize>,
        k: &Kernel,
        sink: &mut impl FnMut(usize, f64, f64),
    ) {
        let d = self.d;
        let qleaf = self.leaf(ql);
        let Some(ids) = qleaf.get((d + 2) * LANES..(d + 4) * LANES) else {
            return;
        };
        let (id_lo, id_hi) = ids.split_at(LANES);
        // Query lanes: the leaf's real rows that lie in `rows`.
        let valid = (self.n - ql * LANES).min(LANES);
        let mut query: [Query; LANES] = [None; LANES];
        for ((slot, &lo), &hi) in query.iter_mut().zip(id_lo).zip(id_hi).take(valid) {
            let i = from_halves(lo, hi);
            if rows.contains(&i) {
                let (ylo, yhi) = halves(labels.get(i).copied().unwrap_or(0));
                *slot = Some((i, ylo, yhi));
            }
        }
        if query.iter().all(Option::is_none) {
            return;
        }
        let zero = Lanes {
            all: [0.0; LANES],
            class: [0.0; LANES],
        };
        let mut acc = [zero; LANES];
        let qcoords = qleaf.get(..d * LANES).unwrap_or(&[]);
        let mut alive0 = 0u8;
        for (bit, q) in query.iter().enumerate() {
            if q.is_some() {
                alive0 |= 1 << bit;
            }
        }
        // Depth-first, left child first: the leaves that survive come in ascending order.
        let mut stack = [(0usize, 0usize, 0usize, 0u8); STACK];
        let mut top = 0usize;
        push(&mut stack, &mut top, (0, 0, self.n_leaves, alive0));
        while let Some((id, a, b, alive)) = pop(&stack, &mut top) {
            let (lo, hi) = self.node_box(id);
            let alive = if k.prune {
                points_box_alive(qcoords, lo, hi, alive, k)
            } else {
                alive
            };
            if alive == 0 {
                continue;
            }
            if b - a == 1 {
                self.add_leaf(a, qleaf, &query, alive, k, &mut acc);
            } else {
                let m = a + (b - a) / 2;
                if !push(&mut stack, &mut top, (id + 2 * (m - a), m, b, alive))
                    || !push(&mut stack, &mut top, (id + 1, a, m, alive))
                {
                    // Unreachable (depth ≤ 30 < STACK). Add every leaf below this node in
                    // order: each leaf still decides for each row whether it is added, so
                    // the result is unchanged.
                    for l in a..b {
                        self.add_leaf(l, qleaf, &query, alive, k, &mut acc);
                    }
                }
            }
        }
        for (q, lanes) in query.iter().zip(&acc) {
            if let Some((i, _, _)) = *q {
                sink(
                    i,
                    math::ln_f64(reduce_lanes(lanes.all)),
                    math::ln_f64(reduce_lanes(lanes.class)),
                );
            }
        }
    }

    /// Adds leaf `l` to the sums of the query rows (lanes of `qleaf`), as an 8 × 8 block:
    /// `D` over coordinates in ascending order, one [`math::exp_neg`] per pair, lanes past the
    /// last row masked to 0. Written over fixed `[_; 8]` arrays with bit masks instead of
    /// branches, so it vectorises.
    ///
    /// **The skip rule**, which defines each row's sum: a row skips the leaf when each of the
    /// leaf's eight `D·s` exceeds `τ`. It depends only on the row and the leaf (padding lanes
    /// repeat a real row of the leaf), never on which rows share the query leaf, so it is the
    /// same in every call. With `τ = 87` every skipped value is exactly 0. The partial sums of
    /// `D` never decrease, so the block stops early, after 2, 4, 8, … coordinates, once every
    /// query row would skip.
    fn add_leaf(
        &self,
        l: usize,
        qleaf: &[f32],
        query: &[Query; LANES],
        alive: u8,
        k: &Kernel,
        acc: &mut [Lanes; LANES],
    ) {
        let d = self.d;
        let leaf = self.leaf(l);
        let valid = self.n - l * LANES;
        let (Some(coords), Some(qcoords)) = (leaf.get(..d * LANES), qleaf.get(..d * LANES)) else {
            return;
        };
        let Some((lab_lo, rest)) = leaf
            .get(d * LANES..)
            .and_then(<[f32]>::split_first_chunk::<LANES>)
        else {
            return;
        };
        let Some(lab_hi) = rest.first_chunk::<LANES>() else {
            return;
        };
        let mut live_q = [0u32; LANES];
        for (bit, m) in live_q.iter_mut().enumerate() {
            *m = u32::from(alive >> bit & 1).wrapping_neg();
        }
        // 1 where some lane of the row is within τ (the row keeps the leaf), 0 otherwise.
        let keeps = |row: &[f32; LANES]| {
            row.iter()
                .fold(0u32, |m, &v| m | u32::from(v * k.scale <= k.tau))
        };
        let mut dist = [[0.0f32; LANES]; LANES];
        let mut check = 2usize;
        for (j, (col, qcol)) in coords
            .chunks_exact(LANES)
            .zip(qcoords.chunks_exact(LANES))
            .enumerate()
        {
            for (row, &x) in dist.iter_mut().zip(qcol) {
                for (s, &v) in row.iter_mut().zip(col) {
                    let diff = x - v;
                    *s += diff * diff;
                }
            }
            if k.prune && j + 1 == check {
                let any = dist
                    .iter()
                    .zip(&live_q)
                    .fold(0u32, |m, (row, &lq)| m | (keeps(row) & lq));
                if any == 0 {
                    return;
                }
                check *= 2;
            }
        }
        let mut live = [0u32; LANES];
        for (lane, m) in live.iter_mut().enumerate() {
            *m = u32::from(lane < valid).wrapping_neg();
        }
        for (((row, q), lanes), &lq) in dist.iter().zip(query).zip(acc.iter_mut()).zip(&live_q) {
            let Some((_, ylo, yhi)) = *q else {
                continue;
            };
            if lq == 0 {
                continue;
            }
            if k.prune && keeps(row) == 0 {
                continue;
            }
            let mut kv = [0.0f32; LANES];
            let mut kc = [0.0f32; LANES];
            for (((((all, class), &dl), &lo), &hi), &lv) in kv
                .iter_mut()
                .zip(kc.iter_mut())
                .zip(row)
                .zip(lab_lo)
                .zip(lab_hi)
                .zip(&live)
            {
                let e = math::exp_neg(-(dl * k.scale)).to_bits() & lv;
                // All-ones when the lane holds a row of the query's class, else zero.
                #[allow(clippy::float_cmp)] // exact integers below 2^16 (see `halves`)
                let same = (u32::from(lo == ylo) & u32::from(hi == yhi)).wrapping_neg();
                *all = f32::from_bits(e);
                *class = f32::from_bits(e & same);
            }
            for (s, &v) in lanes.all.iter_mut().zip(&kv) {
                *s += f64::from(v);
            }
            for (s, &v) in lanes.class.iter_mut().zip(&kc) {
                *s += f64::from(v);
            }
        }
    }
}

/// The subset of `alive` (bit `a` = query lane `a`) whose rows are within `τ` of the box
/// `[lo, hi]`: `D·s` from each row to the box, summed in ascending coordinate order from 0
/// like `D`. Rounding is monotone, so no point of the box is closer in f32 than the box: a
/// row dropped here would skip every leaf below the node anyway.
#[inline]
fn points_box_alive(qcoords: &[f32], lo: &[f32], hi: &[f32], alive: u8, k: &Kernel) -> u8 {
    let mut s = [0.0f32; LANES];
    for ((col, &l), &h) in qcoords.chunks_exact(LANES).zip(lo).zip(hi) {
        for (acc, &x) in s.iter_mut().zip(col) {
            let g = (l - x).max(x - h).max(0.0);
            *acc += g * g;
        }
    }
    let mut keep = 0u8;
    for (bit, &v) in s.iter().enumerate() {
        keep |= u8::from(v * k.scale <= k.tau) << bit;
    }
    keep & alive
}

/// The eight `f64` lane accumulators of one row's two sums.
#[derive(Clone, Copy)]
struct Lanes {
    all: [f64; LANES],
    class: [f64; LANES],
}

/// `((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))`, the lane order of `mlp::lane_dot`.
fn reduce_lanes(l: [f64; LANES]) -> f64 {
    let [a, b, c, d, e, f, g, h] = l;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// Sums of the per-row terms in fixed point, shared by [`KdePlan::combine`] and
/// [`KdePlan::mutual_information`]: exact, so the order of the rows does not matter.
#[derive(Default)]
struct TermSums {
    all: i128,
    class: i128,
}

impl TermSums {
    #[inline]
    fn push(&mut self, a: f64, b: f64) {
        self.all = self.all.saturating_add(fixed(a));
        self.class = self.class.saturating_add(fixed(b));
    }

    fn finish(&self, n: usize, labels: &[u32]) -> PlanePoint {
        #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX is exact in f64
        let nf = n as f64;
        #[allow(clippy::cast_precision_loss)] // one rounding, to nearest
        let (all, class) = (self.all as f64 / FIXED_ONE, self.class as f64 / FIXED_ONE);
        let i_xt = math::ln_f64(nf) - all / nf;
        let h_cond = (class_log_sum(labels) - class) / nf;
        PlanePoint {
            i_xt: Info::from_nats(i_xt.max(0.0)),
            i_ty: Info::from_nats(i_xt - h_cond),
        }
    }
}

/// A term in units of `2^-64` nats, rounded toward zero (the cast saturates far outside the
/// `[0, 22.2]` that terms occupy; sums saturate too, so nothing can overflow).
#[inline]
fn fixed(v: f64) -> i128 {
    #[allow(clippy::cast_possible_truncation)] // truncation toward zero is the rounding
    let x = (v * FIXED_ONE) as i128;
    x
}

/// `Σ_y N_y ln N_y` over the distinct labels in ascending order, in f64, without memory: each
/// pass over the labels finds the smallest label above the previous one and counts it.
fn class_log_sum(labels: &[u32]) -> f64 {
    let mut s = 0.0f64;
    let mut prev: Option<u32> = None;
    loop {
        let mut next: Option<(u32, u64)> = None;
        for &y in labels {
            if prev.is_some_and(|p| y <= p) {
                continue;
            }
            next = match next {
                Some((m, c)) if y == m => Some((m, c + 1)),
                Some((m, c)) if y > m => Some((m, c)),
                _ => Some((y, 1)),
            };
        }
        let Some((m, c)) = next else {
            return s;
        };
        #[allow(clippy::cast_precision_loss)] // c ≤ u32::MAX is exact in f64
        let cf = c as f64;
        s += cf * math::ln_f64(cf);
        prev = Some(m);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::float_cmp)]
    // Fixtures turn small counts into u32 and f64 draws into f32 data on purpose.
    #![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    use super::*;
    use crate::rng::{Stream, StreamRng};
    use std::vec;
    use std::vec::Vec;

    /// Per-row terms against the f64 reference, in nats. The kernel's argument `D·s` carries
    /// the f32 rounding of the distance (≤ (d + 2)·2⁻²⁴ relative) and of `s`, and `exp_neg` is
    /// within 1 ulp. The relative error of a row's sum is at most the largest argument among
    /// the values that make it up times that, plus 1 ulp; measured ≤ 7.4e-8 over the cases
    /// below (≤ 8.2e-8 on 4096×10 and 1.4e-9 on 10000×20 layers in release runs).
    const TERM_TOL: f64 = 1e-6;
    /// The Gaussian limit from a 987-point Fibonacci lattice (quasi-random, so the error is
    /// the O(1/N) bias of the self term and of the lattice, measured 4.8e-4 nats here and
    /// 1.4e-4 at N = 4181, 4e-5 at N = 17711).
    const LATTICE_TOL: f64 = 2e-3;
    /// The Gaussian limit from 1500 pseudo-random draws: the sampling error of a mean over N
    /// rows, about 0.02 nats at this size (measured over seeds at N = 1000 and 4000).
    const RANDOM_TOL: f64 = 0.1;

    fn plan(n: usize, d: usize) -> KdePlan {
        KdePlan::new(n, d).unwrap()
    }

    fn uniform(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut r = StreamRng::new(seed, Stream::Noise);
        (0..n * d).map(|_| r.uniform_f32() * 2.0 - 1.0).collect()
    }

    /// Rows copied from a few prototypes near the corners of the cube plus small noise, like a
    /// saturated tanh layer.
    fn clustered(n: usize, d: usize, k: u32, seed: u64) -> Vec<f32> {
        let mut r = StreamRng::new(seed, Stream::Noise);
        let protos: Vec<f32> = (0..k as usize * d)
            .map(|_| if r.next_u32() & 1 == 0 { -0.97 } else { 0.97 })
            .collect();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let p = r.below(k) as usize;
            for u in 0..d {
                out.push(protos[p * d + u] + 0.01 * r.normal_f32());
            }
        }
        out
    }

    fn labels(n: usize, classes: u32, seed: u64) -> Vec<u32> {
        let mut r = StreamRng::new(seed, Stream::Shuffle);
        (0..n).map(|_| r.below(classes)).collect()
    }

    /// The obviously correct double loop, in f64 with f64 exponentials.
    fn reference(t: &[f32], y: &[u32], d: usize, var: f32, bound: KdeBound) -> Vec<f64> {
        let n = y.len();
        let c = bound.c() * f64::from(var);
        let mut out = vec![0.0; 2 * n];
        for i in 0..n {
            let (mut a, mut b) = (0.0f64, 0.0f64);
            for j in 0..n {
                let mut dd = 0.0f64;
                for k in 0..d {
                    let x = f64::from(t[i * d + k]) - f64::from(t[j * d + k]);
                    dd += x * x;
                }
                let kv = math::exp_f64(-dd.max(0.0) / c);
                a += kv;
                if y[j] == y[i] {
                    b += kv;
                }
            }
            out[2 * i] = math::ln_f64(a);
            out[2 * i + 1] = math::ln_f64(b);
        }
        out
    }

    fn terms(p: &KdePlan, t: &[f32], y: &[u32], var: f32, bound: KdeBound) -> Vec<f64> {
        let n = y.len();
        let mut out = vec![0.0; 2 * n];
        let mut s = vec![0.0f32; p.row_terms_scratch_len()];
        let m = MatRef::new(t, n, p.d()).unwrap();
        p.row_terms(m, y, var, bound, 0..n, &mut out, &mut s)
            .unwrap();
        out
    }

    fn mi(p: &KdePlan, t: &[f32], y: &[u32], var: f32, bound: KdeBound) -> PlanePoint {
        let mut s = vec![0.0f32; p.scratch_len()];
        let m = MatRef::new(t, y.len(), p.d()).unwrap();
        p.mutual_information(m, y, var, bound, &mut s).unwrap()
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    fn log2(x: f64) -> f64 {
        math::log2_f64(x)
    }

    #[test]
    fn matches_the_f64_double_loop() {
        let cases: [(usize, usize, f32, u32); 6] = [
            (1, 3, 1e-3, 1),
            (9, 1, 0.05, 2),
            (203, 2, 0.02, 3),
            (300, 10, 1e-3, 2),
            (257, 10, 0.1, 4),
            (150, 5, 1.0, 3),
        ];
        for (case, &(n, d, var, classes)) in cases.iter().enumerate() {
            let seed = case as u64;
            for t in [uniform(n, d, seed), clustered(n, d, 5, seed)] {
                let y = labels(n, classes, seed);
                for bound in [KdeBound::Upper, KdeBound::Lower] {
                    let want = reference(&t, &y, d, var, bound);
                    for cutoff in [true, false] {
                        let p = plan(n, d).with_cutoff(cutoff);
                        let got = terms(&p, &t, &y, var, bound);
                        let err = max_abs_diff(&got, &want);
                        assert!(err <= TERM_TOL, "n={n} d={d} {bound:?} {cutoff}: {err:e}");
                        let (pg, pw) = (
                            p.combine(&got, &y, var, bound).unwrap(),
                            p.combine(&want, &y, var, bound).unwrap(),
                        );
                        assert!((pg.i_xt.in_nats() - pw.i_xt.in_nats()).abs() <= TERM_TOL);
                        assert!((pg.i_ty.in_nats() - pw.i_ty.in_nats()).abs() <= 2.0 * TERM_TOL);
                    }
                }
            }
        }
    }

    #[test]
    fn exact_mode_is_bit_identical_to_every_pair() {
        for (n, d, var) in [(200usize, 4usize, 1e-3f32), (131, 10, 0.05), (64, 1, 2e-4)] {
            for t in [uniform(n, d, 7), clustered(n, d, 3, 7)] {
                let y = labels(n, 3, 7);
                for bound in [KdeBound::Upper, KdeBound::Lower] {
                    let exact = plan(n, d).with_cutoff(false);
                    let every = KdePlan {
                        prune: Prune::Nothing,
                        ..exact
                    };
                    let a = terms(&exact, &t, &y, var, bound);
                    let b = terms(&every, &t, &y, var, bound);
                    assert_eq!(bits(&a), bits(&b), "n={n} d={d} {bound:?}");
                }
            }
        }
    }

    #[test]
    fn cutoff_moves_each_term_by_less_than_its_bound() {
        // 1-D points spaced so that many kernel arguments fall between the cut-off threshold
        // (about 34 here) and the exact-zero one (87): the cut-off really skips mass.
        let n = 400;
        let t: Vec<f32> = (0..n).map(|i| (i as f32) * 0.03).collect();
        let y = labels(n, 2, 3);
        for var in [1e-3f32, 4e-3, 1e-2] {
            for bound in [KdeBound::Upper, KdeBound::Lower] {
                let on = terms(&plan(n, 1), &t, &y, var, bound);
                let off = terms(&plan(n, 1).with_cutoff(false), &t, &y, var, bound);
                let err = max_abs_diff(&on, &off);
                assert!(err <= CUTOFF_REL, "{var} {bound:?}: {err:e}");
            }
        }
        assert!(plan(1, 1).cutoff() && !plan(1, 1).with_cutoff(false).cutoff());
    }

    #[test]
    fn split_ranges_give_the_same_bits() {
        let (n, d, var) = (173usize, 6usize, 0.01f32);
        for t in [uniform(n, d, 11), clustered(n, d, 4, 11)] {
            let y = labels(n, 3, 11);
            for cutoff in [true, false] {
                let p = plan(n, d).with_cutoff(cutoff);
                let whole = terms(&p, &t, &y, var, KdeBound::Upper);
                let m = MatRef::new(&t, n, d).unwrap();
                let mut s = vec![0.0f32; p.row_terms_scratch_len()];
                for cuts in [[0usize, 1, n], [0, 86, n], [0, 100, 101], [0, n, n]] {
                    let mut out = vec![0.0; 2 * n];
                    let mut start = 0;
                    for &end in cuts.iter().skip(1).chain(core::iter::once(&n)) {
                        let end = end.max(start);
                        let o = &mut out[2 * start..2 * end];
                        p.row_terms(m, &y, var, KdeBound::Upper, start..end, o, &mut s)
                            .unwrap();
                        start = end;
                    }
                    assert_eq!(bits(&out), bits(&whole), "{cuts:?} {cutoff}");
                }
                // mutual_information gives the bits of row_terms + combine.
                let a = mi(&p, &t, &y, var, KdeBound::Upper);
                let b = p.combine(&whole, &y, var, KdeBound::Upper).unwrap();
                assert_eq!(a.i_xt.in_bits().to_bits(), b.i_xt.in_bits().to_bits());
                assert_eq!(a.i_ty.in_bits().to_bits(), b.i_ty.in_bits().to_bits());
            }
        }
    }

    #[test]
    fn parts_cover_every_row_once_with_the_same_bits() {
        let (n, d, var) = (173usize, 6usize, 0.01f32);
        for t in [uniform(n, d, 12), clustered(n, d, 4, 12)] {
            let y = labels(n, 3, 12);
            let p = plan(n, d);
            let whole = terms(&p, &t, &y, var, KdeBound::Lower);
            let m = MatRef::new(&t, n, d).unwrap();
            let mut s = vec![0.0f32; p.row_terms_scratch_len()];
            for parts in [1usize, 2, 3, 7, 40] {
                let mut out = vec![f64::NAN; 2 * n];
                let mut seen = vec![0u32; n];
                let mut total = 0;
                for part in 0..parts {
                    let mut rows = vec![0u32; n];
                    let mut tp = vec![0.0f64; 2 * n];
                    let k = p
                        .row_terms_part(
                            m,
                            &y,
                            var,
                            KdeBound::Lower,
                            (part, parts),
                            &mut rows,
                            &mut tp,
                            &mut s,
                        )
                        .unwrap();
                    total += k;
                    for (j, &i) in rows[..k].iter().enumerate() {
                        seen[i as usize] += 1;
                        out[2 * i as usize..2 * i as usize + 2]
                            .copy_from_slice(&tp[2 * j..2 * j + 2]);
                    }
                }
                assert_eq!(total, n, "{parts}");
                assert!(seen.iter().all(|&c| c == 1), "{parts}");
                assert_eq!(bits(&out), bits(&whole), "{parts}");
            }
            let mut rows = vec![0u32; n];
            let mut tp = vec![0.0f64; 2 * n];
            let e = p.row_terms_part(
                m,
                &y,
                var,
                KdeBound::Lower,
                (2, 2),
                &mut rows,
                &mut tp,
                &mut s,
            );
            assert_eq!(e, Err(Error::InvalidParameter { name: "part" }));
        }
    }

    #[test]
    fn row_permutation_changes_only_rounding() {
        let (n, d, var) = (240usize, 5usize, 0.02f32);
        let t = clustered(n, d, 6, 5);
        let y = labels(n, 4, 5);
        let mut perm: Vec<u32> = (0..n as u32).collect();
        StreamRng::new(5, Stream::Split).shuffle(&mut perm);
        let tp: Vec<f32> = perm
            .iter()
            .flat_map(|&i| t[i as usize * d..(i as usize + 1) * d].to_vec())
            .collect();
        let yp: Vec<u32> = perm.iter().map(|&i| y[i as usize]).collect();
        for cutoff in [true, false] {
            let p = plan(n, d).with_cutoff(cutoff);
            let a = terms(&p, &t, &y, var, KdeBound::Upper);
            let b = terms(&p, &tp, &yp, var, KdeBound::Upper);
            for (k, &i) in perm.iter().enumerate() {
                let i = i as usize;
                assert!((a[2 * i] - b[2 * k]).abs() <= 1e-11);
                assert!((a[2 * i + 1] - b[2 * k + 1]).abs() <= 1e-11);
            }
            let (pa, pb) = (
                mi(&p, &t, &y, var, KdeBound::Upper),
                mi(&p, &tp, &yp, var, KdeBound::Upper),
            );
            assert!((pa.i_xt.in_bits() - pb.i_xt.in_bits()).abs() <= 1e-11);
            assert!((pa.i_ty.in_bits() - pb.i_ty.in_bits()).abs() <= 1e-11);
        }
    }

    /// `½ Σ_k [ln(1 + λ_k/v) + λ_k/(λ_k + v)]`: the limit of `I_upper` for `v = σ²` and of
    /// `I_lower` for `v = 4σ²`.
    fn gaussian_limit(lams: &[f64], v: f64) -> f64 {
        0.5 * lams
            .iter()
            .map(|&l| math::ln_f64(1.0 + l / v) + l / (l + v))
            .sum::<f64>()
    }

    #[test]
    fn gaussian_limit_on_a_lattice_in_two_dimensions() {
        // A Fibonacci lattice (N = 987, generator 610) mapped to N(0, I) by Box–Muller, then
        // scaled by √λ = (1, 0.5) and rotated by 30°: Σ has eigenvalues 1 and 0.25.
        let (n, g) = (987usize, 610usize);
        let lams = [1.0f64, 0.25];
        let (c, s) = (
            math::cos_f64(core::f64::consts::PI / 6.0),
            math::cos_f64(core::f64::consts::PI / 3.0),
        );
        let mut t = vec![0.0f32; 2 * n];
        for i in 0..n {
            let u1 = (i as f64 + 0.5) / n as f64;
            let u2 = ((i * g) % n) as f64 / n as f64 + 0.5 / n as f64;
            let r = math::sqrt_f64(-2.0 * math::ln_f64(u1));
            let angle = core::f64::consts::TAU * u2;
            let z0 = r * math::cos_f64(angle);
            let z1 = r * math::cos_f64(angle - core::f64::consts::FRAC_PI_2) * 0.5;
            t[2 * i] = (c * z0 - s * z1) as f32;
            t[2 * i + 1] = (s * z0 + c * z1) as f32;
        }
        let y = vec![0u32; n];
        let var = 0.5f32;
        let p = plan(n, 2);
        let up = mi(&p, &t, &y, var, KdeBound::Upper).i_xt.in_nats();
        let lo = mi(&p, &t, &y, var, KdeBound::Lower).i_xt.in_nats();
        let (want_up, want_lo) = (
            gaussian_limit(&lams, f64::from(var)),
            gaussian_limit(&lams, 4.0 * f64::from(var)),
        );
        assert!((up - want_up).abs() <= LATTICE_TOL, "{up} vs {want_up}");
        assert!((lo - want_lo).abs() <= LATTICE_TOL, "{lo} vs {want_lo}");
    }

    #[test]
    fn gaussian_limit_from_random_draws_in_three_dimensions() {
        let n = 1500;
        let lams = [2.0f64, 1.0, 0.1];
        let mut r = StreamRng::new(100, Stream::Noise);
        let t: Vec<f32> = (0..n)
            .flat_map(|_| lams.map(|l| (f64::from(r.normal_f32()) * math::sqrt_f64(l)) as f32))
            .collect();
        let y = vec![7u32; n];
        let var = 0.3f32;
        let p = plan(n, 3);
        let up = mi(&p, &t, &y, var, KdeBound::Upper);
        let lo = mi(&p, &t, &y, var, KdeBound::Lower);
        let want_up = gaussian_limit(&lams, f64::from(var));
        let want_lo = gaussian_limit(&lams, 4.0 * f64::from(var));
        assert!((up.i_xt.in_nats() - want_up).abs() <= RANDOM_TOL);
        assert!((lo.i_xt.in_nats() - want_lo).abs() <= RANDOM_TOL);
        // One class: H(T|Y) = H(T), so I(T;Y) = 0 up to rounding.
        assert!(up.i_ty.in_bits().abs() <= 1e-9 && lo.i_ty.in_bits().abs() <= 1e-9);
        // The lower bound is below the upper one.
        assert!(lo.i_xt.in_nats() < up.i_xt.in_nats());
    }

    #[test]
    fn separated_classes_give_one_bit_and_identical_classes_none() {
        let n = 200;
        let mut r = StreamRng::new(9, Stream::Noise);
        // Two clusters far apart (D·s = 5000 > 87: exact zeros), one class each.
        let mut t = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let centre = if i % 2 == 0 { -5.0 } else { 5.0 };
            t.push(centre + 0.05 * r.normal_f32());
            y.push((i % 2) as u32);
        }
        let p = mi(&plan(n, 1), &t, &y, 0.01, KdeBound::Upper);
        assert!((p.i_ty.in_bits() - 1.0).abs() <= 1e-12, "{p:?}");
        // Identical classes: every point twice, once per class. Then each row's class sum is
        // exactly half its full sum, and I(T;Y) = 0.
        let base = uniform(n / 2, 2, 9);
        let t: Vec<f32> = base.chunks(2).flat_map(|r| [r, r].concat()).collect();
        let y: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
        for bound in [KdeBound::Upper, KdeBound::Lower] {
            let p = mi(&plan(n, 2), &t, &y, 0.05, bound);
            assert!(p.i_ty.in_bits().abs() <= 1e-9, "{p:?}");
        }
        // Labels that differ only in their high 16 bits are different classes.
        let y: Vec<u32> = (0..n)
            .map(|i| if i % 2 == 0 { 1 } else { 65_537 })
            .collect();
        let p = mi(&plan(n, 2), &t, &y, 0.05, KdeBound::Upper);
        assert!(p.i_ty.in_bits().abs() <= 1e-9);
        let y: Vec<u32> = (0..n)
            .map(|i| if i < n / 2 { u32::MAX } else { 0 })
            .collect();
        let p = mi(&plan(n, 2), &t, &y, 1e-9, KdeBound::Upper);
        assert!((p.i_ty.in_bits() - 1.0).abs() <= 1e-12);
    }

    #[test]
    fn tiny_noise_saturates_at_log2_n() {
        let (n, d) = (300usize, 3usize);
        let t = uniform(n, d, 4);
        let y = labels(n, 8, 4);
        let mut counts = [0u32; 8];
        for &v in &y {
            counts[v as usize] += 1;
        }
        let h_y: f64 = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = f64::from(c) / n as f64;
                -p * log2(p)
            })
            .sum();
        for bound in [KdeBound::Upper, KdeBound::Lower] {
            let p = mi(&plan(n, d), &t, &y, 1e-9, bound);
            assert!((p.i_xt.in_bits() - log2(n as f64)).abs() <= 1e-12, "{p:?}");
            assert!((p.i_ty.in_bits() - h_y).abs() <= 1e-12, "{p:?}");
        }
        // All rows equal: a single point, nothing to learn.
        let same = vec![0.25f32; n * d];
        let p = mi(&plan(n, d), &same, &y, 1e-9, KdeBound::Upper);
        assert!(p.i_xt.in_bits().abs() <= 1e-12 && p.i_ty.in_bits().abs() <= 1e-12);
        // One row.
        let p = mi(&plan(1, 2), &[0.5, -0.5], &[3], 0.1, KdeBound::Upper);
        assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (0.0, 0.0));
    }

    #[test]
    fn results_stay_within_their_ranges() {
        for (seed, (n, d, var)) in [(50usize, 2usize, 0.05f32), (97, 7, 0.01), (33, 12, 1.0)]
            .into_iter()
            .enumerate()
        {
            let t = clustered(n, d, 4, seed as u64);
            let y = labels(n, 3, seed as u64);
            let up = mi(&plan(n, d), &t, &y, var, KdeBound::Upper);
            let lo = mi(&plan(n, d), &t, &y, var, KdeBound::Lower);
            for p in [up, lo] {
                assert!(p.i_xt.in_bits() >= 0.0 && p.i_xt.in_bits() <= log2(n as f64) + 1e-12);
                assert!(p.i_ty.in_bits() >= -1e-9 && p.i_ty.in_bits() <= log2(3.0) + 1e-9);
            }
            assert!(lo.i_xt.in_bits() <= up.i_xt.in_bits());
            let tt = terms(&plan(n, d), &t, &y, var, KdeBound::Upper);
            let ln_n = math::ln_f64(n as f64);
            assert!(tt.iter().all(|&v| (0.0..=ln_n).contains(&v)));
        }
    }

    #[test]
    fn poisoned_scratch_gives_identical_bits() {
        let (n, d, var) = (77usize, 4usize, 0.01f32);
        let t = clustered(n, d, 3, 2);
        let y = labels(n, 2, 2);
        let other = uniform(n, d, 3);
        for cutoff in [true, false] {
            let p = plan(n, d).with_cutoff(cutoff);
            let m = MatRef::new(&t, n, d).unwrap();
            let len = p.scratch_len();
            let run = |s: &mut [f32]| {
                let mut out = vec![0.0; 2 * n];
                p.row_terms(m, &y, var, KdeBound::Lower, 0..n, &mut out, s)
                    .unwrap();
                let pp = p
                    .mutual_information(m, &y, var, KdeBound::Lower, s)
                    .unwrap();
                (
                    bits(&out),
                    pp.i_xt.in_bits().to_bits(),
                    pp.i_ty.in_bits().to_bits(),
                )
            };
            let zeros = run(&mut vec![0.0f32; len]);
            let nans = run(&mut vec![f32::NAN; len]);
            let mut used = vec![0.0f32; len + 5];
            let mo = MatRef::new(&other, n, d).unwrap();
            p.mutual_information(mo, &y, 3.0, KdeBound::Upper, &mut used)
                .unwrap();
            let after = run(&mut used);
            assert_eq!(zeros, nans);
            assert_eq!(zeros, after);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(KdePlan::new(0, 3), Err(Error::EmptyInput));
        assert_eq!(KdePlan::new(3, 0), Err(Error::EmptyInput));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(KdePlan::new(1 << 32, 1), Err(Error::TooLarge));
        assert_eq!(KdePlan::new(8, usize::MAX - 1), Err(Error::TooLarge));
        assert_eq!(KdePlan::new(1 << 20, usize::MAX / 64), Err(Error::TooLarge));
        // The scratch formula, and a plan built in const context.
        const P: KdePlan = match KdePlan::new(17, 3) {
            Ok(p) => p,
            Err(_) => panic!(),
        };
        assert_eq!(P.scratch_len(), 3 * 8 * 7 + 5 * 2 * 3 + 3 * 17);
        assert_eq!(P.row_terms_scratch_len(), P.scratch_len());
        assert_eq!((P.n(), P.d()), (17, 3));

        let (n, d) = (10usize, 2usize);
        let p = plan(n, d);
        let t = uniform(n, d, 1);
        let m = MatRef::new(&t, n, d).unwrap();
        let y = vec![0u32; n];
        let mut s = vec![0.0f32; p.scratch_len()];
        let mut out = vec![0.0f64; 2 * n];
        let up = KdeBound::Upper;
        for bad in [0.0f32, -1.0, f32::NAN, f32::INFINITY, 1e-45, 1e-39] {
            let name = Error::InvalidParameter { name: "noise_var" };
            assert_eq!(p.mutual_information(m, &y, bad, up, &mut s), Err(name));
            assert_eq!(
                p.row_terms(m, &y, bad, up, 0..n, &mut out, &mut s),
                Err(name)
            );
            assert_eq!(p.combine(&out, &y, bad, up), Err(name));
        }
        assert!(p.mutual_information(m, &y, 2e-39, up, &mut s).is_ok());
        let m_wrong = MatRef::new(&t, d, n).unwrap();
        assert_eq!(
            p.mutual_information(m_wrong, &y, 0.1, up, &mut s),
            Err(Error::ShapeMismatch {
                expected: 20,
                got: 20
            })
        );
        assert_eq!(
            p.mutual_information(m, &y[1..], 0.1, up, &mut s),
            Err(Error::ShapeMismatch {
                expected: 10,
                got: 9
            })
        );
        assert_eq!(
            p.row_terms(m, &y, 0.1, up, 2..5, &mut out, &mut s),
            Err(Error::ShapeMismatch {
                expected: 6,
                got: 20
            })
        );
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        for rows in [backwards, 0..11, 11..11] {
            assert_eq!(
                p.row_terms(m, &y, 0.1, up, rows, &mut out[..0], &mut s),
                Err(Error::InvalidParameter { name: "rows" })
            );
        }
        assert_eq!(
            p.row_terms(m, &y, 0.1, up, 4..4, &mut out[..0], &mut s),
            Ok(())
        );
        let mut nan = t.clone();
        nan[7] = f32::NAN;
        let mn = MatRef::new(&nan, n, d).unwrap();
        assert_eq!(
            p.mutual_information(mn, &y, 0.1, up, &mut s),
            Err(Error::NonFinite { index: 7 })
        );
        nan[7] = f32::NEG_INFINITY;
        let mn = MatRef::new(&nan, n, d).unwrap();
        assert_eq!(
            p.row_terms(mn, &y, 0.1, up, 0..n, &mut out, &mut s),
            Err(Error::NonFinite { index: 7 })
        );
        let short = p.scratch_len() - 1;
        assert_eq!(
            p.mutual_information(m, &y, 0.1, up, &mut s[..short]),
            Err(Error::ScratchTooSmall {
                needed: p.scratch_len(),
                got: short
            })
        );
        assert_eq!(
            p.combine(&out[1..], &y, 0.1, up),
            Err(Error::ShapeMismatch {
                expected: 20,
                got: 19
            })
        );
        assert_eq!(
            p.combine(&out, &y[1..], 0.1, up),
            Err(Error::ShapeMismatch {
                expected: 10,
                got: 9
            })
        );
        out[3] = f64::INFINITY;
        assert_eq!(
            p.combine(&out, &y, 0.1, up),
            Err(Error::NonFinite { index: 3 })
        );
    }

    #[test]
    fn huge_and_extreme_values_stay_finite() {
        // Distances that overflow f32, and a noise so large that s rounds to 0.
        let t = [3e38f32, -3e38, 0.0, 1e-30, -1e-30, 3e38];
        let y = [0u32, 1, 0, 1, 0, 1];
        for var in [1e-3f32, 1.0, 3e38] {
            for bound in [KdeBound::Upper, KdeBound::Lower] {
                let p = mi(&plan(6, 1), &t, &y, var, bound);
                assert!(p.i_xt.in_bits().is_finite() && p.i_ty.in_bits().is_finite());
                let tt = terms(&plan(6, 1).with_cutoff(false), &t, &y, var, bound);
                assert!(tt.iter().all(|v| v.is_finite() && *v >= 0.0));
            }
        }
    }

    #[test]
    fn select_partitions_and_heapsort_sorts() {
        let mut r = StreamRng::new(1, Stream::Noise);
        let inputs: Vec<Vec<f32>> = vec![
            (0..100).map(|_| r.uniform_f32()).collect(),
            (0..100).map(|_| (r.below(3)) as f32).collect(),
            vec![0.5; 64],
            (0..77).map(|i| i as f32).collect(),
            (0..77).map(|i| -(i as f32)).collect(),
            (0..50)
                .map(|i| if i % 2 == 0 { -0.0 } else { 0.0 })
                .collect(),
        ];
        for keys in &inputs {
            let len = keys.len();
            let fill = |buf: &mut Vec<f32>| {
                buf.clear();
                for (i, &k) in keys.iter().enumerate() {
                    let (lo, hi) = halves(i as u32);
                    buf.extend([k, lo, hi]);
                }
            };
            let mut buf = Vec::new();
            for p in [1, len / 3, len / 2, len - 1] {
                fill(&mut buf);
                let mut o = Order { buf: &mut buf };
                o.select(0, len, p);
                let left = (0..p).map(|q| o.key(q)).fold(f32::NEG_INFINITY, f32::max);
                let right = (p..len).map(|q| o.key(q)).fold(f32::INFINITY, f32::min);
                assert!(left <= right, "{p}");
                let mut seen: Vec<usize> = (0..len).map(|q| o.index(q)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..len).collect::<Vec<_>>());
                for q in 0..len {
                    assert_eq!(o.key(q).to_bits(), keys[o.index(q)].to_bits());
                }
            }
            fill(&mut buf);
            let mut o = Order { buf: &mut buf };
            o.heapsort(3, len);
            assert!((4..len).all(|q| o.key(q - 1) <= o.key(q)));
            assert!((0..3).all(|q| o.index(q) == q));
        }
        for v in [0u32, 1, 65_535, 65_536, 0xdead_beef, u32::MAX] {
            let (lo, hi) = halves(v);
            assert_eq!(from_halves(lo, hi), v as usize);
        }
    }
}
