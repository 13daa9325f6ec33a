//! Slow, obviously correct reference implementations of the core kernels (R26).
//!
//! Each one follows the definition in `SPEC.md` as literally as possible, with maps and
//! `f64` arithmetic, and shares no code with the kernel it checks except the libm functions
//! behind [`infoplane_core::math`]. The integration tests first check these against closed
//! forms, then use them as the control for the fast kernels on seeded random inputs.
//!
//! Functions return `None` for inputs outside what they model (a `#[non_exhaustive]` enum
//! variant added later, or mismatched lengths) rather than panicking.

use infoplane_core::act::LEAKY_SLOPE;
use infoplane_core::math::{log2_f64, pow_f64, sqrt_f64};
use infoplane_core::{Activation, BinRule, Optimizer};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------
// Binning
// ---------------------------------------------------------------------------------------

/// `numpy.linspace(lo, hi, n)` in `f64` (k·step + lo, the last point exactly `hi`), each
/// point rounded to `f32`: the bin edges of [`BinRule::Edges`]. Empty for `n < 2`.
#[must_use]
pub fn linspace_f32(lo: f32, hi: f32, n: u32) -> Vec<f32> {
    if n < 2 {
        return Vec::new();
    }
    let (lo64, hi64) = (f64::from(lo), f64::from(hi));
    let step = (hi64 - lo64) / f64::from(n - 1);
    (0..n)
        .map(|k| {
            if k + 1 == n {
                hi
            } else {
                #[allow(clippy::cast_possible_truncation)]
                // rounding the edge to f32 is the definition
                let e = (f64::from(k) * step + lo64) as f32;
                e
            }
        })
        .collect()
}

/// `numpy.digitize(v, edges)` for increasing edges: the number of edges ≤ `v`, by a plain
/// scan.
#[must_use]
pub fn digitize(edges: &[f32], v: f32) -> usize {
    edges.iter().filter(|&&e| e <= v).count()
}

/// How the reference maps one value to its bin symbol.
#[derive(Debug, Clone, PartialEq)]
pub enum RefBinner {
    /// Explicit edges; `idnns` selects IDNNs-compatibility mode.
    Edges {
        /// The `f32` edges, increasing.
        edges: Vec<f32>,
        /// IDNNs-compatibility mode.
        idnns: bool,
    },
    /// ⌊v / size⌋ in `f32`.
    Size {
        /// Bin size.
        size: f32,
    },
}

impl RefBinner {
    /// The binner for `rule` on the layer `t` (whose min and max set the edges of
    /// [`BinRule::LayerRange`]); `None` for a rule this reference does not know.
    #[must_use]
    pub fn new(rule: BinRule, t: &[f32]) -> Option<Self> {
        match rule {
            BinRule::Edges {
                n_edges,
                lo,
                hi,
                idnns,
            } => Some(Self::Edges {
                edges: linspace_f32(lo, hi, n_edges),
                idnns,
            }),
            BinRule::LayerRange { n_edges } => {
                let lo = t.iter().copied().reduce(f32::min)?;
                let hi = t.iter().copied().reduce(f32::max)?;
                Some(Self::Edges {
                    edges: linspace_f32(lo, hi, n_edges),
                    idnns: false,
                })
            }
            BinRule::Size { size } => Some(Self::Size { size }),
            _ => None,
        }
    }

    /// The bin symbol of `v`.
    ///
    /// With `c` = [`digitize`]`(edges, v)` and `n` edges: default mode gives
    /// `clamp(c, 1, n − 1) − 1` (values clipped to [lo, hi], hi in the last interval);
    /// IDNNs mode gives `n` for `c = 0` (numpy's index −1 wraps to the last edge, the cell
    /// of v ≥ hi) and `c` otherwise. Size mode gives ⌊v / size⌋ computed in `f32`.
    #[must_use]
    pub fn symbol(&self, v: f32) -> i64 {
        match self {
            Self::Edges { edges, idnns } => {
                let n = i64::try_from(edges.len()).unwrap_or(i64::MAX);
                let c = i64::try_from(digitize(edges, v)).unwrap_or(i64::MAX);
                if *idnns {
                    if c == 0 { n } else { c }
                } else {
                    c.clamp(1, n - 1) - 1
                }
            }
            Self::Size { size } => {
                #[allow(clippy::cast_possible_truncation)]
                // test layers are small; `as` saturates otherwise
                let b = libm::floorf(v / *size) as i64;
                b
            }
        }
    }
}

