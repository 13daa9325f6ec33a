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
//! H   = ln N − (1/N) Σ_i a_i                       H(T) without its (d/2) ln(2πeσ²)
//! I(T;Y) = H − [(1/N) Σ_y N_y ln N_y − (1/N) Σ_i b_i]
//! ```
//!
//! **Input groups.** When inputs repeat (pooled snapshots, or `--inputs`), `T'` given `X = x`
//! is itself a mixture of the `N_x` rows of input `x`, and `I(X;T) = H(T) − Σ_x p(x) H(T|X=x)`
//! is formed exactly as `I(T;Y)`, with the same bound on both sides:
//!
//! ```text
//! c_i = ln Σ_{j: x_j = x_i} exp(−D_ij / (c σ²))
//! I(X;T) = H − [(1/N) Σ_x N_x ln N_x − (1/N) Σ_i c_i]
//! ```
//!
//! With every input distinct, `N_x = 1` and `c_i = ln 1 = 0`, so `I(X;T) = H`: the bound on
//! `I(X;T')` of Kolchinsky & Tracey. With one input repeated for every row, `c_i = a_i` and
//! `I(X;T) = 0`.
//!
//! The self term `j = i` is always included, so each sum is at least 1 and nothing can
//! overflow or underflow: no max-shift is needed. `I(T;Y)` and the grouped `I(X;T)` are
//! differences of two bounds, not bounds; `I(T;Y)` can be slightly negative on small samples
//! and is reported as computed. `I(X;T)` is clamped at 0 against rounding.
//!
//! # How
//! * **Streaming.** The `N × N` matrix is never built. Each row's sums (two, or three with
//!   input groups) are accumulated over the other rows into eight `f64` lanes; memory is
//!   O(N·d).
//! * **Tree** (module `tree`). Every call orders the rows by a k-d tree built
//!   in scratch (median splits on the widest coordinate, at leaf boundaries, by quickselect;
//!   leaves of 8 rows; O(N·d·log N)). Each leaf is stored coordinate-major (the 8 values of
//!   unit 0, then of unit 1, …), beside its 8 labels, row indices and input groups as `u32`,
//!   so the inner loops run over 8 rows at once and vectorise. Every node stores its
//!   bounding box.
//! * **What a row adds** (module `traverse`). Row `i` adds leaf `L` (its eight kernel values,
//!   to each sum)
//!   unless every one of the eight `D_ij·s` exceeds a threshold `τ`, with `s = 1/(cσ²)`:
//!   - *exact* mode ([`Pruning::ExactZeros`]): `τ = 87`, beyond which
//!     [`math::exp_neg`] is exactly 0. Only exact zeros are skipped: every term is
//!     bit-identical to adding all `N` pairs.
//!   - *cut-off* mode ([`Pruning::Cutoff`], the default): `τ = min(87, ln(N / CUTOFF_REL)·(1 + 1e-6))`, so every
//!     skipped value is below `CUTOFF_REL / N` (the margin covers the 1-ulp error of
//!     [`math::exp_neg`]) and a row's skipped mass is below `CUTOFF_REL = 1e-12` of its sum,
//!     which is ≥ 1: each `a_i`, `b_i`, `c_i` is within `1e-12` nats of the exact mode.
//! * **Finding those leaves.** Query rows go a leaf (8 rows) at a time down the tree. At each
//!   node, every row still in play is tested against the node's box: `D·s` to the box's
//!   nearest point, summed in the same coordinate order as `D`. Rounding is monotone, so in
//!   f32 no point of the box is nearer than that, and a row beyond `τ` would skip every leaf
//!   below; it drops out for the subtree. At a leaf, the 8 × 8 block of distances is summed
//!   coordinate by coordinate and abandoned (after 2, 4, 8, … coordinates) once every row
//!   would skip it. The tests only decide which leaves are *looked at*; the rule above
//!   decides what is added. For `σ² = 1e-3` on tanh-like data almost every pair is skipped.
//! * **Both bounds at once** ([`KdeBoth`]). The lower bound's kernel reaches four times as
//!   far in `D·s` (its scale is the upper bound's divided by 4, exactly), so one tree and one
//!   walk at the lower bound's reach serve both: each block of distances is computed once
//!   and each bound applies its own skip rule and exponential, so each gets the bits of its
//!   own call.
//! * **Distance.** `D_ij = Σ_k (t_ik − t_jk)²` in f32, coordinates in ascending order. The
//!   alternative `‖t_i‖² + ‖t_j‖² − 2 t_i·t_j` saves one of three operations per coordinate
//!   but cancels where the kernel matters (`t_i ≈ t_j`). Measured on clustered 4096×10
//!   tanh-like layers at `σ² = 1e-3`, its per-row terms were off by up to 9.9e-4 nats against
//!   8.2e-8 for the direct form, and in this kernel it was also slower (a dense 4096×10 layer:
//!   85 ms against 69 ms; 10000×20 at `σ² = 0.1`: 673 ms against 471 ms), because it needs a
//!   second pass and its partial sums cannot end a block early. The direct form is never NaN
//!   (no `∞ − ∞`) and never negative, so the clamp of negative distances is implicit.
//! * **Wide path** (module `wide`, chosen with [`KdePlan::with_wide`]): no tree. In hundreds
//!   of dimensions no box prunes and a block of distances ends early only after hundreds of
//!   coordinates. Instead each query row meets every row, in ascending
//!   order: a filter computes the Gram form `‖t_i‖² + ‖t_j‖² − 2 t_i·t_j` (two operations per
//!   coordinate, in register tiles of rows held in cache, 256
//!   coordinates at a time so a tile stops once all its pairs are past the threshold) only
//!   as a rigorous lower bound on `D_ij`: it subtracts a bound on its rounding error,
//!   `ε·(‖t_i‖² + ‖t_j‖²)` with `ε ≈ 2γ_{d+8}`, `γ_k = k·2⁻²⁴/(1 − k·2⁻²⁴)` (about `1.2e-4`
//!   at `d = 1024`), and skips a pair only when even the rounded direct distance would be
//!   skipped. Every other pair gets `D_ij` by the direct form, so distances near 0, where
//!   the Gram form cancels, are as exact as the tree path's, and the rule above decides what
//!   is added. The filter therefore never changes a result. What differs from the tree
//!   path is rounding only: the direct `D` is summed in eight lanes (coordinate `k` in lane
//!   `k mod 8`) instead of sequentially, and each row's kernel values go into lane
//!   `j mod 8` in row order instead of tree order; in exact mode both paths add every
//!   nonzero `exp_neg(−D·s)`, with `D` within `γ_{d+8}·D` of the exact distance on each.
//!   **The rule: the wide path from [`WIDE_MIN`] = 256 units, the tree below** (either on
//!   request with [`KdePlan::with_wide`]). On the real 10000 × 1024 tanh layer of Saxe's
//!   MNIST net (Fashion-MNIST test images, initial weights, σ² = 0.1, 2 threads, shared
//!   2-core AMD EPYC VM with AVX-512) a measured epoch's five KDE estimates took about 3 s
//!   less on the wide path (one `run` epoch 8.2–8.4 s against 5.1–5.3 s), the 1024-wide
//!   layer's I(X;T) differing by 1e-11 bits. On a synthetic 10000 × 1024 tanh layer where
//!   the tree's blocks end early (`fixtures::tanh_layer`) the two were about as fast (upper
//!   bound 3.1 s / 1.5 s on 1 / 2 threads against the tree's 2.0 s / 1.9 s; lower 6.9 s /
//!   3.9 s against 6.9 s / 3.5 s); the filter runs at about half the machine's peak. The
//!   12-bit task's layers (≤ 12 units) keep the tree and their bits.
//! * **Exponential.** [`math::exp_neg`]: deterministic, vectorisable, at most 1 ulp, exactly 0
//!   below `e^{-87}`, about 1 ns per value against about 7–9 ns for `libm::expf` here. The
//!   argument is `−(D_ij · s)` with `s` rounded once to f32.
//!
//! Single-threaded times for [`KdePlan::estimate`], upper bound, on a shared
//! 2-core x86-64 VM (SSE2 only, medians): 4096×10 uniform on (−1, 1) at `σ² = 1e-3` about
//! 4 ms (of which about 1 ms builds the tree, which each thread repeats); 4096×10 in 16 tight
//! clusters about 12 ms; 4096×10 all in one cluster (every pair counts) about 70 ms;
//! 10000×20 uniform at `σ² = 0.1` about 0.48 s.
//!
//! # Determinism
//! On the wide path, for each row `i`: every row `j` not skipped, in ascending order, its
//! kernel value added into `f64` lane `j mod 8`, then the same combination; the filter and
//! the blocks decide only which pairs are looked at, so a row's terms depend on the data
//! alone there too. On the tree path, for each row `i`: the leaves it adds (see above) in
//! ascending leaf order; for each, eight
//! f32 distance lanes, one [`math::exp_neg`] each, added into eight `f64` lane accumulators
//! per sum; then `((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))` and `ln` in f64. Which rows share a
//! query leaf, and which range of rows a call computes, never changes which leaves a row
//! adds, so a row's terms (and their bits) depend on the data alone. The tree depends on the
//! data and its row order. The combination adds the terms in 2⁻⁶⁴-nat fixed point
//! ([`RowSums`]), which is exact and so independent of order: an estimate split into parts
//! ([`KdePlan::estimate_part`]) has the bits of one call. No fused multiply-add; the traversal
//! runs at the best instruction-set level the CPU has ([`crate::simd`]), with the same bits.

