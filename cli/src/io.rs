//! CSV in (validated, with file/line/column errors) and CSV out.

use crate::error::CliError;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// A numeric table read from CSV: `rows × cols` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The values, row-major.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The header row, if the file had one.
    pub header: Option<Vec<String>>,
}

fn open(path: &Path) -> Result<BufReader<File>, CliError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| CliError::io(path, e))
}

fn reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(r)
}

fn csv_error(path: &Path, e: &csv::Error) -> CliError {
    let line = e.position().map(csv::Position::line);
    CliError::data(path, line, None, e.to_string())
}

/// Whether every cell of a record parses as a number (a data row rather than a header).
fn is_numeric(rec: &csv::StringRecord) -> bool {
    rec.iter().all(|c| c.parse::<f64>().is_ok())
}

/// Reads a numeric CSV (optional header row) from `path`. Every row must have as many cells
/// as the first; every cell must be a finite number.
///
/// # Errors
/// A [`CliError`] naming the file, line and column of the first problem, or the I/O error.
pub fn read_table(path: &Path) -> Result<Table, CliError> {
    read_table_from(open(path)?, path)
}

/// As [`read_table`], from any reader; `path` is only used in messages.
///
/// # Errors
/// As [`read_table`].
pub fn read_table_from<R: Read>(input: R, path: &Path) -> Result<Table, CliError> {
    let mut rdr = reader(input);
    let mut data = Vec::new();
    let mut header = None;
    let mut cols = None;
    let mut rows = 0usize;
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = rec.position().map(csv::Position::line);
        if rec.len() == 1 && rec.get(0).is_some_and(str::is_empty) {
            continue; // blank line
        }
        if cols.is_none() && header.is_none() && !is_numeric(&rec) {
            header = Some(rec.iter().map(str::to_owned).collect());
            cols = Some(rec.len());
            continue;
        }
        let width = *cols.get_or_insert(rec.len());
        if rec.len() != width {
            return Err(CliError::data(
                path,
                line,
                None,
                format!("ragged row: {} cells, expected {width}", rec.len()),
            ));
        }
        for (c, cell) in rec.iter().enumerate() {
            let v: f32 = cell.parse().map_err(|_| {
                CliError::data(path, line, Some(c + 1), format!("{cell:?} is not a number"))
            })?;
            if !v.is_finite() {
                return Err(CliError::data(
                    path,
                    line,
                    Some(c + 1),
                    format!("{cell:?} is not finite"),
                ));
            }
            data.push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(CliError::data(path, None, None, "no data rows"));
    }
    Ok(Table {
        data,
        rows,
        cols: cols.unwrap_or(0),
        header,
    })
}

/// Reads labels: non-negative integers from the only column of `path`, or from the column
/// named `column` (which needs a header row).
///
/// # Errors
/// A [`CliError`] naming the file, line and column of the first bad label, an unknown
/// column, a file with several columns and no `--label-column`, or an empty file.
pub fn read_labels(path: &Path, column: Option<&str>) -> Result<Vec<u32>, CliError> {
    read_labels_from(open(path)?, path, column)
}

/// As [`read_labels`], from any reader; `path` is only used in messages.
///
/// # Errors
/// As [`read_labels`].
pub fn read_labels_from<R: Read>(
    input: R,
    path: &Path,
    column: Option<&str>,
) -> Result<Vec<u32>, CliError> {
    let mut rdr = reader(input);
    let mut rec = csv::StringRecord::new();
    let mut labels = Vec::new();
    let mut col: Option<usize> = None;
    let mut width: Option<usize> = None;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = rec.position().map(csv::Position::line);
        if rec.len() == 1 && rec.get(0).is_some_and(str::is_empty) {
            continue;
        }
        if width.is_none() {
            width = Some(rec.len());
            if !is_numeric(&rec) {
                // Header row.
                col = Some(match column {
                    Some(name) => rec.iter().position(|h| h == name).ok_or_else(|| {
                        let names: Vec<&str> = rec.iter().collect();
                        CliError::option(
                            "--label-column",
                            format!(
                                "no column {name:?} in {} (columns: {})",
                                path.display(),
                                names.join(", ")
                            ),
                        )
                    })?,
                    None if rec.len() == 1 => 0,
                    None => {
                        return Err(CliError::data(
                            path,
                            line,
                            None,
                            format!("{} columns; choose one with --label-column", rec.len()),
                        ));
                    }
                });
                continue;
            }
            col = Some(match column {
                Some(_) => {
                    return Err(CliError::option(
                        "--label-column",
                        format!("{} has no header row to name columns", path.display()),
                    ));
                }
                None if rec.len() == 1 => 0,
                None => {
                    return Err(CliError::data(
                        path,
                        line,
                        None,
                        format!(
                            "{} columns; labels need one column (or a header and --label-column)",
                            rec.len()
                        ),
                    ));
                }
            });
        }
        if Some(rec.len()) != width {
            return Err(CliError::data(
                path,
                line,
                None,
                format!(
                    "ragged row: {} cells, expected {}",
                    rec.len(),
                    width.unwrap_or(0)
                ),
            ));
        }
        let c = col.unwrap_or(0);
        let cell = rec.get(c).unwrap_or("");
        labels.push(parse_label(cell).map_err(|m| CliError::data(path, line, Some(c + 1), m))?);
    }
    if labels.is_empty() {
        return Err(CliError::data(path, None, None, "no labels"));
    }
    Ok(labels)
}

