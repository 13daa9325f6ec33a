//! A fully connected network over caller buffers: shapes, initialisers, forward and backward.
//!
//! # Parameter layout
//! For each weight layer `l` in order: `W_l` as `width[l+1] × width[l]` row-major (row `j`
//! holds the weights into output unit `j`), then the bias `b_l` of length `width[l+1]`.
//!
//! # Activation layout inside kernels
//! A block of `n` samples is stored unit-major: unit `j` of the block occupies the `n`
//! consecutive floats `j*n .. (j+1)*n`. The innermost loops then run across samples, so they
//! vectorise although the layers are only a few units wide. Every per-sample value is
//! computed by the same operations in the same order whatever `n` is, so activations do not
//! depend on how rows are blocked.

use crate::Error;
use crate::act::Activation;
use crate::mat::Inputs;
use crate::math;
use crate::rng::StreamRng;
use crate::scratch::Carver;
use crate::simd::{Isa, Kernel};

/// The most weight layers a network may have.
pub const MAX_LAYERS: usize = 16;

/// Widths of a network, input first and softmax output last, with its hidden activation.
/// Checked when built: 2 to `MAX_LAYERS + 1` widths, every width ≥ 1, output width ≥ 2, and
/// the parameter count fits in `u32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlpShape {
    widths: heapless::Vec<u32, { MAX_LAYERS + 1 }>,
    hidden: Activation,
    param_len: usize,
    max_width: usize,
    width_sum: usize,
}

impl MlpShape {
    /// A network with these widths (input, hidden…, output) and hidden activation.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"widths"` for fewer than 2 or more than `MAX_LAYERS + 1`
    /// widths, a zero width or an output narrower than 2; [`Error::TooLarge`] if the
    /// parameter count does not fit in `u32`.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{Activation, MlpShape};
    /// let s = MlpShape::new(&[12, 10, 7, 5, 4, 3, 2], Activation::Tanh)?;
    /// assert_eq!(s.param_len(), 294);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn new(widths: &[u32], hidden: Activation) -> Result<Self, Error> {
        let bad = Error::InvalidParameter { name: "widths" };
        let v = heapless::Vec::from_slice(widths).map_err(|_| bad)?;
        if widths.len() < 2 || widths.contains(&0) || widths.last().is_some_and(|&w| w < 2) {
            return Err(bad);
        }
        let mut param_len: u32 = 0;
        for pair in widths.windows(2) {
            if let [a, b] = *pair {
                let layer = a
                    .checked_add(1)
                    .and_then(|a1| a1.checked_mul(b))
                    .ok_or(Error::TooLarge)?;
                param_len = param_len.checked_add(layer).ok_or(Error::TooLarge)?;
            }
        }
        let width_sum = widths
            .iter()
            .try_fold(0u32, |s, &w| s.checked_add(w))
            .ok_or(Error::TooLarge)?;
        let max_width = widths.iter().copied().max().unwrap_or(0);
        Ok(Self {
            widths: v,
            hidden,
            param_len: param_len as usize,
            max_width: max_width as usize,
            width_sum: width_sum as usize,
        })
    }

    /// All widths, input first.
    #[must_use]
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// Number of weight layers (= layers on the information plane, output included).
    #[must_use]
    pub fn n_layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Input width.
    #[must_use]
    pub fn input_width(&self) -> usize {
        self.widths.first().map_or(0, |&w| w as usize)
    }

    /// Output width (number of classes).
    #[must_use]
    pub fn output_width(&self) -> usize {
        self.widths.last().map_or(0, |&w| w as usize)
    }

    /// The hidden activation.
    #[must_use]
    pub const fn hidden(&self) -> Activation {
        self.hidden
    }

    /// Number of `f32` parameters (all weights and biases).
    #[must_use]
    pub const fn param_len(&self) -> usize {
        self.param_len
    }

    /// Number of `f32` activations one sample produces over all layers after the input.
    #[must_use]
    pub fn activation_len(&self) -> usize {
        self.width_sum - self.input_width()
    }

    /// (`fan_in`, `fan_out`) of each weight layer.
    fn layer_dims(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.widths.windows(2).map(|p| match *p {
            [a, b] => (a as usize, b as usize),
            _ => (0, 0),
        })
    }
}

/// Weight initialisation schemes; biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Init {
    /// Normal with σ = `1/√fan_in`, redrawn beyond 2σ (Shwartz-Ziv & Tishby's IDNNs code).
    TruncatedNormalFanIn,
    /// Normal with σ = `1/√fan_out`, redrawn beyond 2σ (Saxe et al.'s ibsgd code).
    TruncatedNormalFanOut,
    /// Uniform on ±√(6 / (`fan_in` + `fan_out`)) (Glorot & Bengio 2010; Keras's default).
    GlorotUniform,
}

impl Init {
    /// Every initialiser.
    pub const ALL: [Init; 3] = [
        Self::TruncatedNormalFanIn,
        Self::TruncatedNormalFanOut,
        Self::GlorotUniform,
    ];

    /// The initialiser called [`Init::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }

    /// One line on what it draws.
    #[must_use]
    pub const fn summary(self) -> &'static str {
        match self {
            Self::TruncatedNormalFanIn => "truncated normal, σ = 1/√fan_in (IDNNs)",
            Self::TruncatedNormalFanOut => "truncated normal, σ = 1/√fan_out (ibsgd)",
            Self::GlorotUniform => "uniform on ±√(6/(fan_in + fan_out)) (Keras)",
        }
    }

    /// The name used on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::TruncatedNormalFanIn => "truncnorm-fan-in",
            Self::TruncatedNormalFanOut => "truncnorm-fan-out",
            Self::GlorotUniform => "glorot-uniform",
        }
    }
}

/// Sizes for running a network on blocks of at most `batch` samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlpPlan {
    shape: MlpShape,
    batch: usize,
    scratch_len: usize,
}

impl MlpPlan {
    /// A plan for `shape` and blocks of up to `batch` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"batch"` if `batch == 0`; [`Error::TooLarge`] if the
    /// scratch size overflows.
    pub fn new(shape: MlpShape, batch: usize) -> Result<Self, Error> {
        if batch == 0 {
            return Err(Error::InvalidParameter { name: "batch" });
        }
        // activations of every layer, input included  +  two delta buffers of the widest
        // layer  +  three per-sample temporaries for the softmax (max, sum, log-likelihood).
        let per_sample = shape
            .width_sum
            .checked_add(shape.max_width.checked_mul(2).ok_or(Error::TooLarge)?)
            .and_then(|v| v.checked_add(3))
            .ok_or(Error::TooLarge)?;
        let scratch_len = per_sample.checked_mul(batch).ok_or(Error::TooLarge)?;
        Ok(Self {
            shape,
            batch,
            scratch_len,
        })
    }

    /// The network shape.
    #[must_use]
    pub const fn shape(&self) -> &MlpShape {
        &self.shape
    }

