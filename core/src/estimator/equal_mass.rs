//! Equal-mass (adaptive) binning (Chelombiev, Houghton & O'Donnell 2019), in bits.
//!
//! Each unit gets its own edges, at the quantiles of that unit's values in this layer at this
//! epoch: with `n` edges ([`Param::Bins`], as for the other binnings: `n − 1` bins), bin `j`
//! (`1 ≤ j < n − 1`) starts at the value of 0-based rank `⌈j·N / (n − 1)⌉` among the unit's `N`
//! sorted values, and a value's bin is the number of those starts at or below it. A value equal
//! to a start belongs to the bin it starts, so **equal values never split across bins**; where
//! ties make two starts equal, the bin between them stays empty (fewer occupied bins, never a
//! split tie). The rows of bins are then counted exactly as the fixed binnings count theirs
//! ([`binning`](super::binning): plug-in entropies, optional Miller–Madow, input groups).
//!
//! # Registered as
//! `binning-equal-mass` in the estimator [`REGISTRY`](super::REGISTRY).

use super::binning::{BinRule, BinningPlan, MAX_EDGES};
use super::{Kind, Layer, Param, Part, Partial, Settings};
use crate::Error;
use crate::info::PlanePoint;
use crate::mat::MatRef;
use crate::scratch::{Scratch, ScratchReq};

/// The registered `binning-equal-mass` estimator.
#[derive(Debug)]
pub struct EqualMassKind;

/// `binning-equal-mass`.
pub static EQUAL_MASS: EqualMassKind = EqualMassKind;

/// Each value's bin as a float (exact: bins < 2²⁰), counted by fixed bins of size 1.
const COUNTING: BinRule = BinRule::Size { size: 1.0 };

fn counting(s: &Settings, n: usize, d: usize) -> Result<BinningPlan, Error> {
    Ok(BinningPlan::new(n, d, COUNTING)?.with_miller_madow(s.miller_madow))
}

/// Writes each value's bin into `out` (`n × d`, row-major), unit by unit, with `sorted` (`n`)
/// and `starts` (at least `edges − 2`) as work space.
fn assign(t: MatRef<'_>, edges: u32, out: &mut [f32], sorted: &mut [f32], starts: &mut [f32]) {
    let (n, d) = (t.rows(), t.cols());
    let bins = (edges as usize).saturating_sub(1).max(1);
    for u in 0..d {
        for (v, row) in sorted.iter_mut().zip(t.row_iter()) {
            *v = row.get(u).copied().unwrap_or(0.0);
        }
        sorted.sort_unstable_by(f32::total_cmp);
        let starts = starts.get_mut(..bins - 1).unwrap_or_default();
        for (j, s) in (1..bins).zip(starts.iter_mut()) {
            let rank = (j * n).div_ceil(bins).min(n - 1);
            *s = sorted.get(rank).copied().unwrap_or(0.0);
        }
        let starts: &[f32] = starts;
        for (r, row) in t.row_iter().enumerate() {
            let v = row.get(u).copied().unwrap_or(0.0);
            // Starts ascend; the bin is how many are ≤ v (equal values, equal bins).
            let bin = starts.partition_point(|&s| s <= v);
            if let Some(o) = out.get_mut(r * d + u) {
                #[allow(clippy::cast_precision_loss)] // bin < 2^20
                let b = bin as f32;
                *o = b;
            }
        }
    }
}

impl Kind for EqualMassKind {
    fn name(&self) -> &'static str {
        "binning-equal-mass"
    }

    fn summary(&self) -> &'static str {
        "Chelombiev et al.: per unit, `bins` edges at the quantiles of that unit's values at that epoch (equal-mass bins; ties never split)"
    }

    fn params(&self) -> &'static [Param] {
        &[Param::Bins, Param::MillerMadow]
    }

    fn check(&self, s: &Settings) -> Result<(), Error> {
        if !(2..=MAX_EDGES).contains(&s.bins) {
            return Err(Error::InvalidParameter { name: "bins" });
        }
        Ok(())
    }

    fn scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        let nd = n.checked_mul(d).ok_or(Error::TooLarge)?;
        ScratchReq::f32(nd)
            .and(ScratchReq::f32(n))?
            .and(ScratchReq::f32(s.bins as usize))?
            .and(counting(s, n, d)?.scratch_req())
    }

    fn part(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        if part != Part::WHOLE {
            return Err(Error::InvalidParameter { name: "parts" });
        }
        let (n, d) = (layer.n(), layer.d());
        let mut sc = Scratch::new(scratch, self.scratch(s, n, d)?)?;
        let bins = sc.f32(n * d)?;
        let sorted = sc.f32(n)?;
        let starts = sc.f32(s.bins as usize)?;
        assign(layer.t(), s.bins, bins, sorted, starts);
        let binned = Layer::new(MatRef::new(bins, n, d)?, layer.labels(), layer.inputs())?;
        counting(s, n, d)?
            .estimate(&binned, sc.rest())
            .map(Partial::Whole)
    }

    fn finish(
        &self,
        _: &Settings,
        _: &Layer<'_>,
        partial: Partial,
        _: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        match partial {
            Partial::Whole(p) => Ok(p),
            Partial::Rows(_) => Err(Error::InvalidParameter { name: "parts" }),
        }
    }
}
