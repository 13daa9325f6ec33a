//! Every setting of a run, starting from a preset, and its one validation path.

use crate::dataset::Dataset;
use crate::estimator::{Estimator, Settings};
use crate::preset::{MiRows, Preset};
use crate::schedule::{Capture, ScheduleSpec};
use crate::{Activation, Error, Init, MlpShape, Optimizer, data::train_count, mlp::MAX_LAYERS};
use alloc::vec::Vec;

/// Every setting of a run. Build it from a [`Preset`] ([`ExperimentConfig::from_preset`]),
/// override fields, and let [`ExperimentConfig::validate`] (called by
/// [`Experiment::new`](super::Experiment::new)) check it against the data set before anything
/// runs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ExperimentConfig {
    /// The preset the settings started from.
    pub preset: &'static str,
    /// Hidden widths (the input and output widths come from the data set).
    pub hidden: Vec<u32>,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialiser.
    pub init: Init,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Mini-batch size; `None` is full batch (`"full"` in manifests).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_batch"))]
    pub batch: Option<u32>,
    /// Number of epochs.
    pub epochs: u32,
    /// Fraction of rows that train (`rint(frac · rows)` rows), for data sets without a split
    /// of their own ([`Dataset::split`]).
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
    /// Train on the first this many training rows only (in the split's order); the rest of
    /// the training rows are then neither trained on nor held out. `None`: all.
    pub train_limit: Option<u32>,
    /// The rows the estimators measure.
    pub mi_rows: MiRows,
    /// Measure on the first this many of those rows only. `None`: all.
    pub mi_limit: Option<u32>,
    /// Estimators, in output order.
    pub estimators: Vec<Estimator>,
    /// The estimator whose values delta skip compares (one of `estimators`, by name);
    /// `None`: the first.
    pub delta_estimator: Option<&'static str>,
    /// As-if-random pooling (SPEC; the seed report's section 0.5): with K ≥ 2, every
    /// measured epoch e ≥ K − 1 is also measured on the activations of the K snapshots
    /// e − K + 1 … e pooled, each input seen K times, by every estimator (its column named
    /// `NAME+poolK`). 1: none.
    pub pool: u32,
}

/// The largest `pool`.
pub const MAX_POOL: u32 = 1024;

#[cfg(feature = "serde")]
#[allow(clippy::ref_option)] // the signature serde's `serialize_with` calls
fn ser_batch<S: serde::Serializer>(b: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(v) => s.serialize_u32(*v),
        None => s.serialize_str("full"),
    }
}

/// What each setting of [`ExperimentConfig`] accepts, by the name
/// [`Error::InvalidParameter`] gives it (frontends print it with the error). Estimator
/// parameters are described by [`Param::accepts`](crate::estimator::Param::accepts).
#[must_use]
pub fn accepts(name: &str) -> Option<&'static str> {
    Some(match name {
        "layers" => "1 to 15 hidden widths, each ≥ 1, whose weights fit in u32 (e.g. 10,7,5,4,3)",
        "lr" => "a finite number ≥ 0 (0 freezes the weights), not subnormal",
        "momentum" => "a number in [0, 1)",
        "beta1" | "beta2" => "a number in [0, 1)",
        "eps" => "a finite number ≥ 0",
        "batch" => "a positive integer, or full",
        "epochs" => "an integer ≥ 1",
        "train_frac" => "a number in (0, 1] that leaves at least one training row",
        "train_limit" => "an integer ≥ 1",
        "mi_rows" => "all (every row) or test (the held-out rows, when there are any)",
        "mi_limit" => "an integer ≥ 1",
        "schedule" => crate::schedule::FORMS,
        "estimators" => "at least one estimator",
        "estimator" => "the name of a registered estimator",
        "delta_estimator" => "one of the run's estimators",
        "pool" => "an integer from 1 (no pooling) to 1024, at most the epoch count",
        _ => {
            return crate::estimator::Param::from_name(name).map(crate::estimator::Param::accepts);
        }
    })
}

impl ExperimentConfig {
    /// The preset's settings, seed 0.
    ///
    /// # Errors
    /// As [`Estimator::new`] for the preset's estimators (never for the built-in presets).
    pub fn from_preset(p: &Preset) -> Result<Self, Error> {
        Ok(Self {
            preset: p.name,
            hidden: p.hidden.to_vec(),
            activation: p.activation,
            init: p.init,
            optimizer: p.optimizer,
            batch: p.batch,
            epochs: p.epochs,
            train_frac: p.train_frac,
            random_split: p.random_split,
            shuffle: p.shuffle,
            seed: 0,
            schedule: p.schedule.into(),
            capture: p.capture,
            train_limit: None,
            mi_rows: p.mi_rows,
            mi_limit: None,
            estimators: estimators(p.estimators, p.settings)?,
            delta_estimator: None,
            pool: 1,
        })
    }

