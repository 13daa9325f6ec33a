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
}

impl DatasetName {
    /// The name in manifests.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tishby12 => "tishby-12bit",
        }
    }

    /// The data set, if the core can generate it (data sets read from files are loaded by
    /// frontends).
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn generate(self) -> Option<crate::dataset::Dataset> {
        match self {
            Self::Tishby12 => Some(crate::dataset::Dataset::tishby()),
        }
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
    /// Fraction of rows that train (`rint(frac · rows)`).
    pub train_frac: f64,
    /// Training rows drawn at random (else the first rows).
    pub random_split: bool,
    /// Reshuffle the batch order every epoch.
    pub shuffle: bool,
    /// Measured epochs.
    pub schedule: Schedule<'static>,
    /// Capture point.
    pub capture: Capture,
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

/// Every preset, in the order frontends list them.
pub static PRESETS: &[Preset] = &[TISHBY, TISHBY_PAPER, SAXE];

/// The preset called `name`.
#[must_use]
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
