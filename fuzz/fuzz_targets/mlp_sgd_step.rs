//! `MlpPlan::gradient` then `Optimizer::step` on small random networks, plus
//! `MlpPlan::evaluate` on the same data.
//!
//! Properties (STYLE R6, R11, R27):
//! * no panic for any shape, activation, batch, row list, labels, data or optimiser;
//! * the same gradient (and evaluate output) bits with zero-filled and NaN-poisoned `f32`
//!   scratch, and whatever the gradient buffer held before (every element is written);
//! * `scratch_len()` suffices: one element less is `ScratchTooSmall`, more is never touched;
//! * `Ok` gradients, activations, losses, updated parameters and optimiser state are finite
//!   (core reports overflow as `Error::Overflow`, R17);
//! * when an a-priori bound on every activation and gradient (from the widths, the largest
//!   input and parameter, and the activation) is below 1e15, nothing reports `Overflow`.
//!   Deep linear or relu nets with large weights can
//!   exceed f32's range legitimately, so outside that regime overflow is allowed (see
//!   `finite_regime`).
#![no_main]

use arbitrary::Arbitrary;
use infoplane_core::{Activation, Error, MatRef, MlpPlan, MlpShape, Optimizer};
use libfuzzer_sys::{Corpus, fuzz_target};

/// Sentinel written past `scratch_len()`; its bits must survive the call.
const TAIL: f32 = -12_345.678;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Layer widths, input first; each taken mod 7 (0 is a shape the plan must reject).
    widths: Vec<u8>,
    activation: u8,
    batch: u8,
    /// Number of data rows, mod 24.
    n_rows: u8,
    /// Row indices of the batch; taken mod `n_rows + 2`, so some point past the end.
    rows: Vec<u8>,
    /// Labels; taken mod `output width + 1`, so some are out of range.
    labels: Vec<u8>,
    /// Inputs as k / 256 (|x| < 128), cycled.
    x: Vec<i16>,
    /// Parameters as k / 4096 (|p| < 8), cycled.
    params: Vec<i16>,
    opt: Opt,
    step: u8,
}

#[derive(Debug, Arbitrary)]
enum Opt {
    /// lr = k / 65536 (< 1), momentum = m / 256 (< 1).
    Sgd { lr: u16, momentum: u8 },
    /// lr = k / 65536, β₁ = a / 256, β₂ = b / 256, ε = 10^(−e mod 10).
    Adam { lr: u16, b1: u8, b2: u8, eps: u8 },
}

