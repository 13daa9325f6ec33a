//! `infoplane run`: train a network and write its information plane.
//!
//! The main thread trains. At each measured epoch it copies the weights (a few hundred
//! floats) and hands the copy to a measuring worker, which runs the network on every row and
//! applies each estimator to each layer. Results are written in epoch order as they arrive,
//! and flushed epoch by epoch, so an interrupted run keeps what it had. Measurements depend
//! only on the copied weights, so the output bytes do not depend on the number of threads.
//! The job queue is bounded, so memory does not grow with the number of epochs.

use super::{BinSettings, Buffers, Estimator, estimate_layer, parse_range};
use crate::args::{Capture, EstimatorName, InitName, OptimizerName, Preset, RunArgs, SplitName};
use crate::error::CliError;
use crate::plot::{PlotPoint, plane_svg};
use crate::progress::Progress;
use infoplane_core::data::{TISHBY_BITS, TISHBY_ROWS, split_rows, tishby_dataset, train_count};
use infoplane_core::metrics::{SplitMetrics, split_metrics};
use infoplane_core::{
    Activation, BatchOrder, BinRule, Init, MatRef, MlpPlan, MlpShape, Optimizer, PlanePoint,
    Schedule, Stream, StreamRng, Trainer,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// An owned epoch schedule.
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
    /// A `--schedule` error for anything else.
    pub fn parse(s: &str) -> Result<Self, CliError> {
        let bad = |why: &str| CliError::option("--schedule", format!("{s:?}: {why}"));
        let num = |v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| bad(&format!("{v:?} is not a non-negative integer")))
        };
        match s.split_once(':') {
            None if s == "saxe" => Ok(Self::Saxe),
            None if s == "saxe-mnist" => Ok(Self::SaxeMnist),
            Some(("log", v)) => Ok(Self::Log(num(v)?)),
            Some(("every", v)) => Ok(Self::Every(num(v)?)),
            Some(("list", v)) => Ok(Self::List(v.split(',').map(num).collect::<Result<_, _>>()?)),
            _ => Err(bad("unknown schedule")),
        }
    }

    /// The core schedule.
    #[must_use]
    pub fn as_core(&self) -> Schedule<'_> {
        match self {
            Self::Every(n) => Schedule::Every(*n),
            Self::List(l) => Schedule::List(l),
            Self::Log(p) => Schedule::Log { points: *p },
            Self::Saxe => Schedule::Saxe,
            Self::SaxeMnist => Schedule::SaxeMnist,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Every(n) => format!("every:{n}"),
            Self::List(l) => format!(
                "list:{}",
                l.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            ),
            Self::Log(p) => format!("log:{p}"),
            Self::Saxe => "saxe".into(),
            Self::SaxeMnist => "saxe-mnist".into(),
        }
    }
}

/// Every setting of a run, after the preset and the overrides are combined.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The preset the run started from.
    pub preset: Preset,
    /// All widths, input and output included.
    pub widths: Vec<u32>,
    /// Hidden activation.
    pub activation: Activation,
    /// Initialiser.
    pub init: Init,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Mini-batch size (`None`: full batch).
    pub batch: Option<usize>,
    /// Epochs.
    pub epochs: u32,
    /// Training fraction.
    pub train_frac: f64,
    /// Split rule.
    pub split: SplitName,
    /// Reshuffle every epoch.
    pub shuffle: bool,
    /// Seed.
    pub seed: u64,
    /// Measured epochs.
    pub schedule: ScheduleSpec,
    /// Estimators, in output order.
    pub estimators: Vec<EstimatorName>,
    /// Binning settings.
    pub bins: BinSettings,
    /// Capture point.
    pub capture: Capture,
    /// Worker threads (≥ 1).
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
}

