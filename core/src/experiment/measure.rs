//! Measuring a snapshot: every layer's activations on every row, each estimator on each
//! layer, and the train/test metrics; and the CSV rows every frontend writes.

use super::{ExperimentConfig, Snapshot};
use crate::dataset::Dataset;
use crate::estimator::{Group, Layer, group};
use crate::mat::{ByteMatRef, Inputs};
use crate::math::sqrt_f64;
use crate::metrics::{MetricsAcc, Role, SplitMetrics};
use crate::scratch::{Scratch, ScratchReq, Workspace};
use crate::{Error, MatRef, MlpPlan, MlpShape, PlanePoint};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// The header of `plane.csv`.
pub const PLANE_HEADER: &str = "run,epoch,layer,estimator,i_xt_bits,i_ty_bits\n";
/// The header of `layers.csv`.
pub const LAYERS_HEADER: &str = "run,epoch,layer,width,weight_norm,dead_units,grad_snr\n";
/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "run,epoch,train_loss,train_acc,test_loss,test_acc\n";

/// Rows the network is evaluated on at once while measuring (the result does not depend on
/// it).
const EVAL_BATCH: usize = 512;

/// One layer's plane point from one estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerPoint {
    /// Layer, from 1 (the softmax output last).
    pub layer: u32,
    /// Index into the run's estimators.
    pub estimator: usize,
    /// I(X;T) and I(T;Y).
    pub point: PlanePoint,
}

/// What one layer's weights and activations look like at a measured epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerStats {
    /// Layer, from 1 (the softmax output last).
    pub layer: u32,
    /// Frobenius norm of the weight matrix into this layer (biases excluded, as ibsgd
    /// plots it), accumulated in f64 in parameter order.
    pub weight_norm: f64,
    /// Units whose activation is the same on every row (dead `ReLU` units, saturated ones).
    pub dead_units: u32,
    /// The layer's width.
    pub width: u32,
    /// Gradient signal-to-noise ratio of the weights into this layer over the mini-batches
    /// of the last epoch trained before the snapshot; `None` when undefined (no epoch
    /// trained yet, or one batch per epoch).
    pub grad_snr: Option<f64>,
}

impl LayerStats {
    /// Whether every unit of the layer is constant over the rows: the layer carries no
    /// information, so its I(X;T) and I(T;Y) are 0 whatever the estimator.
    #[must_use]
    pub const fn all_dead(&self) -> bool {
        self.width > 0 && self.dead_units == self.width
    }
}

/// Everything measured at one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The epoch.
    pub epoch: u32,
    /// Layer-major, estimators in configuration order within a layer.
    pub points: Vec<LayerPoint>,
    /// Per layer, in order.
    pub layers: Vec<LayerStats>,
    /// Train/test loss and accuracy.
    pub metrics: SplitMetrics,
}

impl Measurement {
    /// Writes this epoch's `plane.csv` rows (no header): `run,epoch,layer,estimator,i_xt,i_ty`,
    /// floats in shortest round-trip form. `names` are the estimators' names.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_plane_rows<S: AsRef<str>>(
        &self,
        run: u64,
        names: &[S],
        w: &mut impl Write,
    ) -> fmt::Result {
        for p in &self.points {
            let name = names.get(p.estimator).map_or("?", AsRef::as_ref);
            writeln!(
                w,
                "{run},{},{},{name},{},{}",
                self.epoch,
                p.layer,
                p.point.i_xt.in_bits(),
                p.point.i_ty.in_bits()
            )?;
        }
        Ok(())
    }

    /// Writes this epoch's `layers.csv` rows (no header):
    /// `run,epoch,layer,width,weight_norm,dead_units,grad_snr` (`grad_snr` empty when
    /// undefined).
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_layer_rows(&self, run: u64, w: &mut impl Write) -> fmt::Result {
        for l in &self.layers {
            write!(
                w,
                "{run},{},{},{},{},{},",
                self.epoch, l.layer, l.width, l.weight_norm, l.dead_units
            )?;
            match l.grad_snr {
                Some(v) => writeln!(w, "{v}")?,
                None => writeln!(w)?,
            }
        }
        Ok(())
    }

    /// Writes this epoch's `metrics.csv` row (no header); test fields are empty when no row
    /// is held out.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_metrics_row(&self, run: u64, w: &mut impl Write) -> fmt::Result {
        let tr = self.metrics.train;
        write!(w, "{run},{},{},{},", self.epoch, tr.loss, tr.accuracy)?;
        match self.metrics.test {
            Some(t) => writeln!(w, "{},{}", t.loss, t.accuracy),
            None => writeln!(w, ","),
        }
    }
}

