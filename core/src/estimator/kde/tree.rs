//! The k-d tree the KDE bounds order rows by, built in caller scratch.
//!
//! Median splits on the widest coordinate, at leaf boundaries, by quickselect; leaves of
//! [`LANES`] rows; O(N·d·log N). Each leaf stores its rows coordinate-major (the 8 values of
//! unit 0, then of unit 1, …), so the kernel's inner loops run over 8 rows at once and
//! vectorise; beside it, per leaf, the 8 labels, row indices and input-group ids as `u32`.
//! Every node stores its bounding box; nodes are numbered in preorder.

use crate::Error;
use crate::mat::MatRef;

/// Rows per leaf, which is also the number of accumulator lanes.
pub(super) const LANES: usize = 8;

/// Depth limit of the explicit tree stacks. A tree over at most `u32::MAX` rows has at most
/// `2^29` leaves and so depth ≤ 30; 64 leaves a wide margin.
pub(super) const STACK: usize = 64;

/// The scratch regions a tree occupies, all of them written by [`Tree::build`].
#[derive(Debug)]
pub(super) struct TreeBufs<'s> {
    /// `leaves · 8 · d` coordinates.
    pub coords: &'s mut [f32],
    /// `leaves · 8` labels.
    pub labels: &'s mut [u32],
    /// `leaves · 8` row indices.
    pub rows: &'s mut [u32],
    /// `leaves · 8` input-group ids (the row index when there are no groups).
    pub groups: &'s mut [u32],
    /// `(2·leaves − 1) · 2d` node boxes.
    pub boxes: &'s mut [f32],
    /// `n` split keys while building.
    pub keys: &'s mut [f32],
    /// `n` row indices in tree order while building.
    pub order: &'s mut [u32],
}

/// A built tree.
#[derive(Debug)]
pub(super) struct Tree<'s> {
    coords: &'s [f32],
    labels: &'s [u32],
    rows: &'s [u32],
    groups: &'s [u32],
    boxes: &'s [f32],
    /// Number of rows.
    pub n: usize,
    /// Number of units.
    pub d: usize,
    /// Number of leaves.
    pub n_leaves: usize,
}

/// One leaf's data.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leaf<'s> {
    /// `8 · d` coordinates, coordinate-major.
    pub coords: &'s [f32],
    /// The 8 labels.
    pub labels: &'s [u32; LANES],
    /// The 8 row indices.
    pub rows: &'s [u32; LANES],
    /// The 8 input-group ids.
    pub groups: &'s [u32; LANES],
    /// How many of the 8 lanes hold real rows (the last leaf may be short).
    pub valid: usize,
}

const NO_LANES: [u32; LANES] = [0; LANES];

impl<'s> Tree<'s> {
    /// Copies the rows of `t` into the leaf layout and builds the k-d tree and its node boxes.
    /// `groups`: each row's input-group id, or `None` (then each row is its own group).
    pub(super) fn build(
        t: MatRef<'_>,
        labels: &[u32],
        groups: Option<&[u32]>,
        bufs: TreeBufs<'s>,
    ) -> Result<Self, Error> {
        let (n, d) = (t.rows(), t.cols());
        let n_leaves = n.div_ceil(LANES);
        let TreeBufs {
            coords,
            labels: leaf_labels,
            rows: leaf_rows,
            groups: leaf_groups,
            boxes,
            keys,
            order,
        } = bufs;
        order.iter_mut().zip(0u32..).for_each(|(o, i)| *o = i);
        let mut ord = Order { keys, order };
        // Preorder node ids: a subtree over s leaves has 2s − 1 nodes, so the right child of
        // node `id` over leaves a..b, split at m, is `id + 2(m − a)`.
        let mut stack = [(0usize, 0usize, 0usize); STACK];
        let mut top = 0usize;
        push(&mut stack, &mut top, (0, 0, n_leaves));
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
        // The leaves. Padding lanes of the last leaf (positions n..) repeat its first row, so
        // every stored value is finite and the smallest distance over a leaf's eight lanes is
        // the smallest over its real rows; they are masked out of every sum.
        let leaf_len = LANES * d;
        for (l, (((leaf, lab), ids), grp)) in coords
            .chunks_exact_mut(leaf_len.max(1))
            .zip(leaf_labels.chunks_exact_mut(LANES))
            .zip(leaf_rows.chunks_exact_mut(LANES))
            .zip(leaf_groups.chunks_exact_mut(LANES))
            .enumerate()
        {
            for lane in 0..LANES {
                let p = l * LANES + lane;
                let i = ord.index(if p < n { p } else { l * LANES });
                let row = t.row(i).unwrap_or(&[]);
                for (col, &v) in leaf.chunks_exact_mut(LANES).zip(row) {
                    if let Some(slot) = col.get_mut(lane) {
                        *slot = v;
                    }
                }
                let i32 = u32::try_from(i).unwrap_or(u32::MAX);
                if let (Some(y), Some(r), Some(g)) =
                    (lab.get_mut(lane), ids.get_mut(lane), grp.get_mut(lane))
                {
                    *y = labels.get(i).copied().unwrap_or(0);
                    *r = i32;
                    *g = groups.map_or(i32, |g| g.get(i).copied().unwrap_or(0));
                }
            }
        }
        Ok(Self {
            coords,
            labels: leaf_labels,
            rows: leaf_rows,
            groups: leaf_groups,
            boxes,
            n,
            d,
            n_leaves,
        })
    }

