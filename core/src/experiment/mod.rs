//! A whole run: data set, split, initialisation, the epoch loop with its capture points, the
//! measurement of each snapshot, and the CSV rows (feature `alloc`).
//!
//! Training and measuring are joined by a stream of weight snapshots that a [`Planner`]
//! decides:
//!
//! * [`Experiment`] trains and hands out a [`Snapshot`] (the weights at a measured epoch: a
//!   few hundred floats, never activations, so memory does not grow with the run) whenever
//!   the planner asks for that epoch. A planner may decide from the measurements so far
//!   ([`Planner::observe`]); fixed schedules are the planner [`Fixed`].
//! * A [`Measurer`] turns a snapshot into a [`Measurement`]. A measurement depends only on
//!   its snapshot, so callers may measure on other threads or Web Workers, in any order, and
//!   get the same bytes.
//! * [`Run`] ties them together for every frontend: it says what to do next ([`Action`]),
//!   takes results back in any order, feeds them to the planner in the order the snapshots
//!   were taken, and releases them in epoch order once no earlier epoch can still come
//!   ([`Planner::settled`]), so the output and every planner decision are independent of
//!   thread count and timing. The number of snapshots in flight is capped, so memory stays
//!   bounded.
//! * [`Measurement::write_plane_rows`] and [`Measurement::write_metrics_row`] format the CSV
//!   rows, so every frontend writes identical files.

mod checkpoint;
mod config;
pub mod delta;
mod measure;
mod planner;
mod summary;

pub use checkpoint::{CHECKPOINT_MAGIC, Checkpoint};
pub use config::{ExperimentConfig, MAX_POOL, accepts, estimators};
pub use delta::Delta;
pub use measure::{
    LAYERS_HEADER, LayerPoint, LayerStats, METRICS_HEADER, Measurement, Measurer, PLANE_HEADER,
};
pub use planner::{Fixed, Next, Planner};
pub use summary::{
    LAYER_NAMES, LAYERS_SUMMARY_HEADER, METRIC_NAMES, METRICS_SUMMARY_HEADER, MetricsSummary,
    PlaneSummary, SUMMARY_HEADER, Stats, Summary,
};

use crate::data::split_rows;
use crate::dataset::Dataset;
use crate::math::sqrt_f64;
use crate::metrics::Role;
use crate::preset::MiRows;
use crate::schedule::ScheduleSpec;
use crate::{BatchOrder, Error, MlpPlan, MlpShape, Parallel, Stream, StreamRng, Trainer};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

/// The weights at one measured epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The epoch (counted from 0).
    pub epoch: u32,
    /// All parameters, in [`MlpPlan`] layout.
    pub params: Vec<f32>,
    /// Per weight layer, the gradient signal-to-noise ratio over the mini-batches of the
    /// last epoch trained before the snapshot ([`GradStats::snr`]); empty when no epoch was
    /// trained before it.
    pub grad_snr: Vec<Option<f64>>,
    /// With pooling (K = [`ExperimentConfig::pool`] ≥ 2) and epoch ≥ K − 1: the parameters of
    /// the K − 1 epochs before this one, oldest first; else empty.
    pub pool: Vec<Vec<f32>>,
}

/// Mean and spread of the mini-batch gradients of one epoch, per parameter (Welford's
/// updates in f64, batch order), for the gradient signal-to-noise ratio ibsgd plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradStats {
    batches: u32,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl GradStats {
    /// Starts over for `params` parameters.
    pub fn reset(&mut self, params: usize) {
        self.batches = 0;
        self.mean.clear();
        self.mean.resize(params, 0.0);
        self.m2.clear();
        self.m2.resize(params, 0.0);
    }

    /// Adds one mini-batch's gradient.
    pub fn add(&mut self, grads: &[f32]) {
        self.batches += 1;
        let k = f64::from(self.batches);
        for ((m, s), &g) in self.mean.iter_mut().zip(&mut self.m2).zip(grads) {
            let g = f64::from(g);
            let d = g - *m;
            *m += d / k;
            *s += d * (g - *m);
        }
    }

    /// Per weight layer of `shape` (biases excluded): ‖mean‖ / ‖std‖ over the batches, the
    /// standard deviation with divisor B (as numpy's default, which ibsgd uses); `None`
    /// where the spread is 0 (one batch per epoch, or identical gradients).
    #[must_use]
    pub fn snr(&self, shape: &MlpShape) -> Vec<Option<f64>> {
        let b = f64::from(self.batches.max(1));
        let mut out = Vec::new();
        let mut start = 0usize;
        for pair in shape.widths().windows(2) {
            let (fan_in, fan_out) = match *pair {
                [a, c] => (a as usize, c as usize),
                _ => (0, 0),
            };
            let w = start..start + fan_in * fan_out;
            start = w.end + fan_out;
            let mean = self.mean.get(w.clone()).unwrap_or(&[]);
            let m2 = self.m2.get(w).unwrap_or(&[]);
            let signal = sqrt_f64(mean.iter().map(|m| m * m).sum());
            let noise = sqrt_f64(m2.iter().map(|s| s / b).sum());
            out.push((self.batches > 1 && noise > 0.0).then(|| signal / noise));
        }
        out
    }
}