/// Measures snapshots. Owns its plans and one workspace, sized once; shares the data set.
/// A measurement depends only on its snapshot, so measurers on other threads, in any order,
/// give the same bytes.
///
/// When the estimators measure other rows than the whole data set in order (the held-out
/// rows, or a limit), the network runs on those rows for the estimators, and on the train
/// and test rows in blocks of 512 for the metrics, so memory holds every layer's
/// activations for the measured rows only.
#[derive(Debug, Clone)]
pub struct Measurer {
    data: Arc<Dataset>,
    roles: Arc<[Role]>,
    /// The measured rows as a data set, when not every row in order.
    mi: Option<Arc<Dataset>>,
    /// With `mi`: the train and test rows, ascending, and a block's gathered inputs.
    metric_rows: Vec<u32>,
    gathered: Gathered,
    net: MlpPlan,
    /// Per layer after the input: width, and the estimators' plans grouped where they share
    /// work ([`group`]).
    layers: Vec<(usize, Vec<Group>)>,
    /// Number of estimators.
    estimators: usize,
    /// Activations of every layer on every row, then each row's loss.
    acts_len: usize,
    /// With pooling: K, the estimators planned for K·N rows per layer, and the pooled rows'
    /// labels and input groups (each row's input, K times over).
    pooled: Option<Pooled>,
    req: ScratchReq,
    work: Workspace,
}

/// What pooled measurements need besides the single ones.
#[derive(Debug, Clone)]
struct Pooled {
    k: usize,
    layers: Vec<Vec<Group>>,
    labels: Arc<[u32]>,
    groups: Arc<[u32]>,
}

