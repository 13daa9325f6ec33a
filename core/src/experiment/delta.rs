//! Delta skip (SPEC "When to measure"; the seed report's section 0.4.2): a planner that
//! measures fewer epochs where the plane moves little.
//!
//! The distance between two measured epochs e and ê is
//! D = max over layers and s ∈ {X, Y} of |I(s;T) at e − I(s;T) at ê| / H(s),
//! with one estimator's values (the configuration's `delta_estimator`, else its first) and
//! H(X), H(Y) the entropies of the data set's inputs and labels.
//!
//! * **Approximate** (report Fig. 9): measure epoch a + s after a; the stride s (from 1)
//!   doubles when the two are within δ and stays otherwise. Nothing is kept.
//! * **Exact** (report Figs. 6–7): as approximate, and a gap (a, c) whose ends are more than
//!   δ apart is bisected (the middle epoch measured, each half checked again) until every
//!   pair of consecutive measured epochs is within δ or adjacent. The epochs inside a gap
//!   are measured from **weight snapshots** the run keeps while it trains through the gap
//!   ([`Planner::keep`]), never from stored activations. At most `cap` snapshots are live:
//!   the stride never exceeds `cap + 1`, and the next forward window opens only once the
//!   gaps still being bisected leave room for it.
//!
//! The last epoch of the run is always measured, so the guarantee covers the whole run.
//! Every decision is made while observing a measurement, from the values of measurements
//! already observed, and queued in that order: the epochs asked for, and so the tickets,
//! the rows and every value, depend on neither the thread count nor timing.

use super::Measurement;
use super::planner::{Next, Planner};
use crate::dataset::Dataset;
use crate::math::log2_f64;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;

/// Most live snapshots an exact delta-skip run keeps by default.
pub const MAX_LIVE_SNAPSHOTS: u32 = 4096;
/// The memory the live snapshots of an exact delta-skip run may take by default (256 MiB):
/// the cap is `min(MAX_LIVE_SNAPSHOTS, SNAPSHOT_BUDGET / snapshot bytes)`, at least 1.
pub const SNAPSHOT_BUDGET: usize = 256 << 20;

/// The default cap on live snapshots for snapshots of `snapshot_bytes` bytes.
#[must_use]
pub fn default_cap(snapshot_bytes: usize) -> u32 {
    let by_bytes = SNAPSHOT_BUDGET / snapshot_bytes.max(1);
    u32::try_from(by_bytes)
        .unwrap_or(u32::MAX)
        .clamp(1, MAX_LIVE_SNAPSHOTS)
}

/// Entropy in bits of the counts' distribution.
fn entropy_bits(counts: impl Iterator<Item = u64>, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // counts below 2^53
    let nf = n as f64;
    counts
        .filter(|&c| c > 0)
        .map(|c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / nf;
            -p * log2_f64(p)
        })
        .sum()
}

/// H(X) and H(Y) of a data set, in bits: the entropy of its input groups (every row its own
/// input unless rows repeat) and of its labels.
#[must_use]
pub fn data_entropies(data: &Dataset) -> (f64, f64) {
    let n = data.rows() as u64;
    let h_x = match data.groups() {
        None => {
            #[allow(clippy::cast_precision_loss)]
            let rows = data.rows() as f64;
            log2_f64(rows.max(1.0))
        }
        Some(ids) => {
            let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
            for &g in ids {
                *counts.entry(g).or_insert(0) += 1;
            }
            entropy_bits(counts.into_values(), n)
        }
    };
    let mut counts = vec![0u64; data.classes() as usize];
    for &y in data.labels() {
        if let Some(c) = counts.get_mut(y as usize) {
            *c += 1;
        }
    }
    (h_x, entropy_bits(counts.into_iter(), n))
}