/// Each row's bin vector for the `d`-unit layer `t` (row-major), or `None` for an unknown
/// rule or `d = 0`.
#[must_use]
pub fn bin_rows(t: &[f32], d: usize, rule: BinRule) -> Option<Vec<Vec<i64>>> {
    if d == 0 {
        return None;
    }
    let binner = RefBinner::new(rule, t)?;
    Some(
        t.chunks(d)
            .map(|row| row.iter().map(|&v| binner.symbol(v)).collect())
            .collect(),
    )
}

/// Entropies and informations of one layer from the reference, all in bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinningReference {
    /// Number of distinct binned rows.
    pub distinct_t: usize,
    /// H(T).
    pub h_t: f64,
    /// H(Y).
    pub h_y: f64,
    /// H(X) (log₂ N when every sample is its own input).
    pub h_x: f64,
    /// H(T|Y) = `Σ_y p(y) H(T|Y=y)`.
    pub h_t_given_y: f64,
    /// H(T|X) = `Σ_x p(x) H(T|X=x)`.
    pub h_t_given_x: f64,
    /// I(X;T) = H(T) − H(T|X) (not clamped).
    pub i_xt: f64,
    /// I(T;Y) = H(T) − H(T|Y) (not clamped).
    pub i_ty: f64,
}

/// −Σ p log₂ p over `counts`, p = count / total, summed in the map's order.
fn entropy<'a>(counts: impl Iterator<Item = &'a u64>, total: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // counts < 2^53
    let total = total as f64;
    counts
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / total;
            -p * log2_f64(p)
        })
        .sum()
}

