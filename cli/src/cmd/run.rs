//! `infoplane run`: train a network and write its information plane.
//!
//! The core's [`Experiment`] trains; at each measured epoch it hands out a snapshot of the
//! weights (a few hundred floats), which a [`Measurer`] turns into plane points and metrics.
//! With more than one thread, snapshots go to measuring workers through a bounded queue
//! (memory does not grow with the run) while the main thread keeps training; results are
//! written in epoch order as they arrive and flushed epoch by epoch, so an interrupted run
//! keeps what it had. A measurement depends only on its snapshot, so the output bytes do not
//! depend on the number of threads.

use super::{BinSettings, parse_range};
use crate::args::{Capture, EstimatorName, InitName, OptimizerName, Preset, RunArgs, SplitName};
use crate::error::CliError;
use crate::plot::{PlotPoint, plane_svg};
use crate::progress::Progress;
use infoplane_core::experiment::{
    self, EstimatorSpec, Experiment, ExperimentConfig, METRICS_HEADER, Measurement, Measurer,
    PLANE_HEADER, ScheduleSpec, Snapshot,
};
use infoplane_core::{Activation, BinRule, Init, KdeBound, Optimizer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    /// The preset the run started from.
    pub preset: Preset,
    /// Everything the core needs.
    pub experiment: ExperimentConfig,
    /// Estimator names as given, in output order.
    pub estimators: Vec<EstimatorName>,
    /// Worker threads (≥ 1).
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
}

fn core_preset(p: Preset) -> experiment::Preset {
    match p {
        Preset::Tishby => experiment::Preset::Tishby,
        Preset::TishbyPaper => experiment::Preset::TishbyPaper,
        Preset::Saxe => experiment::Preset::Saxe,
    }
}

/// Parses `--schedule` with a message that names the accepted forms.
///
/// # Errors
/// A `--schedule` option error.
pub fn parse_schedule(s: &str) -> Result<ScheduleSpec, CliError> {
    ScheduleSpec::parse(s)
        .map_err(|_| CliError::option("--schedule", format!("{s:?} is not a schedule")))
}

impl RunConfig {
    /// Combines the preset with the overrides and checks everything.
    ///
    /// # Errors
    /// An option error naming the first bad option.
    pub fn from_args(a: &RunArgs) -> Result<Self, CliError> {
        let preset = ExperimentConfig::preset(core_preset(a.preset));
        let tishby = matches!(a.preset, Preset::Tishby | Preset::TishbyPaper);
        let hidden: Vec<u32> = match &a.layers {
            None => preset
                .widths
                .get(1..preset.widths.len() - 1)
                .unwrap_or(&[])
                .to_vec(),
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
        let widths: Vec<u32> = std::iter::once(12).chain(hidden).chain([2]).collect();
        let activation = match &a.activation {
            None => preset.activation,
            Some(s) => Activation::from_name(s).ok_or_else(|| {
                let names: Vec<&str> = Activation::ALL.iter().map(|x| x.name()).collect();
                CliError::option(
                    "--activation",
                    format!("{s:?} is not one of {}", names.join(", ")),
                )
            })?,
        };
        let init = match a.init {
            None => preset.init,
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
            None => preset.batch,
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
        let epochs = a.epochs.unwrap_or(preset.epochs);
        if epochs == 0 {
            return Err(CliError::option("--epochs", "must be at least 1"));
        }
        let train_frac = a.train_frac.unwrap_or(preset.train_frac);
        infoplane_core::data::train_count(4096, train_frac).map_err(|_| {
            CliError::option(
                "--train-frac",
                format!("{train_frac}: must be in (0, 1] and leave at least one training row"),
            )
        })?;
        let schedule = match &a.schedule {
            None => preset.schedule.clone(),
            Some(s) => parse_schedule(s)?,
        };
        schedule.as_schedule().validate(epochs).map_err(|_| {
            CliError::option(
                "--schedule",
                format!(
                    "{:?} does not fit a run of {epochs} epochs (every:N needs N ≥ 1, log:S needs S ≥ 2, lists must increase and stay below --epochs)",
                    schedule.to_string()
                ),
            )
        })?;
        let bins = BinSettings {
            bins: a.bins.unwrap_or(match a.preset {
                Preset::TishbyPaper => 50,
                _ => 30,
            }),
            range: match &a.range {
                None => (-1.0, 1.0),
                Some(s) => parse_range(s)?,
            },
            idnns: a.idnns_compat.unwrap_or(tishby),
            bin_size: a.bin_size.unwrap_or(0.07),
            noise_var: a.noise_var.unwrap_or(1e-3),
        };
        let default_estimator = match a.preset {
            Preset::Saxe => EstimatorName::BinningSize,
            _ => EstimatorName::Binning,
        };
        let mut estimators = Vec::new();
        for &e in if a.estimators.is_empty() {
            std::slice::from_ref(&default_estimator)
        } else {
            &a.estimators
        } {
            if !estimators.contains(&e) {
                estimators.push(e);
            }
        }
        let specs = estimators
            .iter()
            .map(|&e| spec(e, &bins))
            .collect::<Result<Vec<_>, _>>()?;
        let threads = if a.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            a.threads
        };
        let experiment = ExperimentConfig {
            widths,
            activation,
            init,
            optimizer,
            batch,
            epochs,
            train_frac,
            random_split: a
                .split
                .map_or(preset.random_split, |s| s == SplitName::Random),
            shuffle: a.shuffle.unwrap_or(preset.shuffle),
            seed: a.seed,
            schedule,
            capture: match a.capture {
                None => preset.capture,
                Some(Capture::Before) => experiment::Capture::Before,
                Some(Capture::After) => experiment::Capture::After,
            },
            estimators: specs,
        };
        Ok(Self {
            preset: a.preset,
            experiment,
            estimators,
            threads,
            out: a.out.clone(),
        })
    }
}

/// The core estimator for a CLI estimator name, checked.
fn spec(e: EstimatorName, bins: &BinSettings) -> Result<EstimatorSpec, CliError> {
    let bound = match e {
        EstimatorName::KdeUpper => KdeBound::Upper,
        EstimatorName::KdeLower => KdeBound::Lower,
        _ => return Ok(EstimatorSpec::Binning(bins.rule(e)?)),
    };
    let s = EstimatorSpec::Kde {
        bound,
        noise_var: bins.noise_var,
    };
    s.validate().map_err(|_| {
        CliError::option(
            "--noise-var",
            format!("{}: must be a positive number", bins.noise_var),
        )
    })?;
    Ok(s)
}

/// Writes results in schedule order as they arrive.
struct Sink {
    plane: BufWriter<File>,
    metrics: BufWriter<File>,
    plane_path: PathBuf,
    metrics_path: PathBuf,
    names: Vec<&'static str>,
    pending: BTreeMap<u32, Measurement>,
    order: std::vec::IntoIter<u32>,
    next: Option<u32>,
    plot: Vec<(usize, PlotPoint)>,
    text: String,
}

impl Sink {
    fn new(dir: &Path, order: Vec<u32>, names: Vec<&'static str>) -> Result<Self, CliError> {
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
        let mut order = order.into_iter();
        let next = order.next();
        Ok(Self {
            plane,
            metrics,
            plane_path,
            metrics_path,
            names,
            pending: BTreeMap::new(),
            order,
            next,
            plot: Vec::new(),
            text: String::new(),
        })
    }

