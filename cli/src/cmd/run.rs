//! `infoplane run`: train networks and write their information plane.
//!
//! Parse the options into the core's configuration (the preset's defaults, then the
//! overrides), let the core validate it, then drive one core [`Run`] per seed. Seeds run on
//! `min(seeds, threads)` driver threads, each taking the next seed in order; a driver trains,
//! and when it has threads to spare, its snapshots go to measuring workers and come back in
//! any order, the core releasing them in epoch order. The main thread writes the rows
//! seed by seed, in seed order, and flushes them epoch by epoch, so the output bytes depend
//! on neither the thread count nor timing, and an interrupted run keeps what it had.

use super::staging::{
    CHECKPOINT, CSV_FILES, Resume, STAGING, finish_publish, is_publishing, load as load_checkpoint,
    publish, save as save_checkpoint, staging,
};
use super::summarize::{read_layers, read_manifest, read_metrics, read_plane};
use super::{available_memory, gb, threads};
use crate::args::{Cli, Command, OptimizerName, RunArgs, SplitName};
use crate::error::CliError;
use crate::figures::{FigureInput, LayerRow, figures};
use crate::progress::{Progress, Work};
use clap::Parser;
use infoplane_core::dataset::Dataset;
use infoplane_core::experiment::{
    Action, Checkpoint, Experiment, ExperimentConfig, LAYERS_HEADER, METRICS_HEADER, Measurement,
    Memory, PLANE_HEADER, Run, Snapshot, Summary, estimators,
};
use infoplane_core::preset::{DatasetName, MiRows, Preset, preset};
use infoplane_core::schedule::ScheduleSpec;
use infoplane_core::{Activation, Capture, Init, Optimizer};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A run's settings: the core configuration plus what only the CLI needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Everything the core needs.
    pub experiment: ExperimentConfig,
    /// The data set.
    pub dataset: DatasetName,
    /// `--mnist`: where its files are.
    pub mnist: Option<PathBuf>,
    /// Worker threads (≥ 1).
    pub threads: usize,
    /// Output directory.
    pub out: PathBuf,
    /// The seeds this invocation runs, ascending.
    pub seeds: Vec<u64>,
    /// `--repeats`.
    pub repeats: u64,
    /// `--shard` as (k, N).
    pub shard: (u64, u64),
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
        cfg.train_limit = a.train_limit;
        cfg.mi_limit = a.mi_limit;
        if let Some(m) = &a.mi_rows {
            cfg.mi_rows = MiRows::from_name(m)
                .ok_or_else(|| CliError::option("--mi-rows", format!("no rows {m:?}")))?;
        }
        match (p.dataset, &a.mnist) {
            (DatasetName::Mnist, None) => {
                return Err(CliError::option(
                    "--mnist",
                    format!(
                        "preset {} trains on MNIST: give the directory of its IDX files (MNIST or Fashion-MNIST), e.g. --mnist /usr/share/datasets/fashion-mnist",
                        p.name
                    ),
                ));
            }
            (DatasetName::Mnist, Some(_)) | (_, None) => {}
            (other, Some(_)) => {
                return Err(CliError::option(
                    "--mnist",
                    format!(
                        "applies to presets on MNIST (saxe-mnist); preset {} trains on {}",
                        p.name,
                        other.name()
                    ),
                ));
            }
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
        if let Some(k) = a.pool {
            cfg.pool = k;
        }
        if let Some(d) = &a.delta_estimator {
            if !matches!(cfg.schedule, ScheduleSpec::Delta { .. }) {
                return Err(CliError::option(
                    "--delta-estimator",
                    "applies to --schedule delta-exact:δ or delta-approx:δ",
                ));
            }
            cfg.delta_estimator = Some(
                cfg.estimators
                    .iter()
                    .map(|e| e.name())
                    .find(|n| n == d)
                    .ok_or_else(|| {
                        CliError::option(
                            "--delta-estimator",
                            format!(
                                "{d:?} is not one of the run's estimators ({})",
                                cfg.estimator_names().join(", ")
                            ),
                        )
                    })?,
            );
        }
        let shard = match &a.shard {
            Some(s) => parse_shard(s)?,
            None => (1, 1),
        };
        let seeds = seeds(a.seed, a.repeats, shard)?;
        let out = match &a.out {
            Some(o) => o.clone(),
            None => default_out(p, &cfg, &seeds, a.repeats, a.shard.as_ref().map(|_| shard))?,
        };
        Ok(Self {
            experiment: cfg,
            dataset: p.dataset,
            mnist: a.mnist.clone(),
            threads: threads(a.threads)?,
            out,
            seeds,
            repeats: a.repeats,
            shard,
        })
    }
}