    /// The largest block of samples one call handles.
    #[must_use]
    pub const fn batch(&self) -> usize {
        self.batch
    }

    /// The scratch as a requirement: [`MlpPlan::scratch_len`] `f32`s.
    #[must_use]
    pub const fn scratch_req(&self) -> crate::ScratchReq {
        crate::ScratchReq::f32(self.scratch_len)
    }

    /// Exact `f32` scratch count: `batch × (Σ widths + 2·max width + 3)`. May change between
    /// versions: ask, do not hard-code.
    #[must_use]
    pub const fn scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// Fills `params` with initial weights drawn from `rng` (layer by layer, each `W` in
    /// row-major order) and zero biases.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `params.len() == shape.param_len()`.
    pub fn init(&self, init: Init, params: &mut [f32], rng: &mut StreamRng) -> Result<(), Error> {
        check_len(params.len(), self.shape.param_len)?;
        let mut rest = params;
        for (fan_in, fan_out) in self.shape.layer_dims() {
            let (w, tail) = core::mem::take(&mut rest).split_at_mut(fan_in * fan_out);
            let (b, tail) = tail.split_at_mut(fan_out);
            rest = tail;
            #[allow(clippy::cast_precision_loss)] // widths are < 2^24 in any practical network
            let (fi, fo) = (fan_in as f32, fan_out as f32);
            match init {
                Init::TruncatedNormalFanIn => {
                    let s = 1.0 / math::sqrt(fi);
                    w.iter_mut().for_each(|v| *v = rng.truncated_normal_f32(s));
                }
                Init::TruncatedNormalFanOut => {
                    let s = 1.0 / math::sqrt(fo);
                    w.iter_mut().for_each(|v| *v = rng.truncated_normal_f32(s));
                }
                Init::GlorotUniform => {
                    let limit = math::sqrt(6.0 / (fi + fo));
                    w.iter_mut()
                        .for_each(|v| *v = (2.0 * rng.uniform_f32() - 1.0) * limit);
                }
            }
            b.fill(0.0);
        }
        Ok(())
    }

