//! infoplane in the browser: one exported [`Session`] that owns a core
//! [`Experiment`](infoplane_core::experiment::Experiment) and its
//! [`Measurer`](infoplane_core::experiment::Measurer), steps training and hands back plane
//! points, metrics and the same `plane.csv` bytes the native CLI writes. This crate only
//! converts types (R23): the training, the estimators and the CSV formatting are the core's.
#![forbid(unsafe_code)]

use infoplane_core::experiment::{
    EstimatorSpec, Experiment, ExperimentConfig, METRICS_HEADER, Measurer, PLANE_HEADER, Preset,
    ScheduleSpec, estimator_names,
};
use infoplane_core::{Activation, BinRule, KdeBound};
use wasm_bindgen::prelude::*;

/// A training run in the browser.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Session {
    exp: Experiment,
    measurer: Measurer,
    names: Vec<&'static str>,
    plane_csv: String,
    metrics_csv: String,
    points: Vec<f64>,
    metrics: Vec<f64>,
    train_ms: f64,
    measure_ms: f64,
}

fn err(what: &str, e: infoplane_core::Error) -> JsError {
    JsError::new(&format!("{what}: {e}"))
}

/// The estimator called `name`, with the settings of the 12-bit task's presets (30 edges on
/// [−1, 1] with the IDNNs quirks for the Tishby presets, 50 for the paper preset, bin size
/// 0.07, noise variance 1e-3).
fn estimator(name: &str, preset: Preset) -> Result<EstimatorSpec, JsError> {
    let tishby = preset != Preset::Saxe;
    let n_edges = if preset == Preset::TishbyPaper {
        50
    } else {
        30
    };
    Ok(match name.trim() {
        "binning" => EstimatorSpec::Binning(BinRule::Edges {
            n_edges,
            lo: -1.0,
            hi: 1.0,
            idnns: tishby,
        }),
        "binning-size" => EstimatorSpec::Binning(BinRule::Size { size: 0.07 }),
        "binning-range" => EstimatorSpec::Binning(BinRule::LayerRange { n_edges }),
        "kde-upper" => EstimatorSpec::Kde {
            bound: KdeBound::Upper,
            noise_var: 1e-3,
        },
        "kde-lower" => EstimatorSpec::Kde {
            bound: KdeBound::Lower,
            noise_var: 1e-3,
        },
        other => return Err(JsError::new(&format!("unknown estimator {other:?}"))),
    })
}

#[wasm_bindgen]
impl Session {
    /// A run of `preset` with the given hidden activation, comma-separated estimators, seed,
    /// epochs (0: the preset's) and schedule ("" : the preset's).
    ///
    /// # Errors
    /// A `JsError` naming the bad argument.
    #[wasm_bindgen(constructor)]
    pub fn new(
        preset: &str,
        activation: &str,
        estimators: &str,
        seed: u32,
        epochs: u32,
        schedule: &str,
    ) -> Result<Session, JsError> {
        #[cfg(feature = "console_error_panic_hook")]
        console_error_panic_hook::set_once();
        let p = Preset::from_name(preset)
            .ok_or_else(|| JsError::new(&format!("unknown preset {preset:?}")))?;
        let mut cfg = ExperimentConfig::preset(p);
        cfg.activation = Activation::from_name(activation)
            .ok_or_else(|| JsError::new(&format!("unknown activation {activation:?}")))?;
        if !estimators.trim().is_empty() {
            cfg.estimators = estimators
                .split(',')
                .map(|e| estimator(e, p))
                .collect::<Result<_, _>>()?;
        }
        cfg.seed = u64::from(seed);
        if epochs > 0 {
            cfg.epochs = epochs;
        }
        if !schedule.trim().is_empty() {
            cfg.schedule = ScheduleSpec::parse(schedule.trim()).map_err(|e| err("schedule", e))?;
        }
        let names = estimator_names(&cfg);
        let exp = Experiment::new(cfg).map_err(|e| err("settings", e))?;
        let measurer = exp.measurer().map_err(|e| err("estimators", e))?;
        Ok(Session {
            exp,
            measurer,
            names,
            plane_csv: PLANE_HEADER.into(),
            metrics_csv: METRICS_HEADER.into(),
            points: Vec::new(),
            metrics: Vec::new(),
            train_ms: 0.0,
            measure_ms: 0.0,
        })
    }

