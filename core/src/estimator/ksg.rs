//! k-nearest-neighbour estimates (Kraskov, Stögbauer & Grassberger 2004; Ross 2014), in bits.
//!
//! Distances are max-norm: `d(a, b) = max_c |a_c − b_c|`, each `|a_c − b_c|` one `f32`
//! subtraction, so `d` is symmetric and exact comparisons between distances are meaningful.
//! `k` is [`Param::K`] (default 3).
//!
//! * **I(X;T), continuous inputs** (the layer carries the inputs as a matrix,
//!   [`Layer::with_x`]): algorithm 1 of Kraskov et al. For each sample `i`, `ρ_i` is the
//!   distance to its `k`-th nearest neighbour in the joint space `(x, t)`; `n_x(i)` and `n_t(i)`
//!   count the other samples strictly closer than `ρ_i` in `x` alone and in `t` alone;
//!   `I = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_t + 1)⟩`.
//! * **I(T;Y), and I(X;T) for discrete inputs** (input groups without an input matrix): the
//!   mixed discrete–continuous form of Ross. For each sample `i` of class `y` (`N_y` samples),
//!   `ρ_i` is the distance to its `k_y`-th nearest neighbour among the class
//!   (`k_y = min(k, N_y − 1)`), and `m_i` counts the samples of the whole layer strictly
//!   closer than `ρ_i`, itself included; `I = ψ(N) + ⟨ψ(k_y) − ψ(N_y) − ψ(m_i)⟩`. The average
//!   runs over the samples whose class has at least two (a class of one has no neighbour and
//!   contributes nothing); `m_i` counts every sample of the layer.
//!
//! # Ties
//! Exact ties are handled by a fixed rule, with no random jitter. A distance of 0 to the
//! `k`-th neighbour (the sample has `k` or more exact copies) makes the strict counts above
//! empty and the estimate grow with `N`; there the mixed rule of Gao, Kannan, Oh & Viswanath
//! (2017) applies, as in the authors' code: `ψ(k)` becomes `ψ(k̃_i)`, `k̃_i` the number of
//! exact copies of the sample, itself included, and the counts take the samples at distance
//! 0 (`n_x + 1`, `n_t + 1`: the samples equal in `x`, in `t`, itself included; for Ross's
//! form, `k̃_i` counts the copies within the class and `m_i` those in the whole layer). On
//! fully discrete data this is a plug-in estimate whose error shrinks as `N` grows. Ties at
//! a distance above 0 keep the strict counts of algorithm 1.
//!
//! # Scale
//! With [`Param::Standardize`] (the default) every column of `x` and of `t` is divided by its
//! standard deviation (population, in `f64`; a constant column is left as it is) before any
//! distance, as Kraskov et al. advise and scikit-learn does: the max-norm then weighs every
//! coordinate alike, and the estimate does not depend on the units of either variable.
//!
//! Results are clamped at 0 (a negative estimate is bias). With a single class (every label
//! equal) I(T;Y) is 0 exactly, H(Y) being 0, and is not estimated; likewise I(X;T) from
//! input groups when every sample has the same input. `ψ` is the digamma
//! function.
//!
//! # Cost
//! k-d trees (median splits on the widest coordinate, leaves of up to 32 rows, bounding boxes)
//! over `(x, t)`, `x`, `t` and each class's `t`, built once per estimate
//! ([`Kind::prepare`]); each sample's queries are independent, so the rows
//! split into parts on any threads with the bits of one call (per-row terms summed in fixed
//! point, [`RowSums`]). O(N log N) queries in low dimensions. From [`ALL_PAIRS_DIMS`] joint
//! dimensions, where a tree's boxes no longer prune, algorithm 1 scans all pairs instead:
//! blocks of 4 rows against 16 samples at a time, over the columns stored column by column,
//! at the CPU's vector width (O(N²·(dx + d)), two passes: the k-th distances, then the
//! counts). Both paths count exactly and give the same bits.
//!
//! # Registered as
//! `ksg` in the estimator [`REGISTRY`](super::REGISTRY).

use super::{Kind, Layer, Param, Part, Partial, Prepared, RowSums, Settings};
use crate::Error;
use crate::info::{Info, PlanePoint};
use crate::mat::{Inputs, MatRef};
use crate::math;
use crate::scratch::{Scratch, ScratchReq};

/// Largest `k`.
pub const MAX_K: u32 = 64;

/// Most rows in a leaf.
const LEAF: usize = 32;

/// `u32` words per node: first row, end row, right child (0: a leaf; the left child is the
/// next node), box index (`NO_BOX`: none).
const NODE: usize = 4;

const NO_BOX: u32 = u32::MAX;

/// Explicit stack depth for queries (two entries per level; the tree depth is at most 32).
const STACK: usize = 128;

/// Joint dimensions `dx + d` from which algorithm 1 scans all pairs instead of querying
/// trees: there a k-d tree's boxes no longer prune (a query visits nearly every leaf), and a
/// flat scan of the columns runs at full vector width without the tree's bookkeeping.
pub const ALL_PAIRS_DIMS: usize = 16;

/// Rows of a block of the all-pairs scan (each column chunk is loaded once for all of them).
const BLOCK_ROWS: usize = 4;

/// Samples compared at once in the all-pairs scan.
const LANES: usize = 16;