    /// Gradient of the mean softmax cross-entropy over the samples `rows` of `(x, labels)`
    /// with respect to every parameter, written to `grads` (same layout as `params`).
    ///
    /// Loss = `−(1/n) Σ_s ln softmax(z_s)[y_s]`. Backpropagation through the layers; the
    /// weight gradient `∂L/∂W[j][i] = Σ_s δ_j(s)·a_i(s)` is reduced over samples with eight
    /// fixed lanes (see [`math::lane_dot`]), so its value does not depend on the target's SIMD width.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] if `rows` is empty; [`Error::InvalidParameter`] `"rows"` if it is
    /// longer than the plan's batch or names a row past the end, `"labels"` for a label
    /// ≥ the output width; [`Error::ShapeMismatch`] for wrong `params`, `grads`, `x` or
    /// `labels` sizes; [`Error::NonFinite`] for a non-finite input value or parameter;
    /// [`Error::Overflow`] if a gradient overflows; [`Error::ScratchTooSmall`].
    ///
    /// # Scratch
    /// [`MlpPlan::scratch_len`] `f32`s.
    ///
    /// # Complexity
    /// O(n · `param_len`).
    pub fn gradient<'x>(
        &self,
        params: &[f32],
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        rows: &[u32],
        grads: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        self.gradient_par(params, x, labels, rows, grads, scratch, &Serial)
    }

    /// [`MlpPlan::gradient`] with the wide layers' dense kernels split by units into jobs
    /// on `par` (layers of at least 2²¹ multiply-adds per batch): the same bits for any
    /// [`Parallel`].
    ///
    /// # Errors
    /// As [`MlpPlan::gradient`].
    #[allow(clippy::too_many_arguments)] // `gradient`'s arguments and the threads
    pub fn gradient_par<'x>(
        &self,
        params: &[f32],
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        rows: &[u32],
        grads: &mut [f32],
        scratch: &mut [f32],
        par: &dyn Parallel,
    ) -> Result<(), Error> {
        let isa = Isa::active();
        isa.run(NetCall {
            plan: self,
            params,
            x: x.into(),
            labels,
            scratch,
            isa,
            par,
            what: What::Gradient { rows, grads },
        })
    }

    /// [`MlpPlan::gradient`]'s body, inlined into each instruction-set level's copy.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // `gradient`'s arguments and the level
    fn gradient_at(
        &self,
        params: &[f32],
        x: Inputs<'_>,
        labels: &[u32],
        rows: &[u32],
        grads: &mut [f32],
        scratch: &mut [f32],
        isa: Isa,
        par: &dyn Parallel,
    ) -> Result<(), Error> {
        self.check_io(params, x, labels)?;
        check_len(grads.len(), self.shape.param_len)?;
        let n = rows.len();
        if n == 0 {
            return Err(Error::EmptyInput);
        }
        if n > self.batch {
            return Err(Error::InvalidParameter { name: "rows" });
        }
        let mut carver = Carver::new(scratch, self.scratch_len)?;
        let mut acts: heapless::Vec<&mut [f32], { MAX_LAYERS + 1 }> = heapless::Vec::new();
        for &w in self.shape.widths() {
            let buf = carver.take(w as usize * n)?;
            acts.push(buf).map_err(|_| Error::TooLarge)?;
        }
        let dw = self.shape.max_width * n;
        let (mut delta, mut delta_prev) = (carver.take(dw)?, carver.take(dw)?);
        let tmp = carver.take(3 * n)?;

        gather(
            x,
            rows.iter().map(|&r| r as usize),
            first_mut(&mut acts)?,
            n,
        )?;
        self.forward(params, &mut acts, n, tmp, None, isa, par)?;

        // Output delta: (softmax − one-hot) / n.
        #[allow(clippy::cast_precision_loss)] // n ≤ batch, far below 2^24
        let nf = n as f32;
        let n_out = self.shape.output_width();
        let probs: &[f32] = acts.last().map(|a| &**a).ok_or(Error::EmptyInput)?;
        let out_delta = delta.get_mut(..n_out * n).ok_or(Error::TooLarge)?;
        for (j, (d_row, p_row)) in out_delta
            .chunks_exact_mut(n)
            .zip(probs.chunks_exact(n))
            .enumerate()
        {
            for ((d, &p), &r) in d_row.iter_mut().zip(p_row).zip(rows) {
                let y = labels.get(r as usize).copied().unwrap_or(u32::MAX);
                if y as usize >= n_out {
                    return Err(Error::InvalidParameter { name: "labels" });
                }
                let target = if y as usize == j { 1.0 } else { 0.0 };
                *d = (p - target) / nf;
            }
        }

        // Backward, last layer first. Parameter offsets run backwards from the end.
        let mut end = self.shape.param_len;
        let dims: heapless::Vec<(usize, usize), MAX_LAYERS> = self.shape.layer_dims().collect();
        for (l, &(fan_in, fan_out)) in dims.iter().enumerate().rev() {
            let b_start = end - fan_out;
            let w_start = b_start - fan_in * fan_out;
            let w = params.get(w_start..b_start).ok_or(Error::TooLarge)?;
            let (gw, gb) = grads
                .get_mut(w_start..end)
                .ok_or(Error::TooLarge)?
                .split_at_mut(b_start - w_start);
            end = w_start;
            let input = acts.get(l).map(|a| &**a).ok_or(Error::EmptyInput)?;
            let d_cur = delta.get(..fan_out * n).ok_or(Error::TooLarge)?;
            for (gbj, d_row) in gb.iter_mut().zip(d_cur.chunks_exact(n)) {
                *gbj = math::lane_sum(d_row);
            }
            weight_gradient_par(gw, d_cur, input, fan_in, n, isa, par);
            if l > 0 {
                // δ_{l−1}[i] = (Σ_j W[j][i] δ_l[j]) · act'(a_{l−1}[i]), j ascending.
                let d_prev = delta_prev.get_mut(..fan_in * n).ok_or(Error::TooLarge)?;
                dense_backward(w, d_cur, d_prev, n);
                self.shape.hidden.backprop(input, d_prev);
                core::mem::swap(&mut delta, &mut delta_prev);
            }
        }
        check_outputs(grads)
    }

    /// Runs the network on every row of `x` and writes, for each layer after the input in
    /// turn (the softmax output last), its `rows × width` activations row-major into
    /// `layers`, and each row's cross-entropy `−ln softmax(z)[y]` (nats) into `nll`.
    ///
    /// `layers` holds layer 1 for all rows, then layer 2 for all rows, and so on: its length
    /// must be `rows × shape.activation_len()`. Rows are processed in blocks of the plan's
    /// batch; the result does not depend on the batch.
    ///
    /// # Errors
    /// As [`MlpPlan::gradient`], plus [`Error::ShapeMismatch`] for `layers` or `nll`, and
    /// [`Error::Overflow`] if an activation or loss overflows (outputs are then unspecified).
    ///
    /// # Scratch
    /// [`MlpPlan::scratch_len`] `f32`s.
    ///
    /// # Complexity
    /// O(rows · `param_len`).
    pub fn evaluate<'x>(
        &self,
        params: &[f32],
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        layers: &mut [f32],
        nll: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let isa = Isa::active();
        isa.run(NetCall {
            plan: self,
            params,
            x: x.into(),
            labels,
            scratch,
            isa,
            par: &Serial,
            what: What::Evaluate { layers, nll },
        })
    }

    /// [`MlpPlan::evaluate`]'s body, inlined into each instruction-set level's copy.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // `evaluate`'s arguments and the level
    fn evaluate_at(
        &self,
        params: &[f32],
        x: Inputs<'_>,
        labels: &[u32],
        layers: &mut [f32],
        nll: &mut [f32],
        scratch: &mut [f32],
        isa: Isa,
        par: &dyn Parallel,
    ) -> Result<(), Error> {
        self.check_io(params, x, labels)?;
        let rows = x.rows();
        let total = rows
            .checked_mul(self.shape.activation_len())
            .ok_or(Error::TooLarge)?;
        check_len(layers.len(), total)?;
        check_len(nll.len(), rows)?;
        if rows == 0 {
            return Err(Error::EmptyInput);
        }
        let mut start = 0;
        while start < rows {
            let n = self.batch.min(rows - start);
            let mut carver = Carver::new(&mut *scratch, self.scratch_len)?;
            let mut acts: heapless::Vec<&mut [f32], { MAX_LAYERS + 1 }> = heapless::Vec::new();
            for &w in self.shape.widths() {
                acts.push(carver.take(w as usize * n)?)
                    .map_err(|_| Error::TooLarge)?;
            }
            let _deltas = carver.take(2 * self.shape.max_width * n)?;
            let tmp = carver.take(3 * n)?;
            gather(x, start..start + n, first_mut(&mut acts)?, n)?;
            let block_labels = labels.get(start..start + n).ok_or(Error::TooLarge)?;
            let block_nll = nll.get_mut(start..start + n).ok_or(Error::TooLarge)?;
            self.forward(
                params,
                &mut acts,
                n,
                tmp,
                Some((block_labels, block_nll)),
                isa,
                par,
            )?;
            // Scatter unit-major block activations into each layer's row-major output.
            let mut layer_start = 0;
            for a in acts.iter().skip(1) {
                let w = a.len() / n;
                let layer = layers
                    .get_mut(layer_start..layer_start + rows * w)
                    .ok_or(Error::TooLarge)?;
                layer_start += rows * w;
                for (s, out_row) in layer.chunks_exact_mut(w).skip(start).take(n).enumerate() {
                    for (o, unit) in out_row.iter_mut().zip(a.chunks_exact(n)) {
                        *o = unit.get(s).copied().unwrap_or(0.0);
                    }
                }
            }
            start += n;
        }
        check_outputs(layers)?;
        check_outputs(nll)
    }

    fn check_io(&self, params: &[f32], x: Inputs<'_>, labels: &[u32]) -> Result<(), Error> {
        check_len(params.len(), self.shape.param_len)?;
        crate::error::check_finite(params)?;
        check_len(x.cols(), self.shape.input_width())?;
        check_len(labels.len(), x.rows())
    }

    /// Forward pass over a block already gathered into `acts[0]`. With `nll`, also writes each
    /// sample's cross-entropy (needs the labels; a label out of range is an error).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // the block, its buffers, the level and the threads
    fn forward(
        &self,
        params: &[f32],
        acts: &mut [&mut [f32]],
        n: usize,
        tmp: &mut [f32],
        mut nll: Option<(&[u32], &mut [f32])>,
        isa: Isa,
        par: &dyn Parallel,
    ) -> Result<(), Error> {
        let mut rest = params;
        let n_layers = self.shape.n_layers();
        for (l, (fan_in, fan_out)) in self.shape.layer_dims().enumerate() {
            let (w, tail) = rest.split_at(fan_in * fan_out);
            let (b, tail) = tail.split_at(fan_out);
            rest = tail;
            let (done, todo) = acts.split_at_mut(l + 1);
            let input: &[f32] = done.last().map(|a| &**a).ok_or(Error::EmptyInput)?;
            let out: &mut [f32] = todo
                .first_mut()
                .map(|a| &mut **a)
                .ok_or(Error::EmptyInput)?;
            dense_forward_par(w, b, input, &mut *out, n, isa, par);
            if l + 1 < n_layers {
                isa.run(Hidden {
                    act: self.shape.hidden,
                    values: &mut *out,
                    wide: isa == Isa::Avx512,
                });
            } else {
                softmax_columns(out, n, tmp, nll.take())?;
            }
        }
        Ok(())
    }
}