mod traverse;
mod tree;
mod wide;

use super::{Estimator, Kind, Layer, Param, Part, Partial, Prepared, RowSums, Settings};
use crate::Error;
use crate::info::{Info, PlanePoint};
use crate::math;
use crate::scratch::{Scratch, ScratchReq};
use crate::simd::{self, Isa};
use core::ops::Range;
use traverse::{Kernel, LeafAcc, row_terms, transpose_sets, uses_boxes, walk};
use tree::{LANES, Tree, TreeBufs};
use wide::{Tiles, Wide, WideKernel};

/// Layers at least this wide take the wide path unless the caller asks for the tree
/// ([`KdePlan::with_wide`]; see the module docs).
pub const WIDE_MIN: usize = 256;

/// Largest skipped kernel mass per row, relative to the row's sum (which is ≥ 1), with the
/// cut-off on: each per-row term differs from the exact mode's by less than this, in nats.
pub const CUTOFF_REL: f64 = 1e-12;

/// The kernel argument beyond which [`math::exp_neg`] is exactly 0.
const ZERO_ARG: f32 = -math::EXP_NEG_MIN;

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
pub enum Pruning {
    /// Kernel values below [`CUTOFF_REL`]` / n` (the default): every per-row term within
    /// `CUTOFF_REL` nats of [`Pruning::ExactZeros`].
    Cutoff,
    /// Only values that are exactly 0 in f32: every per-row term is bit-identical to
    /// [`Pruning::Nothing`].
    ExactZeros,
    /// Nothing: every pair is evaluated (slow; for checking the other two).
    Nothing,
}

/// A checked plan for the KDE bounds of `n` samples of a `d`-unit layer: sizes, the bound and
/// its kernel scale `s = 1/(cσ²)`. Build it once per layer shape and reuse it for every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KdePlan {
    n: usize,
    d: usize,
    leaves: usize,
    bound: KdeBound,
    noise_var: f32,
    scale: f32,
    prune: Pruning,
    wide: bool,
    tree_req: ScratchReq,
    req: ScratchReq,
}

/// A layer's k-d tree, built once ([`KdePlan::tree`], [`KdeBoth::tree`]) and read by every
/// part of the layer's estimate ([`KdePlan::estimate_part_on`]), on any threads: the parts
/// then share one tree instead of each building its own. It keeps the layer it was built
/// from. Same bits as [`KdePlan::estimate_part`].
#[derive(Debug)]
pub struct KdeTree<'s, 'a> {
    tree: Tree<'s>,
    layer: Layer<'a>,
}

impl<'a> KdeTree<'_, 'a> {
    /// The layer the tree was built from.
    #[must_use]
    pub const fn layer(&self) -> &Layer<'a> {
        &self.layer
    }
}

/// `s = 1/(cσ²)` rounded once to f32, after checking `noise_var`: finite, positive, and with
/// `1/(2σ²)` finite in f32 (the upper bound has the larger scale; requiring it for both keeps
/// validity independent of the bound).
const fn kernel_scale(noise_var: f32, bound: KdeBound) -> Result<f32, Error> {
    let bad = Error::InvalidParameter { name: "noise_var" };
    if !(noise_var.is_finite() && noise_var > 0.0) {
        return Err(bad);
    }
    let v = noise_var as f64;
    #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended
    let upper = (1.0 / (2.0 * v)) as f32;
    if !upper.is_finite() {
        return Err(bad);
    }
    #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended
    let s = (1.0 / (bound.c() * v)) as f32;
    Ok(s)
}

/// `?` for `const fn`s.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}

impl KdePlan {
    /// A plan for `n` samples × `d` units, bound `bound`, noise variance `noise_var`, with the
    /// cut-off on.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"noise_var"` unless σ² is finite, positive and `1/(2σ²)`
    /// is finite in f32 (σ² ≳ 1.5e-39); [`Error::EmptyInput`] if `n` or `d` is 0;
    /// [`Error::TooLarge`] if `n` exceeds `u32::MAX` or the scratch size overflows `usize`.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::kde::{KdeBound, KdePlan};
    /// const PLAN: KdePlan = match KdePlan::new(16, 2, KdeBound::Upper, 1e-3) {
    ///     Ok(p) => p,
    ///     Err(_) => panic!("valid settings"),
    /// };
    /// let scratch = [0u64; PLAN.scratch_req().words()]; // sized at compile time
    /// assert_eq!(scratch.len(), 16 + 3 * 8 + 6 + 8 + 8 + 2 * 8 * 24);
    /// ```
    pub const fn new(n: usize, d: usize, bound: KdeBound, noise_var: f32) -> Result<Self, Error> {
        Self::with_path(n, d, bound, noise_var, d >= WIDE_MIN)
    }

    /// [`KdePlan::new`] with the path chosen: the wide path (`wide`) or the tree.
    const fn with_path(
        n: usize,
        d: usize,
        bound: KdeBound,
        noise_var: f32,
        wide: bool,
    ) -> Result<Self, Error> {
        let scale = tri!(kernel_scale(noise_var, bound));
        if n == 0 || d == 0 {
            return Err(Error::EmptyInput);
        }
        if n as u64 > 0xFFFF_FFFF {
            return Err(Error::TooLarge);
        }
        let leaves = n.div_ceil(LANES);
        let Some(slots) = leaves.checked_mul(LANES) else {
            return Err(Error::TooLarge);
        };
        let Some(coords) = slots.checked_mul(d) else {
            return Err(Error::TooLarge);
        };
        let Some(box_len) = d.checked_mul(2) else {
            return Err(Error::TooLarge);
        };
        let Some(boxes) = (2 * leaves - 1).checked_mul(box_len) else {
            return Err(Error::TooLarge);
        };
        // The tree, live for the whole estimate: coordinates, then labels, row indices and
        // input groups (one u32 each per slot), then the node boxes; plus the row order
        // while building (a key and an index per row). All at once.
        let tree = tri!(
            tri!(
                tri!(ScratchReq::f32(coords).and(ScratchReq::u32(slots)))
                    .and(ScratchReq::u32(slots))
            )
            .and(ScratchReq::u32(slots))
        );
        let tree = tri!(tri!(tree.and(ScratchReq::f32(boxes))).and(ScratchReq::f32(n)));
        let tree_req = tri!(tree.and(ScratchReq::u32(n)));
        // The sums of one block of query leaves (see `Queries`), for one bound.
        let all = tri!(tree_req.and(ScratchReq::f64(block_sums(leaves, 1))));
        // Wide layers (see the module docs) build no tree: the filter's per-row norms and
        // one block of query rows' sums instead.
        if wide && !wide::fits(n, d) {
            return Err(Error::TooLarge);
        }
        let (tree_req, all) = if wide {
            (
                ScratchReq::EMPTY,
                ScratchReq::f64(wide::scratch_f64s(n, d, 1)),
            )
        } else {
            (tree_req, all)
        };
        // Finishing reuses the region: the labels (or groups) sorted to count classes.
        let req = all.any_of(ScratchReq::u32(n));
        Ok(Self {
            n,
            d,
            leaves,
            bound,
            noise_var,
            scale,
            prune: Pruning::Cutoff,
            wide,
            tree_req,
            req,
        })
    }

    /// The same plan with another [`Pruning`] mode.
    #[must_use]
    pub const fn with_pruning(self, prune: Pruning) -> Self {
        Self { prune, ..self }
    }

    /// The same plan on the wide path (`true`) or the tree (`false`), whatever the width (see
    /// the module docs): the same results up to rounding, the bits of one path for any split.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the path's scratch size overflows `usize`.
    pub const fn with_wide(self, wide: bool) -> Result<Self, Error> {
        let plan = tri!(Self::with_path(
            self.n,
            self.d,
            self.bound,
            self.noise_var,
            wide
        ));
        Ok(plan.with_pruning(self.prune))
    }

    /// The pruning mode.
    #[must_use]
    pub const fn pruning(&self) -> Pruning {
        self.prune
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

    /// The bound.
    #[must_use]
    pub const fn bound(&self) -> KdeBound {
        self.bound
    }

    /// Scratch for any call (per call, so per thread). On the wide path: per row, the
    /// filter's `⌈d/256⌉` prefix norms as `f64`s, and the sums of one block of up to 128
    /// query rows, 24 `f64`s each. Otherwise: the rows in tree order,
    /// `8·⌈n/8⌉·d` `f32`s, with three `u32`s per row slot, the node boxes, `(2⌈n/8⌉ − 1)·2d`
    /// `f32`s, the row order while building, an `f32` and a `u32` per row, and the sums of
    /// one block of query leaves, 24 `f64`s for each of up to 2048 row slots (384 KiB at
    /// most). May change between versions: ask, do not hard-code.
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        self.req
    }

