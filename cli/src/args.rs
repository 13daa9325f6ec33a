//! Command-line arguments. The accepted names of presets, estimators, activations,
//! initialisers and capture points come from the core's registries, so the CLI lists exactly
//! what the core implements.

use crate::arrays::Columns;
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use infoplane_core::estimator::REGISTRY;
use infoplane_core::preset::PRESETS;
use infoplane_core::{Activation, Capture, Init};
use std::path::PathBuf;

/// Train networks and measure their information plane.
#[derive(Debug, Parser)]
#[command(name = "infoplane", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Vector instructions for the kernels: `auto` (the best this CPU has), or a level to
    /// force. Every level gives the same bytes; only speed differs. Default: the environment
    /// variable `INFOPLANE_SIMD`, else `auto`.
    #[arg(long, global = true, value_parser = simd_levels(), allow_negative_numbers = true)]
    pub simd: Option<String>,
}

/// `--simd` values: `auto` and the core's levels.
fn simd_levels() -> PossibleValuesParser {
    PossibleValuesParser::new(
        core::iter::once(PossibleValue::new("auto"))
            .chain(infoplane_core::Isa::ALL.map(|i| PossibleValue::new(i.name()))),
    )
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Train a network and write its information plane (plane.csv, metrics.csv, manifest.json, plane.svg).
    Run(RunArgs),
    /// Estimate I(X;T) and I(T;Y) of activations you bring (CSV, TSV, whitespace text, .npy, .npz), printing CSV to stdout; or a whole recorded training history (--history) into plane.csv and figures.
    Estimate(EstimateArgs),
    /// Estimate the mutual information I(A;B) of two variables you bring, in bits: one CSV row per estimator.
    Mi(MiArgs),
    /// Export a generated data set as CSV.
    Dataset(DatasetArgs),
    /// Summarise run directories (several seeds, or shards of a sweep) into summary.csv, metrics-summary.csv and layers-summary.csv.
    Summarize(SummarizeArgs),
    /// Draw the figures of run directories as SVG.
    Plot(PlotArgs),
}

/// `--preset` values: the core's presets.
fn presets() -> PossibleValuesParser {
    PossibleValuesParser::new(
        PRESETS
            .iter()
            .map(|p| PossibleValue::new(p.name).help(p.summary)),
    )
}

/// `--estimator` values: the core's estimator registry.
fn estimators() -> PossibleValuesParser {
    PossibleValuesParser::new(
        REGISTRY
            .iter()
            .map(|k| PossibleValue::new(k.name()).help(k.summary())),
    )
}

/// `--activation` values (`leaky_relu` is accepted for `leaky-relu`).
fn activations() -> PossibleValuesParser {
    PossibleValuesParser::new(Activation::ALL.map(|a| {
        let v = PossibleValue::new(a.name());
        if a == Activation::LeakyRelu {
            v.alias("leaky_relu")
        } else {
            v
        }
    }))
}

/// `--init` values.
fn inits() -> PossibleValuesParser {
    PossibleValuesParser::new(
        Init::ALL
            .iter()
            .map(|i| PossibleValue::new(i.name()).help(i.summary())),
    )
}

/// `--capture` values.
fn captures() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new(Capture::Before.name())
            .help("before the epoch's update (IDNNs; epoch 0 is the initial weights)"),
        PossibleValue::new(Capture::After.name())
            .help("after the epoch's update (paper scripts, ibsgd)"),
    ])
}

/// Optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    /// Adam (β 0.9/0.999, ε 1e-8).
    Adam,
    /// SGD, with `--momentum`.
    Sgd,
}

/// How training rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitName {
    /// The first rows (IDNNs).
    First,
    /// A seeded random permutation.
    Random,
}

/// The estimator settings `run` and `estimate` share; unset ones come from the preset (or,
/// for `estimate`, the core's defaults).
#[derive(Debug, Clone, Default, Args)]
pub struct EstimatorArgs {
    /// Number of bin edges (n edges make n − 1 intervals).
    #[arg(long, allow_negative_numbers = true)]
    pub bins: Option<u32>,
    /// Range of the binning edges, LO,HI (write `--range=-1,1`).
    #[arg(long, allow_hyphen_values = true)]
    pub range: Option<String>,
    /// Reproduce the IDNNs code's edge quirks (`--idnns-compat`, `--idnns-compat=false`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub idnns_compat: Option<bool>,
    /// Bin size for `binning-size`.
    #[arg(long, allow_negative_numbers = true)]
    pub bin_size: Option<f32>,
    /// Noise variance σ² of the KDE estimators (Saxe et al.: 1e-3 on the 12-bit task, 0.1 on MNIST).
    #[arg(long, allow_negative_numbers = true)]
    pub noise_var: Option<f32>,
    /// Neighbours k of the `ksg` estimator, 1 to 64 (default 3).
    #[arg(long, allow_negative_numbers = true)]
    pub k: Option<u32>,
    /// Whether `ksg` divides every column by its standard deviation first (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub standardize: Option<bool>,
    /// Add the Miller–Madow bias correction to the binning estimators (default false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub miller_madow: Option<bool>,
}

