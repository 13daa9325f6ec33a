//! Everything a frontend offers, in one serialisable value (features `alloc` and `serde`): the
//! presets with all their defaults, the registered estimators with the settings they read,
//! activations, initialisers, capture points and the schedule forms. The wasm module hands it
//! to the page as JSON, so the page lists exactly what the core implements.

use crate::estimator::{Param, REGISTRY};
use crate::preset::{PRESETS, Preset};
use crate::schedule::{Capture, FORMS};
use crate::{Activation, Init};
use alloc::vec::Vec;
use serde::Serialize;

/// One setting an estimator reads.
#[derive(Debug, Clone, Serialize)]
pub struct ParamInfo {
    /// [`Param::name`].
    pub name: &'static str,
    /// [`Param::help`].
    pub help: &'static str,
    /// [`Param::accepts`].
    pub accepts: &'static str,
}

/// One registered estimator.
#[derive(Debug, Clone, Serialize)]
pub struct EstimatorInfo {
    /// Its name.
    pub name: &'static str,
    /// What it computes.
    pub summary: &'static str,
    /// The settings it reads.
    pub params: Vec<ParamInfo>,
}

/// Everything a frontend offers.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// The presets, with every default.
    pub presets: &'static [Preset],
    /// The estimators, in registry order.
    pub estimators: Vec<EstimatorInfo>,
    /// Hidden activations.
    pub activations: Vec<&'static str>,
    /// Weight initialisers.
    pub inits: Vec<&'static str>,
    /// Capture points.
    pub captures: Vec<&'static str>,
    /// The schedule forms, in words.
    pub schedules: &'static str,
}

/// The catalogue of this build.
#[must_use]
pub fn catalog() -> Catalog {
    let info = |p: &Param| ParamInfo {
        name: p.name(),
        help: p.help(),
        accepts: p.accepts(),
    };
    Catalog {
        presets: PRESETS,
        estimators: REGISTRY
            .iter()
            .map(|k| EstimatorInfo {
                name: k.name(),
                summary: k.summary(),
                params: k.params().iter().map(info).collect(),
            })
            .collect(),
        activations: Activation::ALL.iter().map(|a| a.name()).collect(),
        inits: Init::ALL.iter().map(|i| i.name()).collect(),
        captures: Capture::ALL.iter().map(|c| c.name()).collect(),
        schedules: FORMS,
    }
}