/// In-place softmax of each sample (column) of a unit-major `units × n` block:
/// `p_j` = `e^{z_j` − m} / `Σ_k` `e^{z_k` − m} with m = `max_k` `z_k` (max subtraction keeps every
/// exponent ≤ 0). With labels, also writes −ln `p_y` = ln `Σ_k` `e^{z_k` − m} − (`z_y` − m).
#[inline(always)]
fn softmax_columns(
    z: &mut [f32],
    n: usize,
    tmp: &mut [f32],
    nll: Option<(&[u32], &mut [f32])>,
) -> Result<(), Error> {
    let (m, rest) = tmp.split_at_mut(n);
    let (sum, rest) = rest.split_at_mut(n);
    let zy = rest.get_mut(..n).ok_or(Error::TooLarge)?;
    m.fill(f32::NEG_INFINITY);
    for row in z.chunks_exact(n) {
        m.iter_mut().zip(row).for_each(|(m, &v)| *m = m.max(v));
    }
    if let Some((labels, _)) = &nll {
        let units = z.len() / n;
        for ((t, &y), s) in zy.iter_mut().zip(labels.iter()).zip(0..) {
            if y as usize >= units {
                return Err(Error::InvalidParameter { name: "labels" });
            }
            let row = z.get(y as usize * n..).ok_or(Error::TooLarge)?;
            *t = row.get(s).copied().unwrap_or(0.0) - m.get(s).copied().unwrap_or(0.0);
        }
    }
    sum.fill(0.0);
    for row in z.chunks_exact_mut(n) {
        for ((v, &mv), s) in row.iter_mut().zip(m.iter()).zip(sum.iter_mut()) {
            *v = math::exp(*v - mv);
            *s += *v;
        }
    }
    for row in z.chunks_exact_mut(n) {
        row.iter_mut().zip(sum.iter()).for_each(|(v, &s)| *v /= s);
    }
    if let Some((_, out)) = nll {
        for ((o, &s), &t) in out.iter_mut().zip(sum.iter()).zip(zy.iter()) {
            *o = math::ln(s) - t;
        }
    }
    Ok(())
}

/// Copies rows `rows` of `x` into the unit-major block `a0` (`cols × n`): `f32` inputs
/// checked finite, bytes scaled by their divisor (always finite).
#[inline(always)]
fn gather(
    x: Inputs<'_>,
    rows: impl Iterator<Item = usize> + Clone,
    a0: &mut [f32],
    n: usize,
) -> Result<(), Error> {
    let cols = x.cols();
    let bad_row = Error::InvalidParameter { name: "rows" };
    match x {
        Inputs::F32(m) => {
            // Copy, then one branch-free pass over the block for non-finite values (a
            // branch per value cost 8 % of a tishby run); only an error looks for where.
            gather_rows(
                rows.clone(),
                |r| m.row(r).ok_or(bad_row),
                |v| v,
                a0,
                n,
                cols,
            )?;
            let exp_bits = 0x7f80_0000u32;
            let any_bad = a0.iter().fold(0u32, |m, v| {
                m | u32::from(v.to_bits() & exp_bits == exp_bits)
            });
            if any_bad != 0 {
                for r in rows {
                    let row = m.row(r).ok_or(bad_row)?;
                    if let Some(i) = row.iter().position(|v| !v.is_finite()) {
                        return Err(Error::NonFinite {
                            index: r * cols + i,
                        });
                    }
                }
            }
        }
        Inputs::U8(m) => {
            let div = m.divisor();
            let byte_row = |r: usize| -> Result<&[u8], Error> {
                let start = r.checked_mul(cols).ok_or(Error::TooLarge)?;
                m.as_slice()
                    .get(start..start.checked_add(cols).ok_or(Error::TooLarge)?)
                    .ok_or(bad_row)
            };
            gather_rows(rows, byte_row, |b| f32::from(b) / div, a0, n, cols)?;
        }
    }
    Ok(())
}

/// Copies the rows `rows` (`row(r)`: row `r`'s `cols` values) into the unit-major block `a0`
/// (`cols × n`), each value through `value`. Eight rows at a time, so each column gets eight
/// contiguous values: one store (and for bytes one vector division) per column, where one
/// store per row and column, `n` apart, was a third of the copy's time.
#[inline(always)]
fn gather_rows<'a, T: Copy + Default + 'a>(
    mut rows: impl Iterator<Item = usize>,
    row: impl Fn(usize) -> Result<&'a [T], Error>,
    value: impl Fn(T) -> f32,
    a0: &mut [f32],
    n: usize,
    cols: usize,
) -> Result<(), Error> {
    let mut s = 0;
    loop {
        let mut block: [&[T]; 8] = [&[]; 8];
        let mut k = 0;
        for slot in &mut block {
            let Some(r) = rows.next() else { break };
            *slot = row(r)?;
            k += 1;
        }
        if k == 0 {
            return Ok(());
        }
        for i in 0..cols {
            let mut v = [T::default(); 8];
            for (d, row) in v.iter_mut().zip(&block) {
                *d = row.get(i).copied().unwrap_or_default();
            }
            let v = v.map(&value);
            let at = i * n + s;
            if let Some(dst) = a0.get_mut(at..at + k) {
                if let Ok(dst) = <&mut [f32; 8]>::try_from(&mut *dst) {
                    *dst = v;
                } else {
                    dst.iter_mut().zip(v).for_each(|(d, x)| *d = x);
                }
            }
        }
        s += k;
    }
}

/// Runs independent jobs, perhaps at once: how a frontend lends its threads to the dense
/// kernels ([`MlpPlan::gradient_par`]). The core splits a wide layer's units into jobs that
/// write disjoint parts of the output, each computed exactly as in one call, so the result
/// has the same bits whatever the implementation does (one thread, many, any order).
pub trait Parallel: Sync {
    /// How many jobs are worth making at once (the threads that can run them); 1 or 0: the
    /// kernels do not split.
    fn width(&self) -> usize;
    /// Runs each job once, in any order and on any threads, and returns when all have
    /// returned.
    fn run(&self, jobs: &mut [&mut (dyn FnMut() + Send)]);
}

/// Runs every job in turn on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Parallel for Serial {
    fn width(&self) -> usize {
        1
    }
    fn run(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        for job in jobs {
            job();
        }
    }
}

/// The most jobs a layer is split into.
const MAX_JOBS: usize = 16;

/// A layer is split only when it has at least this many multiply-adds per call: below, a
/// job costs less than handing it to another thread.
const SPLIT_MIN_MACS: usize = 1 << 21;

/// How many jobs to split `units` units of `macs_per_unit` multiply-adds each into, and
/// how many units each takes (the last may take fewer).
fn split_units(par: &dyn Parallel, units: usize, macs_per_unit: usize) -> (usize, usize) {
    let width = par.width().clamp(1, MAX_JOBS).min(units.max(1));
    if width < 2 || units.saturating_mul(macs_per_unit) < SPLIT_MIN_MACS {
        return (1, units);
    }
    let per = units.div_ceil(width);
    (units.div_ceil(per), per)
}

