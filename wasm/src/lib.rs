//! infoplane in the browser: the core's [`Run`](infoplane_core::experiment::Run) driver behind
//! one exported [`Session`], and the core's catalogue ([`catalog`]) so the page lists exactly
//! the presets, estimators and activations the core implements. A session steps training,
//! measures the snapshots the schedule asks for, and hands back plane points, metrics and
//! the same `plane.csv` bytes the native CLI writes. This crate only converts types (R23):
//! the presets, training, estimators and CSV formatting are the core's.
#![forbid(unsafe_code)]

use infoplane_core::experiment::{
    Action, Experiment, ExperimentConfig, METRICS_HEADER, Measurer, PLANE_HEADER, Run, estimators,
};
use infoplane_core::preset::preset;
use infoplane_core::schedule::ScheduleSpec;
use infoplane_core::{Activation, Error};
use std::sync::Arc;
use wasm_bindgen::prelude::*;

/// A training run in the browser.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Session {
    run: Run,
    measurer: Measurer,
    names: Vec<String>,
    plane_csv: String,
    metrics_csv: String,
    points: Vec<f64>,
    metrics: Vec<f64>,
    train_ms: f64,
    measure_ms: f64,
    done: bool,
}

/// A core error as a `JsError`: a bad parameter is named with what it accepts.
fn err(what: &str, e: Error) -> JsError {
    match e {
        Error::InvalidParameter { name } => {
            let accepts = infoplane_core::experiment::accepts(name).unwrap_or("a valid value");
            JsError::new(&format!("{what}: invalid {name}: expected {accepts}"))
        }
        other => JsError::new(&format!("{what}: {other}")),
    }
}

/// Milliseconds from a monotonic clock: `performance.now()` where there is one (pages,
/// workers, node), else `Date.now()`.
fn now_ms() -> f64 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("performance"))
        .ok()
        .filter(|p| p.is_object())
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &JsValue::from_str("now")).ok()?;
            let f: &js_sys::Function = now.dyn_ref()?;
            f.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// Everything the page can offer, as JSON: `{presets: [...], estimators: [{name, summary,
/// params: [{name, help, accepts}]}], activations, inits, captures, schedules}`. The presets
/// carry every default (epochs, schedule, estimators and their settings, …).
///
/// # Errors
/// A `JsError` if serialising fails (it does not).
#[wasm_bindgen]
pub fn catalog() -> Result<String, JsError> {
    serde_json::to_string(&infoplane_core::catalog::catalog())
        .map_err(|e| JsError::new(&format!("catalogue: {e}")))
}

