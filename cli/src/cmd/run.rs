//! `infoplane run`: train a network and write its information plane.
//!
//! Parse the options into the core's configuration (the preset's defaults, then the
//! overrides), let the core validate it, then drive the core's [`Run`]: the main thread
//! trains, and with more than one thread, snapshots go to measuring workers and come back in
//! any order; the core releases them in snapshot order, so the output bytes do not depend on
//! the thread count. Rows are written and flushed epoch by epoch, so an interrupted run
//! keeps what it had.

use super::threads;
use crate::args::{OptimizerName, RunArgs, SplitName};
use crate::error::CliError;
use crate::plot::{PlotPoint, plane_svg};
use crate::progress::Progress;
use infoplane_core::dataset::Dataset;
use infoplane_core::experiment::{
    Action, Experiment, ExperimentConfig, METRICS_HEADER, Measurement, PLANE_HEADER, Run, Snapshot,
    estimators,
};
use infoplane_core::preset::{DatasetName, Preset, preset};
use infoplane_core::schedule::ScheduleSpec;
use infoplane_core::{Activation, Capture, Init, Optimizer};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A run's settings: the core configuration plus what only the CLI needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Everything the core needs.
    pub experiment: ExperimentConfig,
    /// The data set.
    pub dataset: DatasetName,
    /// Worker threads (≥ 1).
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
}