/// The memory a run of a configuration takes, in bytes, computed without allocating it
/// ([`Memory::of`]), so a frontend can refuse a run that cannot fit before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// One training state: parameters, optimiser state, the epoch's scratch, the batch order.
    pub training: usize,
    /// One measuring thread's scratch: every layer's activations on every row, and the
    /// largest estimator's scratch.
    pub measuring: usize,
    /// One snapshot in flight (the parameters, and with pooling those of the K − 1 epochs
    /// before it).
    pub snapshot: usize,
    /// The most the snapshots a training state keeps for its planner can take (exact delta
    /// skip: [`delta::default_cap`] snapshots; 0 otherwise).
    pub kept: usize,
}

impl Memory {
    /// The memory of a run of `cfg` on `data`.
    ///
    /// # Errors
    /// As [`Experiment::new`]'s checks; [`Error::TooLarge`] when a size overflows `usize`.
    pub fn of(cfg: &ExperimentConfig, data: &Arc<Dataset>) -> Result<Self, Error> {
        let rows = data.rows();
        cfg.validate(data)?;
        let cols = u32::try_from(data.cols()).map_err(|_| Error::TooLarge)?;
        let shape = MlpShape::new(&cfg.widths(cols, data.classes()), cfg.activation)?;
        let (roles, order) = split(cfg, data)?;
        let n_train = order.len();
        let batch = cfg.batch.map_or(n_train, |b| b as usize).min(n_train);
        let plan = MlpPlan::new(shape.clone(), batch)?;
        let trainer = Trainer::new(plan, cfg.optimizer, BatchOrder::Fixed)?;
        let params = shape.param_len();
        let floats = params
            .checked_add(trainer.state_len())
            .and_then(|v| v.checked_add(trainer.scratch_len()))
            .and_then(|v| v.checked_add(n_train))
            .ok_or(Error::TooLarge)?;
        let training = floats
            .checked_mul(4)
            .and_then(|v| v.checked_add(rows))
            .ok_or(Error::TooLarge)?;
        let mi = mi_data(cfg, data, &roles)?;
        let measurer = Measurer::new(cfg, &shape, Arc::clone(data), roles.into(), mi)?;
        let measuring = measurer
            .scratch_req()
            .words()
            .checked_mul(8)
            .ok_or(Error::TooLarge)?;
        // A snapshot carries the parameters of its epoch and, with pooling, of the K − 1
        // before it; training keeps those K − 1 as it goes.
        let pool = cfg.pool.max(1) as usize;
        let snapshot = params.checked_mul(4 * pool).ok_or(Error::TooLarge)?;
        let training = training
            .checked_add(snapshot - params * 4)
            .ok_or(Error::TooLarge)?;
        let kept = match cfg.schedule {
            ScheduleSpec::Delta { exact: true, .. } => {
                // Each kept snapshot also holds its layers' gradient SNR.
                let one = snapshot + 16 * (shape.widths().len() - 1);
                one.saturating_mul(delta::default_cap(snapshot) as usize)
            }
            _ => 0,
        };
        Ok(Self {
            training,
            measuring,
            snapshot,
            kept,
        })
    }
}

/// Each row's role and the training rows in their first epoch's order: the data set's own
/// split (its first rows train, in order), else `rint(train_frac · rows)` rows, the first or
/// drawn at random from the seed's split stream; then at most `train_limit` of them (the
/// others become [`Role::Unused`]).
fn split(cfg: &ExperimentConfig, data: &Dataset) -> Result<(Vec<Role>, Vec<u32>), Error> {
    let rows = data.rows();
    let n_split = cfg.split_rows(data)?;
    let mut perm = vec![0u32; rows];
    if data.split().is_some() {
        split_rows(&mut perm, None)?;
    } else {
        let mut split_rng = StreamRng::new(cfg.seed, Stream::Split);
        split_rows(&mut perm, cfg.random_split.then_some(&mut split_rng))?;
    }
    let n_train = cfg.train_limit.map_or(n_split, |l| n_split.min(l as usize));
    let mut roles = vec![Role::Test; rows];
    for (i, &r) in perm.iter().enumerate().take(n_split) {
        if let Some(role) = roles.get_mut(r as usize) {
            *role = if i < n_train {
                Role::Train
            } else {
                Role::Unused
            };
        }
    }
    Ok((roles, perm.get(..n_train).unwrap_or(&[]).to_vec()))
}

