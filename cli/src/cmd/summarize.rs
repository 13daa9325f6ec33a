//! `infoplane summarize` and `infoplane plot`: read run directories (one run, a batch of
//! seeds, or the shards of one sweep), check that they belong together, and write the
//! summary or the figures.

use super::run::{caption, is_run_file, prepare_out, sha256_file, write_figures, write_summary};
use crate::args::{PlotArgs, SummarizeArgs};
use crate::error::CliError;
use crate::figures::{FigureInput, LayerRow};
use infoplane_core::experiment::{LAYERS_HEADER, METRICS_HEADER, PLANE_HEADER, Summary};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Manifest fields that may differ between runs that are summarised together: how and
/// where they ran, which seeds, and the checksums of their own files.
const PER_RUN: [&str; 20] = [
    "git_hash",
    "status",
    "resumes",
    "command",
    "seed",
    "seeds",
    "repeats",
    "shard",
    "measured_epochs",
    "every_epoch_measures",
    "threads",
    "simd",
    "wall_seconds",
    "warnings",
    "plane_csv_sha256",
    "metrics_csv_sha256",
    "layers_csv_sha256",
    "summary_csv_sha256",
    "metrics_summary_csv_sha256",
    "layers_summary_csv_sha256",
];

/// Run directories read and checked.
#[derive(Debug)]
pub struct Study {
    /// Every run's values.
    pub summary: Summary,
    /// Every run's `layers.csv` rows.
    pub layers: Vec<LayerRow>,
    /// The first directory's manifest.
    pub manifest: Value,
    /// Every seed, ascending.
    pub seeds: Vec<u64>,
}

/// Reads `dirs`: each must hold a complete run (its files match the manifest's checksums),
/// all with the same settings and no seed twice.
///
/// # Errors
/// Names the directory and file, or the setting that differs and the two values.
pub fn load(dirs: &[PathBuf]) -> Result<Study, CliError> {
    let mut summary = Summary::new();
    let mut layers = Vec::new();
    let mut first: Option<(PathBuf, Value, BTreeMap<String, Value>)> = None;
    let mut seen: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let mpath = dir.join("manifest.json");
        let manifest = read_manifest(&mpath)?;
        let Value::Object(fields) = &manifest else {
            return Err(CliError::data(&mpath, None, None, "not a JSON object"));
        };
        if let Some(status) = fields.get("status").and_then(Value::as_str)
            && status != "complete"
        {
            return Err(CliError::data(
                &mpath,
                None,
                None,
                format!(
                    "the run is {status:?}, not complete{}; summarise finished runs only",
                    fields
                        .get("error")
                        .and_then(Value::as_str)
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ),
            ));
        }
        for (file, key) in [
            ("plane.csv", "plane_csv_sha256"),
            ("metrics.csv", "metrics_csv_sha256"),
            ("layers.csv", "layers_csv_sha256"),
        ] {
            let path = dir.join(file);
            let want = fields.get(key).and_then(Value::as_str).ok_or_else(|| {
                CliError::data(
                    &mpath,
                    None,
                    None,
                    format!("no {key}: not a run directory of this version"),
                )
            })?;
            if sha256_file(&path)? != want {
                return Err(CliError::data(
                    &path,
                    None,
                    None,
                    "does not match the checksum in manifest.json: the run is incomplete or the file was changed",
                ));
            }
        }
        let settings: BTreeMap<String, Value> = fields
            .iter()
            .filter(|(k, _)| !PER_RUN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match &first {
            None => first = Some((dir.clone(), manifest.clone(), settings)),
            Some((d0, _, s0)) => {
                if let Some(k) = s0
                    .keys()
                    .chain(settings.keys())
                    .find(|k| s0.get(*k) != settings.get(*k))
                {
                    let show =
                        |v: Option<&Value>| v.map_or_else(|| "absent".to_owned(), Value::to_string);
                    return Err(CliError::Other(format!(
                        "{} and {} are runs with different settings: {k} is {} in the first and {} in the second; summarise only runs that differ in their seeds",
                        d0.display(),
                        dir.display(),
                        show(s0.get(k)),
                        show(settings.get(k)),
                    )));
                }
            }
        }
        let seeds: Vec<u64> = fields
            .get("seeds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        for s in seeds {
            if let Some(d) = seen.insert(s, dir.clone()) {
                return Err(CliError::Other(format!(
                    "seed {s} is in both {} and {}; summarise each run once",
                    d.display(),
                    dir.display()
                )));
            }
        }
        read_plane(&dir.join("plane.csv"), &mut summary)?;
        read_metrics(&dir.join("metrics.csv"), &mut summary)?;
        read_layers(&dir.join("layers.csv"), &mut layers, &mut summary)?;
    }
    let (_, manifest, _) = first.ok_or_else(|| CliError::Other("no run directory given".into()))?;
    layers.sort_by_key(|r| (r.run, r.epoch, r.layer));
    Ok(Study {
        summary,
        layers,
        manifest,
        seeds: seen.into_keys().collect(),
    })
}

