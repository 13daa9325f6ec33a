//! Which epochs to measure (SPEC: epoch schedules).

use crate::Error;
use crate::math;
use core::fmt::{self, Write as _};

/// The forms a schedule is written in, for messages that say what is accepted.
pub const FORMS: &str = "log:S (2 ≤ S ≤ 16777216, Tishby's log spacing), every:N (N ≥ 1), saxe, saxe-mnist, list:E,E,.. (strictly increasing, each below the epoch count), or delta-exact:δ / delta-approx:δ (delta skip; δ a finite number ≥ 0, the largest change between consecutive measured epochs as a share of H(X) or H(Y))";

/// Most points a log schedule takes (2²⁴): beyond a few times the epoch count they only
/// repeat epochs, and the schedule is expanded point by point.
pub const MAX_LOG_POINTS: u32 = 1 << 24;

/// When a measured epoch's activations are captured, relative to that epoch's update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Before the epoch's update (IDNNs; epoch 0 is the initial weights).
    Before,
    /// After the epoch's update (the paper scripts, ibsgd).
    After,
}

impl Capture {
    /// Both, in a fixed order.
    pub const ALL: [Capture; 2] = [Self::Before, Self::After];

    /// `"before"` or `"after"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::After => "after",
        }
    }

    /// The capture point called [`Capture::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// How many epochs have been trained when epoch `e` is captured: `e` before its
    /// update, `e + 1` after it.
    #[must_use]
    pub const fn trained_at(self, e: u32) -> u64 {
        match self {
            Self::Before => e as u64,
            Self::After => e as u64 + 1,
        }
    }
}

/// An epoch schedule. Epochs are counted from 0; a schedule yields, in increasing order, the
/// epochs below the run's total at which the plane is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule<'a> {
    /// 0, n, 2n, …
    Every(u32),
    /// Exactly these epochs (strictly increasing).
    List(&'a [u32]),
    /// Shwartz-Ziv & Tishby's log schedule with `points` samples:
    /// unique(⌊2^linspace(0, log₂ E, points)⌋) − 1 (IDNNs' `np.logspace(…, dtype=int)`).
    /// E = 8000 and 400 points give 274 epochs, 0…43 then log-spaced to 7999.
    Log {
        /// Number of log-spaced samples before removing duplicates (IDNNs'
        /// `num_of_samples`).
        points: u32,
    },
    /// Saxe et al.'s ibsgd: every epoch below 20, every 5th below 100, every 20th below
    /// 2000, then every 100th (211 epochs of 10000).
    Saxe,
    /// ibsgd's MNIST schedule: every epoch below 20, every 5th below 100, every 10th below
    /// 200, then every 100th.
    SaxeMnist,
}

