//! One module per subcommand, and what `run` and `estimate` share: estimator settings from
//! the options, and an estimate split across threads.

pub mod assemble;
pub mod dataset;
pub mod estimate;
pub mod mi;
pub mod run;
pub mod staging;
pub mod summarize;

use crate::args::EstimatorArgs;
use crate::error::CliError;
use infoplane_core::Workspace;
use infoplane_core::estimator::{Group, Layer, Part, Partial, Settings};
use infoplane_core::{Error as CoreError, PlanePoint};

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
        if let Some(k) = self.k {
            s.k = k;
        }
        if let Some(z) = self.standardize {
            s.standardize = z;
        }
        if let Some(m) = self.miller_madow {
            s.miller_madow = m;
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
            "k" => self.k.map(|v| format!("{v:?}")),
            _ => None,
        }
    }
}

/// Most threads `--threads` takes.
pub const MAX_THREADS: usize = 1024;

/// The estimators `names` with `settings`, each checked (an error names the estimator and
/// the option of the setting it rejects).
///
/// # Errors
/// The first estimator's error.
pub fn estimators_of(
    names: &[String],
    settings: Settings,
    args: &EstimatorArgs,
) -> Result<Vec<infoplane_core::estimator::Estimator>, CliError> {
    names
        .iter()
        .map(|name| {
            infoplane_core::estimator::Estimator::new(name, settings)
                .map_err(|e| CliError::from_core(name.as_str(), e, |p| args.given(p)))
        })
        .collect()
}

/// Worker threads for `requested` (0: every core).
///
/// # Errors
/// A `--threads` error above [`MAX_THREADS`].
pub fn threads(requested: usize) -> Result<usize, CliError> {
    if requested > MAX_THREADS {
        return Err(CliError::option(
            "--threads",
            format!(
                "{requested} is more than {MAX_THREADS}; give the number of cores to use (0: all of them)"
            ),
        ));
    }
    Ok(if requested == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        requested
    })
}

/// One group of estimates of a layer (one estimate, or two that share work), split into at
/// most `threads` parts run on scoped threads (each with its own scratch) when the
/// estimators split their work. The work the parts share (the KDE bounds' tree) is done
/// once, before the threads start, and read by all of them. Parts merge exactly, so the bits
/// do not depend on `threads`. Returns each estimate's index in the list with its plane
/// point.
///
/// # Errors
/// Core errors with the estimator's name as context.
pub fn estimate_parallel(
    group: &Group,
    layer: &Layer<'_>,
    threads: usize,
    work: &mut Workspace,
) -> Result<Vec<(usize, PlanePoint)>, CliError> {
    let (name, req, max_parts, indices) = match group {
        Group::One(i, p) => (
            p.estimator().name().to_string(),
            p.scratch_req(),
            p.max_parts(),
            vec![*i],
        ),
        Group::Two(ij, j) => {
            let [a, b] = j.plans();
            let name = format!("{}+{}", a.estimator().name(), b.estimator().name());
            (name, j.scratch_req(), j.max_parts(), ij.to_vec())
        }
    };
    let ctx = |e| CliError::core(&name, e);
    let parts = threads.clamp(1, max_parts);
    let results: Vec<Result<Vec<Partial>, CliError>> = if parts == 1 {
        let mut s = work.scratch(req).map_err(ctx)?;
        let scratch = s.u64(req.words()).map_err(ctx)?;
        let one = match group {
            Group::One(_, p) => p
                .estimate_part(layer, Part::WHOLE, scratch)
                .map(|r| vec![r]),
            Group::Two(_, j) => j
                .estimate_part(layer, Part::WHOLE, scratch)
                .map(|r| r.to_vec()),
        };
        vec![one.map_err(ctx)]
    } else {
        let (shared_req, part_req) = match group {
            Group::One(_, p) => (p.shared_req(), p.part_req()),
            Group::Two(_, j) => (j.shared_req(), j.part_req()),
        };
        let (shared_req, part_req) = (shared_req.map_err(ctx)?, part_req.map_err(ctx)?);
        let mut shared = vec![0u64; shared_req.words()];
        let prepared = match group {
            Group::One(_, p) => p.prepare(layer, &mut shared),
            Group::Two(_, j) => j.prepare(layer, &mut shared),
        }
        .map_err(ctx)?;
        let run_part = |part: Part, scratch: &mut [u64]| -> Result<Vec<Partial>, CoreError> {
            match group {
                Group::One(_, p) => Ok(vec![p.estimate_part_on(&prepared, part, scratch)?]),
                Group::Two(_, j) => Ok(j.estimate_part_on(&prepared, part, scratch)?.to_vec()),
            }
        };
        // Every part has its own scratch: weigh them against the free memory first.
        let need = (shared_req.words() as u64)
            .saturating_add((part_req.words() as u64).saturating_mul(parts as u64))
            .saturating_mul(8);
        if let Some(free) = available_memory()
            && need > free
        {
            return Err(CliError::option(
                "--threads",
                format!(
                    "{name} on {parts} threads needs about {} ({} per thread), and this machine has {} free; use fewer threads",
                    gb(need),
                    gb((part_req.words() as u64).saturating_mul(8)),
                    gb(free)
                ),
            ));
        }
        let run_index = |index: usize| {
            let mut scratch = vec![0u64; part_req.words()];
            let part = Part {
                index,
                count: parts,
            };
            run_part(part, &mut scratch)
        };
        // Part 0 on this thread, the others on their own.
        std::thread::scope(|scope| {
            let jobs: Vec<_> = (1..parts)
                .map(|index| {
                    let run_index = &run_index;
                    std::thread::Builder::new().spawn_scoped(scope, move || run_index(index))
                })
                .collect();
            let mut results = vec![run_index(0).map_err(ctx)];
            results.extend(jobs.into_iter().map(|j| match j.map(|j| j.join()) {
                Ok(Ok(r)) => r.map_err(ctx),
                Ok(Err(_)) => Err(CliError::Other(format!("{name}: a thread panicked"))),
                Err(e) => Err(CliError::Other(format!(
                    "{name}: cannot start a thread ({e}); try a smaller --threads"
                ))),
            }));
            results
        })
    };
    let mut merged: Option<Vec<Partial>> = None;
    for r in results {
        let p = r?;
        merged = Some(match merged {
            None => p,
            Some(m) => m
                .into_iter()
                .zip(p)
                .map(|(a, b)| a.merge(b))
                .collect::<Result<_, _>>()
                .map_err(ctx)?,
        });
    }
    let merged = merged.ok_or_else(|| CliError::Other(format!("{name}: no parts")))?;
    let mut s = work.scratch(req).map_err(ctx)?;
    let scratch = s.u64(req.words()).map_err(ctx)?;
    let points = match (group, merged.as_slice()) {
        (Group::One(_, p), [m]) => vec![p.finish(layer, *m, scratch).map_err(ctx)?],
        (Group::Two(_, j), [a, b]) => j.finish(layer, [*a, *b], scratch).map_err(ctx)?.to_vec(),
        _ => return Err(CliError::Other(format!("{name}: parts do not match"))),
    };
    Ok(indices.into_iter().zip(points).collect())
}

/// The memory this machine has free (`MemAvailable`), where it says.
pub(crate) fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Bytes in GB, for messages.
pub(crate) fn gb(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // for display
    let g = bytes as f64 / 1e9;
    format!("{g:.2} GB")
}
