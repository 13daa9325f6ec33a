//! Numeric text tables in (comma-, tab- or whitespace-separated, validated, with
//! file/line/column errors) and CSV out.

use crate::error::CliError;
use std::fs::File;
use std::io::Read;
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

/// How the cells of a text table are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    /// Commas (CSV, pandas' `to_csv`).
    Comma,
    /// Tabs (TSV, `np.savetxt(..., delimiter="\t")`).
    Tab,
    /// Runs of spaces and tabs (`np.savetxt`'s default, `%.18e` with one space).
    Whitespace,
}

impl Sep {
    /// The separator of a table: on its first line that is neither blank nor a `#` comment,
    /// a comma if it has one, else a tab if it has one, else runs of whitespace if the line
    /// has spaces between its characters; a single cell is read as CSV.
    #[must_use]
    pub fn detect(bytes: &[u8]) -> Self {
        let first = bytes
            .split(|&b| b == b'\n')
            .find(|l| {
                let t = l.trim_ascii();
                !t.is_empty() && !t.starts_with(b"#")
            })
            .unwrap_or(&[]);
        if first.contains(&b',') {
            Self::Comma
        } else if first.contains(&b'\t') {
            Self::Tab
        } else if first.trim_ascii().iter().any(u8::is_ascii_whitespace) {
            Self::Whitespace
        } else {
            Self::Comma
        }
    }

    /// The separator's byte for the CSV reader (whitespace tables never go there).
    const fn byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Tab => b'\t',
            Self::Whitespace => WS,
        }
    }
}

/// [`Cells`]'s marker for "runs of ASCII whitespace".
const WS: u8 = b' ';

fn reader<R: Read>(r: R, sep: Sep) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(sep.byte())
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

/// Reads a numeric table (optional header row) from `path`: cells separated by commas, tabs
/// or whitespace ([`Sep::detect`]); with tabs or whitespace, lines starting with `#` are
/// comments (NumPy's `savetxt` writes its header so). Every row must have as many cells as
/// the first; every cell must be a finite number.
///
/// # Errors
/// A [`CliError`] naming the file, line and column of the first problem, or the I/O error.
pub fn read_table(path: &Path) -> Result<Table, CliError> {
    read_table_threads(path, 1)
}

/// As [`read_table`], parsing a large plain file's rows on up to `threads` scoped threads
/// (whole lines each). The table and every message are the same for any `threads`: each
/// part reports its first problem, and the first part's problem wins.
///
/// # Errors
/// As [`read_table`].
pub fn read_table_threads(path: &Path, threads: usize) -> Result<Table, CliError> {
    // One read into a buffer sized from the file's length.
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    let sep = Sep::detect(&bytes);
    match read_table_plain(&bytes, path, parts_for(bytes.len(), threads), sep) {
        Some(table) => table,
        None => read_table_csv(bytes.as_slice(), path, sep),
    }
}

/// As [`read_table`], from any reader; `path` is only used in messages.
///
/// # Errors
/// As [`read_table`].
pub fn read_table_from<R: Read>(mut input: R, path: &Path) -> Result<Table, CliError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::io(path, e))?;
    let sep = Sep::detect(&bytes);
    match read_table_plain(&bytes, path, 1, sep) {
        Some(table) => table,
        None => read_table_csv(bytes.as_slice(), path, sep),
    }
}

/// Bytes of rows below which a part is not worth a thread (spawning one costs about as much
/// as parsing 16 KiB).
const PART_BYTES: usize = 128 * 1024;

/// How many parts to parse `len` bytes in with up to `threads` threads.
fn parts_for(len: usize, threads: usize) -> usize {
    threads.clamp(1, (len / PART_BYTES).max(1))
}

/// The common case of [`read_table_from`] without the CSV machinery: valid UTF-8 with no
/// byte-order mark, no quote and no carriage return, so every line is a record and every comma separates
/// cells. The same rules, the same results and the same messages as [`read_table_csv`]
/// (tested on both); `None` for any other input, which goes to the CSV reader. About 3×
/// faster on a 4096 × 10 table of 17-digit values. The rows after the first data row are
/// parsed in `parts` pieces of whole lines, each on its own thread when `parts > 1`.
/// Whitespace-separated tables always come here (a byte-order mark skipped, `\r` is
/// whitespace, a quote is not a number); `None` then only for bytes that are not UTF-8.
fn read_table_plain(
    bytes: &[u8],
    path: &Path,
    parts: usize,
    sep: Sep,
) -> Option<Result<Table, CliError>> {
    if sep == Sep::Whitespace {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Some(Err(CliError::data(
                path,
                None,
                None,
                "not UTF-8 text (a NumPy array? name it .npy or .npz)",
            )));
        };
        return Some(parse_plain::<WS>(text, path, parts));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") || has_quote_or_cr(bytes) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    Some(match sep {
        Sep::Tab => parse_plain::<b'\t'>(text, path, parts),
        _ => parse_plain::<b','>(text, path, parts),
    })
}