/// The rows the estimators measure as a data set of their own (every row, or the held-out
/// rows in row order, then the first `mi_limit`), or `None` when that is every row of `data`
/// in order.
fn mi_data(
    cfg: &ExperimentConfig,
    data: &Dataset,
    roles: &[Role],
) -> Result<Option<Arc<Dataset>>, Error> {
    let mut rows: Vec<u32> = (0..u32::try_from(data.rows()).map_err(|_| Error::TooLarge)?)
        .filter(|&r| match cfg.mi_rows {
            MiRows::All => true,
            MiRows::Test => roles.get(r as usize) == Some(&Role::Test),
        })
        .collect();
    if let Some(l) = cfg.mi_limit {
        rows.truncate(l as usize);
    }
    if rows.len() == data.rows() {
        return Ok(None);
    }
    let name = alloc::format!("{} ({} rows)", data.name(), cfg.mi_rows.name());
    Ok(Some(Arc::new(data.subset(&name, &rows)?)))
}

/// What [`Experiment::step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The snapshot of an epoch the planner asked for (nothing was trained).
    Snapshot(Snapshot),
    /// One epoch was trained; the value is the number of epochs trained so far.
    Trained(u32),
    /// The planner waits for measurements it asked for before deciding.
    Wait,
    /// Every epoch is trained and the planner wants nothing more.
    Done,
}

/// A training run in progress.
#[derive(Debug)]
pub struct Experiment {
    cfg: ExperimentConfig,
    data: Arc<Dataset>,
    shape: MlpShape,
    roles: Arc<[Role]>,
    /// The rows the estimators measure, when not every row in order.
    mi: Option<Arc<Dataset>>,
    order: Vec<u32>,
    trainer: Trainer,
    params: Vec<f32>,
    state: Vec<f32>,
    scratch: Vec<f32>,
    shuffle_rng: StreamRng,
    step: u64,
    epoch: u32,
    planner: Box<dyn Planner>,
    /// The epoch the planner asked for and that has not been captured yet.
    target: Option<u32>,
    /// The last epoch asked for, so requests can be checked to increase.
    last_target: Option<u32>,
    planner_done: bool,
    /// The gradients of the epoch being trained, when it is the last before a capture.
    grads: GradStats,
    /// The epoch whose snapshot `grads` belongs to.
    grads_for: Option<u32>,
    /// Snapshots training passed that the planner keeps to ask for later.
    kept: BTreeMap<u32, Snapshot>,
    /// With pooling: the parameters of the last K − 1 epochs passed, oldest first.
    ring: VecDeque<Vec<f32>>,
    /// Threads for the wide layers' kernels.
    par: Arc<dyn Parallel + Send>,
}

impl core::fmt::Debug for dyn Parallel + Send {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Parallel(width {})", self.width())
    }
}

impl Experiment {
    /// Checks the configuration against the data set, splits it, initialises the network and
    /// plans everything; the configuration's schedule decides the measured epochs.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting
    /// ([`ExperimentConfig::validate`]).
    pub fn new(cfg: ExperimentConfig, data: Arc<Dataset>) -> Result<Self, Error> {
        // Every setting (the schedule among them) is checked before the schedule is expanded:
        // a bad one may be huge.
        cfg.validate(&data)?;
        let planner: Box<dyn Planner> = match &cfg.schedule {
            ScheduleSpec::Delta { exact, delta } => {
                // A kept snapshot holds its pooled parameters too.
                let snapshot = cfg
                    .param_len(&data)?
                    .saturating_mul(4 * cfg.pool.max(1) as usize);
                Box::new(Delta::new(
                    *exact,
                    *delta,
                    cfg.delta_estimator_index(),
                    {
                        let (roles, _) = split(&cfg, &data)?;
                        match mi_data(&cfg, &data, &roles)? {
                            Some(mi) => delta::data_entropies(&mi),
                            None => delta::data_entropies(&data),
                        }
                    },
                    cfg.epochs,
                    delta::default_cap(snapshot),
                ))
            }
            s => Box::new(Fixed::new(
                s.fixed()
                    .ok_or(Error::InvalidParameter { name: "schedule" })?,
                cfg.epochs,
            )),
        };
        Self::with_planner(cfg, data, planner)
    }