/// The digamma function at a positive integer: `ψ(n) = −γ + Σ_{j<n} 1/j`, by its
/// asymptotic series from `n = 10` (error below 1e-15) and exactly below.
#[must_use]
pub fn digamma(n: u64) -> f64 {
    const EULER: f64 = 0.577_215_664_901_532_9;
    if n == 0 {
        return f64::NEG_INFINITY;
    }
    if n < 10 {
        let mut s = -EULER;
        for j in 1..n {
            #[allow(clippy::cast_precision_loss)] // j < 10
            let j = j as f64;
            s += 1.0 / j;
        }
        return s;
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    let x = n as f64;
    // ψ(x) = ln x − 1/(2x) − Σ_j B_2j / (2j · x^2j), five terms.
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    math::ln_f64(x) - 0.5 * inv - series
}

/// The columns of `(x, t)` as the distances see them: scaled by [`Param::Standardize`].
#[derive(Debug, Clone, Copy)]
struct Source<'s, 'a> {
    x: Option<Inputs<'a>>,
    t: MatRef<'a>,
    dx: usize,
    /// Per column of `(x, t)`, the divisor (1 when not standardising).
    scale: &'s [f64],
}

impl Source<'_, '_> {
    /// The raw value of column `c` of row `r`.
    fn raw(&self, r: usize, c: usize) -> f32 {
        if c < self.dx {
            match self.x {
                Some(Inputs::F32(m)) => m.as_slice().get(r * m.cols() + c).copied(),
                Some(Inputs::U8(m)) => m
                    .as_slice()
                    .get(r * m.cols() + c)
                    .map(|&b| f32::from(b) / m.divisor()),
                None => None,
            }
            .unwrap_or(0.0)
        } else {
            let d = self.t.cols();
            self.t
                .as_slice()
                .get(r * d + c - self.dx)
                .copied()
                .unwrap_or(0.0)
        }
    }

    /// The value of column `c` of row `r` as distances see it.
    fn value(&self, r: usize, c: usize) -> f32 {
        let v = self.raw(r, c);
        match self.scale.get(c) {
            #[allow(clippy::cast_possible_truncation)] // rounding to f32 is the point
            #[allow(clippy::float_cmp)] // exactly 1: no scaling
            Some(&s) if s != 1.0 => (f64::from(v) / s) as f32,
            _ => v,
        }
    }

    /// Row `r`'s columns `c0..c0 + out.len()`.
    fn row_into(&self, r: usize, c0: usize, out: &mut [f32]) {
        for (c, o) in (c0..).zip(out.iter_mut()) {
            *o = self.value(r, c);
        }
    }
}

/// Fills `scale` with each column's population standard deviation (1 for a constant column).
fn column_scales(x: Option<Inputs<'_>>, t: MatRef<'_>, dx: usize, scale: &mut [f64]) {
    let unit = Source {
        x,
        t,
        dx,
        scale: &[],
    };
    let n = t.rows();
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    for (c, s) in scale.iter_mut().enumerate() {
        let mean = (0..n).map(|r| f64::from(unit.raw(r, c))).sum::<f64>() / nf;
        let var = (0..n)
            .map(|r| {
                let e = f64::from(unit.raw(r, c)) - mean;
                e * e
            })
            .sum::<f64>()
            / nf;
        let sd = math::sqrt_f64(var);
        *s = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
    }
}

/// The larger of two distances (neither is NaN: every value is finite).
#[inline(always)]
fn max2(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// `max(0, max_c f(q_c, lo_c, hi_c))`, over eight lanes (max is exact, so the order of the
/// lanes does not matter).
#[inline(always)]
fn max_over(q: &[f32], lo: &[f32], hi: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (qc, lc, hc) = (q.chunks_exact(8), lo.chunks_exact(8), hi.chunks_exact(8));
    let tail = qc
        .remainder()
        .iter()
        .zip(lc.remainder().iter().zip(hc.remainder()));
    for (qs, (ls, hs)) in qc.zip(lc.zip(hc)) {
        for (a, (&v, (&l, &h))) in acc.iter_mut().zip(qs.iter().zip(ls.iter().zip(hs))) {
            *a = max2(*a, f(v, l, h));
        }
    }
    let mut m = acc.iter().fold(0.0f32, |m, &a| max2(m, a));
    for (&v, (&l, &h)) in tail {
        m = max2(m, f(v, l, h));
    }
    m
}

/// A k-d tree, or a forest of them (one per segment of rows), over columns
/// `c0..c0 + dims` of the source.
#[derive(Debug)]
struct Forest<'s> {
    dims: usize,
    /// Source row at each tree position.
    rows: &'s [u32],
    /// Coordinates in tree order.
    pts: &'s [f32],
    nodes: &'s [u32],
    boxes: &'s [f32],
    /// For each source row, the root node of its segment (`u32::MAX`: in no tree).
    roots: &'s [u32],
}

/// Node and box capacity of a forest over `n` rows.
const fn caps(n: usize) -> (usize, usize) {
    (n + 4 * n / LEAF + 1, 4 * n / LEAF + 1)
}

fn forest_req(n: usize, dims: usize) -> Result<ScratchReq, Error> {
    let (nodes, boxes) = caps(n);
    let mul = |a: usize, b: usize| a.checked_mul(b).ok_or(Error::TooLarge);
    ScratchReq::u32(n)
        .and(ScratchReq::f32(mul(n, dims)?))?
        .and(ScratchReq::u32(mul(nodes, NODE)?))?
        .and(ScratchReq::f32(mul(mul(boxes, 2)?, dims)?))?
        .and(ScratchReq::u32(n))
}

/// How rows are split into segments, each its own tree.
#[derive(Debug, Clone, Copy)]
enum Segments<'a> {
    /// One tree over every row.
    Whole,
    /// One tree per distinct id, over the rows of that id with at least two rows.
    By(&'a [u32]),
}

struct Builder<'b, 'r, 's, 'a> {
    src: &'b Source<'s, 'a>,
    dims: usize,
    c0: usize,
    rows: &'r mut [u32],
    nodes: &'r mut [u32],
    boxes: &'r mut [f32],
    n_nodes: usize,
    n_boxes: usize,
}

impl Builder<'_, '_, '_, '_> {
    /// Builds the tree over tree positions `start..end`, returning its root.
    fn tree(&mut self, start: usize, end: usize) -> Result<u32, Error> {
        let root = self.n_nodes;
        // (start, end, parent waiting for its right child or usize::MAX)
        let mut stack = [(0usize, 0usize, usize::MAX); STACK];
        let mut top = 0usize;
        *stack.get_mut(0).ok_or(Error::TooLarge)? = (start, end, usize::MAX);
        top += 1;
        while top > 0 {
            top -= 1;
            let (s, e, parent) = *stack.get(top).ok_or(Error::TooLarge)?;
            let id = self.n_nodes;
            self.n_nodes += 1;
            let id32 = u32::try_from(id).map_err(|_| Error::TooLarge)?;
            if parent != usize::MAX {
                *self
                    .nodes
                    .get_mut(parent * NODE + 2)
                    .ok_or(Error::TooLarge)? = id32;
            }
            let single = s == start && e == end && e - s <= LEAF;
            let mut node = [
                u32::try_from(s).map_err(|_| Error::TooLarge)?,
                u32::try_from(e).map_err(|_| Error::TooLarge)?,
                0,
                NO_BOX,
            ];
            let mut split = None;
            if !single {
                let b = self.n_boxes;
                self.n_boxes += 1;
                node[3] = u32::try_from(b).map_err(|_| Error::TooLarge)?;
                let d = self.dims;
                let bx = self
                    .boxes
                    .get_mut(b * 2 * d..(b + 1) * 2 * d)
                    .ok_or(Error::TooLarge)?;
                let (lo, hi) = bx.split_at_mut(d);
                lo.fill(f32::INFINITY);
                hi.fill(f32::NEG_INFINITY);
                for p in s..e {
                    let r = *self.rows.get(p).ok_or(Error::TooLarge)?;
                    for c in 0..d {
                        let v = self.src.value(r as usize, self.c0 + c);
                        if let (Some(l), Some(h)) = (lo.get_mut(c), hi.get_mut(c)) {
                            *l = l.min(v);
                            *h = h.max(v);
                        }
                    }
                }
                let mut widest = (0usize, 0.0f32);
                for (c, (&l, &h)) in lo.iter().zip(hi.iter()).enumerate() {
                    if h - l > widest.1 {
                        widest = (c, h - l);
                    }
                }
                if e - s > LEAF && widest.1 > 0.0 {
                    split = Some(widest.0);
                }
            }
            if let Some(c) = split {
                let mid = s + (e - s) / 2;
                let seg = core::mem::take(&mut self.rows);
                let part = seg.get_mut(s..e).ok_or(Error::TooLarge)?;
                let key = |r: u32| self.src.value(r as usize, self.c0 + c);
                part.select_nth_unstable_by(mid - s, |&a, &b| {
                    key(a).total_cmp(&key(b)).then(a.cmp(&b))
                });
                self.rows = seg;
                node[2] = 1; // patched when the right child is numbered
                // Right child below the left on the stack, so the left is numbered next.
                for entry in [(mid, e, id), (s, mid, usize::MAX)] {
                    *stack.get_mut(top).ok_or(Error::TooLarge)? = entry;
                    top += 1;
                }
            }
            self.nodes
                .get_mut(id * NODE..(id + 1) * NODE)
                .ok_or(Error::TooLarge)?
                .copy_from_slice(&node);
        }
        u32::try_from(root).map_err(|_| Error::TooLarge)
    }
}

impl<'s> Forest<'s> {
    /// Builds the forest in `sc` ([`forest_req`]).
    fn build(
        src: &Source<'_, '_>,
        c0: usize,
        dims: usize,
        segments: Segments<'_>,
        keys: &mut [u64],
        sc: &mut Scratch<'s>,
    ) -> Result<Self, Error> {
        let n = src.t.rows();
        let (node_cap, box_cap) = caps(n);
        let rows = sc.u32(n)?;
        let pts = sc.f32(n.checked_mul(dims).ok_or(Error::TooLarge)?)?;
        let nodes = sc.u32(node_cap * NODE)?;
        let boxes = sc.f32(box_cap * 2 * dims)?;
        let roots = sc.u32(n)?;
        roots.fill(u32::MAX);
        // Rows grouped by segment, in row order within each.
        match segments {
            Segments::Whole => {
                for (i, r) in rows.iter_mut().enumerate() {
                    *r = u32::try_from(i).map_err(|_| Error::TooLarge)?;
                }
            }
            Segments::By(ids) => {
                let keys = keys.get_mut(..n).ok_or(Error::TooLarge)?;
                for ((k, &id), i) in keys.iter_mut().zip(ids).zip(0u64..) {
                    *k = (u64::from(id) << 32) | i;
                }
                keys.sort_unstable();
                for (r, &k) in rows.iter_mut().zip(keys.iter()) {
                    #[allow(clippy::cast_possible_truncation)] // the low half is the row
                    let row = k as u32;
                    *r = row;
                }
            }
        }
        let mut b = Builder {
            src,
            dims,
            c0,
            rows,
            nodes,
            boxes,
            n_nodes: 0,
            n_boxes: 0,
        };
        let mut s = 0usize;
        while s < n {
            let mut e = s + 1;
            if let Segments::By(ids) = segments {
                let id_of = |p: usize| {
                    b.rows
                        .get(p)
                        .and_then(|&r| ids.get(r as usize))
                        .copied()
                        .unwrap_or(0)
                };
                let id = id_of(s);
                while e < n && id_of(e) == id {
                    e += 1;
                }
            } else {
                e = n;
            }
            if e - s >= 2 || matches!(segments, Segments::Whole) {
                let root = b.tree(s, e)?;
                for p in s..e {
                    let r = *b.rows.get(p).ok_or(Error::TooLarge)? as usize;
                    *roots.get_mut(r).ok_or(Error::TooLarge)? = root;
                }
            }
            s = e;
        }
        let Builder {
            rows,
            nodes,
            boxes,
            n_nodes,
            ..
        } = b;
        // Each leaf's rows coordinate-major (the leaf's values of coordinate 0, then of 1, …),
        // so a leaf's distances to a query are computed for all its rows at once.
        for node in nodes.chunks_exact(NODE).take(n_nodes) {
            let &[s, e, right, _] = node else { continue };
            if right != 0 {
                continue;
            }
            let (s, e) = (s as usize, e as usize);
            let m = e - s;
            let block = pts.get_mut(s * dims..e * dims).ok_or(Error::TooLarge)?;
            for (j, &r) in rows.get(s..e).unwrap_or(&[]).iter().enumerate() {
                for c in 0..dims {
                    if let Some(v) = block.get_mut(c * m + j) {
                        *v = src.value(r as usize, c0 + c);
                    }
                }
            }
        }
        Ok(Self {
            dims,
            rows,
            pts,
            nodes,
            boxes,
            roots,
        })
    }

    #[inline(always)]
    fn node(&self, id: usize) -> [u32; NODE] {
        let mut out = [0, 0, 0, NO_BOX];
        if let Some(s) = self.nodes.get(id * NODE..(id + 1) * NODE) {
            out.copy_from_slice(s);
        }
        out
    }

    /// The box of a node: `(lo, hi)`.
    #[inline(always)]
    fn node_box(&self, b: u32) -> Option<(&[f32], &[f32])> {
        if b == NO_BOX {
            return None;
        }
        let d = self.dims;
        let b = b as usize;
        self.boxes
            .get(b * 2 * d..(b + 1) * 2 * d)
            .map(|s| s.split_at(d))
    }

    /// The distances from `q` to rows `j0..j0 + LEAF` (or to the end) of the leaf `s..e`, in
    /// `out`. (A leaf holds at most [`LEAF`] rows unless they are all equal.)
    #[inline(always)]
    fn leaf_dists<'o>(
        &self,
        (s, e): (usize, usize),
        j0: usize,
        q: &[f32],
        out: &'o mut [f32; LEAF],
    ) -> &'o [f32] {
        let m = e - s;
        let lanes = (m - j0.min(m)).min(LEAF);
        let block = self.pts.get(s * self.dims..e * self.dims).unwrap_or(&[]);
        let cols = || block.chunks_exact(m.max(1)).zip(q);
        // Eight lanes at a time in a register; a last group of fewer than eight reuses lanes of
        // the group before it (max is idempotent, so recomputing a lane changes nothing).
        let mut c8 = 0;
        while c8 < lanes {
            let start = if c8 + 8 <= lanes || lanes < 8 {
                c8
            } else {
                lanes - 8
            };
            if lanes < 8 {
                for (l, o) in out.iter_mut().enumerate().take(lanes) {
                    *o = cols().fold(0.0f32, |a, (col, &qc)| {
                        max2(a, math::abs(col.get(j0 + l).copied().unwrap_or(qc) - qc))
                    });
                }
                break;
            }
            let mut acc = [0.0f32; 8];
            for (col, &qc) in cols() {
                if let Some(v) = col.get(j0 + start..j0 + start + 8) {
                    for (a, &p) in acc.iter_mut().zip(v) {
                        *a = max2(*a, math::abs(p - qc));
                    }
                }
            }
            if let Some(o) = out.get_mut(start..start + 8) {
                o.copy_from_slice(&acc);
            }
            c8 = start + 8;
        }
        out.get(..lanes).unwrap_or(&[])
    }

    /// The smallest distance from `q` to a node's box (0 for a node without one).
    #[inline(always)]
    fn min_dist(&self, b: u32, q: &[f32]) -> f32 {
        // Not `map_or` with a closure: it would be compiled out of line, without the
        // caller's vector instructions.
        match self.node_box(b) {
            Some((lo, hi)) => max_over(q, lo, hi, |v, l, h| max2(l - v, v - h)),
            None => 0.0,
        }
    }

    /// The largest distance from `q` to a node's box (∞ for a node without one).
    #[inline(always)]
    fn max_dist(&self, b: u32, q: &[f32]) -> f32 {
        match self.node_box(b) {
            Some((lo, hi)) => max_over(q, lo, hi, |v, l, h| {
                max2(math::abs(v - l), math::abs(v - h))
            }),
            None => f32::INFINITY,
        }
    }

    /// The distance from `q` (source row `me`, excluded) to its `k`-th nearest neighbour in
    /// the tree rooted at `root`; `k ≥ 1` and the tree holds more than `k` rows.
    #[inline(always)]
    fn kth(&self, root: u32, q: &[f32], me: u32, k: usize) -> f32 {
        let mut best = [f32::INFINITY; MAX_K as usize];
        let k = k.clamp(1, MAX_K as usize);
        let mut stack = [(0u32, 0.0f32); STACK];
        let mut top = 1usize;
        if let Some(s) = stack.first_mut() {
            *s = (root, 0.0);
        }
        while top > 0 {
            top -= 1;
            let (id, md) = stack.get(top).copied().unwrap_or((0, f32::INFINITY));
            let bound = best.get(k - 1).copied().unwrap_or(f32::INFINITY);
            if md >= bound {
                continue;
            }
            let [s, e, right, _] = self.node(id as usize);
            if right == 0 {
                let (s, e) = (s as usize, e as usize);
                let mut buf = [0.0f32; LEAF];
                for j0 in (0..e - s).step_by(LEAF) {
                    let ds = self.leaf_dists((s, e), j0, q, &mut buf);
                    let rows = self.rows.get(s + j0..e).unwrap_or(&[]);
                    for (&d, &row) in ds.iter().zip(rows) {
                        if row == me {
                            continue;
                        }
                        let worst = best.get(k - 1).copied().unwrap_or(f32::INFINITY);
                        if d < worst {
                            // Insert keeping best[..k] ascending.
                            let kept = best.get_mut(..k).unwrap_or_default();
                            let pos = kept.partition_point(|&b| b <= d);
                            kept.copy_within(pos..k - 1, pos + 1);
                            if let Some(b) = kept.get_mut(pos) {
                                *b = d;
                            }
                        }
                    }
                }
                continue;
            }
            let (l, r) = (id + 1, right);
            let dl = self.min_dist(self.node(l as usize)[3], q).max(md);
            let dr = self.min_dist(self.node(r as usize)[3], q).max(md);
            let order = if dl <= dr {
                [(r, dr), (l, dl)]
            } else {
                [(l, dl), (r, dr)]
            };
            for entry in order {
                if let Some(slot) = stack.get_mut(top) {
                    *slot = entry;
                    top += 1;
                }
            }
        }
        best.get(k - 1).copied().unwrap_or(f32::INFINITY)
    }

    /// How many rows of the tree rooted at `root` lie at distance `< r` from `q`
    /// (`≤ r` when `inclusive`), `q`'s own row included if it is in the tree.
    #[inline(always)]
    fn count(&self, root: u32, q: &[f32], r: f32, inclusive: bool) -> u64 {
        let inside = |d: f32| if inclusive { d <= r } else { d < r };
        let mut n = 0u64;
        let mut stack = [0u32; STACK];
        let mut top = 1usize;
        if let Some(s) = stack.first_mut() {
            *s = root;
        }
        while top > 0 {
            top -= 1;
            let id = stack.get(top).copied().unwrap_or(0);
            let [s, e, right, b] = self.node(id as usize);
            if b != NO_BOX {
                if !inside(self.min_dist(b, q)) {
                    continue;
                }
                if inside(self.max_dist(b, q)) {
                    n += u64::from(e - s);
                    continue;
                }
            }
            if right == 0 {
                let mut buf = [0.0f32; LEAF];
                for j0 in (0..(e - s) as usize).step_by(LEAF) {
                    let ds = self.leaf_dists((s as usize, e as usize), j0, q, &mut buf);
                    n += ds.iter().map(|&d| u64::from(inside(d))).sum::<u64>();
                }
                continue;
            }
            for c in [right, id + 1] {
                if let Some(slot) = stack.get_mut(top) {
                    *slot = c;
                    top += 1;
                }
            }
        }
        n
    }

    #[inline(always)]
    fn root_of(&self, row: usize) -> u32 {
        self.roots.get(row).copied().unwrap_or(u32::MAX)
    }

    /// Rows in the segment whose root is `root`.
    #[inline(always)]
    fn size(&self, root: u32) -> u64 {
        let [s, e, _, _] = self.node(root as usize);
        u64::from(e - s)
    }
}