    /// The names in the `estimator` column: each estimator's, then with pooling each again
    /// as `NAME+poolK` (the order of [`LayerPoint::estimator`](super::LayerPoint)).
    #[must_use]
    pub fn column_names(&self) -> Vec<alloc::string::String> {
        let base = self
            .estimators
            .iter()
            .map(|e| alloc::string::String::from(e.name()));
        if self.pool > 1 {
            let pooled = self
                .estimators
                .iter()
                .map(|e| alloc::format!("{}+pool{}", e.name(), self.pool));
            base.chain(pooled).collect()
        } else {
            base.collect()
        }
    }

    /// The index of the estimator delta skip compares.
    #[must_use]
    pub fn delta_estimator_index(&self) -> usize {
        self.delta_estimator
            .and_then(|n| self.estimators.iter().position(|e| e.name() == n))
            .unwrap_or(0)
    }

    /// The network's parameter count on a data set.
    ///
    /// # Errors
    /// As [`MlpShape::new`].
    pub fn param_len(&self, data: &Dataset) -> Result<usize, Error> {
        let cols = u32::try_from(data.cols()).map_err(|_| Error::TooLarge)?;
        Ok(MlpShape::new(&self.widths(cols, data.classes()), self.activation)?.param_len())
    }

    /// The estimators' names, in output order (the `estimator` column of `plane.csv`).
    #[must_use]
    pub fn estimator_names(&self) -> Vec<&'static str> {
        self.estimators.iter().map(Estimator::name).collect()
    }

    /// All widths for a data set of `cols` inputs and `classes` classes.
    #[must_use]
    pub fn widths(&self, cols: u32, classes: u32) -> Vec<u32> {
        let mut w = Vec::with_capacity(self.hidden.len() + 2);
        w.push(cols);
        w.extend_from_slice(&self.hidden);
        w.push(classes);
        w
    }

    /// The number of training rows before [`ExperimentConfig::train_limit`]: the data set's
    /// own split, else `rint(train_frac · rows)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"train_frac"` as [`train_count`].
    pub fn split_rows(&self, data: &Dataset) -> Result<usize, Error> {
        match data.split() {
            Some(s) => Ok(s),
            None => train_count(data.rows(), self.train_frac),
        }
    }

    /// Checks every setting against a data set.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting (`layers`, `lr`,
    /// `momentum`, `batch`, `epochs`, `train_frac`, `train_limit`, `mi_rows`, `mi_limit`,
    /// `schedule`, `estimators`, or an estimator parameter); see [`accepts`].
    pub fn validate(&self, data: &Dataset) -> Result<(), Error> {
        let (rows, cols, classes) = (data.rows(), data.cols(), data.classes());
        let bad = |name| Error::InvalidParameter { name };
        if self.hidden.is_empty() || self.hidden.len() > MAX_LAYERS - 1 || self.hidden.contains(&0)
        {
            return Err(bad("layers"));
        }
        let cols = u32::try_from(cols).map_err(|_| Error::TooLarge)?;
        MlpShape::new(&self.widths(cols, classes), self.activation).map_err(|e| match e {
            Error::TooLarge | Error::InvalidParameter { .. } => bad("layers"),
            other => other,
        })?;
        self.optimizer.validate()?;
        if self.batch == Some(0) {
            return Err(bad("batch"));
        }
        if self.epochs == 0 {
            return Err(bad("epochs"));
        }
        let split = self.split_rows(data)?;
        if self.train_limit == Some(0) {
            return Err(bad("train_limit"));
        }
        if self.mi_rows == MiRows::Test && split >= rows {
            return Err(bad("mi_rows"));
        }
        if self.mi_limit == Some(0) {
            return Err(bad("mi_limit"));
        }
        self.schedule
            .validate(self.epochs)
            .map_err(|_| bad("schedule"))?;
        if self.estimators.is_empty() {
            return Err(bad("estimators"));
        }
        if self.pool == 0 || self.pool > MAX_POOL || self.pool > self.epochs {
            return Err(bad("pool"));
        }
        if let Some(n) = self.delta_estimator
            && !self.estimators.iter().any(|e| e.name() == n)
        {
            return Err(bad("delta_estimator"));
        }
        Ok(())
    }
}

/// The estimators called `names`, each with `settings`, checked; a name given twice is kept
/// once.
///
/// # Errors
/// As [`Estimator::new`].
pub fn estimators(names: &[&str], settings: Settings) -> Result<Vec<Estimator>, Error> {
    let mut out: Vec<Estimator> = Vec::with_capacity(names.len());
    for name in names {
        let e = Estimator::new(name, settings)?;
        if !out.iter().any(|o| o.name() == e.name()) {
            out.push(e);
        }
    }
    Ok(out)
}