    /// As [`Experiment::new`], with a planner of the caller's instead of the configuration's
    /// schedule.
    ///
    /// # Errors
    /// As [`Experiment::new`].
    pub fn with_planner(
        cfg: ExperimentConfig,
        data: Arc<Dataset>,
        planner: Box<dyn Planner>,
    ) -> Result<Self, Error> {
        cfg.validate(&data)?;
        let cols = u32::try_from(data.cols()).map_err(|_| Error::TooLarge)?;
        let shape = MlpShape::new(&cfg.widths(cols, data.classes()), cfg.activation)?;
        let (roles, order) = split(&cfg, &data)?;
        let mi = mi_data(&cfg, &data, &roles)?;
        let n_train = order.len();
        let batch = cfg.batch.map_or(n_train, |b| b as usize).min(n_train);
        let plan = MlpPlan::new(shape.clone(), batch)?;
        let order_kind = if cfg.shuffle {
            BatchOrder::Shuffled
        } else {
            BatchOrder::Fixed
        };
        let trainer = Trainer::new(plan.clone(), cfg.optimizer, order_kind)?;
        let mut params = vec![0.0f32; shape.param_len()];
        plan.init(
            cfg.init,
            &mut params,
            &mut StreamRng::new(cfg.seed, Stream::Init),
        )?;
        let exp = Self {
            state: vec![0.0; trainer.state_len()],
            scratch: vec![0.0; trainer.scratch_len()],
            shuffle_rng: StreamRng::new(cfg.seed, Stream::Shuffle),
            roles: roles.into(),
            mi,
            shape,
            data,
            order,
            trainer,
            params,
            step: 0,
            epoch: 0,
            planner,
            target: None,
            last_target: None,
            planner_done: false,
            grads: GradStats::default(),
            grads_for: None,
            kept: BTreeMap::new(),
            ring: VecDeque::new(),
            par: Arc::new(crate::Serial),
            cfg,
        };
        // Plan every estimator on every layer now, so a bad setting fails before anything
        // runs or is written.
        exp.measurer()?;
        Ok(exp)
    }

    /// Lends threads to training: the wide layers' dense kernels split into jobs on `par`
    /// ([`MlpPlan::gradient_par`]). The bytes of the run do not change.
    pub fn set_parallel(&mut self, par: Arc<dyn Parallel + Send>) {
        self.par = par;
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ExperimentConfig {
        &self.cfg
    }

    /// The data set.
    #[must_use]
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// The network's shape.
    #[must_use]
    pub const fn shape(&self) -> &MlpShape {
        &self.shape
    }

    /// Epochs trained so far.
    #[must_use]
    pub const fn epochs_done(&self) -> u32 {
        self.epoch
    }

    /// The current parameters.
    #[must_use]
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// What each row is for.
    #[must_use]
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The rows the estimators measure, as a data set of their own, when they are not
    /// every row of [`Experiment::dataset`] in order.
    #[must_use]
    pub fn mi_dataset(&self) -> Option<&Dataset> {
        self.mi.as_deref()
    }

    /// The training state right after the snapshot just handed out ([`Step::Snapshot`]),
    /// from which [`Experiment::resume`] goes on with the same bytes; `None` at any other
    /// point (once the planner has been asked again, or an epoch trained since).
    #[must_use]
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let e = self.last_target?;
        if self.target.is_some()
            || !self.planner.can_resume()
            || !self.kept.is_empty()
            || self.planner_done
            || self.cfg.capture.trained_at(e) != u64::from(self.epoch)
        {
            return None;
        }
        Some(Checkpoint {
            seed: self.cfg.seed,
            epoch: e,
            epochs_done: self.epoch,
            step: self.step,
            shuffle_draws: self.shuffle_rng.draws(),
            params: self.params.clone(),
            state: self.state.clone(),
            order: self.order.clone(),
            pool: self.ring.iter().flatten().copied().collect(),
        })
    }

