//! The pruned traversal: which leaves each query row adds, and the 8 × 8 kernel blocks.
//!
//! Query rows go a leaf (8 rows) at a time down the tree. At each node, every row still in
//! play is tested against the node's box ([`points_box_alive`]); at a leaf, the block of
//! distances decides by the skip rule of [`add_leaf`] what is added. The tests only decide
//! which leaves are *looked at*; the skip rule decides what is added, and it depends only on
//! the row and the leaf, so a row's terms do not depend on which rows share its query leaf
//! or on how the work is split.

use super::tree::{LANES, STACK, Tree, pop, push};
use crate::math;

/// Per-call kernel parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kernel {
    /// `s = 1/(cσ²)`.
    pub scale: f32,
    /// Threshold on `D·s` of the per-row skip rule (see [`add_leaf`]).
    pub tau: f32,
    /// Whether anything may be skipped (off in the mode that evaluates every pair).
    pub prune: bool,
}

/// A query row: its index, label and input group.
#[derive(Debug, Clone, Copy)]
struct Query {
    row: usize,
    label: u32,
    group: u32,
}

/// The eight `f64` lane accumulators of one row's three sums.
#[derive(Clone, Copy)]
struct Lanes {
    all: [f64; LANES],
    class: [f64; LANES],
    group: [f64; LANES],
}

/// Computes the terms of the rows of leaf `ql` that `wanted` accepts and hands
/// `(row, [a, b, c])` to `sink`: `a` the log-sum over all rows, `b` over the row's class, `c`
/// over its input group (0 unless `GROUPS`). The leaf's rows share one walk down the tree;
/// a row drops out of a subtree as soon as the subtree's box is beyond `τ` for it, and the
/// walk ends where no row is left. Depth-first, left child first, so the leaves a row adds
/// come in ascending order.
#[inline(always)]
pub(super) fn query_leaf<const GROUPS: bool>(
    tree: &Tree<'_>,
    ql: usize,
    wanted: &impl Fn(usize) -> bool,
    k: &Kernel,
    sink: &mut impl FnMut(usize, [f64; 3]),
) {
    let qleaf = tree.leaf(ql);
    let mut query: [Option<Query>; LANES] = [None; LANES];
    for (lane, slot) in query.iter_mut().enumerate().take(qleaf.valid) {
        let row = qleaf.rows.get(lane).map_or(usize::MAX, |&r| r as usize);
        if wanted(row) {
            *slot = Some(Query {
                row,
                label: qleaf.labels.get(lane).copied().unwrap_or(0),
                group: qleaf.groups.get(lane).copied().unwrap_or(0),
            });
        }
    }
    if query.iter().all(Option::is_none) {
        return;
    }
    let zero = Lanes {
        all: [0.0; LANES],
        class: [0.0; LANES],
        group: [0.0; LANES],
    };
    let mut acc = [zero; LANES];
    let mut alive0 = 0u8;
    for (bit, q) in query.iter().enumerate() {
        if q.is_some() {
            alive0 |= 1 << bit;
        }
    }
    let mut stack = [(0usize, 0usize, 0usize, 0u8); STACK];
    let mut top = 0usize;
    push(&mut stack, &mut top, (0, 0, tree.n_leaves, alive0));
    while let Some((id, a, b, alive)) = pop(&stack, &mut top) {
        let (lo, hi) = tree.node_box(id);
        let alive = if k.prune {
            points_box_alive(qleaf.coords, lo, hi, alive, k)
        } else {
            alive
        };
        if alive == 0 {
            continue;
        }
        if b - a == 1 {
            add_leaf::<GROUPS>(tree, a, qleaf.coords, &query, alive, k, &mut acc);
        } else {
            let m = a + (b - a) / 2;
            if !push(&mut stack, &mut top, (id + 2 * (m - a), m, b, alive))
                || !push(&mut stack, &mut top, (id + 1, a, m, alive))
            {
                // Unreachable (depth ≤ 30 < STACK). Add every leaf below this node in order:
                // each leaf still decides for each row whether it is added, so the result is
                // unchanged.
                for l in a..b {
                    add_leaf::<GROUPS>(tree, l, qleaf.coords, &query, alive, k, &mut acc);
                }
            }
        }
    }
    for (q, lanes) in query.iter().zip(&acc) {
        if let Some(q) = *q {
            let c = if GROUPS {
                math::ln_f64(math::reduce_lanes_f64(lanes.group))
            } else {
                0.0
            };
            sink(
                q.row,
                [
                    math::ln_f64(math::reduce_lanes_f64(lanes.all)),
                    math::ln_f64(math::reduce_lanes_f64(lanes.class)),
                    c,
                ],
            );
        }
    }
}