impl<'a> Schedule<'a> {
    /// Checks the schedule against a run of `total` epochs.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for `total == 0`; [`Error::InvalidParameter`] `"schedule"` for
    /// `Every(0)`, `Log` with fewer than 2 points, or a list that is empty, not strictly
    /// increasing or names an epoch ≥ `total`.
    pub fn validate(&self, total: u32) -> Result<(), Error> {
        if total == 0 {
            return Err(Error::EmptyInput);
        }
        let bad = Err(Error::InvalidParameter { name: "schedule" });
        match *self {
            Self::Every(0) => bad,
            Self::Log { points } if !(2..=MAX_LOG_POINTS).contains(&points) => bad,
            Self::List(list) => {
                let increasing = list.windows(2).all(|w| matches!(*w, [a, b] if a < b));
                if list.is_empty() || !increasing || list.last().is_some_and(|&e| e >= total) {
                    bad
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// The measured epochs of a run of `total` epochs, ascending.
    #[must_use]
    pub fn epochs(&self, total: u32) -> Epochs<'a> {
        Epochs {
            schedule: *self,
            total,
            next: 0,
            k: 0,
            last: None,
        }
    }

    /// Whether `epoch` is measured in a run of `total` epochs (O(1) except for `Log` and
    /// `List`, which scan).
    #[must_use]
    pub fn contains(&self, epoch: u32, total: u32) -> bool {
        if epoch >= total {
            return false;
        }
        match *self {
            Self::Every(n) => n > 0 && epoch.is_multiple_of(n),
            Self::List(list) => list.binary_search(&epoch).is_ok(),
            Self::Log { .. } => self.epochs(total).any(|e| e == epoch),
            Self::Saxe => saxe(epoch),
            Self::SaxeMnist => saxe_mnist(epoch),
        }
    }
}

impl fmt::Display for Schedule<'_> {
    /// The form [`ScheduleSpec::parse`] reads back: `every:N`, `list:E,E,..`, `log:S`, `saxe`,
    /// `saxe-mnist`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Every(n) => write!(f, "every:{n}"),
            Self::List(l) => {
                f.write_str("list:")?;
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Self::Log { points } => write!(f, "log:{points}"),
            Self::Saxe => f.write_str("saxe"),
            Self::SaxeMnist => f.write_str("saxe-mnist"),
        }
    }
}

/// An owned epoch schedule, parsed from its written form (feature `alloc`): a fixed
/// [`Schedule`], or delta skip, which decides from the measurements
/// ([`Delta`](crate::experiment::Delta)).
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSpec {
    /// `every:N`.
    Every(u32),
    /// `list:E,E,..`.
    List(alloc::vec::Vec<u32>),
    /// `log:S`.
    Log(u32),
    /// `saxe`.
    Saxe,
    /// `saxe-mnist`.
    SaxeMnist,
    /// `delta-exact:δ` (`exact`) or `delta-approx:δ`.
    Delta {
        /// Bisect gaps that break δ (exact), or only adapt the stride (approximate).
        exact: bool,
        /// The threshold δ.
        delta: f64,
    },
}

#[cfg(feature = "alloc")]
impl ScheduleSpec {
    /// Parses `log:S`, `every:N`, `saxe`, `saxe-mnist`, `list:E,E,..`, `delta-exact:δ` or
    /// `delta-approx:δ` (spaces around numbers allowed). The result still has to fit a run:
    /// [`ScheduleSpec::validate`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"schedule"` for anything else (see [`FORMS`]).
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::schedule::ScheduleSpec;
    /// let s = ScheduleSpec::parse("list: 0, 5,9")?;
    /// assert_eq!(s.to_string(), "list:0,5,9");
    /// assert!(ScheduleSpec::parse("every:x").is_err());
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = Error::InvalidParameter { name: "schedule" };
        let num = |v: &str| v.trim().parse::<u32>().map_err(|_| bad);
        match s.trim().split_once(':') {
            None if s.trim() == "saxe" => Ok(Self::Saxe),
            None if s.trim() == "saxe-mnist" => Ok(Self::SaxeMnist),
            Some(("log", v)) => Ok(Self::Log(num(v)?)),
            Some(("every", v)) => Ok(Self::Every(num(v)?)),
            Some(("list", v)) => Ok(Self::List(v.split(',').map(num).collect::<Result<_, _>>()?)),
            Some((kind @ ("delta-exact" | "delta-approx"), v)) => {
                let delta: f64 = v.trim().parse().map_err(|_| bad)?;
                if !delta.is_finite() || delta < 0.0 {
                    return Err(bad);
                }
                Ok(Self::Delta {
                    exact: kind == "delta-exact",
                    // −0 is 0 (and prints as 0).
                    delta: delta + 0.0,
                })
            }
            _ => Err(bad),
        }
    }

    /// The fixed schedule, or `None` for delta skip.
    #[must_use]
    pub fn fixed(&self) -> Option<Schedule<'_>> {
        Some(match self {
            Self::Every(n) => Schedule::Every(*n),
            Self::List(l) => Schedule::List(l),
            Self::Log(p) => Schedule::Log { points: *p },
            Self::Saxe => Schedule::Saxe,
            Self::SaxeMnist => Schedule::SaxeMnist,
            Self::Delta { .. } => return None,
        })
    }

    /// Checks the schedule against a run of `total` epochs.
    ///
    /// # Errors
    /// As [`Schedule::validate`]; [`Error::InvalidParameter`] `"schedule"` for a δ that is
    /// not a finite number ≥ 0.
    pub fn validate(&self, total: u32) -> Result<(), Error> {
        match self {
            Self::Delta { delta, .. } => {
                if total == 0 {
                    Err(Error::EmptyInput)
                } else if !delta.is_finite() || *delta < 0.0 {
                    Err(Error::InvalidParameter { name: "schedule" })
                } else {
                    Ok(())
                }
            }
            s => s.fixed().map_or(Ok(()), |f| f.validate(total)),
        }
    }

    /// The epochs it measures in a run of `total` epochs, if fixed; delta skip decides
    /// them as the run goes, at most `total`.
    #[must_use]
    pub fn count(&self, total: u32) -> Option<usize> {
        self.fixed().map(|f| f.epochs(total).count())
    }
}

