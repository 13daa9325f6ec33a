//! `infoplane estimate`: MI of activations brought as CSV.

use super::{estimate_parallel, threads};
use crate::args::EstimateArgs;
use crate::error::CliError;
use crate::io::{read_labels, read_table_threads};
use infoplane_core::dataset::group_rows;
use infoplane_core::estimator::{Estimator, Layer, Param, Settings, group};
use infoplane_core::{MatRef, Workspace};
use std::io::Write;

/// Warns when a table without a header begins with the row 0, 1, …, d − 1 (d ≥ 3): pandas
/// writes that header for unnamed columns, and it reads as a row of data.
fn warn_numbered_header(path: &std::path::Path, t: &crate::io::Table) {
    if t.header.is_some() || t.cols < 3 {
        return;
    }
    let first = t.data.get(..t.cols).unwrap_or(&[]);
    #[allow(clippy::cast_precision_loss, clippy::float_cmp)] // small integers, exact
    let numbered = first.iter().enumerate().all(|(k, &v)| v == k as f32);
    if numbered && t.rows > 1 {
        eprintln!(
            "warning: {}: line 1 is 0, 1, …, {} and is read as data; if it is a header of column numbers (pandas writes one for unnamed columns), remove it",
            path.display(),
            t.cols - 1
        );
    }
}

/// Reads the files, runs every requested estimator and writes
/// `estimator,i_xt_bits,i_ty_bits` rows to `out`.
///
/// # Errors
/// File, option and size errors as [`CliError`]s.
pub fn estimate(args: &EstimateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let settings = args.settings.apply(Settings::DEFAULT)?;
    // Every estimator's settings are checked before any file is read.
    let estimators = args
        .estimators
        .iter()
        .map(|name| {
            Estimator::new(name, settings)
                .map_err(|e| CliError::from_core(name.as_str(), e, |p| args.settings.given(p)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let threads = threads(args.threads)?;
    let read_y = || read_labels(&args.labels, args.label_column.as_deref());
    // With threads to spare, the labels are read while the activations are; the activations'
    // error, if any, still comes first.
    let (t, labels) = if threads > 1 {
        std::thread::scope(|scope| {
            let labels = scope.spawn(read_y);
            let t = read_table_threads(&args.activations, threads);
            let labels = labels.join().unwrap_or_else(|_| {
                Err(CliError::Other(
                    "reading the labels: a thread panicked".to_string(),
                ))
            });
            (t, labels)
        })
    } else {
        (read_table_threads(&args.activations, threads), read_y())
    };
    let (t, labels) = (t?, labels?);
    warn_numbered_header(&args.activations, &t);
    if labels.len() != t.rows {
        return Err(CliError::data(
            &args.labels,
            None,
            None,
            format!(
                "{} labels for {} rows of activations in {}",
                labels.len(),
                t.rows,
                args.activations.display()
            ),
        ));
    }
    let (x_table, x_ids) = match &args.inputs {
        None => (None, None),
        Some(path) => {
            let x = read_table_threads(path, threads)?;
            warn_numbered_header(path, &x);
            if x.rows != t.rows {
                return Err(CliError::data(
                    path,
                    None,
                    None,
                    format!("{} input rows for {} rows of activations", x.rows, t.rows),
                ));
            }
            let xm =
                MatRef::new(&x.data, x.rows, x.cols).map_err(|e| CliError::core("inputs", e))?;
            let mut ids = vec![0u32; x.rows];
            let mut scratch = vec![0u64; x.rows];
            group_rows(xm, &mut ids, &mut scratch)
                .map_err(|e| CliError::core("grouping inputs", e))?;
            (Some(x), Some(ids))
        }
    };
    for est in &estimators {
        if est.kind().needs_inputs() && x_table.is_none() {
            return Err(CliError::option(
                "--inputs",
                format!(
                    "{} measures I(X;T) from the inputs: give them as a CSV with one row per sample (as many rows as {})",
                    est.name(),
                    args.activations.display()
                ),
            ));
        }
        if est.kind().params().contains(&Param::K) && u64::from(settings.k) >= t.rows as u64 {
            return Err(CliError::option(
                "--k",
                format!(
                    "k = {} needs more than {} samples; {} has {}",
                    settings.k,
                    settings.k,
                    args.activations.display(),
                    t.rows
                ),
            ));
        }
    }
    let tm = MatRef::new(&t.data, t.rows, t.cols).map_err(|e| CliError::core("activations", e))?;
    let mut layer =
        Layer::new(tm, &labels, x_ids.as_deref()).map_err(|e| CliError::core("activations", e))?;
    let dx = x_table.as_ref().map_or(0, |x| x.cols);
    if let Some(x) = &x_table {
        let xm = MatRef::new(&x.data, x.rows, x.cols).map_err(|e| CliError::core("inputs", e))?;
        layer = layer
            .with_x(xm.into())
            .map_err(|e| CliError::core("inputs", e))?;
    }
    let stdout = |e| CliError::io(std::path::Path::new("<stdout>"), e);
    let header = if args.bits {
        "estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex"
    } else {
        "estimator,i_xt_bits,i_ty_bits"
    };
    let mut work = Workspace::new();
    let plans = estimators
        .iter()
        .map(|est| {
            est.plan(t.rows, t.cols)
                .and_then(|p| p.with_inputs(dx))
                .map_err(|e| CliError::core(est.name(), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Estimates that share work (the two KDE bounds) are computed together; rows still come
    // in the order the estimators were given.
    let mut points = vec![None; plans.len()];
    for g in group(&plans) {
        for (i, p) in estimate_parallel(&g, &layer, threads, &mut work)? {
            if let Some(slot) = points.get_mut(i) {
                *slot = Some(p);
            }
        }
    }
    // Printed once every estimate is in: an error leaves stdout empty.
    writeln!(out, "{header}").map_err(stdout)?;
    for (est, p) in estimators.iter().zip(points) {
        let p = p.ok_or_else(|| CliError::Other(format!("{}: not computed", est.name())))?;
        let (ix, iy) = (p.i_xt.in_bits(), p.i_ty.in_bits());
        if args.bits {
            writeln!(
                out,
                "{},{ix},{iy},{:016x},{:016x}",
                est.name(),
                ix.to_bits(),
                iy.to_bits()
            )
            .map_err(stdout)?;
        } else {
            writeln!(out, "{},{ix},{iy}", est.name()).map_err(stdout)?;
        }
    }
    out.flush().map_err(stdout)
}
