//! `infoplane estimate`: MI of activations brought as CSV.

use super::{BinSettings, Buffers, Estimator, estimate_layer, parse_range};
use crate::args::EstimateArgs;
use crate::error::CliError;
use crate::io::{read_labels, read_table};
use infoplane_core::MatRef;
use infoplane_core::binning::group_rows;
use std::io::Write;

/// Reads the files, runs every requested estimator and writes
/// `estimator,i_xt_bits,i_ty_bits` rows to `out`.
///
/// # Errors
/// File, option and size errors as [`CliError`]s.
pub fn estimate(args: &EstimateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let settings = BinSettings {
        bins: args.bins,
        range: parse_range(&args.range)?,
        idnns: args.idnns_compat,
        bin_size: args.bin_size,
        noise_var: args.noise_var,
    };
    // Check every estimator's settings before reading any file.
    for &e in &args.estimators {
        Estimator::new(e, &settings, 1, 1)?;
    }
    let t = read_table(&args.activations)?;
    let labels = read_labels(&args.labels, args.label_column.as_deref())?;
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
    let x_ids = match &args.inputs {
        None => None,
        Some(path) => {
            let x = read_table(path)?;
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
            Some(ids)
        }
    };
    let tm = MatRef::new(&t.data, t.rows, t.cols).map_err(|e| CliError::core("activations", e))?;
    let stdout = |e| CliError::io(std::path::Path::new("<stdout>"), e);
    let header = if args.bits {
        "estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex"
    } else {
        "estimator,i_xt_bits,i_ty_bits"
    };
    writeln!(out, "{header}").map_err(stdout)?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        args.threads
    };
    let mut buf = Buffers::default();
    for &name in &args.estimators {
        let est = Estimator::new(name, &settings, t.rows, t.cols)?;
        let p = estimate_layer(&est, name, tm, &labels, x_ids.as_deref(), threads, &mut buf)?;
        let (ix, iy) = (p.i_xt.in_bits(), p.i_ty.in_bits());
        if args.bits {
            writeln!(
                out,
                "{},{ix},{iy},{:016x},{:016x}",
                name.as_str(),
                ix.to_bits(),
                iy.to_bits()
            )
            .map_err(stdout)?;
        } else {
            writeln!(out, "{},{ix},{iy}", name.as_str()).map_err(stdout)?;
        }
    }
    out.flush().map_err(stdout)
}