impl Opt {
    fn get(&self) -> Optimizer {
        match *self {
            Self::Sgd { lr, momentum } => Optimizer::Sgd {
                lr: f32::from(lr) / 65_536.0,
                momentum: f32::from(momentum) / 256.0,
            },
            Self::Adam { lr, b1, b2, eps } => Optimizer::Adam {
                lr: f32::from(lr) / 65_536.0,
                beta1: f32::from(b1) / 256.0,
                beta2: f32::from(b2) / 256.0,
                eps: [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
                    [usize::from(eps % 10)],
            },
        }
    }
}

fn cycled<T: Copy, U: Copy>(src: &[T], len: usize, map: impl Fn(T) -> U, zero: U) -> Vec<U> {
    if src.is_empty() {
        return vec![zero; len];
    }
    src.iter().cycle().take(len).map(|&v| map(v)).collect()
}

fn to_bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `plan.gradient` with scratch of `scratch_len() + extra` filled with `fill` and the
/// gradient buffer pre-filled with `grad_fill`.
#[allow(clippy::too_many_arguments)] // the kernel's inputs, two fill patterns and the tail length
fn gradient(
    plan: &MlpPlan,
    params: &[f32],
    x: MatRef<'_>,
    labels: &[u32],
    rows: &[u32],
    fill: f32,
    grad_fill: f32,
    extra: usize,
) -> Result<Vec<f32>, Error> {
    let len = plan.scratch_len();
    let mut scratch = vec![fill; len + extra];
    scratch[len..].fill(TAIL);
    let mut grads = vec![grad_fill; plan.shape().param_len()];
    let r = plan.gradient(params, x, labels, rows, &mut grads, &mut scratch);
    assert!(
        scratch[len..].iter().all(|v| v.to_bits() == TAIL.to_bits()),
        "gradient wrote past scratch_len()"
    );
    r.map(|()| grads)
}

/// Whether every activation and every gradient component is provably below 1e15 in
/// magnitude, so that f32 arithmetic (including Adam's g²) cannot overflow.
///
/// Forward: |a_l| ≤ fan_in·P·|a_{l−1}| + P for unbounded activations (softplus(z) ≤ |z| + 1
/// adds one), ≤ 1 for tanh, sigmoid and softsign. Backward: the output delta is ≤ 1/n per
/// sample and each layer multiplies it by at most fan_out·P (every derivative is ≤ 1); a
/// weight gradient sums n samples of delta × activation.
fn finite_regime(widths: &[u32], act: Activation, x_max: f32, p_max: f32, n: usize) -> bool {
    const LIMIT: f64 = 1e15;
    let bounded = matches!(
        act,
        Activation::Tanh | Activation::Sigmoid | Activation::Softsign
    );
    let (x_max, p_max) = (f64::from(x_max), f64::from(p_max));
    let mut a = vec![x_max.max(1.0)];
    for (l, pair) in widths.windows(2).enumerate() {
        let z = f64::from(pair[0]) * p_max * a[l] + p_max + 1.0;
        let hidden = l + 2 < widths.len();
        a.push(if hidden && bounded { 1.0 } else { z });
    }
    let mut delta = 1.0f64;
    let mut worst = a.iter().copied().fold(0.0, f64::max);
    for (l, pair) in widths.windows(2).enumerate().rev() {
        worst = worst.max(n as f64 * delta * a[l].max(1.0));
        delta *= f64::from(pair[1]) * p_max.max(1.0);
    }
    worst.is_finite() && worst < LIMIT
}

fuzz_target!(|input: Input| -> Corpus {
    let widths: Vec<u32> = input.widths.iter().map(|&w| u32::from(w % 7)).collect();
    let activation = Activation::ALL[usize::from(input.activation) % Activation::ALL.len()];
    let Ok(shape) = MlpShape::new(&widths, activation) else {
        return Corpus::Reject;
    };
    let Ok(plan) = MlpPlan::new(shape, usize::from(input.batch % 20)) else {
        assert_eq!(input.batch % 20, 0, "plan rejected a nonzero batch");
        return Corpus::Reject;
    };
    let shape = plan.shape();
    let (n_in, n_out) = (shape.input_width(), shape.output_width());
    let n_rows = usize::from(input.n_rows % 24);
    let x_data = cycled(&input.x, n_rows * n_in, |k| f32::from(k) / 256.0, 0.0);
    let Ok(x) = MatRef::new(&x_data, n_rows, n_in) else {
        unreachable!("x has n_rows × n_in values by construction");
    };
    let out_mod = u8::try_from(n_out + 1).unwrap_or(u8::MAX);
    let labels = cycled(&input.labels, n_rows, |l| u32::from(l % out_mod), 0);
    let row_mod = u8::try_from(n_rows + 2).unwrap_or(u8::MAX);
    let rows: Vec<u32> = input.rows.iter().map(|&r| u32::from(r % row_mod)).collect();
    let params = cycled(
        &input.params,
        shape.param_len(),
        |k| f32::from(k) / 4096.0,
        0.0,
    );

    // Gradient: zero vs NaN-poisoned scratch, NaN vs zero gradient buffer.
    let clean = gradient(&plan, &params, x, &labels, &rows, 0.0, 0.0, 0);
    let poisoned = gradient(&plan, &params, x, &labels, &rows, f32::NAN, f32::NAN, 5);
    assert_eq!(
        clean.as_ref().map(|g| to_bits(g)),
        poisoned.as_ref().map(|g| to_bits(g)),
        "gradient depends on scratch or on the old gradient buffer"
    );
    if clean.is_ok() {
        let mut short = vec![0.0f32; plan.scratch_len() - 1];
        let mut g = vec![0.0f32; shape.param_len()];
        assert!(
            matches!(
                plan.gradient(&params, x, &labels, &rows, &mut g, &mut short),
                Err(Error::ScratchTooSmall { .. })
            ),
            "short scratch accepted"
        );
    }

    let x_max = x_data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let p_max = params.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let finite = finite_regime(shape.widths(), activation, x_max, p_max, rows.len().max(1));
    if finite {
        // In this regime nothing overflows, so neither kernel may report Overflow.
        assert!(
            !matches!(clean, Err(Error::Overflow)),
            "gradient overflow where none is possible"
        );
    }

    // Optimiser step on the clean gradient.
    if let Ok(grads) = &clean {
        // Core reports a non-finite gradient as Error::Overflow (R17), so Ok means finite.
        assert!(
            grads.iter().all(|g| g.is_finite()),
            "Ok with a non-finite gradient"
        );
        let opt = input.opt.get();
        let mut p = params.clone();
        let mut state = vec![0.0f32; opt.state_len(p.len())];
        match opt.step(u64::from(input.step), &mut p, grads, &mut state) {
            Ok(()) => {
                assert!(
                    p.iter().all(|v| v.is_finite()),
                    "Ok with non-finite parameters"
                );
                // Adam's second moment g² overflows for |g| > 1.8e19 while the parameters
                // stay finite (m / √∞ = 0); `step` must report that as Overflow (the
                // `adam-second-moment-overflow` seed was this bug).
                assert!(
                    state.iter().all(|v| v.is_finite()),
                    "Ok with non-finite state"
                );
            }
            Err(Error::InvalidParameter { name: "step" }) => assert_eq!(input.step, 0),
            Err(Error::Overflow) => assert!(!finite, "overflow where none is possible"),
            Err(e) => panic!("unexpected step error {e:?}"),
        }
    }

    // Evaluate every row: poisoned scratch and output buffers give the same bits.
    let act_len = n_rows * shape.activation_len();
    let eval = |fill: f32| {
        let mut scratch = vec![fill; plan.scratch_len()];
        let mut layers = vec![fill; act_len];
        let mut nll = vec![fill; n_rows];
        plan.evaluate(&params, x, &labels, &mut layers, &mut nll, &mut scratch)
            .map(|()| (to_bits(&layers), to_bits(&nll)))
    };
    let (e0, e1) = (eval(0.0), eval(f32::NAN));
    assert_eq!(e0, e1, "evaluate depends on scratch or output contents");
    match &e0 {
        Ok((layers, nll)) => assert!(
            layers
                .iter()
                .chain(nll)
                .all(|&b| f32::from_bits(b).is_finite()),
            "Ok with non-finite activations or loss"
        ),
        Err(Error::Overflow) => assert!(!finite, "evaluate overflow where none is possible"),
        Err(_) => {}
    }
    Corpus::Keep
});
