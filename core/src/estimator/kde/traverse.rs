//! The pruned traversal: which leaves each query row adds, and the 8 × 8 kernel blocks.
//!
//! Query rows go a leaf (8 rows) at a time down the tree. At each node, every row still in
//! play is tested against the node's box ([`points_box_alive`]); at a leaf, the block of
//! distances decides by the skip rule of [`add_leaf`] what is added. The tests only decide
//! which leaves are *looked at*; the skip rule decides what is added, and it depends only on
//! the row and the leaf, so a row's terms do not depend on which rows share its query leaf
//! or on how the work is split.

use super::tree::{LANES, Leaf, STACK, Tree, pop, push};
use crate::math;
use core::ops::Range;

/// Per-call kernel parameters for `B` bounds computed in one walk (1, or 2 for both KDE
/// bounds: the lower bound's pairs include the upper bound's).
#[derive(Debug, Clone, Copy)]
pub(super) struct Kernel<const B: usize> {
    /// Each bound's `s = 1/(cσ²)`.
    pub scales: [f32; B],
    /// The smallest of `scales`: the walk looks at every leaf some bound adds.
    pub reach: f32,
    /// Threshold on `D·s` of the per-row skip rule (see [`add_leaf`]).
    pub tau: f32,
    /// Whether anything may be skipped (off in the mode that evaluates every pair).
    pub prune: bool,
    /// Whether the walk tests node boxes ([`uses_boxes`]); without, it looks at every leaf.
    pub boxes: bool,
}

/// Whether walks of a tree of `leaves` leaves over `d` units test node boxes. Trees of at
/// most [`SMALL_TREE`] leaves (64 rows) are walked leaf by leaf, without box tests; so are
/// trees of at most [`SMALL_WIDE_TREE`] leaves over at least [`WIDE`] units, where the boxes
/// prune little. The tests only decide which leaves are looked at, so the bits are the same
/// either way (tested). Measured (`cargo bench -p infoplane-benches --bench kde --
/// kde_upper_small`, uniform rows, σ² = 1e-3, against box tests): 64 × 10 0.82× the time,
/// 64 × 3 0.95×, 256 × 10 0.83×, 256 × 6 0.94×, 256 × 10 at σ² = 1 0.71×; but 256 × 3 took
/// 1.19×, so narrow layers keep their box tests from 72 rows on.
pub(super) const fn uses_boxes(leaves: usize, d: usize) -> bool {
    !(leaves <= SMALL_TREE || (leaves <= SMALL_WIDE_TREE && d >= WIDE))
}

/// A query row: its label and input group.
#[derive(Debug, Clone, Copy)]
struct Query {
    label: u32,
    group: u32,
}

/// One row's three sums in eight `f64` lanes each: over all rows (`[0..8]`), over the row's
/// class (`[8..16]`), over its input group (`[16..24]`). Plain arrays, so a block of them
/// can live in `f64` scratch.
pub(super) type RowAcc = [f64; 3 * LANES];

/// A leaf's eight [`RowAcc`]s while its rows receive pushed blocks, transposed: entry
/// `[s·8 + j][r]` is lane `j` of sum `s` of the leaf's row `r`, so the kernel values of one
/// pushing row `j` (one per row `r`) add as one vector. The same values, added in the same
/// order, as the `[r][s·8 + j]` of the rows' own [`RowAcc`]s.
pub(super) type PushAcc = [[f64; LANES]; 3 * LANES];

/// A leaf's row sums, one [`RowAcc`] per row, for one bound.
pub(super) type LeafAcc = [RowAcc; LANES];

/// The leaf's sums of every bound from the row layout to the pushed layout (`push`) or back.
#[inline(always)]
pub(super) fn transpose_sets<const B: usize>(sets: &mut [LeafAcc; B], push: bool) {
    for leaf in sets {
        transpose_sums(leaf, push);
    }
}

/// The leaf's sums from the row layout to the pushed layout (`push`) or back.
#[inline(always)]
fn transpose_sums(leaf: &mut LeafAcc, push: bool) {
    if push {
        let rows = *leaf;
        let t: &mut PushAcc = bytemuck::cast_mut(leaf);
        for (c, tc) in t.iter_mut().enumerate() {
            for (v, row) in tc.iter_mut().zip(&rows) {
                *v = row.get(c).copied().unwrap_or(0.0);
            }
        }
    } else {
        let t: PushAcc = *bytemuck::cast_ref::<_, PushAcc>(leaf);
        for (r, row) in leaf.iter_mut().enumerate() {
            for (v, tc) in row.iter_mut().zip(&t) {
                *v = tc.get(r).copied().unwrap_or(0.0);
            }
        }
    }
}

