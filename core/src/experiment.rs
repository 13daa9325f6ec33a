//! A whole run: data, split, initialisation, the epoch loop with its capture points, and the
//! measurement of each captured snapshot, owning every buffer (feature `alloc`).
//!
//! [`Experiment`] trains and hands out [`Snapshot`]s (the weights at a measured epoch: a few
//! hundred floats, never activations, so memory does not grow with the run). A [`Measurer`]
//! turns a snapshot into a [`Measurement`]: every layer's activations on every row, each
//! estimator on each layer, and the train/test metrics. A measurement depends only on its
//! snapshot, so callers may measure on other threads, in any order, and get the same bytes.
//! [`Measurement::write_plane_rows`] and [`Measurement::write_metrics_row`] format the CSV
//! rows, so every frontend writes identical files.

use crate::binning::BinningPlan;
use crate::data::{TISHBY_BITS, TISHBY_ROWS, split_rows, tishby_dataset, train_count};
use crate::kde::{KdeBound, KdePlan};
use crate::metrics::{SplitMetrics, split_metrics};
use crate::{
    Activation, BatchOrder, BinRule, Error, Init, MatRef, MlpPlan, MlpShape, Optimizer, PlanePoint,
    Schedule, Stream, StreamRng, Trainer,
};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// The header of `plane.csv`.
pub const PLANE_HEADER: &str = "run,epoch,layer,estimator,i_xt_bits,i_ty_bits\n";
/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "run,epoch,train_loss,train_acc,test_loss,test_acc\n";

/// Training presets: the published set-ups this tool reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// Shwartz-Ziv & Tishby's IDNNs code.
    Tishby,
    /// The 2017 paper scripts.
    TishbyPaper,
    /// Saxe et al.'s ibsgd IB net.
    Saxe,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 3] = [Self::Tishby, Self::TishbyPaper, Self::Saxe];

    /// The name used on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tishby => "tishby",
            Self::TishbyPaper => "tishby-paper",
            Self::Saxe => "saxe",
        }
    }

    /// Parses [`Preset::name`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// When a measured epoch's activations are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Before the epoch's update (IDNNs; epoch 0 is the initial weights).
    Before,
    /// After the epoch's update (the paper scripts, ibsgd).
    After,
}

/// An owned epoch schedule (see [`Schedule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleSpec {
    /// `every:N`.
    Every(u32),
    /// `list:E,E,..`.
    List(Vec<u32>),
    /// `log:S`.
    Log(u32),
    /// `saxe`.
    Saxe,
    /// `saxe-mnist`.
    SaxeMnist,
}

impl ScheduleSpec {
    /// Parses `log:S`, `every:N`, `saxe`, `saxe-mnist` or `list:E,E,..`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"schedule"` for anything else.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = Error::InvalidParameter { name: "schedule" };
        let num = |v: &str| v.trim().parse::<u32>().map_err(|_| bad);
        match s.split_once(':') {
            None if s == "saxe" => Ok(Self::Saxe),
            None if s == "saxe-mnist" => Ok(Self::SaxeMnist),
            Some(("log", v)) => Ok(Self::Log(num(v)?)),
            Some(("every", v)) => Ok(Self::Every(num(v)?)),
            Some(("list", v)) => Ok(Self::List(v.split(',').map(num).collect::<Result<_, _>>()?)),
            _ => Err(bad),
        }
    }

    /// The borrowed schedule.
    #[must_use]
    pub fn as_schedule(&self) -> Schedule<'_> {
        match self {
            Self::Every(n) => Schedule::Every(*n),
            Self::List(l) => Schedule::List(l),
            Self::Log(p) => Schedule::Log { points: *p },
            Self::Saxe => Schedule::Saxe,
            Self::SaxeMnist => Schedule::SaxeMnist,
        }
    }
}