#[wasm_bindgen]
impl Session {
    /// A run of `preset` with the given hidden activation, comma-separated estimators ("":
    /// the preset's), seed, epochs (0: the preset's) and schedule ("": the preset's). The
    /// estimators' settings are the preset's.
    ///
    /// # Errors
    /// A `JsError` naming the bad argument and what it accepts.
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
        let p = preset_named(preset)?;
        let mut cfg = ExperimentConfig::from_preset(p).map_err(|e| err("preset", e))?;
        cfg.activation = Activation::from_name(activation)
            .ok_or_else(|| JsError::new(&format!("unknown activation {activation:?}")))?;
        if !estimators.trim().is_empty() {
            let names: Vec<&str> = estimators.split(',').map(str::trim).collect();
            cfg.estimators = self::estimators(&names, p.settings).map_err(|e| match e {
                Error::InvalidParameter { name: "estimator" } => {
                    JsError::new(&format!("unknown estimator in {estimators:?}"))
                }
                other => err("estimators", other),
            })?;
        }
        cfg.seed = u64::from(seed);
        if epochs > 0 {
            cfg.epochs = epochs;
        }
        if !schedule.trim().is_empty() {
            cfg.schedule = ScheduleSpec::parse(schedule).map_err(|e| err("schedule", e))?;
        }
        let names = cfg.column_names();
        let data = p.dataset.generate().ok_or_else(|| {
            JsError::new(&format!(
                "data set {} is not available here",
                p.dataset.name()
            ))
        })?;
        let exp = Experiment::new(cfg, Arc::new(data)).map_err(|e| err("settings", e))?;
        let measurer = exp.measurer().map_err(|e| err("estimators", e))?;
        Ok(Session {
            run: Run::new(exp, 1),
            measurer,
            names,
            plane_csv: PLANE_HEADER.into(),
            metrics_csv: METRICS_HEADER.into(),
            points: Vec::new(),
            metrics: Vec::new(),
            train_ms: 0.0,
            measure_ms: 0.0,
            done: false,
        })
    }

    /// Trains up to `max_epochs` more epochs, measuring the snapshots the schedule asks for;
    /// returns the epochs done so far.
    ///
    /// # Errors
    /// A `JsError` if training diverges or an estimator fails.
    pub fn step(&mut self, max_epochs: u32) -> Result<u32, JsError> {
        let mut trained = 0u32;
        while !self.done && trained < max_epochs {
            let t0 = now_ms();
            let action = self.run.next_action().map_err(|e| {
                err(
                    &format!("training epoch {}", self.run.experiment().epochs_done()),
                    e,
                )
            })?;
            match action {
                Action::Measure(ticket, snap) => {
                    let m = self
                        .measurer
                        .measure(&snap)
                        .map_err(|e| err(&format!("measuring epoch {}", snap.epoch), e))?;
                    self.run.deliver(ticket, m);
                    self.measure_ms += now_ms() - t0;
                }
                Action::Trained(_) => {
                    trained += 1;
                    self.train_ms += now_ms() - t0;
                }
                // One snapshot in flight at a time, delivered at once: nothing can be waiting.
                Action::Deliver => return Err(JsError::new("a measurement went missing")),
                Action::Done => self.done = true,
            }
            while let Some(m) = self.run.release() {
                self.record(&m)?;
            }
        }
        Ok(self.run.experiment().epochs_done())
    }

    /// Milliseconds spent training so far.
    #[wasm_bindgen(js_name = trainMs)]
    pub fn train_ms(&self) -> f64 {
        self.train_ms
    }

    /// Milliseconds spent measuring (network on every row, estimators, metrics) so far.
    #[wasm_bindgen(js_name = measureMs)]
    pub fn measure_ms(&self) -> f64 {
        self.measure_ms
    }

    /// Whether every epoch has been trained and measured.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Epochs trained so far.
    #[wasm_bindgen(js_name = epochsDone)]
    pub fn epochs_done(&self) -> u32 {
        self.run.experiment().epochs_done()
    }

    /// Epochs in the run.
    #[wasm_bindgen(js_name = totalEpochs)]
    pub fn total_epochs(&self) -> u32 {
        self.run.experiment().config().epochs
    }

    /// Layers on the plane (hidden layers and the softmax output).
    #[wasm_bindgen(js_name = nLayers)]
    pub fn n_layers(&self) -> u32 {
        u32::try_from(self.run.experiment().shape().n_layers()).unwrap_or(u32::MAX)
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

impl Session {
    /// Appends a released measurement to the CSV text and the point and metric buffers.
    fn record(&mut self, m: &infoplane_core::experiment::Measurement) -> Result<(), JsError> {
        let fmt_err = |_| JsError::new("formatting a CSV row failed");
        // The `run` column holds the seed, as the CLI writes it.
        let seed = self.run.experiment().config().seed;
        m.write_plane_rows(seed, &self.names, &mut self.plane_csv)
            .map_err(fmt_err)?;
        m.write_metrics_row(seed, &mut self.metrics_csv)
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
        Ok(())
    }
}

/// The preset called `name`, or an error listing the presets.
fn preset_named(name: &str) -> Result<&'static infoplane_core::preset::Preset, JsError> {
    preset(name).ok_or_else(|| {
        let names: Vec<&str> = infoplane_core::preset::PRESETS
            .iter()
            .map(|p| p.name)
            .collect();
        JsError::new(&format!(
            "unknown preset {name:?} (expected one of {})",
            names.join(", ")
        ))
    })
}