/// The three lane sets of a [`RowAcc`].
#[inline(always)]
fn lanes(a: &mut RowAcc) -> (&mut [f64; LANES], &mut [f64; LANES], &mut [f64; LANES]) {
    let (all, rest) = a
        .split_first_chunk_mut::<LANES>()
        .unwrap_or_else(|| unreachable!());
    let (class, group) = rest
        .split_first_chunk_mut::<LANES>()
        .unwrap_or_else(|| unreachable!());
    let group: &mut [f64; LANES] = group.try_into().unwrap_or_else(|_| unreachable!());
    (all, class, group)
}

/// The per-row terms `[a, b, c]` from a finished [`RowAcc`]: each sum's lanes combined as
/// `((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))`, then `ln` (`c` = 0 unless `GROUPS`).
#[inline(always)]
pub(super) fn row_terms<const GROUPS: bool>(acc: &mut RowAcc) -> [f64; 3] {
    let (all, class, group) = lanes(acc);
    let c = if GROUPS {
        math::ln_f64(math::reduce_lanes_f64(*group))
    } else {
        0.0
    };
    [
        math::ln_f64(math::reduce_lanes_f64(*all)),
        math::ln_f64(math::reduce_lanes_f64(*class)),
        c,
    ]
}

/// One walk of query leaf `ql` down the tree over the leaves `visit`, adding each visited
/// leaf (by the skip rule of [`add_leaf`], for each bound) to the query rows' sums `acc`
/// (one set per bound).
///
/// Leaves `push_start..push_start + pushed.len() / B` (after `ql`, inside `visit`) are
/// *pushed*: their 8 × 8 block of kernel values, computed once, is also added to their own
/// rows' sums in `pushed`, as those rows would add leaf `ql` in a walk of their own
/// (distances and kernel values are symmetric bit for bit, and so is the skip rule). The
/// caller arranges the walks so that every row still receives its leaves in ascending order
/// (see `Queries` in the parent module).
///
/// The leaf's rows share one walk: a row drops out of a subtree as soon as the subtree's box
/// is beyond `τ` for it, and the walk ends where no row is left. Depth-first, left child
/// first, so the leaves come in ascending order.
#[inline(always)]
pub(super) fn walk<const GROUPS: bool, const B: usize>(
    tree: &Tree<'_>,
    ql: usize,
    visit: Range<usize>,
    k: &Kernel<B>,
    acc: &mut [LeafAcc; B],
    pushed: &mut [LeafAcc],
    push_start: usize,
) {
    let qleaf = tree.leaf(ql);
    let mut query: [Option<Query>; LANES] = [None; LANES];
    let mut alive0 = 0u8;
    for (lane, slot) in query.iter_mut().enumerate().take(qleaf.valid) {
        *slot = Some(Query {
            label: qleaf.labels.get(lane).copied().unwrap_or(0),
            group: qleaf.groups.get(lane).copied().unwrap_or(0),
        });
        alive0 |= 1 << lane;
    }
    if alive0 == 0 || visit.is_empty() {
        return;
    }
    if !k.boxes {
        // A small tree: every leaf of `visit` in order, without box tests (they only decide
        // which leaves are looked at; the skip rule still decides what is added).
        for l in visit.clone() {
            let target = pushed_leaf(pushed, push_start, l);
            add_leaf::<GROUPS, B>(tree, l, &qleaf, &query, alive0, k, acc, target);
        }
        return;
    }
    let mut stack = [(0usize, 0usize, 0usize, 0u8); STACK];
    let mut top = 0usize;
    push(&mut stack, &mut top, (0, 0, tree.n_leaves, alive0));
    while let Some((id, a, b, alive)) = pop(&stack, &mut top) {
        if b <= visit.start || a >= visit.end {
            continue;
        }
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
            let target = pushed_leaf(pushed, push_start, a);
            add_leaf::<GROUPS, B>(tree, a, &qleaf, &query, alive, k, acc, target);
        } else {
            let m = a + (b - a) / 2;
            if !push(&mut stack, &mut top, (id + 2 * (m - a), m, b, alive))
                || !push(&mut stack, &mut top, (id + 1, a, m, alive))
            {
                // Unreachable (depth ≤ 30 < STACK). Add every leaf below this node in order:
                // each leaf still decides for each row whether it is added, so the result is
                // unchanged.
                for l in a.max(visit.start)..b.min(visit.end) {
                    let target = pushed_leaf(pushed, push_start, l);
                    add_leaf::<GROUPS, B>(tree, l, &qleaf, &query, alive, k, acc, target);
                }
            }
        }
    }
}

