//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Train networks and measure their information plane.
#[derive(Debug, Parser)]
#[command(name = "infoplane", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network and write its information plane (plane.csv, metrics.csv, manifest.json, plane.svg).
    Run(RunArgs),
    /// Estimate I(X;T) and I(T;Y) of activations you bring (CSV), printing CSV to stdout.
    Estimate(EstimateArgs),
    /// Export a generated data set as CSV.
    Dataset(DatasetArgs),
}

/// Training presets (see the README table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Shwartz-Ziv & Tishby's IDNNs code: 12-10-7-5-4-3-2 tanh, Adam 4e-4, batch 512, 8000 epochs, log schedule (400), before the update, 30 edges.
    Tishby,
    /// The 2017 paper scripts: full batch, 10000 epochs, log schedule (1800), after the update, 50 edges, random 85% split.
    TishbyPaper,
    /// Saxe et al.'s ibsgd IB net: fan-out init, batch 256, 10000 epochs, Saxe schedule, after the update, bin size 0.07, random 80%.
    Saxe,
}

/// Estimators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum EstimatorName {
    /// Tishby's binning: `--bins` edges on `--range` (with `--idnns-compat`).
    Binning,
    /// Fixed-size bins of `--bin-size` (ibsgd).
    BinningSize,
    /// `--bins` edges spanning each layer's min–max at that epoch.
    BinningRange,
    /// Kolchinsky–Tracey KDE upper bound (noise variance `--noise-var`).
    KdeUpper,
    /// Kolchinsky–Tracey KDE lower bound (noise variance `--noise-var`).
    KdeLower,
}

impl EstimatorName {
    /// The name written in CSV files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binning => "binning",
            Self::BinningSize => "binning-size",
            Self::BinningRange => "binning-range",
            Self::KdeUpper => "kde-upper",
            Self::KdeLower => "kde-lower",
        }
    }
}

/// When activations are captured relative to an epoch's update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Capture {
    /// Before the epoch's update (IDNNs; epoch 0 is the initial weights).
    Before,
    /// After the epoch's update (paper scripts, ibsgd).
    After,
}

/// Optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    /// Adam (β 0.9/0.999, ε 1e-8).
    Adam,
    /// SGD, with `--momentum`.
    Sgd,
}

/// Weight initialisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitName {
    /// Truncated normal, σ = `1/√fan_in` (IDNNs).
    TruncnormFanIn,
    /// Truncated normal, σ = `1/√fan_out` (ibsgd).
    TruncnormFanOut,
    /// Glorot uniform.
    GlorotUniform,
}

/// How training rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitName {
    /// The first rows (IDNNs).
    First,
    /// A seeded random permutation.
    Random,
}

/// `infoplane run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Preset whose fields the other options override.
    #[arg(long, value_enum, default_value = "tishby")]
    pub preset: Preset,
    /// Hidden widths, comma-separated (input and output widths come from the data).
    #[arg(long, value_name = "W,W,..")]
    pub layers: Option<String>,
    /// Hidden activation: tanh, relu, sigmoid, linear, leaky-relu, softsign, softplus.
    #[arg(long)]
    pub activation: Option<String>,
    /// Weight initialiser.
    #[arg(long, value_enum)]
    pub init: Option<InitName>,
    /// Optimiser.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// SGD momentum.
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Mini-batch size, or `full`.
    #[arg(long)]
    pub batch: Option<String>,
    /// Number of epochs.
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Fraction of rows used for training, in (0, 1].
    #[arg(long)]
    pub train_frac: Option<f64>,
    /// Which rows train: the first ones or a seeded random subset.
    #[arg(long, value_enum)]
    pub split: Option<SplitName>,
    /// Reshuffle the batch order every epoch (`--shuffle`, `--shuffle=false`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub shuffle: Option<bool>,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Measured epochs: log:S, every:N, saxe, saxe-mnist or list:E,E,..
    #[arg(long)]
    pub schedule: Option<String>,
    /// Estimator (repeatable); default from the preset.
    #[arg(long = "estimator", value_enum)]
    pub estimators: Vec<EstimatorName>,
    /// Number of bin edges (n edges make n − 1 intervals).
    #[arg(long)]
    pub bins: Option<u32>,
    /// Range of the binning edges, LO,HI (write `--range=-1,1`).
    #[arg(long, allow_hyphen_values = true)]
    pub range: Option<String>,
    /// Reproduce the IDNNs code's edge quirks (`--idnns-compat`, `--idnns-compat=false`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub idnns_compat: Option<bool>,
    /// Bin size for `binning-size`.
    #[arg(long)]
    pub bin_size: Option<f32>,
    /// Noise variance σ² of the KDE estimators (1e-3 on the 12-bit task).
    #[arg(long)]
    pub noise_var: Option<f32>,
    /// Capture activations before or after each measured epoch's update.
    #[arg(long, value_enum)]
    pub capture: Option<Capture>,
    /// Worker threads (results do not depend on it); 0 = all cores.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory.
    #[arg(long, short = 'o', default_value = "runs/tishby")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `infoplane estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Activations: numeric CSV, one row per sample, optional header row.
    #[arg(long)]
    pub activations: PathBuf,
    /// Labels: one column of non-negative integers (or the `--label-column` of a wider CSV).
    #[arg(long)]
    pub labels: PathBuf,
    /// Column of the labels file to use (needs a header row).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Inputs X (numeric CSV, same rows); equal rows count as the same input.
    #[arg(long)]
    pub inputs: Option<PathBuf>,
    /// Estimator (repeatable).
    #[arg(long = "estimator", value_enum, required = true)]
    pub estimators: Vec<EstimatorName>,
    /// Number of bin edges.
    #[arg(long, default_value_t = 30)]
    pub bins: u32,
    /// Range of the edges, LO,HI (write `--range=-1,1`).
    #[arg(long, allow_hyphen_values = true, default_value = "-1,1")]
    pub range: String,
    /// Reproduce the IDNNs code's edge quirks.
    #[arg(long)]
    pub idnns_compat: bool,
    /// Bin size for `binning-size`.
    #[arg(long, default_value_t = 0.07)]
    pub bin_size: f32,
    /// Noise variance σ² of the KDE estimators (Saxe et al.: 1e-3 on the 12-bit task, 0.1 on MNIST).
    #[arg(long, default_value_t = 1e-3)]
    pub noise_var: f32,
    /// Threads for the KDE estimators (results do not depend on it); 0 = all cores.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Also print the f64 bit patterns of the results.
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