/// Adds leaf `l` to the sums of the query rows (lanes of `qcoords`), as an 8 × 8 block: `D`
/// over coordinates in ascending order, one [`math::exp_neg`] per pair, lanes past the last
/// row masked to 0. Written over fixed `[_; 8]` arrays with bit masks instead of branches,
/// so it vectorises.
///
/// **The skip rule**, which defines each row's sum: a row skips the leaf when each of the
/// leaf's eight `D·s` exceeds `τ`. It depends only on the row and the leaf (padding lanes
/// repeat a real row of the leaf), never on which rows share the query leaf, so it is the
/// same in every call. With `τ = 87` every skipped value is exactly 0. The partial sums of
/// `D` never decrease, so the block stops early, after 2, 4, 8, … coordinates, once every
/// query row would skip.
#[inline(always)]
fn add_leaf<const GROUPS: bool>(
    tree: &Tree<'_>,
    l: usize,
    qcoords: &[f32],
    query: &[Option<Query>; LANES],
    alive: u8,
    k: &Kernel,
    acc: &mut [Lanes; LANES],
) {
    let coords = tree.coords(l);
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
    let (labels, groups, valid) = (tree.labels(l), tree.groups(l), tree.valid(l));
    let mut live = [0u32; LANES];
    for (lane, m) in live.iter_mut().enumerate() {
        *m = u32::from(lane < valid).wrapping_neg();
    }
    for (((row, q), lanes), &lq) in dist.iter().zip(query).zip(acc.iter_mut()).zip(&live_q) {
        let Some(q) = *q else {
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
        let mut kg = [0.0f32; LANES];
        for ((((((all, class), group), &dl), &lab), &grp), &lv) in kv
            .iter_mut()
            .zip(kc.iter_mut())
            .zip(kg.iter_mut())
            .zip(row)
            .zip(labels)
            .zip(groups)
            .zip(&live)
        {
            let e = math::exp_neg(-(dl * k.scale)).to_bits() & lv;
            // All-ones when the lane holds a row of the query's class (group), else zero.
            let same_class = u32::from(lab == q.label).wrapping_neg();
            *all = f32::from_bits(e);
            *class = f32::from_bits(e & same_class);
            if GROUPS {
                let same_group = u32::from(grp == q.group).wrapping_neg();
                *group = f32::from_bits(e & same_group);
            }
        }
        for (s, &v) in lanes.all.iter_mut().zip(&kv) {
            *s += f64::from(v);
        }
        for (s, &v) in lanes.class.iter_mut().zip(&kc) {
            *s += f64::from(v);
        }
        if GROUPS {
            for (s, &v) in lanes.group.iter_mut().zip(&kg) {
                *s += f64::from(v);
            }
        }
    }
}

/// The subset of `alive` (bit `a` = query lane `a`) whose rows are within `τ` of the box
/// `[lo, hi]`: `D·s` from each row to the box, summed in ascending coordinate order from 0
/// like `D`. Rounding is monotone, so no point of the box is closer in f32 than the box: a
/// row dropped here would skip every leaf below the node anyway.
#[inline(always)]
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