/// The distance between two epochs' values (per layer, I(X;T) and I(T;Y) in bits):
/// max over layers of |ΔI(X;T)| / H(X) and |ΔI(T;Y)| / H(Y); a term whose entropy is 0 is
/// left out.
#[must_use]
pub fn distance(a: &[(f64, f64)], b: &[(f64, f64)], h_x: f64, h_y: f64) -> f64 {
    // A value that is not finite says nothing about closeness: as far apart as can be (so
    // exact skip bisects rather than trusting it).
    let finite = |v: &[(f64, f64)]| v.iter().all(|(x, y)| x.is_finite() && y.is_finite());
    if a.len() != b.len() || !finite(a) || !finite(b) {
        return f64::INFINITY;
    }
    let mut d = 0.0f64;
    for (&(ax, ay), &(bx, by)) in a.iter().zip(b) {
        if h_x > 0.0 {
            d = d.max((ax - bx).abs() / h_x);
        }
        if h_y > 0.0 {
            d = d.max((ay - by).abs() / h_y);
        }
    }
    d
}

/// The interval an asked epoch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// The next forward epoch `c` after the anchor `a`: the window (a, c).
    Forward { a: u32 },
    /// The middle of a gap (l, r) being bisected.
    Mid { l: u32, r: u32 },
}

/// The delta-skip planner; see the module documentation.
#[derive(Debug, Clone)]
pub struct Delta {
    exact: bool,
    delta: f64,
    estimator: usize,
    h_x: f64,
    h_y: f64,
    total: u32,
    cap: u32,
    stride: u32,
    /// The last forward epoch observed.
    anchor: Option<u32>,
    /// The last forward epoch asked for.
    last_forward: Option<u32>,
    /// The next forward window waits for room among the live snapshots.
    deferred: bool,
    queue: VecDeque<u32>,
    /// Asked epochs not yet observed, with what they are for.
    asked: BTreeMap<u32, Ask>,
    /// Open intervals (l → r): the epochs strictly inside may still be measured.
    open: BTreeMap<u32, u32>,
    /// Values of observed epochs that are still an interval's end or the anchor.
    values: BTreeMap<u32, Vec<(f64, f64)>>,
    measured: u32,
}

impl Delta {
    /// A planner for a run of `total` (≥ 1) epochs: `exact` or approximate, threshold `delta`
    /// (≥ 0), the distance from estimator number `estimator`, H(X) = `h_x` and H(Y) = `h_y`
    /// bits, at most `cap` (≥ 1) live snapshots.
    #[must_use]
    pub fn new(
        exact: bool,
        delta: f64,
        estimator: usize,
        (h_x, h_y): (f64, f64),
        total: u32,
        cap: u32,
    ) -> Self {
        let mut queue = VecDeque::new();
        let mut asked = BTreeMap::new();
        if total > 0 {
            queue.push_back(0);
            asked.insert(0, Ask::Forward { a: 0 });
        }
        Self {
            exact,
            delta,
            estimator,
            h_x,
            h_y,
            total,
            cap: cap.max(1),
            stride: 1,
            anchor: None,
            last_forward: total.checked_sub(1).map(|_| 0),
            deferred: false,
            queue,
            asked,
            open: BTreeMap::new(),
            values: BTreeMap::new(),
            measured: 0,
        }
    }

    /// Epochs measured so far (observed).
    #[must_use]
    pub const fn measured(&self) -> u32 {
        self.measured
    }

    /// The cap on live snapshots.
    #[must_use]
    pub const fn cap(&self) -> u32 {
        self.cap
    }

    /// The largest stride: a window's inside must fit the cap when exact.
    fn max_stride(&self) -> u32 {
        if self.exact {
            self.cap.saturating_add(1)
        } else {
            u32::MAX / 2
        }
    }

    /// Snapshots the open intervals may hold (an upper bound on the live ones).
    fn live_bound(&self) -> u64 {
        self.open.iter().map(|(&l, &r)| u64::from(r - l - 1)).sum()
    }

    fn values_of(&self, m: &Measurement) -> Vec<(f64, f64)> {
        m.points
            .iter()
            .filter(|p| p.estimator == self.estimator)
            .map(|p| (p.point.i_xt.in_bits(), p.point.i_ty.in_bits()))
            .collect()
    }

    fn dist(&self, a: u32, b: u32) -> f64 {
        match (self.values.get(&a), self.values.get(&b)) {
            (Some(x), Some(y)) => distance(x, y, self.h_x, self.h_y),
            // Unreachable: both ends of an interval are observed before it is checked.
            _ => f64::INFINITY,
        }
    }