/// Whether `bytes` holds a `"` or a `\r` (SIMD search: a byte loop with an early exit does
/// not vectorise, and cost 0.4 ms on a 790 KB table).
fn has_quote_or_cr(bytes: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', bytes).is_some()
}

/// Whether a line is skipped: blank (only whitespace, no separator), or with tabs or
/// whitespace between cells, a `#` comment.
fn is_blank<const SEP: u8>(raw: &str) -> bool {
    let t = raw.trim();
    if SEP == b',' {
        t.is_empty() && !raw.contains(',')
    } else if SEP == WS {
        t.is_empty() || t.starts_with('#')
    } else {
        (t.is_empty() && !raw.contains(char::from(SEP))) || t.starts_with('#')
    }
}

fn parse_plain<const SEP: u8>(text: &str, path: &Path, parts: usize) -> Result<Table, CliError> {
    let mut data = Vec::with_capacity(text.len() / 8);
    let mut header = None;
    let mut cols = None;
    let mut rows = 0usize;
    // Line by line until the header or the first data row fixes the width.
    let mut line = 0u64;
    let mut rest = Some(text);
    while cols.is_none() {
        let Some(r) = rest else { break };
        let (raw, next) = match r.split_once('\n') {
            Some((raw, next)) => (raw, Some(next)),
            None => (r, None),
        };
        rest = next;
        line += 1;
        if is_blank::<SEP>(raw) {
            continue;
        }
        if !Cells::<SEP>(Some(raw)).all(|c| c.trim().parse::<f64>().is_ok()) {
            header = Some(
                Cells::<SEP>(Some(raw))
                    .map(|c| c.trim().to_owned())
                    .collect::<Vec<_>>(),
            );
            cols = header.as_ref().map(Vec::len);
            continue;
        }
        let width = Cells::<SEP>(Some(raw)).count();
        cols = Some(width);
        plain_row::<SEP>(raw, path, line, width, &mut data)?;
        rows += 1;
    }
    if let (Some(rest), Some(width)) = (rest, cols) {
        let pieces = split_lines(rest, parts);
        if pieces.len() <= 1 {
            rows += plain_rows::<SEP>(rest, path, line + 1, width, &mut data)?;
        } else {
            // Each piece's first line number: the lines before it.
            let mut firsts = Vec::with_capacity(pieces.len());
            let mut next = line + 1;
            for piece in &pieces {
                firsts.push(next);
                next += piece.bytes().filter(|&b| b == b'\n').count() as u64;
            }
            let parse = |piece: &str, first: u64| {
                let mut out = Vec::with_capacity(piece.len() / 8);
                plain_rows::<SEP>(piece, path, first, width, &mut out).map(|n| (out, n))
            };
            // The first piece on this thread, the others on their own.
            let results: Vec<Result<(Vec<f32>, usize), CliError>> = std::thread::scope(|scope| {
                let jobs: Vec<_> = pieces
                    .iter()
                    .zip(&firsts)
                    .skip(1)
                    .map(|(&piece, &first)| {
                        let parse = &parse;
                        scope.spawn(move || parse(piece, first))
                    })
                    .collect();
                let mut results = Vec::with_capacity(pieces.len());
                if let (Some(&piece), Some(&first)) = (pieces.first(), firsts.first()) {
                    results.push(parse(piece, first));
                }
                for j in jobs {
                    results.push(j.join().unwrap_or_else(|_| {
                        Err(CliError::Other(format!(
                            "{}: a parsing thread panicked",
                            path.display()
                        )))
                    }));
                }
                results
            });
            for r in results {
                let (values, n) = r?;
                data.extend_from_slice(&values);
                rows += n;
            }
        }
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

/// `text` in at most `parts` pieces of whole lines (each but the last ends just after a
/// `\n`), of about equal length.
fn split_lines(text: &str, parts: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = text;
    for k in (1..=parts).rev() {
        if k == 1 || rest.is_empty() {
            pieces.push(rest);
            break;
        }
        let target = rest.len() / k;
        let cut = rest
            .as_bytes()
            .get(target..)
            .and_then(|tail| tail.iter().position(|&b| b == b'\n'))
            .map_or(rest.len(), |i| target + i + 1);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Parses the data rows of `text` (its first line is line `first` of the file), each of
/// `width` cells, onto `data`; returns how many rows it read.
fn plain_rows<const SEP: u8>(
    text: &str,
    path: &Path,
    first: u64,
    width: usize,
    data: &mut Vec<f32>,
) -> Result<usize, CliError> {
    let mut rows = 0usize;
    for (raw, line) in text.split('\n').zip(first..) {
        if is_blank::<SEP>(raw) {
            continue;
        }
        plain_row::<SEP>(raw, path, line, width, data)?;
        rows += 1;
    }
    Ok(rows)
}

/// One data row of `width` cells onto `data`, or the ragged-row or cell error (the ragged
/// row first, as the CSV reader reports it). The cells are counted as they are parsed, in
/// one pass over the line.
fn plain_row<const SEP: u8>(
    raw: &str,
    path: &Path,
    line: u64,
    width: usize,
    data: &mut Vec<f32>,
) -> Result<(), CliError> {
    let start = data.len();
    let mut got = 0usize;
    let mut bad = None;
    for (c, cell) in Cells::<SEP>(Some(raw)).enumerate() {
        got += 1;
        if bad.is_none() {
            match parse_cell(cell.trim(), path, Some(line), c) {
                Ok(v) => data.push(v),
                Err(e) => bad = Some(e),
            }
        }
    }
    if got != width {
        data.truncate(start);
        return Err(CliError::data(
            path,
            Some(line),
            None,
            format!("ragged row: {got} cells, expected {width}"),
        ));
    }
    match bad {
        Some(e) => {
            data.truncate(start);
            Err(e)
        }
        None => Ok(()),
    }
}

/// Cell `c` (0-based) of `line` as a finite `f32`, or the error naming both.
fn parse_cell(cell: &str, path: &Path, line: Option<u64>, c: usize) -> Result<f32, CliError> {
    let v: f32 = cell.parse().map_err(|_| {
        CliError::data(path, line, Some(c + 1), format!("{cell:?} is not a number"))
    })?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CliError::data(
            path,
            line,
            Some(c + 1),
            format!("{cell:?} is not finite"),
        ))
    }
}

/// The cells of a line separated by the byte `SEP` ([`WS`]: by runs of ASCII whitespace),
/// found by a plain byte loop (`str::split` calls `memchr` per cell, which costs more than the
/// short cells it finds). `None` once the last cell is out.
struct Cells<'a, const SEP: u8>(Option<&'a str>);

impl<'a, const SEP: u8> Iterator for Cells<'a, SEP> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        if SEP == WS {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
            if rest.is_empty() {
                self.0 = None;
                return None;
            }
            let end = rest
                .bytes()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            self.0 = rest.get(end..);
            return rest.get(..end);
        }
        match rest.bytes().position(|b| b == SEP) {
            Some(i) => {
                self.0 = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// [`read_table_from`] through the CSV reader (quotes, `\r` line ends, byte errors), for
/// commas or tabs.
fn read_table_csv<R: Read>(input: R, path: &Path, sep: Sep) -> Result<Table, CliError> {
    let mut rdr = reader(input, sep);
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
            data.push(parse_cell(cell, path, line, c)?);
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
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    labels_from_bytes(&bytes, path, column, true)
}

/// As [`read_labels`], from any reader; `path` is only used in messages.
///
/// # Errors
/// As [`read_labels`].
pub fn read_labels_from<R: Read>(
    mut input: R,
    path: &Path,
    column: Option<&str>,
) -> Result<Vec<u32>, CliError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::io(path, e))?;
    labels_from_bytes(&bytes, path, column, true)
}

/// Labels from a whole file: plain input (as in [`read_table_plain`]) split by lines and
/// commas, anything else through the CSV reader; both hand the same trimmed cells and line
/// numbers to one [`Labels`], so they agree on values and messages (tested).
fn labels_from_bytes(
    bytes: &[u8],
    path: &Path,
    column: Option<&str>,
    allow_plain: bool,
) -> Result<Vec<u32>, CliError> {
    let mut labels = Labels {
        path,
        column,
        labels: Vec::new(),
        col: None,
        width: None,
    };
    let sep = Sep::detect(bytes);
    let whitespace = sep == Sep::Whitespace;
    let bytes = if whitespace {
        bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
    } else {
        bytes
    };
    let plain = ((allow_plain || whitespace)
        && !bytes.starts_with(b"\xEF\xBB\xBF")
        && (whitespace || !has_quote_or_cr(bytes)))
    .then(|| std::str::from_utf8(bytes).ok())
    .flatten();
    if whitespace && plain.is_none() {
        return Err(CliError::data(
            path,
            None,
            None,
            "not UTF-8 text (a NumPy array? name it .npy or .npz)",
        ));
    }
    if let Some(text) = plain {
        let mut cells: Vec<&str> = Vec::new();
        for (raw, line) in text.split('\n').zip(1u64..) {
            cells.clear();
            match sep {
                Sep::Comma => cells.extend(Cells::<b','>(Some(raw)).map(str::trim)),
                Sep::Tab if !is_blank::<b'\t'>(raw) => {
                    cells.extend(Cells::<b'\t'>(Some(raw)).map(str::trim));
                }
                Sep::Whitespace if !is_blank::<WS>(raw) => cells.extend(Cells::<WS>(Some(raw))),
                // Comments and blank lines: one empty cell, skipped as a blank line.
                Sep::Tab | Sep::Whitespace => cells.push(""),
            }
            labels.record(&cells, Some(line))?;
        }
    } else {
        let mut rdr = reader(bytes, sep);
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_error(path, &e)),
            }
            let cells: Vec<&str> = rec.iter().collect();
            labels.record(&cells, rec.position().map(csv::Position::line))?;
        }
    }
    if labels.labels.is_empty() {
        return Err(CliError::data(path, None, None, "no labels"));
    }
    Ok(labels.labels)
}