/// `Σ_g p(g) H(T | G = g)`, each group with its own count `N_g`.
fn conditional_entropy<K: Ord + Clone>(symbols: &[usize], groups: &[K]) -> f64 {
    let mut by_group: BTreeMap<K, BTreeMap<usize, u64>> = BTreeMap::new();
    for (&s, g) in symbols.iter().zip(groups) {
        *by_group.entry(g.clone()).or_default().entry(s).or_default() += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = symbols.len() as f64;
    by_group
        .values()
        .map(|counts| {
            let n_g: u64 = counts.values().sum();
            #[allow(clippy::cast_precision_loss)]
            let p_g = n_g as f64 / n;
            p_g * entropy(counts.values(), n_g)
        })
        .sum()
}

/// Numbers the distinct bin vectors (through a `BTreeMap` keyed by the whole vector), so
/// the counting below works on small keys: row i gets the number of its vector.
fn intern(symbols: &[Vec<i64>]) -> Vec<usize> {
    let mut index: BTreeMap<&[i64], usize> = BTreeMap::new();
    symbols
        .iter()
        .map(|s| {
            let next = index.len();
            *index.entry(s.as_slice()).or_insert(next)
        })
        .collect()
}

/// H of the empirical distribution of `values`.
fn value_entropy<K: Ord>(values: &[K]) -> f64 {
    let mut counts: BTreeMap<&K, u64> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    entropy(counts.values(), values.len() as u64)
}

/// The plug-in binning estimate by the definitions of `SPEC.md`: each row's bin vector is
/// one symbol, counted in a `BTreeMap`; H(T), H(T|Y) class by class with each class's own
/// `N_y`, H(T|X) input group by input group (`x_ids = None`: every sample a distinct input,
/// so H(T|X) = 0).
///
/// `None` for an unknown rule, `d = 0`, no rows, or lengths that disagree.
#[must_use]
pub fn binning_mi(
    t: &[f32],
    d: usize,
    labels: &[u32],
    x_ids: Option<&[u32]>,
    rule: BinRule,
) -> Option<BinningReference> {
    let symbols = bin_rows(t, d, rule)?;
    if t.len() != symbols.len() * d {
        return None;
    }
    symbols_mi(&symbols, labels, x_ids)
}

/// [`binning_mi`] from rows already binned by [`bin_rows`] (to reuse one binning for
/// several label sets). `None` for no rows or lengths that disagree.
#[must_use]
pub fn symbols_mi(
    symbols: &[Vec<i64>],
    labels: &[u32],
    x_ids: Option<&[u32]>,
) -> Option<BinningReference> {
    let n = symbols.len();
    if n == 0 || labels.len() != n || x_ids.is_some_and(|x| x.len() != n) {
        return None;
    }
    let ids = intern(symbols);
    let counts = key_counts(ids.iter());
    let h_t = entropy(counts.values(), n as u64);
    let h_y = value_entropy(labels);
    let h_t_given_y = conditional_entropy(&ids, labels);
    let (h_x, h_t_given_x) = match x_ids {
        Some(x) => (value_entropy(x), conditional_entropy(&ids, x)),
        #[allow(clippy::cast_precision_loss)]
        None => (log2_f64(n as f64), 0.0),
    };
    Some(BinningReference {
        distinct_t: counts.len(),
        h_t,
        h_y,
        h_x,
        h_t_given_y,
        h_t_given_x,
        i_xt: h_t - h_t_given_x,
        i_ty: h_t - h_t_given_y,
    })
}

/// `S = Σ_c m_c · (c log₂ c)` over the count values c ascending (`m_c` = how many keys
/// occur c times; c = 1 adds nothing), in `f64`: the documented summation of
/// [`infoplane_core::binning`].
#[must_use]
pub fn count_sum<'a>(counts: impl Iterator<Item = &'a u64>) -> f64 {
    let mut hist: BTreeMap<u64, u64> = BTreeMap::new();
    for &c in counts {
        *hist.entry(c).or_default() += 1;
    }
    let mut s = 0.0f64;
    for (&c, &m) in hist.range(2..) {
        #[allow(clippy::cast_precision_loss)] // counts < 2^32
        let (cf, mf) = (c as f64, m as f64);
        s += mf * (cf * log2_f64(cf));
    }
    s
}

fn key_counts<K: Ord>(keys: impl Iterator<Item = K>) -> BTreeMap<K, u64> {
    let mut counts = BTreeMap::new();
    for k in keys {
        *counts.entry(k).or_default() += 1;
    }
    counts
}

/// (I(X;T), I(T;Y)) in bits by the core's documented formula, from map-based counts:
/// `H(T) = (N log₂N − S_T)/N`, `I(T;Y) = max(H(T) − (S_Y − S_TY)/N, 0)`,
/// `I(X;T) = max(H(T) − (S_X − S_TX)/N, 0)` with `S_X = S_TX = 0` when `x_ids` is `None`,
/// every S by [`count_sum`]. Any correct counting gives the same bits as the core.
///
/// `None` under the same conditions as [`binning_mi`].
#[must_use]
pub fn binning_mi_formula(
    t: &[f32],
    d: usize,
    labels: &[u32],
    x_ids: Option<&[u32]>,
    rule: BinRule,
) -> Option<(f64, f64)> {
    let symbols = bin_rows(t, d, rule)?;
    if t.len() != symbols.len() * d {
        return None;
    }
    symbols_mi_formula(&symbols, labels, x_ids)
}

