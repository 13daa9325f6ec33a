//! The published set-ups infoplane reproduces, each owning every default of a run: data set,
//! network, initialiser, optimiser, batch, split, schedule, capture point, estimators and
//! their settings (SPEC: networks and training presets). Frontends read them from here (the
//! CLI's `--preset`, the wasm module's catalogue) and only apply the user's overrides.

use crate::estimator::Settings;
use crate::schedule::{Capture, Schedule};
use crate::{Activation, Init, Optimizer};

/// The data sets presets train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatasetName {
    /// Shwartz-Ziv & Tishby's 12-bit task, generated
    /// ([`Dataset::tishby`](crate::dataset::Dataset::tishby)).
    Tishby12,
    /// MNIST (or Fashion-MNIST), 28 × 28 bytes read as `/255`, 10 classes, from IDX files
    /// the user brings ([`crate::idx`]); frontends load them.
    Mnist,
}

impl DatasetName {
    /// The name in manifests.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tishby12 => "tishby-12bit",
            Self::Mnist => "mnist",
        }
    }

    /// The data set, if the core can generate it (data sets read from files are loaded by
    /// frontends).
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn generate(self) -> Option<crate::dataset::Dataset> {
        match self {
            Self::Tishby12 => Some(crate::dataset::Dataset::tishby()),
            Self::Mnist => None,
        }
    }
}

/// The rows the estimators measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum MiRows {
    /// Every row of the data set (the 12-bit task: all 4096 patterns).
    All,
    /// The held-out rows only, in row order (MNIST: the 10k test set).
    Test,
}

impl MiRows {
    /// The name on the command line and in manifests.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Test => "test",
        }
    }

    /// The rows called [`MiRows::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::All, Self::Test]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// A training preset. Every field is a default the user may override.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Preset {
    /// The name on the command line.
    pub name: &'static str,
    /// Where it comes from, in a line.
    pub summary: &'static str,
    /// The data set.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_dataset"))]
    pub dataset: DatasetName,
    /// Hidden widths (input and output widths come from the data set).
    pub hidden: &'static [u32],
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialiser.
    pub init: Init,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Mini-batch size; `None` is full batch.
    pub batch: Option<u32>,
    /// Epochs.
    pub epochs: u32,
    /// Fraction of rows that train (`rint(frac · rows)`), for data sets without a split of
    /// their own.
    pub train_frac: f64,
    /// Training rows drawn at random (else the first rows).
    pub random_split: bool,
    /// Reshuffle the batch order every epoch.
    pub shuffle: bool,
    /// Measured epochs.
    pub schedule: Schedule<'static>,
    /// Capture point.
    pub capture: Capture,
    /// The rows the estimators measure.
    pub mi_rows: MiRows,
    /// Estimators, by name, in output order.
    pub estimators: &'static [&'static str],
    /// The estimators' settings.
    pub settings: Settings,
}

#[cfg(feature = "serde")]
fn ser_dataset<S: serde::Serializer>(d: &DatasetName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.name())
}

const TISHBY_HIDDEN: &[u32] = &[10, 7, 5, 4, 3];

/// Shwartz-Ziv & Tishby's IDNNs code: 12-10-7-5-4-3-2 tanh, truncated normal σ = `1/√fan_in`,
/// Adam 4e-4, batch 512 in fixed order, 8000 epochs, log schedule (400 points → 274 epochs)
/// captured before the update, 30 edges on [−1, 1] with the IDNNs quirks, first 80 % train.
pub const TISHBY: Preset = Preset {
    name: "tishby",
    summary: "Shwartz-Ziv & Tishby's IDNNs code: 12-10-7-5-4-3-2 tanh, Adam 4e-4, batch 512, 8000 epochs, log schedule (400), before the update, 30 edges (IDNNs quirks), first 80 %",
    dataset: DatasetName::Tishby12,
    hidden: TISHBY_HIDDEN,
    activation: Activation::Tanh,
    init: Init::TruncatedNormalFanIn,
    optimizer: Optimizer::adam(4e-4),
    batch: Some(512),
    epochs: 8000,
    train_frac: 0.8,
    random_split: false,
    shuffle: false,
    schedule: Schedule::Log { points: 400 },
    capture: Capture::Before,
    mi_rows: MiRows::All,
    estimators: &["binning"],
    settings: Settings {
        bins: 30,
        idnns_compat: true,
        ..Settings::DEFAULT
    },
};