    /// A tree of no leaves over an `n × d` layer: what the wide path, which walks no tree,
    /// shares between parts.
    pub(super) const fn empty(n: usize, d: usize) -> Self {
        Self {
            coords: &[],
            labels: &[],
            rows: &[],
            groups: &[],
            boxes: &[],
            n,
            d,
            n_leaves: 0,
        }
    }

    /// Leaf `l`'s coordinates (`8 · d`, coordinate-major).
    #[inline]
    pub(super) fn coords(&self, l: usize) -> &'s [f32] {
        self.coords
            .get(l * LANES * self.d..(l + 1) * LANES * self.d)
            .unwrap_or(&[])
    }

    /// Leaf `l`'s labels.
    #[inline]
    pub(super) fn labels(&self, l: usize) -> &'s [u32; LANES] {
        lanes(self.labels, l)
    }

    /// Leaf `l`'s input groups.
    #[inline]
    pub(super) fn groups(&self, l: usize) -> &'s [u32; LANES] {
        lanes(self.groups, l)
    }

    /// How many of leaf `l`'s lanes hold real rows.
    #[inline]
    pub(super) fn valid(&self, l: usize) -> usize {
        self.n.saturating_sub(l * LANES).min(LANES)
    }

    /// Leaf `l`.
    pub(super) fn leaf(&self, l: usize) -> Leaf<'s> {
        Leaf {
            coords: self.coords(l),
            labels: self.labels(l),
            rows: lanes(self.rows, l),
            groups: self.groups(l),
            valid: self.valid(l),
        }
    }

    /// The box `(lo, hi)` of node `id`.
    pub(super) fn node_box(&self, id: usize) -> (&'s [f32], &'s [f32]) {
        let d = self.d;
        let bx = self.boxes.get(id * 2 * d..(id + 1) * 2 * d).unwrap_or(&[]);
        bx.split_at(d.min(bx.len()))
    }
}

/// The eight `u32`s of leaf `l` in a per-slot array.
#[inline]
fn lanes(v: &[u32], l: usize) -> &[u32; LANES] {
    v.get(l * LANES..(l + 1) * LANES)
        .and_then(|s| <&[u32; LANES]>::try_from(s).ok())
        .unwrap_or(&NO_LANES)
}

/// Pushes onto a fixed stack; `false` if it is full.
pub(super) fn push<T>(stack: &mut [T], top: &mut usize, v: T) -> bool {
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
pub(super) fn pop<T: Copy>(stack: &[T], top: &mut usize) -> Option<T> {
    *top = top.checked_sub(1)?;
    stack.get(*top).copied()
}

/// The row order while the tree is built: position `p` holds row `order[p]`, with `keys[p]`
/// its coordinate on the current node's split axis. Moving a key and an index is much
/// cheaper than moving whole rows.
struct Order<'s> {
    keys: &'s mut [f32],
    order: &'s mut [u32],
}

impl Order<'_> {
    #[inline]
    fn key(&self, p: usize) -> f32 {
        self.keys.get(p).copied().unwrap_or(0.0)
    }

    #[inline]
    fn index(&self, p: usize) -> usize {
        self.order.get(p).map_or(usize::MAX, |&i| i as usize)
    }

    #[inline]
    fn swap(&mut self, p: usize, q: usize) {
        if p < self.keys.len()
            && q < self.keys.len()
            && p < self.order.len()
            && q < self.order.len()
        {
            self.keys.swap(p, q);
            self.order.swap(p, q);
        }
    }

    /// Per-coordinate minimum and maximum over the rows at positions `r0..r1` (non-empty).
    fn bounding_box(&self, t: MatRef<'_>, r0: usize, r1: usize, lo: &mut [f32], hi: &mut [f32]) {
        lo.fill(f32::INFINITY);
        hi.fill(f32::NEG_INFINITY);
        for p in r0..r1 {
            let row = t.row(self.index(p)).unwrap_or(&[]);
            // Plain selections rather than `f32::min`/`max` (which handle NaN, and so do
            // not vectorise): every value is finite, and the sign a zero bound keeps does not
            // matter (widths and gaps are the same for ±0).
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                *l = if v < *l { v } else { *l };
                *h = if v > *h { v } else { *h };
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
            if let Some(slot) = self.keys.get_mut(p) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::float_cmp)]
    #![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    use super::*;
    use crate::rng::{Stream, StreamRng};
    use std::vec;
    use std::vec::Vec;

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
            for p in [1, len / 3, len / 2, len - 1] {
                let (mut k, mut o) = (keys.clone(), (0..len as u32).collect::<Vec<_>>());
                let mut ord = Order {
                    keys: &mut k,
                    order: &mut o,
                };
                ord.select(0, len, p);
                let left = (0..p).map(|q| ord.key(q)).fold(f32::NEG_INFINITY, f32::max);
                let right = (p..len).map(|q| ord.key(q)).fold(f32::INFINITY, f32::min);
                assert!(left <= right, "{p}");
                let mut seen: Vec<usize> = (0..len).map(|q| ord.index(q)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..len).collect::<Vec<_>>());
                for q in 0..len {
                    assert_eq!(ord.key(q).to_bits(), keys[ord.index(q)].to_bits());
                }
            }
            let (mut k, mut o) = (keys.clone(), (0..len as u32).collect::<Vec<_>>());
            let mut ord = Order {
                keys: &mut k,
                order: &mut o,
            };
            ord.heapsort(3, len);
            assert!((4..len).all(|q| ord.key(q - 1) <= ord.key(q)));
            assert!((0..3).all(|q| ord.index(q) == q));
        }
    }
}