/// The labels read so far, and what the first rows fixed: the column and the width.
struct Labels<'p> {
    path: &'p Path,
    column: Option<&'p str>,
    labels: Vec<u32>,
    col: Option<usize>,
    width: Option<usize>,
}

impl Labels<'_> {
    /// One record's trimmed cells, from line `line`: skipped if blank, the header, or a
    /// label.
    fn record(&mut self, rec: &[&str], line: Option<u64>) -> Result<(), CliError> {
        if rec.len() == 1 && rec.first().is_some_and(|c| c.is_empty()) {
            return Ok(());
        }
        if self.width.is_none() {
            self.width = Some(rec.len());
            if !rec.iter().all(|c| c.parse::<f64>().is_ok()) {
                // Header row.
                self.col = Some(match self.column {
                    Some(name) => rec.iter().position(|h| *h == name).ok_or_else(|| {
                        let names = rec.to_vec();
                        CliError::option(
                            "--label-column",
                            format!(
                                "no column {name:?} in {} (columns: {})",
                                self.path.display(),
                                names.join(", ")
                            ),
                        )
                    })?,
                    None if rec.len() == 1 => 0,
                    None => {
                        return Err(CliError::data(
                            self.path,
                            line,
                            None,
                            format!("{} columns; choose one with --label-column", rec.len()),
                        ));
                    }
                });
                return Ok(());
            }
            self.col = Some(match self.column {
                Some(_) => {
                    return Err(CliError::option(
                        "--label-column",
                        format!("{} has no header row to name columns", self.path.display()),
                    ));
                }
                None if rec.len() == 1 => 0,
                None => {
                    return Err(CliError::data(
                        self.path,
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
        if Some(rec.len()) != self.width {
            return Err(CliError::data(
                self.path,
                line,
                None,
                format!(
                    "ragged row: {} cells, expected {}",
                    rec.len(),
                    self.width.unwrap_or(0)
                ),
            ));
        }
        let c = self.col.unwrap_or(0);
        let cell = rec.get(c).copied().unwrap_or("");
        let label =
            parse_label(cell).map_err(|m| CliError::data(self.path, line, Some(c + 1), m))?;
        self.labels.push(label);
        Ok(())
    }
}

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

/// Writes `bytes` to `path` whole or not at all: into a hidden file beside it, then renamed
/// over it, so a full disk or a kill leaves the old file (or none), never a partial one.
///
/// # Errors
/// The I/O error with the path; the hidden file is removed.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        // A device or a pipe (`-o /dev/stdout`): written through.
        return std::fs::write(path, bytes).map_err(|e| CliError::io(path, e));
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let r = std::fs::write(&tmp, bytes)
        .map_err(|e| CliError::io(path, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| CliError::io(path, e)));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    fn table(s: &str) -> Result<Table, CliError> {
        read_table_from(s.as_bytes(), Path::new("a.csv"))
    }

    /// The plain reader and the CSV reader agree on every input the plain one takes:
    /// values, header, and each error message.
    #[test]
    fn plain_reader_is_the_csv_reader() {
        let cases = [
            "u1,u2\n0.5,-1\n1e-3,2\n",
            "1,2\n3,4",
            "1,2\n\n  \n3,4\n",
            " 1 , 2 \n3,\t4\n",
            "a, b ,c\n1,2,3\n",
            ",,\n1,2,3\n",
            "1,2\n3\n",
            "1,2\n3,4,5\n",
            "1,2\n3,x\n",
            "1,2\nx,3,4\n",
            "1,2\nx\n",
            "1,2\n1,inf,x\n",
            "1,2\n3,\n",
            "1,NaN\n",
            "1,inf\n",
            "1e39,1\n",
            "-0,0.1\n",
            "",
            "\n\n",
            "a,b\n",
            "x\n1\n2\n",
            "1\n2\n3",
            "0.1,0.2\n1e-50,5e-46\n",
            "1,2\n x ,3\n",
            "é,ü\n1,2\n",
        ];
        for case in cases {
            let p = Path::new("a.csv");
            let plain = read_table_plain(case.as_bytes(), p, 1, Sep::Comma).expect("plain input");
            let csv = read_table_csv(case.as_bytes(), p, Sep::Comma);
            match (plain, csv) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.rows, b.rows, "{case:?}");
                    assert_eq!(a.cols, b.cols, "{case:?}");
                    assert_eq!(a.header, b.header, "{case:?}");
                    let bits = |t: &Table| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "{case:?}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case:?}"),
                (a, b) => panic!("{case:?}: plain {a:?}, csv {b:?}"),
            }
        }
        // What the plain reader leaves to the CSV reader.
        for case in ["\"a\",b\n1,2\n", "1,2\r\n3,4\r\n", "\u{feff}a,b\n1,2\n"] {
            assert!(read_table_plain(case.as_bytes(), Path::new("a.csv"), 1, Sep::Comma).is_none());
        }
        assert!(read_table_plain(b"1,\xff\n", Path::new("a.csv"), 1, Sep::Comma).is_none());
        // And the CSV reader still reads them.
        let t = table("\"a\",b\r\n1,2\r\n").unwrap();
        assert_eq!(
            (t.rows, t.header.unwrap()),
            (1, vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn tables_parse_the_same_in_any_number_of_parts() {
        let p = Path::new("a.csv");
        // 200 rows of 3 cells with blank lines and a header; then the same with a problem at
        // each of several lines, early and late.
        let mut base = String::from("\n a , b ,c\n");
        for i in 0..200u32 {
            if i % 37 == 5 {
                base.push_str("  \n");
            }
            base.push_str(&format!("{}.25,-{i}e-3, {}\n", i, i * 7));
        }
        let mut cases = vec![base.clone(), base.trim_end().to_owned()];
        for (at, bad) in [
            (3usize, "1,2\n"),
            (90, "x,1,2\n"),
            (150, "1,inf,2\n"),
            (199, "1,2,3,4\n"),
        ] {
            let mut lines: Vec<&str> = base.split_inclusive('\n').collect();
            lines.insert(at, bad);
            cases.push(lines.concat());
        }
        // Two problems: the earlier one is reported whichever part holds it.
        let mut lines: Vec<&str> = base.split_inclusive('\n').collect();
        lines.insert(180, "y,1,2\n");
        lines.insert(20, "1\n");
        cases.push(lines.concat());
        for case in &cases {
            let one = parse_plain::<b','>(case, p, 1);
            for parts in 2..=6 {
                let many = parse_plain::<b','>(case, p, parts);
                match (&one, &many) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!((a.rows, a.cols, &a.header), (b.rows, b.cols, &b.header));
                        let bits =
                            |t: &Table| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(a), bits(b), "{parts} parts");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{parts} parts"),
                    (a, b) => panic!("{parts} parts: {a:?} against {b:?}"),
                }
            }
        }
        let whole = parse_plain::<b','>(&base, p, 4).unwrap();
        assert_eq!((whole.rows, whole.cols), (200, 3));
        assert_eq!(whole.data[3 * 199..], [199.25, -0.199, 1393.0]);
        // The messages name the right lines: the header is line 2, row i on line 3 + i plus
        // the blank lines before it.
        let mut lines: Vec<&str> = base.split_inclusive('\n').collect();
        lines.insert(150, "1,z,2\n");
        let e = parse_plain::<b','>(&lines.concat(), p, 5)
            .unwrap_err()
            .to_string();
        let want = parse_plain::<b','>(&lines.concat(), p, 1)
            .unwrap_err()
            .to_string();
        assert_eq!(e, want);
        assert!(e.contains("line 151"), "{e}");
        // Pieces are whole lines and cover the text.
        for parts in 1..=7 {
            let pieces = split_lines(&base, parts);
            assert!(pieces.len() <= parts);
            assert_eq!(pieces.concat(), base);
            for piece in &pieces[..pieces.len() - 1] {
                assert!(piece.ends_with('\n'));
            }
        }
    }

    #[test]
    fn separators_are_found_and_give_the_csv_table() {
        let p = Path::new("t.txt");
        let csv = table("a,b\n1,2.5\n-3,4e-2\n").unwrap();
        for text in [
            "a\tb\n1\t2.5\n-3\t4e-2\n",
            "# a b\n  1   2.5 \r\n-3 4e-2\r\n\n",
            "\u{feff}1 2.5\n-3\t 4e-2\n",
        ] {
            let got = read_table_from(text.as_bytes(), p).unwrap();
            assert_eq!(
                (got.rows, got.cols, got.data.clone()),
                (2, 2, csv.data.clone()),
                "{text:?}"
            );
        }
        assert_eq!(Sep::detect(b"# c,d\n1 2\n"), Sep::Whitespace);
        assert_eq!(Sep::detect(b"\n1\t2,3\n"), Sep::Comma);
        assert_eq!(Sep::detect(b"7\n8\n"), Sep::Comma);
        // Ragged whitespace rows and bad cells name the line and column.
        let e = read_table_from("1 2\n3\n".as_bytes(), p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("1 cells, expected 2"),
            "{e}"
        );
        let e = read_table_from("1\t2\n3\tx\n".as_bytes(), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("column 2"), "{e}");
        // Labels: whitespace columns with a header, and a lone column with CRLF ends.
        let l = read_labels_from("id y\n0 1\n1 0\n".as_bytes(), p, Some("y")).unwrap();
        assert_eq!(l, [1, 0]);
        let l = read_labels_from("1\r\n0\r\n2\r\n".as_bytes(), p, None).unwrap();
        assert_eq!(l, [1, 0, 2]);
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
    fn plain_label_reader_is_the_csv_reader() {
        let cases = [
            "y\n0\n1\n2.0\n",
            "0\n1\n\n  \n2",
            "a,y\n5,1\n6,0\n",
            " a , y \n5, 1 \n6,\t0\n",
            "a,y\n5,1\n6\n",
            "a,y\n5,1\n6,x\n",
            "a,y\n5,1\n6,-2\n",
            "0\n-1\n",
            "0\n1.5\n",
            "0\n4294967296\n",
            "1,2\n",
            "a,b\n1,2\n",
            "y\n",
            "",
            "\n\n",
            "é\n1\n",
            "y\n1e3\n",
        ];
        let p = Path::new("y.csv");
        for case in cases {
            for column in [None, Some("y"), Some("z")] {
                let plain = labels_from_bytes(case.as_bytes(), p, column, true);
                let csv = labels_from_bytes(case.as_bytes(), p, column, false);
                match (plain, csv) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{case:?} {column:?}"),
                    (Err(a), Err(b)) => {
                        assert_eq!(a.to_string(), b.to_string(), "{case:?} {column:?}");
                    }
                    (a, b) => panic!("{case:?} {column:?}: plain {a:?}, csv {b:?}"),
                }
            }
        }
        // Input the plain reader leaves to the CSV reader still reads.
        assert_eq!(
            read_labels_from("\"y\"\r\n1\r\n0\r\n".as_bytes(), p, None).unwrap(),
            vec![1, 0]
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
