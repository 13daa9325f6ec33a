//! The path for wide layers: a Gram-form filter, then the direct form for every pair that
//! can count.
//!
//! In hundreds of dimensions no node box excludes anything, and the tree's blocks of
//! distances end early only after hundreds of coordinates, so the tree path pays about three
//! operations per coordinate for nearly every ordered pair. This path never builds a tree.
//! For a query row `i` and every row `j`, in ascending `j`:
//!
//! 1. **Filter.** `ñ_i = lane_dot(t_i, t_i)` once per row and `g̃_ij = lane_dot(t_i, t_j)`
//!    per pair ([`math::lane_dot`]'s eight-lane order, f32, no fused multiply-add: two
//!    operations per coordinate, in register tiles of rows that stay in cache, by
//!    [`math::lane_dot_tile`] or its explicit AVX2 form). The Gram form cancels where
//!    `t_i ≈ t_j`, so it is used only as a bound: with `u = 2⁻²⁴` and
//!    `γ_k = k·u / (1 − k·u)`, every sum of `d` products in any order is within
//!    `γ_{d+8}·Σ|x_k y_k|` of the exact one and `Σ|t_ik t_jk| ≤ (n_i + n_j)/2`, so the exact
//!    `D_ij` is at least
//!
//!    ```text
//!    L_ij = (ñ_i + ñ_j)·(1 − ε) − 2 g̃_ij,      ε = 2γ_{d+8} / (1 − γ_{d+8}) + 2⁻⁴⁶
//!    ```
//!
//!    (the 2⁻⁴⁶ covers the f64 arithmetic of `L_ij`). The pair is *certainly skipped* when
//!    `L_ij > τ / (s·(1 − γ_{d+8})·(1 − u))·(1 + 2⁻⁴⁰)`: then the `D` of step 2 is at least
//!    `D·(1 − γ_{d+8})`, and `D·s` rounded to f32 exceeds `τ`, so step 2 would skip it too.
//!    The filter therefore never changes a result, only how many pairs reach step 2; its
//!    own rounding and order could be anything covered by the bound.
//! 2. **Every other pair, directly.** `D_ij = Σ_k (t_ik − t_jk)²` in f32 in the same
//!    eight-lane order (coordinate `k` to lane `k mod 8`, lanes combined as
//!    [`math::reduce_lanes`]), a batch of pairs at a time. The direct form loses nothing
//!    near `D = 0`: `D_ij` is within `γ_{d+8}·D_ij` of the exact value (a relative bound,
//!    where the Gram form's is absolute), and 0 exactly for equal rows.
//! 3. **The rule** of the tree path, per pair: the value `exp_neg(−(D_ij·s))` is added
//!    unless `D_ij·s > τ` ([`math::exp_neg`], `s` and `τ` as for the tree path), into lane
//!    `j mod 8` of the row's `f64` sums (over all rows, its class, its input group).
//!
//! A row's terms are a function of the data alone (not of the part, the blocks or the
//! instruction set), so results are bit-identical for any split into parts or threads and
//! native or wasm. **What equals what.** With [`Pruning::ExactZeros`] or
//! [`Pruning::Nothing`] each row's sum holds every pair's `exp_neg(−D·s)`, as the tree path's
//! does; with [`Pruning::Cutoff`] every dropped value is below `CUTOFF_REL / n`, as there.
//! The two paths differ only in rounding: the tree sums `D` over coordinates in ascending
//! order and adds kernel values in tree order; both `D`s are within `γ_{d+8}·D` of the exact
//! distance, so each kernel value within about `2γ_{d+8}·D·s` relative (at most
//! `2γ_{d+8}·τ`, and much less for the pairs that carry weight), and each `f64` sum is
//! rounded in another order.
//!
//! [`Pruning::ExactZeros`]: super::Pruning::ExactZeros
//! [`Pruning::Nothing`]: super::Pruning::Nothing
//! [`Pruning::Cutoff`]: super::Pruning::Cutoff

use super::traverse::{RowAcc, row_terms};
use crate::math;
use crate::simd::{self, Isa};
use core::ops::Range;

/// Query rows whose sums are held at once (and rows per block of candidates): a block of
/// each, 512 KiB at `d = 1024`, stays in a 2 MiB L2 cache while it is paired.
pub(super) const BLOCK: usize = 128;

/// Pairs whose direct distances are computed together (independent sums that hide each
/// other's latency).
const BATCH: usize = 8;