    /// How many parts [`KdePlan::estimate_part`] can split the work into: one per leaf of 8
    /// rows.
    #[must_use]
    pub const fn max_parts(&self) -> usize {
        self.leaves
    }

    /// I(X;T) and I(T;Y) in bits (see the module docs): [`KdePlan::estimate_part`] over the
    /// whole layer, then [`KdePlan::finish`], single-threaded, with the bits of any split.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if the layer is not `n × d`; [`Error::ScratchTooSmall`].
    ///
    /// # Scratch
    /// [`KdePlan::scratch_req`].
    ///
    /// # Complexity
    /// O(n·d·log n) to build the tree, then O(n²·d) in the worst case (every pair within the
    /// threshold); pairs farther apart than about `√(87·cσ²)` (exact zeros) or
    /// `√(cσ²·ln(10¹² n))` (cut-off) are skipped a tree node at a time. Wide layers: O(n²·d)
    /// for the filter at two operations per coordinate (less where tiles stop early), plus
    /// three per coordinate for the pairs within reach.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::Layer, kde::{KdeBound, KdePlan}};
    /// // Four well separated points, two per class, small noise: I(X;T) = log2 4 and
    /// // I(T;Y) = H(Y) = 1 bit.
    /// let t = MatRef::new(&[0.0f32, 1.0, 2.0, 3.0], 4, 1)?;
    /// let plan = KdePlan::new(4, 1, KdeBound::Upper, 1e-3)?;
    /// let mut scratch = vec![0u64; plan.scratch_req().words()];
    /// let p = plan.estimate(&Layer::new(t, &[0, 0, 1, 1], None)?, &mut scratch)?;
    /// assert!((p.i_xt.in_bits() - 2.0).abs() < 1e-12);
    /// assert!((p.i_ty.in_bits() - 1.0).abs() < 1e-12);
    /// // The same input four times: nothing about X is in T.
    /// let p = plan.estimate(&Layer::new(t, &[0, 0, 1, 1], Some(&[5, 5, 5, 5]))?, &mut scratch)?;
    /// assert!(p.i_xt.in_bits().abs() < 1e-12);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn estimate(&self, layer: &Layer<'_>, scratch: &mut [u64]) -> Result<PlanePoint, Error> {
        let sums = self.estimate_part(layer, Part::WHOLE, scratch)?;
        self.finish(layer, sums, scratch)
    }

    /// The sums of the per-row terms `a_i`, `b_i`, `c_i` of part `part`: the rows of leaves
    /// `index·L/count .. (index+1)·L/count` of the tree's `L` leaves (a share of the tree,
    /// so each part costs about `1/count` of the whole; a range of row indices would touch
    /// every leaf). The parts `0..count` cover every row once; merged with
    /// [`RowSums::merge`] in any order they give the sums of one call.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"parts"` unless `index < count`; otherwise as
    /// [`KdePlan::estimate`].
    ///
    /// # Scratch
    /// [`KdePlan::scratch_req`] per call: each part builds its own tree.
    pub fn estimate_part(
        &self,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<RowSums, Error> {
        let leaves = self.part_leaves(part)?;
        let mut sums = RowSums::default();
        self.run(
            [self.scale],
            layer,
            leaves,
            &|_| true,
            scratch,
            &mut |_, [terms]| {
                sums.push(terms);
            },
        )?;
        Ok(sums)
    }

    /// Scratch for [`KdePlan::tree`]: the tree, live for as long as its parts run. With
    /// [`KdePlan::walk_req`] per part, it replaces [`KdePlan::scratch_req`] when the parts
    /// share one tree.
    #[must_use]
    pub const fn tree_req(&self) -> ScratchReq {
        self.tree_req
    }

    /// Scratch for one [`KdePlan::estimate_part_on`]: the sums of one block of query leaves
    /// (wide layers: the filter's norms and one block of query rows' sums).
    #[must_use]
    pub const fn walk_req(&self) -> ScratchReq {
        self.walk_req_for(1)
    }

    /// [`KdePlan::walk_req`] for `bounds` bounds in one pass.
    const fn walk_req_for(&self, bounds: usize) -> ScratchReq {
        if self.wide {
            ScratchReq::f64(wide::scratch_f64s(self.n, self.d, bounds))
        } else {
            ScratchReq::f64(block_sums(self.leaves, bounds))
        }
    }

    /// Whether this plan takes the wide path ([`KdePlan::with_wide`]; see the module docs).
    #[must_use]
    pub const fn is_wide(&self) -> bool {
        self.wide
    }

    /// Builds the layer's k-d tree in `scratch` ([`KdePlan::tree_req`]), for parts that share
    /// it. The tree depends only on the layer, not on the bound, the noise or the pruning:
    /// either bound's plan of the same size can use it.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if the layer is not `n × d`; [`Error::ScratchTooSmall`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::{Layer, Part}, kde::{KdeBound, KdePlan}};
    /// let t = MatRef::new(&[0.0f32, 0.01, 0.5, 0.52, 1.0, 2.0], 6, 1)?;
    /// let layer = Layer::new(t, &[0, 1, 0, 1, 1, 0], None)?;
    /// let plan = KdePlan::new(6, 1, KdeBound::Upper, 1e-3)?;
    /// let mut tree_buf = vec![0u64; plan.tree_req().words()];
    /// let tree = plan.tree(&layer, &mut tree_buf)?;
    /// // Two parts (on two threads, say), each with its own small scratch, one tree.
    /// let mut walk = vec![0u64; plan.walk_req().words()];
    /// let a = plan.estimate_part_on(&tree, Part { index: 0, count: 2 }, &mut walk)?;
    /// let b = plan.estimate_part_on(&tree, Part { index: 1, count: 2 }, &mut walk)?;
    /// let mut scratch = vec![0u64; plan.scratch_req().words()];
    /// let p = plan.finish(&layer, a.merge(b), &mut scratch)?;
    /// assert_eq!(p, plan.estimate(&layer, &mut scratch)?);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn tree<'s, 'a>(
        &self,
        layer: &Layer<'a>,
        scratch: &'s mut [u64],
    ) -> Result<KdeTree<'s, 'a>, Error> {
        layer.check_shape(self.n, self.d)?;
        if self.wide {
            return Ok(KdeTree {
                tree: Tree::empty(self.n, self.d),
                layer: *layer,
            });
        }
        let mut s = Scratch::new(scratch, self.tree_req)?;
        let bufs = self.tree_bufs(&mut s)?;
        let tree = Tree::build(layer.t(), layer.labels(), layer.inputs(), bufs)?;
        Ok(KdeTree {
            tree,
            layer: *layer,
        })
    }

    /// As [`KdePlan::estimate_part`], on a tree built once by [`KdePlan::tree`] (of either
    /// bound), with only [`KdePlan::walk_req`] of scratch: the same bits.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if the tree is not of an `n × d` layer; otherwise as
    /// [`KdePlan::estimate_part`].
    pub fn estimate_part_on(
        &self,
        tree: &KdeTree<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<RowSums, Error> {
        let leaves = self.part_leaves(part)?;
        let mut sums = RowSums::default();
        self.walk_on([self.scale], tree, leaves, scratch, &mut |_, [terms]| {
            sums.push(terms);
        })?;
        Ok(sums)
    }

    /// The plane point from the sums of every row's terms.
    ///
    /// Accumulators: the row sums in exact fixed point ([`RowSums`]), converted to `f64`
    /// once; `Σ_y N_y ln N_y` (and `Σ_x N_x ln N_x`) in `f64` over the labels (groups) in
    /// ascending order.
    ///
    /// # Errors
    /// As [`KdePlan::estimate`].
    pub fn finish(
        &self,
        layer: &Layer<'_>,
        sums: RowSums,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        layer.check_shape(self.n, self.d)?;
        let mut s = Scratch::new(scratch, self.req)?;
        let sorted = s.u32(self.n)?;
        #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX is exact in f64
        let nf = self.n as f64;
        let h = math::ln_f64(nf) - sums.get(0) / nf;
        let i_ty = h - (count_log_sum(layer.labels(), sorted) - sums.get(1)) / nf;
        let i_xt = match layer.inputs() {
            None => h,
            Some(groups) => {
                let s_x = count_log_sum(groups, sorted);
                // S_X = 0 exactly when every input occurs once: then every c_i is ln 1 = 0.
                if s_x == 0.0 {
                    h
                } else {
                    h - (s_x - sums.get(2)) / nf
                }
            }
        };
        Ok(PlanePoint {
            i_xt: Info::from_nats(i_xt.max(0.0)),
            i_ty: Info::from_nats(i_ty),
        })
    }

    /// Per-row terms for the rows `rows` (a sub-range of `0..n`): for the k-th row `i` of the
    /// range, `out[3k] = a_i`, `out[3k + 1] = b_i`, `out[3k + 2] = c_i` (0 without input
    /// groups), in nats (see the module docs); each lies in `[0, ln n]`. A row's terms
    /// depend only on the data, never on the range or part they were computed in.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"rows"` if `rows` is not a sub-range of `0..n`;
    /// [`Error::ShapeMismatch`] unless `out` holds `3·rows.len()` values; otherwise as
    /// [`KdePlan::estimate`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::Layer, kde::{KdeBound, KdePlan}};
    /// let t = MatRef::new(&[0.0f32, 0.0, 0.0, 0.0, 5.0, 5.0], 3, 2)?;
    /// let plan = KdePlan::new(3, 2, KdeBound::Upper, 1e-3)?;
    /// let mut scratch = vec![0u64; plan.scratch_req().words()];
    /// let mut out = [0.0f64; 9];
    /// plan.row_terms(&Layer::new(t, &[0, 1, 1], None)?, 0..3, &mut out, &mut scratch)?;
    /// // Rows 0 and 1 coincide: a = ln 2; row 2 is alone: a = ln 1 = 0.
    /// assert!((out[0] - 2f64.ln()).abs() < 1e-7 && out[6] == 0.0);
    /// // Row 0's class holds only itself: b = 0.
    /// assert_eq!(out[1], 0.0);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn row_terms(
        &self,
        layer: &Layer<'_>,
        rows: Range<usize>,
        out: &mut [f64],
        scratch: &mut [u64],
    ) -> Result<(), Error> {
        if rows.start > rows.end || rows.end > self.n {
            return Err(Error::InvalidParameter { name: "rows" });
        }
        let len = rows.end - rows.start;
        // len ≤ n ≤ u32::MAX, so 3·len cannot overflow.
        if out.len() != 3 * len {
            return Err(Error::ShapeMismatch {
                expected: 3 * len,
                got: out.len(),
            });
        }
        let start = rows.start;
        let mut put = |i: usize, [terms]: [[f64; 3]; 1]| {
            if let Some(o) = out.get_mut(3 * (i - start)..3 * (i - start) + 3) {
                o.copy_from_slice(&terms);
            }
        };
        if self.wide {
            layer.check_shape(self.n, self.d)?;
            return self.run_wide([self.scale], layer, rows, scratch, &mut put);
        }
        let wanted = |i: usize| rows.contains(&i);
        let scales = [self.scale];
        self.run(scales, layer, 0..self.leaves, &wanted, scratch, &mut put)
    }

    /// The query leaves of part `part`: `index·L/count .. (index+1)·L/count`.
    fn part_leaves(&self, part: Part) -> Result<Range<usize>, Error> {
        if part.index >= part.count {
            return Err(Error::InvalidParameter { name: "parts" });
        }
        // Leaf bounds index·L/count in u128, so no product can overflow on 32-bit targets.
        let bound_of = |p: usize| {
            let v = (p as u128) * (self.leaves as u128) / (part.count as u128);
            usize::try_from(v).unwrap_or(self.leaves)
        };
        Ok(bound_of(part.index)..bound_of(part.index + 1))
    }

    /// The pruning threshold `τ` on `D·s` (see the module docs).
    fn threshold(&self) -> f32 {
        match self.prune {
            Pruning::Cutoff => {
                // ln(n / CUTOFF_REL) ≤ 50.1 for n ≤ 2^32; rounded up to f32, so that every
                // skipped argument exceeds the f64 value.
                #[allow(clippy::cast_precision_loss)] // n ≤ u32::MAX is exact in f64
                let nf = self.n as f64;
                let t = math::ln_f64(nf / CUTOFF_REL) * (1.0 + 1e-6) * (1.0 + 1.0 / 1_048_576.0);
                #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended; margin above
                let t = t as f32;
                t.min(ZERO_ARG)
            }
            Pruning::ExactZeros => ZERO_ARG,
            Pruning::Nothing => f32::INFINITY,
        }
    }

    /// Builds the tree in `scratch` and hands `(i, [a_i, b_i, c_i])`, one per bound of kernel
    /// scale `scales` (this plan's, or both bounds' for [`KdeBoth`]), to `sink` for every row
    /// `i` that `wanted` accepts among those of the query leaves `query_leaves`, a leaf of
    /// query rows at a time (so in tree order, not row order). `scratch` holds the plan's
    /// requirement with the block sums of `B` bounds.
    fn run<const B: usize>(
        &self,
        scales: [f32; B],
        layer: &Layer<'_>,
        query_leaves: Range<usize>,
        wanted: &impl Fn(usize) -> bool,
        scratch: &mut [u64],
        sink: &mut impl FnMut(usize, [[f64; 3]; B]),
    ) -> Result<(), Error> {
        layer.check_shape(self.n, self.d)?;
        if self.wide {
            let rows = self.leaf_rows(query_leaves);
            return self.run_wide(scales, layer, rows, scratch, &mut |i, terms| {
                if wanted(i) {
                    sink(i, terms);
                }
            });
        }
        let req = self.req_for(B)?;
        let mut s = Scratch::new(scratch, req)?;
        let bufs = self.tree_bufs(&mut s)?;
        let sums: &mut [LeafAcc] = bytemuck::cast_slice_mut(s.f64(block_sums(self.leaves, B))?);
        if query_leaves.is_empty() {
            return Ok(());
        }
        let tree = Tree::build(layer.t(), layer.labels(), layer.inputs(), bufs)?;
        self.walk_tree(
            scales,
            &tree,
            layer.inputs().is_some(),
            query_leaves,
            wanted,
            sums,
            sink,
        );
        Ok(())
    }

    /// [`KdePlan::run`] over every row of `query_leaves` on a tree built before, with the
    /// block sums of `B` bounds in `scratch`.
    fn walk_on<const B: usize>(
        &self,
        scales: [f32; B],
        tree: &KdeTree<'_, '_>,
        query_leaves: Range<usize>,
        scratch: &mut [u64],
        sink: &mut impl FnMut(usize, [[f64; 3]; B]),
    ) -> Result<(), Error> {
        tree.layer.check_shape(self.n, self.d)?;
        if self.wide {
            let rows = self.leaf_rows(query_leaves);
            return self.run_wide(scales, &tree.layer, rows, scratch, sink);
        }
        let t = &tree.tree;
        let len = block_sums(self.leaves, B);
        let mut s = Scratch::new(scratch, ScratchReq::f64(len))?;
        let sums: &mut [LeafAcc] = bytemuck::cast_slice_mut(s.f64(len)?);
        let groups = tree.layer.inputs().is_some();
        self.walk_tree(scales, t, groups, query_leaves, &|_| true, sums, sink);
        Ok(())
    }

    /// The rows of the leaves `leaves` of 8 rows (in row order: the wide path's leaves).
    fn leaf_rows(&self, leaves: Range<usize>) -> Range<usize> {
        let start = leaves.start.saturating_mul(LANES).min(self.n);
        let end = leaves.end.saturating_mul(LANES).min(self.n);
        start..end.max(start)
    }

    /// The wide path (module `wide`) over the query rows `rows`, handing each row's terms, one
    /// set per bound of kernel scale `scales`, to `sink` in ascending row order; `scratch`
    /// holds [`KdePlan::walk_req_for`] of `B` bounds.
    fn run_wide<const B: usize>(
        &self,
        scales: [f32; B],
        layer: &Layer<'_>,
        rows: Range<usize>,
        scratch: &mut [u64],
        sink: &mut impl FnMut(usize, [[f64; 3]; B]),
    ) -> Result<(), Error> {
        let len = wide::scratch_f64s(self.n, self.d, B);
        let mut s = Scratch::new(scratch, ScratchReq::f64(len))?;
        let buf = s.f64(len)?;
        if rows.is_empty() {
            return Ok(());
        }
        let k = WideKernel::new(self.d, scales, self.threshold());
        let isa = Isa::active();
        isa.run(Wide {
            t: layer.t().as_slice(),
            n: self.n,
            d: self.d,
            labels: layer.labels(),
            groups: layer.inputs(),
            rows,
            k: &k,
            scratch: buf,
            sink,
            tiles: Tiles::of(isa),
        });
        Ok(())
    }

    /// The tree's regions of `s`, in the order of [`KdePlan::tree_req`].
    fn tree_bufs<'s>(&self, s: &mut Scratch<'s>) -> Result<TreeBufs<'s>, Error> {
        let slots = self.leaves * LANES;
        Ok(TreeBufs {
            coords: s.f32(slots * self.d)?,
            labels: s.u32(slots)?,
            rows: s.u32(slots)?,
            groups: s.u32(slots)?,
            boxes: s.f32((2 * self.leaves - 1) * 2 * self.d)?,
            keys: s.f32(self.n)?,
            order: s.u32(self.n)?,
        })
    }

    /// The walks of the query leaves `query_leaves` over a built tree, handing each wanted
    /// row's terms to `sink` (see [`KdePlan::run`]); `sums` holds the block sums of `B`
    /// bounds.
    #[allow(clippy::too_many_arguments)]
    fn walk_tree<const B: usize>(
        &self,
        scales: [f32; B],
        tree: &Tree<'_>,
        groups: bool,
        query_leaves: Range<usize>,
        wanted: &impl Fn(usize) -> bool,
        sums: &mut [LeafAcc],
        sink: &mut impl FnMut(usize, [[f64; 3]; B]),
    ) {
        if query_leaves.is_empty() {
            return;
        }
        let tau = self.threshold();
        let k = Kernel {
            scales,
            reach: scales.iter().copied().fold(f32::INFINITY, f32::min),
            tau,
            prune: tau.is_finite(),
            boxes: forced_boxes().unwrap_or(uses_boxes(tree.n_leaves, tree.d)),
        };
        let leaves = query_leaves.start..query_leaves.end.min(self.leaves);
        Isa::active().run(Queries {
            tree,
            leaves,
            groups,
            wanted,
            k: &k,
            sums,
            sink,
        });
    }

    /// The scratch of a call that computes `bounds` bounds in one walk: the plan's, with
    /// `bounds` sets of block sums.
    const fn req_for(&self, bounds: usize) -> Result<ScratchReq, Error> {
        if bounds <= 1 {
            return Ok(self.req);
        }
        if self.wide {
            return Ok(self.walk_req_for(bounds).any_of(ScratchReq::u32(self.n)));
        }
        let extra = block_sums(self.leaves, bounds) - block_sums(self.leaves, 1);
        self.req.and(ScratchReq::f64(extra))
    }
}