/// Parses `--shard k/N` (1 ≤ k ≤ N).
fn parse_shard(s: &str) -> Result<(u64, u64), CliError> {
    let bad = || {
        CliError::option(
            "--shard",
            format!("{s:?} is not k/N with 1 ≤ k ≤ N (e.g. 2/4 runs the second of four slices)"),
        )
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The seeds of shard `k/N` of `repeats` runs from `seed`: the indices i < `repeats` with
/// i mod N = k − 1.
fn seeds(seed: u64, repeats: u64, (k, n): (u64, u64)) -> Result<Vec<u64>, CliError> {
    if repeats == 0 {
        return Err(CliError::option(
            "--repeats",
            "0 runs nothing: give 1 or more",
        ));
    }
    if repeats > MAX_REPEATS {
        return Err(CliError::option(
            "--repeats",
            format!(
                "{repeats} is more than the {MAX_REPEATS} runs one invocation takes; split the sweep with --seed and --shard"
            ),
        ));
    }
    if seed.checked_add(repeats - 1).is_none() {
        return Err(CliError::option(
            "--repeats",
            format!(
                "--seed {seed} plus {repeats} runs passes the largest seed, {}",
                u64::MAX
            ),
        ));
    }
    let seeds: Vec<u64> = (k - 1..repeats)
        .step_by(usize::try_from(n).unwrap_or(usize::MAX))
        .map(|i| seed + i)
        .collect();
    if seeds.is_empty() {
        return Err(CliError::option(
            "--shard",
            format!("shard {k}/{n} of {repeats} run(s) has no seeds: use N ≤ --repeats"),
        ));
    }
    Ok(seeds)
}

/// Most runs one invocation takes (each keeps its summary values in memory).
const MAX_REPEATS: u64 = 100_000;

/// `runs/<preset>-<activation>-seed<S>[-<R>runs][-shard<k>of<N>][-<hash>]`, the hash (8 hex
/// digits of the SHA-256 of the settings) only when settings other than the activation and
/// seed differ from the preset's.
fn default_out(
    p: &Preset,
    cfg: &ExperimentConfig,
    seeds: &[u64],
    repeats: u64,
    shard: Option<(u64, u64)>,
) -> Result<PathBuf, CliError> {
    let mut name = format!(
        "{}-{}-seed{}",
        p.name,
        cfg.activation.name(),
        seeds.first().copied().unwrap_or(0)
    );
    if repeats > 1 {
        let _ = write!(name, "-{repeats}runs");
    }
    if let Some((k, n)) = shard {
        let _ = write!(name, "-shard{k}of{n}");
    }
    let mut base = ExperimentConfig::from_preset(p).map_err(|e| CliError::core("preset", e))?;
    base.activation = cfg.activation;
    base.seed = cfg.seed;
    if base != *cfg {
        let json =
            serde_json::to_string(cfg).map_err(|e| CliError::Other(format!("settings: {e}")))?;
        let hash = Sha256::digest(json.as_bytes());
        let _ = write!(name, "-{}", hex(hash.get(..4).unwrap_or(&[])));
    }
    Ok(Path::new("runs").join(name))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The value given on the command line for the core parameter `name`, for messages.
pub(crate) fn given(a: &RunArgs, name: &str) -> Option<String> {
    match name {
        "layers" => a.layers.clone(),
        "lr" => a.lr.map(|v| format!("{v:?}")),
        "momentum" => a.momentum.map(|v| format!("{v:?}")),
        "batch" => a.batch.clone(),
        "epochs" => a.epochs.map(|v| format!("{v:?}")),
        "train_frac" => a.train_frac.map(|v| format!("{v:?}")),
        "train_limit" => a.train_limit.map(|v| v.to_string()),
        "mi_rows" => a.mi_rows.clone(),
        "mi_limit" => a.mi_limit.map(|v| v.to_string()),
        "schedule" => a.schedule.clone(),
        "pool" => a.pool.map(|v| v.to_string()),
        _ => a.settings.given(name),
    }
}

/// The data set a run trains on, and the files it was read from with their SHA-256.
pub(crate) fn load(cfg: &RunConfig, args: &RunArgs) -> Result<(Dataset, Vec<DataFile>), CliError> {
    if let (DatasetName::Mnist, Some(dir)) = (cfg.dataset, &cfg.mnist) {
        let (data, files) = crate::mnist::load(dir)?;
        let mut hashed = Vec::new();
        for f in files.all() {
            hashed.push(DataFile {
                file: f.display().to_string(),
                sha256: sha256_file(f)?,
            });
        }
        let e = &cfg.experiment;
        if let Some(split) = data.split() {
            for (given, option) in [
                (args.train_frac.is_some(), "--train-frac"),
                (args.split.is_some(), "--split"),
            ] {
                if given {
                    return Err(CliError::option(
                        option,
                        format!(
                            "does not apply: {} has its own split ({split} training images, {} test images); use --train-limit to train on fewer",
                            dir.display(),
                            data.rows() - split
                        ),
                    ));
                }
            }
        }
        if !args.quiet && data.split().is_none() {
            let train = infoplane_core::data::train_count(data.rows(), e.train_frac)
                .map_err(|err| CliError::from_core("--train-frac", err, |_| None))?;
            eprintln!(
                "note: {} has only the test pair ({} images): the first {train} train (--train-frac {}) and the other {} are held out",
                dir.display(),
                data.rows(),
                e.train_frac,
                data.rows() - train
            );
        }
        return Ok((data, hashed));
    }
    let data = cfg.dataset.generate().ok_or_else(|| {
        CliError::Other(format!(
            "data set {} cannot be generated and this build has no reader for it",
            cfg.dataset.name()
        ))
    })?;
    Ok((data, Vec::new()))
}

/// A data file a run read.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DataFile {
    file: String,
    sha256: String,
}

/// The files a run writes (and `--force` removes), by name.
#[must_use]
pub fn is_run_file(name: &str) -> bool {
    matches!(
        name,
        "plane.csv"
            | "metrics.csv"
            | "layers.csv"
            | "manifest.json"
            | "summary.csv"
            | "metrics-summary.csv"
            | "layers-summary.csv"
            | "training.svg"
            | "weights.svg"
    ) || (name.ends_with(".svg")
        && (name.starts_with("plane") || name.starts_with("layers") || name.starts_with("pool-")))
}

/// Makes `dir` ready for a run: created if missing; if it already holds a run, refused
/// unless `force`, which removes that run's files (and only those).
///
/// # Errors
/// `--out` error for a directory that holds a run, I/O errors.
pub fn prepare_out(dir: &Path, force: bool, what: &str) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::option(
            "--out",
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    if dir.is_dir() {
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| CliError::io(dir, e))? {
            let entry = entry.map_err(|e| CliError::io(dir, e))?;
            if entry.file_name().to_str().is_some_and(is_run_file) {
                found.push(entry.path());
            }
        }
        found.sort();
        if !found.is_empty() && !force {
            let names: Vec<String> = found
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Err(CliError::option(
                "--out",
                format!(
                    "{} already holds {what} ({}); choose another --out, or add --force to replace it",
                    dir.display(),
                    names.join(", ")
                ),
            ));
        }
        for p in found {
            std::fs::remove_file(&p).map_err(|e| CliError::io(&p, e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))
}

/// The CSV files of a run, written in seed order.
struct Sink {
    plane: Csv,
    metrics: Csv,
    layers: Csv,
    names: Vec<String>,
    summary: Summary,
    layer_rows: Vec<LayerRow>,
    text: String,
    /// Measured epochs per seed, in seed order.
    measured: Vec<(u64, usize)>,
    /// Per seed and hidden layer: measured epochs at which every unit was constant.
    dead: BTreeMap<(u64, u32), usize>,
    hidden_layers: u32,
}

/// One warning per estimator whose I(X;T) reached its ceiling log2 N (N measured rows: every
/// input alone in its bin pattern, or a kernel narrower than the distances between samples)
/// in some run at some layer and epoch: there the plane cannot show compression. `ksg` is not
/// bounded by the plug-in ceiling and is not checked. Counted from the summary, so a resumed
/// run counts its earlier part too.
pub(crate) fn ceiling_warnings(summary: &Summary, ceiling: f64) -> Vec<String> {
    let mut hit: BTreeMap<&str, (usize, usize, Vec<u32>)> = BTreeMap::new();
    for r in summary.plane_rows() {
        if r.estimator == "ksg" {
            continue;
        }
        let e = hit.entry(r.estimator).or_default();
        e.1 += 1;
        if r.i_xt.max >= ceiling - crate::honest::CEILING_BITS {
            e.0 += 1;
            if !e.2.contains(&r.layer) {
                e.2.push(r.layer);
            }
        }
    }
    summary
        .estimators()
        .iter()
        .filter_map(|name| {
            let (count, total, layers) = hit.get(name.as_str()).filter(|h| h.0 > 0)?;
            let list = crate::honest::layer_list(layers);
            let why = if name.starts_with("kde") {
                "a kernel narrower than the distances between the samples (a larger noise variance sees more)"
            } else {
                "bins so fine that every input has a bin pattern of its own (fewer or wider bins see more)"
            };
            Some(format!(
                "{name}: I(X;T) is at its ceiling log2 N = {ceiling:.4} bits at {count} of {total} layer-epochs (layers {list}): {why}; there the plane cannot show compression"
            ))
        })
        .collect()
}

/// One CSV file being written.
struct Csv {
    file: BufWriter<File>,
    path: PathBuf,
    /// Bytes written (the file's length).
    len: u64,
}

impl Csv {
    fn create(path: PathBuf, header: &str) -> Result<Self, CliError> {
        let mut c = Self {
            file: BufWriter::new(crate::io::create(&path)?),
            path,
            len: 0,
        };
        c.write(header)?;
        Ok(c)
    }

    /// Opens a file of an interrupted run, cut back to its first `len` bytes.
    fn reopen(path: PathBuf, len: u64) -> Result<Self, CliError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| CliError::io(&path, e))?;
        let has = file.metadata().map_err(|e| CliError::io(&path, e))?.len();
        if has < len {
            return Err(CliError::data(
                &path,
                None,
                None,
                format!(
                    "has {has} bytes but its checkpoint counts {len}: the run directory was changed, so it cannot be resumed"
                ),
            ));
        }
        file.set_len(len).map_err(|e| CliError::io(&path, e))?;
        let mut file = BufWriter::new(file);
        file.seek(SeekFrom::Start(len))
            .map_err(|e| CliError::io(&path, e))?;
        Ok(Self { file, path, len })
    }

    /// Makes what was written durable (before a checkpoint counts it).
    fn sync(&mut self) -> Result<(), CliError> {
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data())
            .map_err(|e| CliError::io(&self.path, e))
    }

    fn write(&mut self, text: &str) -> Result<(), CliError> {
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| CliError::io(&self.path, e))?;
        self.len += text.len() as u64;
        Ok(())
    }
}