impl Measurer {
    pub(super) fn new(
        cfg: &ExperimentConfig,
        shape: &MlpShape,
        data: Arc<Dataset>,
        roles: Arc<[Role]>,
        mi: Option<Arc<Dataset>>,
    ) -> Result<Self, Error> {
        let measured = mi.as_ref().unwrap_or(&data);
        let n = measured.rows();
        let net = MlpPlan::new(shape.clone(), EVAL_BATCH)?;
        let mut layers = Vec::new();
        // Phases that reuse one region: the network's evaluation (with `mi`, also on a block
        // of metric rows: its activations and losses), then each estimator.
        let mut phase = net.scratch_req();
        if mi.is_some() {
            let block = EVAL_BATCH
                .checked_mul(shape.activation_len() + 1)
                .ok_or(Error::TooLarge)?;
            phase = phase.and(ScratchReq::f32(block))?;
        }
        for &w in shape.widths().iter().skip(1) {
            let w = w as usize;
            let mut plans = Vec::with_capacity(cfg.estimators.len());
            for e in &cfg.estimators {
                // The layers carry the measured inputs (the k-NN estimator reads them).
                plans.push(e.plan(n, w)?.with_inputs(shape.input_width())?);
            }
            let groups = group(&plans);
            for g in &groups {
                phase = phase.any_of(match g {
                    Group::One(_, p) => p.scratch_req(),
                    Group::Two(_, j) => j.scratch_req(),
                });
            }
            layers.push((w, groups));
        }
        let acts_len = n
            .checked_mul(shape.activation_len())
            .ok_or(Error::TooLarge)?;
        // activations of every layer and each row's loss (live throughout)  +  the phases
        let mut req = ScratchReq::f32(acts_len).and(ScratchReq::f32(n))?;
        let k = cfg.pool as usize;
        let pooled = if k > 1 {
            let rows = n.checked_mul(k).ok_or(Error::TooLarge)?;
            let mut layers = Vec::new();
            for &w in shape.widths().iter().skip(1) {
                let mut plans = Vec::with_capacity(cfg.estimators.len());
                for e in &cfg.estimators {
                    plans.push(e.plan(rows, w as usize)?);
                }
                let groups = group(&plans);
                for g in &groups {
                    phase = phase.any_of(match g {
                        Group::One(_, p) => p.scratch_req(),
                        Group::Two(_, j) => j.scratch_req(),
                    });
                }
                layers.push(groups);
            }
            let ids: Vec<u32> = match measured.groups() {
                Some(g) => g.to_vec(),
                None => (0..u32::try_from(n).map_err(|_| Error::TooLarge)?).collect(),
            };
            // Every layer's activations on the K snapshots, layer by layer (live throughout).
            req = req.and(ScratchReq::f32(
                acts_len.checked_mul(k).ok_or(Error::TooLarge)?,
            ))?;
            Some(Pooled {
                k,
                layers,
                labels: measured.labels().repeat(k).into(),
                groups: ids.repeat(k).into(),
            })
        } else {
            None
        };
        let req = req.and(phase)?;
        let metric_rows = if mi.is_some() {
            (0..u32::try_from(data.rows()).map_err(|_| Error::TooLarge)?)
                .filter(|&r| roles.get(r as usize).is_some_and(|&x| x != Role::Unused))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            data,
            roles,
            mi,
            metric_rows,
            gathered: Gathered::default(),
            net,
            layers,
            estimators: cfg.estimators.len(),
            acts_len,
            pooled,
            req,
            work: Workspace::new(),
        })
    }

    /// The scratch one measurement uses (allocated on the first).
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        self.req
    }

    /// Runs the snapshot's network on the measured rows, applies every estimator to every
    /// layer (with those rows' input groups), and computes the train/test metrics.
    ///
    /// # Errors
    /// As [`MlpPlan::evaluate`] and the estimators.
    pub fn measure(&mut self, snap: &Snapshot) -> Result<Measurement, Error> {
        let measured = Arc::clone(self.mi.as_ref().unwrap_or(&self.data));
        let n = measured.rows();
        let labels = measured.labels();
        let mut s = self.work.scratch(self.req)?;
        let acts = s.f32(self.acts_len)?;
        let nll = s.f32(n)?;
        let k = self.pooled.as_ref().map_or(0, |p| p.k);
        let pool_acts = if k > 1 {
            Some(s.f32(self.acts_len * k)?)
        } else {
            None
        };
        let rest = s.rest();
        let block_metrics = if self.mi.is_some() {
            Some(block_metrics(
                &self.net,
                &self.data,
                &self.roles,
                &self.metric_rows,
                &mut self.gathered,
                &snap.params,
                rest,
            )?)
        } else {
            None
        };
        // With pooling, the K snapshots oldest first (this one last), each layer's rows of
        // snapshot j at rows j·N… of that layer's pooled block.
        let pool_of = pool_acts.filter(|_| snap.pool.len() + 1 == k);
        let mut sets: Vec<&[f32]> = Vec::new();
        if pool_of.is_some() {
            sets.extend(snap.pool.iter().map(Vec::as_slice));
        }
        sets.push(&snap.params);
        let mut pooled_acts = pool_of;
        for (j, params) in sets.iter().enumerate() {
            let net_scratch =
                Scratch::new(&mut *rest, self.net.scratch_req())?.f32(self.net.scratch_len())?;
            self.net
                .evaluate(params, measured.inputs(), labels, acts, nll, net_scratch)?;
            if let Some(pa) = pooled_acts.as_deref_mut() {
                let mut start = 0usize;
                for &w in self.net.shape().widths().iter().skip(1) {
                    let len = n * w as usize;
                    let dst = pa
                        .get_mut(start * k + j * len..start * k + (j + 1) * len)
                        .ok_or(Error::TooLarge)?;
                    dst.copy_from_slice(acts.get(start..start + len).ok_or(Error::TooLarge)?);
                    start += len;
                }
            }
        }
        let acts: &[f32] = acts;
        let pooled_acts: Option<&[f32]> = pooled_acts.map(|a| &*a);
        let mut points = Vec::new();
        let mut start = 0usize;
        let mut last = MatRef::EMPTY;
        let mut slots = vec![None; self.estimators];
        let mut layer_stats = Vec::with_capacity(self.layers.len());
        let mut p_start = 0usize;
        let mut fan_in = self.net.shape().input_width();
        for (layer, (w, groups)) in (1u32..).zip(&self.layers) {
            let len = n * w;
            let t = MatRef::new(acts.get(start..start + len).unwrap_or(&[]), n, *w)?;
            start += len;
            last = t;
            let weights = snap
                .params
                .get(p_start..p_start + fan_in * w)
                .ok_or(Error::TooLarge)?;
            p_start += fan_in * w + w;
            fan_in = *w;
            layer_stats.push(LayerStats {
                layer,
                weight_norm: sqrt_f64(weights.iter().map(|&v| f64::from(v) * f64::from(v)).sum()),
                dead_units: dead_units(t),
                width: u32::try_from(*w).map_err(|_| Error::TooLarge)?,
                grad_snr: snap.grad_snr.get(layer as usize - 1).copied().flatten(),
            });
            let l = Layer::new(t, labels, measured.groups())?.with_x(measured.inputs())?;
            estimate_groups(groups, &l, rest, &mut slots)?;
            for (estimator, slot) in slots.iter_mut().enumerate() {
                if let Some(point) = slot.take() {
                    points.push(LayerPoint {
                        layer,
                        estimator,
                        point,
                    });
                }
            }
            if let (Some(pa), Some(p)) = (pooled_acts, &self.pooled) {
                let rows = n * p.k;
                let block = pa
                    .get((start - len) * p.k..start * p.k)
                    .ok_or(Error::TooLarge)?;
                let t = MatRef::new(block, rows, *w)?;
                let l = Layer::new(t, &p.labels, Some(&p.groups))?;
                let groups = p.layers.get(layer as usize - 1).ok_or(Error::TooLarge)?;
                estimate_groups(groups, &l, rest, &mut slots)?;
                for (estimator, slot) in slots.iter_mut().enumerate() {
                    if let Some(point) = slot.take() {
                        points.push(LayerPoint {
                            layer,
                            estimator: self.estimators + estimator,
                            point,
                        });
                    }
                }
            }
        }
        let metrics = match block_metrics {
            Some(m) => m,
            None => {
                let mut acc = MetricsAcc::default();
                acc.add(last, nll, labels, &self.roles)?;
                acc.finish()?
            }
        };
        let loss = metrics.train.loss;
        if !loss.is_finite() {
            return Err(Error::Overflow);
        }
        if loss > crate::error::MAX_LOSS {
            return Err(Error::Diverged);
        }
        Ok(Measurement {
            epoch: snap.epoch,
            points,
            layers: layer_stats,
            metrics,
        })
    }
}