/// See [`uses_boxes`].
const SMALL_TREE: usize = 8;
/// See [`uses_boxes`].
const SMALL_WIDE_TREE: usize = 32;
/// See [`uses_boxes`].
const WIDE: usize = 6;

/// Leaf `l`'s sums of every bound in `pushed` (which holds leaves `push_start..`, `B` sets
/// each), in the pushed layout; `None` for a leaf outside it.
#[inline(always)]
fn pushed_leaf<const B: usize>(
    pushed: &mut [LeafAcc],
    push_start: usize,
    l: usize,
) -> Option<&mut [LeafAcc; B]> {
    let i = l.checked_sub(push_start)?;
    let t = pushed.get_mut(i * B..(i + 1) * B)?;
    <&mut [LeafAcc; B]>::try_from(t).ok()
}

/// Adds leaf `l` to the sums of the query rows (lanes of `qleaf`), as an 8 × 8 block: `D`
/// over coordinates in ascending order, one [`math::exp_neg`] per pair, lanes past the last
/// row masked to 0; with `pushed`, also the query leaf to the sums of leaf `l`'s rows (the
/// same block, transposed). Written over fixed `[_; 8]` arrays with bit masks instead of
/// branches, so it vectorises.
///
/// **The skip rule**, which defines each row's sum: a row skips a leaf when each of the
/// leaf's eight `D·s` exceeds `τ`. It depends only on the row and the leaf (padding lanes
/// repeat a real row of the leaf), never on which rows share the query leaf, so it is the
/// same in every call, and it is symmetric: a row of leaf `l` skips the query leaf exactly
/// when its column of the block is beyond `τ`. With `τ = 87` every skipped value is exactly
/// 0. The partial sums of `D` never decrease, so the block stops early, after 2, 4, 8, …
/// coordinates, once every live query row would skip (rows the walk dropped are beyond `τ`
/// of the whole subtree, so then every row of leaf `l` skips the query leaf too).
///
/// With `B = 2` bounds the block of distances is shared: the walk and the early stop use the
/// smaller scale (the farther reach), and each bound applies its own skip rule to the same
/// block, so each bound's sums get exactly the values, in the order, of a walk of its own (a
/// leaf one bound skips adds nothing to its sums).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn add_leaf<const GROUPS: bool, const B: usize>(
    tree: &Tree<'_>,
    l: usize,
    qleaf: &Leaf<'_>,
    query: &[Option<Query>; LANES],
    alive: u8,
    k: &Kernel<B>,
    acc: &mut [LeafAcc; B],
    pushed: Option<&mut [LeafAcc; B]>,
) {
    let coords = tree.coords(l);
    let mut live_q = [0u32; LANES];
    for (bit, m) in live_q.iter_mut().enumerate() {
        *m = u32::from(alive >> bit & 1).wrapping_neg();
    }
    let keeps = |row: &[f32; LANES]| keeps(row, k.reach, k.tau);
    let mut dist = [[0.0f32; LANES]; LANES];
    let mut check = 2usize;
    for (j, (col, qcol)) in coords
        .chunks_exact(LANES)
        .zip(qleaf.coords.chunks_exact(LANES))
        .enumerate()
    {
        let (Ok(col), Ok(qcol)) = (
            <&[f32; LANES]>::try_from(col),
            <&[f32; LANES]>::try_from(qcol),
        ) else {
            continue;
        };
        for (row, &x) in dist.iter_mut().zip(qcol) {
            *row = add_sq(*row, x, col);
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
    let leaf = LeafRows {
        labels,
        groups,
        live: &live,
    };
    match pushed {
        Some(pushed) => {
            for ((&scale, acc), pushed) in k.scales.iter().zip(acc).zip(pushed) {
                let pushed: &mut PushAcc = bytemuck::cast_mut(pushed);
                add_block::<GROUPS, B>(&dist, scale, k, &leaf, query, &live_q, acc, Some(pushed));
            }
        }
        None => {
            for (&scale, acc) in k.scales.iter().zip(acc) {
                add_block::<GROUPS, B>(&dist, scale, k, &leaf, query, &live_q, acc, None);
            }
        }
    }
}

/// 1 where some lane of the row is within τ at `scale` (the row keeps the leaf), 0 otherwise.
#[inline(always)]
fn keeps(row: &[f32; LANES], scale: f32, tau: f32) -> u32 {
    row.iter()
        .fold(0u32, |m, &v| m | u32::from(v * scale <= tau))
}

/// The other leaf's rows in an 8 × 8 block: labels, input groups, and `live` (all ones for
/// a real row, 0 for padding).
struct LeafRows<'a> {
    labels: &'a [u32; LANES],
    groups: &'a [u32; LANES],
    live: &'a [u32; LANES],
}

/// One bound's part of [`add_leaf`]: the block of distances `dist` at kernel scale `scale`,
/// added to the query rows' sums `acc` by the skip rule and, with `pushed`, to the other
/// leaf's rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn add_block<const GROUPS: bool, const B: usize>(
    dist: &[[f32; LANES]; LANES],
    scale: f32,
    k: &Kernel<B>,
    leaf: &LeafRows<'_>,
    query: &[Option<Query>; LANES],
    live_q: &[u32; LANES],
    acc: &mut LeafAcc,
    pushed: Option<&mut PushAcc>,
) {
    let (labels, groups, live) = (leaf.labels, leaf.groups, leaf.live);
    if B > 1 && k.prune && dist.iter().all(|row| keeps(row, scale, k.tau) == 0) {
        // Every row and every column of the block skips it at this bound.
        return;
    }
    if let Some(pushed) = pushed {
        // Leaf l's rows that keep the query leaf: some entry of their column within τ.
        let mut col_keep = [0u32; LANES];
        for row in dist {
            for (m, &v) in col_keep.iter_mut().zip(row) {
                *m |= u32::from(!k.prune || v * scale <= k.tau);
            }
        }
        let mut col_mask = [0u32; LANES];
        for ((m, &c), &lv) in col_mask.iter_mut().zip(&col_keep).zip(live) {
            *m = c.wrapping_neg() & lv;
        }
        let (p_all, rest) = pushed.split_at_mut(LANES);
        let (p_class, p_group) = rest.split_at_mut(LANES);
        // The whole block of kernel values first, as one run of f32 vector work.
        let mut e = [[0.0f32; LANES]; LANES];
        for (er, row) in e.iter_mut().zip(dist) {
            *er = exp_row(row, scale);
        }
        for (((((row, er), q), a), &lq), ((pa, pc), pg)) in dist
            .iter()
            .zip(&e)
            .zip(query)
            .zip(acc.iter_mut())
            .zip(live_q)
            .zip(
                p_all
                    .iter_mut()
                    .zip(p_class.iter_mut())
                    .zip(p_group.iter_mut()),
            )
        {
            let Some(q) = *q else {
                continue;
            };
            if lq != 0 && !(k.prune && keeps(row, scale, k.tau) == 0) {
                add_row::<GROUPS>(a, er, labels, groups, live, q.label, q.group);
            }
            // This row's values to leaf l's rows, in its lane of each: masked by which rows
            // keep the query leaf.
            add_pushed::<GROUPS>(pa, pc, pg, er, labels, groups, &col_mask, q.label, q.group);
        }
        return;
    }
    for (((row, q), a), &lq) in dist.iter().zip(query).zip(acc.iter_mut()).zip(live_q) {
        let Some(q) = *q else {
            continue;
        };
        if lq == 0 {
            continue;
        }
        if k.prune && keeps(row, scale, k.tau) == 0 {
            continue;
        }
        let er = exp_row(row, scale);
        add_row::<GROUPS>(a, &er, labels, groups, live, q.label, q.group);
    }
}

