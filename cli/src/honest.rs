//! When an estimate says nothing: I(X;T) at its ceiling H(X) (every input alone in its bin
//! pattern, or a kernel narrower than the distances between samples), and fixed bins that
//! clipped activations outside `--range`. Said on stderr, never silently.

use infoplane_core::PlanePoint;
use infoplane_core::estimator::{Estimator, Param, Settings};
use std::collections::{BTreeMap, HashMap};

/// How close to H(X), in bits, an I(X;T) counts as at the ceiling.
pub const CEILING_BITS: f64 = 1e-3;

/// H(X) in bits: the entropy of the input groups (`None`: every sample its own input,
/// log2 N).
#[must_use]
pub fn input_entropy(ids: Option<&[u32]>, rows: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)] // row counts, exact below 2^53
    let n = rows as f64;
    match ids {
        None => infoplane_core::math::log2_f64(n),
        Some(ids) => {
            let mut counts: HashMap<u32, u64> = HashMap::new();
            for &i in ids {
                *counts.entry(i).or_default() += 1;
            }
            let mut keys: Vec<u64> = counts.into_values().collect();
            keys.sort_unstable();
            keys.iter()
                .map(|&c| {
                    #[allow(clippy::cast_precision_loss)]
                    let p = c as f64 / n;
                    -p * infoplane_core::math::log2_f64(p)
                })
                .sum()
        }
    }
}

/// The share of the values `t` outside `[lo, hi]`.
#[must_use]
pub fn clipped_share(t: &[f32], lo: f32, hi: f32) -> f64 {
    let out = t.iter().filter(|&&v| v < lo || v > hi).count();
    #[allow(clippy::cast_precision_loss)]
    let share = out as f64 / t.len().max(1) as f64;
    share
}

/// What an estimate cannot tell, one kind at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Issue {
    /// I(X;T) within [`CEILING_BITS`] of H(X).
    Ceiling,
    /// Activations outside the fixed bins' range.
    Clipped,
}

/// The issues of one estimate of layer `t` (its values), with H(X) `hx`, and for clipping the share.
#[must_use]
pub fn issues(
    est: &Estimator,
    settings: Settings,
    t: &[f32],
    hx: f64,
    p: &PlanePoint,
) -> Vec<(Issue, f64)> {
    let mut out = Vec::new();
    let params = est.kind().params();
    // KSG's I(X;T) is not bounded by the plug-in H(X).
    if est.name() != "ksg" && p.i_xt.in_bits() >= hx - CEILING_BITS && hx > 0.0 {
        out.push((Issue::Ceiling, p.i_xt.in_bits()));
    }
    if params.contains(&Param::Range) {
        let share = clipped_share(t, settings.lo, settings.hi);
        if share > 0.0 {
            out.push((Issue::Clipped, share));
        }
    }
    out
}

/// The advice for an issue of `est`.
#[must_use]
pub fn message(est: &Estimator, settings: Settings, issue: Issue, hx: f64) -> String {
    match issue {
        Issue::Ceiling if est.kind().params().contains(&Param::NoiseVar) => format!(
            "I(X;T) is at its ceiling H(X) = {hx:.4} bits: the kernel (noise variance {}) is narrower than the distances between the samples, so every input stands alone and compression cannot show; a larger --noise-var sees it",
            settings.noise_var
        ),
        Issue::Ceiling => format!(
            "I(X;T) is at its ceiling H(X) = {hx:.4} bits: every input has a bin pattern of its own, so compression cannot show; fewer --bins (or a larger --bin-size) see it"
        ),
        Issue::Clipped => format!(
            "activations outside --range {},{} were {} (unbounded units, e.g. ReLU, need a wider range or binning-range / binning-size)",
            settings.lo,
            settings.hi,
            if settings.idnns_compat {
                "binned beyond the end edges"
            } else {
                "counted in the end bins"
            }
        ),
    }
}

/// Issues over many estimates (a history or a run), reported once per estimator and kind.
#[derive(Debug, Default)]
pub struct Tally {
    /// (estimator index, issue) → (layer-epochs affected, worst value, layers).
    seen: BTreeMap<(usize, Issue), (u32, f64, Vec<u32>)>,
    total: u32,
}

impl Tally {
    /// Counts one layer-epoch's estimates.
    pub fn count(&mut self, estimator: usize, layer: u32, issues: &[(Issue, f64)]) {
        for &(issue, v) in issues {
            let e = self.seen.entry((estimator, issue)).or_default();
            e.0 += 1;
            e.1 = e.1.max(v);
            if !e.2.contains(&layer) {
                e.2.push(layer);
            }
        }
    }

    /// One more layer-epoch measured (per estimator).
    pub const fn measured(&mut self) {
        self.total += 1;
    }

    /// Prints one warning per estimator and issue.
    pub fn report(&self, estimators: &[Estimator], settings: Settings, hx: f64) {
        for (&(k, issue), (count, worst, layers)) in &self.seen {
            let Some(est) = estimators.get(k) else {
                continue;
            };
            let list = layer_list(layers);
            let worst = match issue {
                Issue::Clipped => format!("; at worst {:.2}% of a layer's values", worst * 100.0),
                Issue::Ceiling => String::new(),
            };
            eprintln!(
                "warning: {}: {count} of {} layer-epochs (layers {list}){worst}: {}",
                est.name(),
                self.total,
                message(est, settings, issue, hx)
            );
        }
    }
}

/// Layer numbers in ascending order, comma-separated.
#[must_use]
pub fn layer_list(layers: &[u32]) -> String {
    let mut layers = layers.to_vec();
    layers.sort_unstable();
    layers.dedup();
    layers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warnings of one estimate, each `estimator: [share: ]advice`.
#[must_use]
pub fn warnings_of(
    est: &Estimator,
    settings: Settings,
    hx: f64,
    issues: &[(Issue, f64)],
) -> Vec<String> {
    issues
        .iter()
        .map(|&(issue, v)| {
            let share = match issue {
                Issue::Clipped => format!("{:.2}% of the values: ", v * 100.0),
                Issue::Ceiling => String::new(),
            };
            format!(
                "{}: {share}{}",
                est.name(),
                message(est, settings, issue, hx)
            )
        })
        .collect()
}

/// Prints the warnings of one estimate.
pub fn warn_one(est: &Estimator, settings: Settings, hx: f64, issues: &[(Issue, f64)]) {
    for w in warnings_of(est, settings, hx, issues) {
        eprintln!("warning: {w}");
    }
}