/// `f64`s of the wide path's scratch for `bounds` bounds: the filter's `(1 − ε)·ñ_i` per row
/// and prefix of [`CHUNK`]s, then one [`RowAcc`] per query row of a block and bound.
/// Saturates instead of overflowing (a plan checks for that: [`fits`]).
pub(super) const fn scratch_f64s(n: usize, d: usize, bounds: usize) -> usize {
    let block = if n < BLOCK { n } else { BLOCK };
    n.saturating_mul(d.div_ceil(CHUNK))
        .saturating_add(block * bounds * 24)
}

/// Whether [`scratch_f64s`] of `n × d` and up to two bounds is exact.
pub(super) const fn fits(n: usize, d: usize) -> bool {
    match n.checked_mul(d.div_ceil(CHUNK)) {
        Some(v) => v <= usize::MAX - 2 * BLOCK * 24,
        None => false,
    }
}

/// Coordinates per step of the filter: after each, a tile stops once every pair in it is
/// certainly skipped (the Gram form's lower bound over a prefix of the coordinates is a
/// lower bound on `D` too).
pub(super) const CHUNK: usize = 256;

/// Per-call parameters for `B` bounds (1, or 2 for both KDE bounds in one pass).
#[derive(Debug, Clone, Copy)]
pub(super) struct WideKernel<const B: usize> {
    /// Each bound's `s = 1/(cσ²)`.
    pub scales: [f32; B],
    /// The skip threshold on `D·s`.
    pub tau: f32,
    /// Whether anything may be skipped.
    pub prune: bool,
    /// `1 − ε` of the filter.
    pub shrink: f64,
    /// The filter's threshold on `L_ij` (+∞ when nothing may be skipped).
    pub limit: f64,
}

impl<const B: usize> WideKernel<B> {
    /// The parameters for `d` units, scales `scales`, threshold `tau` (+∞: skip nothing).
    pub(super) fn new(d: usize, scales: [f32; B], tau: f32) -> Self {
        const U: f64 = 1.0 / 16_777_216.0;
        #[allow(clippy::cast_precision_loss)] // an error bound: d + 8 rounded is harmless
        let ku = (d as f64 + 8.0) * U;
        // k·u ≥ 1 only for d ≥ 2²⁴ − 8: then the bound is useless and nothing is skipped.
        let gamma = if ku < 0.5 {
            ku / (1.0 - ku)
        } else {
            f64::INFINITY
        };
        let eps = 2.0 * gamma / (1.0 - gamma) + 1.0 / 70_368_744_177_664.0;
        let reach = scales.iter().copied().fold(f32::INFINITY, f32::min);
        let prune = tau.is_finite();
        let limit = if prune && eps < 0.5 {
            f64::from(tau) / (f64::from(reach) * (1.0 - gamma) * (1.0 - U))
                * (1.0 + 1.0 / 1_099_511_627_776.0)
        } else {
            f64::INFINITY
        };
        Self {
            scales,
            tau,
            prune,
            shrink: 1.0 - eps,
            limit,
        }
    }
}

/// The register tiles the level runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tiles {
    /// 4 × 4 pairs with AVX-512's 32 registers.
    Avx512,
    /// 2 × 4 pairs with AVX2's 16.
    Avx2,
    /// Portable code (SSE2, wasm): 2 × 2.
    Narrow,
}

impl Tiles {
    /// The tiles of `isa`.
    pub(super) const fn of(isa: Isa) -> Self {
        match isa {
            Isa::Avx512 => Self::Avx512,
            Isa::Avx2 => Self::Avx2,
            _ => Self::Narrow,
        }
    }
}

/// One call of the wide path over the query rows `rows`, as a kernel for [`Isa::run`]:
/// each wanted row's terms, one set per bound, go to `sink` in ascending row order.
pub(super) struct Wide<'a, S, const B: usize> {
    /// The layer, `n × d` row-major.
    pub t: &'a [f32],
    pub n: usize,
    pub d: usize,
    pub labels: &'a [u32],
    pub groups: Option<&'a [u32]>,
    pub rows: Range<usize>,
    pub k: &'a WideKernel<B>,
    /// [`scratch_f64s`] of scratch.
    pub scratch: &'a mut [f64],
    pub sink: &'a mut S,
    pub tiles: Tiles,
}

