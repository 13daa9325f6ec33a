//! `infoplane mi`: the mutual information of two variables brought as files, in bits.

use super::estimate::{check_needs, estimate_layer, estimate_layer_groups, inputs_of};
use super::threads;
use crate::args::MiArgs;
use crate::arrays::{Columns, Source, read_labels_from_source, read_matrix};
use crate::error::CliError;
use crate::honest;
use crate::io::Table;
use infoplane_core::Workspace;
use infoplane_core::estimator::{Estimator, Param, Settings};
use std::io::Write;
use std::path::Path;

/// How an estimator measures I(A;B) of two continuous variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    /// I(X;T) with X = A, T = B, from the values (`ksg`).
    Direct,
    /// H(A) + H(B) − H(A, B), each a plug-in entropy over bins that are the same for a
    /// variable alone and in the pair (fixed edges, fixed size, per-unit quantiles).
    Entropies,
}

/// How `est` measures two continuous variables, or why it cannot.
fn pair_rule(est: &Estimator) -> Result<Pair, String> {
    match est.name() {
        "ksg" => Ok(Pair::Direct),
        "binning" | "binning-size" | "binning-equal-mass" => Ok(Pair::Entropies),
        "binning-range" => Err(
            "binning-range bins over a layer's own range, which differs between one variable and the pair; use binning with --range, binning-size or binning-equal-mass (or --discrete-y)"
                .to_owned(),
        ),
        other => Err(format!(
            "{other} bounds I(T; T + noise) of one layer at the noise variance, not the information between two given variables; use ksg or a binning, or --discrete-y for class labels"
        )),
    }
}

