//! One module per subcommand.

pub mod dataset;
pub mod estimate;
pub mod run;

use crate::args::EstimatorName;
use crate::error::CliError;
use infoplane_core::{BinRule, BinningPlan, KdeBound, KdePlan, MatRef, PlanePoint};

/// Parses `LO,HI` for `--range`.
///
/// # Errors
/// A `--range` error unless both are finite numbers with LO < HI.
pub fn parse_range(s: &str) -> Result<(f32, f32), CliError> {
    let bad = || CliError::option("--range", format!("{s:?} is not LO,HI with LO < HI"));
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let lo: f32 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f32 = hi.trim().parse().map_err(|_| bad())?;
    if lo.is_finite() && hi.is_finite() && lo < hi {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// The estimator settings shared by `run` and `estimate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinSettings {
    /// KDE noise variance σ².
    pub noise_var: f32,
    /// Number of edges.
    pub bins: u32,
    /// Edge range.
    pub range: (f32, f32),
    /// IDNNs-compatibility mode.
    pub idnns: bool,
    /// Fixed bin size.
    pub bin_size: f32,
}

impl BinSettings {
    /// The core rule for one estimator, validated.
    ///
    /// # Errors
    /// An option error naming `--bins` or `--bin-size`.
    pub fn rule(&self, name: EstimatorName) -> Result<BinRule, CliError> {
        let rule = match name {
            EstimatorName::Binning => BinRule::Edges {
                n_edges: self.bins,
                lo: self.range.0,
                hi: self.range.1,
                idnns: self.idnns,
            },
            EstimatorName::BinningSize => BinRule::Size {
                size: self.bin_size,
            },
            EstimatorName::BinningRange => BinRule::LayerRange { n_edges: self.bins },
            EstimatorName::KdeUpper | EstimatorName::KdeLower => {
                return Err(CliError::Other(format!(
                    "{} is not a binning estimator",
                    name.as_str()
                )));
            }
        };
        rule.validate().map_err(|e| match e {
            infoplane_core::Error::InvalidParameter { name: "bins" } => CliError::option(
                "--bins",
                format!(
                    "{} edges: need at least 2 (n edges make n − 1 intervals)",
                    self.bins
                ),
            ),
            infoplane_core::Error::InvalidParameter { name: "bin_size" } => CliError::option(
                "--bin-size",
                format!("{}: must be a positive number", self.bin_size),
            ),
            other => CliError::core("binning settings", other),
        })?;
        Ok(rule)
    }
}

/// One estimator, planned for layers of `n × d`.
#[derive(Debug, Clone, Copy)]
pub enum Estimator {
    /// A binning estimator.
    Bin(BinningPlan),
    /// A KDE bound with its noise variance.
    Kde(KdePlan, KdeBound, f32),
}

impl Estimator {
    /// Plans estimator `name` for `n` samples of `d` units.
    ///
    /// # Errors
    /// Option errors for bad settings; core errors for impossible sizes.
    pub fn new(
        name: EstimatorName,
        settings: &BinSettings,
        n: usize,
        d: usize,
    ) -> Result<Self, CliError> {
        let bound = match name {
            EstimatorName::KdeUpper => KdeBound::Upper,
            EstimatorName::KdeLower => KdeBound::Lower,
            _ => {
                let rule = settings.rule(name)?;
                return BinningPlan::new(n, d, rule)
                    .map(Self::Bin)
                    .map_err(|e| CliError::core(name.as_str(), e));
            }
        };
        let v = settings.noise_var;
        if !(v.is_finite() && v > 0.0) {
            return Err(CliError::option(
                "--noise-var",
                format!("{v}: must be a positive number"),
            ));
        }
        KdePlan::new(n, d)
            .map(|p| Self::Kde(p, bound, v))
            .map_err(|e| CliError::core(name.as_str(), e))
    }
}

/// Reusable buffers for [`estimate_layer`], grown on demand.
#[derive(Debug, Default)]
pub struct Buffers {
    bin: Vec<u64>,
    kde: Vec<Vec<f32>>,
    terms: Vec<f64>,
}

/// Estimates one layer. KDE splits its work (the k-d tree's leaves) into `threads` parts computed in
/// parallel; each row's terms do not depend on the split, so neither do the bits.
///
/// # Errors
/// Core errors with the estimator's name as context.
pub fn estimate_layer(
    est: &Estimator,
    name: EstimatorName,
    t: MatRef<'_>,
    labels: &[u32],
    x_ids: Option<&[u32]>,
    threads: usize,
    buf: &mut Buffers,
) -> Result<PlanePoint, CliError> {
    let ctx = |e| CliError::core(name.as_str(), e);
    match est {
        Estimator::Bin(plan) => {
            buf.bin.resize(plan.scratch_len(), 0);
            plan.mutual_information(t, labels, x_ids, &mut buf.bin)
                .map_err(ctx)
        }
        Estimator::Kde(plan, bound, var) => {
            let n = t.rows();
            let threads = threads.clamp(1, n.max(1));
            buf.terms.resize(2 * n, 0.0);
            if threads == 1 {
                buf.kde.resize_with(1, Vec::new);
                let s = buf
                    .kde
                    .first_mut()
                    .ok_or_else(|| CliError::Other("no scratch".into()))?;
                s.resize(plan.row_terms_scratch_len(), 0.0);
                plan.row_terms(t, labels, *var, *bound, 0..n, &mut buf.terms, s)
                    .map_err(ctx)?;
            } else {
                // Each thread takes a share of the tree's leaves (a share of row indices would
                // touch every leaf) and reports which rows it covered; the terms are then put
                // in row order, so the bits do not depend on the split.
                let parts: Vec<(Vec<u32>, Vec<f64>, usize)> = std::thread::scope(|scope| {
                    let jobs: Vec<_> = (0..threads)
                        .map(|part| {
                            scope.spawn(move || {
                                let mut rows = vec![0u32; n];
                                let mut terms = vec![0.0f64; 2 * n];
                                let mut s = vec![0.0f32; plan.row_terms_scratch_len()];
                                plan.row_terms_part(
                                    t,
                                    labels,
                                    *var,
                                    *bound,
                                    (part, threads),
                                    &mut rows,
                                    &mut terms,
                                    &mut s,
                                )
                                .map(|k| (rows, terms, k))
                            })
                        })
                        .collect();
                    jobs.into_iter()
                        .map(|j| {
                            j.join()
                                .map_err(|_| CliError::Other("a KDE thread panicked".into()))?
                                .map_err(ctx)
                        })
                        .collect::<Result<_, _>>()
                })?;
                for (rows, terms, k) in &parts {
                    for (&i, pair) in rows.iter().take(*k).zip(terms.chunks_exact(2)) {
                        let i = i as usize;
                        if let Some(dst) = buf.terms.get_mut(2 * i..2 * i + 2) {
                            dst.copy_from_slice(pair);
                        }
                    }
                }
            }
            plan.combine(&buf.terms, labels, *var, *bound).map_err(ctx)
        }
    }
}