/// `infoplane run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Preset whose fields the other options override.
    #[arg(long, default_value = "tishby", value_parser = presets(), allow_negative_numbers = true)]
    pub preset: String,
    /// Hidden widths, comma-separated (input and output widths come from the data).
    #[arg(long, value_name = "W,W,..", allow_negative_numbers = true)]
    pub layers: Option<String>,
    /// Hidden activation.
    #[arg(long, value_parser = activations(), allow_negative_numbers = true)]
    pub activation: Option<String>,
    /// Weight initialiser.
    #[arg(long, value_parser = inits(), allow_negative_numbers = true)]
    pub init: Option<String>,
    /// Optimiser.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// SGD momentum.
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Mini-batch size, or `full`.
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<String>,
    /// Number of epochs.
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<u32>,
    /// Fraction of rows used for training, in (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub train_frac: Option<f64>,
    /// Which rows train: the first ones or a seeded random subset.
    #[arg(long, value_enum)]
    pub split: Option<SplitName>,
    /// Directory of MNIST-format IDX files for presets on MNIST (saxe-mnist):
    /// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    /// t10k-labels-idx1-ubyte, each plain or .gz (Fashion-MNIST has the same names). Without
    /// the training pair the 10k test set is split by --train-frac.
    #[arg(long, value_name = "DIR")]
    pub mnist: Option<PathBuf>,
    /// Train on the first N training rows only (for quick runs).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub train_limit: Option<u32>,
    /// Rows the estimators measure: all, or test (the held-out rows); default from the
    /// preset.
    #[arg(long, value_parser = ["all", "test"])]
    pub mi_rows: Option<String>,
    /// Measure on the first N of those rows only (for quick runs).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub mi_limit: Option<u32>,
    /// Reshuffle the batch order every epoch (`--shuffle`, `--shuffle=false`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub shuffle: Option<bool>,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: u64,
    /// Measured epochs: log:S, every:N, saxe, saxe-mnist, list:E,E,.., or delta skip:
    /// delta-exact:δ (every pair of consecutive measured epochs within δ, or adjacent) or
    /// delta-approx:δ
    #[arg(long, allow_negative_numbers = true)]
    pub schedule: Option<String>,
    /// The estimator whose values delta skip compares (one of the run's; default: the
    /// first)
    #[arg(long, value_parser = estimators())]
    pub delta_estimator: Option<String>,
    /// As-if-random pooling: also measure each epoch e ≥ K−1 on the activations of the K
    /// snapshots e−K+1..e pooled (each input seen K times), as estimator NAME+poolK
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    pub pool: Option<u32>,
    /// Estimator (repeatable); default from the preset.
    #[arg(long = "estimator", value_parser = estimators())]
    pub estimators: Vec<String>,
    /// Estimator settings.
    #[command(flatten)]
    pub settings: EstimatorArgs,
    /// Capture activations before or after each measured epoch's update.
    #[arg(long, value_parser = captures(), allow_negative_numbers = true)]
    pub capture: Option<String>,
    /// Worker threads (results do not depend on it); 0 = all cores.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub threads: usize,
    /// Runs: seeds `--seed`, `--seed`+1, …, `--seed`+R−1, in parallel across the threads;
    /// each run's rows are the bytes it gives alone.
    #[arg(
        long,
        default_value_t = 1,
        value_name = "R",
        allow_negative_numbers = true
    )]
    pub repeats: u64,
    /// Run only the k-th of N deterministic slices of the seeds (seed indices i with
    /// i mod N = k − 1), for spreading a sweep over machines; `summarize` merges the slices.
    #[arg(long, value_name = "k/N", allow_negative_numbers = true)]
    pub shard: Option<String>,
    /// Output directory. Default: `runs/` and a name made of the preset, activation, seeds and
    /// shard, with a short hash of the other settings when they differ from the preset's.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Replace the run already in `--out` (its files are replaced when the new run ends; other
    /// files stay), or discard an interrupted run there.
    #[arg(long)]
    pub force: bool,
    /// Also draw every estimator on one plane (`plane-overlay.svg`).
    #[arg(long)]
    pub overlay: bool,
    /// Do not draw the figures (`infoplane plot` draws them later).
    #[arg(long)]
    pub no_plots: bool,
    /// No progress bar and no closing summary line.
    #[arg(long)]
    pub quiet: bool,
    /// Go on with the run that was killed or ran out of disk in DIR, with the settings it
    /// started with (only --threads, --quiet, --no-plots and --checkpoint-every may be
    /// given); the files end byte-identical to a run that never stopped.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "preset", "layers", "activation", "init", "optimizer", "lr", "momentum", "batch",
        "epochs", "train_frac", "split", "mnist", "train_limit", "mi_rows", "mi_limit", "shuffle", "seed", "schedule", "delta_estimator", "pool", "estimators",
        "capture", "repeats", "shard", "out", "force", "overlay", "bins", "range",
        "idnns_compat", "bin_size", "noise_var", "k", "standardize", "miller_madow",
    ])]
    pub resume: Option<PathBuf>,
    /// Seconds between checkpoints (taken at measured epochs, so a killed run resumes from
    /// its last one); 0: at every measured epoch.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub checkpoint_every: f64,
}