/// A `manifest.json` as JSON, with the file, line and column of a syntax error.
///
/// # Errors
/// I/O and data errors naming the file.
pub(crate) fn read_manifest(path: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::data(path, Some(e.line() as u64), Some(e.column()), e.to_string()))
}

/// The fields of each data line of `text` (read from `path`, named in errors) after checking
/// its header; calls `row` with the 1-based line number and the fields.
fn each_row(
    text: &str,
    path: &Path,
    header: &str,
    mut row: impl FnMut(u64, &[&str]) -> Result<(), String>,
) -> Result<(), CliError> {
    let mut lines = text.lines();
    if lines.next() != Some(header.trim_end()) {
        return Err(CliError::data(
            path,
            Some(1),
            None,
            format!("the header is not {:?}", header.trim_end()),
        ));
    }
    for (i, line) in (2u64..).zip(lines) {
        let fields: Vec<&str> = line.split(',').collect();
        row(i, &fields).map_err(|m| CliError::data(path, Some(i), None, m))?;
    }
    Ok(())
}

fn num<T: std::str::FromStr>(fields: &[&str], k: usize, what: &str) -> Result<T, String> {
    let f = fields.get(k).ok_or_else(|| format!("no {what} column"))?;
    f.parse()
        .map_err(|_| format!("{what} {f:?} is not a number"))
}

fn opt(fields: &[&str], k: usize, what: &str) -> Result<Option<f64>, String> {
    match fields.get(k) {
        Some(&"") => Ok(None),
        _ => num(fields, k, what).map(Some),
    }
}

pub(crate) fn read_plane(path: &Path, s: &mut Summary) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    plane_rows(&text, path, s)
}

/// Adds the rows of `plane.csv` text (read from `path`) to `s`.
pub(crate) fn plane_rows(text: &str, path: &Path, s: &mut Summary) -> Result<(), CliError> {
    each_row(text, path, PLANE_HEADER, |_, f| {
        if f.len() != 6 {
            return Err(format!("{} fields, expected 6", f.len()));
        }
        let est = f.get(3).copied().unwrap_or("");
        let fresh = s.add_plane(
            num(f, 0, "run")?,
            num(f, 1, "epoch")?,
            num(f, 2, "layer")?,
            est,
            num(f, 4, "i_xt_bits")?,
            num(f, 5, "i_ty_bits")?,
        );
        if fresh {
            Ok(())
        } else {
            Err("a repeated run, epoch, layer and estimator".into())
        }
    })
}

pub(crate) fn read_metrics(path: &Path, s: &mut Summary) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    metrics_rows(&text, path, s)
}

/// Adds the rows of `metrics.csv` text (read from `path`) to `s`.
pub(crate) fn metrics_rows(text: &str, path: &Path, s: &mut Summary) -> Result<(), CliError> {
    each_row(text, path, METRICS_HEADER, |_, f| {
        if f.len() != 6 {
            return Err(format!("{} fields, expected 6", f.len()));
        }
        let m = [
            Some(num(f, 2, "train_loss")?),
            Some(num(f, 3, "train_acc")?),
            opt(f, 4, "test_loss")?,
            opt(f, 5, "test_acc")?,
        ];
        if s.add_metrics(num(f, 0, "run")?, num(f, 1, "epoch")?, m) {
            Ok(())
        } else {
            Err("a repeated run and epoch".into())
        }
    })
}