impl fmt::Display for ScheduleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
            Self::Log(p) => write!(f, "log:{p}"),
            Self::Saxe => f.write_str("saxe"),
            Self::SaxeMnist => f.write_str("saxe-mnist"),
        }
    }
}

/// One estimator of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EstimatorSpec {
    /// A binning estimator.
    Binning(BinRule),
    /// A KDE bound with noise variance σ².
    Kde {
        /// Upper or lower bound.
        bound: KdeBound,
        /// σ².
        noise_var: f32,
    },
}

impl EstimatorSpec {
    /// The name written in `plane.csv`: `binning`, `binning-size`, `binning-range`,
    /// `kde-upper` or `kde-lower`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Binning(BinRule::Edges { .. }) => "binning",
            Self::Binning(BinRule::Size { .. }) => "binning-size",
            Self::Binning(BinRule::LayerRange { .. }) => "binning-range",
            Self::Kde {
                bound: KdeBound::Upper,
                ..
            } => "kde-upper",
            Self::Kde {
                bound: KdeBound::Lower,
                ..
            } => "kde-lower",
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// As [`BinRule::validate`]; [`Error::InvalidParameter`] `"noise_var"` unless σ² is
    /// finite and positive.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Self::Binning(rule) => rule.validate(),
            Self::Kde { noise_var, .. } => {
                if noise_var.is_finite() && *noise_var > 0.0 {
                    Ok(())
                } else {
                    Err(Error::InvalidParameter { name: "noise_var" })
                }
            }
        }
    }
}

/// Every setting of a run on Tishby's 12-bit task.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConfig {
    /// All widths, input (12) first, output (2) last.
    pub widths: Vec<u32>,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialiser.
    pub init: Init,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Mini-batch size; `None` is full batch.
    pub batch: Option<usize>,
    /// Number of epochs.
    pub epochs: u32,
    /// Fraction of rows that train (`rint(frac · 4096)` rows).
    pub train_frac: f64,
    /// Training rows drawn at random (else the first rows).
    pub random_split: bool,
    /// Reshuffle the batch order every epoch.
    pub shuffle: bool,
    /// The seed of every random stream.
    pub seed: u64,
    /// Measured epochs.
    pub schedule: ScheduleSpec,
    /// Capture point.
    pub capture: Capture,
    /// Estimators, in output order.
    pub estimators: Vec<EstimatorSpec>,
}

impl ExperimentConfig {
    /// The preset's settings (SPEC table): tanh, Adam 4e-4, and per preset the batch, epochs,
    /// schedule, capture point, split and default estimator.
    #[must_use]
    pub fn preset(p: Preset) -> Self {
        let edges = |n_edges| {
            EstimatorSpec::Binning(BinRule::Edges {
                n_edges,
                lo: -1.0,
                hi: 1.0,
                idnns: true,
            })
        };
        let base = Self {
            widths: vec![12, 10, 7, 5, 4, 3, 2],
            activation: Activation::Tanh,
            init: Init::TruncatedNormalFanIn,
            optimizer: Optimizer::adam(4e-4),
            batch: Some(512),
            epochs: 8000,
            train_frac: 0.8,
            random_split: false,
            shuffle: false,
            seed: 0,
            schedule: ScheduleSpec::Log(400),
            capture: Capture::Before,
            estimators: vec![edges(30)],
        };
        match p {
            Preset::Tishby => base,
            Preset::TishbyPaper => Self {
                batch: None,
                epochs: 10_000,
                train_frac: 0.85,
                random_split: true,
                schedule: ScheduleSpec::Log(1800),
                capture: Capture::After,
                estimators: vec![edges(50)],
                ..base
            },
            Preset::Saxe => Self {
                init: Init::TruncatedNormalFanOut,
                batch: Some(256),
                epochs: 10_000,
                random_split: true,
                shuffle: true,
                schedule: ScheduleSpec::Saxe,
                capture: Capture::After,
                estimators: vec![EstimatorSpec::Binning(BinRule::Size { size: 0.07 })],
                ..base
            },
        }
    }
}