    /// Trains up to `max_epochs` more epochs, measuring the scheduled ones; returns the epochs
    /// done so far.
    ///
    /// # Errors
    /// A `JsError` if training diverges or an estimator fails.
    pub fn step(&mut self, max_epochs: u32) -> Result<u32, JsError> {
        for _ in 0..max_epochs {
            if self.exp.done() {
                break;
            }
            let epoch = self.exp.epochs_done();
            let Some(snap) = self
                .exp
                .step()
                .map_err(|e| err(&format!("training epoch {epoch}"), e))?
            else {
                continue;
            };
            let m = self
                .measurer
                .measure(&snap)
                .map_err(|e| err(&format!("measuring epoch {epoch}"), e))?;
            let fmt_err = |_| JsError::new("formatting a CSV row failed");
            m.write_plane_rows(0, &self.names, &mut self.plane_csv)
                .map_err(fmt_err)?;
            m.write_metrics_row(0, &mut self.metrics_csv)
                .map_err(fmt_err)?;
            for p in &m.points {
                self.points.extend_from_slice(&[
                    f64::from(m.epoch),
                    f64::from(p.layer),
                    f64::from(u32::try_from(p.estimator).unwrap_or(u32::MAX)),
                    p.point.i_xt.in_bits(),
                    p.point.i_ty.in_bits(),
                ]);
            }
            let (tl, ta) = m
                .metrics
                .test
                .map_or((f64::NAN, f64::NAN), |t| (t.loss, t.accuracy));
            self.metrics.extend_from_slice(&[
                f64::from(m.epoch),
                m.metrics.train.loss,
                m.metrics.train.accuracy,
                tl,
                ta,
            ]);
        }
        Ok(self.exp.epochs_done())
    }

    /// Milliseconds spent training so far (wall clock, `Date.now()`).
    #[wasm_bindgen(js_name = trainMs)]
    pub fn train_ms(&self) -> f64 {
        self.train_ms
    }

    /// Milliseconds spent measuring (network on every row, estimators, metrics) so far.
    #[wasm_bindgen(js_name = measureMs)]
    pub fn measure_ms(&self) -> f64 {
        self.measure_ms
    }

    /// Whether every epoch has been trained.
    pub fn done(&self) -> bool {
        self.exp.done()
    }

    /// Epochs trained so far.
    #[wasm_bindgen(js_name = epochsDone)]
    pub fn epochs_done(&self) -> u32 {
        self.exp.epochs_done()
    }

    /// Epochs in the run.
    #[wasm_bindgen(js_name = totalEpochs)]
    pub fn total_epochs(&self) -> u32 {
        self.exp.config().epochs
    }

    /// Layers on the plane (hidden layers and the softmax output).
    #[wasm_bindgen(js_name = nLayers)]
    pub fn n_layers(&self) -> u32 {
        u32::try_from(self.exp.config().widths.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The estimators' names, comma-separated, in output order.
    #[wasm_bindgen(js_name = estimatorNames)]
    pub fn estimator_names(&self) -> String {
        self.names.join(",")
    }

    /// Plane points measured since the last call, flat groups of five:
    /// `[epoch, layer, estimator index, I(X;T) bits, I(T;Y) bits]`.
    #[wasm_bindgen(js_name = takePoints)]
    pub fn take_points(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.points)
    }

    /// Metric rows measured since the last call, flat groups of five:
    /// `[epoch, train loss, train accuracy, test loss, test accuracy]` (NaN without test rows).
    #[wasm_bindgen(js_name = takeMetrics)]
    pub fn take_metrics(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.metrics)
    }

    /// `plane.csv` so far, byte-identical to the native CLI's.
    #[wasm_bindgen(js_name = planeCsv)]
    pub fn plane_csv(&self) -> String {
        self.plane_csv.clone()
    }

    /// `metrics.csv` so far.
    #[wasm_bindgen(js_name = metricsCsv)]
    pub fn metrics_csv(&self) -> String {
        self.metrics_csv.clone()
    }
}