impl RunConfig {
    /// The preset with the options' overrides. Only parsing happens here; the core checks
    /// the values ([`Experiment::new`]).
    ///
    /// # Errors
    /// An option error naming the first option that does not parse.
    pub fn from_args(a: &RunArgs) -> Result<Self, CliError> {
        let p: &Preset = preset(&a.preset)
            .ok_or_else(|| CliError::option("--preset", format!("no preset {:?}", a.preset)))?;
        let mut cfg = ExperimentConfig::from_preset(p).map_err(|e| CliError::core("preset", e))?;
        if let Some(s) = &a.layers {
            cfg.hidden = s
                .split(',')
                .map(|w| {
                    w.trim().parse::<u32>().map_err(|_| {
                        CliError::option(
                            "--layers",
                            format!("{s:?}: {w:?} is not a non-negative integer width"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(s) = &a.activation {
            cfg.activation = Activation::from_name(s)
                .ok_or_else(|| CliError::option("--activation", format!("no activation {s:?}")))?;
        }
        if let Some(s) = &a.init {
            cfg.init = Init::from_name(s)
                .ok_or_else(|| CliError::option("--init", format!("no initialiser {s:?}")))?;
        }
        let lr = a.lr.unwrap_or(cfg.optimizer.lr());
        let name = a.optimizer.unwrap_or(match cfg.optimizer {
            Optimizer::Sgd { .. } => OptimizerName::Sgd,
            _ => OptimizerName::Adam,
        });
        cfg.optimizer = match name {
            OptimizerName::Adam => {
                if a.momentum.is_some() {
                    return Err(CliError::option(
                        "--momentum",
                        "applies to --optimizer sgd (Adam has its own moments)",
                    ));
                }
                Optimizer::adam(lr)
            }
            OptimizerName::Sgd => Optimizer::Sgd {
                lr,
                momentum: a.momentum.unwrap_or(match cfg.optimizer {
                    Optimizer::Sgd { momentum, .. } => momentum,
                    _ => 0.0,
                }),
            },
        };
        match a.batch.as_deref() {
            None => {}
            Some("full") => cfg.batch = None,
            Some(s) => {
                cfg.batch = Some(s.parse().map_err(|_| {
                    CliError::option(
                        "--batch",
                        format!("{s:?} is not a positive integer or `full`"),
                    )
                })?);
            }
        }
        if let Some(e) = a.epochs {
            cfg.epochs = e;
        }
        if let Some(f) = a.train_frac {
            cfg.train_frac = f;
        }
        if let Some(s) = a.split {
            cfg.random_split = s == SplitName::Random;
        }
        if let Some(s) = a.shuffle {
            cfg.shuffle = s;
        }
        cfg.seed = a.seed;
        if let Some(s) = &a.schedule {
            cfg.schedule = ScheduleSpec::parse(s)
                .map_err(|e| CliError::from_core("--schedule", e, |_| Some(s.clone())))?;
        }
        if let Some(c) = &a.capture {
            cfg.capture = Capture::from_name(c)
                .ok_or_else(|| CliError::option("--capture", format!("no capture point {c:?}")))?;
        }
        let settings = a.settings.apply(p.settings)?;
        let names: Vec<&str> = if a.estimators.is_empty() {
            p.estimators.to_vec()
        } else {
            a.estimators.iter().map(String::as_str).collect()
        };
        cfg.estimators = estimators(&names, settings)
            .map_err(|e| CliError::from_core("estimators", e, |n| given(a, n)))?;
        Ok(Self {
            experiment: cfg,
            dataset: p.dataset,
            threads: threads(a.threads),
            out: a.out.clone(),
        })
    }
}

/// The value given on the command line for the core parameter `name`, for messages.
fn given(a: &RunArgs, name: &str) -> Option<String> {
    match name {
        "layers" => a.layers.clone(),
        "lr" => a.lr.map(|v| format!("{v:?}")),
        "momentum" => a.momentum.map(|v| format!("{v:?}")),
        "batch" => a.batch.clone(),
        "epochs" => a.epochs.map(|v| format!("{v:?}")),
        "train_frac" => a.train_frac.map(|v| format!("{v:?}")),
        "schedule" => a.schedule.clone(),
        _ => a.settings.given(name),
    }
}

/// The data set a run trains on.
fn load(name: DatasetName) -> Result<Dataset, CliError> {
    name.generate().ok_or_else(|| {
        CliError::Other(format!(
            "data set {} cannot be generated and this build has no reader for it",
            name.name()
        ))
    })
}

/// Writes results in the order the core releases them.
struct Sink {
    plane: BufWriter<File>,
    metrics: BufWriter<File>,
    plane_path: PathBuf,
    metrics_path: PathBuf,
    names: Vec<&'static str>,
    plot: Vec<(usize, PlotPoint)>,
    text: String,
    measured: usize,
}

impl Sink {
    fn new(dir: &Path, names: Vec<&'static str>) -> Result<Self, CliError> {
        let plane_path = dir.join("plane.csv");
        let metrics_path = dir.join("metrics.csv");
        let mut plane = BufWriter::new(crate::io::create(&plane_path)?);
        let mut metrics = BufWriter::new(crate::io::create(&metrics_path)?);
        plane
            .write_all(PLANE_HEADER.as_bytes())
            .and_then(|()| plane.flush())
            .map_err(|e| CliError::io(&plane_path, e))?;
        metrics
            .write_all(METRICS_HEADER.as_bytes())
            .and_then(|()| metrics.flush())
            .map_err(|e| CliError::io(&metrics_path, e))?;
        Ok(Self {
            plane,
            metrics,
            plane_path,
            metrics_path,
            names,
            plot: Vec::new(),
            text: String::new(),
            measured: 0,
        })
    }

    fn write(&mut self, m: &Measurement) -> Result<(), CliError> {
        let fmt_err = |_| CliError::Other("formatting a CSV row failed".into());
        self.text.clear();
        m.write_plane_rows(0, &self.names, &mut self.text)
            .map_err(fmt_err)?;
        self.plane
            .write_all(self.text.as_bytes())
            .and_then(|()| self.plane.flush())
            .map_err(|e| CliError::io(&self.plane_path, e))?;
        self.text.clear();
        m.write_metrics_row(0, &mut self.text).map_err(fmt_err)?;
        self.metrics
            .write_all(self.text.as_bytes())
            .and_then(|()| self.metrics.flush())
            .map_err(|e| CliError::io(&self.metrics_path, e))?;
        for p in &m.points {
            let point = PlotPoint {
                epoch: m.epoch,
                layer: p.layer,
                i_xt: p.point.i_xt.in_bits(),
                i_ty: p.point.i_ty.in_bits(),
            };
            self.plot.push((p.estimator, point));
        }
        self.measured += 1;
        Ok(())
    }
}

/// A measurement result with the ticket of its snapshot.
type Done = (u64, Result<Measurement, CliError>);

/// Runs training and measurement as configured.
///
/// # Errors
/// Any option, core or I/O error, with context.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let cfg = RunConfig::from_args(args)?;
    let started = Instant::now();
    let data = Arc::new(load(cfg.dataset)?);
    // Every setting is checked (and every estimator planned) before anything is written.
    let exp = Experiment::new(cfg.experiment.clone(), data)
        .map_err(|e| CliError::from_core("setting up the run", e, |n| given(args, n)))?;
    let widths = exp.shape().widths().to_vec();
    let dataset_name = exp.dataset().name().to_owned();
    let measurer = exp
        .measurer()
        .map_err(|e| CliError::core("planning the estimators", e))?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| CliError::io(&cfg.out, e))?;
    let mut sink = Sink::new(&cfg.out, cfg.experiment.estimator_names())?;
    let mut progress = Progress::new(u64::from(cfg.experiment.epochs), args.quiet);
    // With more than one thread, every thread measures and the main thread also trains: the
    // measuring work (KDE especially) can exceed the training, and the OS shares the cores.
    let workers = if cfg.threads > 1 { cfg.threads } else { 0 };
    let mut run = Run::new(exp, 2 * workers.max(1));
    let measure_err = |epoch: u32, e| CliError::core(format!("measuring epoch {epoch}"), e);

    let result = std::thread::scope(|scope| -> Result<(), CliError> {
        let (job_tx, job_rx) = mpsc::channel::<(u64, Snapshot)>();
        let (res_tx, res_rx) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let (job_rx, res_tx, mut m) = (Arc::clone(&job_rx), res_tx.clone(), measurer.clone());
            scope.spawn(move || {
                loop {
                    let job = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((ticket, snap)) = job else { break };
                    let r = m.measure(&snap).map_err(|e| measure_err(snap.epoch, e));
                    if res_tx.send((ticket, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        let mut inline = (workers == 0).then(|| measurer.clone());
        loop {
            let action = run.next_action().map_err(|e| {
                let epoch = run.experiment().epochs_done();
                CliError::from_core(format!("training epoch {epoch}"), e, |_| None)
            })?;
            match action {
                Action::Measure(ticket, snap) => match inline.as_mut() {
                    Some(m) => {
                        let r = m.measure(&snap).map_err(|e| measure_err(snap.epoch, e))?;
                        run.deliver(ticket, r);
                    }
                    None => job_tx
                        .send((ticket, snap))
                        .map_err(|_| CliError::Other("measuring worker stopped".into()))?,
                },
                Action::Trained(e) => progress.set(u64::from(e)),
                Action::Deliver => {
                    let (ticket, r) = res_rx
                        .recv()
                        .map_err(|_| CliError::Other("measuring worker stopped".into()))?;
                    run.deliver(ticket, r?);
                }
                Action::Done => break,
            }
            while let Some(m) = run.release() {
                sink.write(&m)?;
            }
        }
        drop(job_tx);
        Ok(())
    });
    progress.finish();
    result?;

    let exp_cfg = &cfg.experiment;
    for (k, e) in exp_cfg.estimators.iter().enumerate() {
        let pts: Vec<PlotPoint> = sink
            .plot
            .iter()
            .filter(|(est, _)| *est == k)
            .map(|&(_, p)| p)
            .collect();
        let title = format!(
            "{} · {} · {}",
            exp_cfg.preset,
            exp_cfg.activation.name(),
            e.name()
        );
        let svg = plane_svg(&title, &pts, exp_cfg.epochs.saturating_sub(1))
            .map_err(|err| CliError::Other(format!("plot: {err}")))?;
        let name = if k == 0 {
            "plane.svg".to_owned()
        } else {
            format!("plane-{}.svg", e.name())
        };
        let path = cfg.out.join(name);
        std::fs::write(&path, svg).map_err(|err| CliError::io(&path, err))?;
    }
    let manifest = Manifest {
        infoplane_version: env!("CARGO_PKG_VERSION"),
        git_hash: option_env!("INFOPLANE_GIT_HASH"),
        command: std::env::args().collect(),
        dataset: &dataset_name,
        widths,
        config: exp_cfg,
        measured_epochs: sink.measured,
        threads: cfg.threads,
        simd: infoplane_core::Isa::active().name(),
        wall_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        plane_csv_sha256: sha256_file(&sink.plane_path)?,
        metrics_csv_sha256: sha256_file(&sink.metrics_path)?,
    };
    let path = cfg.out.join("manifest.json");
    let mut json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| CliError::Other(format!("manifest: {e}")))?;
    json.push('\n');
    std::fs::write(&path, json).map_err(|err| CliError::io(&path, err))
}

/// `manifest.json`: how the run was made and what it wrote.
#[derive(Debug, Serialize)]
struct Manifest<'a> {
    infoplane_version: &'static str,
    git_hash: Option<&'static str>,
    command: Vec<String>,
    dataset: &'a str,
    /// All widths, input and output included.
    widths: Vec<u32>,
    /// Every setting (preset, hidden widths, activation, …, estimators with their settings).
    #[serde(flatten)]
    config: &'a ExperimentConfig,
    measured_epochs: usize,
    threads: usize,
    /// The kernels' instruction-set level (speed only: every level gives the same bytes).
    simd: &'static str,
    wall_seconds: f64,
    plane_csv_sha256: String,
    metrics_csv_sha256: String,
}

fn sha256_file(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}
