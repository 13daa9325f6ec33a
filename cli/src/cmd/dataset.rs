//! `infoplane dataset`: export a generated data set.

use crate::args::{DatasetArgs, DatasetName};
use crate::error::CliError;
use infoplane_core::data::{TISHBY_BITS, TISHBY_ROWS, tishby_dataset};
use std::io::Write;

/// Writes the data set as CSV: header `x0,…,x11,y`, one row per pattern.
///
/// # Errors
/// I/O errors with the output path.
pub fn dataset(args: &DatasetArgs) -> Result<(), CliError> {
    let DatasetName::Tishby = args.name;
    let mut x = vec![0.0f32; TISHBY_ROWS * TISHBY_BITS];
    let mut y = vec![0u32; TISHBY_ROWS];
    tishby_dataset(&mut x, &mut y).map_err(|e| CliError::core("generating the data set", e))?;
    let mut w: Vec<u8> = Vec::new();
    let io = |e| CliError::io(&args.out, e);
    let header: Vec<String> = (0..TISHBY_BITS)
        .map(|c| format!("x{c}"))
        .chain(["y".to_owned()])
        .collect();
    writeln!(w, "{}", header.join(",")).map_err(io)?;
    for (row, label) in x.chunks_exact(TISHBY_BITS).zip(&y) {
        let cells: Vec<&str> = row
            .iter()
            .map(|&v| if v > 0.5 { "1" } else { "0" })
            .collect();
        writeln!(w, "{},{label}", cells.join(",")).map_err(io)?;
    }
    // Whole or not at all: a full disk never leaves a partial file in place of the old one.
    crate::io::write_whole(&args.out, &w)
}