/// [`dense_forward`] over `units` output units, split into jobs on `par` by units.
#[allow(clippy::too_many_arguments)] // the kernel's arguments, the level and the threads
fn dense_forward_par(
    w: &[f32],
    b: &[f32],
    input: &[f32],
    out: &mut [f32],
    n: usize,
    isa: Isa,
    par: &dyn Parallel,
) {
    let fan_out = b.len();
    let fan_in = w.len() / fan_out.max(1);
    let (jobs, per) = split_units(par, fan_out, fan_in * n);
    let tiles = Tiles::of(isa);
    if jobs < 2 {
        isa.run(DenseForward {
            w,
            b,
            input,
            out,
            n,
            tiles,
        });
        return;
    }
    run_jobs(
        par,
        w.chunks(per * fan_in)
            .zip(b.chunks(per))
            .zip(out.chunks_mut(per * n))
            .map(|((w, b), out)| {
                move || {
                    isa.run(DenseForward {
                        w,
                        b,
                        input,
                        out: &mut *out,
                        n,
                        tiles,
                    });
                }
            }),
    );
}

/// Runs `jobs` (at most [`MAX_JOBS`]; more would be dropped, and the callers make fewer) on
/// `par`.
fn run_jobs<F: FnMut() + Send>(par: &dyn Parallel, jobs: impl Iterator<Item = F>) {
    let mut closures: heapless::Vec<F, MAX_JOBS> = heapless::Vec::new();
    for job in jobs {
        let _ = closures.push(job);
    }
    let mut refs: heapless::Vec<&mut (dyn FnMut() + Send), MAX_JOBS> = closures
        .iter_mut()
        .map(|c| c as &mut (dyn FnMut() + Send))
        .collect();
    par.run(&mut refs);
}

/// [`weight_gradient`] over the rows of `gw` (one per output unit), split into jobs on
/// `par` by units.
#[allow(clippy::too_many_arguments)] // the kernel's arguments, the level and the threads
fn weight_gradient_par(
    gw: &mut [f32],
    d: &[f32],
    a: &[f32],
    fan_in: usize,
    n: usize,
    isa: Isa,
    par: &dyn Parallel,
) {
    let fan_out = gw.len() / fan_in.max(1);
    let (jobs, per) = split_units(par, fan_out, fan_in * n);
    let tiles = Tiles::of(isa);
    if jobs < 2 {
        isa.run(WeightGradient {
            gw,
            d,
            a,
            fan_in,
            n,
            tiles,
        });
        return;
    }
    run_jobs(
        par,
        gw.chunks_mut(per * fan_in)
            .zip(d.chunks(per * n))
            .map(|(gw, d)| {
                move || {
                    isa.run(WeightGradient {
                        gw: &mut *gw,
                        d,
                        a,
                        fan_in,
                        n,
                        tiles,
                    });
                }
            }),
    );
}

/// A call of [`MlpPlan::gradient`] or [`MlpPlan::evaluate`] with its arguments, as a kernel
/// for [`Isa::run`].
struct NetCall<'a, 'x> {
    plan: &'a MlpPlan,
    params: &'a [f32],
    x: Inputs<'x>,
    labels: &'a [u32],
    scratch: &'a mut [f32],
    /// The level the call runs at (tile sizes; tanh decides its branch per 16 elements at
    /// AVX-512).
    isa: Isa,
    /// Threads for wide layers.
    par: &'a dyn Parallel,
    what: What<'a>,
}

/// Which call, with its own arguments.
enum What<'a> {
    Gradient {
        rows: &'a [u32],
        grads: &'a mut [f32],
    },
    Evaluate {
        layers: &'a mut [f32],
        nll: &'a mut [f32],
    },
}

impl Kernel for NetCall<'_, '_> {
    type Output = Result<(), Error>;
    #[inline(always)]
    fn call(self) -> Self::Output {
        let Self {
            plan,
            params,
            x,
            labels,
            scratch,
            isa,
            par,
            what,
        } = self;
        match what {
            What::Gradient { rows, grads } => {
                plan.gradient_at(params, x, labels, rows, grads, scratch, isa, par)
            }
            What::Evaluate { layers, nll } => {
                plan.evaluate_at(params, x, labels, layers, nll, scratch, isa, par)
            }
        }
    }
}

/// [`dense_forward`] as a kernel for [`Isa::run`]. Each heavy kernel is its own level
/// copy: inlining a whole gradient into one copy left LLVM keeping the tiles' sums in
/// memory (5–10× slower).
struct DenseForward<'a> {
    w: &'a [f32],
    b: &'a [f32],
    input: &'a [f32],
    out: &'a mut [f32],
    n: usize,
    tiles: Tiles,
}

impl Kernel for DenseForward<'_> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        dense_forward(self.w, self.b, self.input, self.out, self.n, self.tiles);
    }
}

/// [`weight_gradient`] as a kernel for [`Isa::run`].
struct WeightGradient<'a> {
    gw: &'a mut [f32],
    d: &'a [f32],
    a: &'a [f32],
    fan_in: usize,
    n: usize,
    tiles: Tiles,
}

impl Kernel for WeightGradient<'_> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        weight_gradient(self.gw, self.d, self.a, self.fan_in, self.n, self.tiles);
    }
}

/// The hidden activation over a block, as a kernel for [`Isa::run`].
struct Hidden<'a> {
    act: Activation,
    values: &'a mut [f32],
    wide: bool,
}

impl Kernel for Hidden<'_> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        self.act.apply_at(self.values, self.wide);
    }
}

/// Register tiles of the dense kernels at one instruction-set level. Only speed depends on
/// them: every output element is computed by the same operations in the same order whatever
/// the tile.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tiles {
    /// 16 vector registers of four lanes (SSE2, wasm `simd128`).
    Narrow,
    /// 16 registers of eight lanes (AVX2).
    Avx2,
    /// 32 registers of sixteen lanes (AVX-512).
    Avx512,
}

impl Tiles {
    pub(crate) const fn of(isa: Isa) -> Self {
        match isa {
            Isa::Avx512 => Self::Avx512,
            Isa::Avx2 => Self::Avx2,
            Isa::Baseline => Self::Narrow,
        }
    }
}

/// One dense layer on a unit-major block of `n` samples: `out[j][s] = b_j + Σ_i W[j][i]·in[i][s]`,
/// the sum taken with `i` ascending, starting from `b_j`. Register tiles of `R` units × `S`
/// samples keep their sums in registers across `i` (each input row segment is loaded once
/// for `R` units, each weight once for `S` samples); the edges use smaller tiles down to
/// 1 × 1, in the same order. Tiles: 6 × 32 at AVX-512 and 4 × 16 at AVX2 (explicit AVX2
/// vectors), 1 × 32 in portable code (SSE2, wasm), where taller tiles were slower on the
/// narrow layers of the 12-bit network.
#[inline(always)]
fn dense_forward(w: &[f32], b: &[f32], input: &[f32], out: &mut [f32], n: usize, tiles: Tiles) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        match tiles {
            Tiles::Avx512 => {
                return dense_forward_tiled::<6, 32, _>(w, b, input, out, n, V3Fwd(v3));
            }
            Tiles::Avx2 => return dense_forward_tiled::<4, 16, _>(w, b, input, out, n, V3Fwd(v3)),
            Tiles::Narrow => {}
        }
    }
    let _ = tiles;
    dense_forward_tiled::<1, 32, _>(w, b, input, out, n, PortableFwd);
}