impl<S: FnMut(usize, [[f64; 3]; B]), const B: usize> simd::Kernel for Wide<'_, S, B> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            match self.tiles {
                Tiles::Avx512 => return self.run::<4, 4, _>(V3Ops(v3)),
                Tiles::Avx2 => return self.run::<2, 4, _>(V3Ops(v3)),
                Tiles::Narrow => {}
            }
        }
        // Other targets have one level.
        let _ = self.tiles;
        self.run::<2, 2, _>(Portable);
    }
}

/// How tiles of dot products and batches of direct distances are computed: the same bits
/// every way.
trait Ops: Copy {
    /// `lane_dot(a[r], b[c])` for every `r`, `c`.
    fn dots<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R];
    /// [`sq_dist`] of each pair `(a[p], b[p])`.
    fn sq_dists(self, a: [&[f32]; BATCH], b: [&[f32]; BATCH]) -> [f32; BATCH];
}

/// Portable code the compiler vectorises.
#[derive(Clone, Copy)]
struct Portable;

impl Ops for Portable {
    #[inline(always)]
    fn dots<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R] {
        math::lane_dot_tile(a, b)
    }
    #[inline(always)]
    fn sq_dists(self, a: [&[f32]; BATCH], b: [&[f32]; BATCH]) -> [f32; BATCH] {
        sq_dists(a, b)
    }
}

/// Explicit AVX2 vectors (x86-64-v3 and above).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct V3Ops(pulp::x86::V3);

#[cfg(target_arch = "x86_64")]
impl Ops for V3Ops {
    #[inline(always)]
    fn dots<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R] {
        math::lane_dot_tile_v3(self.0, a, b)
    }
    #[inline(always)]
    fn sq_dists(self, a: [&[f32]; BATCH], b: [&[f32]; BATCH]) -> [f32; BATCH] {
        sq_dists_v3(self.0, a, b)
    }
}

/// A pending pair: the query row's offset in its block and the other row.
#[derive(Clone, Copy, Default)]
struct Pair {
    q: u32,
    j: u32,
}

/// Pairs of one query tile and one block of candidates that the filter let through.
const PENDING: usize = 4 * BLOCK;

impl<S: FnMut(usize, [[f64; 3]; B]), const B: usize> Wide<'_, S, B> {
    #[inline(always)]
    fn run<const R: usize, const C: usize, O: Ops>(self, ops: O) {
        if self.groups.is_some() {
            self.blocks::<R, C, true, O>(ops);
        } else {
            self.blocks::<R, C, false, O>(ops);
        }
    }

    #[inline(always)]
    fn blocks<const R: usize, const C: usize, const GROUPS: bool, O: Ops>(self, ops: O) {
        let Self {
            t,
            n,
            d,
            labels,
            groups,
            rows,
            k,
            scratch,
            sink,
            ..
        } = self;
        let nch = d.div_ceil(CHUNK);
        let (p, acc) = scratch.split_at_mut((n * nch).min(scratch.len()));
        // (1 − ε)·ñ_i over each prefix of chunks for every row: the filter's half of L_ij.
        for (pi, row) in p.chunks_exact_mut(nch.max(1)).zip(t.chunks_exact(d.max(1))) {
            let mut sum = 0.0f64;
            for (pc, part) in pi.iter_mut().zip(row.chunks(CHUNK)) {
                sum += f64::from(math::lane_dot(part, part));
                *pc = sum * k.shrink;
            }
        }
        let acc: &mut [RowAcc] = bytemuck::try_cast_slice_mut(acc).unwrap_or_default();
        let ctx = Ctx {
            t,
            d,
            nch,
            labels,
            groups,
            p,
            k,
        };
        let mut q0 = rows.start;
        while q0 < rows.end {
            let q1 = (q0 + BLOCK).min(rows.end);
            let block = acc.get_mut(..(q1 - q0) * B).unwrap_or_default();
            block.iter_mut().for_each(|a| *a = [0.0; 24]);
            let mut c0 = 0;
            while c0 < n {
                let c1 = (c0 + BLOCK).min(n);
                let mut q = q0;
                while q + R <= q1 {
                    ctx.tile_rows::<R, C, GROUPS, O>(ops, q, q0, c0..c1, block);
                    q += R;
                }
                while q < q1 {
                    ctx.tile_rows::<1, C, GROUPS, O>(ops, q, q0, c0..c1, block);
                    q += 1;
                }
                c0 = c1;
            }
            for (i, sets) in (q0..q1).zip(block.chunks_exact_mut(B)) {
                let mut terms = [[0.0; 3]; B];
                for (term, a) in terms.iter_mut().zip(sets) {
                    *term = row_terms::<GROUPS>(a);
                }
                sink(i, terms);
            }
            q0 = q1;
        }
    }
}