impl RunConfig {
    /// Combines the preset with the overrides and checks everything.
    ///
    /// # Errors
    /// An option error naming the first bad option.
    pub fn from_args(a: &RunArgs) -> Result<Self, CliError> {
        let tishby = matches!(a.preset, Preset::Tishby | Preset::TishbyPaper);
        let (batch, epochs, train_frac, split, shuffle, schedule, capture, bins, estimator, init) =
            match a.preset {
                Preset::Tishby => (
                    Some(512),
                    8000,
                    0.8,
                    SplitName::First,
                    false,
                    ScheduleSpec::Log(400),
                    Capture::Before,
                    30,
                    EstimatorName::Binning,
                    Init::TruncatedNormalFanIn,
                ),
                Preset::TishbyPaper => (
                    None,
                    10_000,
                    0.85,
                    SplitName::Random,
                    false,
                    ScheduleSpec::Log(1800),
                    Capture::After,
                    50,
                    EstimatorName::Binning,
                    Init::TruncatedNormalFanIn,
                ),
                Preset::Saxe => (
                    Some(256),
                    10_000,
                    0.8,
                    SplitName::Random,
                    true,
                    ScheduleSpec::Saxe,
                    Capture::After,
                    30,
                    EstimatorName::BinningSize,
                    Init::TruncatedNormalFanOut,
                ),
            };
        let hidden: Vec<u32> = match &a.layers {
            None => vec![10, 7, 5, 4, 3],
            Some(s) => s
                .split(',')
                .map(|w| match w.trim().parse::<u32>() {
                    Ok(v) if v > 0 => Ok(v),
                    _ => Err(CliError::option(
                        "--layers",
                        format!("{s:?}: {w:?} is not a positive integer width"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        let widths: Vec<u32> = std::iter::once(u32::try_from(TISHBY_BITS).unwrap_or(u32::MAX))
            .chain(hidden)
            .chain([2])
            .collect();
        let activation = match &a.activation {
            None => Activation::Tanh,
            Some(s) => Activation::from_name(s).ok_or_else(|| {
                let names: Vec<&str> = Activation::ALL.iter().map(|x| x.name()).collect();
                CliError::option(
                    "--activation",
                    format!("{s:?} is not one of {}", names.join(", ")),
                )
            })?,
        };
        let init = match a.init {
            None => init,
            Some(InitName::TruncnormFanIn) => Init::TruncatedNormalFanIn,
            Some(InitName::TruncnormFanOut) => Init::TruncatedNormalFanOut,
            Some(InitName::GlorotUniform) => Init::GlorotUniform,
        };
        let lr = a.lr.unwrap_or(4e-4);
        let optimizer = match a.optimizer.unwrap_or(OptimizerName::Adam) {
            OptimizerName::Adam => Optimizer::adam(lr),
            OptimizerName::Sgd => Optimizer::Sgd {
                lr,
                momentum: a.momentum.unwrap_or(0.0),
            },
        };
        optimizer.validate().map_err(|e| match e {
            infoplane_core::Error::InvalidParameter { name: "momentum" } => {
                CliError::option("--momentum", "must be in [0, 1)")
            }
            _ => CliError::option("--lr", format!("{lr}: must be a positive number")),
        })?;
        let batch = match a.batch.as_deref() {
            None => batch,
            Some("full") => None,
            Some(s) => match s.parse::<usize>() {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    return Err(CliError::option(
                        "--batch",
                        format!("{s:?} is not a positive integer or `full`"),
                    ));
                }
            },
        };
        let epochs = a.epochs.unwrap_or(epochs);
        if epochs == 0 {
            return Err(CliError::option("--epochs", "must be at least 1"));
        }
        let train_frac = a.train_frac.unwrap_or(train_frac);
        train_count(TISHBY_ROWS, train_frac).map_err(|_| {
            CliError::option(
                "--train-frac",
                format!("{train_frac}: must be in (0, 1] and leave at least one training row"),
            )
        })?;
        let schedule = match &a.schedule {
            None => schedule,
            Some(s) => ScheduleSpec::parse(s)?,
        };
        schedule.as_core().validate(epochs).map_err(|_| {
            CliError::option("--schedule", format!("{:?} does not fit a run of {epochs} epochs (every:N needs N ≥ 1, log:S needs S ≥ 2, lists must increase and stay below --epochs)", schedule.describe()))
        })?;
        let range = match &a.range {
            None => (-1.0, 1.0),
            Some(s) => parse_range(s)?,
        };
        let bins = BinSettings {
            bins: a.bins.unwrap_or(bins),
            range,
            idnns: a.idnns_compat.unwrap_or(tishby),
            bin_size: a.bin_size.unwrap_or(0.07),
            noise_var: a.noise_var.unwrap_or(1e-3),
        };
        let mut estimators = Vec::new();
        for &e in if a.estimators.is_empty() {
            std::slice::from_ref(&estimator)
        } else {
            &a.estimators
        } {
            Estimator::new(e, &bins, 1, 1)?;
            if !estimators.contains(&e) {
                estimators.push(e);
            }
        }
        let threads = if a.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            a.threads
        };
        Ok(Self {
            preset: a.preset,
            widths,
            activation,
            init,
            optimizer,
            batch,
            epochs,
            train_frac,
            split: a.split.unwrap_or(split),
            shuffle: a.shuffle.unwrap_or(shuffle),
            seed: a.seed,
            schedule,
            estimators,
            bins,
            capture: a.capture.unwrap_or(capture),
            threads,
            out: a.out.clone(),
        })
    }
}

/// What one measured epoch produced.
#[derive(Debug)]
struct Measured {
    epoch: u32,
    /// (layer from 1, estimator, point), layer-major.
    points: Vec<(u32, EstimatorName, PlanePoint)>,
    metrics: SplitMetrics,
}

/// Where one layer's activations sit in the evaluation buffer, and its estimator plans.
type LayerPlans = (usize, usize, Vec<(EstimatorName, Estimator)>);

/// A worker's buffers for measuring snapshots, allocated once from the plans.
struct Measurer<'d> {
    x: MatRef<'d>,
    labels: &'d [u32],
    is_train: &'d [bool],
    net: MlpPlan,
    layers: Vec<f32>,
    nll: Vec<f32>,
    scratch: Vec<f32>,
    /// Per layer: (start in `layers`, width, one plan per estimator).
    plans: Vec<LayerPlans>,
    buf: Buffers,
}

impl<'d> Measurer<'d> {
    fn new(
        cfg: &RunConfig,
        shape: &MlpShape,
        x: MatRef<'d>,
        labels: &'d [u32],
        is_train: &'d [bool],
    ) -> Result<Self, CliError> {
        let n = x.rows();
        let net = MlpPlan::new(shape.clone(), 512).map_err(|e| CliError::core("network", e))?;
        let mut plans = Vec::new();
        let mut start = 0;
        for &w in shape.widths().iter().skip(1) {
            let w = w as usize;
            let mut per = Vec::new();
            for &e in &cfg.estimators {
                per.push((e, Estimator::new(e, &cfg.bins, n, w)?));
            }
            plans.push((start, w, per));
            start += n * w;
        }
        Ok(Self {
            x,
            labels,
            is_train,
            layers: vec![0.0; n * shape.activation_len()],
            nll: vec![0.0; n],
            scratch: vec![0.0; net.scratch_len()],
            net,
            plans,
            buf: Buffers::default(),
        })
    }

    fn measure(&mut self, epoch: u32, params: &[f32]) -> Result<Measured, CliError> {
        let ctx = |e| CliError::core(format!("measuring epoch {epoch}"), e);
        self.net
            .evaluate(
                params,
                self.x,
                self.labels,
                &mut self.layers,
                &mut self.nll,
                &mut self.scratch,
            )
            .map_err(ctx)?;
        let n = self.x.rows();
        let mut points = Vec::new();
        for (l, (start, w, per)) in (1u32..).zip(&self.plans) {
            let t = MatRef::new(self.layers.get(*start..start + n * w).unwrap_or(&[]), n, *w)
                .map_err(ctx)?;
            for (e, est) in per {
                let p = estimate_layer(est, *e, t, self.labels, None, 1, &mut self.buf)?;
                points.push((l, *e, p));
            }
        }
        let (start, w, _) = self
            .plans
            .last()
            .ok_or_else(|| CliError::Other("network has no layers".into()))?;
        let probs = MatRef::new(self.layers.get(*start..start + n * w).unwrap_or(&[]), n, *w)
            .map_err(ctx)?;
        let metrics = split_metrics(probs, &self.nll, self.labels, self.is_train).map_err(ctx)?;
        Ok(Measured {
            epoch,
            points,
            metrics,
        })
    }
}

/// Writes results in schedule order as they arrive.
struct Sink {
    plane: csv::Writer<std::fs::File>,
    metrics: csv::Writer<std::fs::File>,
    plane_path: PathBuf,
    metrics_path: PathBuf,
    pending: BTreeMap<u32, Measured>,
    order: std::vec::IntoIter<u32>,
    next: Option<u32>,
    plot: Vec<(EstimatorName, PlotPoint)>,
}

impl Sink {
    fn new(dir: &Path, order: Vec<u32>) -> Result<Self, CliError> {
        let plane_path = dir.join("plane.csv");
        let metrics_path = dir.join("metrics.csv");
        let mut plane = csv::Writer::from_writer(crate::io::create(&plane_path)?);
        let mut metrics = csv::Writer::from_writer(crate::io::create(&metrics_path)?);
        plane
            .write_record([
                "run",
                "epoch",
                "layer",
                "estimator",
                "i_xt_bits",
                "i_ty_bits",
            ])
            .and_then(|()| plane.flush().map_err(csv::Error::from))
            .map_err(|e| CliError::data(&plane_path, None, None, e.to_string()))?;
        metrics
            .write_record([
                "run",
                "epoch",
                "train_loss",
                "train_acc",
                "test_loss",
                "test_acc",
            ])
            .and_then(|()| metrics.flush().map_err(csv::Error::from))
            .map_err(|e| CliError::data(&metrics_path, None, None, e.to_string()))?;
        let mut order = order.into_iter();
        let next = order.next();
        Ok(Self {
            plane,
            metrics,
            plane_path,
            metrics_path,
            pending: BTreeMap::new(),
            order,
            next,
            plot: Vec::new(),
        })
    }

    fn accept(&mut self, m: Measured) -> Result<(), CliError> {
        self.pending.insert(m.epoch, m);
        while let Some(m) = self.next.and_then(|e| self.pending.remove(&e)) {
            self.write(&m)?;
            self.next = self.order.next();
        }
        Ok(())
    }

    fn write(&mut self, m: &Measured) -> Result<(), CliError> {
        let e = m.epoch.to_string();
        let pe = |err: csv::Error| CliError::data(&self.plane_path, None, None, err.to_string());
        for &(layer, est, p) in &m.points {
            let (ix, iy) = (p.i_xt.in_bits(), p.i_ty.in_bits());
            self.plane
                .write_record([
                    "0",
                    &e,
                    &layer.to_string(),
                    est.as_str(),
                    &ix.to_string(),
                    &iy.to_string(),
                ])
                .map_err(pe)?;
            self.plot.push((
                est,
                PlotPoint {
                    epoch: m.epoch,
                    layer,
                    i_xt: ix,
                    i_ty: iy,
                },
            ));
        }
        self.plane
            .flush()
            .map_err(|err| CliError::io(&self.plane_path, err))?;
        let tr = m.metrics.train;
        let (tl, ta) = m.metrics.test.map_or((String::new(), String::new()), |t| {
            (t.loss.to_string(), t.accuracy.to_string())
        });
        self.metrics
            .write_record([
                "0",
                &e,
                &tr.loss.to_string(),
                &tr.accuracy.to_string(),
                &tl,
                &ta,
            ])
            .map_err(|err| CliError::data(&self.metrics_path, None, None, err.to_string()))?;
        self.metrics
            .flush()
            .map_err(|err| CliError::io(&self.metrics_path, err))
    }
}

/// Runs training and measurement as configured.
///
/// # Errors
/// Any option, core or I/O error, with context.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let cfg = RunConfig::from_args(args)?;
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.out).map_err(|e| CliError::io(&cfg.out, e))?;

    let mut x = vec![0.0f32; TISHBY_ROWS * TISHBY_BITS];
    let mut labels = vec![0u32; TISHBY_ROWS];
    tishby_dataset(&mut x, &mut labels).map_err(|e| CliError::core("data set", e))?;
    let xm =
        MatRef::new(&x, TISHBY_ROWS, TISHBY_BITS).map_err(|e| CliError::core("data set", e))?;

    let n_train =
        train_count(TISHBY_ROWS, cfg.train_frac).map_err(|e| CliError::core("--train-frac", e))?;
    let mut perm = vec![0u32; TISHBY_ROWS];
    let mut split_rng = StreamRng::new(cfg.seed, Stream::Split);
    split_rows(
        &mut perm,
        (cfg.split == SplitName::Random).then_some(&mut split_rng),
    )
    .map_err(|e| CliError::core("split", e))?;
    let mut order: Vec<u32> = perm.get(..n_train).unwrap_or(&[]).to_vec();
    let mut is_train = vec![false; TISHBY_ROWS];
    for &r in &order {
        if let Some(t) = is_train.get_mut(r as usize) {
            *t = true;
        }
    }

    let shape = MlpShape::new(&cfg.widths, cfg.activation)
        .map_err(|e| CliError::option("--layers", e.to_string()))?;
    let batch = cfg.batch.unwrap_or(n_train).min(n_train);
    let plan = MlpPlan::new(shape.clone(), batch).map_err(|e| CliError::core("network", e))?;
    let order_kind = if cfg.shuffle {
        BatchOrder::Shuffled
    } else {
        BatchOrder::Fixed
    };
    let trainer = Trainer::new(plan.clone(), cfg.optimizer, order_kind)
        .map_err(|e| CliError::core("optimiser", e))?;
    let mut params = vec![0.0f32; shape.param_len()];
    plan.init(
        cfg.init,
        &mut params,
        &mut StreamRng::new(cfg.seed, Stream::Init),
    )
    .map_err(|e| CliError::core("init", e))?;
    let mut state = vec![0.0f32; trainer.state_len()];
    let mut scratch = vec![0.0f32; trainer.scratch_len()];
    let mut shuffle_rng = StreamRng::new(cfg.seed, Stream::Shuffle);
    let mut step = 0u64;

    let schedule = cfg.schedule.as_core();
    let measured: Vec<u32> = schedule.epochs(cfg.epochs).collect();
    let mut sink = Sink::new(&cfg.out, measured.clone())?;
    let mut progress = Progress::new(u64::from(cfg.epochs), args.quiet);
    // With more than one thread, every thread measures and the main thread also trains: the
    // measuring work (KDE especially) can exceed the training, and the OS shares the cores.
    let workers = if cfg.threads > 1 { cfg.threads } else { 0 };

    let train_result = std::thread::scope(|scope| -> Result<(), CliError> {
        let (job_tx, job_rx) = mpsc::sync_channel::<(u32, Vec<f32>)>(2 * workers.max(1));
        let (res_tx, res_rx) = mpsc::channel::<Result<Measured, CliError>>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let (job_rx, res_tx) = (Arc::clone(&job_rx), res_tx.clone());
            let (cfg, shape, labels, is_train) = (&cfg, &shape, &labels, &is_train);
            scope.spawn(move || {
                let mut m = match Measurer::new(cfg, shape, xm, labels, is_train) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = res_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let job = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((epoch, params)) = job else { break };
                    if res_tx.send(m.measure(epoch, &params)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        let mut inline = if workers == 0 {
            Some(Measurer::new(&cfg, &shape, xm, &labels, &is_train)?)
        } else {
            None
        };
        let mut in_flight = 0usize;
        let mut submit = |epoch: u32,
                          params: &[f32],
                          sink: &mut Sink,
                          in_flight: &mut usize|
         -> Result<(), CliError> {
            if let Some(m) = inline.as_mut() {
                return sink.accept(m.measure(epoch, params)?);
            }
            job_tx
                .send((epoch, params.to_vec()))
                .map_err(|_| CliError::Other("measuring worker stopped".into()))?;
            *in_flight += 1;
            while let Ok(r) = res_rx.try_recv() {
                *in_flight -= 1;
                sink.accept(r?)?;
            }
            Ok(())
        };
        let mut next = measured.iter().copied().peekable();
        for epoch in 0..cfg.epochs {
            let logged = next.peek() == Some(&epoch);
            if logged {
                next.next();
            }
            if logged && cfg.capture == Capture::Before {
                submit(epoch, &params, &mut sink, &mut in_flight)?;
            }
            trainer
                .epoch(
                    &mut params,
                    &mut state,
                    &mut step,
                    xm,
                    &labels,
                    &mut order,
                    &mut shuffle_rng,
                    &mut scratch,
                )
                .map_err(|e| CliError::core(format!("training epoch {epoch}"), e))?;
            if logged && cfg.capture == Capture::After {
                submit(epoch, &params, &mut sink, &mut in_flight)?;
            }
            progress.set(u64::from(epoch) + 1);
        }
        drop(job_tx);
        while in_flight > 0 {
            let r = res_rx
                .recv()
                .map_err(|_| CliError::Other("measuring worker stopped".into()))?;
            in_flight -= 1;
            sink.accept(r?)?;
        }
        Ok(())
    });
    progress.finish();
    train_result?;

    let first = cfg
        .estimators
        .first()
        .copied()
        .unwrap_or(EstimatorName::Binning);
    for &e in &cfg.estimators {
        let pts: Vec<PlotPoint> = sink
            .plot
            .iter()
            .filter(|(est, _)| *est == e)
            .map(|&(_, p)| p)
            .collect();
        let title = format!(
            "{} · {} · {}",
            preset_name(cfg.preset),
            cfg.activation.name(),
            e.as_str()
        );
        let svg = plane_svg(&title, &pts, cfg.epochs.saturating_sub(1))
            .map_err(|err| CliError::Other(format!("plot: {err}")))?;
        let name = if e == first {
            "plane.svg".to_owned()
        } else {
            format!("plane-{}.svg", e.as_str())
        };
        let path = cfg.out.join(name);
        std::fs::write(&path, svg).map_err(|err| CliError::io(&path, err))?;
    }
    write_manifest(&cfg, &measured, started.elapsed().as_secs_f64())?;
    Ok(())
}

fn preset_name(p: Preset) -> &'static str {
    match p {
        Preset::Tishby => "tishby",
        Preset::TishbyPaper => "tishby-paper",
        Preset::Saxe => "saxe",
    }
}

fn sha256_file(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The manifest entry describing one estimator's settings.
fn estimator_json(cfg: &RunConfig, e: EstimatorName) -> String {
    let name = json_str(e.as_str());
    match (e, cfg.bins.rule(e)) {
        (EstimatorName::KdeUpper | EstimatorName::KdeLower, _) => {
            format!(
                "{{\"estimator\": {name}, \"noise_var\": {}}}",
                cfg.bins.noise_var
            )
        }
        (
            _,
            Ok(BinRule::Edges {
                n_edges,
                lo,
                hi,
                idnns,
            }),
        ) => format!(
            "{{\"estimator\": {name}, \"edges\": {n_edges}, \"lo\": {lo}, \"hi\": {hi}, \"idnns_compat\": {idnns}}}"
        ),
        (_, Ok(BinRule::Size { size })) => {
            format!("{{\"estimator\": {name}, \"bin_size\": {size}}}")
        }
        (_, Ok(BinRule::LayerRange { n_edges })) => {
            format!("{{\"estimator\": {name}, \"edges\": {n_edges}}}")
        }
        _ => "null".into(),
    }
}

fn write_manifest(cfg: &RunConfig, measured: &[u32], seconds: f64) -> Result<(), CliError> {
    let plane_sha = sha256_file(&cfg.out.join("plane.csv"))?;
    let metrics_sha = sha256_file(&cfg.out.join("metrics.csv"))?;
    let (opt, lr, extra) = match cfg.optimizer {
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => (
            "adam",
            lr,
            format!("\"beta1\": {beta1}, \"beta2\": {beta2}, \"eps\": {eps}"),
        ),
        Optimizer::Sgd { lr, momentum } => ("sgd", lr, format!("\"momentum\": {momentum}")),
        _ => ("unknown", 0.0, String::new()),
    };
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let ests: Vec<String> = cfg
        .estimators
        .iter()
        .map(|e| json_str(e.as_str()))
        .collect();
    let args: Vec<String> = std::env::args().map(|a| json_str(&a)).collect();
    let rules: Vec<String> = cfg
        .estimators
        .iter()
        .map(|&e| estimator_json(cfg, e))
        .collect();
    let json = format!(
        "{{\n  \"infoplane_version\": {},\n  \"git_hash\": {},\n  \"command\": [{}],\n  \"preset\": {},\n  \"dataset\": \"tishby-12bit\",\n  \"widths\": [{}],\n  \"activation\": {},\n  \"init\": {},\n  \"optimizer\": {{\"name\": {}, \"lr\": {lr}, {extra}}},\n  \"batch\": {},\n  \"epochs\": {},\n  \"train_frac\": {},\n  \"split\": {},\n  \"shuffle\": {},\n  \"seed\": {},\n  \"schedule\": {},\n  \"measured_epochs\": {},\n  \"capture\": {},\n  \"estimators\": [{}],\n  \"estimator_settings\": [{}],\n  \"threads\": {},\n  \"wall_seconds\": {seconds:.3},\n  \"plane_csv_sha256\": {},\n  \"metrics_csv_sha256\": {}\n}}\n",
        json_str(env!("CARGO_PKG_VERSION")),
        option_env!("INFOPLANE_GIT_HASH").map_or_else(|| "null".to_owned(), json_str),
        args.join(", "),
        json_str(preset_name(cfg.preset)),
        list(&cfg.widths),
        json_str(cfg.activation.name()),
        json_str(cfg.init.name()),
        json_str(opt),
        cfg.batch
            .map_or_else(|| json_str("full"), |b| b.to_string()),
        cfg.epochs,
        cfg.train_frac,
        json_str(match cfg.split {
            SplitName::First => "first",
            SplitName::Random => "random",
        }),
        cfg.shuffle,
        cfg.seed,
        json_str(&cfg.schedule.describe()),
        measured.len(),
        json_str(match cfg.capture {
            Capture::Before => "before",
            Capture::After => "after",
        }),
        ests.join(", "),
        rules.join(", "),
        cfg.threads,
        json_str(&plane_sha),
        json_str(&metrics_sha),
    );
    let path = cfg.out.join("manifest.json");
    std::fs::write(&path, json).map_err(|e| CliError::io(&path, e))
}