/// `infoplane summarize`.
#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Run directories (one run, a batch of seeds, or shards of one sweep), all with the
    /// same settings.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write `summary.csv`, `metrics-summary.csv` and `layers-summary.csv`; default:
    /// the one DIR given.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Replace summary files already in the output directory.
    #[arg(long)]
    pub force: bool,
}

/// `infoplane plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run directories (as for `summarize`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the SVG figures; default: the one DIR given.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Also draw every estimator on one plane (`plane-overlay.svg`).
    #[arg(long)]
    pub overlay: bool,
}

/// `infoplane estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Activations, one row per sample: a numeric table (comma, tab or whitespace separated, optional header row; `#` comments with tabs or whitespace), a `.npy` array (more than two axes are flattened after the first), or `FILE.npz:NAME`.
    #[arg(long, required_unless_present = "history", conflicts_with = "history")]
    pub activations: Option<PathBuf>,
    /// Columns of the activations to measure: numbers from 1 (`2-11`, `1,4,7-`) or header names; default: all (with a warning if the first counts the rows, as pandas' index does).
    #[arg(long, value_name = "COLS")]
    pub columns: Option<Columns>,
    /// A whole training history: an `.npz` holding arrays `epoch{E}_layer{L}` (as `np.savez` writes), or a directory of files `epoch{E}_layer{L}.npy` (or .csv, .tsv, .txt). Writes plane.csv, summary.csv and the figures into `--out`, as `run` does.
    #[arg(long, value_name = "NPZ_OR_DIR")]
    pub history: Option<PathBuf>,
    /// Output directory for `--history`.
    #[arg(long, short = 'o', requires = "history")]
    pub out: Option<PathBuf>,
    /// Overwrite `--out` if it holds an earlier result.
    #[arg(long, requires = "history")]
    pub force: bool,
    /// With `--history`: also draw every estimator on one plane (`plane-overlay.svg`).
    #[arg(long, requires = "history")]
    pub overlay: bool,
    /// Labels: one column of non-negative integers (or the `--label-column` of a wider table), or an integer `.npy` array / `FILE.npz:NAME` of shape (N,).
    #[arg(long)]
    pub labels: PathBuf,
    /// Column of the labels file to use (needs a header row).
    #[arg(long, allow_negative_numbers = true)]
    pub label_column: Option<String>,
    /// Inputs X (a table or array as for `--activations`, same rows): equal rows count as the
    /// same input, and `ksg` measures I(X;T) from the values themselves (it needs them, or
    /// repeated inputs).
    #[arg(long)]
    pub inputs: Option<PathBuf>,
    /// Columns of the inputs to use (as `--columns`).
    #[arg(long, value_name = "COLS", requires = "inputs")]
    pub input_columns: Option<Columns>,
    /// Estimator (repeatable).
    #[arg(long = "estimator", required = true, value_parser = estimators())]
    pub estimators: Vec<String>,
    /// Estimator settings (defaults: 30 edges on -1,1 without the IDNNs quirks, bin size 0.07, noise variance 1e-3).
    #[command(flatten)]
    pub settings: EstimatorArgs,
    /// Threads for estimators that split their work (results do not depend on it); 0 = all cores.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub threads: usize,
    /// Also print the f64 bit patterns of the results.
    #[arg(long)]
    pub bits: bool,
}

/// `infoplane mi`.
#[derive(Debug, Args)]
pub struct MiArgs {
    /// A: one row per sample (a table or array as for `estimate --activations`).
    #[arg(long)]
    pub x: PathBuf,
    /// B: one row per sample, continuous (or, with `--discrete-y`, one column of non-negative integer classes).
    #[arg(long)]
    pub y: PathBuf,
    /// B is discrete: read it as labels (integers); every estimator then measures I(A;B) as it measures I(T;Y).
    #[arg(long)]
    pub discrete_y: bool,
    /// Columns of A to use (as `estimate --columns`).
    #[arg(long, value_name = "COLS")]
    pub x_columns: Option<Columns>,
    /// Columns of B to use (as `estimate --columns`); with `--discrete-y`, the one column's header name.
    #[arg(long, value_name = "COLS")]
    pub y_columns: Option<String>,
    /// Estimator (repeatable). Two continuous variables: `ksg`, `binning`, `binning-size`, `binning-equal-mass`; with `--discrete-y` every estimator.
    #[arg(long = "estimator", required = true, value_parser = estimators())]
    pub estimators: Vec<String>,
    /// Estimator settings (as for `estimate`).
    #[command(flatten)]
    pub settings: EstimatorArgs,
    /// Threads for estimators that split their work (results do not depend on it); 0 = all cores.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub threads: usize,
    /// Also print the f64 bit pattern of the result.
    #[arg(long)]
    pub bits: bool,
}

/// Data sets `infoplane dataset` can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// Tishby's 12-bit task (4096 rows, 12 bit columns and the label y).
    Tishby,
}

/// `infoplane dataset`.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// Which data set.
    #[arg(value_enum)]
    pub name: DatasetName,
    /// Output CSV file.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}
