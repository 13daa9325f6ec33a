//! One module per subcommand, and what `run` and `estimate` share: estimator settings from
//! the options, and an estimate split across threads.

pub mod dataset;
pub mod estimate;
pub mod run;

use crate::args::EstimatorArgs;
use crate::error::CliError;
use infoplane_core::PlanePoint;
use infoplane_core::Workspace;
use infoplane_core::estimator::{Layer, Part, Partial, Plan, Settings};

/// Parses `LO,HI` for `--range` (the core checks LO < HI).
///
/// # Errors
/// A `--range` error unless both are numbers.
pub fn parse_range(s: &str) -> Result<(f32, f32), CliError> {
    let bad = || CliError::option("--range", format!("{s:?} is not LO,HI with LO < HI"));
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let lo: f32 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f32 = hi.trim().parse().map_err(|_| bad())?;
    Ok((lo, hi))
}

impl EstimatorArgs {
    /// `base` with the options that were given.
    ///
    /// # Errors
    /// A `--range` error for a malformed range.
    pub fn apply(&self, base: Settings) -> Result<Settings, CliError> {
        let mut s = base;
        if let Some(b) = self.bins {
            s.bins = b;
        }
        if let Some(r) = &self.range {
            (s.lo, s.hi) = parse_range(r)?;
        }
        if let Some(i) = self.idnns_compat {
            s.idnns_compat = i;
        }
        if let Some(b) = self.bin_size {
            s.bin_size = b;
        }
        if let Some(v) = self.noise_var {
            s.noise_var = v;
        }
        Ok(s)
    }

    /// The value given for the estimator parameter `name`, as typed (for messages).
    #[must_use]
    pub fn given(&self, name: &str) -> Option<String> {
        match name {
            "bins" => self.bins.map(|v| format!("{v:?}")),
            "range" => self.range.clone(),
            "bin_size" => self.bin_size.map(|v| format!("{v:?}")),
            "noise_var" => self.noise_var.map(|v| format!("{v:?}")),
            _ => None,
        }
    }
}

/// Worker threads for `requested` (0: every core).
#[must_use]
pub fn threads(requested: usize) -> usize {
    if requested == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        requested
    }
}

/// One estimate, split into at most `threads` parts run on scoped threads (each with its own
/// workspace) when the estimator splits its work. Parts merge exactly, so the bits do not
/// depend on `threads`.
///
/// # Errors
/// Core errors with the estimator's name as context.
pub fn estimate_parallel(
    plan: &Plan,
    layer: &Layer<'_>,
    threads: usize,
    work: &mut Workspace,
) -> Result<PlanePoint, CliError> {
    let name = plan.estimator().name();
    let ctx = |e| CliError::core(name, e);
    let parts = threads.clamp(1, plan.max_parts());
    let req = plan.scratch_req();
    let merged = if parts == 1 {
        let mut s = work.scratch(req).map_err(ctx)?;
        plan.estimate_part(layer, Part::WHOLE, s.u64(req.words()).map_err(ctx)?)
            .map_err(ctx)?
    } else {
        let results: Vec<Result<Partial, CliError>> = std::thread::scope(|scope| {
            let jobs: Vec<_> = (0..parts)
                .map(|index| {
                    scope.spawn(move || {
                        let mut w = Workspace::with_req(req);
                        let mut s = w.scratch(req)?;
                        let part = Part {
                            index,
                            count: parts,
                        };
                        plan.estimate_part(layer, part, s.u64(req.words())?)
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| match j.join() {
                    Ok(r) => r.map_err(ctx),
                    Err(_) => Err(CliError::Other(format!("{name}: a thread panicked"))),
                })
                .collect()
        });
        let mut merged: Option<Partial> = None;
        for r in results {
            let p = r?;
            merged = Some(match merged {
                None => p,
                Some(m) => m.merge(p).map_err(ctx)?,
            });
        }
        merged.ok_or_else(|| CliError::Other(format!("{name}: no parts")))?
    };
    let mut s = work.scratch(req).map_err(ctx)?;
    plan.finish(layer, merged, s.u64(req.words()).map_err(ctx)?)
        .map_err(ctx)
}