/// A label: a non-negative integer, written as `3` or `3.0`.
fn parse_label(cell: &str) -> Result<u32, String> {
    if let Ok(v) = cell.parse::<u32>() {
        return Ok(v);
    }
    match cell.parse::<f64>() {
        Ok(v) if v < 0.0 => Err(format!("label {cell:?} is negative")),
        Ok(v) if v.fract() == 0.0 && v <= f64::from(u32::MAX) => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            // checked integral, in range
            let u = v as u32;
            Ok(u)
        }
        Ok(_) => Err(format!("label {cell:?} is not a non-negative integer")),
        Err(_) => Err(format!("label {cell:?} is not a number")),
    }
}

/// Creates `path` for writing, with a clear error.
///
/// # Errors
/// The I/O error with the path.
pub fn create(path: &Path) -> Result<File, CliError> {
    File::create(path).map_err(|e| CliError::io(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn table(s: &str) -> Result<Table, CliError> {
        read_table_from(s.as_bytes(), Path::new("a.csv"))
    }

    #[test]
    fn tables_parse_with_and_without_header() {
        let t = table("u1,u2\n0.5,-1\n1e-3,2\n").unwrap();
        assert_eq!(
            (t.rows, t.cols, t.data.clone()),
            (2, 2, vec![0.5, -1.0, 1e-3, 2.0])
        );
        assert_eq!(t.header.unwrap(), vec!["u1", "u2"]);
        assert_eq!(table("1,2\n3,4").unwrap().rows, 2);
    }

    #[test]
    fn table_errors_name_line_and_column() {
        assert_eq!(
            table("1,2\n3\n").unwrap_err().to_string(),
            "a.csv: line 2: ragged row: 1 cells, expected 2"
        );
        assert_eq!(
            table("1,2\n3,x\n").unwrap_err().to_string(),
            "a.csv: line 2, column 2: \"x\" is not a number"
        );
        assert_eq!(
            table("1,NaN\n").unwrap_err().to_string(),
            "a.csv: line 1, column 2: \"NaN\" is not finite"
        );
        assert_eq!(table("").unwrap_err().to_string(), "a.csv: no data rows");
        assert_eq!(
            table("a,b\n").unwrap_err().to_string(),
            "a.csv: no data rows"
        );
    }

    #[test]
    fn labels_parse_and_fail_clearly() {
        let p = Path::new("y.csv");
        assert_eq!(
            read_labels_from("y\n0\n1\n2.0\n".as_bytes(), p, None).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(
            read_labels_from("a,y\n5,1\n6,0\n".as_bytes(), p, Some("y")).unwrap(),
            vec![1, 0]
        );
        let e = |s: &str, c| {
            read_labels_from(s.as_bytes(), p, c)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("0\n-1\n", None),
            "y.csv: line 2, column 1: label \"-1\" is negative"
        );
        assert_eq!(
            e("0\n1.5\n", None),
            "y.csv: line 2, column 1: label \"1.5\" is not a non-negative integer"
        );
        assert!(e("a,y\n5,1\n", Some("z")).starts_with("--label-column: no column \"z\""));
        assert_eq!(
            e("1,2\n", None),
            "y.csv: line 1: 2 columns; labels need one column (or a header and --label-column)"
        );
    }
}