/// How a tile of [`dense_forward`] is computed (the same bits every way).
trait ForwardTile: Copy {
    #[allow(clippy::too_many_arguments)] // one tile's coordinates
    fn tile<const R: usize, const S: usize>(
        self,
        wt: &[f32],
        bt: &[f32],
        input: &[f32],
        o: &mut [f32],
        n: usize,
        fan_in: usize,
        s0: usize,
    );
}

/// Portable code the compiler vectorises.
#[derive(Clone, Copy)]
struct PortableFwd;

impl ForwardTile for PortableFwd {
    #[inline(always)]
    fn tile<const R: usize, const S: usize>(
        self,
        wt: &[f32],
        bt: &[f32],
        input: &[f32],
        o: &mut [f32],
        n: usize,
        fan_in: usize,
        s0: usize,
    ) {
        forward_tile::<R, S>(wt, bt, input, o, n, fan_in, s0);
    }
}

/// Explicit AVX2 vectors for tiles of whole vectors (the rest portable).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct V3Fwd(pulp::x86::V3);

#[cfg(target_arch = "x86_64")]
impl ForwardTile for V3Fwd {
    #[inline(always)]
    fn tile<const R: usize, const S: usize>(
        self,
        wt: &[f32],
        bt: &[f32],
        input: &[f32],
        o: &mut [f32],
        n: usize,
        fan_in: usize,
        s0: usize,
    ) {
        match S {
            8 => forward_tile_v3::<R, 1>(self.0, wt, bt, input, o, n, fan_in, s0),
            16 => forward_tile_v3::<R, 2>(self.0, wt, bt, input, o, n, fan_in, s0),
            32 => forward_tile_v3::<R, 4>(self.0, wt, bt, input, o, n, fan_in, s0),
            _ => forward_tile::<R, S>(wt, bt, input, o, n, fan_in, s0),
        }
    }
}

/// [`forward_tile`] for `R` units × `V` AVX2 vectors of samples: per element the same
/// operations in the same order (the bias, then for each input a multiply and an add, never
/// fused), so the same bits. No closures: a closure is compiled without the caller's target
/// features, so the vector operations inside it would become calls.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)] // one tile's coordinates
fn forward_tile_v3<const R: usize, const V: usize>(
    v3: pulp::x86::V3,
    wt: &[f32],
    bt: &[f32],
    input: &[f32],
    o: &mut [f32],
    n: usize,
    fan_in: usize,
    s0: usize,
) {
    use pulp::{Simd, bytemuck, f32x8};
    let mut rows: [&[f32]; R] = [&[]; R];
    let mut acc = [[v3.splat_f32s(0.0); V]; R];
    for (r, (row, a)) in rows.iter_mut().zip(acc.iter_mut()).enumerate() {
        let (Some(w), Some(&b)) = (wt.get(r * fan_in..(r + 1) * fan_in), bt.get(r)) else {
            return;
        };
        *row = w;
        *a = [v3.splat_f32s(b); V];
    }
    if fan_in == 0 || input.len() < (fan_in - 1) * n + s0 + 8 * V {
        return;
    }
    // Checked just above: every row holds `fan_in` weights and `input` reaches the tile's
    // last sample of the last input, so no index below is out of bounds (and the compiler
    // sees it, where `get` cost a quarter of the time in branches).
    #[allow(clippy::indexing_slicing)]
    for i in 0..fan_in {
        let at = i * n + s0;
        let mut xs = [v3.splat_f32s(0.0); V];
        for (v, d) in xs.iter_mut().enumerate() {
            let c = &input[at + 8 * v..at + 8 * v + 8];
            *d = bytemuck::cast::<[f32; 8], f32x8>(c.as_chunks::<8>().0[0]);
        }
        for (a, row) in acc.iter_mut().zip(&rows) {
            let w = v3.splat_f32s(row[i]);
            for (a, &x) in a.iter_mut().zip(&xs) {
                *a = v3.add_f32s(*a, v3.mul_f32s(w, x));
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        let at = r * n + s0;
        if let Some(dst) = o.get_mut(at..at + 8 * V) {
            for (d, &v) in dst.as_chunks_mut::<8>().0.iter_mut().zip(a) {
                *d = bytemuck::cast(v);
            }
        }
    }
}

#[inline(always)]
fn dense_forward_tiled<const R: usize, const S: usize, F: ForwardTile>(
    w: &[f32],
    b: &[f32],
    input: &[f32],
    out: &mut [f32],
    n: usize,
    f: F,
) {
    let fan_in = input.len() / n.max(1);
    if fan_in == 0 {
        return;
    }
    let mut o_tiles = out.chunks_exact_mut(R * n);
    let mut w_tiles = w.chunks_exact(R * fan_in);
    let mut b_tiles = b.chunks_exact(R);
    for ((o, wt), bt) in (&mut o_tiles).zip(&mut w_tiles).zip(&mut b_tiles) {
        forward_units::<R, S, F>(wt, bt, input, o, n, fan_in, f);
    }
    // The last fan_out % R units one at a time.
    for ((o, wt), bt) in o_tiles
        .into_remainder()
        .chunks_exact_mut(n)
        .zip(w_tiles.remainder().chunks_exact(fan_in))
        .zip(b_tiles.remainder().chunks_exact(1))
    {
        forward_units::<1, S, F>(wt, bt, input, o, n, fan_in, f);
    }
}

/// `R` units (rows `wt`, biases `bt`, outputs `o`, each `R` rows) over every sample: tiles of
/// `S` samples, then of 8, then single samples.
#[inline(always)]
fn forward_units<const R: usize, const S: usize, F: ForwardTile>(
    wt: &[f32],
    bt: &[f32],
    input: &[f32],
    o: &mut [f32],
    n: usize,
    fan_in: usize,
    f: F,
) {
    let mut s0 = 0;
    while s0 + S <= n {
        f.tile::<R, S>(wt, bt, input, o, n, fan_in, s0);
        s0 += S;
    }
    while s0 + 8 <= n {
        f.tile::<R, 8>(wt, bt, input, o, n, fan_in, s0);
        s0 += 8;
    }
    while s0 < n {
        f.tile::<R, 1>(wt, bt, input, o, n, fan_in, s0);
        s0 += 1;
    }
}

/// One `R × S` tile at samples `s0..s0 + S`: one unit's `S` sums in registers; a taller
/// tile one unit at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // one tile's coordinates
fn forward_tile<const R: usize, const S: usize>(
    wt: &[f32],
    bt: &[f32],
    input: &[f32],
    o: &mut [f32],
    n: usize,
    fan_in: usize,
    s0: usize,
) {
    let row = |r: usize| wt.get(r * fan_in..(r + 1) * fan_in).unwrap_or_default();
    let bias = |r: usize| bt.get(r).copied().unwrap_or(0.0);
    // The accumulators are separate variables, not an array indexed in a loop: so LLVM keeps
    // them in registers (an `[[f32; S]; R]` stayed in memory).
    macro_rules! tile {
        ($($acc:ident $w:ident $r:literal),*) => {{
            $(let mut $acc = [bias($r); S]; let $w = row($r);)*
            for (i, a_row) in input.chunks_exact(n).enumerate() {
                let Some(x) = a_row
                    .get(s0..s0 + S)
                    .and_then(|x| <&[f32; S]>::try_from(x).ok())
                else {
                    continue;
                };
                $(
                    let wji = $w.get(i).copied().unwrap_or(0.0);
                    for (s, &v) in $acc.iter_mut().zip(x) {
                        *s += wji * v;
                    }
                )*
            }
            $(
                if let Some(dst) = o.get_mut($r * n + s0..$r * n + s0 + S) {
                    dst.copy_from_slice(&$acc);
                }
            )*
        }};
    }
    if R == 1 {
        tile!(a0 w0 0);
    } else {
        // Taller tiles one unit at a time, the same order (the explicit-vector tiles cover
        // the tall shapes; a tall portable tile per height made debug builds' stack frames
        // overflow a test thread's stack).
        for r in 0..R {
            let (Some(w), Some(b), Some(o)) = (
                wt.get(r * fan_in..(r + 1) * fan_in),
                bt.get(r..=r),
                o.get_mut(r * n..(r + 1) * n),
            ) else {
                return;
            };
            forward_tile::<1, S>(w, b, input, o, n, fan_in, s0);
        }
    }
}

/// `gw[j][i] = Σ_s δ[j][s]·a[i][s]` ([`math::lane_dot`] order) for a `fan_out × fan_in`
/// row-major `gw` over unit-major `δ` and `a` of `n` samples, in register tiles of two
/// (four at AVX-512) outputs × four inputs, and smaller tiles at the edges: every block of
/// eight samples of a tile's rows is loaded once for all its sums.
#[inline(always)]
fn weight_gradient(gw: &mut [f32], d: &[f32], a: &[f32], fan_in: usize, n: usize, tiles: Tiles) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        match tiles {
            Tiles::Avx512 => return weight_gradient_rows::<4, _>(gw, d, a, fan_in, n, V3Dot(v3)),
            Tiles::Avx2 => return weight_gradient_rows::<2, _>(gw, d, a, fan_in, n, V3Dot(v3)),
            Tiles::Narrow => {}
        }
    }
    let _ = tiles;
    weight_gradient_rows::<2, _>(gw, d, a, fan_in, n, PortableDot);
}