pub(crate) fn read_layers(
    path: &Path,
    out: &mut Vec<LayerRow>,
    s: &mut Summary,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    layers_rows(&text, path, out, s)
}

/// Adds the rows of `layers.csv` text (read from `path`) to `out` and `s`.
pub(crate) fn layers_rows(
    text: &str,
    path: &Path,
    out: &mut Vec<LayerRow>,
    s: &mut Summary,
) -> Result<(), CliError> {
    each_row(text, path, LAYERS_HEADER, |_, f| {
        if f.len() != 7 {
            return Err(format!("{} fields, expected 7", f.len()));
        }
        let row = LayerRow {
            run: num(f, 0, "run")?,
            epoch: num(f, 1, "epoch")?,
            layer: num(f, 2, "layer")?,
            width: num(f, 3, "width")?,
            weight_norm: num(f, 4, "weight_norm")?,
            dead_units: num(f, 5, "dead_units")?,
            grad_snr: opt(f, 6, "grad_snr")?,
        };
        let values = [
            Some(row.weight_norm),
            Some(f64::from(row.dead_units)),
            row.grad_snr,
        ];
        if !s.add_layer(row.run, row.epoch, row.layer, values) {
            return Err("a repeated run, epoch and layer".into());
        }
        out.push(row);
        Ok(())
    })
}

/// The output directory: `--out`, or the one directory given.
fn out_dir(dirs: &[PathBuf], out: Option<&PathBuf>) -> Result<PathBuf, CliError> {
    match (out, dirs) {
        (Some(o), _) => Ok(o.clone()),
        (None, [one]) => Ok(one.clone()),
        (None, _) => Err(CliError::option(
            "--out",
            "is needed with more than one directory (where the merged summary goes)",
        )),
    }
}

/// `infoplane summarize`.
///
/// # Errors
/// As [`load`]; an `--out` that already holds a summary without `--force`.
pub fn summarize(a: &SummarizeArgs) -> Result<(), CliError> {
    let out = out_dir(&a.dirs, a.out.as_ref())?;
    let study = load(&a.dirs)?;
    let is_input = a.dirs.iter().any(|d| same_dir(d, &out));
    if !is_input {
        prepare_out(&out, a.force, "a run or summary")?;
    }
    write_summary(&study.summary, &out)?;
    eprintln!(
        "summarised {} runs ({} directories) → {}",
        study.seeds.len(),
        a.dirs.len(),
        out.display()
    );
    Ok(())
}

/// `infoplane plot`.
///
/// # Errors
/// As [`load`], plot and I/O errors.
pub fn plot(a: &PlotArgs) -> Result<(), CliError> {
    let out = out_dir(&a.dirs, a.out.as_ref())?;
    let study = load(&a.dirs)?;
    std::fs::create_dir_all(&out).map_err(|e| CliError::io(&out, e))?;
    // The figures are redrawn whole: none from an earlier drawing (another estimator set,
    // no overlay) stays behind.
    for entry in std::fs::read_dir(&out).map_err(|e| CliError::io(&out, e))? {
        let path = entry.map_err(|e| CliError::io(&out, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".svg") && is_run_file(name) {
            std::fs::remove_file(&path).map_err(|e| CliError::io(&path, e))?;
        }
    }
    let m = &study.manifest;
    let epochs = m.get("epochs").and_then(Value::as_u64).unwrap_or(1);
    let input = FigureInput {
        summary: &study.summary,
        layers: &study.layers,
        caption: caption(m, &study.seeds),
        last_epoch: u32::try_from(epochs.saturating_sub(1)).unwrap_or(u32::MAX),
        overlay: a.overlay,
    };
    write_figures(&input, &out)?;
    eprintln!("drew {} runs → {}", study.seeds.len(), out.display());
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
