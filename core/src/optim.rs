//! Optimisers with their state in caller buffers (R8).

use crate::Error;
use crate::math;

/// A first-order optimiser and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Optimizer {
    /// Stochastic gradient descent, optionally with (Keras-style) momentum:
    /// v ← μv − ηg, θ ← θ + v; with μ = 0, θ ← θ − ηg.
    Sgd {
        /// Learning rate η.
        lr: f32,
        /// Momentum μ in [0, 1).
        momentum: f32,
    },
    /// Adam (Kingma & Ba 2015) as TensorFlow implements it:
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − `η_t` m / (√v + ε),
    /// `η_t` = η √(1−β₂ᵗ) / (1−β₁ᵗ) computed in f64 and rounded once.
    Adam {
        /// Learning rate η.
        lr: f32,
        /// β₁.
        beta1: f32,
        /// β₂.
        beta2: f32,
        /// ε.
        eps: f32,
    },
}

impl Optimizer {
    /// Adam with TensorFlow's defaults (β₁ 0.9, β₂ 0.999, ε 1e-8) and learning rate `lr`.
    #[must_use]
    pub const fn adam(lr: f32) -> Self {
        Self::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// `"adam"` or `"sgd"`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adam { .. } => "adam",
        }
    }

    /// The learning rate.
    #[must_use]
    pub const fn lr(&self) -> f32 {
        match *self {
            Self::Sgd { lr, .. } | Self::Adam { lr, .. } => lr,
        }
    }

    /// Plain SGD with learning rate `lr`.
    #[must_use]
    pub const fn sgd(lr: f32) -> Self {
        Self::Sgd { lr, momentum: 0.0 }
    }

    /// Checks every hyper-parameter is finite and in range. A learning rate of 0 is allowed:
    /// it freezes the weights (the control of the as-if-random experiment).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `lr`, `momentum`, `beta1`, `beta2` or `eps`.
    pub fn validate(&self) -> Result<(), Error> {
        let ok = |v: f32, lo: f32, hi: f32, name| {
            if v.is_finite() && v >= lo && v < hi {
                Ok(())
            } else {
                Err(Error::InvalidParameter { name })
            }
        };
        let rate = |lr: f32| {
            if lr == 0.0 {
                Ok(())
            } else {
                ok(lr, f32::MIN_POSITIVE, f32::MAX, "lr")
            }
        };
        match *self {
            Self::Sgd { lr, momentum } => {
                rate(lr)?;
                ok(momentum, 0.0, 1.0, "momentum")
            }
            Self::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                rate(lr)?;
                ok(beta1, 0.0, 1.0, "beta1")?;
                ok(beta2, 0.0, 1.0, "beta2")?;
                ok(eps, 0.0, f32::MAX, "eps")
            }
        }
    }

    /// `f32` state this optimiser keeps for `param_len` parameters: 0 for plain SGD,
    /// `param_len` for momentum, `2·param_len` for Adam (m then v).
    #[must_use]
    pub const fn state_len(&self, param_len: usize) -> usize {
        match *self {
            Self::Sgd { momentum, .. } => {
                if momentum > 0.0 {
                    param_len
                } else {
                    0
                }
            }
            Self::Adam { .. } => param_len.saturating_mul(2),
        }
    }

    /// One update of `params` from `grads`. `step` counts updates from 1 (Adam's t).
    /// The caller zeroes `state` before the first step.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `grads` or `state` do not match `params`;
    /// [`Error::InvalidParameter`] `"step"` for `step == 0`; [`Error::NonFinite`] for a
    /// non-finite gradient; [`Error::Overflow`] if a parameter or the optimiser state overflows (both are
    /// then unspecified).
    ///
    /// # Complexity
    /// `O(param_len)`.
    pub fn step(
        &self,
        step: u64,
        params: &mut [f32],
        grads: &[f32],
        state: &mut [f32],
    ) -> Result<(), Error> {
        let n = params.len();
        if grads.len() != n {
            return Err(Error::ShapeMismatch {
                expected: n,
                got: grads.len(),
            });
        }
        let need = self.state_len(n);
        if state.len() != need {
            return Err(Error::ShapeMismatch {
                expected: need,
                got: state.len(),
            });
        }
        if step == 0 {
            return Err(Error::InvalidParameter { name: "step" });
        }
        crate::error::check_finite(grads)?;
        match *self {
            Self::Sgd { lr, momentum } => {
                if need == 0 {
                    params
                        .iter_mut()
                        .zip(grads)
                        .for_each(|(p, &g)| *p -= lr * g);
                } else {
                    for ((p, &g), v) in params.iter_mut().zip(grads).zip(state.iter_mut()) {
                        *v = momentum * *v - lr * g;
                        *p += *v;
                    }
                }
            }
            Self::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                #[allow(clippy::cast_precision_loss)] // t beyond 2^53 steps is not a real run
                let t = step as f64;
                let b1t = math::pow_f64(f64::from(beta1), t);
                let b2t = math::pow_f64(f64::from(beta2), t);
                #[allow(clippy::cast_possible_truncation)] // rounding to f32 intended
                let lr_t = (f64::from(lr) * math::sqrt_f64(1.0 - b2t) / (1.0 - b1t)) as f32;
                let (m, v) = state.split_at_mut(n);
                let (c1, c2) = (1.0 - beta1, 1.0 - beta2);
                for (((p, &g), m), v) in params
                    .iter_mut()
                    .zip(grads)
                    .zip(m.iter_mut())
                    .zip(v.iter_mut())
                {
                    *m = beta1 * *m + c1 * g;
                    *v = beta2 * *v + c2 * (g * g);
                    *p -= lr_t * *m / (math::sqrt(*v) + eps);
                }
            }
        }
        // The state is checked too: an overflowing g² makes v infinite while the update
        // m / √v rounds to 0 and leaves the parameters finite.
        if crate::error::all_finite(params) && crate::error::all_finite(state) {
            Ok(())
        } else {
            Err(Error::Overflow)
        }
    }
}