/// Both bounds of one layer in one pass: the upper and lower [`KdePlan`]s of one noise
/// variance, computed together.
///
/// The lower bound's kernel `exp(−D/(8σ²))` reaches four times as far in `D·s` as the upper
/// bound's, so every leaf the upper bound adds is one the lower bound's walk looks at. One
/// tree and one walk serve both: each 8 × 8 block of distances is computed once, and each
/// bound applies its own skip rule and exponential to it. Each bound's sums receive exactly
/// the values, in the order, of its own [`KdePlan::estimate`], so the results have the same
/// bits as two separate calls, at about the cost of the lower bound alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KdeBoth {
    upper: KdePlan,
    lower: KdePlan,
    req: ScratchReq,
}

impl KdeBoth {
    /// Both bounds for `n` samples × `d` units and noise variance `noise_var`, cut-off on.
    ///
    /// # Errors
    /// As [`KdePlan::new`].
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::Layer, kde::{KdeBoth, KdeBound, KdePlan}};
    /// let t = MatRef::new(&[0.0f32, 0.01, 0.5, 0.52, 1.0, 2.0], 6, 1)?;
    /// let layer = Layer::new(t, &[0, 1, 0, 1, 1, 0], None)?;
    /// let both = KdeBoth::new(6, 1, 1e-3)?;
    /// let mut scratch = vec![0u64; both.scratch_req().words()];
    /// let [up, lo] = both.estimate(&layer, &mut scratch)?;
    /// // The same bits as each bound on its own.
    /// let upper = KdePlan::new(6, 1, KdeBound::Upper, 1e-3)?;
    /// let lower = KdePlan::new(6, 1, KdeBound::Lower, 1e-3)?;
    /// assert_eq!(up, upper.estimate(&layer, &mut scratch)?);
    /// assert_eq!(lo, lower.estimate(&layer, &mut scratch)?);
    /// assert!(lo.i_xt.in_bits() <= up.i_xt.in_bits());
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub const fn new(n: usize, d: usize, noise_var: f32) -> Result<Self, Error> {
        let upper = tri!(KdePlan::new(n, d, KdeBound::Upper, noise_var));
        let lower = tri!(KdePlan::new(n, d, KdeBound::Lower, noise_var));
        let req = tri!(upper.req_for(2));
        Ok(Self { upper, lower, req })
    }

    /// Both bounds with another [`Pruning`] mode.
    #[must_use]
    pub const fn with_pruning(self, prune: Pruning) -> Self {
        Self {
            upper: self.upper.with_pruning(prune),
            lower: self.lower.with_pruning(prune),
            req: self.req,
        }
    }

    /// Both bounds on the wide path or the tree ([`KdePlan::with_wide`]).
    ///
    /// # Errors
    /// As [`KdePlan::with_wide`].
    pub const fn with_wide(self, wide: bool) -> Result<Self, Error> {
        let upper = tri!(self.upper.with_wide(wide));
        let lower = tri!(self.lower.with_wide(wide));
        let req = tri!(upper.req_for(2));
        Ok(Self { upper, lower, req })
    }

    /// The two plans, upper then lower (for [`KdePlan::finish`] and the sizes).
    #[must_use]
    pub const fn plans(&self) -> [KdePlan; 2] {
        [self.upper, self.lower]
    }

    /// Scratch for any call: a [`KdePlan`]'s with a second set of block sums. May change
    /// between versions: ask, do not hard-code.
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        self.req
    }

    /// As [`KdePlan::max_parts`].
    #[must_use]
    pub const fn max_parts(&self) -> usize {
        self.upper.max_parts()
    }

    /// The upper and lower bounds' plane points, with the bits of [`KdePlan::estimate`] of
    /// each.
    ///
    /// # Errors
    /// As [`KdePlan::estimate`].
    pub fn estimate(
        &self,
        layer: &Layer<'_>,
        scratch: &mut [u64],
    ) -> Result<[PlanePoint; 2], Error> {
        let sums = self.estimate_part(layer, Part::WHOLE, scratch)?;
        self.finish(layer, sums, scratch)
    }

    /// As [`KdePlan::estimate_part`], for both bounds (upper, lower).
    ///
    /// # Errors
    /// As [`KdePlan::estimate_part`].
    pub fn estimate_part(
        &self,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[RowSums; 2], Error> {
        let leaves = self.upper.part_leaves(part)?;
        let mut sums = [RowSums::default(); 2];
        let scales = [self.upper.scale, self.lower.scale];
        self.upper.run(
            scales,
            layer,
            leaves,
            &|_| true,
            scratch,
            &mut |_, terms| {
                for (s, t) in sums.iter_mut().zip(terms) {
                    s.push(t);
                }
            },
        )?;
        Ok(sums)
    }

    /// As [`KdePlan::tree_req`] (one tree serves both bounds).
    #[must_use]
    pub const fn tree_req(&self) -> ScratchReq {
        self.upper.tree_req()
    }

    /// Scratch for one [`KdeBoth::estimate_part_on`]: one block's sums for each bound.
    #[must_use]
    pub const fn walk_req(&self) -> ScratchReq {
        self.upper.walk_req_for(2)
    }

    /// As [`KdePlan::tree`].
    ///
    /// # Errors
    /// As [`KdePlan::tree`].
    pub fn tree<'s, 'a>(
        &self,
        layer: &Layer<'a>,
        scratch: &'s mut [u64],
    ) -> Result<KdeTree<'s, 'a>, Error> {
        self.upper.tree(layer, scratch)
    }

    /// As [`KdeBoth::estimate_part`], on a tree built once ([`KdeBoth::tree`]), with only
    /// [`KdeBoth::walk_req`] of scratch: the same bits.
    ///
    /// # Errors
    /// As [`KdePlan::estimate_part_on`].
    pub fn estimate_part_on(
        &self,
        tree: &KdeTree<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[RowSums; 2], Error> {
        let leaves = self.upper.part_leaves(part)?;
        let mut sums = [RowSums::default(); 2];
        let scales = [self.upper.scale, self.lower.scale];
        self.upper
            .walk_on(scales, tree, leaves, scratch, &mut |_, terms| {
                for (s, t) in sums.iter_mut().zip(terms) {
                    s.push(t);
                }
            })?;
        Ok(sums)
    }

    /// The plane points from the merged sums of every part.
    ///
    /// # Errors
    /// As [`KdePlan::finish`].
    pub fn finish(
        &self,
        layer: &Layer<'_>,
        sums: [RowSums; 2],
        scratch: &mut [u64],
    ) -> Result<[PlanePoint; 2], Error> {
        let [su, sl] = sums;
        Ok([
            self.upper.finish(layer, su, scratch)?,
            self.lower.finish(layer, sl, scratch)?,
        ])
    }
}

/// `f64`s of the sums of one block of query leaves (see `Queries`) for `bounds` bounds: 24
/// per row slot and bound.
const fn block_sums(leaves: usize, bounds: usize) -> usize {
    let block = if leaves < BLOCK_LEAVES {
        leaves
    } else {
        BLOCK_LEAVES
    };
    block * bounds * LANES * 3 * LANES
}

/// Query leaves per block: the pairs of leaves inside a block are evaluated once for both
/// leaves' rows. Measured on the saxe preset's layers, about 93 % of the 8 × 8 blocks that
/// are evaluated pair leaves within 256 of each other (59 % within 128). Each block needs
/// `256 · 8` row sums of scratch (384 KiB).
const BLOCK_LEAVES: usize = 256;

/// The query leaves of one call, as a kernel for [`Isa::run`].
///
/// The leaves go in blocks of [`BLOCK_LEAVES`]. For a block `b0..b1`, every query leaf first
/// walks the leaves before the block (`0..b0`); then, in ascending order, each query leaf
/// `q` walks the leaves `q..`, adding its kernel values to the rows of the block's later
/// leaves as it goes (a pair of leaves in one block is evaluated once). A row of leaf `q` so
/// receives the leaves `0..b0`, then `b0..q` (from the earlier walks, in ascending order),
/// then `q..`: every leaf in ascending order, as one walk over all leaves would add them,
/// so its terms have the same bits for any block and any split of the leaves into parts.
///
/// With `B` bounds each leaf has `B` sets of row sums, side by side (leaf `i`'s set `b` is
/// `sums[i·B + b]`).
struct Queries<'a, 's, W, S, const B: usize> {
    tree: &'a Tree<'s>,
    leaves: Range<usize>,
    groups: bool,
    wanted: &'a W,
    k: &'a Kernel<B>,
    sums: &'a mut [LeafAcc],
    sink: &'a mut S,
}

impl<W: Fn(usize) -> bool, S: FnMut(usize, [[f64; 3]; B]), const B: usize> simd::Kernel
    for Queries<'_, '_, W, S, B>
{
    type Output = ();
    #[inline(always)]
    fn call(self) {
        if self.groups {
            self.blocks::<true>();
        } else {
            self.blocks::<false>();
        }
    }
}

impl<W: Fn(usize) -> bool, S: FnMut(usize, [[f64; 3]; B]), const B: usize>
    Queries<'_, '_, W, S, B>
{
    #[inline(always)]
    fn blocks<const GROUPS: bool>(self) {
        let Self {
            tree,
            leaves,
            wanted,
            k,
            sums,
            sink,
            ..
        } = self;
        let per_block = (sums.len() / B).max(1);
        let mut b0 = leaves.start;
        while b0 < leaves.end {
            let b1 = (b0 + per_block).min(leaves.end);
            let block = sums.get_mut(..(b1 - b0) * B).unwrap_or_default();
            block
                .iter_mut()
                .for_each(|l| *l = [[0.0; 3 * LANES]; LANES]);
            for q in b0..b1 {
                if let Some(acc) = leaf_sums::<B>(block, q - b0) {
                    walk::<GROUPS, B>(tree, q, 0..b0, k, acc, &mut [], b1);
                    // Then the block's earlier leaves push into it.
                    transpose_sets(acc, true);
                }
            }
            for q in b0..b1 {
                let (mine, later) = block.split_at_mut((q - b0 + 1) * B);
                if let Some(acc) = leaf_sums::<B>(mine, q - b0) {
                    transpose_sets(acc, false);
                    walk::<GROUPS, B>(tree, q, q..tree.n_leaves, k, acc, later, q + 1);
                    let leaf = tree.leaf(q);
                    for (lane, r) in leaf.rows.iter().enumerate().take(leaf.valid) {
                        let row = *r as usize;
                        if wanted(row) {
                            let mut terms = [[0.0; 3]; B];
                            for (t, set) in terms.iter_mut().zip(acc.iter_mut()) {
                                if let Some(a) = set.get_mut(lane) {
                                    *t = row_terms::<GROUPS>(a);
                                }
                            }
                            sink(row, terms);
                        }
                    }
                }
            }
            b0 = b1;
        }
    }
}

/// The row sums of every bound of the `i`-th leaf of a block.
#[inline(always)]
fn leaf_sums<const B: usize>(block: &mut [LeafAcc], i: usize) -> Option<&mut [LeafAcc; B]> {
    block
        .get_mut(i * B..(i + 1) * B)
        .and_then(|s| <&mut [LeafAcc; B]>::try_from(s).ok())
}

/// `Σ_v c_v ln c_v` over the distinct values of `values` in ascending order, in f64, `c_v`
/// how often `v` occurs; `sorted` (as long as `values`) holds a sorted copy.
fn count_log_sum(values: &[u32], sorted: &mut [u32]) -> f64 {
    let sorted = sorted.get_mut(..values.len()).unwrap_or_default();
    sorted.copy_from_slice(values);
    sorted.sort_unstable();
    let mut s = 0.0f64;
    for run in sorted.chunk_by(|a, b| a == b) {
        #[allow(clippy::cast_precision_loss)] // counts ≤ u32::MAX are exact in f64
        let cf = run.len() as f64;
        s += cf * math::ln_f64(cf);
    }
    s
}

/// A KDE bound in the registry.
#[derive(Debug, Clone, Copy)]
pub struct KdeKind {
    name: &'static str,
    summary: &'static str,
    bound: KdeBound,
}

/// `kde-upper`: the pairwise-distance upper bound (KL distance).
pub static UPPER: KdeKind = KdeKind {
    name: "kde-upper",
    summary: "Kolchinsky & Tracey: pairwise-distance upper bound on I(X;T') for T' = T + N(0, noise_var·I), as Saxe et al. use it",
    bound: KdeBound::Upper,
};

/// `kde-lower`: the pairwise-distance lower bound (Bhattacharyya distance).
pub static LOWER: KdeKind = KdeKind {
    name: "kde-lower",
    summary: "Kolchinsky & Tracey: pairwise-distance lower bound (Bhattacharyya), T' = T + N(0, noise_var·I)",
    bound: KdeBound::Lower,
};

impl KdeKind {
    fn plan(&self, s: &Settings, n: usize, d: usize) -> Result<KdePlan, Error> {
        KdePlan::new(n, d, self.bound, s.noise_var)
    }

    /// Whether `other` is the other bound with the same noise variance, and if so whether
    /// this one is the upper bound ([`KdeBoth`]'s order).
    fn partner(&self, s: &Settings, other: &Estimator) -> Option<bool> {
        let other_name = match self.bound {
            KdeBound::Upper => LOWER.name,
            KdeBound::Lower => UPPER.name,
        };
        let same_var = other.settings().noise_var.to_bits() == s.noise_var.to_bits();
        (other.name() == other_name && same_var).then_some(self.bound == KdeBound::Upper)
    }
}

impl KdeKind {
    /// As [`KdeKind::partner`], an error for an estimator this bound shares no work with.
    fn partner_order(&self, s: &Settings, other: &Estimator) -> Result<bool, Error> {
        self.partner(s, other)
            .ok_or(Error::InvalidParameter { name: "estimators" })
    }
}

/// The tree [`KdeKind::prepare`] built, or an error for shared work without one.
fn prepared_tree<'p, 's, 'a>(prepared: &'p Prepared<'s, 'a>) -> Result<&'p KdeTree<'s, 'a>, Error> {
    prepared
        .tree()
        .ok_or(Error::InvalidParameter { name: "prepared" })
}