/// The trees of one estimate, built once ([`Kind::prepare`]) and shared by every part.
#[derive(Debug)]
pub struct KsgIndex<'s, 'a> {
    x: Option<Inputs<'a>>,
    t: MatRef<'a>,
    dx: usize,
    scale: &'s [f64],
    joint: Option<Forest<'s>>,
    xs: Option<Forest<'s>>,
    ts: Forest<'s>,
    classes: Forest<'s>,
    groups: Option<Forest<'s>>,
    /// With [`ALL_PAIRS_DIMS`] joint columns or more: `(x, t)` column by column (value of
    /// column `c`, row `r` at `c·n + r`), scanned instead of `joint` and `xs`.
    columns: Option<&'s [f32]>,
    /// Every sample has the same label: I(T;Y) is 0 (H(Y) = 0) and is not estimated.
    one_class: bool,
}

impl KsgIndex<'_, '_> {
    const fn source(&self) -> Source<'_, '_> {
        Source {
            x: self.x,
            t: self.t,
            dx: self.dx,
            scale: self.scale,
        }
    }
}

/// The registered `ksg` estimator.
#[derive(Debug)]
pub struct KsgKind;

/// `ksg`.
pub static KSG: KsgKind = KsgKind;

fn shared_req(n: usize, d: usize, dx: usize) -> Result<ScratchReq, Error> {
    let dims = d.checked_add(dx).ok_or(Error::TooLarge)?;
    let mut req = ScratchReq::f64(dims)
        .and(ScratchReq::u64(n))?
        .and(forest_req(n, d)?)?
        .and(forest_req(n, d)?)?;
    if dx > 0 {
        req = req.and(forest_req(n, dims)?)?.and(forest_req(n, dx)?)?;
    } else {
        req = req.and(forest_req(n, d)?)?;
    }
    Ok(req)
}

