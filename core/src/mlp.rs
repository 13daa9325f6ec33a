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
        let isa = Isa::active();
        isa.run(NetCall {
            plan: self,
            params,
            x: x.into(),
            labels,
            scratch,
            wide: isa == Isa::Avx512,
            what: What::Gradient { rows, grads },
        })
    }

    /// [`MlpPlan::gradient`]'s body, inlined into each instruction-set level's copy.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // `gradient`'s arguments and the level's width
    fn gradient_at(
        &self,
        params: &[f32],
        x: Inputs<'_>,
        labels: &[u32],
        rows: &[u32],
        grads: &mut [f32],
        scratch: &mut [f32],
        wide: bool,
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
        self.forward(params, &mut acts, n, tmp, None, wide)?;

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
            weight_gradient(gw, d_cur, input, fan_in, n);
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
            wide: isa == Isa::Avx512,
            what: What::Evaluate { layers, nll },
        })
    }

    /// [`MlpPlan::evaluate`]'s body, inlined into each instruction-set level's copy.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // `evaluate`'s arguments and the level's width
    fn evaluate_at(
        &self,
        params: &[f32],
        x: Inputs<'_>,
        labels: &[u32],
        layers: &mut [f32],
        nll: &mut [f32],
        scratch: &mut [f32],
        wide: bool,
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
                wide,
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
    fn forward(
        &self,
        params: &[f32],
        acts: &mut [&mut [f32]],
        n: usize,
        tmp: &mut [f32],
        mut nll: Option<(&[u32], &mut [f32])>,
        wide: bool,
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
            dense_forward(w, b, input, out, n);
            if l + 1 < n_layers {
                self.shape.hidden.apply_at(out, wide);
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
            // Eight rows at a time, so each column gets eight contiguous values (one store
            // per row and column, `n` apart, was a third of the copy's time).
            let mut it = rows.clone();
            let mut s = 0;
            loop {
                let mut block: [&[f32]; 8] = [&[]; 8];
                let mut k = 0;
                for slot in &mut block {
                    let Some(r) = it.next() else { break };
                    *slot = m.row(r).ok_or(bad_row)?;
                    k += 1;
                }
                if k == 0 {
                    break;
                }
                for i in 0..cols {
                    let mut v = [0.0f32; 8];
                    for (d, row) in v.iter_mut().zip(&block) {
                        *d = row.get(i).copied().unwrap_or(0.0);
                    }
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
            for (s, r) in rows.enumerate() {
                let start = r.checked_mul(cols).ok_or(Error::TooLarge)?;
                let row = m
                    .as_slice()
                    .get(start..start.checked_add(cols).ok_or(Error::TooLarge)?)
                    .ok_or(bad_row)?;
                for (i, &b) in row.iter().enumerate() {
                    if let Some(slot) = a0.get_mut(i * n + s) {
                        *slot = f32::from(b) / div;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A call of [`MlpPlan::gradient`] or [`MlpPlan::evaluate`] with its arguments, as a kernel
/// for [`Isa::run`].
struct NetCall<'a, 'x> {
    plan: &'a MlpPlan,
    params: &'a [f32],
    x: Inputs<'x>,
    labels: &'a [u32],
    scratch: &'a mut [f32],
    /// The level has 16-lane registers (tanh decides its branch per 16 elements).
    wide: bool,
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
            wide,
            what,
        } = self;
        match what {
            What::Gradient { rows, grads } => {
                plan.gradient_at(params, x, labels, rows, grads, scratch, wide)
            }
            What::Evaluate { layers, nll } => {
                plan.evaluate_at(params, x, labels, layers, nll, scratch, wide)
            }
        }
    }
}

/// Samples one accumulator block of [`dense_forward`] holds (in registers: 4 AVX2 or 8 SSE
/// vectors).
const BLOCK: usize = 32;

/// One dense layer on a unit-major block of `n` samples: `out[j][s] = b_j + Σ_i W[j][i]·in[i][s]`,
/// the sum taken with `i` ascending, starting from `b_j`. Samples go in blocks of [`BLOCK`]
/// whose sums stay in registers across `i`; the rest one at a time in the same order.
#[inline(always)]
fn dense_forward(w: &[f32], b: &[f32], input: &[f32], out: &mut [f32], n: usize) {
    let fan_in = input.len() / n.max(1);
    for ((o_row, w_row), &bj) in out.chunks_exact_mut(n).zip(w.chunks_exact(fan_in)).zip(b) {
        let mut o_blocks = o_row.chunks_exact_mut(BLOCK);
        for (k, o) in (&mut o_blocks).enumerate() {
            let mut acc = [bj; BLOCK];
            for (&wji, a_row) in w_row.iter().zip(input.chunks_exact(n)) {
                if let Some(a) = a_row.get(k * BLOCK..(k + 1) * BLOCK) {
                    for (s, &v) in acc.iter_mut().zip(a) {
                        *s += wji * v;
                    }
                }
            }
            o.copy_from_slice(&acc);
        }
        let done = n - n % BLOCK;
        for (s, o) in o_blocks.into_remainder().iter_mut().enumerate() {
            let mut acc = bj;
            for (&wji, a_row) in w_row.iter().zip(input.chunks_exact(n)) {
                acc += wji * a_row.get(done + s).copied().unwrap_or(0.0);
            }
            *o = acc;
        }
    }
}

/// `gw[j][i] = Σ_s δ[j][s]·a[i][s]` ([`math::lane_dot`] order) for a `fan_out × fan_in`
/// row-major `gw` over unit-major `δ` and `a` of `n` samples, in register tiles of two
/// outputs × four inputs (and the 2 × 1, 1 × 4, 1 × 1 tiles at the edges): every
/// block of eight samples of a tile's six rows is loaded once for its eight sums.
#[inline(always)]
fn weight_gradient(gw: &mut [f32], d: &[f32], a: &[f32], fan_in: usize, n: usize) {
    let mut d_pairs = d.chunks_exact(2 * n);
    let mut g_pairs = gw.chunks_exact_mut(2 * fan_in);
    for (dd, gg) in (&mut d_pairs).zip(&mut g_pairs) {
        let (d0, d1) = dd.split_at(n);
        let (g0, g1) = gg.split_at_mut(fan_in);
        tile_row::<2>([d0, d1], [g0, g1], a, n);
    }
    if let (Some(d0), Some(g0)) = (
        d_pairs.remainder().get(..n),
        g_pairs.into_remainder().get_mut(..fan_in),
    ) {
        tile_row::<1>([d0], [g0], a, n);
    }
}

/// One row of tiles of [`weight_gradient`]: `R` outputs against every input, four at a time.
#[inline(always)]
fn tile_row<const R: usize>(d: [&[f32]; R], mut g: [&mut [f32]; R], a: &[f32], n: usize) {
    let mut a4 = a.chunks_exact(4 * n);
    let mut col = 0;
    for a in &mut a4 {
        let mut r = a.chunks_exact(n);
        if let (Some(a0), Some(a1), Some(a2), Some(a3)) = (r.next(), r.next(), r.next(), r.next()) {
            let t = math::lane_dot_tile(d, [a0, a1, a2, a3]);
            for (g, t) in g.iter_mut().zip(t) {
                if let Some(g) = g.get_mut(col..col + 4) {
                    g.copy_from_slice(&t);
                }
            }
        }
        col += 4;
    }
    for a_row in a4.remainder().chunks_exact(n) {
        let t = math::lane_dot_tile(d, [a_row]);
        for (g, [t]) in g.iter_mut().zip(t) {
            if let Some(g) = g.get_mut(col) {
                *g = t;
            }
        }
        col += 1;
    }
}

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
    if values.iter().all(|v| v.is_finite()) {
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
