//! Many runs summarised: per measured epoch, layer and estimator, how many runs measured it
//! and the mean, standard deviation, standard error, minimum and maximum of I(X;T) and
//! I(T;Y) over them; likewise per epoch for the loss and accuracy.
//!
//! The statistics of one cell are computed over its runs in ascending run (seed) order, so
//! they depend only on the set of values, never on the order runs were added: shards of a
//! sweep summarised together give the bytes of the sweep run at once.

use super::Measurement;
use crate::math::sqrt_f64;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// The header of `summary.csv`.
pub const SUMMARY_HEADER: &str = "epoch,layer,estimator,runs,\
i_xt_mean,i_xt_sd,i_xt_se,i_xt_min,i_xt_max,\
i_ty_mean,i_ty_sd,i_ty_se,i_ty_min,i_ty_max\n";

/// The four metrics, in `metrics.csv` order.
pub const METRIC_NAMES: [&str; 4] = ["train_loss", "train_acc", "test_loss", "test_acc"];

/// The header of `metrics-summary.csv`: `epoch`, then for each metric its runs, mean,
/// standard deviation, standard error, minimum and maximum.
pub const METRICS_SUMMARY_HEADER: &str = "epoch,\
train_loss_runs,train_loss_mean,train_loss_sd,train_loss_se,train_loss_min,train_loss_max,\
train_acc_runs,train_acc_mean,train_acc_sd,train_acc_se,train_acc_min,train_acc_max,\
test_loss_runs,test_loss_mean,test_loss_sd,test_loss_se,test_loss_min,test_loss_max,\
test_acc_runs,test_acc_mean,test_acc_sd,test_acc_se,test_acc_min,test_acc_max\n";

/// The per-layer quantities of `layers.csv`, in its order.
pub const LAYER_NAMES: [&str; 3] = ["weight_norm", "dead_units", "grad_snr"];

/// The header of `layers-summary.csv`: `epoch,layer`, then for each quantity its runs, mean,
/// standard deviation, standard error, minimum and maximum.
pub const LAYERS_SUMMARY_HEADER: &str = "epoch,layer,\
weight_norm_runs,weight_norm_mean,weight_norm_sd,weight_norm_se,weight_norm_min,weight_norm_max,\
dead_units_runs,dead_units_mean,dead_units_sd,dead_units_se,dead_units_min,dead_units_max,\
grad_snr_runs,grad_snr_mean,grad_snr_sd,grad_snr_se,grad_snr_min,grad_snr_max\n";

/// The spread of one quantity over runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Number of runs.
    pub runs: usize,
    /// Arithmetic mean (f64 sum in run order, divided by `runs`).
    pub mean: f64,
    /// Sample standard deviation (divisor `runs − 1`, two passes); `None` for one run.
    pub sd: Option<f64>,
    /// Standard error of the mean, `sd / √runs`; `None` for one run.
    pub se: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// The statistics of `values` (in run order), or `None` for no values.
    #[must_use]
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> Option<Self> {
        let mut runs = 0usize;
        let mut sum = 0.0f64;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for v in values.clone() {
            runs += 1;
            sum += v;
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        if runs == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)] // run counts are far below 2^52
        let n = runs as f64;
        let mean = sum / n;
        let (sd, se) = if runs > 1 {
            let ss: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
            let sd = sqrt_f64(ss / (n - 1.0));
            (Some(sd), Some(sd / sqrt_f64(n)))
        } else {
            (None, None)
        };
        Some(Self {
            runs,
            mean,
            sd,
            se,
            min,
            max,
        })
    }

    /// Writes `mean,sd,se,min,max` (an empty field for an undefined spread).
    fn write_fields(&self, w: &mut impl Write) -> fmt::Result {
        write!(w, "{},", self.mean)?;
        write_opt(w, self.sd)?;
        w.write_char(',')?;
        write_opt(w, self.se)?;
        write!(w, ",{},{}", self.min, self.max)
    }
}

/// `,runs,mean,sd,se,min,max` for each quantity (`,0,,,,,` for one no run has).
fn write_columns(w: &mut impl Write, stats: &[Option<Stats>]) -> fmt::Result {
    for s in stats {
        match s {
            Some(s) => {
                write!(w, ",{},", s.runs)?;
                s.write_fields(w)?;
            }
            None => w.write_str(",0,,,,,")?,
        }
    }
    Ok(())
}

