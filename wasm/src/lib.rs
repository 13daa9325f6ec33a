//! infoplane in the browser: the core's [`Run`](infoplane_core::experiment::Run) driver behind
//! one exported [`Session`] (one seed of a run), the core's catalogue ([`catalog`]) so the
//! page lists exactly the presets, estimators and activations the core implements, and the
//! CLI's own option parser and file assembly ([`plan`], [`assemble`]): the page takes every
//! option of `infoplane run` with the CLI's messages, and from the seeds its Web Workers ran
//! makes the files `run --repeats` writes, byte for byte. A session steps training, measures
//! the snapshots the schedule asks for, and hands back plane points, metrics and the same
//! CSV rows the native CLI writes. This crate only converts types (R23).
#![forbid(unsafe_code)]

use infoplane_cli::cmd::assemble::{self, SeedRows};
use infoplane_cli::error::CliError;
use infoplane_core::Error;
use infoplane_core::experiment::{
    Action, LAYERS_HEADER, METRICS_HEADER, Measurer, PLANE_HEADER, Run,
};
use serde::Serialize;
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
    layers_csv: String,
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

/// A CLI error as a `JsError`: the message `infoplane run` prints, with its hint.
fn cli_err(e: &CliError) -> JsError {
    match e.hint() {
        Some(h) => JsError::new(&format!("{e} ({h})")),
        None => JsError::new(&e.to_string()),
    }
}

/// A run's options, checked: what the page needs to start its seeds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanInfo {
    /// The seeds, as decimal text (they may pass 2^53).
    seeds: Vec<String>,
    /// Epochs per seed.
    epochs: u32,
    /// Measured epochs per seed, when the schedule fixes them.
    measures_per_seed: Option<usize>,
    /// The plane's estimator columns, in output order.
    estimators: Vec<String>,
    /// Layers on the plane (hidden layers and the softmax output).
    n_layers: usize,
    /// `infoplane run` and the options: the command that writes the same files.
    command: Vec<String>,
    /// The settings as `manifest.json` records them.
    config: serde_json::Value,
}

/// Checks the options of `infoplane run` (`options`: what follows `run`, one argument per
/// entry) exactly as the CLI does and returns, as JSON, `{seeds, epochs, measuresPerSeed,
/// estimators, nLayers, command, config}`.
///
/// # Errors
/// The CLI's message naming the option and what it accepts.
#[wasm_bindgen]
pub fn plan(options: Vec<String>) -> Result<String, JsError> {
    let p = assemble::plan(&options).map_err(|e| cli_err(&e))?;
    let exp = &p.config.experiment;
    let info = PlanInfo {
        seeds: p.config.seeds.iter().map(ToString::to_string).collect(),
        epochs: exp.epochs,
        measures_per_seed: p.measures_per_seed,
        estimators: exp.column_names(),
        n_layers: p.widths.len().saturating_sub(1),
        command: p.command.clone(),
        config: serde_json::to_value(exp).map_err(|e| JsError::new(&format!("settings: {e}")))?,
    };
    serde_json::to_string(&info).map_err(|e| JsError::new(&format!("plan: {e}")))
}

/// Every file `infoplane run` writes in its directory, as JSON `[[name, text], ...]`, from
/// the rows of the run's seeds in seed order (`planes`, `metrics`, `layers`: each seed's
/// `planeCsv()`, `metricsCsv()`, `layersCsv()`): all seeds when `complete`, else the first
/// ones (a stopped run). `wall_seconds` and `workers` go to `manifest.json`.
///
/// # Errors
/// The CLI's message for bad options or rows that are not a seed's.
#[wasm_bindgen]
pub fn assemble(
    options: Vec<String>,
    planes: Vec<String>,
    metrics: Vec<String>,
    layers: Vec<String>,
    complete: bool,
    wall_seconds: f64,
    workers: u32,
) -> Result<String, JsError> {
    let p = assemble::plan(&options).map_err(|e| cli_err(&e))?;
    if planes.len() != metrics.len() || planes.len() != layers.len() {
        return Err(JsError::new(
            "assemble: as many metrics and layers texts as plane texts",
        ));
    }
    let seeds: Vec<SeedRows<'_>> = planes
        .iter()
        .zip(&metrics)
        .zip(&layers)
        .map(|((plane, metrics), layers)| SeedRows {
            plane,
            metrics,
            layers,
        })
        .collect();
    let files = assemble::assemble(&p, &seeds, complete, wall_seconds, workers as usize)
        .map_err(|e| cli_err(&e))?;
    serde_json::to_string(&files).map_err(|e| JsError::new(&format!("assemble: {e}")))
}