/// Both bounds' sums (upper, lower) as the caller's pair: its own bound first.
fn in_order([up, lo]: [RowSums; 2], mine_first: bool) -> [Partial; 2] {
    let (up, lo) = (Partial::Rows(up), Partial::Rows(lo));
    if mine_first { [up, lo] } else { [lo, up] }
}

impl Kind for KdeKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn params(&self) -> &'static [Param] {
        &[Param::NoiseVar]
    }

    fn check(&self, s: &Settings) -> Result<(), Error> {
        kernel_scale(s.noise_var, self.bound).map(|_| ())
    }

    fn scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        Ok(self.plan(s, n, d)?.scratch_req())
    }

    fn max_parts(&self, n: usize, _: usize) -> usize {
        n.div_ceil(LANES)
    }

    fn part(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        let plan = self.plan(s, layer.n(), layer.d())?;
        plan.estimate_part(layer, part, scratch).map(Partial::Rows)
    }

    fn finish(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        partial: Partial,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        let Partial::Rows(sums) = partial else {
            return Err(Error::InvalidParameter { name: "parts" });
        };
        self.plan(s, layer.n(), layer.d())?
            .finish(layer, sums, scratch)
    }

    fn joint_scratch(
        &self,
        s: &Settings,
        other: &Estimator,
        n: usize,
        d: usize,
    ) -> Option<Result<ScratchReq, Error>> {
        self.partner(s, other)?;
        Some(KdeBoth::new(n, d, s.noise_var).map(|b| b.scratch_req()))
    }

    fn joint_part(
        &self,
        s: &Settings,
        other: &Estimator,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        let mine_first = self.partner_order(s, other)?;
        let both = KdeBoth::new(layer.n(), layer.d(), s.noise_var)?;
        let sums = both.estimate_part(layer, part, scratch)?;
        Ok(in_order(sums, mine_first))
    }

    fn shared_scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        Ok(self.plan(s, n, d)?.tree_req())
    }

    fn part_scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        Ok(self.plan(s, n, d)?.walk_req())
    }

    fn prepare<'s, 'a>(
        &self,
        s: &Settings,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<Prepared<'s, 'a>, Error> {
        let plan = self.plan(s, layer.n(), layer.d())?;
        Ok(Prepared::with_tree(plan.tree(layer, shared)?))
    }

    fn part_on(
        &self,
        s: &Settings,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        let (layer, tree) = (prepared.layer(), prepared_tree(prepared)?);
        let plan = self.plan(s, layer.n(), layer.d())?;
        plan.estimate_part_on(tree, part, scratch)
            .map(Partial::Rows)
    }

    fn joint_part_scratch(
        &self,
        s: &Settings,
        other: &Estimator,
        n: usize,
        d: usize,
    ) -> Option<Result<ScratchReq, Error>> {
        self.partner(s, other)?;
        Some(KdeBoth::new(n, d, s.noise_var).map(|b| b.walk_req()))
    }

    fn joint_part_on(
        &self,
        s: &Settings,
        other: &Estimator,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        let mine_first = self.partner_order(s, other)?;
        let (layer, tree) = (prepared.layer(), prepared_tree(prepared)?);
        let both = KdeBoth::new(layer.n(), layer.d(), s.noise_var)?;
        let sums = both.estimate_part_on(tree, part, scratch)?;
        Ok(in_order(sums, mine_first))
    }
}

