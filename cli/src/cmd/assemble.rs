//! A `run` whose seeds run elsewhere, one by one (the browser page runs them in Web Workers):
//! [`plan`] parses and checks the options exactly as `infoplane run` does and builds each
//! seed's experiment; [`assemble`] takes each seed's CSV rows and makes every file `run`
//! writes in its directory — the CSV files, the summaries, the figures and `manifest.json` —
//! as the same bytes (only `manifest.json`'s timing, threads and instruction-set level differ).

use super::run::{
    Manifest, RunConfig, ceiling_warnings, dead_layer_warnings, given, hex, is_dead, load,
};
use super::summarize::{layers_rows, metrics_rows, plane_rows};
use crate::args::{Cli, Command, RunArgs};
use crate::error::CliError;
use crate::figures::{FigureInput, figures};
use clap::Parser as _;
use infoplane_core::dataset::Dataset;
use infoplane_core::experiment::{
    Experiment, LAYERS_HEADER, METRICS_HEADER, Memory, PLANE_HEADER, Summary,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A checked run: its options, settings, data and what the files need.
#[derive(Debug)]
pub struct Planned {
    /// The options as parsed.
    pub args: RunArgs,
    /// The settings (`seeds` lists every seed of the run).
    pub config: RunConfig,
    /// `infoplane run` and the options: the command that makes the same files.
    pub command: Vec<String>,
    /// The data set.
    pub data: Arc<Dataset>,
    /// Every width, input and output included.
    pub widths: Vec<u32>,
    /// log2 of the measured rows: the most I(X;T) a plug-in estimate can reach.
    pub ceiling: f64,
    /// Measured epochs per seed, when the schedule fixes them (not under delta skip).
    pub measures_per_seed: Option<usize>,
}

/// Parses `options` (what follows `infoplane run`) and checks every setting as `run` does
/// before it starts; generates the data set (presets on files, MNIST, are not taken).
///
/// # Errors
/// The option error `run` gives, naming the option and what it accepts.
pub fn plan(options: &[String]) -> Result<Planned, CliError> {
    let command: Vec<String> = ["infoplane", "run"]
        .into_iter()
        .map(str::to_owned)
        .chain(options.iter().cloned())
        .collect();
    let cli = Cli::try_parse_from(&command).map_err(|e| clap_error(&e))?;
    let Command::Run(args) = cli.command else {
        return Err(CliError::Other("not a run".into()));
    };
    if args.resume.is_some() {
        return Err(CliError::option(
            "--resume",
            "takes a run directory, which this run does not have",
        ));
    }
    let config = RunConfig::from_args(&args)?;
    let (data, _) = load(&config, &args)?;
    let data = Arc::new(data);
    Memory::of(&config.experiment, &data)
        .map_err(|e| CliError::from_core("setting up the run", e, |n| given(&args, n)))?;
    let exp = Experiment::new(config.experiment.clone(), Arc::clone(&data))
        .map_err(|e| CliError::from_core("setting up the run", e, |n| given(&args, n)))?;
    let widths = exp.shape().widths().to_vec();
    #[allow(clippy::cast_precision_loss)] // row counts, exact below 2^53
    let ceiling = infoplane_core::math::log2_f64(
        exp.mi_dataset().unwrap_or_else(|| exp.dataset()).rows() as f64,
    );
    let measures_per_seed = config.experiment.schedule.count(config.experiment.epochs);
    Ok(Planned {
        args,
        config,
        command,
        data,
        widths,
        ceiling,
        measures_per_seed,
    })
}

/// clap's message without its usage lines, as an option error naming the argument.
pub(crate) fn clap_error(e: &clap::Error) -> CliError {
    let arg = e
        .get(clap::error::ContextKind::InvalidArg)
        .map(|a| a.to_string())
        .unwrap_or_default();
    let text = e.render().to_string();
    let said: Vec<&str> = text
        .trim()
        .trim_start_matches("error: ")
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let option = arg.split_whitespace().next().unwrap_or("").to_owned();
    if option.is_empty() {
        CliError::Other(said.join(" "))
    } else {
        CliError::option(option, said.join(" "))
    }
}

impl Planned {
    /// The experiment of the seed at `index` in [`RunConfig::seeds`].
    ///
    /// # Errors
    /// An option error for an index past the seeds; the checks of [`plan`] otherwise.
    pub fn experiment(&self, index: usize) -> Result<Experiment, CliError> {
        let seed = *self.config.seeds.get(index).ok_or_else(|| {
            CliError::option(
                "--repeats",
                format!(
                    "the run has {} seed(s); there is no seed number {index}",
                    self.config.seeds.len()
                ),
            )
        })?;
        let mut cfg = self.config.experiment.clone();
        cfg.seed = seed;
        Experiment::new(cfg, Arc::clone(&self.data))
            .map_err(|e| CliError::from_core("setting up the run", e, |n| given(&self.args, n)))
    }
}

/// One seed's rows: its `plane.csv`, `metrics.csv` and `layers.csv` text, each with its
/// header, as a run of that seed alone writes them.
#[derive(Debug, Clone, Copy)]
pub struct SeedRows<'a> {
    /// `plane.csv`.
    pub plane: &'a str,
    /// `metrics.csv`.
    pub metrics: &'a str,
    /// `layers.csv`.
    pub layers: &'a str,
}

