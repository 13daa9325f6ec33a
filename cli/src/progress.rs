//! A progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Work done so far: epochs trained and measurements made, with the thread time of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Epochs trained.
    pub trained: u64,
    /// Snapshots measured.
    pub measured: u64,
    /// Thread nanoseconds spent training.
    pub train_ns: u64,
    /// Thread nanoseconds spent measuring.
    pub measure_ns: u64,
}

/// Epoch progress with an estimate of the time left.
///
/// The estimate weighs the two kinds of work separately: training costs about the same per
/// epoch, but measurements cluster early in log schedules, so a count of epochs alone would
/// overestimate the time left by up to the ratio of the two. Each kind's cost per unit is
/// the thread time spent on it so far over the units done; the time left is the wall time
/// so far scaled by the remaining cost over the cost done.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    total: u64,
    /// `None` when the schedule decides as it goes (delta skip): the measurements left are
    /// then taken to keep the rate so far.
    total_measures: Option<u64>,
    drivers: u64,
    workers: u64,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A bar for `total` epochs and `total_measures` measurements (over all seeds; `None`
    /// when not known in advance); silent when `quiet` or when stderr is not a terminal.
    #[must_use]
    pub fn new(total: u64, total_measures: Option<u64>, quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            total,
            total_measures,
            drivers: 1,
            workers: 0,
            started: Instant::now(),
            last: None,
        }
    }

    /// How the work runs: `drivers` seeds at once, each measuring on `workers` threads
    /// while it trains (0: it measures between epochs itself).
    #[must_use]
    pub const fn with_layout(mut self, drivers: u64, workers: u64) -> Self {
        self.drivers = if drivers == 0 { 1 } else { drivers };
        self.workers = workers;
        self
    }

    /// The cost of `epochs` epochs and `measures` measurements at the given thread time per
    /// unit, as the layout runs them: in sequence on each driver, or training and measuring
    /// side by side (the slower of the two) when a driver has workers.
    fn cost(&self, epochs: f64, measures: f64, per_epoch: f64, per_measure: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // thread counts
        let (d, w) = (self.drivers as f64, self.workers as f64);
        let (train, measure) = (epochs * per_epoch, measures * per_measure);
        if self.workers > 0 {
            train.max(measure / w) / d
        } else {
            (train + measure) / d
        }
    }

    /// Seconds left: `elapsed` scaled by the cost of the work left over the cost of the work
    /// done (`cost`: each kind of work weighed by its thread time per unit so
    /// far, so contention for the cores cancels out); `None` before any epoch.
    #[must_use]
    pub fn seconds_left(&self, elapsed: f64, done: Work) -> Option<f64> {
        if done.trained == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)] // counts and nanoseconds far below 2^52
        let f = |v: u64| v as f64;
        let per_epoch = f(done.train_ns) / f(done.trained);
        let per_measure = if done.measured > 0 {
            f(done.measure_ns) / f(done.measured)
        } else {
            0.0
        };
        let cost_done = self.cost(f(done.trained), f(done.measured), per_epoch, per_measure);
        let cost_left = self.cost(
            f(self.total.saturating_sub(done.trained)),
            self.total_measures.map_or_else(
                || f(done.measured) * f(self.total.saturating_sub(done.trained)) / f(done.trained),
                |t| f(t.saturating_sub(done.measured)),
            ),
            per_epoch,
            per_measure,
        );
        (cost_done > 0.0).then(|| elapsed * cost_left / cost_done)
    }

    /// Shows the work done so far (redrawn at most ten times a second).
    pub fn set(&mut self, work: Work) {
        let done = work.trained;
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < Duration::from_millis(100))
            && done < self.total
        {
            return;
        }
        self.last = Some(now);
        let width = 30u64;
        let filled = (done * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width);
        let secs = now.duration_since(self.started).as_secs_f64();
        let eta = self
            .seconds_left(secs, work)
            .map_or_else(String::new, |left| format!("{left:.0}s left"));
        let bar: String = (0..width)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{bar}] epoch {done}/{} {secs:.0}s elapsed, {eta}   ",
            self.total
        );
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    use super::*;

    /// A run of `epochs` epochs measured at `measured` (sorted), training costing `t` and a
    /// measurement `m` time units, on one thread: the work done after each epoch.
    fn timeline(epochs: u64, measured: &[u64], t: u64, m: u64) -> Vec<(u64, Work)> {
        let mut now = 0;
        let mut w = Work::default();
        let mut out = Vec::new();
        let mut k = 0;
        for e in 0..epochs {
            while measured.get(k) == Some(&e) {
                now += m;
                w.measured += 1;
                w.measure_ns += m;
                k += 1;
            }
            now += t;
            w.trained += 1;
            w.train_ns += t;
            out.push((now, w));
        }
        out
    }

    #[test]
    fn time_left_is_right_within_2x_from_5_percent_on_a_log_schedule() {
        // Tishby's log schedule: every early epoch measured, then ever sparser; measuring
        // costs 30 epochs of training. Counting epochs alone is off by far more than 2×.
        let epochs = 8000;
        let mut measured: Vec<u64> = (0..=400)
            .map(|i| infoplane_core::math::pow_f64(10.0, f64::from(i) * 3.903 / 400.0) as u64 - 1)
            .collect();
        measured.dedup();
        let line = timeline(epochs, &measured, 1, 30);
        let total = line.last().unwrap().0 as f64;
        let p = Progress {
            enabled: false,
            total: epochs,
            total_measures: Some(measured.len() as u64),
            drivers: 1,
            workers: 0,
            started: Instant::now(),
            last: None,
        };
        let mut naive_worst = 1.0f64;
        for &(now, w) in &line {
            let elapsed = now as f64;
            if elapsed < 0.05 * total || elapsed >= total {
                continue;
            }
            let truth = total - elapsed;
            let left = p.seconds_left(elapsed, w).unwrap();
            assert!(
                left <= 2.0 * truth && left >= truth / 2.0,
                "{w:?}: {left} vs {truth}"
            );
            let naive = elapsed * (epochs - w.trained) as f64 / w.trained as f64;
            naive_worst = naive_worst.max(naive / truth);
        }
        assert!(
            naive_worst > 2.0,
            "the epoch count alone would be wrong: {naive_worst}"
        );
        assert_eq!(p.seconds_left(0.0, Work::default()), None);
    }

    #[test]
    fn unknown_measurement_counts_keep_the_rate_so_far() {
        // Delta skip: 5 measurements in the first 25 of 100 epochs, so 15 more are expected.
        // Training 1 ns per epoch, 10 ns per measurement, on one thread: 75 ns done, and
        // 75 + 150 ns left.
        let p = Progress::new(100, None, true);
        let w = Work {
            trained: 25,
            measured: 5,
            train_ns: 25,
            measure_ns: 50,
        };
        let left = p.seconds_left(75.0, w).unwrap();
        assert!((left - 225.0).abs() < 1e-9, "{left}");
    }
}