/// What every tile reads.
struct Ctx<'a, const B: usize> {
    t: &'a [f32],
    d: usize,
    nch: usize,
    labels: &'a [u32],
    groups: Option<&'a [u32]>,
    p: &'a [f64],
    k: &'a WideKernel<B>,
}

impl<const B: usize> Ctx<'_, B> {
    #[inline(always)]
    fn row(&self, i: usize) -> &[f32] {
        self.t.get(i * self.d..(i + 1) * self.d).unwrap_or_default()
    }

    /// The query rows `q..q + R` against the candidates `cand`: the filter tile by tile, then
    /// the pairs it let through, in ascending candidate order for each query row, added to
    /// the rows' sums in `block` (whose first row is `q0`).
    #[inline(always)]
    fn tile_rows<const R: usize, const C: usize, const GROUPS: bool, O: Ops>(
        &self,
        ops: O,
        q: usize,
        q0: usize,
        cand: Range<usize>,
        block: &mut [RowAcc],
    ) {
        let mut pending = [Pair::default(); PENDING];
        let mut len = 0usize;
        let mut j = cand.start;
        while j + C <= cand.end {
            let alive = self.filter::<R, C, O>(ops, q, j);
            push_alive(&alive, q - q0, j, &mut pending, &mut len);
            j += C;
        }
        while j < cand.end {
            let alive = self.filter::<R, 1, O>(ops, q, j);
            push_alive(&alive, q - q0, j, &mut pending, &mut len);
            j += 1;
        }
        let pending = pending.get(..len).unwrap_or_default();
        self.add_pairs::<GROUPS, O>(ops, q0, pending, block);
    }

    /// The filter on the tile of rows `q..q + R` × `j..j + C`: which pairs it lets through.
    /// The dot products go a [`CHUNK`] of coordinates at a time, summed in f64, and after
    /// each the bound `L` over the prefix so far is tested; the tile stops when no pair is
    /// left.
    #[inline(always)]
    fn filter<const R: usize, const C: usize, O: Ops>(
        &self,
        ops: O,
        q: usize,
        j: usize,
    ) -> [[bool; C]; R] {
        let mut alive = [[true; C]; R];
        let mut g = [[0.0f64; C]; R];
        let (mut a, mut b): ([&[f32]; R], [&[f32]; C]) = ([&[]; R], [&[]; C]);
        let (mut pa, mut pb): ([&[f64]; R], [&[f64]; C]) = ([&[]; R], [&[]; C]);
        for (r, (ar, pr)) in a.iter_mut().zip(pa.iter_mut()).enumerate() {
            *ar = self.row(q + r);
            *pr = self.prefixes(q + r);
        }
        for (c, (bc, pc)) in b.iter_mut().zip(pb.iter_mut()).enumerate() {
            *bc = self.row(j + c);
            *pc = self.prefixes(j + c);
        }
        for ch in 0..self.nch {
            let range = ch * CHUNK..((ch + 1) * CHUNK).min(self.d);
            let (mut ac, mut bc): ([&[f32]; R], [&[f32]; C]) = ([&[]; R], [&[]; C]);
            for (x, y) in ac.iter_mut().zip(&a) {
                *x = y.get(range.clone()).unwrap_or_default();
            }
            for (x, y) in bc.iter_mut().zip(&b) {
                *x = y.get(range.clone()).unwrap_or_default();
            }
            let part = ops.dots(ac, bc);
            let mut any = false;
            for (((gr, pr), al), &par) in g.iter_mut().zip(&part).zip(alive.iter_mut()).zip(&pa) {
                let na = par.get(ch).copied().unwrap_or(0.0);
                for (((gv, &pv), l), &pbc) in gr.iter_mut().zip(pr).zip(al.iter_mut()).zip(&pb) {
                    *gv += f64::from(pv);
                    let nb = pbc.get(ch).copied().unwrap_or(0.0);
                    // A NaN `L` (overflowed norms) is not above: step 2 then decides.
                    let lb = (na + nb) - 2.0 * *gv;
                    let skip = lb > self.k.limit;
                    *l = *l && !skip;
                    any |= *l;
                }
            }
            if !any {
                break;
            }
        }
        alive
    }

    /// Row `i`'s `(1 − ε)·ñ` over each prefix of chunks.
    #[inline(always)]
    fn prefixes(&self, i: usize) -> &[f64] {
        self.p
            .get(i * self.nch..(i + 1) * self.nch)
            .unwrap_or_default()
    }

    /// The direct distances of `pairs`, a batch at a time, then each pair's kernel values
    /// added by the rule, in the order of `pairs`.
    #[inline(always)]
    fn add_pairs<const GROUPS: bool, O: Ops>(
        &self,
        ops: O,
        q0: usize,
        pairs: &[Pair],
        block: &mut [RowAcc],
    ) {
        for batch in pairs.chunks(BATCH) {
            let first = batch.first().copied().unwrap_or_default();
            let mut a: [&[f32]; BATCH] = [&[]; BATCH];
            let mut b: [&[f32]; BATCH] = [&[]; BATCH];
            for (p, (ap, bp)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                // A short batch repeats its first pair; those results are not used.
                let pair = batch.get(p).copied().unwrap_or(first);
                *ap = self.row(q0 + pair.q as usize);
                *bp = self.row(pair.j as usize);
            }
            let dist = ops.sq_dists(a, b);
            for (pair, &dv) in batch.iter().zip(&dist) {
                let (i, j) = (q0 + pair.q as usize, pair.j as usize);
                let (yi, yj) = (self.labels.get(i), self.labels.get(j));
                let same_class = yi == yj;
                let same_group = GROUPS
                    && self
                        .groups
                        .is_some_and(|g| g.get(i).is_some_and(|gi| g.get(j) == Some(gi)));
                let lane = j % 8;
                let sets = block
                    .get_mut(pair.q as usize * B..(pair.q as usize + 1) * B)
                    .unwrap_or_default();
                for (a, &scale) in sets.iter_mut().zip(&self.k.scales) {
                    let v = dv * scale;
                    // `D ≥ 0` is never NaN (a sum of squares of finite differences).
                    if self.k.prune && v > self.k.tau {
                        continue;
                    }
                    let e = f64::from(math::exp_neg(-v));
                    if let Some(s) = a.get_mut(lane) {
                        *s += e;
                    }
                    if same_class && let Some(s) = a.get_mut(8 + lane) {
                        *s += e;
                    }
                    if same_group && let Some(s) = a.get_mut(16 + lane) {
                        *s += e;
                    }
                }
            }
        }
    }
}