/// `acc + (x − col)²`, lane by lane, by value (so the row stays in a register).
#[inline(always)]
fn add_sq(acc: [f32; LANES], x: f32, col: &[f32; LANES]) -> [f32; LANES] {
    let mut out = acc;
    for (s, &v) in out.iter_mut().zip(col) {
        let diff = x - v;
        *s += diff * diff;
    }
    out
}

/// `exp_neg(−(D·s))` of eight distances.
#[inline(always)]
fn exp_row(row: &[f32; LANES], scale: f32) -> [f32; LANES] {
    let [d0, d1, d2, d3, d4, d5, d6, d7] = *row;
    // Straight-line, one lane each, so the vectoriser takes all eight lanes at once.
    let e = |d: f32| math::exp_neg(-(d * scale));
    [e(d0), e(d1), e(d2), e(d3), e(d4), e(d5), e(d6), e(d7)]
}

/// Adds one pushing row's eight kernel values `e` (lane `r` for the other leaf's row `r`)
/// to lane `j` of those rows' sums, in the pushed layout (`pa`, `pc`, `pg`: lane `j` of the
/// sums over all rows, the class, the group, for the eight rows): masked by `mask` (rows
/// that keep the pushing leaf, and are real), by the rows' labels against `label` and
/// groups against `group`. Adding a masked +0 leaves a lane's bits (lanes never hold −0).
/// [`add_row`] is the same with one row's own three lane sets.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn add_pushed<const GROUPS: bool>(
    pa: &mut [f64; LANES],
    pc: &mut [f64; LANES],
    pg: &mut [f64; LANES],
    e: &[f32; LANES],
    labels: &[u32; LANES],
    groups: &[u32; LANES],
    mask: &[u32; LANES],
    label: u32,
    group: u32,
) {
    let mut kv = [0.0f32; LANES];
    let mut kc = [0.0f32; LANES];
    let mut kg = [0.0f32; LANES];
    for ((((((all, class), grp_v), &ev), &lab), &grp), &m) in kv
        .iter_mut()
        .zip(kc.iter_mut())
        .zip(kg.iter_mut())
        .zip(e)
        .zip(labels)
        .zip(groups)
        .zip(mask)
    {
        let e = ev.to_bits() & m;
        *all = f32::from_bits(e);
        *class = f32::from_bits(e & u32::from(lab == label).wrapping_neg());
        if GROUPS {
            *grp_v = f32::from_bits(e & u32::from(grp == group).wrapping_neg());
        }
    }
    for (s, &v) in pa.iter_mut().zip(&kv) {
        *s += f64::from(v);
    }
    for (s, &v) in pc.iter_mut().zip(&kc) {
        *s += f64::from(v);
    }
    if GROUPS {
        for (s, &v) in pg.iter_mut().zip(&kg) {
            *s += f64::from(v);
        }
    }
}