/// Whether a test forces walks to test node boxes or not (never outside tests).
#[cfg(not(test))]
#[inline(always)]
const fn forced_boxes() -> Option<bool> {
    None
}

#[cfg(test)]
std::thread_local! {
    static BOXES: core::cell::Cell<Option<bool>> = const { core::cell::Cell::new(None) };
}

#[cfg(test)]
fn forced_boxes() -> Option<bool> {
    BOXES.with(core::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    #![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    use super::*;
    use crate::MatRef;

    fn terms(plan: &KdePlan, layer: &Layer<'_>, boxes: Option<bool>) -> std::vec::Vec<u64> {
        BOXES.with(|b| b.set(boxes));
        let n = layer.n();
        let mut out = std::vec![0.0f64; 3 * n];
        let mut s = std::vec![0u64; plan.scratch_req().words()];
        plan.row_terms(layer, 0..n, &mut out, &mut s).unwrap();
        BOXES.with(|b| b.set(None));
        out.iter().map(|v| v.to_bits()).collect()
    }

    /// Walks with and without box tests give the same bits: the tests only decide which
    /// leaves are looked at. Small and large trees, narrow and wide layers, spread and
    /// clustered rows, with input groups, every pruning mode, both bounds.
    #[test]
    fn walks_with_and_without_box_tests_have_the_same_bits() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 40) as f32 / 16_777_216.0;
            2.0 * u - 1.0
        };
        for (n, d, var) in [
            (5usize, 3usize, 1e-3f32),
            (64, 10, 1e-3),
            (200, 2, 0.01),
            (300, 7, 0.05),
        ] {
            let spread: std::vec::Vec<f32> = (0..n * d).map(|_| next()).collect();
            // Rows near 8 prototypes, as a saturated layer.
            let protos: std::vec::Vec<f32> = (0..8 * d).map(|_| next()).collect();
            let clustered: std::vec::Vec<f32> = (0..n * d)
                .map(|i| protos[(i / d % 8) * d + i % d] + 1e-3 * next())
                .collect();
            let y: std::vec::Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
            let g: std::vec::Vec<u32> = (0..n as u32).map(|i| i / 4).collect();
            for t in [&spread, &clustered] {
                for groups in [None, Some(g.as_slice())] {
                    let layer = Layer::new(MatRef::new(t, n, d).unwrap(), &y, groups).unwrap();
                    for bound in [KdeBound::Upper, KdeBound::Lower] {
                        for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
                            let plan = KdePlan::new(n, d, bound, var).unwrap().with_pruning(prune);
                            let with = terms(&plan, &layer, Some(true));
                            let without = terms(&plan, &layer, Some(false));
                            assert_eq!(with, without, "n {n} d {d} {bound:?} {prune:?}");
                            assert_eq!(terms(&plan, &layer, None), with);
                        }
                    }
                }
            }
        }
        // What the default chooses.
        assert!(!uses_boxes(8, 2) && uses_boxes(9, 2) && uses_boxes(32, 5));
        assert!(!uses_boxes(32, 6) && uses_boxes(33, 10));
    }

    /// The KDE formulas of the module docs in f64 (`D` from the f32 values in f64, std's
    /// `exp` and `ln`, every pair): (I(X;T), I(T;Y)) in bits.
    #[allow(clippy::disallowed_methods)] // the slow reference, not core numerics
    fn reference(
        t: &[f32],
        d: usize,
        y: &[u32],
        groups: Option<&[u32]>,
        var: f64,
        c: f64,
    ) -> (f64, f64) {
        let n = y.len();
        let (mut sa, mut sb, mut sc) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let (mut a, mut b, mut g) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..n {
                let dd: f64 = (0..d)
                    .map(|k| {
                        let x = f64::from(t[i * d + k]) - f64::from(t[j * d + k]);
                        x * x
                    })
                    .sum();
                let kv = (-dd / (c * var)).exp();
                a += kv;
                if y[j] == y[i] {
                    b += kv;
                }
                if groups.is_some_and(|x| x[j] == x[i]) {
                    g += kv;
                }
            }
            sa += a.ln();
            sb += b.ln();
            if groups.is_some() {
                sc += g.ln();
            }
        }
        let count_log = |v: &[u32]| {
            let mut m = std::collections::BTreeMap::new();
            for &x in v {
                *m.entry(x).or_insert(0usize) += 1;
            }
            m.values().map(|&c| c as f64 * (c as f64).ln()).sum::<f64>()
        };
        let nf = n as f64;
        let h = nf.ln() - sa / nf;
        let ity = h - (count_log(y) - sb) / nf;
        let ixt = match groups {
            None => h,
            Some(g) => h - (count_log(g) - sc) / nf,
        };
        let ln2 = core::f64::consts::LN_2;
        (ixt.max(0.0) / ln2, ity / ln2)
    }

    /// Seeded values in (−1, 1).
    fn values(len: usize, seed: u64) -> std::vec::Vec<f32> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / 8_388_608.0 - 1.0
            })
            .collect()
    }

    /// `n × d` rows near `protos` prototypes (class `i mod protos`): prototype values `amp`
    /// times (−1, 1), plus noise `noise` times (−1, 1).
    fn near_protos(
        n: usize,
        d: usize,
        protos: usize,
        amp: f32,
        noise: f32,
        seed: u64,
    ) -> std::vec::Vec<f32> {
        let p = values(protos * d, seed);
        let e = values(n * d, seed ^ 0x9e37_79b9);
        (0..n * d)
            .map(|k| amp * p[(k / d % protos) * d + k % d] + noise * e[k])
            .collect()
    }

    /// Every part count's merged sums, and the shared-tree parts, finished.
    fn split_points(
        plan: &KdePlan,
        layer: &Layer<'_>,
        counts: &[usize],
    ) -> std::vec::Vec<PlanePoint> {
        let mut s = std::vec![0u64; plan.scratch_req().words()];
        let mut out = std::vec::Vec::new();
        for &count in counts {
            let mut sums = RowSums::default();
            for index in (0..count).rev() {
                sums = sums.merge(
                    plan.estimate_part(layer, Part { index, count }, &mut s)
                        .unwrap(),
                );
            }
            out.push(plan.finish(layer, sums, &mut s).unwrap());
            let mut shared = std::vec![0u64; plan.tree_req().words()];
            let tree = plan.tree(layer, &mut shared).unwrap();
            let mut w = std::vec![0u64; plan.walk_req().words()];
            let mut sums = RowSums::default();
            for index in 0..count {
                sums = sums.merge(
                    plan.estimate_part_on(&tree, Part { index, count }, &mut w)
                        .unwrap(),
                );
            }
            out.push(plan.finish(layer, sums, &mut s).unwrap());
        }
        out
    }

    fn bits(p: &PlanePoint) -> (u64, u64) {
        (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits())
    }

    /// The wide path against the f64 formulas, within 1e-6 bits: both bounds, I(X;T) and
    /// I(T;Y), with and without input groups, at σ² = 0.1 (rows near prototypes: pairs of one
    /// prototype carry weight, many others are cut) and at σ² = 1e-3 (nearly all cut), every
    /// pruning mode; widths not a multiple of 8 and row counts over a block (128) and not a
    /// multiple of any tile. Every split into parts, and the shared-tree parts, give the
    /// bits of one call; so do both bounds in one pass and each alone.
    #[test]
    #[allow(clippy::disallowed_methods)] // f64 log2 and powi in the checks, not core numerics
    fn wide_path_matches_the_f64_formulas_and_splits_bit_for_bit() {
        for (n, d, var, amp, noise) in [
            (203usize, 67usize, 0.1f32, 0.5f32, 0.05f32),
            (150, 130, 0.1, 0.3, 0.02),
            (141, 64, 1e-3, 0.5, 0.003),
        ] {
            let t = near_protos(n, d, 7, amp, noise, 0x5151 + n as u64);
            let y: std::vec::Vec<u32> = (0..n as u32).map(|i| (i * 7 + i / 3) % 4).collect();
            let g: std::vec::Vec<u32> = (0..n as u32).map(|i| i / 3).collect();
            for groups in [None, Some(g.as_slice())] {
                let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, groups).unwrap();
                for prune in [Pruning::Cutoff, Pruning::ExactZeros, Pruning::Nothing] {
                    let both = KdeBoth::new(n, d, var)
                        .unwrap()
                        .with_pruning(prune)
                        .with_wide(true)
                        .unwrap();
                    let mut s = std::vec![0u64; both.scratch_req().words()];
                    let [up, lo] = both.estimate(&layer, &mut s).unwrap();
                    for (plan, p, c) in [(both.plans()[0], up, 2.0), (both.plans()[1], lo, 8.0)] {
                        assert!(plan.is_wide());
                        let (ixt, ity) = reference(&t, d, &y, groups, f64::from(var), c);
                        let (ex, ey) = (
                            (p.i_xt.in_bits() - ixt).abs(),
                            (p.i_ty.in_bits() - ity).abs(),
                        );
                        assert!(
                            ex < 1e-6 && ey < 1e-6,
                            "n {n} d {d} var {var} c {c} {prune:?}: {ex:e} {ey:e}"
                        );
                        // Not a trivial layer: the kernel weight of other rows matters.
                        assert!(ixt < (n as f64).log2() - 0.01 || var < 0.01, "{ixt}");
                        for q in split_points(&plan, &layer, &[1, 2, 3, 7, n.div_ceil(8)]) {
                            assert_eq!(bits(&q), bits(&p), "n {n} d {d} c {c} {prune:?}");
                        }
                    }
                }
            }
        }
    }

    /// Near-duplicate rows of large norm, where the Gram form cancels: saturated values
    /// (|t| ≈ 0.99, `‖t‖² ≈ 980`) in pairs that differ by 1e-3 in a few units, so `D` is
    /// about 1e-6 to 1e-5 while the Gram form's rounding is about 1e-4. The filter lets these
    /// pairs through and the direct form gets them right: the result still matches the f64
    /// formulas (at σ² = 1e-6 their kernel values span e^{−1}..1), and the filter's bound
    /// holds for every pair.
    #[test]
    #[allow(clippy::disallowed_methods)] // f64 log2 and powi in the checks, not core numerics
    fn near_duplicates_where_the_gram_form_cancels_still_match() {
        let (n, d, var) = (40usize, 1000usize, 1e-6f32);
        let base = values(n / 2 * d, 77);
        let bump = values(n * d, 78);
        let mut t = std::vec![0.0f32; n * d];
        for i in 0..n {
            for k in 0..d {
                let v = if base[i / 2 * d + k] < 0.0 {
                    -0.99
                } else {
                    0.99
                };
                // The second row of each pair moves a few units by up to 1e-3.
                let moved = i % 2 == 1 && k % 97 == i % 5;
                t[i * d + k] = if moved {
                    v - 1e-3 * bump[i * d + k].abs()
                } else {
                    v
                };
            }
        }
        let y: std::vec::Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, None).unwrap();
        for bound in [KdeBound::Upper, KdeBound::Lower] {
            let plan = KdePlan::new(n, d, bound, var)
                .unwrap()
                .with_wide(true)
                .unwrap();
            let mut s = std::vec![0u64; plan.scratch_req().words()];
            let p = plan.estimate(&layer, &mut s).unwrap();
            let (ixt, ity) = reference(&t, d, &y, None, f64::from(var), bound.c());
            assert!(
                (p.i_xt.in_bits() - ixt).abs() < 1e-6,
                "{bound:?} {} {ixt}",
                p.i_xt.in_bits()
            );
            assert!(
                (p.i_ty.in_bits() - ity).abs() < 1e-6,
                "{bound:?} {} {ity}",
                p.i_ty.in_bits()
            );
            // The twins' kernel weight counts: below log2 n.
            assert!(ixt < (n as f64).log2() - 0.1, "{ixt}");
        }
        // The bound itself: L_ij ≤ the exact D_ij for every pair, and within 1 of it.
        let k = WideKernel::new(d, [1.0f32], 50.0);
        let norm =
            |i: usize| f64::from(math::lane_dot(&t[i * d..][..d], &t[i * d..][..d])) * k.shrink;
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (&t[i * d..][..d], &t[j * d..][..d]);
                let lb = norm(i) + norm(j) - 2.0 * f64::from(math::lane_dot(a, b));
                let exact: f64 = a
                    .iter()
                    .zip(b)
                    .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                    .sum();
                assert!(lb <= exact && exact - lb < 1.0, "{i} {j}: {lb} {exact}");
            }
        }
    }

    /// Edge shapes: one row (I = 0), rows fewer than a tile, widths not a multiple of 8, the
    /// same bits with dirty scratch, and the wide path against
    /// the tree path row by row (each term within 1e-6 nats, about 2e-8 seen: they differ
    /// only in the rounding of `D` and of the sums).
    #[test]
    fn wide_edge_shapes_and_the_tree_path_agree() {
        // The wide path from WIDE_MIN units, the tree below, either on request.
        let plan = |d| KdePlan::new(5, d, KdeBound::Upper, 0.1).unwrap();
        assert!(plan(WIDE_MIN).is_wide() && plan(1024).is_wide());
        assert!(!plan(WIDE_MIN - 1).is_wide() && !plan(12).is_wide());
        assert!(!plan(1024).with_wide(false).unwrap().is_wide());
        assert!(plan(12).with_wide(true).unwrap().is_wide());
        for (n, d) in [(1usize, 64usize), (3, 64), (9, 71), (130, 96)] {
            let t = near_protos(n, d, 3, 0.2, 0.02, 9 + n as u64);
            let y: std::vec::Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
            let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, None).unwrap();
            for bound in [KdeBound::Upper, KdeBound::Lower] {
                for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
                    let plan = KdePlan::new(n, d, bound, 0.1)
                        .unwrap()
                        .with_pruning(prune)
                        .with_wide(true)
                        .unwrap();
                    assert!(plan.is_wide() && plan.pruning() == prune);
                    let mut s = std::vec![0u64; plan.scratch_req().words()];
                    let p = plan.estimate(&layer, &mut s).unwrap();
                    s.iter_mut().for_each(|w| *w = u64::MAX);
                    assert_eq!(bits(&plan.estimate(&layer, &mut s).unwrap()), bits(&p));
                    let (ixt, ity) = reference(&t, d, &y, None, 0.1, bound.c());
                    assert!(
                        (p.i_xt.in_bits() - ixt).abs() < 1e-6
                            && (p.i_ty.in_bits() - ity).abs() < 1e-6
                    );
                    if n == 1 {
                        assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (0.0, 0.0));
                    }
                    let tree = KdePlan::with_path(n, d, bound, 0.1, false)
                        .unwrap()
                        .with_pruning(prune);
                    let wide_terms = terms(&plan, &layer, None);
                    let tree_terms = terms(&tree, &layer, None);
                    for (a, b) in wide_terms.iter().zip(&tree_terms) {
                        let (a, b) = (f64::from_bits(*a), f64::from_bits(*b));
                        assert!((a - b).abs() < 1e-6, "n {n} d {d} {bound:?}: {a} {b}");
                    }
                }
            }
        }
    }

    /// Every instruction-set level gives the wide path the same bits.
    #[test]
    fn wide_path_has_the_same_bits_at_every_level() {
        let (n, d) = (77usize, 100usize);
        let t = near_protos(n, d, 5, 0.3, 0.03, 1234);
        let y: std::vec::Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, None).unwrap();
        let both = KdeBoth::new(n, d, 0.1).unwrap().with_wide(true).unwrap();
        let mut s = std::vec![0u64; both.scratch_req().words()];
        let mut first = None;
        for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            let k = WideKernel::new(d, [both.plans()[0].scale, both.plans()[1].scale], 36.0);
            let mut got = std::vec::Vec::new();
            let mut sink = |_: usize, terms: [[f64; 3]; 2]| {
                got.extend(terms.iter().flatten().map(|v| v.to_bits()));
            };
            let buf: &mut [f64] = bytemuck::cast_slice_mut(&mut s[..wide::scratch_f64s(n, d, 2)]);
            isa.run(Wide {
                t: &t,
                n,
                d,
                labels: &y,
                groups: None,
                rows: 0..n,
                k: &k,
                scratch: buf,
                sink: &mut sink,
                tiles: Tiles::of(isa),
            });
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(&got, f, "{isa}"),
            }
        }
        let _ = layer;
    }
}