impl Sink {
    /// The CSV files in `dir`: new ones, or those of an interrupted run cut back to `from`
    /// with their rows read back (for the summary, the figures and the warnings).
    fn open(
        dir: &Path,
        names: Vec<String>,
        hidden_layers: u32,
        from: Option<&Resume>,
    ) -> Result<Self, CliError> {
        let [p, m, l] = CSV_FILES.map(|f| dir.join(f));
        let (plane, metrics, layers) = match from {
            None => (
                Csv::create(p, PLANE_HEADER)?,
                Csv::create(m, METRICS_HEADER)?,
                Csv::create(l, LAYERS_HEADER)?,
            ),
            Some(r) => (
                Csv::reopen(p, r.lengths[0])?,
                Csv::reopen(m, r.lengths[1])?,
                Csv::reopen(l, r.lengths[2])?,
            ),
        };
        let mut sink = Self {
            plane,
            metrics,
            layers,
            names,
            summary: Summary::new(),
            layer_rows: Vec::new(),
            text: String::new(),
            measured: Vec::new(),
            dead: BTreeMap::new(),
            hidden_layers,
        };
        if from.is_some() {
            read_plane(&sink.plane.path, &mut sink.summary)?;
            read_metrics(&sink.metrics.path, &mut sink.summary)?;
            let mut rows = Vec::new();
            read_layers(&sink.layers.path, &mut rows, &mut sink.summary)?;
            let mut last: Option<(u64, u32)> = None;
            for r in rows {
                sink.note_layer(r);
                if last != Some((r.run, r.epoch)) {
                    last = Some((r.run, r.epoch));
                    sink.count_measured(r.run);
                }
            }
        }
        Ok(sink)
    }

    /// The bytes of `plane.csv`, `metrics.csv` and `layers.csv` written so far, made durable
    /// first (a checkpoint counts them).
    fn durable_lengths(&mut self) -> Result<[u64; 3], CliError> {
        self.plane.sync()?;
        self.metrics.sync()?;
        self.layers.sync()?;
        Ok([self.plane.len, self.metrics.len, self.layers.len])
    }

    fn note_layer(&mut self, row: LayerRow) {
        if is_dead(&row, self.hidden_layers) {
            *self.dead.entry((row.run, row.layer)).or_default() += 1;
        }
        self.layer_rows.push(row);
    }

    fn count_measured(&mut self, seed: u64) {
        match self.measured.last_mut() {
            Some((s, k)) if *s == seed => *k += 1,
            _ => self.measured.push((seed, 1)),
        }
    }

    fn write(&mut self, seed: u64, m: &Measurement) -> Result<(), CliError> {
        let fmt_err = |_| CliError::Other("formatting a CSV row failed".into());
        self.text.clear();
        m.write_plane_rows(seed, &self.names, &mut self.text)
            .map_err(fmt_err)?;
        self.plane.write(&self.text)?;
        self.text.clear();
        m.write_metrics_row(seed, &mut self.text).map_err(fmt_err)?;
        self.metrics.write(&self.text)?;
        self.text.clear();
        m.write_layer_rows(seed, &mut self.text).map_err(fmt_err)?;
        self.layers.write(&self.text)?;
        self.summary.add_measurement(seed, m, &self.names);
        for l in &m.layers {
            self.note_layer(LayerRow {
                run: seed,
                epoch: m.epoch,
                layer: l.layer,
                width: l.width,
                weight_norm: l.weight_norm,
                dead_units: l.dead_units,
                grad_snr: l.grad_snr,
            });
        }
        self.count_measured(seed);
        Ok(())
    }

    /// The dead-layer warnings, one per seed and layer (the ceiling's are
    /// [`ceiling_warnings`]).
    fn warnings(&self) -> Vec<String> {
        dead_layer_warnings(&self.dead, &self.measured)
    }
}

/// Whether `row` is a hidden layer (of `hidden_layers`) whose every unit was constant.
pub(crate) fn is_dead(row: &LayerRow, hidden_layers: u32) -> bool {
    row.layer <= hidden_layers && row.width > 0 && row.dead_units == row.width
}

/// One warning per seed and hidden layer that was dead at some measured epoch: `dead` counts
/// those epochs by (seed, layer), `measured` the measured epochs of each seed.
pub(crate) fn dead_layer_warnings(
    dead: &BTreeMap<(u64, u32), usize>,
    measured: &[(u64, usize)],
) -> Vec<String> {
    dead.iter()
        .map(|(&(seed, layer), &k)| {
            let of = measured.iter().find(|m| m.0 == seed).map_or(0, |m| m.1);
            format!(
                "seed {seed}: hidden layer {layer} is dead (every unit constant over all inputs) at {k} of {of} measured epochs; there its I(X;T) and I(T;Y) are 0 whatever happens in training, so its plane shows neither fitting nor compression"
            )
        })
        .collect()
}

/// What a seed's driver thread tells the writer.
enum Msg {
    /// A released measurement of the seed in this slot, with the training state right after
    /// its snapshot when the driver took a checkpoint there.
    Row(usize, Measurement, Option<Box<Checkpoint>>),
    /// The seed in this slot is done.
    Finished(usize),
    /// The seed in this slot failed.
    Failed(usize, CliError),
    /// The seed in this slot stopped because another failed.
    Stopped,
}

/// Set by a program that embeds `run` (the Python module, on Ctrl-C) to stop the run in
/// progress as one whose output cannot be written: it stays staged, to be resumed with
/// `--resume`. The command line never sets it (Ctrl-C ends the process, with the same
/// result).
pub static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// The message of a run stopped by [`INTERRUPT`].
pub const INTERRUPTED: &str = "interrupted";

/// Work done so far over all drivers, for progress.
#[derive(Default)]
struct Counters {
    trained: AtomicU64,
    measured: AtomicU64,
    train_ns: AtomicU64,
    measure_ns: AtomicU64,
    /// Stop every seed (the output cannot be written).
    stop: AtomicBool,
    /// Stop the seeds after this slot (the first seed that failed so far).
    stop_after: AtomicUsize,
}

impl Counters {
    fn new() -> Self {
        Self {
            stop_after: AtomicUsize::new(usize::MAX),
            ..Self::default()
        }
    }