fn write_opt(w: &mut impl Write, v: Option<f64>) -> fmt::Result {
    match v {
        Some(v) => write!(w, "{v}"),
        None => Ok(()),
    }
}

/// One row of `summary.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneSummary<'a> {
    /// The epoch.
    pub epoch: u32,
    /// The layer (from 1).
    pub layer: u32,
    /// The estimator's name.
    pub estimator: &'a str,
    /// I(X;T) in bits over the runs.
    pub i_xt: Stats,
    /// I(T;Y) in bits over the runs.
    pub i_ty: Stats,
}

/// One row of `metrics-summary.csv`: each metric's spread (`None` when no run has it, as
/// the test metrics of a run that holds nothing out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsSummary {
    /// The epoch.
    pub epoch: u32,
    /// Train loss, train accuracy, test loss, test accuracy.
    pub metrics: [Option<Stats>; 4],
}

/// One plane cell's values: run → (I(X;T), I(T;Y)).
type Cell = BTreeMap<u64, (f64, f64)>;

/// One layer cell's values: run → weight norm, dead units, gradient SNR.
type LayerCell = BTreeMap<u64, [Option<f64>; 3]>;

/// The values of many runs, summarised on demand. Add runs in any order; the output depends
/// only on what was added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Estimator names in order of first appearance.
    estimators: Vec<String>,
    /// (epoch, layer, estimator index) → run → (I(X;T), I(T;Y)).
    plane: BTreeMap<(u32, u32, usize), Cell>,
    /// epoch → run → the four metrics.
    metrics: BTreeMap<u32, BTreeMap<u64, [Option<f64>; 4]>>,
    /// (epoch, layer) → run → weight norm, dead units, gradient SNR.
    layers: BTreeMap<(u32, u32), LayerCell>,
}