/// [`binning_mi_formula`] from rows already binned by [`bin_rows`].
#[must_use]
pub fn symbols_mi_formula(
    symbols: &[Vec<i64>],
    labels: &[u32],
    x_ids: Option<&[u32]>,
) -> Option<(f64, f64)> {
    let n = symbols.len();
    if n == 0 || labels.len() != n || x_ids.is_some_and(|x| x.len() != n) {
        return None;
    }
    let ids = intern(symbols);
    let s_t = count_sum(key_counts(ids.iter()).values());
    let s_y = count_sum(key_counts(labels.iter()).values());
    let s_ty = count_sum(key_counts(ids.iter().zip(labels)).values());
    let (s_x, s_tx) = match x_ids {
        Some(x) => (
            count_sum(key_counts(x.iter()).values()),
            count_sum(key_counts(ids.iter().zip(x)).values()),
        ),
        None => (0.0, 0.0),
    };
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    let h_t = (nf * log2_f64(nf) - s_t) / nf;
    Some((
        (h_t - (s_x - s_tx) / nf).max(0.0),
        (h_t - (s_y - s_ty) / nf).max(0.0),
    ))
}

// ---------------------------------------------------------------------------------------
// MLP
// ---------------------------------------------------------------------------------------

/// A hidden activation in `f64`, from its mathematical definition (libm for tanh, exp and
/// log1p); `None` for an activation this reference does not know.
#[must_use]
pub fn activation_f64(a: Activation, z: f64) -> Option<f64> {
    Some(match a {
        Activation::Tanh => libm::tanh(z),
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + libm::exp(-z)),
        Activation::Linear => z,
        Activation::LeakyRelu => {
            if z > 0.0 {
                z
            } else {
                f64::from(LEAKY_SLOPE) * z
            }
        }
        Activation::Softsign => z / (1.0 + z.abs()),
        // ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), which cannot overflow.
        Activation::Softplus => z.max(0.0) + libm::log1p(libm::exp(-z.abs())),
        _ => return None,
    })
}

/// The result of [`mlp_forward_f64`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpForward {
    /// For each weight layer in turn, its `rows × width` outputs row-major (hidden
    /// activations, then the softmax probabilities last).
    pub layers: Vec<Vec<f64>>,
    /// Each row's cross-entropy `−ln softmax(z)[y]`, in nats.
    pub nll: Vec<f64>,
    /// The smallest |pre-activation| of any hidden unit over all rows: how close the
    /// inputs come to a `ReLU` kink.
    pub min_abs_hidden_preactivation: f64,
}

/// Forward pass of the network with `widths` (input first), hidden activation `hidden`
/// and `f64` parameters in core's layout (per layer: W as `fan_out × fan_in` row-major, then
/// b), on the rows of `x` (`rows × widths[0]`), one sample at a time. The output is a
/// softmax computed with log-sum-exp: `p_j = exp(z_j − lse)`, `nll = lse − z_y`.
///
/// `None` if a length disagrees, a label is out of range or the activation is unknown.
#[must_use]
pub fn mlp_forward_f64(
    widths: &[u32],
    hidden: Activation,
    params: &[f64],
    x: &[f32],
    labels: &[u32],
) -> Option<MlpForward> {
    let dims: Vec<(usize, usize)> = widths
        .windows(2)
        .filter_map(|w| match *w {
            [a, b] => Some((a as usize, b as usize)),
            _ => None,
        })
        .collect();
    let n_in = *widths.first()? as usize;
    let n_out = *widths.last()? as usize;
    let want: usize = dims.iter().map(|&(i, o)| (i + 1) * o).sum();
    if dims.is_empty() || params.len() != want || n_in == 0 || x.len() != labels.len() * n_in {
        return None;
    }
    let mut layers: Vec<Vec<f64>> = dims
        .iter()
        .map(|&(_, o)| Vec::with_capacity(o * labels.len()))
        .collect();
    let mut nll = Vec::with_capacity(labels.len());
    let mut min_abs = f64::INFINITY;
    for (row, &y) in x.chunks(n_in).zip(labels) {
        let mut a: Vec<f64> = row.iter().copied().map(f64::from).collect();
        let mut offset = 0;
        for (l, &(fan_in, fan_out)) in dims.iter().enumerate() {
            let w = params.get(offset..offset + fan_in * fan_out)?;
            let b = params.get(offset + fan_in * fan_out..offset + (fan_in + 1) * fan_out)?;
            offset += (fan_in + 1) * fan_out;
            let z: Vec<f64> = w
                .chunks(fan_in)
                .zip(b)
                .map(|(w_row, &bj)| {
                    bj + w_row
                        .iter()
                        .zip(&a)
                        .map(|(&wji, &ai)| wji * ai)
                        .sum::<f64>()
                })
                .collect();
            if l + 1 < dims.len() {
                min_abs = z.iter().fold(min_abs, |m, v| m.min(v.abs()));
                a = z
                    .iter()
                    .map(|&v| activation_f64(hidden, v))
                    .collect::<Option<Vec<f64>>>()?;
            } else {
                let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + libm::log(z.iter().map(|&v| libm::exp(v - m)).sum::<f64>());
                if y as usize >= n_out {
                    return None;
                }
                let zy = *z.get(y as usize)?;
                nll.push(lse - zy);
                a = z.iter().map(|&v| libm::exp(v - lse)).collect();
            }
            layers.get_mut(l)?.extend_from_slice(&a);
        }
    }
    Some(MlpForward {
        layers,
        nll,
        min_abs_hidden_preactivation: min_abs,
    })
}