    /// The run of `cfg` on `data` as it stood at `ck`, taken by [`Experiment::checkpoint`]
    /// of a run with the same configuration and data: it goes on to give exactly the
    /// snapshots that run gave after `ck`.
    ///
    /// # Errors
    /// As [`Experiment::new`]; [`Error::InvalidParameter`] `"checkpoint"` when `ck` does not
    /// belong to this configuration (another seed, other sizes, rows outside the training
    /// split, an epoch the schedule does not measure, non-finite parameters).
    pub fn resume(
        cfg: ExperimentConfig,
        data: Arc<Dataset>,
        ck: &Checkpoint,
    ) -> Result<Self, Error> {
        let mut exp = Self::new(cfg, data)?;
        let bad = Error::InvalidParameter { name: "checkpoint" };
        // Each epoch takes ⌈rows/batch⌉ steps, and a shuffle draws about once per row
        // (64 per row bounds the rejections of `below` beyond any real chance), so a
        // checkpoint with other counts is not this run's (and replaying it could not end).
        let rows = exp.order.len() as u64;
        let batch = exp.trainer.plan().batch().max(1) as u64;
        let done = u64::from(ck.epochs_done);
        let steps = done.checked_mul(rows.div_ceil(batch));
        let max_draws = if exp.cfg.shuffle {
            done.checked_mul(rows.saturating_mul(64))
        } else {
            Some(0)
        };
        if steps != Some(ck.step) || max_draws.is_none_or(|m| ck.shuffle_draws > m) {
            return Err(bad);
        }
        let mut rows = ck.order.clone();
        rows.sort_unstable();
        let mut split = exp.order.clone();
        split.sort_unstable();
        // Training keeps the weights of each epoch it passes (not the initial ones when
        // snapshots come after the update), the last K − 1 of them.
        let passed = match exp.cfg.capture {
            crate::Capture::Before => ck.epochs_done,
            crate::Capture::After => ck.epochs_done.saturating_sub(1),
        } as usize;
        let ring = if exp.cfg.pool > 1 {
            passed.min(exp.cfg.pool as usize - 1)
        } else {
            0
        };
        if ring.checked_mul(exp.params.len()) != Some(ck.pool.len())
            || !ck.pool.iter().all(|v| v.is_finite())
        {
            return Err(bad);
        }
        if ck.seed != exp.cfg.seed
            || ck.params.len() != exp.params.len()
            || ck.state.len() != exp.state.len()
            || rows != split
            || ck.epochs_done > exp.cfg.epochs
            || exp.cfg.capture.trained_at(ck.epoch) != u64::from(ck.epochs_done)
            || !ck.params.iter().chain(&ck.state).all(|v| v.is_finite())
            || !exp.planner.resume_after(ck.epoch)
        {
            return Err(bad);
        }
        exp.params.clone_from(&ck.params);
        exp.ring = ck
            .pool
            .chunks_exact(exp.params.len().max(1))
            .map(<[f32]>::to_vec)
            .collect();
        exp.state.clone_from(&ck.state);
        exp.order.clone_from(&ck.order);
        exp.step = ck.step;
        exp.epoch = ck.epochs_done;
        exp.shuffle_rng = StreamRng::after(exp.cfg.seed, Stream::Shuffle, ck.shuffle_draws);
        exp.last_target = Some(ck.epoch);
        Ok(exp)
    }

    /// The pooled parameters of a snapshot taken now: the last K − 1 epochs' once there are
    /// that many.
    fn pool(&self) -> Vec<Vec<f32>> {
        let k = self.cfg.pool as usize;
        if k > 1 && self.ring.len() + 1 == k {
            self.ring.iter().cloned().collect()
        } else {
            Vec::new()
        }
    }

    /// A measurer for this run's snapshots, sharing its data set.
    ///
    /// # Errors
    /// As the estimator plans.
    pub fn measurer(&self) -> Result<Measurer, Error> {
        Measurer::new(
            &self.cfg,
            &self.shape,
            Arc::clone(&self.data),
            Arc::clone(&self.roles),
            self.mi.clone(),
        )
    }

    /// Hands a measurement of an epoch the planner asked for back to the planner. [`Run`]
    /// does this in the order the snapshots were taken.
    pub fn observe(&mut self, m: &Measurement) {
        self.planner.observe(m);
        let planner = &self.planner;
        self.kept.retain(|&e, _| planner.keep(e));
    }

    /// Snapshots kept for the planner to ask for later.
    #[must_use]
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// The planner's [`Planner::settled`].
    #[must_use]
    pub fn settled(&self) -> Option<u32> {
        self.planner.settled()
    }