impl Summary {
    /// An empty summary.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            estimators: Vec::new(),
            plane: BTreeMap::new(),
            metrics: BTreeMap::new(),
            layers: BTreeMap::new(),
        }
    }

    /// Adds one plane value. Returns `false` (and keeps the first value) if this run
    /// already has a value for the epoch, layer and estimator.
    pub fn add_plane(
        &mut self,
        run: u64,
        epoch: u32,
        layer: u32,
        estimator: &str,
        i_xt: f64,
        i_ty: f64,
    ) -> bool {
        let k = match self.estimators.iter().position(|e| e == estimator) {
            Some(k) => k,
            None => {
                self.estimators.push(estimator.to_string());
                self.estimators.len() - 1
            }
        };
        let cell = self.plane.entry((epoch, layer, k)).or_default();
        if cell.contains_key(&run) {
            return false;
        }
        cell.insert(run, (i_xt, i_ty));
        true
    }

    /// Adds one epoch's metrics. Returns `false` (and keeps the first) if this run already
    /// has metrics for the epoch.
    pub fn add_metrics(&mut self, run: u64, epoch: u32, metrics: [Option<f64>; 4]) -> bool {
        let cell = self.metrics.entry(epoch).or_default();
        if cell.contains_key(&run) {
            return false;
        }
        cell.insert(run, metrics);
        true
    }

    /// Adds one layer's weight norm, dead units and gradient SNR ([`LAYER_NAMES`]). Returns
    /// `false` (and keeps the first) if this run already has them for the epoch and layer.
    pub fn add_layer(
        &mut self,
        run: u64,
        epoch: u32,
        layer: u32,
        values: [Option<f64>; 3],
    ) -> bool {
        let cell = self.layers.entry((epoch, layer)).or_default();
        if cell.contains_key(&run) {
            return false;
        }
        cell.insert(run, values);
        true
    }

    /// Adds a measurement of run `run`; `names` are the estimators' names. Returns `false`
    /// if any of its values was already there.
    pub fn add_measurement<S: AsRef<str>>(
        &mut self,
        run: u64,
        m: &Measurement,
        names: &[S],
    ) -> bool {
        let mut fresh = true;
        for p in &m.points {
            let name = names.get(p.estimator).map_or("?", AsRef::as_ref);
            fresh &= self.add_plane(
                run,
                m.epoch,
                p.layer,
                name,
                p.point.i_xt.in_bits(),
                p.point.i_ty.in_bits(),
            );
        }
        let tr = m.metrics.train;
        let te = m.metrics.test;
        fresh &= self.add_metrics(
            run,
            m.epoch,
            [
                Some(tr.loss),
                Some(tr.accuracy),
                te.map(|t| t.loss),
                te.map(|t| t.accuracy),
            ],
        );
        for l in &m.layers {
            fresh &= self.add_layer(
                run,
                m.epoch,
                l.layer,
                [
                    Some(l.weight_norm),
                    Some(f64::from(l.dead_units)),
                    l.grad_snr,
                ],
            );
        }
        fresh
    }

    /// The runs that added anything, ascending.
    #[must_use]
    pub fn runs(&self) -> Vec<u64> {
        let mut runs: Vec<u64> = self
            .plane
            .values()
            .flat_map(BTreeMap::keys)
            .chain(self.metrics.values().flat_map(BTreeMap::keys))
            .copied()
            .collect();
        runs.sort_unstable();
        runs.dedup();
        runs
    }

    /// The estimators' names, in order of first appearance.
    #[must_use]
    pub fn estimators(&self) -> &[String] {
        &self.estimators
    }

    /// The rows of `summary.csv`: by epoch, then layer, then estimator.
    pub fn plane_rows(&self) -> impl Iterator<Item = PlaneSummary<'_>> + '_ {
        self.plane.iter().filter_map(|(&(epoch, layer, k), cell)| {
            Some(PlaneSummary {
                epoch,
                layer,
                estimator: self.estimators.get(k).map_or("?", String::as_str),
                i_xt: Stats::of(cell.values().map(|v| v.0))?,
                i_ty: Stats::of(cell.values().map(|v| v.1))?,
            })
        })
    }

    /// The rows of `metrics-summary.csv`, by epoch.
    pub fn metrics_rows(&self) -> impl Iterator<Item = MetricsSummary> + '_ {
        self.metrics.iter().map(|(&epoch, cell)| {
            let mut metrics = [None; 4];
            for (k, m) in metrics.iter_mut().enumerate() {
                *m = Stats::of(
                    cell.values()
                        .filter_map(move |v| v.get(k).copied().flatten()),
                );
            }
            MetricsSummary { epoch, metrics }
        })
    }

    /// Writes `summary.csv`, header included.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_plane(&self, w: &mut impl Write) -> fmt::Result {
        w.write_str(SUMMARY_HEADER)?;
        for r in self.plane_rows() {
            write!(
                w,
                "{},{},{},{},",
                r.epoch, r.layer, r.estimator, r.i_xt.runs
            )?;
            r.i_xt.write_fields(w)?;
            w.write_char(',')?;
            r.i_ty.write_fields(w)?;
            w.write_char('\n')?;
        }
        Ok(())
    }

    /// Writes `metrics-summary.csv`, header included; a metric no run has is empty fields
    /// with `runs` 0.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_metrics(&self, w: &mut impl Write) -> fmt::Result {
        w.write_str(METRICS_SUMMARY_HEADER)?;
        for r in self.metrics_rows() {
            write!(w, "{}", r.epoch)?;
            write_columns(w, &r.metrics)?;
            w.write_char('\n')?;
        }
        Ok(())
    }

    /// Writes `layers-summary.csv`, header included: per epoch and layer, the weight norm,
    /// dead units and gradient SNR over the runs (a quantity no run has, such as the SNR of
    /// full-batch training, is empty fields with `runs` 0).
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_layers(&self, w: &mut impl Write) -> fmt::Result {
        w.write_str(LAYERS_SUMMARY_HEADER)?;
        for (&(epoch, layer), cell) in &self.layers {
            let mut stats = [None; 3];
            for (k, st) in stats.iter_mut().enumerate() {
                *st = Stats::of(
                    cell.values()
                        .filter_map(move |v| v.get(k).copied().flatten()),
                );
            }
            write!(w, "{epoch},{layer}")?;
            write_columns(w, &stats)?;
            w.write_char('\n')?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, clippy::indexing_slicing)]
    use super::*;
    use alloc::format;

    #[test]
    fn stats_closed_form() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x − 5)² = 32, sample sd = √(32/7).
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let s = Stats::of(v.iter().copied()).unwrap();
        assert_eq!(s.runs, 8);
        assert_eq!(s.mean, 5.0);
        assert!((s.sd.unwrap() - sqrt_f64(32.0 / 7.0)).abs() < 1e-15);
        assert!((s.se.unwrap() - sqrt_f64(32.0 / 7.0) / sqrt_f64(8.0)).abs() < 1e-15);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        let one = Stats::of([3.5].into_iter()).unwrap();
        assert_eq!((one.mean, one.sd, one.se), (3.5, None, None));
        assert!(Stats::of(core::iter::empty()).is_none());
    }

    #[test]
    fn order_of_adding_does_not_matter() {
        let rows = [
            (0u64, 0u32, 1u32, "b", 1.25, 0.5),
            (1, 0, 1, "b", 1.5, 0.25),
            (2, 0, 1, "b", 0.1, 0.3),
            (0, 0, 1, "a", 2.0, 1.0),
            (1, 3, 2, "a", 2.0, 1.0),
        ];
        let mut fwd = Summary::new();
        for r in rows {
            assert!(fwd.add_plane(r.0, r.1, r.2, r.3, r.4, r.5));
        }
        let mut rev = Summary::new();
        for r in rows.iter().rev() {
            assert!(rev.add_plane(r.0, r.1, r.2, r.3, r.4, r.5));
        }
        // Estimator order is that of first appearance; with the same first estimator the
        // bytes are the same whatever order the runs came in.
        let mut swapped = Summary::new();
        for r in [rows[1], rows[0], rows[4], rows[3], rows[2]] {
            assert!(swapped.add_plane(r.0, r.1, r.2, r.3, r.4, r.5));
        }
        let (mut a, mut b) = (String::new(), String::new());
        fwd.write_plane(&mut a).unwrap();
        swapped.write_plane(&mut b).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with(SUMMARY_HEADER));
        let lines: Vec<&str> = a.lines().skip(1).collect();
        // epoch 0 layer 1: "b" first (first seen), then "a"; then epoch 3.
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("0,1,b,3,"));
        assert!(lines[1].starts_with("0,1,a,1,2,,,2,2,1,,,1,1"));
        assert!(lines[2].starts_with("3,2,a,1,"));
        assert_eq!(rev.runs(), [0, 1, 2]);
        // A repeated value is refused and the first kept.
        assert!(!fwd.add_plane(1, 0, 1, "b", 9.0, 9.0));
        let mut c = String::new();
        fwd.write_plane(&mut c).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn metrics_without_test_rows() {
        let mut s = Summary::new();
        assert!(s.add_metrics(4, 0, [Some(1.0), Some(0.5), None, None]));
        assert!(s.add_metrics(5, 0, [Some(3.0), Some(0.75), None, None]));
        let mut out = String::new();
        s.write_metrics(&mut out).unwrap();
        let row = out.lines().nth(1).unwrap();
        let sd = sqrt_f64(2.0);
        let se = sd / sqrt_f64(2.0);
        let sd_acc = sqrt_f64(0.125 * 0.125 * 2.0);
        let se_acc = sd_acc / sqrt_f64(2.0);
        assert_eq!(
            row,
            format!("0,2,2,{sd},{se},1,3,2,0.625,{sd_acc},{se_acc},0.5,0.75,0,,,,,,0,,,,,")
        );
    }

    #[test]
    fn layer_quantities_with_an_undefined_snr() {
        let mut s = Summary::new();
        assert!(s.add_layer(1, 5, 2, [Some(3.0), Some(0.0), None]));
        assert!(s.add_layer(0, 5, 2, [Some(1.0), Some(2.0), Some(0.5)]));
        assert!(!s.add_layer(0, 5, 2, [Some(9.0), None, None]));
        let mut out = String::new();
        s.write_layers(&mut out).unwrap();
        assert!(out.starts_with(LAYERS_SUMMARY_HEADER));
        let sd = sqrt_f64(2.0);
        let se = sd / sqrt_f64(2.0);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            format!("5,2,2,2,{sd},{se},1,3,2,1,{sd},{se},0,2,1,0.5,,,0.5,0.5")
        );
    }
}