/// `infoplane estimate` on files dropped onto the page: `options` are what follows `estimate`
/// (`--activations`, `--labels` and `--inputs` name the files), `names` and `contents` the
/// files (`Uint8Array`s, in the order of `names`). Returns JSON `{csv, warnings}`: the text
/// `estimate` prints and the warnings it would print on stderr.
///
/// # Errors
/// The CLI's message for bad options, files or values.
#[wasm_bindgen(js_name = estimateFiles)]
pub fn estimate_files(
    options: Vec<String>,
    names: Vec<String>,
    contents: &js_sys::Array,
) -> Result<String, JsError> {
    let bytes: Vec<Vec<u8>> = contents
        .iter()
        .map(|v| js_sys::Uint8Array::new(&v).to_vec())
        .collect();
    if bytes.len() != names.len() {
        return Err(JsError::new("estimateFiles: one content per name"));
    }
    let file = |p: &std::path::Path| {
        names
            .iter()
            .position(|n| std::path::Path::new(n) == p)
            .and_then(|i| bytes.get(i))
            .map(Vec::as_slice)
    };
    let (csv, warnings) =
        infoplane_cli::cmd::estimate::estimate_bytes(&options, &file).map_err(|e| cli_err(&e))?;
    serde_json::to_string(&serde_json::json!({ "csv": csv, "warnings": warnings }))
        .map_err(|e| JsError::new(&format!("estimate: {e}")))
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
    /// the preset's), seed, epochs (0: the preset's) and schedule ("": the preset's): the
    /// options `--preset`, `--activation`, `--estimator`, `--seed`, `--epochs`, `--schedule`
    /// of [`Session::from_args`].
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
        let mut args: Vec<String> = ["--preset", preset, "--activation", activation]
            .map(str::to_owned)
            .into();
        for e in estimators
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            args.extend(["--estimator".to_owned(), e.to_owned()]);
        }
        args.extend(["--seed".to_owned(), seed.to_string()]);
        if epochs > 0 {
            args.extend(["--epochs".to_owned(), epochs.to_string()]);
        }
        if !schedule.trim().is_empty() {
            args.extend(["--schedule".to_owned(), schedule.trim().to_owned()]);
        }
        Self::from_args(args, 0)
    }

    /// Seed number `index` (from 0) of the run `infoplane run` makes with `options` (what
    /// follows `run`, one argument per entry): seed `--seed` + `index` when `--repeats` asks
    /// for several.
    ///
    /// # Errors
    /// The CLI's message naming the option and what it accepts; an index past the seeds.
    #[wasm_bindgen(js_name = fromArgs)]
    pub fn from_args(options: Vec<String>, index: u32) -> Result<Session, JsError> {
        #[cfg(feature = "console_error_panic_hook")]
        console_error_panic_hook::set_once();
        let p = assemble::plan(&options).map_err(|e| cli_err(&e))?;
        let exp = p.experiment(index as usize).map_err(|e| cli_err(&e))?;
        let names = exp.config().column_names();
        let measurer = exp.measurer().map_err(|e| err("estimators", e))?;
        Ok(Session {
            run: Run::new(exp, 1),
            measurer,
            names,
            plane_csv: PLANE_HEADER.into(),
            metrics_csv: METRICS_HEADER.into(),
            layers_csv: LAYERS_HEADER.into(),
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

    /// `layers.csv` so far.
    #[wasm_bindgen(js_name = layersCsv)]
    pub fn layers_csv(&self) -> String {
        self.layers_csv.clone()
    }

    /// The seed this session trains, as decimal text.
    pub fn seed(&self) -> String {
        self.run.experiment().config().seed.to_string()
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
        m.write_layer_rows(seed, &mut self.layers_csv)
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