/// Adds one row's eight kernel values `e` (lane `j` from the other leaf's row `j`) to its
/// sums: all of them (masked by `live`), those of its class `label`, those of its input
/// group `group` (if `GROUPS`).
#[inline(always)]
fn add_row<const GROUPS: bool>(
    a: &mut RowAcc,
    e: &[f32; LANES],
    labels: &[u32; LANES],
    groups: &[u32; LANES],
    live: &[u32; LANES],
    label: u32,
    group: u32,
) {
    let (sa, sc, sg) = lanes(a);
    add_pushed::<GROUPS>(sa, sc, sg, e, labels, groups, live, label, group);
}

/// The subset of `alive` (bit `a` = query lane `a`) whose rows are within `τ` of the box
/// `[lo, hi]`: `D·s` from each row to the box, summed in ascending coordinate order from 0
/// like `D`. Rounding is monotone, so no point of the box is closer in f32 than the box: a
/// row dropped here would skip every leaf below the node anyway.
#[inline(always)]
fn points_box_alive<const B: usize>(
    qcoords: &[f32],
    lo: &[f32],
    hi: &[f32],
    alive: u8,
    k: &Kernel<B>,
) -> u8 {
    let mut s = [0.0f32; LANES];
    for ((col, &l), &h) in qcoords.chunks_exact(LANES).zip(lo).zip(hi) {
        if let Ok(col) = <&[f32; LANES]>::try_from(col) {
            s = add_gap_sq(s, l, h, col);
        }
    }
    let mut keep = 0u8;
    for (bit, &v) in s.iter().enumerate() {
        keep |= u8::from(v * k.reach <= k.tau) << bit;
    }
    keep & alive
}

/// `acc + g²` lane by lane, `g` the distance from `x` to `[l, h]` (0 inside), by value. The
/// maxima are plain selections: coordinates are finite, and `g²` is the same for ±0.
#[inline(always)]
fn add_gap_sq(acc: [f32; LANES], l: f32, h: f32, col: &[f32; LANES]) -> [f32; LANES] {
    let mut out = acc;
    for (s, &x) in out.iter_mut().zip(col) {
        let (below, above) = (l - x, x - h);
        let g = if below > above { below } else { above };
        let g = if g > 0.0 { g } else { 0.0 };
        *s += g * g;
    }
    out
}