/// The train/test metrics of `params` over `rows` of `data` (ascending), run in blocks of
/// [`EVAL_BATCH`] rows in `rest`: the same sums, in the same order, as one pass over the
/// rows.
fn block_metrics(
    net: &MlpPlan,
    data: &Dataset,
    roles: &[Role],
    rows: &[u32],
    gathered: &mut Gathered,
    params: &[f32],
    rest: &mut [u64],
) -> Result<SplitMetrics, Error> {
    let act_len = net.shape().activation_len();
    let classes = net.shape().output_width();
    let labels = data.labels();
    let mut acc = MetricsAcc::default();
    let mut block_labels = Vec::with_capacity(EVAL_BATCH);
    let mut block_roles = Vec::with_capacity(EVAL_BATCH);
    for block in rows.chunks(EVAL_BATCH) {
        let m = block.len();
        block_labels.clear();
        block_roles.clear();
        for &r in block {
            block_labels.push(*labels.get(r as usize).ok_or(Error::TooLarge)?);
            block_roles.push(*roles.get(r as usize).ok_or(Error::TooLarge)?);
        }
        let inputs = gathered.rows(data.inputs(), block)?;
        let mut s = Scratch::new(
            &mut *rest,
            ScratchReq::f32(m * act_len)
                .and(ScratchReq::f32(m))?
                .and(net.scratch_req())?,
        )?;
        let acts = s.f32(m * act_len)?;
        let nll = s.f32(m)?;
        let net_scratch = s.f32(net.scratch_len())?;
        net.evaluate(params, inputs, &block_labels, acts, nll, net_scratch)?;
        let out = acts.get(m * (act_len - classes)..).ok_or(Error::TooLarge)?;
        acc.add(
            MatRef::new(out, m, classes)?,
            nll,
            &block_labels,
            &block_roles,
        )?;
    }
    acc.finish()
}

