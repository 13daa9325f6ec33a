//! Matrices and labels brought as files: NumPy's `.npy` and `.npz` (a member chosen as
//! `FILE.npz:NAME`) and text tables (comma, tab or whitespace; [`crate::io`]), with column
//! selection (`--columns`) and a warning for a leading row-index column.

use crate::error::CliError;
use crate::io::{Table, read_labels, read_table_threads};
use npyz::{NpyFile, Order, TypeChar};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A file argument: a path, and for an `.npz` archive the member (`FILE.npz:NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// The array's name inside an `.npz` archive (without `.npy`).
    pub member: Option<String>,
}

/// What a file holds, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Npy,
    Npz,
    Text,
}

fn format_of(path: &Path) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("npy") => Format::Npy,
        Some("npz") => Format::Npz,
        _ => Format::Text,
    }
}

impl Source {
    /// `arg` as given: `A.npz:NAME` names the member `NAME` of the archive `A.npz` (unless a
    /// file is called that whole name); anything else is a path.
    #[must_use]
    pub fn parse(arg: &Path) -> Self {
        let whole = Self {
            path: arg.to_path_buf(),
            member: None,
        };
        let Some(text) = arg.to_str() else {
            return whole;
        };
        match text.rsplit_once(':') {
            Some((file, name))
                if !name.is_empty()
                    && format_of(Path::new(file)) == Format::Npz
                    && !arg.exists() =>
            {
                Self {
                    path: PathBuf::from(file),
                    member: Some(name.to_owned()),
                }
            }
            _ => whole,
        }
    }

    /// How messages name it: the path, with `:NAME` for an archive's member.
    #[must_use]
    pub fn shown(&self) -> PathBuf {
        match &self.member {
            Some(m) => PathBuf::from(format!("{}:{m}", self.path.display())),
            None => self.path.clone(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.shown().display())
    }
}

/// One item of a column selection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pick {
    /// Columns `from..=to` (from 1; `to` open: to the last).
    Span { from: usize, to: Option<usize> },
    /// The column with this header name.
    Name(String),
}

/// A column selection: `3`, `2-11`, `5-` (to the last), header names, or a comma-separated
/// list of these, in the order given. Numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns(Vec<Pick>);

impl FromStr for Columns {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |t: &str| -> Result<usize, String> {
            match t.trim().parse::<usize>() {
                Ok(0) => Err("columns count from 1".to_owned()),
                Ok(v) => Ok(v),
                Err(_) => Err(format!("{t:?} is not a column number")),
            }
        };
        let mut picks = Vec::new();
        for item in s.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(format!("an empty item in {s:?}"));
            }
            let numeric = |t: &str| t.trim().bytes().all(|b| b.is_ascii_digit());
            match item.split_once('-') {
                Some((a, b)) if numeric(a) && !a.trim().is_empty() && numeric(b) => {
                    let from = number(a)?;
                    let to = if b.trim().is_empty() {
                        None
                    } else {
                        Some(number(b)?)
                    };
                    if to.is_some_and(|t| t < from) {
                        return Err(format!("{item:?} ends before it starts"));
                    }
                    picks.push(Pick::Span { from, to });
                }
                _ if numeric(item) => {
                    let v = number(item)?;
                    picks.push(Pick::Span {
                        from: v,
                        to: Some(v),
                    });
                }
                _ => picks.push(Pick::Name(item.to_owned())),
            }
        }
        Ok(Self(picks))
    }
}

impl Columns {
    /// The chosen columns of a table of `cols` columns (0-based), in order.
    ///
    /// # Errors
    /// A message for a column past the last, an unknown name, or a name without a header.
    fn resolve(&self, cols: usize, header: Option<&[String]>) -> Result<Vec<usize>, String> {
        let mut out = Vec::new();
        for pick in &self.0 {
            match pick {
                Pick::Span { from, to } => {
                    let to = to.unwrap_or(cols);
                    if *from > cols || to > cols {
                        return Err(format!(
                            "column {} is past the last ({cols})",
                            to.max(*from)
                        ));
                    }
                    out.extend(from - 1..to);
                }
                Pick::Name(name) => {
                    let Some(h) = header else {
                        return Err(format!(
                            "{name:?} names a column, but the file has no header row"
                        ));
                    };
                    let k = h
                        .iter()
                        .position(|c| c == name)
                        .ok_or_else(|| format!("no column {name:?} (columns: {})", h.join(", ")))?;
                    out.push(k);
                }
            }
        }
        if out.is_empty() {
            return Err("no columns chosen".to_owned());
        }
        Ok(out)
    }
}

/// Reads a matrix (rows are samples) from `src` and keeps the `columns` chosen (all by
/// default). `option` names the columns' option in messages (`--columns`). A `.npy` array of
/// more than two axes is read as `shape[0]` rows of its other axes flattened in C order
/// (a convolution's `N × C × H × W` becomes `N × CHW`); values of any float, integer or
/// boolean dtype become `f32`, and a value that is not finite, or too large for `f32`, is an
/// error naming its row and column.
///
/// # Errors
/// File, format and selection errors naming the file.
pub fn read_matrix(
    src: &Source,
    columns: Option<&Columns>,
    option: &str,
    threads: usize,
) -> Result<Table, CliError> {
    let table = match (format_of(&src.path), &src.member) {
        (Format::Text, None) => read_table_threads(&src.path, threads)?,
        (Format::Npy, None) => {
            let bytes = std::fs::read(&src.path).map_err(|e| CliError::io(&src.path, e))?;
            npy_table(&bytes, &src.shown())?
        }
        (Format::Npz, _) => {
            let (name, bytes) = npz_member(src)?;
            let shown = Source {
                path: src.path.clone(),
                member: Some(name),
            }
            .shown();
            npy_table(&bytes, &shown)?
        }
        (_, Some(_)) => {
            return Err(CliError::data(
                &src.path,
                None,
                None,
                "only an .npz archive has named members",
            ));
        }
    };
    let (table, warnings) = chosen(table, &src.shown(), columns, option)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(table)
}

/// The `columns` of `table` (all of them when `None`, with the warnings a whole table may
/// call for).
fn chosen(
    table: Table,
    shown: &Path,
    columns: Option<&Columns>,
    option: &str,
) -> Result<(Table, Vec<String>), CliError> {
    match columns {
        None => {
            let warnings = [
                index_column_warning(shown, &table),
                numbered_header_warning(shown, &table),
            ]
            .into_iter()
            .flatten()
            .collect();
            Ok((table, warnings))
        }
        Some(c) => {
            let keep = c
                .resolve(table.cols, table.header.as_deref())
                .map_err(|m| CliError::option(option, format!("{}: {m}", shown.display())))?;
            Ok((select(&table, &keep), Vec::new()))
        }
    }
}

/// A file's bytes as [`read_matrix`] reads the file `name` (a `.npy` array or a text table;
/// the extension decides), with its warnings returned rather than printed: for frontends
/// without files (the browser page).
///
/// # Errors
/// Format, value and selection errors naming `name`; an `.npz` archive (give its arrays as
/// `.npy` files).
pub fn matrix_from_bytes(
    bytes: &[u8],
    name: &Path,
    columns: Option<&Columns>,
    option: &str,
) -> Result<(Table, Vec<String>), CliError> {
    let table = match format_of(name) {
        Format::Npy => npy_table(bytes, name)?,
        Format::Npz => return Err(npz_unread(name)),
        Format::Text => crate::io::read_table_from(bytes, name)?,
    };
    chosen(table, name, columns, option)
}

/// The error for an `.npz` archive brought as bytes.
fn npz_unread(name: &Path) -> CliError {
    CliError::data(
        name,
        None,
        None,
        "an .npz archive is read from a file: give its arrays as .npy files here (np.save)",
    )
}

/// A file's bytes as [`read_labels_from_source`] reads the file `name` (`.npy` or a text
/// table; the extension decides).
///
/// # Errors
/// As [`read_labels_from_source`].
pub fn labels_from_bytes(
    bytes: &[u8],
    name: &Path,
    column: Option<&str>,
) -> Result<Vec<u32>, CliError> {
    match format_of(name) {
        Format::Npy => {
            if column.is_some() {
                return Err(CliError::option(
                    "--label-column",
                    format!("{} is an array, without named columns", name.display()),
                ));
            }
            npy_labels(bytes, name)
        }
        Format::Npz => Err(npz_unread(name)),
        Format::Text => crate::io::read_labels_from(bytes, name, column),
    }
}

/// The columns `keep` of `t`, in that order.
fn select(t: &Table, keep: &[usize]) -> Table {
    let mut data = Vec::with_capacity(t.rows * keep.len());
    for row in t.data.chunks_exact(t.cols.max(1)) {
        data.extend(keep.iter().filter_map(|&k| row.get(k).copied()));
    }
    Table {
        data,
        rows: t.rows,
        cols: keep.len(),
        header: t
            .header
            .as_ref()
            .map(|h| keep.iter().filter_map(|&k| h.get(k).cloned()).collect()),
    }
}

/// A warning when the first of several columns holds 0, 1, …, N − 1 (or 1, …, N): the row
/// index pandas' `to_csv()` writes by default, which would be measured as a unit.
fn index_column_warning(shown: &Path, t: &Table) -> Option<String> {
    if t.cols < 2 || t.rows < 3 {
        return None;
    }
    let first = t.data.get(..t.cols).and_then(<[f32]>::first).copied();
    #[allow(clippy::float_cmp)] // small integers, exact in f32 up to 2^24
    let counts = |start: f32| {
        t.rows <= 1 << 24
            && t.data
                .chunks_exact(t.cols)
                .zip(0u32..)
                .all(|(row, i)| row.first().copied() == Some(start + f32_of(i)))
    };
    #[allow(clippy::float_cmp)]
    let index = first.is_some_and(|f| (f == 0.0 && counts(0.0)) || (f == 1.0 && counts(1.0)));
    if index {
        let name = t
            .header
            .as_ref()
            .and_then(|h| h.first())
            .filter(|n| !n.is_empty())
            .map_or_else(String::new, |n| format!(" ({n:?})"));
        return Some(format!(
            "{}: column 1{name} counts the rows (0, 1, 2, …), like the index pandas' to_csv() writes, and is measured as a unit; leave it out with --columns 2-{} (or write the file with to_csv(index=False))",
            shown.display(),
            t.cols
        ));
    }
    None
}

/// `i` as `f32` (exact below 2^24, which callers check).
#[allow(clippy::cast_precision_loss)]
fn f32_of(i: u32) -> f32 {
    i as f32
}

/// A warning when a table without a header begins with the row 0, 1, …, d − 1 (d ≥ 3):
/// pandas writes that header for unnamed columns, and it reads as a row of data.
fn numbered_header_warning(shown: &Path, t: &Table) -> Option<String> {
    if t.header.is_some() || t.cols < 3 || t.rows < 2 {
        return None;
    }
    let first = t.data.get(..t.cols).unwrap_or(&[]);
    #[allow(clippy::float_cmp)] // small integers, exact
    let numbered = first.iter().zip(0u32..).all(|(&v, k)| v == f32_of(k));
    numbered.then(|| {
        format!(
            "{}: line 1 is 0, 1, …, {} and is read as data; if it is a header of column numbers (pandas writes one for unnamed columns), remove it",
            shown.display(),
            t.cols - 1
        )
    })
}

/// The names of the arrays in an `.npz` archive (without `.npy`), in archive order.
///
/// # Errors
/// I/O and archive errors naming the file.
pub fn npz_names(path: &Path) -> Result<Vec<String>, CliError> {
    Ok(member_names(&open_npz(path)?))
}

/// The `.npy` members of an archive, without `.npy`.
fn member_names(archive: &zip::ZipArchive<std::fs::File>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(|n| {
            n.ok()
                .and_then(|n| n.strip_suffix(".npy").map(str::to_owned))
        })
        .collect()
}

fn open_npz(path: &Path) -> Result<zip::ZipArchive<std::fs::File>, CliError> {
    let file = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    zip::ZipArchive::new(file).map_err(|e| {
        CliError::data(
            path,
            None,
            None,
            format!("not an .npz archive (np.savez writes one): {e}"),
        )
    })
}

/// The member `src.member` of the archive (or its only member), as its name and `.npy` bytes.
fn npz_member(src: &Source) -> Result<(String, Vec<u8>), CliError> {
    let mut archive = open_npz(&src.path)?;
    let names = member_names(&archive);
    let name = match (&src.member, names.as_slice()) {
        (Some(m), _) => m.clone(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(CliError::data(
                &src.path,
                None,
                None,
                format!(
                    "holds {} arrays; choose one as {}:NAME (arrays: {})",
                    names.len(),
                    src.path.display(),
                    names.join(", ")
                ),
            ));
        }
    };
    if !names.contains(&name) {
        return Err(CliError::data(
            &src.path,
            None,
            None,
            format!("no array {name:?} (arrays: {})", names.join(", ")),
        ));
    }
    let mut member = archive
        .by_name(&format!("{name}.npy"))
        .map_err(|e| CliError::data(&src.path, None, None, format!("array {name:?}: {e}")))?;
    let mut bytes = Vec::new();
    member
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::data(&src.path, None, None, format!("array {name:?}: {e}")))?;
    Ok((name, bytes))
}

/// An array's values, widened to one type per kind.
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Int(Vec<i64>),
    Uint(Vec<u64>),
    Bool(Vec<bool>),
}

impl Values {
    /// The value at `i` as `f64` (for messages and labels).
    #[allow(clippy::cast_precision_loss)] // messages and label checks only
    fn get(&self, i: usize) -> Option<f64> {
        match self {
            Self::F32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::F64(v) => v.get(i).copied(),
            Self::Int(v) => v.get(i).map(|&x| x as f64),
            Self::Uint(v) => v.get(i).map(|&x| x as f64),
            Self::Bool(v) => v.get(i).map(|&x| f64::from(u8::from(x))),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Uint(v) => v.len(),
            Self::Bool(v) => v.len(),
        }
    }
}

/// An `.npy` array: its shape and values in C order.
struct Array {
    shape: Vec<usize>,
    values: Values,
}

fn bad(shown: &Path, msg: impl Into<String>) -> CliError {
    CliError::data(shown, None, None, msg)
}

/// Parses `.npy` bytes (any byte order, C or Fortran order).
fn npy_array(bytes: &[u8], shown: &Path) -> Result<Array, CliError> {
    // npyz allocates the header's length, parses it with a backtracking grammar and multiplies
    // the shape out unchecked: the header is checked here first.
    if bytes.starts_with(b"\x93NUMPY") {
        let shape =
            check_header(bytes).map_err(|m| bad(shown, format!("not a .npy array: {m}")))?;
        if shape.contains(&0) {
            return Err(bad(shown, format!("an empty array (shape {shape:?})")));
        }
        // Every element takes at least one byte (the exact size is checked below).
        let fits = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .is_some_and(|c| c <= bytes.len() as u64);
        if !fits {
            return Err(bad(
                shown,
                format!(
                    "the header's shape {shape:?} needs more data than the file's {} bytes",
                    bytes.len()
                ),
            ));
        }
    }
    let mut rest: &[u8] = bytes;
    let header = npyz::NpyHeader::from_reader(&mut rest)
        .map_err(|e| bad(shown, format!("not a .npy array: {e}")))?;
    let avail = rest.len();
    let npy = NpyFile::with_header(header, rest);
    let shape = npy
        .shape()
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| bad(shown, "an axis too long for this machine")))
        .collect::<Result<Vec<_>, _>>()?;
    let order = npy.order();
    let io = |e: std::io::Error| bad(shown, format!("reading the data: {e}"));
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(bad(
            shown,
            "a structured array; save a plain numeric array (e.g. np.save(path, a.astype(np.float32)))",
        ));
    };
    let size = ts.size_field();
    let known = matches!(
        (ts.type_char(), size),
        (TypeChar::Float, 4 | 8)
            | (TypeChar::Int | TypeChar::Uint, 1 | 2 | 4 | 8)
            | (TypeChar::Bool, 1)
    );
    // The header's shape must fit the bytes that follow it before anything is allocated.
    let need = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|c| c.checked_mul(usize::try_from(size).ok()?));
    if known && need.is_none_or(|b| b > avail) {
        return Err(bad(
            shown,
            format!(
                "the header's shape {shape:?} of {ts} needs more data than the {avail} bytes after it"
            ),
        ));
    }
    let values = match (ts.type_char(), size) {
        (TypeChar::Float, 4) => Values::F32(npy.into_vec::<f32>().map_err(io)?),
        (TypeChar::Float, 8) => Values::F64(npy.into_vec::<f64>().map_err(io)?),
        (TypeChar::Int, 1) => Values::Int(widen(npy.into_vec::<i8>().map_err(io)?)),
        (TypeChar::Int, 2) => Values::Int(widen(npy.into_vec::<i16>().map_err(io)?)),
        (TypeChar::Int, 4) => Values::Int(widen(npy.into_vec::<i32>().map_err(io)?)),
        (TypeChar::Int, 8) => Values::Int(npy.into_vec::<i64>().map_err(io)?),
        (TypeChar::Uint, 1) => Values::Uint(widen(npy.into_vec::<u8>().map_err(io)?)),
        (TypeChar::Uint, 2) => Values::Uint(widen(npy.into_vec::<u16>().map_err(io)?)),
        (TypeChar::Uint, 4) => Values::Uint(widen(npy.into_vec::<u32>().map_err(io)?)),
        (TypeChar::Uint, 8) => Values::Uint(npy.into_vec::<u64>().map_err(io)?),
        (TypeChar::Bool, 1) => Values::Bool(npy.into_vec::<bool>().map_err(io)?),
        _ => {
            return Err(bad(
                shown,
                format!(
                    "dtype {ts} is not read; save float32, float64, an integer or bool type (e.g. a.astype(np.float32))"
                ),
            ));
        }
    };
    let values = if order == Order::Fortran && shape.len() > 1 {
        to_c_order(values, &shape)
    } else {
        values
    };
    Ok(Array { shape, values })
}

/// NumPy's own limit on a header's length (`numpy.lib.format`'s `max_header_size`).
const MAX_HEADER: usize = 10_000;

/// The shape in a `.npy` header, checked before the header goes to npyz: no longer than
/// NumPy's limit, brackets nested at most 4 deep (a plain array's header nests 2), and
/// exactly one key `'shape'` (outside any string) holding a tuple of integers.
fn check_header(bytes: &[u8]) -> Result<Vec<u64>, String> {
    let major = *bytes.get(6).ok_or("a truncated header")?;
    let (start, len): (usize, usize) = if major == 1 {
        let len: [u8; 2] = bytes
            .get(8..10)
            .and_then(|b| b.try_into().ok())
            .ok_or("a truncated header")?;
        (10, usize::from(u16::from_le_bytes(len)))
    } else {
        let len: [u8; 4] = bytes
            .get(8..12)
            .and_then(|b| b.try_into().ok())
            .ok_or("a truncated header")?;
        let len = u32::from_le_bytes(len);
        (12, usize::try_from(len).map_err(|_| "a header too long")?)
    };
    if len > MAX_HEADER {
        return Err(format!(
            "a header of {len} bytes (NumPy writes at most {MAX_HEADER})"
        ));
    }
    let text = bytes.get(start..start + len).ok_or("a truncated header")?;
    let text = std::str::from_utf8(text).map_err(|_| "a header that is not text")?;
    // Strings (with their escapes) and nesting, in one pass.
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut token = String::new();
    let mut strings: Vec<(String, usize)> = Vec::new(); // (content, index just past it)
    for (i, ch) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
                token.push(ch);
            } else if ch == '\\' {
                escaped = true;
            } else if ch == q {
                quote = None;
                strings.push((core::mem::take(&mut token), i + 1));
            } else {
                token.push(ch);
            }
            continue;
        }
        match ch {
            '\'' | '"' => quote = Some(ch),
            '{' | '[' | '(' => {
                depth += 1;
                if depth > 4 {
                    return Err("brackets nested more than 4 deep".to_owned());
                }
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let keys: Vec<usize> = strings
        .iter()
        .filter(|(s, end)| {
            s == "shape"
                && text
                    .get(*end..)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|&(_, end)| end)
        .collect();
    let [end] = keys.as_slice() else {
        return Err(format!("{} keys 'shape' in the header", keys.len()));
    };
    let rest = text
        .get(*end..)
        .and_then(|r| r.trim_start().strip_prefix(':'))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .ok_or("a shape that is not a tuple")?;
    let inner = rest
        .get(..rest.find(')').ok_or("an unclosed shape")?)
        .unwrap_or("");
    inner
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.trim_end_matches('L')
                .parse::<u64>()
                .map_err(|_| format!("a shape entry {t:?} that is not a size"))
        })
        .collect()
}

fn widen<T: Copy, U: From<T>>(v: Vec<T>) -> Vec<U> {
    v.into_iter().map(U::from).collect()
}

/// Values stored in Fortran order (first axis fastest) rearranged to C order.
fn to_c_order(values: Values, shape: &[usize]) -> Values {
    fn reorder<T: Copy>(v: &[T], shape: &[usize]) -> Vec<T> {
        let n = v.len();
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; shape.len()];
        // Fortran strides: axis 0 has stride 1.
        let mut strides = Vec::with_capacity(shape.len());
        let mut s = 1usize;
        for &d in shape {
            strides.push(s);
            s *= d;
        }
        for _ in 0..n {
            let at: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            if let Some(&x) = v.get(at) {
                out.push(x);
            }
            // Next C-order index: the last axis fastest.
            for (i, &d) in idx.iter_mut().zip(shape).rev() {
                *i += 1;
                if *i < d {
                    break;
                }
                *i = 0;
            }
        }
        out
    }
    match values {
        Values::F32(v) => Values::F32(reorder(&v, shape)),
        Values::F64(v) => Values::F64(reorder(&v, shape)),
        Values::Int(v) => Values::Int(reorder(&v, shape)),
        Values::Uint(v) => Values::Uint(reorder(&v, shape)),
        Values::Bool(v) => Values::Bool(reorder(&v, shape)),
    }
}

/// An `.npy` array as a table: `shape[0]` rows of the other axes flattened.
fn npy_table(bytes: &[u8], shown: &Path) -> Result<Table, CliError> {
    let a = npy_array(bytes, shown)?;
    let Some((&rows, rest)) = a.shape.split_first() else {
        return Err(bad(
            shown,
            "a 0-dimensional array (one number); need rows of samples",
        ));
    };
    let cols: usize = rest.iter().product();
    if rows == 0 || cols == 0 {
        return Err(bad(shown, format!("an empty array (shape {:?})", a.shape)));
    }
    let cell = |i: usize| (i / cols + 1, i % cols + 1);
    let data = match a.values {
        Values::F32(v) => {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                let (r, c) = cell(i);
                return Err(bad(
                    shown,
                    format!(
                        "row {r}, column {c}: {} is not finite",
                        v.get(i).copied().unwrap_or(f32::NAN)
                    ),
                ));
            }
            v
        }
        Values::F64(v) => {
            let mut out = Vec::with_capacity(v.len());
            for (i, &x) in v.iter().enumerate() {
                #[allow(clippy::cast_possible_truncation)] // checked: finite in f32's range
                let y = x as f32;
                if !y.is_finite() {
                    let (r, c) = cell(i);
                    let why = if x.is_finite() {
                        "is too large for f32"
                    } else {
                        "is not finite"
                    };
                    return Err(bad(shown, format!("row {r}, column {c}: {x} {why}")));
                }
                out.push(y);
            }
            out
        }
        other => {
            #[allow(clippy::cast_possible_truncation)] // integers and bools, rounded to f32
            (0..other.len())
                .map(|i| other.get(i).unwrap_or(0.0) as f32)
                .collect()
        }
    };
    Ok(Table {
        data,
        rows,
        cols,
        header: None,
    })
}

/// Reads labels from `src`: a text table's only column or its `column` (see
/// [`read_labels`]), or a `.npy` array (or `.npz` member) of shape `(N,)` or `(N, 1)` holding
/// non-negative integers (any integer or bool dtype, or floats with integral values).
///
/// # Errors
/// File, format and value errors naming the file and, for a bad label, its row.
pub fn read_labels_from_source(src: &Source, column: Option<&str>) -> Result<Vec<u32>, CliError> {
    let (bytes, shown) = match (format_of(&src.path), &src.member) {
        (Format::Text, None) => return read_labels(&src.path, column),
        (Format::Npy, None) => (
            std::fs::read(&src.path).map_err(|e| CliError::io(&src.path, e))?,
            src.shown(),
        ),
        (Format::Npz, _) => {
            let (name, bytes) = npz_member(src)?;
            (
                bytes,
                Source {
                    path: src.path.clone(),
                    member: Some(name),
                }
                .shown(),
            )
        }
        (_, Some(_)) => return Err(bad(&src.path, "only an .npz archive has named members")),
    };
    if column.is_some() {
        return Err(CliError::option(
            "--label-column",
            format!("{} is an array, without named columns", shown.display()),
        ));
    }
    npy_labels(&bytes, &shown)
}

/// A `.npy` file's bytes as a table, as [`read_matrix`] reads a `.npy` file; `shown` names
/// it in messages.
///
/// # Errors
/// Format and value errors naming `shown`.
pub fn npy_table_from_bytes(bytes: &[u8], shown: &Path) -> Result<Table, CliError> {
    npy_table(bytes, shown)
}

/// A `.npy` file's bytes as labels, as [`read_labels_from_source`] reads a `.npy` file.
///
/// # Errors
/// Format, shape and value errors naming `shown`.
pub fn npy_labels(bytes: &[u8], shown: &Path) -> Result<Vec<u32>, CliError> {
    let shown = shown.to_path_buf();
    let a = npy_array(bytes, &shown)?;
    match a.shape.as_slice() {
        [_] | [_, 1] => {}
        s => {
            return Err(bad(
                &shown,
                format!("labels need shape (N,) or (N, 1), not {s:?}"),
            ));
        }
    }
    if a.values.len() == 0 {
        return Err(bad(&shown, "no labels"));
    }
    let mut labels = Vec::with_capacity(a.values.len());
    for i in 0..a.values.len() {
        let v = a.values.get(i).unwrap_or(f64::NAN);
        let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX);
        if !ok || (matches!(a.values, Values::Int(_) | Values::Uint(_)) && !int_fits(&a.values, i))
        {
            return Err(bad(
                &shown,
                format!("row {}: label {v} is not a non-negative integer", i + 1),
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
        labels.push(v as u32);
    }
    Ok(labels)
}

/// Whether the integer at `i` is in `0..=u32::MAX` (checked exactly, not through `f64`).
fn int_fits(v: &Values, i: usize) -> bool {
    match v {
        Values::Int(v) => v.get(i).is_some_and(|&x| u32::try_from(x).is_ok()),
        Values::Uint(v) => v.get(i).is_some_and(|&x| u32::try_from(x).is_ok()),
        _ => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A `.npy` file's bytes, written by hand from the format's definition (version 1.0).
    pub(crate) fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let dims = match shape {
            [one] => format!("({one},)"),
            _ => format!(
                "({})",
                shape
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {dims}, }}",
            if fortran { "True" } else { "False" }
        );
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn le<T: Copy>(v: &[T], f: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }

    #[test]
    fn npy_tables_of_every_dtype_and_order() {
        let p = Path::new("a.npy");
        let c = npy_table(
            &npy_bytes(
                "<f4",
                false,
                &[2, 3],
                &le(&[1f32, 2., 3., 4., 5., 6.], |x| x.to_le_bytes().to_vec()),
            ),
            p,
        )
        .unwrap();
        assert_eq!((c.rows, c.cols), (2, 3));
        assert_eq!(c.data, [1., 2., 3., 4., 5., 6.]);
        // The same matrix stored in Fortran order, big-endian doubles.
        let f = npy_table(
            &npy_bytes(
                ">f8",
                true,
                &[2, 3],
                &le(&[1f64, 4., 2., 5., 3., 6.], |x| x.to_be_bytes().to_vec()),
            ),
            p,
        )
        .unwrap();
        assert_eq!(f, c);
        // Three axes flatten in C order; integers become floats.
        let i = npy_table(
            &npy_bytes(
                "<i2",
                false,
                &[2, 2, 2],
                &le(&[0i16, 1, 2, 3, 4, 5, 6, -7], |x| x.to_le_bytes().to_vec()),
            ),
            p,
        )
        .unwrap();
        assert_eq!((i.rows, i.cols), (2, 4));
        assert_eq!(i.data, [0., 1., 2., 3., 4., 5., 6., -7.]);
        // Fortran order with three axes: element (i, j, k) at i + 2j + 4k.
        let vals: Vec<u8> = (0u8..8).collect();
        let f3 = npy_table(&npy_bytes("|u1", true, &[2, 2, 2], &vals), p).unwrap();
        assert_eq!(f3.data, [0., 4., 2., 6., 1., 5., 3., 7.]);
        let b = npy_table(&npy_bytes("|b1", false, &[3], &[1, 0, 1]), p).unwrap();
        assert_eq!((b.rows, b.cols, b.data.clone()), (3, 1, vec![1., 0., 1.]));
    }

    #[test]
    fn npy_errors_name_the_file_and_the_cell() {
        let p = Path::new("acts.npy");
        let e = npy_table(
            &npy_bytes(
                "<f8",
                false,
                &[2, 2],
                &le(&[1f64, 2., f64::NAN, 3.], |x| x.to_le_bytes().to_vec()),
            ),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("acts.npy") && e.contains("row 2, column 1") && e.contains("not finite"),
            "{e}"
        );
        let e = npy_table(
            &npy_bytes(
                "<f8",
                false,
                &[1, 2],
                &le(&[1e300f64, 2.], |x| x.to_le_bytes().to_vec()),
            ),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("row 1, column 1") && e.contains("too large for f32"),
            "{e}"
        );
        let e = npy_table(&npy_bytes("<c8", false, &[1], &[0; 8]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dtype") && e.contains("float32"), "{e}");
        let e = npy_table(b"a,b\n1,2\n", p).unwrap_err().to_string();
        assert!(e.contains("not a .npy array"), "{e}");
        let e = npy_table(&npy_bytes("<f4", false, &[0, 3], &[]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        // A header promising more than the file holds (or an absurd shape) allocates nothing.
        for shape in [&[3usize, 2][..], &[1 << 40, 1 << 30]] {
            let e = npy_table(&npy_bytes("<f4", false, shape, &[0; 20]), p)
                .unwrap_err()
                .to_string();
            assert!(e.contains("needs more data than the"), "{e}");
        }
    }

    #[test]
    fn hostile_npy_headers_are_refused_quickly() {
        // Inputs the fuzzer found: a 4 GiB header length, shapes that overflow (also hidden in
        // a string, given twice, or behind a zero), and deeply nested brackets that made the
        // header grammar backtrack for minutes.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fuzz/npy_ingest");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let table = npy_table(&bytes, Path::new("f.npy"));
            let labels = npy_labels(&bytes, Path::new("f.npy"));
            assert!(table.is_err() && labels.is_err(), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 8, "{seen} inputs in {}", dir.display());
        let e = npy_table(
            &npy_bytes("<f4", false, &[2, 1], &[0; 8]),
            Path::new("f.npy"),
        );
        assert!(e.is_ok());
        let mut nested = npy_bytes("<f4", false, &[1], &[0; 4]);
        // Replace the padding after the dict with nested brackets inside a new key.
        let text = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': [[[[[1]]]]]}";
        let mut header = text.to_owned();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        nested.truncate(8);
        nested.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        nested.extend_from_slice(header.as_bytes());
        nested.extend_from_slice(&[0; 4]);
        let e = npy_table(&nested, Path::new("f.npy"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested more than 4 deep"), "{e}");
    }

    #[test]
    fn columns_parse_and_resolve() {
        let c: Columns = "2-4, 1, 6-".parse().unwrap();
        assert_eq!(c.resolve(7, None).unwrap(), [1, 2, 3, 0, 5, 6]);
        let h: Vec<String> = ["", "a", "b"].iter().map(|s| (*s).to_owned()).collect();
        let c: Columns = "b,a".parse().unwrap();
        assert_eq!(c.resolve(3, Some(&h)).unwrap(), [2, 1]);
        assert!(c.resolve(3, None).unwrap_err().contains("no header"));
        let c: Columns = "z".parse().unwrap();
        assert!(
            c.resolve(3, Some(&h))
                .unwrap_err()
                .contains("columns: , a, b")
        );
        let c: Columns = "2-9".parse().unwrap();
        assert!(
            c.resolve(3, None)
                .unwrap_err()
                .contains("past the last (3)")
        );
        assert!("0".parse::<Columns>().unwrap_err().contains("from 1"));
        assert!(
            "4-2"
                .parse::<Columns>()
                .unwrap_err()
                .contains("ends before")
        );
        assert!("1,,2".parse::<Columns>().unwrap_err().contains("empty"));
        let t = Table {
            data: vec![0., 1., 2., 1., 3., 4.],
            rows: 2,
            cols: 3,
            header: None,
        };
        let s = select(&t, &[2, 1]);
        assert_eq!((s.rows, s.cols, s.data), (2, 2, vec![2., 1., 4., 3.]));
    }

    #[test]
    fn npz_member_names_parse() {
        let s = Source::parse(Path::new("/no/such/run.npz:epoch3_layer2"));
        assert_eq!(s.path, Path::new("/no/such/run.npz"));
        assert_eq!(s.member.as_deref(), Some("epoch3_layer2"));
        assert_eq!(s.to_string(), "/no/such/run.npz:epoch3_layer2");
        let s = Source::parse(Path::new("/no/such/a.csv:x"));
        assert_eq!(
            (s.path.to_str(), s.member),
            (Some("/no/such/a.csv:x"), None)
        );
    }
}