/// The 2017 paper scripts: as [`TISHBY`] but full batch, 10000 epochs, log schedule (1800
/// points → 964 epochs) captured after the update, 50 edges, a random 85 % trains.
pub const TISHBY_PAPER: Preset = Preset {
    name: "tishby-paper",
    summary: "The 2017 paper scripts: full batch, 10000 epochs, log schedule (1800), after the update, 50 edges (IDNNs quirks), random 85 %",
    batch: None,
    epochs: 10_000,
    train_frac: 0.85,
    random_split: true,
    schedule: Schedule::Log { points: 1800 },
    capture: Capture::After,
    settings: Settings {
        bins: 50,
        idnns_compat: true,
        ..Settings::DEFAULT
    },
    ..TISHBY
};

/// Saxe et al.'s ibsgd IB net: σ = `1/√fan_out`, batch 256 reshuffled every epoch, 10000 epochs,
/// Saxe's schedule captured after the update, bins of 0.07, KDE σ² = 1e-3, a random 80 %.
pub const SAXE: Preset = Preset {
    name: "saxe",
    summary: "Saxe et al.'s ibsgd IB net: fan-out init, batch 256 reshuffled, 10000 epochs, Saxe schedule, after the update, bin size 0.07, KDE σ² 1e-3, random 80 %",
    init: Init::TruncatedNormalFanOut,
    batch: Some(256),
    epochs: 10_000,
    random_split: true,
    shuffle: true,
    schedule: Schedule::Saxe,
    capture: Capture::After,
    estimators: &["binning-size"],
    settings: Settings::DEFAULT,
    ..TISHBY
};

const SAXE_MNIST_HIDDEN: &[u32] = &[1024, 20, 20, 20];

/// Saxe et al.'s MNIST net: 784-1024-20-20-20-10 tanh, Glorot uniform, SGD 1e-3, batch 128
/// reshuffled every epoch, 10000 epochs (runs are usually cut short), the saxe-mnist schedule
/// captured after the update, bins of 0.5 and KDE σ² = 0.1, measured on the held-out rows:
/// MNIST's 10k test set when the 60k training set is there, else the last 20 % of the rows.
pub const SAXE_MNIST: Preset = Preset {
    name: "saxe-mnist",
    summary: "Saxe et al.'s MNIST net: 784-1024-20-20-20-10 tanh, Glorot uniform, SGD 1e-3, batch 128 reshuffled, saxe-mnist schedule, after the update, bin size 0.5, KDE σ² 0.1, measured on the test set",
    dataset: DatasetName::Mnist,
    hidden: SAXE_MNIST_HIDDEN,
    activation: Activation::Tanh,
    init: Init::GlorotUniform,
    optimizer: Optimizer::sgd(1e-3),
    batch: Some(128),
    epochs: 10_000,
    train_frac: 0.8,
    random_split: false,
    shuffle: true,
    schedule: Schedule::SaxeMnist,
    capture: Capture::After,
    mi_rows: MiRows::Test,
    estimators: &["binning-size", "kde-upper"],
    settings: Settings {
        bin_size: 0.5,
        noise_var: 0.1,
        ..Settings::DEFAULT
    },
};

/// Every preset, in the order frontends list them.
pub static PRESETS: &[Preset] = &[TISHBY, TISHBY_PAPER, SAXE, SAXE_MNIST];

/// The preset called `name`.
#[must_use]
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
