//! Every allowed error of the test suite, with the reason for its size (R26).
//!
//! Properties and reference comparisons use these; golden tests compare bits and use none.
//! A tolerance is loosened only with a new reason here, never to make a failing test pass.

/// |core − reference| for a binning MI or entropy, in bits, when the reference sums
/// −p log₂ p class by class in its own order. Both sides count exactly and work in `f64`
/// over at most a few thousand terms of size ≤ log₂ N ≤ 32, so the rounding of either
/// side is below 1e-13; anything larger is a counting error, which moves a value by at
/// least 1/N · (log₂ of a count ratio) ≫ 1e-12.
pub const MI_ABS: f64 = 1e-12;

/// |value − closed form| in bits for the textbook cases (log₂ k for k equiprobable cells):
/// log₂ N − S/N rounds a handful of times, ≤ 1e-14; the slack covers the reference's own
/// per-class sums.
pub const CLOSED_FORM_ABS: f64 = 1e-12;

/// Step of the central finite differences, on `f64` parameters of an `f64` network.
/// The truncation error is h²·|L'''|/6 ≈ 1e-12 and the rounding error ε·|L|/h ≈ 1e-10,
/// both far below the f32 gradient's own error.
pub const FD_STEP: f64 = 1e-6;

/// Finite differences assume no ReLU/leaky kink between θ − h and θ + h: every hidden
/// pre-activation of a gradient fixture must stay this far from 0 (checked, not assumed).
pub const FD_KINK_MARGIN: f64 = 1e-3;

/// Relative part of |core gradient − finite difference|. The core runs forward and backward
/// in `f32` (ε = 1.2e-7) through up to six layers and a softmax, and tanh is within 3 ulp;
/// on the fixtures the worst relative error of entries above 1e-3 is 6e-6 (about 50 ε, from
/// cancellation in the batch sums `Σ_s δ·a`). 1e-4 leaves a margin of more than 10 while a
/// wrong derivative, sign or index is off by O(1).
pub const GRAD_REL: f64 = 1e-4;

/// Absolute part of the gradient tolerance, for entries that are ≈ 0 (dead `ReLU` units,
/// sums that cancel over the batch): measured worst 4.3e-8 on the fixtures, a few f32
/// roundings of terms of size ≤ 1 divided by the batch; typical entries are ≈ 1e-2.
pub const GRAD_ABS: f64 = 2e-7;

/// |f32 activation − f64 reference| relative to max(|value|, 1) for `evaluate` layer
/// outputs: each unit sums ≤ 5 products in f32 and applies an activation accurate to a few
/// ulp (tanh ≤ 3 ulp), over ≤ 3 layers; measured worst 4.1e-7 (3.5 ε) on the fixtures,
/// so 4e-6 gives a margin of 10.
pub const FORWARD_REL: f64 = 4e-6;

/// |f32 nll − f64 reference nll| in nats, relative to max(nll, 1): log-sum-exp in f32 over
/// ≤ 3 classes after the forward error above; measured worst 4.3e-7.
pub const NLL_REL: f64 = 4e-6;

/// |Σ softmax − 1| per sample, in units of `f32::EPSILON` per class: each of the k
/// probabilities is rounded once after the division (½ ulp) and summing k of them rounds k
/// more times.
pub const PROB_SUM_EPS_PER_CLASS: f32 = 2.0;

/// |f32 optimiser state (m, v, momentum) − f64 reference| relative to the sum of the
/// magnitudes of its two terms (β·m and (1−β)·g, or μ·v and η·g), for one step from the
/// same state: two products and a sum, each rounded to f32, bound it by 1.5 ε = 1.8e-7
/// (measured 1.1e-7); 1e-6 allows for the exactness of neither side's constants.
pub const OPT_STATE_REL: f64 = 1e-6;

/// |f32 parameter after the step − f64 reference| is allowed ½ ulp of the parameter (the
/// final rounding of θ − Δ) plus this much of the update's size (|Δ|, scaled up by
/// |terms of m| / |m| when Adam's m cancels): `lr_t` is rounded to f32 once, then a product,
/// a √, a sum and a quotient, about 5 roundings (measured worst 1.8e-7, so 2e-6 gives a
/// margin of 10).
pub const OPT_UPDATE_REL: f64 = 2e-6;

/// |core − f64 double loop| for a KDE per-row term (`a_i`, `b_i`, `c_i`), in nats. The
/// kernel's argument `D·s` carries the f32 rounding of the distance (≤ (d + 2)·2⁻²⁴ relative)
/// and of `s`, and `exp_neg` is within 1 ulp: the relative error of a row's sum is at most
/// the largest argument among the values that make it up times that, plus 1 ulp. Measured
/// ≤ 7.4e-8 on the fixtures (≤ 8.2e-8 on 4096×10 and 1.4e-9 on 10000×20 layers).
pub const KDE_TERM: f64 = 1e-6;

/// |core − f64 reference| for a KDE I(X;T) or I(T;Y), in bits: means and differences of
/// per-row terms each within [`KDE_TERM`] nats, so within `2·KDE_TERM/ln 2` ≈ 2.9e-6 bits in
/// the worst case; measured below 3e-7. The target is 1e-6 bits.
pub const KDE_MI_BITS: f64 = 1e-6;

/// The Gaussian limit of the KDE bounds from a 987-point Fibonacci lattice, in nats: the
/// error is the O(1/N) bias of the self term and of the lattice, measured 4.8e-4 here and
/// 1.4e-4 at N = 4181, 4e-5 at N = 17711.
pub const KDE_GAUSSIAN_LATTICE: f64 = 2e-3;

/// The Gaussian limit of the KDE bounds from 1500 pseudo-random draws, in nats: the sampling
/// error of a mean over N rows, about 0.02 at this size (measured over seeds at N = 1000 and
/// 4000).
pub const KDE_GAUSSIAN_RANDOM: f64 = 0.1;