    /// Whether the seed in `slot` should stop.
    fn stopped(&self, slot: usize) -> bool {
        self.stop.load(Ordering::Relaxed) || slot > self.stop_after.load(Ordering::Relaxed)
    }
}

fn add_ns(c: &AtomicU64, since: Instant) {
    let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
    c.fetch_add(ns, Ordering::Relaxed);
}

/// Spawns a scoped thread, with an error rather than a panic when the system has none left.
fn spawn<'scope, 'env, F>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    f: F,
) -> Result<(), CliError>
where
    F: FnOnce() + Send + 'scope,
{
    std::thread::Builder::new()
        .spawn_scoped(scope, f)
        .map(drop)
        .map_err(|e| {
            CliError::Resource(format!(
                "cannot start a thread ({e}); try a smaller --threads"
            ))
        })
}

/// A measurement result with the ticket of its snapshot.
type Done = (u64, Result<Measurement, CliError>);

/// Trains and measures one seed: this thread trains; with `workers` > 0 the snapshots go to
/// that many measuring threads, else this thread measures them too. Released measurements
/// go to `tx` in epoch order. Returns `false` if it stopped because another seed failed.
fn drive(
    exp: Experiment,
    workers: usize,
    slot: usize,
    tx: &mpsc::Sender<Msg>,
    c: &Counters,
    checkpoint_every: Duration,
) -> Result<bool, CliError> {
    let seed = exp.config().seed;
    // Checkpoints taken at snapshots, by epoch, until their measurement is released.
    let mut checkpoints: BTreeMap<u32, Box<Checkpoint>> = BTreeMap::new();
    let mut last_checkpoint = Instant::now();
    let measurer = exp
        .measurer()
        .map_err(|e| CliError::core("planning the estimators", e))?;
    let mut run = Run::new(exp, 2 * workers.max(1));
    let measure_err =
        |epoch: u32, e| CliError::core(format!("seed {seed}: measuring epoch {epoch}"), e);
    std::thread::scope(|scope| -> Result<bool, CliError> {
        let (job_tx, job_rx) = mpsc::channel::<(u64, Snapshot)>();
        let (res_tx, res_rx) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..workers {
            let (job_rx, res_tx, mut m) = (Arc::clone(&job_rx), res_tx.clone(), measurer.clone());
            spawn(scope, move || {
                loop {
                    let job = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((ticket, snap)) = job else { break };
                    let t = Instant::now();
                    let r = m.measure(&snap).map_err(|e| measure_err(snap.epoch, e));
                    add_ns(&c.measure_ns, t);
                    if res_tx.send((ticket, r)).is_err() {
                        break;
                    }
                }
            })?;
        }
        drop(res_tx);
        let mut inline = (workers == 0).then(|| measurer.clone());
        // The first failure in snapshot order, with its ticket (a training failure takes the
        // next ticket): every measurement before it is still delivered and written, so the
        // rows a failed run keeps do not depend on the thread count.
        let mut failure: Option<(u64, CliError)> = None;
        let mut issued = 0u64;
        let note = |failure: &mut Option<(u64, CliError)>, ticket: u64, e: CliError| {
            if failure.as_ref().is_none_or(|(t, _)| ticket < *t) {
                *failure = Some((ticket, e));
            }
        };
        let result = (|| loop {
            if c.stopped(slot) {
                return Ok(false);
            }
            // Whether to take a worker's result now: when the driver says so, and after a
            // failure until every measurement before it is in.
            let mut receive = false;
            if let Some((t, _)) = &failure {
                if run.observed() >= *t {
                    // Measured before the failure, held back for a gap that will not be
                    // filled now (delta skip): still this seed's rows.
                    while let Some(m) = run.release_observed() {
                        let ck = checkpoints.remove(&m.epoch);
                        c.measured.fetch_add(1, Ordering::Relaxed);
                        tx.send(Msg::Row(slot, m, ck))
                            .map_err(|_| CliError::Resource("the writer stopped".into()))?;
                    }
                    return Err(failure.map_or_else(|| CliError::Other("failed".into()), |f| f.1));
                }
                receive = true;
            } else {
                let t = Instant::now();
                let action = match run.next_action() {
                    Ok(a) => a,
                    Err(e) => {
                        let epoch = run.experiment().epochs_done();
                        let e = CliError::from_core(
                            format!("seed {seed}: training epoch {epoch}"),
                            e,
                            |_| None,
                        );
                        note(&mut failure, issued, e);
                        continue;
                    }
                };
                match action {
                    Action::Measure(ticket, snap) => {
                        issued = ticket + 1;
                        if last_checkpoint.elapsed() >= checkpoint_every
                            && let Some(ck) = run.experiment().checkpoint()
                        {
                            checkpoints.insert(snap.epoch, Box::new(ck));
                            last_checkpoint = Instant::now();
                        }
                        match inline.as_mut() {
                            Some(m) => {
                                let t = Instant::now();
                                match m.measure(&snap) {
                                    Ok(r) => run.deliver(ticket, r),
                                    Err(e) => {
                                        note(&mut failure, ticket, measure_err(snap.epoch, e));
                                    }
                                }
                                add_ns(&c.measure_ns, t);
                            }
                            None => job_tx.send((ticket, snap)).map_err(|_| {
                                CliError::Resource("a measuring worker stopped".into())
                            })?,
                        }
                    }
                    Action::Trained(_) => {
                        add_ns(&c.train_ns, t);
                        c.trained.fetch_add(1, Ordering::Relaxed);
                    }
                    Action::Deliver => receive = true,
                    Action::Done => return Ok(true),
                }
            }
            if receive {
                let (ticket, r) = res_rx
                    .recv()
                    .map_err(|_| CliError::Resource("a measuring worker stopped".into()))?;
                match r {
                    Ok(m) => run.deliver(ticket, m),
                    Err(e) => note(&mut failure, ticket, e),
                }
            }
            // Only tickets before a failure are observed (the failed one never is), so what
            // is released does not depend on timing.
            while let Some(m) = run.release() {
                let ck = checkpoints.remove(&m.epoch);
                c.measured.fetch_add(1, Ordering::Relaxed);
                tx.send(Msg::Row(slot, m, ck))
                    .map_err(|_| CliError::Resource("the writer stopped".into()))?;
            }
        })();
        drop(job_tx);
        result
    })
}

/// Runs training and measurement as configured, or goes on with an interrupted run
/// (`--resume`).
///
/// # Errors
/// Any option, core or I/O error, with context.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    let command = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    run_as(args, command)
}

/// [`run`] for a program that embeds it (the Python module): `command` is the `infoplane`
/// command line that `args` came from, kept in `manifest.json` so that `--resume` can parse it.
///
/// # Errors
/// As [`run`].
pub fn run_as(args: &RunArgs, command: Vec<String>) -> Result<(), CliError> {
    if let Some(dir) = &args.resume {
        return resume(dir, args);
    }
    let cfg = RunConfig::from_args(args)?;
    let begin = Begin {
        resumed: false,
        command,
        resumes: 0,
        from: None,
        data_files: None,
    };
    execute(args, &cfg, begin)
}

/// How a run starts: the command that started it (kept through resumes), how many times it
/// was resumed, and where it goes on from.
struct Begin {
    /// Whether the run goes on in its existing staging directory.
    resumed: bool,
    command: Vec<String>,
    resumes: u64,
    from: Option<Resume>,
    /// A resumed run's data files as its manifest lists them (file, SHA-256): the data must
    /// be the same bytes to go on.
    data_files: Option<Vec<(String, String)>>,
}