    /// Does the next thing: captures the snapshot the planner asked for if training has
    /// reached it (before the epoch's update with [`Capture::Before`](crate::Capture::Before), after it with
    /// [`Capture::After`](crate::Capture::After)), else trains one epoch.
    ///
    /// # Errors
    /// As [`Trainer::epoch`]; [`Error::Overflow`] when training diverges;
    /// [`Error::InvalidParameter`] `"schedule"` if the planner asks for an epoch that is not
    /// after the previous one or not below the run's epochs.
    pub fn step(&mut self) -> Result<Step, Error> {
        if self.target.is_none() && !self.planner_done {
            match self.planner.next() {
                Next::Epoch(e) => {
                    if let Some(s) = self.kept.remove(&e) {
                        return Ok(Step::Snapshot(s));
                    }
                    if e >= self.cfg.epochs || self.last_target.is_some_and(|l| e <= l) {
                        return Err(Error::InvalidParameter { name: "schedule" });
                    }
                    self.target = Some(e);
                    self.last_target = Some(e);
                }
                Next::Wait => return Ok(Step::Wait),
                Next::Done => self.planner_done = true,
            }
        }
        if let Some(e) = self.target {
            let at = self.cfg.capture.trained_at(e);
            if at < u64::from(self.epoch) {
                // Only an epoch the run has already passed: the planner asked for the past.
                return Err(Error::InvalidParameter { name: "schedule" });
            }
            if at == u64::from(self.epoch) {
                self.target = None;
                let grad_snr = if self.grads_for == Some(e) {
                    self.grads.snr(&self.shape)
                } else {
                    Vec::new()
                };
                return Ok(Step::Snapshot(Snapshot {
                    epoch: e,
                    params: self.params.clone(),
                    grad_snr,
                    pool: self.pool(),
                }));
            }
        }
        if self.epoch >= self.cfg.epochs {
            return Ok(Step::Done);
        }
        // The epoch right before a capture (or a kept snapshot) keeps its mini-batch
        // gradients' statistics.
        let produced = match self.cfg.capture {
            crate::Capture::Before => self.epoch.checked_add(1),
            crate::Capture::After => Some(self.epoch),
        };
        let keep = produced.filter(|&e| self.target != Some(e) && self.planner.keep(e));
        let before_capture = self
            .target
            .filter(|&e| self.cfg.capture.trained_at(e) == u64::from(self.epoch) + 1)
            .or(keep);
        self.grads_for = before_capture;
        // With pooling, the weights as they stand are an epoch's snapshot (unless nothing
        // was trained yet and snapshots are taken after the update): keep the last K − 1.
        let k = self.cfg.pool as usize;
        if k > 1 && (self.cfg.capture == crate::Capture::Before || self.epoch > 0) {
            if self.ring.len() + 1 >= k {
                self.ring.pop_front();
            }
            self.ring.push_back(self.params.clone());
        }
        let grads = &mut self.grads;
        if before_capture.is_some() {
            grads.reset(self.params.len());
        }
        self.trainer.epoch_par(
            &mut self.params,
            &mut self.state,
            &mut self.step,
            self.data.inputs(),
            self.data.labels(),
            &mut self.order,
            &mut self.shuffle_rng,
            &mut self.scratch,
            |g| {
                if before_capture.is_some() {
                    grads.add(g);
                }
            },
            &*self.par,
        )?;
        // Weights that left the finite range make every later epoch meaningless.
        if !self.params.iter().all(|v| v.is_finite()) {
            return Err(Error::Overflow);
        }
        self.epoch += 1;
        if let Some(e) = keep {
            self.kept.insert(
                e,
                Snapshot {
                    epoch: e,
                    params: self.params.clone(),
                    grad_snr: self.grads.snr(&self.shape),
                    pool: self.pool(),
                },
            );
        }
        Ok(Step::Trained(self.epoch))
    }
}

/// What a frontend does next, as [`Run::next_action`] says.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Measure this snapshot (here or elsewhere) and [`Run::deliver`] the result with the
    /// ticket.
    Measure(u64, Snapshot),
    /// One epoch was trained (the value: epochs trained so far), for progress.
    Trained(u32),
    /// Deliver a result still in flight before asking again.
    Deliver,
    /// The run is over: everything has been trained, measured and released.
    Done,
}

/// The run driver every frontend shares: an [`Experiment`], the measurements in flight, and
/// their release in epoch order.
#[derive(Debug)]
pub struct Run {
    exp: Experiment,
    max_in_flight: usize,
    issued: u64,
    observed: u64,
    /// Delivered, by ticket, until every earlier ticket is delivered too.
    done: BTreeMap<u64, Measurement>,
    /// Observed by the planner, by epoch, until no earlier epoch can still come.
    ready: BTreeMap<u32, Measurement>,
}

impl Run {
    /// Drives `exp` with at most `max_in_flight` (≥ 1) snapshots measured at once.
    #[must_use]
    pub fn new(exp: Experiment, max_in_flight: usize) -> Self {
        Self {
            exp,
            max_in_flight: max_in_flight.max(1),
            issued: 0,
            observed: 0,
            done: BTreeMap::new(),
            ready: BTreeMap::new(),
        }
    }

    /// The experiment.
    #[must_use]
    pub const fn experiment(&self) -> &Experiment {
        &self.exp
    }