fn part_req(d: usize, dx: usize) -> Result<ScratchReq, Error> {
    let dims = d.checked_add(dx).ok_or(Error::TooLarge)?;
    Ok(ScratchReq::f32(
        dims.checked_mul(BLOCK_ROWS).ok_or(Error::TooLarge)?,
    ))
}

/// Checks the layer and the settings: `k` below the number of rows, some inputs for I(X;T).
fn check_layer(s: &Settings, layer: &Layer<'_>) -> Result<(), Error> {
    if (layer.n() as u64) <= u64::from(s.k) {
        return Err(Error::InvalidParameter { name: "k" });
    }
    if layer.x().is_none() && layer.inputs().is_none() {
        return Err(Error::InvalidParameter { name: "inputs" });
    }
    Ok(())
}

impl KsgKind {
    fn build<'s, 'a>(
        s: &Settings,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<KsgIndex<'s, 'a>, Error> {
        check_layer(s, layer)?;
        let (n, d) = (layer.n(), layer.d());
        let dx = layer.x().map_or(0, |x| x.cols());
        let mut sc = Scratch::new(shared, shared_req(n, d, dx)?)?;
        let scale = sc.f64(dx + d)?;
        if s.standardize {
            column_scales(layer.x(), layer.t(), dx, scale);
        } else {
            scale.fill(1.0);
        }
        let scale: &'s [f64] = scale;
        let keys = sc.u64(n)?;
        let src = Source {
            x: layer.x(),
            t: layer.t(),
            dx,
            scale,
        };
        let ts = Forest::build(&src, dx, d, Segments::Whole, keys, &mut sc)?;
        let classes = Forest::build(&src, dx, d, Segments::By(layer.labels()), keys, &mut sc)?;
        let one_class = layer.labels().windows(2).all(|w| w.first() == w.last());
        let (joint, xs, groups, columns) = if dx > 0 && dx + d >= ALL_PAIRS_DIMS {
            let v = sc.f32(n.checked_mul(dx + d).ok_or(Error::TooLarge)?)?;
            for (c, col) in v.chunks_exact_mut(n).enumerate() {
                for (r, o) in col.iter_mut().enumerate() {
                    *o = src.value(r, c);
                }
            }
            let v: &'s [f32] = v;
            (None, None, None, Some(v))
        } else if dx > 0 {
            (
                Some(Forest::build(
                    &src,
                    0,
                    dx + d,
                    Segments::Whole,
                    keys,
                    &mut sc,
                )?),
                Some(Forest::build(&src, 0, dx, Segments::Whole, keys, &mut sc)?),
                None,
                None,
            )
        } else {
            let ids = layer
                .inputs()
                .ok_or(Error::InvalidParameter { name: "inputs" })?;
            (
                None,
                None,
                Some(Forest::build(
                    &src,
                    dx,
                    d,
                    Segments::By(ids),
                    keys,
                    &mut sc,
                )?),
                None,
            )
        };
        Ok(KsgIndex {
            x: layer.x(),
            t: layer.t(),
            dx,
            scale,
            joint,
            xs,
            ts,
            classes,
            groups,
            columns,
            one_class,
        })
    }

    /// The per-row terms of rows `part` over the built trees, compiled for the active
    /// [`Isa`](crate::simd::Isa) (max, subtraction and absolute value are exact, so every
    /// level gives the same bits).
    fn rows(
        s: &Settings,
        ix: &KsgIndex<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<RowSums, Error> {
        crate::simd::Isa::active().run(RowsKernel {
            s,
            ix,
            part,
            scratch,
        })
    }

    #[inline(always)]
    fn rows_body(
        s: &Settings,
        ix: &KsgIndex<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<RowSums, Error> {
        let (n, d, dx) = (ix.t.rows(), ix.t.cols(), ix.dx);
        let mut sc = Scratch::new(scratch, part_req(d, dx)?)?;
        let block = sc.f32(BLOCK_ROWS * (dx + d))?;
        let src = ix.source();
        let k = s.k as usize;
        let (r0, r1) = (
            n * part.index / part.count,
            n * (part.index + 1) / part.count,
        );
        let mut sums = RowSums::default();
        if let Some(cols) = ix.columns {
            let mut i = r0;
            while i < r1 {
                let rows = core::array::from_fn(|b| (i + b).min(r1 - 1));
                let counts = all_pairs_block(cols, n, dx, rows, block, k);
                for (b, &(kk, nx, nt)) in counts.iter().enumerate().take(r1 - i) {
                    let row = rows.get(b).copied().unwrap_or(i);
                    let me = u32::try_from(row).map_err(|_| Error::TooLarge)?;
                    let tx = digamma(kk) - digamma(nx) - digamma(nt);
                    let qt = block.get_mut(..d).unwrap_or_default();
                    src.row_into(row, dx, qt);
                    let qt: &[f32] = qt;
                    let ty = if ix.one_class {
                        None
                    } else {
                        ross_term(&ix.classes, &ix.ts, row, me, qt, k)
                    };
                    sums.push([tx, ty.unwrap_or(0.0), 0.0]);
                }
                i += BLOCK_ROWS;
            }
            return Ok(sums);
        }
        let q = block.get_mut(..dx + d).unwrap_or_default();
        for i in r0..r1 {
            src.row_into(i, 0, q);
            let me = u32::try_from(i).map_err(|_| Error::TooLarge)?;
            let qt = q.get(dx..).unwrap_or(&[]);
            let tx = match (&ix.joint, &ix.xs, &ix.groups) {
                (Some(joint), Some(xs), _) => {
                    let rho = joint.kth(0, q, me, k);
                    let qx = q.get(..dx).unwrap_or(&[]);
                    let (kk, nx, nt) = if rho > 0.0 {
                        (
                            k as u64,
                            xs.count(0, qx, rho, false) - 1,
                            ix.ts.count(0, qt, rho, false) - 1,
                        )
                    } else {
                        (
                            joint.count(0, q, 0.0, true),
                            xs.count(0, qx, 0.0, true) - 1,
                            ix.ts.count(0, qt, 0.0, true) - 1,
                        )
                    };
                    Some(digamma(kk) - digamma(nx + 1) - digamma(nt + 1))
                }
                (_, _, Some(groups)) => ross_term(groups, &ix.ts, i, me, qt, k),
                _ => return Err(Error::InvalidParameter { name: "inputs" }),
            };
            let ty = if ix.one_class {
                None
            } else {
                ross_term(&ix.classes, &ix.ts, i, me, qt, k)
            };
            sums.push([tx.unwrap_or(0.0), ty.unwrap_or(0.0), 0.0]);
        }
        Ok(sums)
    }
}

/// [`KsgKind::rows`] as a [`Kernel`](crate::simd::Kernel).
struct RowsKernel<'r, 's, 'a> {
    s: &'r Settings,
    ix: &'r KsgIndex<'s, 'a>,
    part: Part,
    scratch: &'r mut [u64],
}

impl crate::simd::Kernel for RowsKernel<'_, '_, '_> {
    type Output = Result<RowSums, Error>;
    #[inline(always)]
    fn call(self) -> Self::Output {
        KsgKind::rows_body(self.s, self.ix, self.part, self.scratch)
    }
}

/// Distances from the block's rows (`q`, coordinate-major) to samples `j0..j0 + LANES`
/// over columns `c0..c1`.
#[inline(always)]
fn block_dists(
    cols: &[f32],
    n: usize,
    q: &[f32],
    j0: usize,
    c0: usize,
    c1: usize,
) -> [[f32; LANES]; BLOCK_ROWS] {
    let (mut a0, mut a1, mut a2, mut a3) = (
        [0.0f32; LANES],
        [0.0f32; LANES],
        [0.0f32; LANES],
        [0.0f32; LANES],
    );
    for c in c0..c1 {
        let col: Option<&[f32; LANES]> = cols
            .get(c * n + j0..c * n + j0 + LANES)
            .and_then(|s| s.try_into().ok());
        let qc: Option<&[f32; BLOCK_ROWS]> = q
            .get(c * BLOCK_ROWS..(c + 1) * BLOCK_ROWS)
            .and_then(|s| s.try_into().ok());
        let (Some(col), Some(&[q0, q1, q2, q3])) = (col, qc) else {
            continue;
        };
        lane_max(&mut a0, col, q0);
        lane_max(&mut a1, col, q1);
        lane_max(&mut a2, col, q2);
        lane_max(&mut a3, col, q3);
    }
    [a0, a1, a2, a3]
}

/// `acc[l] = max(acc[l], |col[l] − q|)` for every lane.
#[inline(always)]
fn lane_max(acc: &mut [f32; LANES], col: &[f32; LANES], q: f32) {
    for l in 0..LANES {
        if let (Some(a), Some(&p)) = (acc.get_mut(l), col.get(l)) {
            *a = max2(*a, math::abs(p - q));
        }
    }
}

/// The distance from block row `b` to sample `j` over columns `c0..c1`.
#[inline(always)]
fn one_dist(cols: &[f32], n: usize, q: &[f32], j: usize, b: usize, c0: usize, c1: usize) -> f32 {
    let mut m = 0.0f32;
    for c in c0..c1 {
        let p = cols.get(c * n + j).copied().unwrap_or(0.0);
        let qv = q.get(c * BLOCK_ROWS + b).copied().unwrap_or(0.0);
        m = max2(m, math::abs(p - qv));
    }
    m
}

/// Inserts `d` into the ascending `k` smallest distances so far, if it is smaller than the
/// largest of them.
#[inline(always)]
fn insert_kth(best: &mut [f32; MAX_K as usize], k: usize, d: f32) {
    let kept = best.get_mut(..k).unwrap_or_default();
    if kept.last().is_some_and(|&w| d < w) {
        let pos = kept.partition_point(|&b| b <= d);
        kept.copy_within(pos..k - 1, pos + 1);
        if let Some(b) = kept.get_mut(pos) {
            *b = d;
        }
    }
}

/// Algorithm 1 for the rows `rows` (a block; repeats allowed) by scanning every sample:
/// for each row, `(k̃, n_x + 1, n_t + 1)` as the tree path computes them (`k` and the strict
/// counts, or at a `k`-th distance of 0 the counts at distance 0, itself included). `cols`
/// holds `(x, t)` column by column (`dx` input columns, `n` rows); `q` is scratch for
/// [`BLOCK_ROWS`] rows. Every operation is a max, a subtraction, an absolute value or a
/// comparison, all exact: the counts do not depend on the order of the scan or the vector
/// width.
#[inline(always)]
fn all_pairs_block(
    cols: &[f32],
    n: usize,
    dx: usize,
    rows: [usize; BLOCK_ROWS],
    q: &mut [f32],
    k: usize,
) -> [(u64, u64, u64); BLOCK_ROWS] {
    let dims = cols.len() / n.max(1);
    let k = k.clamp(1, MAX_K as usize);
    // The block's rows, coordinate-major: `q[c·BLOCK_ROWS + b]`.
    for (c, qc) in q.chunks_exact_mut(BLOCK_ROWS).take(dims).enumerate() {
        for (o, &r) in qc.iter_mut().zip(&rows) {
            *o = cols.get(c * n + r).copied().unwrap_or(0.0);
        }
    }
    let q: &[f32] = q;
    let full = n - n % LANES;
    // Pass 1: the k-th smallest joint distance to the other samples.
    let mut best = [[f32::INFINITY; MAX_K as usize]; BLOCK_ROWS];
    for j0 in (0..full).step_by(LANES) {
        let acc = block_dists(cols, n, q, j0, 0, dims);
        for ((a, bst), &row) in acc.iter().zip(best.iter_mut()).zip(&rows) {
            let worst = bst.get(k - 1).copied().unwrap_or(f32::INFINITY);
            let below: u32 = a.iter().map(|&d| u32::from(d < worst)).sum();
            if below == 0 {
                continue;
            }
            for (l, &d) in a.iter().enumerate() {
                if j0 + l != row {
                    insert_kth(bst, k, d);
                }
            }
        }
    }
    for j in full..n {
        for (b, (bst, &row)) in best.iter_mut().zip(&rows).enumerate() {
            if j != row {
                insert_kth(bst, k, one_dist(cols, n, q, j, b, 0, dims));
            }
        }
    }
    // Pass 2: the samples strictly closer than ρ in x, in t and jointly; at ρ = 0, those at
    // distance 0 (below the smallest positive f32, which is the same test).
    let theta: [f32; BLOCK_ROWS] = core::array::from_fn(|b| {
        let rho = best
            .get(b)
            .and_then(|r| r.get(k - 1))
            .copied()
            .unwrap_or(0.0);
        if rho > 0.0 { rho } else { f32::from_bits(1) }
    });
    let mut cx = [[0u32; LANES]; BLOCK_ROWS];
    let mut ct = [[0u32; LANES]; BLOCK_ROWS];
    let mut cj = [[0u32; LANES]; BLOCK_ROWS];
    for j0 in (0..full).step_by(LANES) {
        let ax = block_dists(cols, n, q, j0, 0, dx);
        let at = block_dists(cols, n, q, j0, dx, dims);
        for b in 0..BLOCK_ROWS {
            let th = theta.get(b).copied().unwrap_or(0.0);
            if let (Some(ax), Some(at), Some(cx), Some(ct), Some(cj)) = (
                ax.get(b),
                at.get(b),
                cx.get_mut(b),
                ct.get_mut(b),
                cj.get_mut(b),
            ) {
                for l in 0..LANES {
                    let (Some(&x), Some(&t)) = (ax.get(l), at.get(l)) else {
                        continue;
                    };
                    if let (Some(a), Some(c), Some(e)) =
                        (cx.get_mut(l), ct.get_mut(l), cj.get_mut(l))
                    {
                        *a += u32::from(x < th);
                        *c += u32::from(t < th);
                        *e += u32::from(max2(x, t) < th);
                    }
                }
            }
        }
    }
    core::array::from_fn(|b| {
        let th = theta.get(b).copied().unwrap_or(0.0);
        let lanes = |c: &[[u32; LANES]; BLOCK_ROWS]| -> u64 {
            c.get(b)
                .map_or(0, |v| v.iter().map(|&x| u64::from(x)).sum())
        };
        let (mut nx, mut nt, mut nj) = (lanes(&cx), lanes(&ct), lanes(&cj));
        for j in full..n {
            let (x, t) = (
                one_dist(cols, n, q, j, b, 0, dx),
                one_dist(cols, n, q, j, b, dx, dims),
            );
            nx += u64::from(x < th);
            nt += u64::from(t < th);
            nj += u64::from(max2(x, t) < th);
        }
        let rho_zero = best
            .get(b)
            .and_then(|r| r.get(k - 1))
            .is_some_and(|&r| r <= 0.0);
        // Self is among the counted (distance 0 < θ): `nx`, `nt` are n_x + 1 and n_t + 1.
        (if rho_zero { nj } else { k as u64 }, nx, nt)
    })
}

/// Row `i`'s term `ψ(k_y) − ψ(N_y) − ψ(m_i)` of Ross's form, its class the segment of
/// `forest` it belongs to; `None` for a class of one.
#[inline(always)]
fn ross_term(
    forest: &Forest<'_>,
    all: &Forest<'_>,
    i: usize,
    me: u32,
    q: &[f32],
    k: usize,
) -> Option<f64> {
    let root = forest.root_of(i);
    if root == u32::MAX {
        return None;
    }
    let ny = forest.size(root);
    let ky = (k as u64).min(ny - 1);
    #[allow(clippy::cast_possible_truncation)] // ky ≤ k ≤ 64
    let rho = forest.kth(root, q, me, ky as usize);
    let (kk, m) = if rho > 0.0 {
        (ky, all.count(0, q, rho, false))
    } else {
        (forest.count(root, q, 0.0, true), all.count(0, q, 0.0, true))
    };
    Some(digamma(kk) - digamma(ny) - digamma(m))
}

/// The rows `Σ` averages over: all of them, or those whose id occurs at least twice.
fn kept(ids: &[u32], keys: &mut [u64]) -> u64 {
    let len = ids.len().min(keys.len());
    let keys = keys.get_mut(..len).unwrap_or_default();
    for (k, &id) in keys.iter_mut().zip(ids) {
        *k = u64::from(id);
    }
    keys.sort_unstable();
    let mut kept = 0u64;
    let mut s = 0usize;
    while s < keys.len() {
        let mut e = s + 1;
        while e < keys.len() && keys.get(e) == keys.get(s) {
            e += 1;
        }
        if e - s >= 2 {
            kept += (e - s) as u64;
        }
        s = e;
    }
    kept
}

fn nats(n: u64, sum: f64, count: u64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let v = digamma(n) + sum / count as f64;
    v.max(0.0)
}

impl Kind for KsgKind {
    fn name(&self) -> &'static str {
        "ksg"
    }