/// The second variable of [`mi_values`].
#[derive(Debug, Clone, Copy)]
pub enum Second<'a> {
    /// Class labels: every estimator's I(T;Y) with T the first variable.
    Labels(&'a [u32]),
    /// A continuous variable with the first's rows.
    Values(&'a Table),
}

/// Checks that every estimator can measure the pair (`discrete`: the second variable is
/// class labels) and returns how each would.
fn rules_of(estimators: &[Estimator], discrete: bool) -> Result<Vec<Pair>, CliError> {
    if discrete {
        return Ok(Vec::new());
    }
    estimators
        .iter()
        .map(|e| pair_rule(e).map_err(|m| CliError::option("--estimator", m)))
        .collect()
}

/// I(A;B) in bits by every estimator, with the warnings (each `estimator: advice`) the
/// values need; `a` and `b` have the same rows, and messages call `a` `a_name`.
///
/// # Errors
/// An estimator that cannot measure two continuous variables (`--estimator`), more
/// neighbours than samples (`--k`), core errors.
pub fn mi_values(
    estimators: &[Estimator],
    settings: Settings,
    a: &Table,
    b: Second<'_>,
    threads: usize,
    a_name: &Path,
) -> Result<(Vec<f64>, Vec<String>), CliError> {
    let rules = rules_of(estimators, matches!(b, Second::Labels(_)))?;
    let shown = a_name;
    let mut work = Workspace::new();
    let mut bits = Vec::with_capacity(estimators.len());
    let mut warnings = Vec::new();
    match b {
        Second::Labels(y) => {
            // The classes are the inputs too: every estimator's I(T;Y), and for `ksg` its
            // mixed form, never needs input values here.
            check_needs(estimators, settings, true, a.rows, shown)?;
            for p in estimate_layer_groups(estimators, a, y, y, threads, &mut work)? {
                bits.push(p.i_ty.in_bits());
            }
        }
        Second::Values(b) => {
            check_needs(estimators, settings, true, a.rows, shown)?;
            let one_class = vec![0u32; a.rows];
            let x = if rules.contains(&Pair::Direct) {
                Some(inputs_of(a.clone())?)
            } else {
                None
            };
            let joint = rules.contains(&Pair::Entropies).then(|| side_by_side(a, b));
            for (est, rule) in estimators.iter().zip(&rules) {
                if est.kind().params().contains(&Param::Range) {
                    let share = honest::clipped_share(&a.data, settings.lo, settings.hi)
                        .max(honest::clipped_share(&b.data, settings.lo, settings.hi));
                    if share > 0.0 {
                        warnings.extend(honest::warnings_of(
                            est,
                            settings,
                            f64::INFINITY,
                            &[(honest::Issue::Clipped, share)],
                        ));
                    }
                }
                let one = std::slice::from_ref(est);
                let v = match rule {
                    Pair::Direct => {
                        let p = estimate_layer(one, b, &one_class, x.as_ref(), threads, &mut work)?;
                        p.first().map_or(0.0, |p| p.i_xt.in_bits())
                    }
                    Pair::Entropies => {
                        // With every sample its own input, I(X;T) is the entropy of T's bins.
                        let mut h = |t: &Table| -> Result<f64, CliError> {
                            let p = estimate_layer(one, t, &one_class, None, threads, &mut work)?;
                            Ok(p.first().map_or(0.0, |p| p.i_xt.in_bits()))
                        };
                        let ab = joint.as_ref().map_or(Ok(0.0), &mut h)?;
                        (h(a)? + h(b)? - ab).max(0.0)
                    }
                };
                bits.push(v);
            }
        }
    }
    Ok((bits, warnings))
}

/// Reads the two variables, runs every estimator and writes `estimator,mi_bits` rows.
///
/// # Errors
/// File, option and size errors as [`CliError`]s; an estimator that cannot measure two
/// continuous variables.
pub fn mi(args: &MiArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let settings = args.settings.apply(Settings::DEFAULT)?;
    let estimators = super::estimators_of(&args.estimators, settings, &args.settings)?;
    // Every estimator is checked before a file is read.
    rules_of(&estimators, args.discrete_y)?;
    let threads = threads(args.threads)?;
    let a_src = Source::parse(&args.x);
    let b_src = Source::parse(&args.y);
    let a = read_matrix(&a_src, args.x_columns.as_ref(), "--x-columns", threads)?;
    let (bits, warnings) = if args.discrete_y {
        let y = read_labels_from_source(&b_src, args.y_columns.as_deref())?;
        same_rows(&b_src, y.len(), &a_src, a.rows)?;
        mi_values(
            &estimators,
            settings,
            &a,
            Second::Labels(&y),
            threads,
            &a_src.shown(),
        )
    } else {
        let b_cols = args
            .y_columns
            .as_deref()
            .map(str::parse::<Columns>)
            .transpose()
            .map_err(|m| CliError::option("--y-columns", m))?;
        let b = read_matrix(&b_src, b_cols.as_ref(), "--y-columns", threads)?;
        same_rows(&b_src, b.rows, &a_src, a.rows)?;
        mi_values(
            &estimators,
            settings,
            &a,
            Second::Values(&b),
            threads,
            &a_src.shown(),
        )
    }?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let stdout = |e| CliError::io(Path::new("<stdout>"), e);
    let header = if args.bits {
        "estimator,mi_bits,mi_hex"
    } else {
        "estimator,mi_bits"
    };
    writeln!(out, "{header}").map_err(stdout)?;
    for (est, v) in estimators.iter().zip(bits) {
        if args.bits {
            writeln!(out, "{},{v},{:016x}", est.name(), v.to_bits()).map_err(stdout)?;
        } else {
            writeln!(out, "{},{v}", est.name()).map_err(stdout)?;
        }
    }
    out.flush().map_err(stdout)
}

fn same_rows(b: &Source, b_rows: usize, a: &Source, a_rows: usize) -> Result<(), CliError> {
    if a_rows == b_rows {
        return Ok(());
    }
    Err(CliError::data(
        &b.shown(),
        None,
        None,
        format!("{b_rows} rows, but {a} has {a_rows}"),
    ))
}

/// The columns of `a` then those of `b`, row by row.
fn side_by_side(a: &Table, b: &Table) -> Table {
    let mut data = Vec::with_capacity(a.rows * (a.cols + b.cols));
    for (ra, rb) in a
        .data
        .chunks_exact(a.cols.max(1))
        .zip(b.data.chunks_exact(b.cols.max(1)))
    {
        data.extend_from_slice(ra);
        data.extend_from_slice(rb);
    }
    Table {
        data,
        rows: a.rows,
        cols: a.cols + b.cols,
        header: None,
    }
}