    /// Checks the gap (l, r), both observed: bisects it if it breaks δ and has an inside.
    fn check(&mut self, l: u32, r: u32) {
        if self.exact && r - l > 1 && self.dist(l, r) > self.delta {
            let mid = l + (r - l) / 2;
            self.open.insert(l, r);
            self.asked.insert(mid, Ask::Mid { l, r });
            self.queue.push_back(mid);
        }
    }

    /// Opens the next forward window if there is one and room for it.
    fn forward(&mut self) {
        let Some(a) = self.anchor else { return };
        if a + 1 >= self.total || self.last_forward != Some(a) {
            self.deferred = false;
            return;
        }
        let c = a.saturating_add(self.stride).min(self.total - 1);
        let inside = if self.exact { u64::from(c - a - 1) } else { 0 };
        if self.live_bound() + inside > u64::from(self.cap) {
            self.deferred = true;
            return;
        }
        self.deferred = false;
        if self.exact && c - a > 1 {
            self.open.insert(a, c);
        }
        self.asked.insert(c, Ask::Forward { a });
        self.queue.push_back(c);
        self.last_forward = Some(c);
    }

    /// Drops the values no interval or the anchor needs.
    fn prune(&mut self) {
        let (open, anchor) = (&self.open, self.anchor);
        self.values.retain(|e, _| {
            Some(*e) == anchor || open.contains_key(e) || open.values().any(|r| r == e)
        });
    }
}

impl Planner for Delta {
    fn next(&mut self) -> Next {
        if let Some(e) = self.queue.pop_front() {
            return Next::Epoch(e);
        }
        if self.asked.is_empty() && !self.deferred {
            Next::Done
        } else {
            Next::Wait
        }
    }

    fn observe(&mut self, m: &Measurement) {
        let e = m.epoch;
        let Some(ask) = self.asked.remove(&e) else {
            return;
        };
        self.measured += 1;
        let v = self.values_of(m);
        self.values.insert(e, v);
        match ask {
            Ask::Forward { a } => {
                if e > 0 {
                    self.open.remove(&a);
                    if self.dist(a, e) <= self.delta {
                        self.stride = self.stride.saturating_mul(2).min(self.max_stride());
                    }
                    self.check(a, e);
                }
                self.anchor = Some(e);
                // The forward window is decided after the gap's bisection is queued, so the
                // gap's middle is measured while training goes on.
                self.forward();
            }
            Ask::Mid { l, r } => {
                self.open.remove(&l);
                self.check(l, e);
                self.check(e, r);
                if self.deferred {
                    self.forward();
                }
            }
        }
        self.prune();
    }

    fn keep(&self, epoch: u32) -> bool {
        self.exact
            && self
                .open
                .range(..epoch)
                .next_back()
                .is_some_and(|(_, &r)| epoch < r)
    }

    fn settled(&self) -> Option<u32> {
        let open = self.open.keys().next().map(|&l| l + 1);
        let asked = self.asked.keys().next().copied();
        let forward = match self.last_forward {
            Some(f) if f + 1 < self.total => Some(f + 1),
            _ => None,
        };
        Some(
            [open, asked, forward]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(u32::MAX),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, clippy::indexing_slicing)]
    use super::*;
    use crate::experiment::LayerPoint;
    use crate::metrics::{Metrics, SplitMetrics};
    use crate::{Info, PlanePoint};
    use alloc::collections::BTreeSet;

    /// A measurement whose one layer has I(X;T) = `x` bits and I(T;Y) = `y` bits.
    fn meas(epoch: u32, (x, y): (f64, f64)) -> Measurement {
        let point = PlanePoint {
            i_xt: Info::from_bits(x),
            i_ty: Info::from_bits(y),
        };
        Measurement {
            epoch,
            points: vec![LayerPoint {
                layer: 1,
                estimator: 0,
                point,
            }],
            layers: Vec::new(),
            metrics: SplitMetrics {
                train: Metrics {
                    loss: 0.0,
                    accuracy: 0.0,
                    rows: 1,
                },
                test: None,
            },
        }
    }

    /// What a drive saw.
    struct Drive {
        /// Epochs in the order asked.
        asks: Vec<u32>,
        /// Most snapshots kept at once.
        max_live: usize,
    }