/// How a tile of [`math::lane_dot`]s is computed (the same bits every way).
trait DotTile: Copy {
    fn tile<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R];
}

/// [`math::lane_dot_tile`]: portable code the compiler vectorises.
#[derive(Clone, Copy)]
struct PortableDot;

impl DotTile for PortableDot {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R] {
        math::lane_dot_tile(a, b)
    }
}

/// [`math::lane_dot_tile_v3`]: explicit AVX2 vectors.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct V3Dot(pulp::x86::V3);

#[cfg(target_arch = "x86_64")]
impl DotTile for V3Dot {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(self, a: [&[f32]; R], b: [&[f32]; C]) -> [[f32; C]; R] {
        math::lane_dot_tile_v3(self.0, a, b)
    }
}

#[inline(always)]
fn weight_gradient_rows<const R: usize, D: DotTile>(
    gw: &mut [f32],
    d: &[f32],
    a: &[f32],
    fan_in: usize,
    n: usize,
    dot: D,
) {
    if n == 0 || fan_in == 0 {
        return;
    }
    let mut d_tiles = d.chunks_exact(R * n);
    let mut g_tiles = gw.chunks_exact_mut(R * fan_in);
    for (dd, gg) in (&mut d_tiles).zip(&mut g_tiles) {
        let mut ds = dd.chunks_exact(n);
        let mut gs = gg.chunks_exact_mut(fan_in);
        let d_rows: [&[f32]; R] = core::array::from_fn(|_| ds.next().unwrap_or_default());
        let g_rows: [&mut [f32]; R] = core::array::from_fn(|_| gs.next().unwrap_or_default());
        tile_row::<R, D>(d_rows, g_rows, a, n, dot);
    }
    for (d0, g0) in d_tiles
        .remainder()
        .chunks_exact(n)
        .zip(g_tiles.into_remainder().chunks_exact_mut(fan_in))
    {
        tile_row::<1, D>([d0], [g0], a, n, dot);
    }
}

/// One row of tiles of [`weight_gradient`]: `R` outputs against every input, four at a time.
#[inline(always)]
fn tile_row<const R: usize, D: DotTile>(
    d: [&[f32]; R],
    mut g: [&mut [f32]; R],
    a: &[f32],
    n: usize,
    dot: D,
) {
    let mut a4 = a.chunks_exact(4 * n);
    let mut col = 0;
    for a in &mut a4 {
        let mut r = a.chunks_exact(n);
        if let (Some(a0), Some(a1), Some(a2), Some(a3)) = (r.next(), r.next(), r.next(), r.next()) {
            let t = dot.tile(d, [a0, a1, a2, a3]);
            for (g, t) in g.iter_mut().zip(t) {
                if let Some(g) = g.get_mut(col..col + 4) {
                    g.copy_from_slice(&t);
                }
            }
        }
        col += 4;
    }
    for a_row in a4.remainder().chunks_exact(n) {
        let t = dot.tile(d, [a_row]);
        for (g, [t]) in g.iter_mut().zip(t) {
            if let Some(g) = g.get_mut(col) {
                *g = t;
            }
        }
        col += 1;
    }
}

/// Samples one accumulator block of [`dense_backward`] holds.
const BLOCK: usize = 32;