#[cfg(feature = "alloc")]
impl From<Schedule<'_>> for ScheduleSpec {
    fn from(s: Schedule<'_>) -> Self {
        match s {
            Schedule::Every(n) => Self::Every(n),
            Schedule::List(l) => Self::List(l.into()),
            Schedule::Log { points } => Self::Log(points),
            Schedule::Saxe => Self::Saxe,
            Schedule::SaxeMnist => Self::SaxeMnist,
        }
    }
}

#[cfg(feature = "alloc")]
impl fmt::Display for ScheduleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Delta { exact, delta } => {
                let kind = if *exact { "exact" } else { "approx" };
                write!(f, "delta-{kind}:{delta}")
            }
            s => s.fixed().map_or(Ok(()), |x| x.fmt(f)),
        }
    }
}

#[cfg(all(feature = "alloc", feature = "serde"))]
impl serde::Serialize for ScheduleSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

const fn saxe(e: u32) -> bool {
    if e < 20 {
        true
    } else if e < 100 {
        e.is_multiple_of(5)
    } else if e < 2000 {
        e.is_multiple_of(20)
    } else {
        e.is_multiple_of(100)
    }
}

const fn saxe_mnist(e: u32) -> bool {
    if e < 20 {
        true
    } else if e < 100 {
        e.is_multiple_of(5)
    } else if e < 200 {
        e.is_multiple_of(10)
    } else {
        e.is_multiple_of(100)
    }
}

/// Iterator over a schedule's epochs, ascending; see [`Schedule::epochs`].
#[derive(Debug, Clone)]
pub struct Epochs<'a> {
    schedule: Schedule<'a>,
    total: u32,
    next: u32,
    k: u32,
    last: Option<u32>,
}

impl Iterator for Epochs<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self.schedule {
            Schedule::Every(n) => {
                let e = self.next;
                if n == 0 || e >= self.total {
                    return None;
                }
                self.next = e.saturating_add(n);
                if self.next == e {
                    self.total = e; // saturated: this was the last one
                }
                Some(e)
            }
            Schedule::List(list) => {
                let e = *list.get(self.k as usize)?;
                self.k += 1;
                (e < self.total).then_some(e)
            }
            Schedule::Log { points } => {
                let log_e = math::log2_f64(f64::from(self.total));
                let step = log_e / f64::from(points.max(2) - 1);
                while self.k < points {
                    let k = self.k;
                    self.k += 1;
                    // numpy.linspace: k·step + start, with the last point exactly the stop.
                    let y = if k + 1 == points {
                        log_e
                    } else {
                        f64::from(k) * step
                    };
                    let v = math::pow_f64(2.0, y);
                    // astype(int) truncates; v ∈ [1, total] so the cast is exact.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let e = (v as u32).saturating_sub(1);
                    if self.last != Some(e) && e < self.total {
                        self.last = Some(e);
                        return Some(e);
                    }
                }
                None
            }
            Schedule::Saxe | Schedule::SaxeMnist => {
                while self.next < self.total {
                    let e = self.next;
                    self.next += 1;
                    if self.schedule.contains(e, self.total) {
                        return Some(e);
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_papers() {
        let log = Schedule::Log { points: 400 };
        assert_eq!(log.epochs(8000).count(), 274);
        assert!(log.epochs(8000).take(44).eq(0..44));
        assert_eq!(log.epochs(8000).last(), Some(7999));
        assert_eq!(Schedule::Log { points: 1800 }.epochs(10_000).count(), 964);
        assert_eq!(Schedule::Saxe.epochs(10_000).count(), 211);
        assert!(Schedule::Every(3).epochs(10).eq([0, 3, 6, 9]));
        assert!(Schedule::List(&[0, 1, 5]).epochs(10).eq([0, 1, 5]));
        assert!(
            Schedule::SaxeMnist.epochs(300).eq((0..20)
                .chain((20..100).step_by(5))
                .chain((100..200).step_by(10))
                .chain([200]))
        );
    }

    #[test]
    fn validation() {
        assert!(Schedule::Every(0).validate(10).is_err());
        assert!(Schedule::List(&[0, 0]).validate(10).is_err());
        assert!(Schedule::List(&[10]).validate(10).is_err());
        assert!(Schedule::Saxe.validate(0).is_err());
        assert!(Schedule::Log { points: 400 }.validate(8000).is_ok());
    }
}