/// The weights at one measured epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The epoch (counted from 0).
    pub epoch: u32,
    /// All parameters, in [`MlpPlan`] layout.
    pub params: Vec<f32>,
}

/// A training run in progress.
#[derive(Debug, Clone)]
pub struct Experiment {
    cfg: ExperimentConfig,
    x: Vec<f32>,
    labels: Vec<u32>,
    is_train: Vec<bool>,
    order: Vec<u32>,
    trainer: Trainer,
    params: Vec<f32>,
    state: Vec<f32>,
    scratch: Vec<f32>,
    shuffle_rng: StreamRng,
    step: u64,
    epoch: u32,
    measured: Vec<u32>,
    next_measured: usize,
}

impl Experiment {
    /// Generates the data, splits it, initialises the network and plans everything.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting (`widths`, `train_frac`,
    /// `schedule`, `lr`, `bins`, `noise_var`, …); [`Error::EmptyInput`] for zero epochs.
    pub fn new(cfg: ExperimentConfig) -> Result<Self, Error> {
        if cfg.widths.first().map(|&w| w as usize) != Some(TISHBY_BITS)
            || cfg.widths.last() != Some(&2)
        {
            return Err(Error::InvalidParameter { name: "widths" });
        }
        cfg.schedule.as_schedule().validate(cfg.epochs)?;
        for e in &cfg.estimators {
            e.validate()?;
        }
        if cfg.estimators.is_empty() {
            return Err(Error::InvalidParameter { name: "estimators" });
        }
        let mut x = vec![0.0f32; TISHBY_ROWS * TISHBY_BITS];
        let mut labels = vec![0u32; TISHBY_ROWS];
        tishby_dataset(&mut x, &mut labels)?;
        let n_train = train_count(TISHBY_ROWS, cfg.train_frac)?;
        let mut perm = vec![0u32; TISHBY_ROWS];
        let mut split_rng = StreamRng::new(cfg.seed, Stream::Split);
        split_rows(&mut perm, cfg.random_split.then_some(&mut split_rng))?;
        let order: Vec<u32> = perm.get(..n_train).unwrap_or(&[]).to_vec();
        let mut is_train = vec![false; TISHBY_ROWS];
        for &r in &order {
            if let Some(t) = is_train.get_mut(r as usize) {
                *t = true;
            }
        }
        let shape = MlpShape::new(&cfg.widths, cfg.activation)?;
        let batch = cfg.batch.unwrap_or(n_train).min(n_train);
        if batch == 0 {
            return Err(Error::InvalidParameter { name: "batch" });
        }
        let plan = MlpPlan::new(shape, batch)?;
        let order_kind = if cfg.shuffle {
            BatchOrder::Shuffled
        } else {
            BatchOrder::Fixed
        };
        let trainer = Trainer::new(plan.clone(), cfg.optimizer, order_kind)?;
        let mut params = vec![0.0f32; plan.shape().param_len()];
        plan.init(
            cfg.init,
            &mut params,
            &mut StreamRng::new(cfg.seed, Stream::Init),
        )?;
        let measured: Vec<u32> = cfg.schedule.as_schedule().epochs(cfg.epochs).collect();
        Ok(Self {
            state: vec![0.0; trainer.state_len()],
            scratch: vec![0.0; trainer.scratch_len()],
            shuffle_rng: StreamRng::new(cfg.seed, Stream::Shuffle),
            x,
            labels,
            is_train,
            order,
            trainer,
            params,
            step: 0,
            epoch: 0,
            measured,
            next_measured: 0,
            cfg,
        })
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ExperimentConfig {
        &self.cfg
    }

    /// The epochs that will be measured, ascending.
    #[must_use]
    pub fn measured_epochs(&self) -> &[u32] {
        &self.measured
    }

    /// Epochs trained so far.
    #[must_use]
    pub const fn epochs_done(&self) -> u32 {
        self.epoch
    }

    /// Whether every epoch has been trained.
    #[must_use]
    pub const fn done(&self) -> bool {
        self.epoch >= self.cfg.epochs
    }

    /// The current parameters.
    #[must_use]
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Trains the next epoch. Returns the snapshot of that epoch if it is measured: taken
    /// before the update with [`Capture::Before`], after it with [`Capture::After`]. Does
    /// nothing once [`Experiment::done`].
    ///
    /// # Errors
    /// As [`Trainer::epoch`]; [`Error::Overflow`] when training diverges.
    pub fn step(&mut self) -> Result<Option<Snapshot>, Error> {
        if self.done() {
            return Ok(None);
        }
        let epoch = self.epoch;
        let logged = self.measured.get(self.next_measured) == Some(&epoch);
        if logged {
            self.next_measured += 1;
        }
        let mut snap = None;
        if logged && self.cfg.capture == Capture::Before {
            snap = Some(Snapshot {
                epoch,
                params: self.params.clone(),
            });
        }
        let x = MatRef::new(&self.x, TISHBY_ROWS, TISHBY_BITS)?;
        self.trainer.epoch(
            &mut self.params,
            &mut self.state,
            &mut self.step,
            x,
            &self.labels,
            &mut self.order,
            &mut self.shuffle_rng,
            &mut self.scratch,
        )?;
        self.epoch += 1;
        if logged && self.cfg.capture == Capture::After {
            snap = Some(Snapshot {
                epoch,
                params: self.params.clone(),
            });
        }
        Ok(snap)
    }

    /// A measurer for this run's snapshots, with its own copy of the data and buffers.
    ///
    /// # Errors
    /// As the estimator plans' constructors.
    pub fn measurer(&self) -> Result<Measurer, Error> {
        Measurer::new(
            &self.cfg,
            self.x.clone(),
            self.labels.clone(),
            self.is_train.clone(),
        )
    }
}

/// One layer's plane point from one estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerPoint {
    /// Layer, from 1 (the softmax output last).
    pub layer: u32,
    /// Index into the run's estimators.
    pub estimator: usize,
    /// I(X;T) and I(T;Y).
    pub point: PlanePoint,
}

