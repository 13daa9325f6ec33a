//! Hidden-layer activation functions and their derivatives.

use crate::math;

/// Slope of [`Activation::LeakyRelu`] for negative inputs (`PyTorch`'s default).
pub const LEAKY_SLOPE: f32 = 0.01;

/// A hidden-layer nonlinearity. The output layer is always a softmax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Activation {
    /// tanh, by the deterministic [`math::tanh`] (≤ 3 ulp).
    Tanh,
    /// max(z, 0).
    Relu,
    /// 1 / (1 + e^{−z}).
    Sigmoid,
    /// z.
    Linear,
    /// z for z > 0, [`LEAKY_SLOPE`]·z otherwise.
    LeakyRelu,
    /// z / (1 + |z|).
    Softsign,
    /// ln(1 + e^z).
    Softplus,
}

impl Activation {
    /// Every activation, in a fixed order.
    pub const ALL: [Activation; 7] = [
        Self::Tanh,
        Self::Relu,
        Self::Sigmoid,
        Self::Linear,
        Self::LeakyRelu,
        Self::Softsign,
        Self::Softplus,
    ];

    /// The lowercase name used on the command line and in manifests.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Sigmoid => "sigmoid",
            Self::Linear => "linear",
            Self::LeakyRelu => "leaky-relu",
            Self::Softsign => "softsign",
            Self::Softplus => "softplus",
        }
    }

    /// Parses a name produced by [`Activation::name`] (also accepts `leaky_relu`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "leaky_relu" {
            return Some(Self::LeakyRelu);
        }
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Applies the activation to every element in place.
    #[inline(always)]
    pub fn apply(self, values: &mut [f32]) {
        match self {
            Self::Tanh => math::tanh_slice(values),
            Self::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Self::Sigmoid => values.iter_mut().for_each(|v| *v = math::sigmoid(*v)),
            Self::Linear => {}
            Self::LeakyRelu => {
                values
                    .iter_mut()
                    .for_each(|v| *v = if *v > 0.0 { *v } else { *v * LEAKY_SLOPE });
            }
            Self::Softsign => values.iter_mut().for_each(|v| *v /= 1.0 + math::abs(*v)),
            Self::Softplus => values.iter_mut().for_each(|v| *v = math::softplus(*v)),
        }
    }

    /// [`Activation::apply`] with tanh's branch decided for blocks of 16 elements when
    /// `wide` (one AVX-512 vector), else 8; the same bits either way.
    #[inline(always)]
    pub fn apply_at(self, values: &mut [f32], wide: bool) {
        match self {
            Self::Tanh if wide => math::tanh_slice_blocks::<16>(values),
            _ => self.apply(values),
        }
    }

    /// Multiplies each `grad` element by the derivative at the matching pre-activation,
    /// expressed through the activation's *output* `out` (so the pre-activations need not be
    /// kept): tanh' = 1 − a², sigmoid' = a(1 − a), softsign' = (1 − |a|)²,
    /// softplus' = 1 − e^{−a}, relu' and leaky' from the sign of a.
    #[inline(always)]
    pub fn backprop(self, out: &[f32], grad: &mut [f32]) {
        let pairs = grad.iter_mut().zip(out);
        match self {
            Self::Tanh => {
                for (g, &a) in pairs {
                    *g *= 1.0 - a * a;
                }
            }
            Self::Relu => pairs.for_each(|(g, &a)| *g = if a > 0.0 { *g } else { 0.0 }),
            Self::Sigmoid => pairs.for_each(|(g, &a)| *g *= a * (1.0 - a)),
            Self::Linear => {}
            Self::LeakyRelu => {
                pairs.for_each(|(g, &a)| *g *= if a > 0.0 { 1.0 } else { LEAKY_SLOPE });
            }
            Self::Softsign => pairs.for_each(|(g, &a)| {
                let d = 1.0 - math::abs(a);
                *g *= d * d;
            }),
            Self::Softplus => pairs.for_each(|(g, &a)| *g *= 1.0 - math::exp(-a)),
        }
    }
}