/// Appends the pairs of a tile (query rows from offset `qo`, candidates from `j`) that the
/// filter let through, row by row.
#[inline(always)]
fn push_alive<const R: usize, const C: usize>(
    alive: &[[bool; C]; R],
    qo: usize,
    j: usize,
    pending: &mut [Pair; PENDING],
    len: &mut usize,
) {
    for (r, row) in alive.iter().enumerate() {
        for (c, &keep) in row.iter().enumerate() {
            if keep && let Some(slot) = pending.get_mut(*len) {
                // Offsets < BLOCK and rows < n ≤ u32::MAX: both fit.
                #[allow(clippy::cast_possible_truncation)]
                let pair = Pair {
                    q: (qo + r) as u32,
                    j: (j + c) as u32,
                };
                *slot = pair;
                *len += 1;
            }
        }
    }
}

/// `t` in the first lanes of eight, the rest +0.
#[inline(always)]
fn pad8(t: &[f32]) -> [f32; 8] {
    let mut p = [0.0f32; 8];
    p.iter_mut().zip(t).for_each(|(d, &v)| *d = v);
    p
}

/// `Σ_k (a_k − b_k)²` of each pair `(a[p], b[p])` in f32, coordinate `k` in lane `k mod 8`
/// with `k` ascending, the zero-padded tail last, lanes combined by
/// [`math::reduce_lanes`]; each pair cut to the shorter of its two slices. A lane never holds
/// −0 (it starts at +0 and adds squares), so the padding's `(+0)²` leaves its bits.
#[inline(always)]
fn sq_dists(a: [&[f32]; BATCH], b: [&[f32]; BATCH]) -> [f32; BATCH] {
    let mut out = [0.0f32; BATCH];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let n = x.len().min(y.len());
        let (x, y) = (
            x.get(..n).unwrap_or_default(),
            y.get(..n).unwrap_or_default(),
        );
        let (cx, cy) = (x.as_chunks::<8>(), y.as_chunks::<8>());
        let mut acc = [0.0f32; 8];
        for (xc, yc) in cx.0.iter().zip(cy.0) {
            add_sq8(&mut acc, xc, yc);
        }
        add_sq8(&mut acc, &pad8(cx.1), &pad8(cy.1));
        *o = math::reduce_lanes(acc);
    }
    out
}

