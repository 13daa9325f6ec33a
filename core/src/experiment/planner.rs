//! Planners: schedules that decide which epochs' snapshots are measured, possibly from the
//! measurements so far.

use super::Measurement;
use crate::Schedule;
use alloc::vec::Vec;
use core::fmt;

/// What a planner wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The snapshot of this epoch. Epochs asked for must increase.
    Epoch(u32),
    /// Nothing until more of the measurements already asked for have been observed.
    Wait,
    /// No more snapshots.
    Done,
}

/// Decides which epochs to measure. The driver asks [`Planner::next`] whenever it needs a
/// decision and hands every measurement to [`Planner::observe`] in the order the snapshots
/// were asked for, so a planner that decides from results is as deterministic as one that
/// does not, provided what it asks for next depends only on what it has observed.
pub trait Planner: fmt::Debug + Send {
    /// The next epoch to measure, or whether to wait for results. An epoch must be after
    /// every epoch asked for before it, unless its snapshot was kept ([`Planner::keep`]).
    fn next(&mut self) -> Next;
    /// A measurement of an epoch this planner asked for.
    fn observe(&mut self, m: &Measurement);
    /// Places a fresh planner as it stood right after it asked for `epoch`, for a run resumed
    /// from a checkpoint; `false` if it cannot (the default: a planner whose decisions depend
    /// on measurements would need them).
    fn resume_after(&mut self, epoch: u32) -> bool {
        let _ = epoch;
        false
    }

    /// Whether [`Planner::resume_after`] can place this planner (so checkpoints are worth
    /// taking). Default: no.
    fn can_resume(&self) -> bool {
        false
    }

    /// Whether the run should keep the snapshot of `epoch`, which training passes without
    /// it being asked for, so that it can be asked for later (asked again after every
    /// observation: a kept snapshot is dropped once this says `false`). Default: never.
    fn keep(&self, epoch: u32) -> bool {
        let _ = epoch;
        false
    }

    /// For a planner that asks for epochs out of order: every epoch it has asked for and
    /// not yet observed, or will still ask for, is at least this, so measurements of
    /// earlier epochs can be released in epoch order. `None` (the default): it asks in
    /// increasing order, and measurements are released as they are observed.
    fn settled(&self) -> Option<u32> {
        None
    }
}

/// A fixed schedule's epochs, in order; it never waits and ignores the measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    epochs: Vec<u32>,
    k: usize,
}

impl Fixed {
    /// The epochs of `schedule` in a run of `total` epochs.
    #[must_use]
    pub fn new(schedule: Schedule<'_>, total: u32) -> Self {
        Self {
            epochs: schedule.epochs(total).collect(),
            k: 0,
        }
    }

    /// Every epoch it will ask for.
    #[must_use]
    pub fn epochs(&self) -> &[u32] {
        &self.epochs
    }
}

impl Planner for Fixed {
    fn next(&mut self) -> Next {
        match self.epochs.get(self.k) {
            Some(&e) => {
                self.k += 1;
                Next::Epoch(e)
            }
            None => Next::Done,
        }
    }

    fn observe(&mut self, _: &Measurement) {}

    fn can_resume(&self) -> bool {
        true
    }

    fn resume_after(&mut self, epoch: u32) -> bool {
        match self.epochs.binary_search(&epoch) {
            Ok(k) => {
                self.k = k + 1;
                true
            }
            Err(_) => false,
        }
    }
}
