//! A progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Epoch progress with a rate and an estimate of the time left.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    total: u64,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A bar for `total` steps; silent when `quiet` or when stderr is not a terminal.
    #[must_use]
    pub fn new(total: u64, quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            total,
            started: Instant::now(),
            last: None,
        }
    }

    /// Shows `done` steps finished (redrawn at most ten times a second).
    pub fn set(&mut self, done: u64) {
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
        let eta = if done > 0 {
            #[allow(clippy::cast_precision_loss)] // epoch counts are far below 2^52
            let left = secs * (self.total.saturating_sub(done)) as f64 / done as f64;
            format!("{left:.0}s left")
        } else {
            String::new()
        };
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