/// The deltas one layer down on a unit-major block of `n` samples:
/// `d_prev[i][s] = 0 + Σ_j W[j][i]·d[j][s]`, `j` ascending (`W` is `fan_out × fan_in`
/// row-major). Blocks of [`BLOCK`] samples keep their sums in registers across `j`.
#[inline(always)]
fn dense_backward(w: &[f32], d: &[f32], d_prev: &mut [f32], n: usize) {
    let fan_in = d_prev.len() / n.max(1);
    for (i, p_row) in d_prev.chunks_exact_mut(n).enumerate() {
        let w_col = || w.iter().skip(i).step_by(fan_in.max(1));
        let mut p_blocks = p_row.chunks_exact_mut(BLOCK);
        for (k, p) in (&mut p_blocks).enumerate() {
            let mut acc = [0.0f32; BLOCK];
            for (&wji, d_row) in w_col().zip(d.chunks_exact(n)) {
                if let Some(dj) = d_row.get(k * BLOCK..(k + 1) * BLOCK) {
                    for (s, &v) in acc.iter_mut().zip(dj) {
                        *s += wji * v;
                    }
                }
            }
            p.copy_from_slice(&acc);
        }
        let done = n - n % BLOCK;
        for (s, p) in p_blocks.into_remainder().iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (&wji, d_row) in w_col().zip(d.chunks_exact(n)) {
                acc += wji * d_row.get(done + s).copied().unwrap_or(0.0);
            }
            *p = acc;
        }
    }
}

/// [`Error::Overflow`] if any computed value is not finite (R17).
fn check_outputs(values: &[f32]) -> Result<(), Error> {
    if crate::error::all_finite(values) {
        Ok(())
    } else {
        Err(Error::Overflow)
    }
}

fn check_len(got: usize, expected: usize) -> Result<(), Error> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch { expected, got })
    }
}

fn first_mut<'a>(acts: &'a mut [&mut [f32]]) -> Result<&'a mut [f32], Error> {
    acts.first_mut().map(|a| &mut **a).ok_or(Error::EmptyInput)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
    use super::*;
    use std::vec::Vec;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = ((i.wrapping_mul(2_654_435_761).wrapping_add(seed) % 2001) as f32 - 1000.0)
                    / 997.0;
                if i % 13 == 0 { -0.0 } else { v }
            })
            .collect()
    }

    /// Runs the jobs last first, and records the most it was given at once.
    struct Reverse(usize, core::sync::atomic::AtomicUsize);

    impl Parallel for Reverse {
        fn width(&self) -> usize {
            self.0
        }
        fn run(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
            self.1
                .fetch_max(jobs.len(), core::sync::atomic::Ordering::Relaxed);
            for job in jobs.iter_mut().rev() {
                job();
            }
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn split_layers_give_the_bits_of_one_call() {
        // 64 → 300 → 40 → 3 on 128 samples: the first layer (2.5M multiply-adds) and the
        // second's weight gradient are split; the rest are not.
        let shape = MlpShape::new(&[64, 300, 40, 3], Activation::Tanh).unwrap();
        let plan = MlpPlan::new(shape.clone(), 128).unwrap();
        let mut params = std::vec![0.0f32; shape.param_len()];
        let mut rng = StreamRng::new(3, crate::Stream::Init);
        plan.init(Init::GlorotUniform, &mut params, &mut rng)
            .unwrap();
        let x: Vec<f32> = values(200 * 64, 5).iter().map(|v| v.abs()).collect();
        let labels: Vec<u32> = (0..200u32).map(|r| r % 3).collect();
        let rows: Vec<u32> = (0..128u32).map(|r| (r * 7) % 200).collect();
        let m = crate::MatRef::new(&x, 200, 64).unwrap();
        let mut scratch = std::vec![0.0f32; plan.scratch_len()];
        let mut want = std::vec![0.0f32; shape.param_len()];
        plan.gradient(&params, m, &labels, &rows, &mut want, &mut scratch)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for width in [2, 3, 7, 16, 40] {
            let par = Reverse(width, core::sync::atomic::AtomicUsize::new(0));
            let mut got = std::vec![f32::NAN; shape.param_len()];
            plan.gradient_par(&params, m, &labels, &rows, &mut got, &mut scratch, &par)
                .unwrap();
            assert_eq!(bits(&got), bits(&want), "width {width}");
            let most = par.1.load(core::sync::atomic::Ordering::Relaxed);
            assert_eq!(most, width.min(MAX_JOBS), "width {width}");
        }
        // Narrow layers are never split.
        let small =
            MlpPlan::new(MlpShape::new(&[12, 10, 2], Activation::Tanh).unwrap(), 64).unwrap();
        let par = Reverse(4, core::sync::atomic::AtomicUsize::new(0));
        let p = std::vec![0.1f32; small.shape().param_len()];
        let xs = std::vec![0.5f32; 64 * 12];
        let ys = std::vec![1u32; 64];
        let rs: Vec<u32> = (0..64).collect();
        let mut g = std::vec![0.0f32; p.len()];
        let mut sc = std::vec![0.0f32; small.scratch_len()];
        small
            .gradient_par(
                &p,
                crate::MatRef::new(&xs, 64, 12).unwrap(),
                &ys,
                &rs,
                &mut g,
                &mut sc,
                &par,
            )
            .unwrap();
        assert_eq!(par.1.load(core::sync::atomic::Ordering::Relaxed), 0);
    }

    /// Every level's dense kernels (explicit vectors, portable tiles, edge tiles) give the
    /// bits of the documented order: `b_j`, then `+ W[j][i]·in[i][s]` for `i` ascending; and
    /// the weight gradient the bits of `math::lane_dot` of each pair of rows.
    #[test]
    fn dense_kernels_match_the_documented_order_at_every_level() {
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (12, 10, 33),
            (7, 13, 64),
            (20, 6, 127),
            (37, 29, 128),
            (9, 25, 205),
            (100, 70, 130),
        ];
        for (fan_in, fan_out, n) in shapes {
            let w = values(fan_in * fan_out, 1);
            let b = values(fan_out, 2);
            let input = values(fan_in * n, 3);
            let d = values(fan_out * n, 4);
            let mut want = std::vec![0.0f32; fan_out * n];
            for j in 0..fan_out {
                for s in 0..n {
                    let mut acc = b[j];
                    for i in 0..fan_in {
                        acc += w[j * fan_in + i] * input[i * n + s];
                    }
                    want[j * n + s] = acc;
                }
            }
            let mut want_g = std::vec![0.0f32; fan_out * fan_in];
            for j in 0..fan_out {
                for i in 0..fan_in {
                    want_g[j * fan_in + i] =
                        math::lane_dot(&d[j * n..(j + 1) * n], &input[i * n..(i + 1) * n]);
                }
            }
            for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
                let mut out = std::vec![f32::NAN; fan_out * n];
                isa.run(DenseForward {
                    w: &w,
                    b: &b,
                    input: &input,
                    out: &mut out,
                    n,
                    tiles: Tiles::of(isa),
                });
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&out),
                    bits(&want),
                    "forward {isa} {fan_in}x{fan_out} n={n}"
                );
                let mut g = std::vec![f32::NAN; fan_out * fan_in];
                isa.run(WeightGradient {
                    gw: &mut g,
                    d: &d,
                    a: &input,
                    fan_in,
                    n,
                    tiles: Tiles::of(isa),
                });
                assert_eq!(
                    bits(&g),
                    bits(&want_g),
                    "gradient {isa} {fan_in}x{fan_out} n={n}"
                );
            }
        }
    }
}
