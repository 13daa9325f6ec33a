//! Integration tests of infoplane (R26): one binary, one module per concern.
//!
//! * `data`: Tishby's 12-bit task (hash, label count, icosahedral symmetry, the original file).
//! * `reference`: the fast kernels against the slow references in `infoplane_tests::reference`.
//! * `closed_forms`: textbook values the estimators (and the references) must hit.
//! * `properties`: bounds and invariances of the estimates.
//! * `mlp`, `optim`, `schedule`: the network, the optimisers and the epoch schedules.
//! * `scratch`: poisoned-scratch determinism for every kernel (R6).
//! * `errors`: bad input gives the documented error, never a panic.
//! * `compile`: compile-time `Send + Sync` checks.
//! * `golden`: bit patterns pinned in `data/golden/*.txt` (R20).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::float_cmp,
    clippy::panic
)]

mod closed_forms;
mod compile;
mod data;
mod errors;
mod estimators;
mod experiment;
mod golden;
mod kde;
mod ksg;
mod mlp;
mod optim;
mod properties;
mod reference;
mod schedule;
mod scratch;

/// Small helpers shared by the test modules.
mod util {
    use infoplane_core::estimator::Layer;
    use infoplane_core::{BinRule, BinningPlan, Error, MatRef, PlanePoint};

    /// The binning estimator on a layer built from its parts: [`Layer::new`]'s checks, then
    /// [`BinningPlan::estimate`].
    pub(crate) fn bin_mi(
        plan: &BinningPlan,
        t: MatRef<'_>,
        labels: &[u32],
        x_ids: Option<&[u32]>,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        plan.estimate(&Layer::new(t, labels, x_ids)?, scratch)
    }

    /// Runs the binning estimator with a fresh, exactly sized scratch.
    pub(crate) fn binning(
        t: &[f32],
        d: usize,
        labels: &[u32],
        x_ids: Option<&[u32]>,
        rule: BinRule,
    ) -> PlanePoint {
        let n = labels.len();
        let plan = BinningPlan::new(n, d, rule).unwrap();
        let mut scratch = vec![0u64; plan.scratch_req().words()];
        bin_mi(
            &plan,
            MatRef::new(t, n, d).unwrap(),
            labels,
            x_ids,
            &mut scratch,
        )
        .unwrap()
    }

    /// (I(X;T), I(T;Y)) in bits.
    pub(crate) fn bits(p: PlanePoint) -> (f64, f64) {
        (p.i_xt.in_bits(), p.i_ty.in_bits())
    }

    /// Both coordinates' bit patterns, for exact comparisons.
    pub(crate) fn pattern(p: PlanePoint) -> (u64, u64) {
        (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits())
    }

    /// `log₂ x`, through core's math door.
    pub(crate) fn log2(x: f64) -> f64 {
        infoplane_core::math::log2_f64(x)
    }

    /// Rows of `t` (`d` wide), `labels` and `ids` reordered by `perm` (new row i = old row
    /// `perm[i]`).
    pub(crate) fn permute_rows(t: &[f32], d: usize, perm: &[u32]) -> Vec<f32> {
        perm.iter()
            .flat_map(|&p| t[p as usize * d..(p as usize + 1) * d].iter().copied())
            .collect()
    }

    /// `values` reordered by `perm`.
    pub(crate) fn permute<T: Copy>(values: &[T], perm: &[u32]) -> Vec<T> {
        perm.iter().map(|&p| values[p as usize]).collect()
    }

    /// Every rule the suite exercises: Tishby's edges in both modes (default range and a
    /// narrow one that clips or wraps most values), a single interval, fixed sizes, and
    /// per-layer ranges.
    pub(crate) fn rules() -> Vec<BinRule> {
        vec![
            BinRule::Edges {
                n_edges: 30,
                lo: -1.0,
                hi: 1.0,
                idnns: false,
            },
            BinRule::Edges {
                n_edges: 30,
                lo: -1.0,
                hi: 1.0,
                idnns: true,
            },
            BinRule::Edges {
                n_edges: 5,
                lo: -0.5,
                hi: 0.5,
                idnns: false,
            },
            BinRule::Edges {
                n_edges: 5,
                lo: -0.5,
                hi: 0.5,
                idnns: true,
            },
            BinRule::Edges {
                n_edges: 2,
                lo: -0.25,
                hi: 0.75,
                idnns: true,
            },
            BinRule::Edges {
                n_edges: 2,
                lo: -0.25,
                hi: 0.75,
                idnns: false,
            },
            BinRule::Size { size: 0.07 },
            BinRule::Size { size: 0.5 },
            BinRule::LayerRange { n_edges: 30 },
            BinRule::LayerRange { n_edges: 4 },
        ]
    }
}