/// `acc[l] += (x[l] − y[l])²`, eight lanes.
#[inline(always)]
fn add_sq8(acc: &mut [f32; 8], x: &[f32; 8], y: &[f32; 8]) {
    for ((s, &p), &q) in acc.iter_mut().zip(x).zip(y) {
        let e = p - q;
        *s += e * e;
    }
}

/// [`sq_dists`] on AVX2 vectors, all pairs interleaved: per lane the same subtract,
/// multiply and add (never fused), in the same order, so the same bits. No closures: a
/// closure is compiled without the caller's target features.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sq_dists_v3(v3: pulp::x86::V3, a: [&[f32]; BATCH], b: [&[f32]; BATCH]) -> [f32; BATCH] {
    use pulp::{Simd, bytemuck, f32x8};
    let n = a.iter().chain(&b).fold(usize::MAX, |m, y| m.min(y.len()));
    let full = n - n % 8;
    let mut ab: [&[[f32; 8]]; BATCH] = [&[]; BATCH];
    let mut bb: [&[[f32; 8]]; BATCH] = [&[]; BATCH];
    for (dst, y) in ab.iter_mut().chain(bb.iter_mut()).zip(a.iter().chain(&b)) {
        *dst = y.get(..full).unwrap_or_default().as_chunks::<8>().0;
    }
    let z = v3.splat_f32s(0.0);
    let mut acc = [z; BATCH];
    // Every slice in `ab` and `bb` holds exactly full / 8 blocks, so `k` is in bounds.
    #[allow(clippy::indexing_slicing)]
    for k in 0..full / 8 {
        for p in 0..BATCH {
            let x = bytemuck::cast::<[f32; 8], f32x8>(ab[p][k]);
            let y = bytemuck::cast::<[f32; 8], f32x8>(bb[p][k]);
            let e = v3.sub_f32s(x, y);
            acc[p] = v3.add_f32s(acc[p], v3.mul_f32s(e, e));
        }
    }
    let mut out = [0.0f32; BATCH];
    for (((o, l), x), y) in out.iter_mut().zip(&mut acc).zip(&a).zip(&b) {
        let x: f32x8 = bytemuck::cast(pad8(x.get(full..n).unwrap_or_default()));
        let y: f32x8 = bytemuck::cast(pad8(y.get(full..n).unwrap_or_default()));
        let e = v3.sub_f32s(x, y);
        *l = v3.add_f32s(*l, v3.mul_f32s(e, e));
        *o = math::reduce_lanes(bytemuck::cast(*l));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
    use super::*;

    /// The portable and the AVX2 batch give every distance the same bits, for lengths
    /// around the eight-lane blocks, with mixed magnitudes and near-equal rows.
    #[test]
    fn direct_distances_have_the_same_bits_every_way() {
        let value = |i: usize| {
            let v = ((i.wrapping_mul(2_654_435_761) % 2001) as f32 - 1000.0) / 997.0;
            if i.is_multiple_of(13) { v * 1e3 } else { v }
        };
        for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 100, 1023, 1024, 1025] {
            let rows: std::vec::Vec<std::vec::Vec<f32>> = (0..2 * BATCH)
                .map(|r| {
                    (0..n)
                        .map(|k| {
                            // Odd rows: near copies of the even row before.
                            let even = value((r - r % 2) * 977 + k);
                            if r % 2 == 1 {
                                even + 1e-4 * value(r * 31 + k)
                            } else {
                                even
                            }
                        })
                        .collect()
                })
                .collect();
            let a: [&[f32]; BATCH] = core::array::from_fn(|p| rows[2 * p].as_slice());
            let b: [&[f32]; BATCH] = core::array::from_fn(|p| rows[2 * p + 1].as_slice());
            let want = sq_dists(a, b);
            for p in 0..BATCH {
                // Each lane by itself, as the definition reads.
                let mut l = [0.0f32; 8];
                for k in 0..n {
                    let e = a[p][k] - b[p][k];
                    l[k % 8] += e * e;
                }
                assert_eq!(want[p].to_bits(), math::reduce_lanes(l).to_bits(), "n={n}");
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(v3) = pulp::x86::V3::try_new() {
                let got = sq_dists_v3(v3, a, b);
                for p in 0..BATCH {
                    assert_eq!(got[p].to_bits(), want[p].to_bits(), "v3 n={n} pair {p}");
                }
            }
        }
    }
}