/// A block of rows gathered from a data set's inputs.
#[derive(Debug, Clone, Default)]
struct Gathered {
    bytes: Vec<u8>,
    floats: Vec<f32>,
}

impl Gathered {
    /// The inputs of `rows`, copied in that order.
    fn rows<'g>(&'g mut self, inputs: Inputs<'_>, rows: &[u32]) -> Result<Inputs<'g>, Error> {
        let cols = inputs.cols();
        match inputs {
            Inputs::F32(x) => {
                self.floats.clear();
                for &r in rows {
                    self.floats
                        .extend_from_slice(x.row(r as usize).ok_or(Error::TooLarge)?);
                }
                Ok(Inputs::F32(MatRef::new(&self.floats, rows.len(), cols)?))
            }
            Inputs::U8(x) => {
                self.bytes.clear();
                let data = x.as_slice();
                for &r in rows {
                    let r = r as usize;
                    self.bytes.extend_from_slice(
                        data.get(r * cols..(r + 1) * cols).ok_or(Error::TooLarge)?,
                    );
                }
                Ok(Inputs::U8(ByteMatRef::new(
                    &self.bytes,
                    rows.len(),
                    cols,
                    x.divisor(),
                )?))
            }
        }
    }
}

/// Each group of estimators on a layer, each result into its estimator's slot.
fn estimate_groups(
    groups: &[Group],
    l: &Layer<'_>,
    rest: &mut [u64],
    slots: &mut [Option<PlanePoint>],
) -> Result<(), Error> {
    for g in groups {
        match g {
            Group::One(i, plan) => {
                if let Some(s) = slots.get_mut(*i) {
                    *s = Some(plan.estimate(l, rest)?);
                }
            }
            Group::Two(ij, joint) => {
                for (i, point) in ij.iter().zip(joint.estimate(l, rest)?) {
                    if let Some(s) = slots.get_mut(*i) {
                        *s = Some(point);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Columns of `t` whose value is the same on every row.
#[allow(clippy::float_cmp)] // constant means exactly equal
fn dead_units(t: MatRef<'_>) -> u32 {
    let cols = t.cols();
    let data = t.as_slice();
    let Some(first) = data.get(..cols) else {
        return 0;
    };
    let mut constant = vec![true; cols];
    for row in data.chunks_exact(cols).skip(1) {
        for ((c, &v), &f) in constant.iter_mut().zip(row).zip(first) {
            *c &= v == f;
        }
    }
    u32::try_from(constant.iter().filter(|&&c| c).count()).unwrap_or(u32::MAX)
}