    fn summary(&self) -> &'static str {
        "k-nearest-neighbour estimate (Kraskov et al. 2004 for I(X;T) with input matrices, Ross 2014 for discrete labels or input groups)"
    }

    fn params(&self) -> &'static [Param] {
        &[Param::K, Param::Standardize]
    }

    fn check(&self, s: &Settings) -> Result<(), Error> {
        if !(1..=MAX_K).contains(&s.k) {
            return Err(Error::InvalidParameter { name: "k" });
        }
        Ok(())
    }

    fn scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        self.scratch_inputs(s, n, d, 0)
    }

    fn scratch_inputs(
        &self,
        _: &Settings,
        n: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        if n == 0 || d == 0 {
            return Err(Error::EmptyInput);
        }
        shared_req(n, d, dx)?.and(part_req(d, dx)?)
    }

    fn shared_scratch_inputs(
        &self,
        _: &Settings,
        n: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        shared_req(n, d, dx)
    }

    fn part_scratch_inputs(
        &self,
        _: &Settings,
        _: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        part_req(d, dx)
    }

    fn needs_inputs(&self) -> bool {
        true
    }

    fn exact_on_separated_clusters(&self) -> bool {
        false
    }

    fn max_parts(&self, n: usize, _: usize) -> usize {
        n.div_ceil(16).clamp(1, 1024)
    }

    fn part(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        let (n, d) = (layer.n(), layer.d());
        let dx = layer.x().map_or(0, |x| x.cols());
        let words = shared_req(n, d, dx)?.words();
        if scratch.len() < words {
            return Err(Error::ScratchTooSmall {
                needed: self.scratch_inputs(s, n, d, dx)?.words(),
                got: scratch.len(),
            });
        }
        let (shared, rest) = scratch.split_at_mut(words);
        let ix = Self::build(s, layer, shared)?;
        Ok(Partial::Rows(Self::rows(s, &ix, part, rest)?))
    }

    fn prepare<'s, 'a>(
        &self,
        s: &Settings,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<Prepared<'s, 'a>, Error> {
        Ok(Prepared::with_ksg(*layer, Self::build(s, layer, shared)?))
    }

    fn part_on(
        &self,
        s: &Settings,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        let ix = prepared
            .ksg()
            .ok_or(Error::InvalidParameter { name: "prepared" })?;
        Ok(Partial::Rows(Self::rows(s, ix, part, scratch)?))
    }

    fn finish(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        partial: Partial,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        check_layer(s, layer)?;
        let Partial::Rows(sums) = partial else {
            return Err(Error::InvalidParameter { name: "parts" });
        };
        let n = layer.n() as u64;
        let keys = scratch.get_mut(..layer.n()).ok_or(Error::ScratchTooSmall {
            needed: layer.n(),
            got: 0,
        })?;
        let i_xt = if layer.x().is_some() {
            nats(n, sums.get(0), n)
        } else {
            let ids = layer
                .inputs()
                .ok_or(Error::InvalidParameter { name: "inputs" })?;
            // One input for every sample: H(X) = 0, so I(X;T) is 0 exactly.
            if ids.windows(2).all(|w| w.first() == w.last()) {
                0.0
            } else {
                nats(n, sums.get(0), kept(ids, keys))
            }
        };
        let one_class = layer.labels().windows(2).all(|w| w.first() == w.last());
        let i_ty = if one_class {
            0.0
        } else {
            nats(n, sums.get(1), kept(layer.labels(), keys))
        };
        Ok(PlanePoint {
            i_xt: Info::from_nats(i_xt),
            i_ty: Info::from_nats(i_ty),
        })
    }
}