    /// Snapshots handed out and not yet observed.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        usize::try_from(self.issued - self.observed).unwrap_or(usize::MAX)
    }

    /// Tickets observed so far: every ticket below this was delivered and shown to the
    /// planner.
    #[must_use]
    pub const fn observed(&self) -> u64 {
        self.observed
    }

    /// What to do next.
    ///
    /// # Errors
    /// As [`Experiment::step`]; [`Error::InvalidParameter`] `"schedule"` if the planner waits
    /// with nothing in flight (it could wait forever).
    pub fn next_action(&mut self) -> Result<Action, Error> {
        if self.in_flight() >= self.max_in_flight {
            return Ok(Action::Deliver);
        }
        match self.exp.step()? {
            Step::Snapshot(s) => {
                let ticket = self.issued;
                self.issued += 1;
                Ok(Action::Measure(ticket, s))
            }
            Step::Trained(e) => Ok(Action::Trained(e)),
            Step::Wait if self.in_flight() == 0 => {
                Err(Error::InvalidParameter { name: "schedule" })
            }
            Step::Wait => Ok(Action::Deliver),
            Step::Done if self.in_flight() > 0 => Ok(Action::Deliver),
            Step::Done => Ok(Action::Done),
        }
    }

    /// Takes back the measurement of the snapshot handed out with `ticket`, in any order.
    /// A ticket that was never handed out, or one already observed, is ignored. Call
    /// [`Run::release`] until it gives `None` after each delivery, before asking for the
    /// next action.
    pub fn deliver(&mut self, ticket: u64, m: Measurement) {
        if ticket >= self.observed && ticket < self.issued {
            self.done.insert(ticket, m);
        }
    }

    /// After a failure: the measurements the planner has observed and [`Run::release`] still
    /// holds back (their gaps can no longer be filled), in epoch order.
    pub fn release_observed(&mut self) -> Option<Measurement> {
        self.ready.pop_first().map(|(_, m)| m)
    }

    /// The next measurement in epoch order, once no earlier epoch can still be measured.
    /// The planner observes measurements in ticket order as they become complete.
    pub fn release(&mut self) -> Option<Measurement> {
        while let Some(m) = self.done.remove(&self.observed) {
            self.observed += 1;
            self.exp.observe(&m);
            self.ready.insert(m.epoch, m);
        }
        let bound = self.exp.settled().unwrap_or(u32::MAX);
        let (&e, _) = self.ready.first_key_value()?;
        if e < bound || self.exp.settled().is_none() {
            self.ready.pop_first().map(|(_, m)| m)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, clippy::indexing_slicing)]
    use super::*;
    use crate::Activation;

    #[test]
    fn grad_snr_closed_form() {
        // 2 → 1 → 2 network: W1 (1×2), b1, W2 (2×1), b2: 7 parameters.
        let shape = MlpShape::new(&[2, 1, 2], Activation::Tanh).unwrap();
        assert_eq!(shape.param_len(), 7);
        let mut g = GradStats::default();
        g.reset(shape.param_len());
        // Three batches. W1's gradients (1, 2), (3, 2), (5, 2): mean (3, 2), population
        // variance (8/3, 0); biases ignored; W2: (4, 4) every time (no spread).
        for a in [1.0, 3.0, 5.0] {
            g.add(&[a, 2.0, 100.0 * a, 4.0, 4.0, -7.0 * a, a]);
        }
        let snr = g.snr(&shape);
        assert_eq!(snr.len(), 2);
        let want = sqrt_f64(13.0) / sqrt_f64(8.0 / 3.0);
        assert!((snr[0].unwrap() - want).abs() < 1e-12, "{snr:?}");
        assert_eq!(snr[1], None, "no spread: undefined");
        // One batch per epoch (full batch): undefined everywhere.
        g.reset(shape.param_len());
        g.add(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(g.snr(&shape), [None, None]);
    }

    /// A data set of 60 byte rows (3 classes) whose first 40 rows are its own training rows.
    fn split_data() -> Arc<Dataset> {
        let (rows, cols) = (60usize, 6usize);
        let x: Vec<u8> = (0..rows * cols)
            .map(|i| u8::try_from((i * 37 + i / 7) % 256).unwrap())
            .collect();
        let y: Vec<u32> = (0..60u32).map(|r| (r * 7 / 3) % 3).collect();
        let d = Dataset::from_u8("t", x, cols, 255.0, y, 3).unwrap();
        Arc::new(d.with_split(40).unwrap())
    }

    fn split_cfg() -> ExperimentConfig {
        let mut cfg = ExperimentConfig::from_preset(&crate::preset::SAXE_MNIST).unwrap();
        cfg.hidden = vec![5, 4];
        cfg.epochs = 3;
        cfg.batch = Some(8);
        cfg.optimizer = crate::Optimizer::sgd(0.5);
        cfg.schedule = ScheduleSpec::parse("every:1").unwrap();
        cfg
    }

    fn first_snapshot(exp: &mut Experiment, epoch: u32) -> Snapshot {
        loop {
            if let Step::Snapshot(s) = exp.step().unwrap()
                && s.epoch == epoch
            {
                return s;
            }
        }
    }

    #[test]
    fn held_out_rows_are_measured_on_their_own_and_metrics_cover_train_and_test() {
        let data = split_data();
        let mut cfg = split_cfg();
        cfg.train_limit = Some(30);
        cfg.mi_limit = Some(15);
        let mut exp = Experiment::new(cfg.clone(), Arc::clone(&data)).unwrap();
        // Rows 0..30 train, 30..40 (training rows beyond the limit) are unused, 40.. test.
        let roles = exp.roles().to_vec();
        assert!(roles[..30].iter().all(|&r| r == Role::Train));
        assert!(roles[30..40].iter().all(|&r| r == Role::Unused));
        assert!(roles[40..].iter().all(|&r| r == Role::Test));
        let mi = exp.mi_dataset().unwrap();
        assert_eq!(mi.rows(), 15);
        assert_eq!(mi.labels(), &data.labels()[40..55]);
        let snap = first_snapshot(&mut exp, 1);
        let m = exp.measurer().unwrap().measure(&snap).unwrap();

        // Metrics: one evaluation of every row, the unused ones left out.
        let net = MlpPlan::new(exp.shape().clone(), 60).unwrap();
        let act = exp.shape().activation_len();
        let (mut acts, mut nll) = (vec![0.0f32; 60 * act], vec![0.0f32; 60]);
        let mut scratch = vec![0.0f32; net.scratch_len()];
        net.evaluate(
            &snap.params,
            data.inputs(),
            data.labels(),
            &mut acts,
            &mut nll,
            &mut scratch,
        )
        .unwrap();
        let out = crate::MatRef::new(&acts[60 * (act - 3)..], 60, 3).unwrap();
        let want = crate::metrics::split_metrics(out, &nll, data.labels(), &roles).unwrap();
        assert_eq!(m.metrics, want);
        assert_eq!(m.metrics.train.rows, 30);
        assert_eq!(m.metrics.test.unwrap().rows, 20);

        // Plane points: those of a run whose data set is the 15 measured rows alone.
        let rows: Vec<u32> = (40..55).collect();
        let alone = Arc::new(data.subset("t", &rows).unwrap());
        let mut ref_cfg = split_cfg();
        ref_cfg.mi_rows = MiRows::All;
        let reference = Experiment::new(ref_cfg, alone).unwrap();
        assert!(reference.mi_dataset().is_none());
        let want = reference.measurer().unwrap().measure(&snap).unwrap();
        assert_eq!(m.points, want.points);
        assert_eq!(m.points.len(), 3 * 2);
        assert!(m.points.iter().any(|p| p.point.i_xt.in_bits() > 1.0));
    }

    #[test]
    fn splits_and_limits_are_checked() {
        let data = split_data();
        let bad = |cfg: ExperimentConfig| Experiment::new(cfg, Arc::clone(&data)).unwrap_err();
        let mut cfg = split_cfg();
        cfg.train_limit = Some(0);
        assert_eq!(
            bad(cfg),
            Error::InvalidParameter {
                name: "train_limit"
            }
        );
        let mut cfg = split_cfg();
        cfg.mi_limit = Some(0);
        assert_eq!(bad(cfg), Error::InvalidParameter { name: "mi_limit" });
        // Without a split of its own and with every row training, nothing is held out.
        let whole = Arc::new(data.subset("t", &(0..60).collect::<Vec<_>>()).unwrap());
        let mut cfg = split_cfg();
        cfg.train_frac = 1.0;
        assert_eq!(
            Experiment::new(cfg.clone(), Arc::clone(&whole)).unwrap_err(),
            Error::InvalidParameter { name: "mi_rows" }
        );
        cfg.mi_rows = MiRows::All;
        let exp = Experiment::new(cfg, whole).unwrap();
        assert!(exp.mi_dataset().is_none());
        // The data set's own split wins over train_frac; a split must leave rows on each side.
        let mut cfg = split_cfg();
        cfg.train_frac = 0.1;
        let exp = Experiment::new(cfg, Arc::clone(&data)).unwrap();
        assert_eq!(
            exp.roles().iter().filter(|&&r| r == Role::Train).count(),
            40
        );
        assert_eq!(exp.mi_dataset().unwrap().rows(), 20);
        let d = Dataset::tishby();
        assert_eq!(
            d.clone().with_split(0).unwrap_err(),
            Error::InvalidParameter { name: "split" }
        );
        assert_eq!(
            d.with_split(4096).unwrap_err(),
            Error::InvalidParameter { name: "split" }
        );
    }
}