/// Mean cross-entropy (nats) of [`mlp_forward_f64`] over all rows.
#[must_use]
pub fn mlp_loss_f64(
    widths: &[u32],
    hidden: Activation,
    params: &[f64],
    x: &[f32],
    labels: &[u32],
) -> Option<f64> {
    let f = mlp_forward_f64(widths, hidden, params, x, labels)?;
    #[allow(clippy::cast_precision_loss)]
    let n = f.nll.len() as f64;
    Some(f.nll.iter().sum::<f64>() / n)
}

/// Central finite differences `(L(θ + h e_i) − L(θ − h e_i)) / 2h` of [`mlp_loss_f64`] with
/// respect to every parameter, at the `f32` parameters widened to `f64`.
#[must_use]
pub fn finite_difference_gradient(
    widths: &[u32],
    hidden: Activation,
    params: &[f32],
    x: &[f32],
    labels: &[u32],
    h: f64,
) -> Option<Vec<f64>> {
    let mut p: Vec<f64> = params.iter().copied().map(f64::from).collect();
    (0..p.len())
        .map(|i| {
            let orig = *p.get(i)?;
            *p.get_mut(i)? = orig + h;
            let up = mlp_loss_f64(widths, hidden, &p, x, labels)?;
            *p.get_mut(i)? = orig - h;
            let down = mlp_loss_f64(widths, hidden, &p, x, labels)?;
            *p.get_mut(i)? = orig;
            Some((up - down) / (2.0 * h))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Optimisers
// ---------------------------------------------------------------------------------------

/// One optimiser update in `f64`, with the `f32` hyper-parameters of `opt` widened exactly.
/// `state` has core's layout: empty for plain SGD, the velocity for momentum, m then v for
/// Adam.
///
/// * SGD: θ ← θ − ηg; with momentum μ > 0: v ← μv − ηg, θ ← θ + v.
/// * Adam (Kingma & Ba 2015, TensorFlow form): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
///   θ ← θ − η √(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε).
///
/// `None` for an unknown optimiser, `step = 0` or lengths that disagree.
#[must_use]
pub fn optimizer_step_f64(
    opt: Optimizer,
    step: u64,
    params: &mut [f64],
    grads: &[f64],
    state: &mut [f64],
) -> Option<()> {
    let n = params.len();
    if grads.len() != n || step == 0 {
        return None;
    }
    match opt {
        Optimizer::Sgd { lr, momentum } => {
            let (lr, mu) = (f64::from(lr), f64::from(momentum));
            if momentum > 0.0 {
                if state.len() != n {
                    return None;
                }
                for ((p, &g), v) in params.iter_mut().zip(grads).zip(state.iter_mut()) {
                    *v = mu * *v - lr * g;
                    *p += *v;
                }
            } else {
                if !state.is_empty() {
                    return None;
                }
                params
                    .iter_mut()
                    .zip(grads)
                    .for_each(|(p, &g)| *p -= lr * g);
            }
        }
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => {
            if state.len() != 2 * n {
                return None;
            }
            let (lr, b1, b2, eps) = (
                f64::from(lr),
                f64::from(beta1),
                f64::from(beta2),
                f64::from(eps),
            );
            #[allow(clippy::cast_precision_loss)]
            let t = step as f64;
            let lr_t = lr * sqrt_f64(1.0 - pow_f64(b2, t)) / (1.0 - pow_f64(b1, t));
            let (m, v) = state.split_at_mut(n);
            for (((p, &g), m), v) in params
                .iter_mut()
                .zip(grads)
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr_t * *m / (sqrt_f64(*v) + eps);
            }
        }
        _ => return None,
    }
    Some(())
}

// ---------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------

/// Tishby's log schedule, `unique(floor(2^linspace(0, log₂ total, points))) − 1`, with a
/// `BTreeSet` doing the unique-and-sort, restricted to epochs below `total`.
#[must_use]
pub fn log_schedule(total: u32, points: u32) -> Vec<u32> {
    if points < 2 || total == 0 {
        return Vec::new();
    }
    let stop = log2_f64(f64::from(total));
    let step = stop / f64::from(points - 1);
    let mut set = BTreeSet::new();
    for k in 0..points {
        let y = if k + 1 == points {
            stop
        } else {
            f64::from(k) * step
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // 1 ≤ 2^y ≤ total: astype(int)
        let v = pow_f64(2.0, y) as u32;
        set.insert(v);
    }
    set.into_iter()
        .map(|v| v - 1)
        .filter(|&e| e < total)
        .collect()
}

/// Saxe et al.'s schedule as ranges: every epoch below 20, every 5th below 100, every 20th
/// below 2000, every 100th after, restricted to epochs below `total`.
#[must_use]
pub fn saxe_schedule(total: u32) -> Vec<u32> {
    (0..20)
        .chain((20..100).step_by(5))
        .chain((100..2000).step_by(20))
        .chain((2000..total.max(2000)).step_by(100))
        .filter(|&e| e < total)
        .collect()
}

/// The KDE per-row terms by the obviously correct double loop, in `f64` with `f64`
/// exponentials: for each row `i` of the `n × d` layer `t` (row-major),
/// `[a_i, b_i, c_i]` = `ln Σ_j exp(−D_ij / (c·var))` over all rows, over the rows of `i`'s
/// class, and over the rows of `i`'s input group (`c_i = 0` without `groups`), with
/// `D_ij = ‖t_i − t_j‖²` in `f64` and `c = 2` (`upper`) or `8`. O(n²·d).
///
/// # Panics
/// If `t` holds fewer than `n·d` values or `groups` fewer than `n`.
#[must_use]
// Obviously correct over lengths the caller guarantees, so plain indexing.
#[allow(clippy::indexing_slicing)]
pub fn kde_row_terms_f64(
    t: &[f32],
    d: usize,
    labels: &[u32],
    groups: Option<&[u32]>,
    var: f64,
    upper: bool,
) -> Vec<[f64; 3]> {
    let n = labels.len();
    let c = if upper { 2.0 } else { 8.0 } * var;
    (0..n)
        .map(|i| {
            let (mut a, mut b, mut g) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..n {
                let dd: f64 = (0..d)
                    .map(|k| {
                        let x = f64::from(t[i * d + k]) - f64::from(t[j * d + k]);
                        x * x
                    })
                    .sum();
                let kv = libm::exp(-dd / c);
                a += kv;
                if labels[j] == labels[i] {
                    b += kv;
                }
                if groups.is_some_and(|x| x[j] == x[i]) {
                    g += kv;
                }
            }
            let ln_g = if groups.is_some() { libm::log(g) } else { 0.0 };
            [libm::log(a), libm::log(b), ln_g]
        })
        .collect()
}

/// (I(X;T), I(T;Y)) of the KDE bound in bits from per-row terms, by the definitions: the
/// entropy estimate of a mixture of `m` Gaussians with per-row terms `s_i` is
/// `ln m − (1/m) Σ s_i` (plus a constant that cancels); `I(T;Y) = H(T) − Σ_y p(y) H(T_y)`,
/// and `I(X;T) = H(T) − Σ_x p(x) H(T_x)` with input groups (else `H(T)`, clamped at 0). Each
/// conditional entropy is formed group by group with its own count, in `f64`.
///
/// # Panics
/// If `labels` or `groups` are shorter than `terms`.
#[must_use]
// Plain indexing over lengths the caller guarantees; row counts are exact in f64.
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
pub fn kde_mi_from_terms(terms: &[[f64; 3]], labels: &[u32], groups: Option<&[u32]>) -> (f64, f64) {
    let n = terms.len() as f64;
    let h = |rows: &[usize], k: usize| {
        let m = rows.len() as f64;
        libm::log(m) - rows.iter().map(|&i| terms[i][k]).sum::<f64>() / m
    };
    let all: Vec<usize> = (0..terms.len()).collect();
    let h_t = h(&all, 0);
    let conditional = |ids: &[u32], k: usize| {
        let mut by: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &v) in ids.iter().enumerate() {
            by.entry(v).or_default().push(i);
        }
        by.values()
            .map(|rows| rows.len() as f64 / n * h(rows, k))
            .sum::<f64>()
    };
    let i_ty = h_t - conditional(labels, 1);
    let i_xt = match groups {
        None => h_t,
        Some(g) => h_t - conditional(g, 2),
    };
    let ln2 = core::f64::consts::LN_2;
    (i_xt.max(0.0) / ln2, i_ty / ln2)
}

// ---------------------------------------------------------------------------------------
// k-nearest neighbours (KSG, Ross)
// ---------------------------------------------------------------------------------------

/// ψ(1), ψ(2), …, ψ(n) by the recurrence ψ(m + 1) = ψ(m) + 1/m from ψ(1) = −γ
/// (index 0 holds −∞).
#[must_use]
// Plain indexing within the lengths built here; counts far below 2^53.
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
pub fn digamma_table(n: usize) -> Vec<f64> {
    let mut t = vec![f64::NEG_INFINITY; n + 1];
    if n >= 1 {
        t[1] = -0.577_215_664_901_532_9;
    }
    for m in 1..n {
        t[m + 1] = t[m] + 1.0 / m as f64;
    }
    t
}

/// The columns of `(x, t)` as the k-NN estimator's distances see them: with `standardize`,
/// each column divided by its population standard deviation (mean and variance summed in
/// row order in `f64`; a constant column left as it is), rounded to `f32`.
#[must_use]
///
/// # Panics
/// If `m.len()` is not a multiple of `d`.
#[allow(
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]
pub fn knn_columns(m: &[f32], d: usize, standardize: bool) -> Vec<f32> {
    let n = m.len() / d;
    let mut out = m.to_vec();
    if !standardize {
        return out;
    }
    for c in 0..d {
        let col: Vec<f64> = (0..n).map(|r| f64::from(m[r * d + c])).collect();
        let mut sum = 0.0;
        for &v in &col {
            sum += v;
        }
        let mean = sum / n as f64;
        let mut ss = 0.0;
        for &v in &col {
            ss += (v - mean) * (v - mean);
        }
        let sd = sqrt_f64(ss / n as f64);
        if sd > 0.0 && sd.is_finite() {
            for r in 0..n {
                out[r * d + c] = (col[r] / sd) as f32;
            }
        }
    }
    out
}

/// Max-norm distance of rows `i` and `j` of an `n × d` matrix, in `f32`.
#[allow(clippy::indexing_slicing)] // rows below n
fn max_dist(m: &[f32], d: usize, i: usize, j: usize) -> f32 {
    (0..d).fold(0.0f32, |a, c| {
        let v = (m[i * d + c] - m[j * d + c]).abs();
        if v > a { v } else { a }
    })
}

/// KSG algorithm 1 (Kraskov et al. 2004) by all pairs, in nats, unclamped, with the
/// documented rule at a zero `k`-th-neighbour distance (Gao et al. 2017: `k` becomes the
/// number of exact copies with the sample itself, the counts take the samples at distance
/// 0). `x` and `t` are the
/// already-scaled columns ([`knn_columns`]).
///
/// # Panics
/// If `k` is 0 or not below the number of samples.
#[must_use]
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
pub fn ksg_nats(x: &[f32], dx: usize, t: &[f32], dt: usize, k: usize) -> f64 {
    let n = x.len() / dx;
    let psi = digamma_table(n + 1);
    let mut sum = 0.0;
    for i in 0..n {
        let joint: Vec<f32> = (0..n)
            .filter(|&j| j != i)
            .map(|j| max_dist(x, dx, i, j).max(max_dist(t, dt, i, j)))
            .collect();
        let mut sorted = joint.clone();
        sorted.sort_by(f32::total_cmp);
        let rho = sorted[k - 1];
        let others = (0..n).filter(|&j| j != i);
        let (kk, nx, nt) = if rho > 0.0 {
            (
                k,
                others
                    .clone()
                    .filter(|&j| max_dist(x, dx, i, j) < rho)
                    .count(),
                others.filter(|&j| max_dist(t, dt, i, j) < rho).count(),
            )
        } else {
            (
                joint.iter().filter(|&&v| v == 0.0).count() + 1,
                others
                    .clone()
                    .filter(|&j| max_dist(x, dx, i, j) == 0.0)
                    .count(),
                others.filter(|&j| max_dist(t, dt, i, j) == 0.0).count(),
            )
        };
        sum += psi[kk] - psi[nx + 1] - psi[nt + 1];
    }
    psi[n] + sum / n as f64
}

/// Ross's (2014) k-NN estimate of I(T;C) for a discrete `c`, by all pairs, in nats,
/// unclamped: samples of a class of one are left out of the average, `m_i` counts every
/// sample of `t` (itself included) strictly closer than `ρ_i`, with the zero-distance rule of
/// [`ksg_nats`]. `None` when every class has one sample.
///
/// # Panics
/// If `k` is 0 or `c` is shorter than the rows of `t`.
#[must_use]
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
pub fn ross_nats(t: &[f32], dt: usize, c: &[u32], k: usize) -> Option<f64> {
    let n = c.len();
    let psi = digamma_table(n + 1);
    let (mut sum, mut kept) = (0.0, 0usize);
    for i in 0..n {
        let same: Vec<usize> = (0..n).filter(|&j| j != i && c[j] == c[i]).collect();
        if same.is_empty() {
            continue;
        }
        let ny = same.len() + 1;
        let ky = k.min(ny - 1);
        let mut ds: Vec<f32> = same.iter().map(|&j| max_dist(t, dt, i, j)).collect();
        ds.sort_by(f32::total_cmp);
        let rho = ds[ky - 1];
        let (kk, m) = if rho > 0.0 {
            (ky, (0..n).filter(|&j| max_dist(t, dt, i, j) < rho).count())
        } else {
            (
                ds.iter().filter(|&&v| v == 0.0).count() + 1,
                (0..n).filter(|&j| max_dist(t, dt, i, j) == 0.0).count(),
            )
        };
        sum += psi[kk] - psi[ny] - psi[m];
        kept += 1;
    }
    (kept > 0).then(|| psi[n] + sum / kept as f64)
}
