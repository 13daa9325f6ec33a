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
    total_measures: u64,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A bar for `total` epochs and `total_measures` measurements (over all seeds); silent
    /// when `quiet` or when stderr is not a terminal.
    #[must_use]
    pub fn new(total: u64, total_measures: u64, quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            total,
            total_measures,
            started: Instant::now(),
            last: None,
        }
    }

    /// Seconds left: `elapsed` scaled by the remaining work over the work done, each kind
    /// of work weighed by its thread time per unit so far; `None` before any epoch.
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
        let cost_done = f(done.trained) * per_epoch + f(done.measured) * per_measure;
        let cost_left = f(self.total.saturating_sub(done.trained)) * per_epoch
            + f(self.total_measures.saturating_sub(done.measured)) * per_measure;
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
        let _ = write!(err, "\r[{bar}] epoch {done}/{} {eta}   ", self.total);
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