/// `run --resume DIR`: the staged run in DIR, with the settings of the command that started
/// it, from its last checkpoint.
fn resume(dir: &Path, args: &RunArgs) -> Result<(), CliError> {
    let stage = staging(dir);
    let mpath = stage.join("manifest.json");
    if is_publishing(&stage) {
        // It had ended and was being moved into place: finish that.
        finish_publish(&stage, dir)?;
        if !args.quiet {
            eprintln!("done: the run had ended; it is now in {}", dir.display());
        }
        return Ok(());
    }
    if stage.is_dir() && !mpath.is_file() {
        return Err(CliError::option(
            "--resume",
            format!(
                "{} was stopped before its run began (no manifest); start it again with --force",
                stage.display()
            ),
        ));
    }
    if !mpath.is_file() {
        let what = if dir.join("manifest.json").is_file() {
            "holds a run that ended (its manifest.json says how); there is nothing to resume"
        } else {
            "holds no interrupted run"
        };
        return Err(CliError::option(
            "--resume",
            format!("{} {what}", dir.display()),
        ));
    }
    let manifest = read_manifest(&mpath)?;
    let field = |k: &str| manifest.get(k).and_then(Value::as_str).map(str::to_owned);
    match field("status").as_deref() {
        Some("running") => {}
        Some("complete" | "failed") => {
            // It had ended and was about to be moved into place: move it.
            publish(&stage, dir)?;
            if !args.quiet {
                eprintln!("done: the run had ended; it is now in {}", dir.display());
            }
            return Ok(());
        }
        _ => {
            return Err(CliError::data(
                &mpath,
                None,
                None,
                "its status is not \"running\"",
            ));
        }
    }
    let version = field("infoplane_version").unwrap_or_default();
    let (git, ours) = (field("git_hash"), option_env!("INFOPLANE_GIT_HASH"));
    if version != env!("CARGO_PKG_VERSION")
        || (git.is_some() && ours.is_some() && git.as_deref() != ours)
    {
        return Err(CliError::option(
            "--resume",
            format!(
                "{} was started by infoplane {version} ({}); this is {} ({}): resume it with that build, so its bytes stay those of one run",
                dir.display(),
                git.as_deref().unwrap_or("unknown commit"),
                env!("CARGO_PKG_VERSION"),
                ours.unwrap_or("unknown commit"),
            ),
        ));
    }
    let command: Vec<String> = manifest
        .get("command")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let parsed = Cli::try_parse_from(&command).map_err(|e| {
        CliError::data(
            &mpath,
            None,
            None,
            format!("its command does not parse: {}", e.kind()),
        )
    })?;
    let Command::Run(mut original) = parsed.command else {
        return Err(CliError::data(
            &mpath,
            None,
            None,
            "its command is not `run`",
        ));
    };
    if original.resume.is_some() {
        return Err(CliError::data(
            &mpath,
            None,
            None,
            "its command is itself a resume",
        ));
    }
    original.out = Some(dir.to_path_buf());
    if args.threads != 0 {
        original.threads = args.threads;
    }
    original.quiet = args.quiet;
    original.no_plots |= args.no_plots;
    original.checkpoint_every = args.checkpoint_every;
    let cfg = RunConfig::from_args(&original)?;
    let from = load_checkpoint(&stage)?;
    if let Some(r) = &from {
        // A checkpoint must point inside this run's seeds, at the seed it names.
        let seed = cfg.seeds.get(r.seeds_done);
        let fits = r.seeds_done <= cfg.seeds.len()
            && r.state.as_ref().is_none_or(|s| seed == Some(&s.seed));
        if !fits {
            return Err(CliError::data(
                &stage.join(CHECKPOINT),
                None,
                None,
                "it does not belong to this run's seeds",
            ));
        }
    }
    let begin = Begin {
        resumed: true,
        command,
        resumes: manifest
            .get("resumes")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .saturating_add(1),
        // Without a checkpoint nothing was kept: the files start again.
        from,
        data_files: Some(
            manifest
                .get("data_files")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            let s = |k: &str| {
                                f.get(k)
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned()
                            };
                            (s("file"), s("sha256"))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
    };
    execute(&original, &cfg, begin)
}

/// A resumed run reads the data its manifest lists, byte for byte (a run trained on one
/// file and measured on another is neither run).
fn check_same_data(
    before: &[(String, String)],
    now: &[DataFile],
    out: &Path,
) -> Result<(), CliError> {
    for (file, sha) in before {
        match now.iter().find(|d| &d.file == file) {
            Some(d) if &d.sha256 == sha => {}
            Some(_) => {
                return Err(CliError::data(
                    Path::new(file),
                    None,
                    None,
                    format!(
                        "it is not the file the run in {} started with (its SHA-256 differs from the one in the manifest); resume with the same data, or start again with --force",
                        out.display()
                    ),
                ));
            }
            None => {
                return Err(CliError::option(
                    "--resume",
                    format!(
                        "the run in {} read {file}, which this resume does not read",
                        out.display()
                    ),
                ));
            }
        }
    }
    if let Some(extra) = now
        .iter()
        .find(|d| !before.iter().any(|(f, _)| f == &d.file))
    {
        return Err(CliError::option(
            "--resume",
            format!(
                "this resume reads {}, which the run in {} did not read",
                extra.file,
                out.display()
            ),
        ));
    }
    Ok(())
}

/// Makes `out` ready for a new run: refuses one that holds a run (unless `force`) or an
/// interrupted run (unless `force`, which discards it), then creates the staging directory.
/// The run files already in `out` stay until the new run ends.
fn prepare_staging(out: &Path, force: bool) -> Result<PathBuf, CliError> {
    if out.exists() && !out.is_dir() {
        return Err(CliError::option(
            "--out",
            format!("{} exists and is not a directory", out.display()),
        ));
    }
    let stage = staging(out);
    if stage.exists() {
        if !force {
            return Err(CliError::option(
                "--out",
                format!(
                    "{} holds an interrupted run ({STAGING}); go on with it with `infoplane run --resume {}`, or add --force to discard it",
                    out.display(),
                    out.display()
                ),
            ));
        }
        std::fs::remove_dir_all(&stage).map_err(|e| CliError::io(&stage, e))?;
    }
    if out.is_dir() && !force {
        let mut found: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(out).map_err(|e| CliError::io(out, e))? {
            let entry = entry.map_err(|e| CliError::io(out, e))?;
            if let Some(n) = entry.file_name().to_str().filter(|n| is_run_file(n)) {
                found.push(n.to_owned());
            }
        }
        found.sort();
        if !found.is_empty() {
            return Err(CliError::option(
                "--out",
                format!(
                    "{} already holds a run ({}); choose another --out, or add --force to replace it",
                    out.display(),
                    found.join(", ")
                ),
            ));
        }
    }
    std::fs::create_dir_all(&stage).map_err(|e| CliError::io(&stage, e))?;
    Ok(stage)
}

/// Refuses a run whose memory (training states, measuring scratch, snapshots in flight)
/// passes what the machine has free, naming `--layers` when one thread's share alone does
/// (the widths are too large for this machine), else `--threads`.
fn check_memory(
    m: &Memory,
    drivers: usize,
    workers: usize,
    args: &RunArgs,
) -> Result<(), CliError> {
    let Some(free) = available_memory() else {
        return Ok(());
    };
    let measuring = drivers * workers.max(1);
    let in_flight = drivers * 2 * workers.max(1);
    let total = (m.training as u64)
        .saturating_add(m.kept as u64)
        .saturating_mul(drivers as u64)
        .saturating_add((m.measuring as u64).saturating_mul(measuring as u64))
        .saturating_add((m.snapshot as u64).saturating_mul(in_flight as u64));
    if total <= free {
        return Ok(());
    }
    let one = (m.training as u64)
        .saturating_add(m.kept as u64)
        .saturating_add(m.measuring as u64)
        .saturating_add(2 * m.snapshot as u64);
    let what = format!(
        "the run needs about {} ({} to train, {} per measuring thread × {measuring}), and this machine has {} free",
        gb(total),
        gb(m.training as u64),
        gb(m.measuring as u64),
        gb(free)
    );
    if one > free {
        let layers = args.layers.clone().unwrap_or_else(|| "the preset's".into());
        Err(CliError::option(
            "--layers",
            format!(
                "{layers:?}: {what}: measuring every layer of every row on one thread alone needs {}; use narrower layers",
                gb(one)
            ),
        ))
    } else {
        Err(CliError::option(
            "--threads",
            format!("{what}; use fewer threads (each measures with its own scratch)"),
        ))
    }
}

/// How the seeds' loop ended.
enum Ended {
    /// Every seed ran to the end.
    Complete,
    /// A seed failed (divergence, a measurement error): the rows before it are written.
    Failed(CliError),
    /// The output could not be written (a full disk): the staged files are as far as the
    /// last checkpoint says, and the run can be resumed.
    Unwritten(CliError),
}

/// Runs the seeds into the staging directory and publishes the run when it ends.
#[allow(clippy::too_many_lines)] // one pass: set up, drive, write, publish
fn execute(args: &RunArgs, cfg: &RunConfig, begin: Begin) -> Result<(), CliError> {
    let started = Instant::now();
    let (data, data_files) = load(cfg, args)?;
    if let Some(before) = &begin.data_files {
        check_same_data(before, &data_files, &cfg.out)?;
    }
    let data = Arc::new(data);
    let start_slot = begin.from.as_ref().map_or(0, |r| r.seeds_done);
    let drivers = cfg
        .seeds
        .len()
        .saturating_sub(start_slot)
        .min(cfg.threads)
        .max(1);
    // A driver with threads to spare measures on workers while it trains (the measuring
    // work, KDE especially, can exceed the training; the OS shares the cores).
    let per_driver = cfg.threads / drivers;
    let workers = if per_driver > 1 { per_driver } else { 0 };
    // Every setting is checked, and the memory the run needs is weighed against what the
    // machine has, before anything is allocated or written.
    let memory = Memory::of(&cfg.experiment, &data)
        .map_err(|e| CliError::from_core("setting up the run", e, |n| given(args, n)))?;
    check_memory(&memory, drivers, workers, args)?;
    let exp = Experiment::new(cfg.experiment.clone(), Arc::clone(&data))
        .map_err(|e| CliError::from_core("setting up the run", e, |n| given(args, n)))?;
    let widths = exp.shape().widths().to_vec();
    let dataset_name = exp.dataset().name().to_owned();
    // I(X;T) cannot exceed log2 of the number of measured rows (distinct inputs at most).
    #[allow(clippy::cast_precision_loss)] // row counts, exact below 2^53
    let ceiling = infoplane_core::math::log2_f64(
        exp.mi_dataset().unwrap_or_else(|| exp.dataset()).rows() as f64,
    );
    drop(exp);
    let every = args.checkpoint_every;
    if !(every.is_finite() && every >= 0.0) {
        return Err(CliError::option(
            "--checkpoint-every",
            format!("{every} is not a number of seconds ≥ 0"),
        ));
    }
    let checkpoint_every = Duration::from_secs_f64(every.min(1e9));
    let hidden_layers = u32::try_from(cfg.experiment.hidden.len()).unwrap_or(u32::MAX);
    let stage = if begin.resumed {
        staging(&cfg.out)
    } else {
        prepare_staging(&cfg.out, args.force)?
    };
    let exp_cfg = &cfg.experiment;
    let mut manifest = Manifest {
        infoplane_version: env!("CARGO_PKG_VERSION"),
        git_hash: option_env!("INFOPLANE_GIT_HASH"),
        status: "running",
        error: None,
        command: begin.command.clone(),
        resumes: begin.resumes,
        dataset: &dataset_name,
        data_files,
        widths,
        config: exp_cfg,
        seeds: &cfg.seeds,
        repeats: cfg.repeats,
        shard: format!("{}/{}", cfg.shard.0, cfg.shard.1),
        measured_epochs: 0,
        every_epoch_measures: u64::from(exp_cfg.epochs) * cfg.seeds.len() as u64,
        threads: cfg.threads,
        simd: infoplane_core::Isa::active().name(),
        wall_seconds: 0.0,
        warnings: Vec::new(),
        plane_csv_sha256: None,
        metrics_csv_sha256: None,
        layers_csv_sha256: None,
        summary_csv_sha256: None,
        metrics_summary_csv_sha256: None,
        layers_summary_csv_sha256: None,
    };
    write_manifest(&manifest, &stage)?;
    let mut sink = Sink::open(
        &stage,
        cfg.experiment.column_names(),
        hidden_layers,
        begin.from.as_ref(),
    )?;
    let start_state = begin.from.as_ref().and_then(|r| r.state.as_ref());
    let n_seeds = cfg.seeds.len();
    let per_seed_measures = exp_cfg.schedule.count(exp_cfg.epochs);
    let left = n_seeds.saturating_sub(start_slot) as u64;
    let done_epochs = start_state.map_or(0, |s| u64::from(s.epochs_done));
    let done_measures = start_state.map_or(0, |s| {
        exp_cfg.schedule.fixed().map_or(0, |f| {
            f.epochs(exp_cfg.epochs)
                .take_while(|&e| e <= s.epoch)
                .count() as u64
        })
    });
    let mut progress = Progress::new(
        (u64::from(exp_cfg.epochs) * left).saturating_sub(done_epochs),
        per_seed_measures.map(|m| (m as u64 * left).saturating_sub(done_measures)),
        args.quiet,
    )
    .with_layout(drivers as u64, workers as u64);
    let counters = Counters::new();
    let next_seed = AtomicUsize::new(start_slot);

    let ended = std::thread::scope(|scope| -> Ended {
        let (tx, rx) = mpsc::channel::<Msg>();
        for _ in 0..drivers {
            let (tx, counters, next_seed, data, seeds) =
                (tx.clone(), &counters, &next_seed, &data, &cfg.seeds);
            let spawned = spawn(scope, move || {
                loop {
                    let slot = next_seed.fetch_add(1, Ordering::Relaxed);
                    if counters.stopped(slot) {
                        break;
                    }
                    let Some(&seed) = seeds.get(slot) else { break };
                    let mut c = exp_cfg.clone();
                    c.seed = seed;
                    let exp = match start_state.filter(|_| slot == start_slot) {
                        Some(ck) => Experiment::resume(c, Arc::clone(data), ck).map_err(|e| {
                            CliError::core(format!("seed {seed}: resuming from the checkpoint"), e)
                        }),
                        None => Experiment::new(c, Arc::clone(data))
                            .map_err(|e| CliError::core(format!("seed {seed}: setting up"), e)),
                    };
                    let r = exp.and_then(|mut exp| {
                        if per_driver > 1 {
                            exp.set_parallel(Arc::new(crate::par::ScopedThreads(per_driver)));
                        }
                        drive(exp, workers, slot, &tx, counters, checkpoint_every)
                    });
                    let msg = match r {
                        Ok(true) => Msg::Finished(slot),
                        Ok(false) => Msg::Stopped,
                        Err(e) => Msg::Failed(slot, e),
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            });
            if let Err(e) = spawned {
                counters.stop.store(true, Ordering::Relaxed);
                return Ended::Unwritten(e);
            }
        }
        drop(tx);
        // Seeds are written in seed order. When a seed fails, the seeds before it still run
        // to the end and the failed seed keeps the rows it measured; nothing after it is
        // written. So the rows a failed run keeps do not depend on the thread count.
        type Pending = Vec<(Measurement, Option<Box<Checkpoint>>)>;
        let mut pending: BTreeMap<usize, Pending> = BTreeMap::new();
        let mut ended: BTreeSet<usize> = BTreeSet::new();
        let mut next = start_slot;
        let mut failure: Option<(usize, CliError)> = None;
        let mut write_error: Option<CliError> = None;
        let seed_of = |slot: usize| cfg.seeds.get(slot).copied().unwrap_or(0);
        let stop = |e: CliError, write_error: &mut Option<CliError>| {
            counters.stop.store(true, Ordering::Relaxed);
            write_error.get_or_insert(e);
        };
        // Writes a row; a checkpoint taken at its snapshot marks the files as good to here.
        let write = |sink: &mut Sink,
                     write_error: &mut Option<CliError>,
                     slot: usize,
                     m: &Measurement,
                     ck: Option<Box<Checkpoint>>| {
            if write_error.is_some() {
                return;
            }
            let r = sink.write(seed_of(slot), m).and_then(|()| match ck {
                Some(ck) => save_checkpoint(
                    &stage,
                    &Resume {
                        seeds_done: slot,
                        lengths: sink.durable_lengths()?,
                        state: Some(*ck),
                    },
                ),
                None => Ok(()),
            });
            if let Err(e) = r {
                stop(e, write_error);
            }
        };
        loop {
            if INTERRUPT.load(Ordering::Relaxed) && write_error.is_none() {
                stop(CliError::Other(INTERRUPTED.to_owned()), &mut write_error);
            }
            let first_failed = failure.as_ref().map_or(usize::MAX, |f| f.0);
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Row(slot, m, ck)) => {
                    if slot == next {
                        write(&mut sink, &mut write_error, slot, &m, ck);
                    } else if slot < first_failed {
                        let rows = pending.entry(slot).or_default();
                        if ck.is_some() {
                            // Only the newest checkpoint of a waiting seed is worth keeping.
                            for r in rows.iter_mut() {
                                r.1 = None;
                            }
                        }
                        rows.push((m, ck));
                    }
                }
                Ok(Msg::Finished(slot)) => {
                    ended.insert(slot);
                }
                Ok(Msg::Failed(_, e)) if e.is_resource() => {
                    // Not the run's fault: keep it staged, to be resumed.
                    stop(e, &mut write_error);
                }
                Ok(Msg::Failed(slot, e)) => {
                    ended.insert(slot);
                    counters.stop_after.fetch_min(slot, Ordering::Relaxed);
                    if slot < first_failed {
                        failure = Some((slot, e));
                        pending.retain(|&k, _| k <= slot);
                    }
                }
                Ok(Msg::Stopped) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let first_failed = failure.as_ref().map_or(usize::MAX, |f| f.0);
            while ended.contains(&next) && next < first_failed {
                next += 1;
                if write_error.is_none() {
                    let saved = sink.durable_lengths().and_then(|lengths| {
                        let point = Resume {
                            seeds_done: next,
                            lengths,
                            state: None,
                        };
                        save_checkpoint(&stage, &point)
                    });
                    if let Err(e) = saved {
                        stop(e, &mut write_error);
                    }
                }
                for (m, ck) in pending.remove(&next).unwrap_or_default() {
                    write(&mut sink, &mut write_error, next, &m, ck);
                }
            }
            progress.set(Work {
                trained: counters.trained.load(Ordering::Relaxed),
                measured: counters.measured.load(Ordering::Relaxed),
                train_ns: counters.train_ns.load(Ordering::Relaxed),
                measure_ns: counters.measure_ns.load(Ordering::Relaxed),
            });
        }
        match (write_error, failure) {
            (Some(e), _) => Ended::Unwritten(e),
            (None, Some((_, e))) => Ended::Failed(e),
            (None, None) => Ended::Complete,
        }
    });
    progress.finish();
    let failed = match ended {
        Ended::Complete => None,
        Ended::Failed(e) => Some(e),
        Ended::Unwritten(e) => {
            return Err(e.noted(format!(
                "the run so far stays in {}; once the output can be written, go on with `infoplane run --resume {}`",
                stage.display(),
                cfg.out.display()
            )));
        }
    };

    let mut warnings = sink.warnings();
    warnings.extend(ceiling_warnings(&sink.summary, ceiling));
    // A failed run's warnings go to its manifest only: the error is what to read.
    if failed.is_none() {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    write_summary(&sink.summary, &stage)?;
    if !args.no_plots {
        let input = FigureInput {
            summary: &sink.summary,
            layers: &sink.layer_rows,
            // Through the JSON text, as `plot` reads it back from the manifest (f32
            // settings print in their shortest form).
            caption: {
                let mut lines = caption(
                    &serde_json::to_string(exp_cfg)
                        .and_then(|t| serde_json::from_str::<Value>(&t))
                        .map_err(|e| CliError::Other(format!("settings: {e}")))?,
                    &cfg.seeds,
                );
                // A failed run's figures say so, and where.
                if let Some(e) = &failed {
                    lines.push(format!("FAILED: {e}"));
                }
                lines
            },
            last_epoch: exp_cfg.epochs.saturating_sub(1),
            overlay: args.overlay,
        };
        write_figures(&input, &stage)?;
    }
    let plane_rows: usize = sink.summary.plane_rows().map(|r| r.i_xt.runs).sum();
    let measured_total: usize = sink.measured.iter().map(|m| m.1).sum();
    let sha = |name: &str| sha256_file(&stage.join(name)).map(Some);
    manifest.status = if failed.is_some() {
        "failed"
    } else {
        "complete"
    };
    manifest.error = failed.as_ref().map(ToString::to_string);
    manifest.measured_epochs = measured_total;
    manifest.wall_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    manifest.warnings = warnings;
    manifest.plane_csv_sha256 = sha("plane.csv")?;
    manifest.metrics_csv_sha256 = sha("metrics.csv")?;
    manifest.layers_csv_sha256 = sha("layers.csv")?;
    manifest.summary_csv_sha256 = sha("summary.csv")?;
    manifest.metrics_summary_csv_sha256 = sha("metrics-summary.csv")?;
    manifest.layers_summary_csv_sha256 = sha("layers-summary.csv")?;
    write_manifest(&manifest, &stage)?;
    publish(&stage, &cfg.out)?;
    if let Some(e) = failed {
        let epochs = if measured_total == 1 {
            "epoch"
        } else {
            "epochs"
        };
        return Err(e.noted(format!(
            "{} keeps the rows of the {measured_total} measured {epochs} before the failure; its manifest.json says status \"failed\", and why",
            cfg.out.display()
        )));
    }
    if !args.quiet {
        let seeds = match cfg.seeds.as_slice() {
            [one] => format!("seed {one}"),
            s => format!("{} seeds", s.len()),
        };
        eprintln!(
            "done: {seeds}, {measured_total} measured epochs, {plane_rows} plane rows in {:.1} s → {}",
            started.elapsed().as_secs_f64(),
            cfg.out.display()
        );
    }
    Ok(())
}

/// Writes `manifest.json` into `dir` whole: beside it first, then renamed over it.
fn write_manifest(manifest: &Manifest<'_>, dir: &Path) -> Result<(), CliError> {
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    let mut json = serde_json::to_string_pretty(manifest)
        .map_err(|e| CliError::Other(format!("manifest: {e}")))?;
    json.push('\n');
    std::fs::write(&tmp, json).map_err(|err| CliError::io(&tmp, err))?;
    std::fs::rename(&tmp, &path).map_err(|err| CliError::io(&path, err))
}

/// Writes `summary.csv`, `metrics-summary.csv` and `layers-summary.csv` into `dir`.
///
/// # Errors
/// I/O errors with the path.
pub fn write_summary(summary: &Summary, dir: &Path) -> Result<(), CliError> {
    let fmt_err = |_| CliError::Other("formatting the summary failed".into());
    let mut text = String::new();
    summary.write_plane(&mut text).map_err(fmt_err)?;
    crate::io::write_whole(&dir.join("summary.csv"), text.as_bytes())?;
    text.clear();
    summary.write_metrics(&mut text).map_err(fmt_err)?;
    crate::io::write_whole(&dir.join("metrics-summary.csv"), text.as_bytes())?;
    text.clear();
    summary.write_layers(&mut text).map_err(fmt_err)?;
    crate::io::write_whole(&dir.join("layers-summary.csv"), text.as_bytes())
}

/// Draws the figures into `dir`.
///
/// # Errors
/// Plot and I/O errors.
pub fn write_figures(input: &FigureInput<'_>, dir: &Path) -> Result<(), CliError> {
    for (name, svg) in figures(input).map_err(|e| CliError::Other(format!("plot: {e}")))? {
        crate::io::write_whole(&dir.join(name), svg.as_bytes())?;
    }
    Ok(())
}

/// The settings that matter, for the figures' caption, from the configuration as the
/// manifest holds it (so `plot` on a finished run writes the caption `run` wrote).
#[must_use]
pub fn caption(cfg: &Value, seeds: &[u64]) -> Vec<String> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.iter().map(text_of).collect::<Vec<_>>().join("-"),
        Some(v) => v.to_string(),
        None => "?".to_owned(),
    };
    let f = |k: &str| text(cfg.get(k));
    let opt = cfg.get("optimizer");
    let est: Vec<String> = cfg
        .get("estimators")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| {
                    let params: Vec<String> = e
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(k, _)| k.as_str() != "estimator")
                                .map(|(k, v)| match v {
                                    Value::Array(r) => format!(
                                        "{k} {}",
                                        r.iter().map(text_of).collect::<Vec<_>>().join("..")
                                    ),
                                    v => format!("{k} {}", text_of(v)),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let name = text(e.get("estimator"));
                    if params.is_empty() {
                        name
                    } else {
                        format!("{name} ({})", params.join(", "))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    vec![
        format!(
            "preset {} · {} · hidden {} · {} lr {} · batch {} · {} epochs · schedule {} · capture {}",
            f("preset"),
            f("activation"),
            f("hidden"),
            text(opt.and_then(|o| o.get("name"))),
            text(opt.and_then(|o| o.get("lr"))),
            f("batch"),
            f("epochs"),
            f("schedule"),
            f("capture"),
        ),
        {
            let mut line = format!("estimators: {}", est.join("; "));
            if let Some(k) = cfg.get("pool").and_then(Value::as_u64).filter(|&k| k > 1) {
                let _ = write!(line, " · as if random: {k} snapshots pooled");
            }
            if let Some(Value::String(d)) = cfg.get("delta_estimator") {
                let _ = write!(line, " · delta skip on {d}");
            }
            line
        },
        format!("seeds: {}", seed_list(seeds)),
    ]
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `0–19`, `0, 2, 4`, or `3`.
#[must_use]
pub fn seed_list(seeds: &[u64]) -> String {
    match seeds {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if last.checked_sub(*first) == Some(seeds.len() as u64 - 1) => {
            format!("{first}–{last} ({} runs)", seeds.len())
        }
        _ if seeds.len() <= 8 => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        [first, .., last] => format!("{} runs from {first} to {last}", seeds.len()),
    }
}

/// `manifest.json`: how the run was made, whether it ended, and what it wrote.
#[derive(Debug, Serialize)]
pub(crate) struct Manifest<'a> {
    pub(crate) infoplane_version: &'static str,
    pub(crate) git_hash: Option<&'static str>,
    /// `running` (in the staging directory only), `complete` or `failed`; `stopped` for a
    /// run assembled from the seeds that ended before it was stopped ([`super::assemble`]).
    pub(crate) status: &'static str,
    /// Why a failed run failed, naming the seed and epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// The command that started the run (a resumed run keeps it).
    pub(crate) command: Vec<String>,
    /// How many times the run was resumed.
    pub(crate) resumes: u64,
    pub(crate) dataset: &'a str,
    /// The files the data set was read from, with their SHA-256 (none for generated data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) data_files: Vec<DataFile>,
    /// All widths, input and output included.
    pub(crate) widths: Vec<u32>,
    /// Every setting (preset, hidden widths, activation, …, estimators with their settings).
    #[serde(flatten)]
    pub(crate) config: &'a ExperimentConfig,
    /// The seeds run here (`seed` is the first seed of the whole sweep).
    pub(crate) seeds: &'a [u64],
    pub(crate) repeats: u64,
    pub(crate) shard: String,
    /// Measured epochs over all seeds.
    pub(crate) measured_epochs: usize,
    /// The epochs an `every:1` run of the same seeds would measure (epochs × seeds), to
    /// set `measured_epochs` against under delta skip.
    pub(crate) every_epoch_measures: u64,
    pub(crate) threads: usize,
    /// The kernels' instruction-set level (speed only: every level gives the same bytes).
    pub(crate) simd: &'static str,
    /// Seconds this invocation took (the last one, for a resumed run).
    pub(crate) wall_seconds: f64,
    pub(crate) warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plane_csv_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_csv_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) layers_csv_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) summary_csv_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_summary_csv_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) layers_summary_csv_sha256: Option<String>,
}

/// The SHA-256 of a file, in hex.
///
/// # Errors
/// I/O errors with the path.
pub fn sha256_file(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    Ok(hex(&Sha256::digest(&bytes)))
}