    fn accept(&mut self, m: Measurement) -> Result<(), CliError> {
        self.pending.insert(m.epoch, m);
        while let Some(m) = self.next.and_then(|e| self.pending.remove(&e)) {
            self.write(&m)?;
            self.next = self.order.next();
        }
        Ok(())
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
        Ok(())
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
    let mut exp = Experiment::new(cfg.experiment.clone())
        .map_err(|e| CliError::core("setting up the run", e))?;
    let names = experiment::estimator_names(&cfg.experiment);
    let measured = exp.measured_epochs().to_vec();
    let mut sink = Sink::new(&cfg.out, measured.clone(), names)?;
    let mut progress = Progress::new(u64::from(cfg.experiment.epochs), args.quiet);
    // With more than one thread, every thread measures and the main thread also trains: the
    // measuring work (KDE especially) can exceed the training, and the OS shares the cores.
    let workers = if cfg.threads > 1 { cfg.threads } else { 0 };
    let measurer = exp
        .measurer()
        .map_err(|e| CliError::core("planning the estimators", e))?;

    let result = std::thread::scope(|scope| -> Result<(), CliError> {
        let (job_tx, job_rx) = mpsc::sync_channel::<Snapshot>(2 * workers.max(1));
        let (res_tx, res_rx) = mpsc::channel::<Result<Measurement, CliError>>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let (job_rx, res_tx, mut m) = (Arc::clone(&job_rx), res_tx.clone(), measurer.clone());
            scope.spawn(move || {
                loop {
                    let job = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok(snap) = job else { break };
                    let r = m
                        .measure(&snap)
                        .map_err(|e| CliError::core(format!("measuring epoch {}", snap.epoch), e));
                    if res_tx.send(r).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        let mut inline: Option<Measurer> = (workers == 0).then(|| measurer.clone());
        let mut in_flight = 0usize;
        while !exp.done() {
            let epoch = exp.epochs_done();
            let snap = exp
                .step()
                .map_err(|e| CliError::core(format!("training epoch {epoch}"), e))?;
            if let Some(snap) = snap {
                if let Some(m) = inline.as_mut() {
                    let r = m.measure(&snap).map_err(|e| {
                        CliError::core(format!("measuring epoch {}", snap.epoch), e)
                    })?;
                    sink.accept(r)?;
                } else {
                    job_tx
                        .send(snap)
                        .map_err(|_| CliError::Other("measuring worker stopped".into()))?;
                    in_flight += 1;
                    while let Ok(r) = res_rx.try_recv() {
                        in_flight -= 1;
                        sink.accept(r?)?;
                    }
                }
            }
            progress.set(u64::from(exp.epochs_done()));
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
    result?;

    for (k, &e) in cfg.estimators.iter().enumerate() {
        let pts: Vec<PlotPoint> = sink
            .plot
            .iter()
            .filter(|(est, _)| *est == k)
            .map(|&(_, p)| p)
            .collect();
        let title = format!(
            "{} · {} · {}",
            preset_name(cfg.preset),
            cfg.experiment.activation.name(),
            e.as_str()
        );
        let svg = plane_svg(&title, &pts, cfg.experiment.epochs.saturating_sub(1))
            .map_err(|err| CliError::Other(format!("plot: {err}")))?;
        let name = if k == 0 {
            "plane.svg".to_owned()
        } else {
            format!("plane-{}.svg", e.as_str())
        };
        let path = cfg.out.join(name);
        std::fs::write(&path, svg).map_err(|err| CliError::io(&path, err))?;
    }
    write_manifest(&cfg, &measured, started.elapsed().as_secs_f64())
}

fn preset_name(p: Preset) -> &'static str {
    core_preset(p).name()
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
fn estimator_json(e: &EstimatorSpec) -> String {
    let name = json_str(e.name());
    match *e {
        EstimatorSpec::Kde { noise_var, .. } => {
            format!("{{\"estimator\": {name}, \"noise_var\": {noise_var}}}")
        }
        EstimatorSpec::Binning(BinRule::Edges {
            n_edges,
            lo,
            hi,
            idnns,
        }) => format!(
            "{{\"estimator\": {name}, \"edges\": {n_edges}, \"lo\": {lo}, \"hi\": {hi}, \"idnns_compat\": {idnns}}}"
        ),
        EstimatorSpec::Binning(BinRule::Size { size }) => {
            format!("{{\"estimator\": {name}, \"bin_size\": {size}}}")
        }
        EstimatorSpec::Binning(BinRule::LayerRange { n_edges }) => {
            format!("{{\"estimator\": {name}, \"edges\": {n_edges}}}")
        }
        EstimatorSpec::Binning(_) => "null".into(),
    }
}

fn write_manifest(cfg: &RunConfig, measured: &[u32], seconds: f64) -> Result<(), CliError> {
    let e = &cfg.experiment;
    let plane_sha = sha256_file(&cfg.out.join("plane.csv"))?;
    let metrics_sha = sha256_file(&cfg.out.join("metrics.csv"))?;
    let optimizer = match e.optimizer {
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => {
            format!(
                "{{\"name\": \"adam\", \"lr\": {lr}, \"beta1\": {beta1}, \"beta2\": {beta2}, \"eps\": {eps}}}"
            )
        }
        Optimizer::Sgd { lr, momentum } => {
            format!("{{\"name\": \"sgd\", \"lr\": {lr}, \"momentum\": {momentum}}}")
        }
        _ => "null".into(),
    };
    let list = |v: &[String]| v.join(", ");
    let widths: Vec<String> = e.widths.iter().map(u32::to_string).collect();
    let args: Vec<String> = std::env::args().map(|a| json_str(&a)).collect();
    let ests: Vec<String> = e.estimators.iter().map(estimator_json).collect();
    let mut j = String::from("{\n");
    let mut field = |k: &str, v: String| {
        let _ = writeln!(j, "  {}: {v},", json_str(k));
    };
    field("infoplane_version", json_str(env!("CARGO_PKG_VERSION")));
    field(
        "git_hash",
        option_env!("INFOPLANE_GIT_HASH").map_or_else(|| "null".to_owned(), json_str),
    );
    field("command", format!("[{}]", list(&args)));
    field("preset", json_str(preset_name(cfg.preset)));
    field("dataset", json_str("tishby-12bit"));
    field("widths", format!("[{}]", list(&widths)));
    field("activation", json_str(e.activation.name()));
    field("init", json_str(e.init.name()));
    field("optimizer", optimizer);
    field(
        "batch",
        e.batch.map_or_else(|| json_str("full"), |b| b.to_string()),
    );
    field("epochs", e.epochs.to_string());
    field("train_frac", e.train_frac.to_string());
    field(
        "split",
        json_str(if e.random_split { "random" } else { "first" }),
    );
    field("shuffle", e.shuffle.to_string());
    field("seed", e.seed.to_string());
    field("schedule", json_str(&e.schedule.to_string()));
    field("measured_epochs", measured.len().to_string());
    field(
        "capture",
        json_str(match e.capture {
            experiment::Capture::Before => "before",
            experiment::Capture::After => "after",
        }),
    );
    field("estimators", format!("[{}]", list(&ests)));
    field("threads", cfg.threads.to_string());
    field("wall_seconds", format!("{seconds:.3}"));
    field("plane_csv_sha256", json_str(&plane_sha));
    let _ = writeln!(
        j,
        "  \"metrics_csv_sha256\": {}\n}}",
        json_str(&metrics_sha)
    );
    let path = cfg.out.join("manifest.json");
    std::fs::write(&path, j).map_err(|err| CliError::io(&path, err))
}