/// Every file of the run's directory, by name, from the rows of its seeds in seed order:
/// all of them when `complete`, else the first ones (the run was stopped; `manifest.json`
/// then says status `stopped` and lists the seeds it has). `wall_seconds` and `threads` go
/// to `manifest.json`.
///
/// # Errors
/// A data error naming the file and line of a row that is not `run`'s; an error when there
/// are more seeds than the run has, or fewer while `complete`.
pub fn assemble(
    planned: &Planned,
    seeds: &[SeedRows<'_>],
    complete: bool,
    wall_seconds: f64,
    threads: usize,
) -> Result<Vec<(String, String)>, CliError> {
    let cfg = &planned.config;
    let all = cfg.seeds.len();
    if seeds.len() > all || (complete && seeds.len() < all) {
        return Err(CliError::Other(format!(
            "the run has {all} seed(s), the rows are of {}",
            seeds.len()
        )));
    }
    let run_seeds = cfg.seeds.get(..seeds.len()).unwrap_or_default();
    let [plane, metrics, layers] = [
        (
            "plane.csv",
            PLANE_HEADER,
            seeds.iter().map(|s| s.plane).collect::<Vec<_>>(),
        ),
        (
            "metrics.csv",
            METRICS_HEADER,
            seeds.iter().map(|s| s.metrics).collect(),
        ),
        (
            "layers.csv",
            LAYERS_HEADER,
            seeds.iter().map(|s| s.layers).collect(),
        ),
    ]
    .map(|(name, header, parts)| concat(name, header, &parts));
    let (plane, metrics, layers) = (plane?, metrics?, layers?);

    let mut summary = Summary::new();
    plane_rows(&plane, Path::new("plane.csv"), &mut summary)?;
    metrics_rows(&metrics, Path::new("metrics.csv"), &mut summary)?;
    let mut layer_rows = Vec::new();
    layers_rows(
        &layers,
        Path::new("layers.csv"),
        &mut layer_rows,
        &mut summary,
    )?;

    let hidden = u32::try_from(cfg.experiment.hidden.len()).unwrap_or(u32::MAX);
    let mut dead: BTreeMap<(u64, u32), usize> = BTreeMap::new();
    for row in layer_rows.iter().filter(|r| is_dead(r, hidden)) {
        *dead.entry((row.run, row.layer)).or_default() += 1;
    }
    // One metrics row per measured epoch.
    let measured: Vec<(u64, usize)> = run_seeds
        .iter()
        .zip(seeds)
        .map(|(&seed, rows)| (seed, rows.metrics.lines().count().saturating_sub(1)))
        .collect();
    let mut warnings = dead_layer_warnings(&dead, &measured);
    warnings.extend(ceiling_warnings(&summary, planned.ceiling));

    let fmt_err = |_| CliError::Other("formatting the summary failed".into());
    let mut files = vec![
        ("plane.csv".to_owned(), plane),
        ("metrics.csv".to_owned(), metrics),
        ("layers.csv".to_owned(), layers),
    ];
    for (name, write) in [
        (
            "summary.csv",
            Summary::write_plane as fn(&Summary, &mut String) -> std::fmt::Result,
        ),
        ("metrics-summary.csv", Summary::write_metrics),
        ("layers-summary.csv", Summary::write_layers),
    ] {
        let mut text = String::new();
        write(&summary, &mut text).map_err(fmt_err)?;
        files.push((name.to_owned(), text));
    }
    let exp_cfg = &cfg.experiment;
    if !planned.args.no_plots {
        let input = FigureInput {
            summary: &summary,
            layers: &layer_rows,
            // Through the JSON text, as `run` does.
            caption: super::run::caption(
                &serde_json::to_string(exp_cfg)
                    .and_then(|t| serde_json::from_str::<Value>(&t))
                    .map_err(|e| CliError::Other(format!("settings: {e}")))?,
                run_seeds,
            ),
            last_epoch: exp_cfg.epochs.saturating_sub(1),
            overlay: planned.args.overlay,
        };
        files.extend(figures(&input).map_err(|e| CliError::Other(format!("plot: {e}")))?);
    }
    let sha = |name: &str| {
        files
            .iter()
            .find(|f| f.0 == name)
            .map(|f| hex(&Sha256::digest(f.1.as_bytes())))
    };
    let manifest = Manifest {
        infoplane_version: env!("CARGO_PKG_VERSION"),
        git_hash: option_env!("INFOPLANE_GIT_HASH"),
        status: if complete { "complete" } else { "stopped" },
        error: None,
        command: planned.command.clone(),
        resumes: 0,
        dataset: planned.data.name(),
        data_files: Vec::new(),
        widths: planned.widths.clone(),
        config: exp_cfg,
        seeds: run_seeds,
        repeats: cfg.repeats,
        shard: format!("{}/{}", cfg.shard.0, cfg.shard.1),
        measured_epochs: measured.iter().map(|m| m.1).sum(),
        every_epoch_measures: u64::from(exp_cfg.epochs) * run_seeds.len() as u64,
        threads,
        simd: infoplane_core::Isa::active().name(),
        wall_seconds: (wall_seconds * 1000.0).round() / 1000.0,
        warnings,
        plane_csv_sha256: sha("plane.csv"),
        metrics_csv_sha256: sha("metrics.csv"),
        layers_csv_sha256: sha("layers.csv"),
        summary_csv_sha256: sha("summary.csv"),
        metrics_summary_csv_sha256: sha("metrics-summary.csv"),
        layers_summary_csv_sha256: sha("layers-summary.csv"),
    };
    let mut json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| CliError::Other(format!("manifest: {e}")))?;
    json.push('\n');
    files.push(("manifest.json".to_owned(), json));
    Ok(files)
}

/// `header` and the data lines of each part (each must start with `header`).
fn concat(name: &str, header: &str, parts: &[&str]) -> Result<String, CliError> {
    let mut out = String::from(header);
    for (k, part) in parts.iter().enumerate() {
        let body = part.strip_prefix(header).ok_or_else(|| {
            CliError::data(
                Path::new(name),
                Some(1),
                None,
                format!("seed number {k}: the header is not {:?}", header.trim_end()),
            )
        })?;
        out.push_str(body);
    }
    Ok(out)
}