    /// Drives `p` as [`Run`](super::super::Run) and the experiment do: a forward ask trains
    /// through the epochs before it (keeping what the planner keeps), a backward ask must
    /// take a kept snapshot; at most `in_flight` asks are outstanding, and they are observed
    /// in ask order at moments a pseudo-random `seed` picks. Checks `settled` as it goes.
    fn drive(p: &mut Delta, f: &dyn Fn(u32) -> (f64, f64), in_flight: usize, seed: u64) -> Drive {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut coin = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & 1 == 0
        };
        let (mut frontier, mut kept) = (None::<u32>, BTreeSet::new());
        let mut outstanding = VecDeque::new();
        let (mut asks, mut max_live) = (Vec::new(), 0usize);
        // (asks made so far, settled then): every later ask and every outstanding epoch
        // must be at least the settled value.
        let mut settled = Vec::new();
        loop {
            let s = p.settled().unwrap();
            assert!(outstanding.iter().all(|&e| e >= s), "outstanding below {s}");
            settled.push((asks.len(), s));
            if !outstanding.is_empty() && (outstanding.len() >= in_flight || coin()) {
                let e = outstanding.pop_front().unwrap();
                p.observe(&meas(e, f(e)));
                kept.retain(|&k| p.keep(k));
                continue;
            }
            match p.next() {
                Next::Epoch(e) => {
                    if !kept.remove(&e) {
                        assert!(frontier.is_none_or(|fr| e > fr), "{e} asked, not kept");
                        for k in frontier.map_or(0, |fr| fr + 1)..e {
                            if p.keep(k) {
                                kept.insert(k);
                            }
                        }
                        frontier = Some(e);
                    }
                    max_live = max_live.max(kept.len());
                    asks.push(e);
                    outstanding.push_back(e);
                }
                Next::Wait => assert!(!outstanding.is_empty(), "waits with nothing asked"),
                Next::Done => {
                    assert!(outstanding.is_empty() && kept.is_empty());
                    break;
                }
            }
        }
        for (made, s) in settled {
            assert!(asks[made..].iter().all(|&e| e >= s), "asked below {s}");
        }
        Drive { asks, max_live }
    }

    fn sorted(asks: &[u32]) -> Vec<u32> {
        let mut v = asks.to_vec();
        v.sort_unstable();
        v
    }

    /// Every consecutive pair of `epochs` is within `delta` or adjacent.
    fn guaranteed(epochs: &[u32], f: &dyn Fn(u32) -> (f64, f64), delta: f64, h: (f64, f64)) {
        for w in epochs.windows(2) {
            let (a, b) = (w[0], w[1]);
            let d = distance(&[f(a)], &[f(b)], h.0, h.1);
            assert!(
                b - a == 1 || d <= delta,
                "{a} → {b}: distance {d} > {delta}"
            );
        }
    }

    #[test]
    fn a_still_plane_doubles_the_stride() {
        for exact in [true, false] {
            let mut p = Delta::new(exact, 0.01, 0, (12.0, 1.0), 100, 64);
            let d = drive(&mut p, &|_| (3.0, 0.5), 1, 1);
            assert_eq!(d.asks, [0, 1, 3, 7, 15, 31, 63, 99], "exact: {exact}");
            assert_eq!(p.measured(), 8);
        }
    }

    #[test]
    fn runs_of_one_and_two_epochs() {
        for exact in [true, false] {
            let mut p = Delta::new(exact, 0.01, 0, (12.0, 1.0), 1, 8);
            assert_eq!(drive(&mut p, &|_| (1.0, 0.5), 1, 1).asks, [0]);
            let mut p = Delta::new(exact, 0.01, 0, (12.0, 1.0), 2, 8);
            assert_eq!(drive(&mut p, &|e| (f64::from(e), 0.5), 1, 1).asks, [0, 1]);
        }
        let mut p = Delta::new(true, 0.01, 0, (12.0, 1.0), 0, 8);
        assert_eq!(p.next(), Next::Done);
    }

    #[test]
    fn a_jump_is_pinned_to_its_epoch() {
        // I(X;T) jumps by 6 bits (0.5 H(X)) between epochs 40 and 41.
        let f = |e: u32| (if e > 40 { 9.0 } else { 3.0 }, 0.5);
        let mut p = Delta::new(true, 0.1, 0, (12.0, 1.0), 100, 64);
        let d = drive(&mut p, &f, 1, 1);
        let got = sorted(&d.asks);
        assert!(got.contains(&40) && got.contains(&41), "{got:?}");
        guaranteed(&got, &f, 0.1, (12.0, 1.0));
        // Approximate: the stride stays at 32 over the jump and nothing goes back.
        let mut p = Delta::new(false, 0.1, 0, (12.0, 1.0), 100, 64);
        let d = drive(&mut p, &f, 1, 1);
        assert_eq!(d.asks, [0, 1, 3, 7, 15, 31, 63, 95, 99]);
        assert_eq!(d.max_live, 0, "approximate keeps nothing");
    }

    #[test]
    fn the_guarantee_holds_and_asks_do_not_depend_on_timing() {
        // A plane that moves fast early, then slowly, with a late burst and a fall (a
        // compression: only |ΔI| catches it), and I(T;Y) that wobbles.
        let f = |e: u32| {
            let t = f64::from(e);
            let x = 8.0 * (1.0 - crate::math::exp_f64(-t / 30.0)) - if e > 700 { 2.0 } else { 0.0 }
                + if (400..420).contains(&e) {
                    0.02 * (t - 400.0)
                } else {
                    0.0
                };
            (x, 0.5 + 0.1 * libm::sin(t / 50.0))
        };
        for (delta, cap) in [(0.01, 4096), (0.05, 4096), (0.01, 5), (0.002, 1)] {
            let mut first: Option<Vec<u32>> = None;
            for (in_flight, seed) in [(1, 1), (2, 7), (4, 3), (8, 11), (64, 5)] {
                let mut p = Delta::new(true, delta, 0, (12.0, 1.0), 1000, cap);
                let d = drive(&mut p, &f, in_flight, seed);
                assert!(
                    d.max_live <= cap as usize,
                    "{} live > cap {cap}",
                    d.max_live
                );
                let got = sorted(&d.asks);
                assert_eq!(got.len(), d.asks.len(), "an epoch asked twice");
                assert_eq!((got[0], *got.last().unwrap()), (0, 999));
                guaranteed(&got, &f, delta, (12.0, 1.0));
                match &first {
                    None => first = Some(d.asks),
                    Some(a) => assert_eq!(a, &d.asks, "δ {delta} cap {cap} in flight {in_flight}"),
                }
            }
            let n = first.unwrap().len();
            assert!(n < 1000, "δ {delta}, cap {cap}: measured all {n}");
        }
    }

    #[test]
    fn entropies_and_distance() {
        let d = distance(
            &[(1.0, 0.5), (2.0, 0.25)],
            &[(1.5, 0.5), (2.0, 0.75)],
            2.0,
            1.0,
        );
        assert_eq!(d, 0.5, "max of 0.5/2 and 0.5/1");
        assert_eq!(distance(&[(1.0, 1.0)], &[(3.0, 2.0)], 0.0, 0.0), 0.0);
        assert_eq!(
            distance(&[(f64::NAN, 1.0)], &[(3.0, 2.0)], 1.0, 1.0),
            f64::INFINITY
        );
        assert_eq!(distance(&[(1.0, 1.0)], &[], 1.0, 1.0), f64::INFINITY);
        let data = Dataset::tishby();
        let (hx, hy) = data_entropies(&data);
        assert_eq!(hx, 12.0);
        // 2 classes: H(Y) = h(p) for the share p of class 1.
        let p = data.labels().iter().filter(|&&y| y == 1).count() as f64 / 4096.0;
        let h = -p * log2_f64(p) - (1.0 - p) * log2_f64(1.0 - p);
        assert!((hy - h).abs() < 1e-15, "{hy} vs {h}");
        // Repeated inputs: H(X) of the groups.
        let x = vec![0.0, 0.0, 1.0, 1.0];
        let d = Dataset::from_f32("rep", x, 1, vec![0, 0, 1, 1], 2).unwrap();
        assert_eq!(data_entropies(&d), (1.0, 1.0));
        assert_eq!(default_cap(1), MAX_LIVE_SNAPSHOTS);
        assert_eq!(default_cap(SNAPSHOT_BUDGET / 10), 10);
        assert_eq!(default_cap(usize::MAX), 1);
    }
}