/// Everything measured at one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The epoch.
    pub epoch: u32,
    /// Layer-major, estimators in configuration order within a layer.
    pub points: Vec<LayerPoint>,
    /// Train/test loss and accuracy.
    pub metrics: SplitMetrics,
}

impl Measurement {
    /// Writes this epoch's `plane.csv` rows (no header): `run,epoch,layer,estimator,i_xt,i_ty`,
    /// floats in shortest round-trip form. `names` are the estimators' names.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_plane_rows(&self, run: u32, names: &[&str], w: &mut impl Write) -> fmt::Result {
        for p in &self.points {
            let name = names.get(p.estimator).copied().unwrap_or("?");
            writeln!(
                w,
                "{run},{},{},{name},{},{}",
                self.epoch,
                p.layer,
                p.point.i_xt.in_bits(),
                p.point.i_ty.in_bits()
            )?;
        }
        Ok(())
    }

    /// Writes this epoch's `metrics.csv` row (no header); test fields are empty when no row
    /// is held out.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_metrics_row(&self, run: u32, w: &mut impl Write) -> fmt::Result {
        let tr = self.metrics.train;
        write!(w, "{run},{},{},{},", self.epoch, tr.loss, tr.accuracy)?;
        match self.metrics.test {
            Some(t) => writeln!(w, "{},{}", t.loss, t.accuracy),
            None => writeln!(w, ","),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kernel {
    Bin(BinningPlan),
    Kde(KdePlan, KdeBound, f32),
}

/// Measures snapshots: owns a copy of the data and every buffer, sized once.
#[derive(Debug, Clone)]
pub struct Measurer {
    x: Vec<f32>,
    labels: Vec<u32>,
    is_train: Vec<bool>,
    net: MlpPlan,
    layers: Vec<f32>,
    nll: Vec<f32>,
    scratch: Vec<f32>,
    /// Per layer: start in `layers`, width, one kernel per estimator.
    plans: Vec<(usize, usize, Vec<Kernel>)>,
    bin_scratch: Vec<u64>,
    kde_scratch: Vec<f32>,
}

impl Measurer {
    fn new(
        cfg: &ExperimentConfig,
        x: Vec<f32>,
        labels: Vec<u32>,
        is_train: Vec<bool>,
    ) -> Result<Self, Error> {
        let n = labels.len();
        let shape = MlpShape::new(&cfg.widths, cfg.activation)?;
        let net = MlpPlan::new(shape.clone(), 512)?;
        let (mut plans, mut start, mut bin_len, mut kde_len) = (Vec::new(), 0, 0, 0);
        for &w in shape.widths().iter().skip(1) {
            let w = w as usize;
            let mut per = Vec::new();
            for e in &cfg.estimators {
                let k = match *e {
                    EstimatorSpec::Binning(rule) => {
                        let p = BinningPlan::new(n, w, rule)?;
                        bin_len = bin_len.max(p.scratch_len());
                        Kernel::Bin(p)
                    }
                    EstimatorSpec::Kde { bound, noise_var } => {
                        let p = KdePlan::new(n, w)?;
                        kde_len = kde_len.max(p.scratch_len());
                        Kernel::Kde(p, bound, noise_var)
                    }
                };
                per.push(k);
            }
            plans.push((start, w, per));
            start += n * w;
        }
        Ok(Self {
            layers: vec![0.0; n * shape.activation_len()],
            nll: vec![0.0; n],
            scratch: vec![0.0; net.scratch_len()],
            bin_scratch: vec![0; bin_len],
            kde_scratch: vec![0.0; kde_len],
            x,
            labels,
            is_train,
            net,
            plans,
        })
    }

    /// Runs the snapshot's network on every row, applies every estimator to every layer, and
    /// computes the train/test metrics.
    ///
    /// # Errors
    /// As [`MlpPlan::evaluate`] and the estimators.
    pub fn measure(&mut self, snap: &Snapshot) -> Result<Measurement, Error> {
        let n = self.labels.len();
        let cols = self.x.len() / n.max(1);
        let x = MatRef::new(&self.x, n, cols)?;
        self.net.evaluate(
            &snap.params,
            x,
            &self.labels,
            &mut self.layers,
            &mut self.nll,
            &mut self.scratch,
        )?;
        let mut points = Vec::new();
        for (layer, (start, w, per)) in (1u32..).zip(&self.plans) {
            let t = MatRef::new(self.layers.get(*start..start + n * w).unwrap_or(&[]), n, *w)?;
            for (estimator, k) in per.iter().enumerate() {
                let point = match *k {
                    Kernel::Bin(p) => {
                        p.mutual_information(t, &self.labels, None, &mut self.bin_scratch)?
                    }
                    Kernel::Kde(p, bound, var) => {
                        p.mutual_information(t, &self.labels, var, bound, &mut self.kde_scratch)?
                    }
                };
                points.push(LayerPoint {
                    layer,
                    estimator,
                    point,
                });
            }
        }
        let (start, w, _) = self.plans.last().ok_or(Error::EmptyInput)?;
        let probs = MatRef::new(self.layers.get(*start..start + n * w).unwrap_or(&[]), n, *w)?;
        let metrics = split_metrics(probs, &self.nll, &self.labels, &self.is_train)?;
        Ok(Measurement {
            epoch: snap.epoch,
            points,
            metrics,
        })
    }
}

/// The names of a configuration's estimators, for [`Measurement::write_plane_rows`].
#[must_use]
pub fn estimator_names(cfg: &ExperimentConfig) -> Vec<&'static str> {
    cfg.estimators.iter().map(EstimatorSpec::name).collect()
}
