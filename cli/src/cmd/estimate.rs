//! `infoplane estimate`: MI of activations brought as files, one layer or a whole recorded
//! training history.

use super::{estimate_parallel, threads};
use crate::args::EstimateArgs;
use crate::arrays::{Source, npz_names, read_labels_from_source, read_matrix};
use crate::error::CliError;
use crate::figures::FigureInput;
use crate::honest;
use crate::io::Table;
use infoplane_core::dataset::group_rows;
use infoplane_core::estimator::{Estimator, Layer, Param, Settings, group};
use infoplane_core::experiment::{PLANE_HEADER, Summary};
use infoplane_core::{MatRef, PlanePoint, Workspace};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// Inputs X: the matrix and its rows' group ids (equal rows, one id).
#[derive(Debug)]
pub struct Inputs {
    /// The values, one row per sample.
    pub table: Table,
    /// Equal rows share an id.
    pub ids: Vec<u32>,
}

/// Reads inputs and groups their equal rows.
///
/// # Errors
/// File errors, and a row count other than `rows`.
pub fn read_inputs(
    src: &Source,
    columns: Option<&crate::arrays::Columns>,
    option: &str,
    rows: usize,
    threads: usize,
) -> Result<Inputs, CliError> {
    let x = read_matrix(src, columns, option, threads)?;
    if x.rows != rows {
        return Err(CliError::data(
            &src.shown(),
            None,
            None,
            format!("{} input rows for {rows} rows of activations", x.rows),
        ));
    }
    inputs_of(x)
}

/// A table as inputs: its equal rows grouped.
///
/// # Errors
/// A core error for a table the core refuses.
pub fn inputs_of(x: Table) -> Result<Inputs, CliError> {
    let xm = MatRef::new(&x.data, x.rows, x.cols).map_err(|e| CliError::core("inputs", e))?;
    let mut ids = vec![0u32; x.rows];
    let mut scratch = vec![0u64; x.rows];
    group_rows(xm, &mut ids, &mut scratch).map_err(|e| CliError::core("grouping inputs", e))?;
    Ok(Inputs { table: x, ids })
}

/// Checks what each estimator needs of the data: inputs for `ksg`, more rows than `k`.
///
/// # Errors
/// An option error naming `--inputs` or `--k`.
pub fn check_needs(
    estimators: &[Estimator],
    settings: Settings,
    has_inputs: bool,
    rows: usize,
    what: &Path,
) -> Result<(), CliError> {
    for est in estimators {
        if est.kind().needs_inputs() && !has_inputs {
            return Err(CliError::option(
                "--inputs",
                format!(
                    "{} measures I(X;T) from the inputs: give them with one row per sample (as many rows as {})",
                    est.name(),
                    what.display()
                ),
            ));
        }
        if est.kind().params().contains(&Param::K) && u64::from(settings.k) >= rows as u64 {
            return Err(CliError::option(
                "--k",
                format!(
                    "k = {} needs more than {} samples; {} has {rows}",
                    settings.k,
                    settings.k,
                    what.display(),
                ),
            ));
        }
    }
    Ok(())
}

/// Every estimator on one layer `t` (with its labels, and inputs if given), in the order of
/// `estimators`; estimates that share work (the two KDE bounds) are computed together.
///
/// # Errors
/// Core errors with the estimator's name.
pub fn estimate_layer(
    estimators: &[Estimator],
    t: &Table,
    labels: &[u32],
    inputs: Option<&Inputs>,
    threads: usize,
    work: &mut Workspace,
) -> Result<Vec<PlanePoint>, CliError> {
    let ids = inputs.map(|x| x.ids.as_slice());
    estimate_layer_with(
        estimators,
        t,
        labels,
        ids,
        inputs.map(|x| &x.table),
        threads,
        work,
    )
}

/// As [`estimate_layer`] with input groups `ids` and no input values.
///
/// # Errors
/// As [`estimate_layer`].
pub fn estimate_layer_groups(
    estimators: &[Estimator],
    t: &Table,
    labels: &[u32],
    ids: &[u32],
    threads: usize,
    work: &mut Workspace,
) -> Result<Vec<PlanePoint>, CliError> {
    estimate_layer_with(estimators, t, labels, Some(ids), None, threads, work)
}

fn estimate_layer_with(
    estimators: &[Estimator],
    t: &Table,
    labels: &[u32],
    ids: Option<&[u32]>,
    x: Option<&Table>,
    threads: usize,
    work: &mut Workspace,
) -> Result<Vec<PlanePoint>, CliError> {
    let tm = MatRef::new(&t.data, t.rows, t.cols).map_err(|e| CliError::core("activations", e))?;
    let xm = x
        .map(|x| MatRef::new(&x.data, x.rows, x.cols))
        .transpose()
        .map_err(|e| CliError::core("inputs", e))?;
    estimate_mats(estimators, tm, labels, ids, xm, threads, work)
}

/// Every estimator on the layer `t` with its `labels`, the inputs' groups `ids` (`None`: every
/// row its own input) and input values `x` if given, borrowed as they are: what
/// [`estimate_layer`] does after reading files, for callers that hold the matrices already.
///
/// # Errors
/// Core errors with the estimator's name (`"activations"` or `"inputs"` for a matrix the
/// core refuses, e.g. a non-finite value).
pub fn estimate_mats(
    estimators: &[Estimator],
    t: MatRef<'_>,
    labels: &[u32],
    ids: Option<&[u32]>,
    x: Option<MatRef<'_>>,
    threads: usize,
    work: &mut Workspace,
) -> Result<Vec<PlanePoint>, CliError> {
    let mut layer = Layer::new(t, labels, ids).map_err(|e| CliError::core("activations", e))?;
    let dx = x.map_or(0, |x| x.cols());
    if let Some(xm) = x {
        layer = layer
            .with_x(xm.into())
            .map_err(|e| CliError::core("inputs", e))?;
    }
    let plans = estimators
        .iter()
        .map(|est| {
            est.plan(t.rows(), t.cols())
                .and_then(|p| p.with_inputs(dx))
                .map_err(|e| CliError::core(est.name(), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut points = vec![None; plans.len()];
    for g in group(&plans) {
        for (i, p) in estimate_parallel(&g, &layer, threads, work)? {
            if let Some(slot) = points.get_mut(i) {
                *slot = Some(p);
            }
        }
    }
    estimators
        .iter()
        .zip(points)
        .map(|(est, p)| p.ok_or_else(|| CliError::Other(format!("{}: not computed", est.name()))))
        .collect()
}

/// Reads the files, runs every requested estimator and writes
/// `estimator,i_xt_bits,i_ty_bits` rows to `out`; with `--history`, writes a plane into
/// `--out` instead.
///
/// # Errors
/// File, option and size errors as [`CliError`]s.
pub fn estimate(args: &EstimateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let settings = args.settings.apply(Settings::DEFAULT)?;
    // Every estimator's settings are checked before any file is read.
    let estimators = super::estimators_of(&args.estimators, settings, &args.settings)?;
    let threads = threads(args.threads)?;
    if let Some(history) = &args.history {
        return estimate_history(args, history, &estimators, settings, threads, out);
    }
    let Some(activations) = &args.activations else {
        return Err(CliError::option(
            "--activations",
            "give --activations or --history",
        ));
    };
    let act = Source::parse(activations);
    let labels_src = Source::parse(&args.labels);
    let read_y = || read_labels_from_source(&labels_src, args.label_column.as_deref());
    let read_t = || read_matrix(&act, args.columns.as_ref(), "--columns", threads);
    // With threads to spare, the labels are read while the activations are; the activations'
    // error, if any, still comes first.
    let (t, labels) = if threads > 1 {
        std::thread::scope(|scope| {
            let labels = scope.spawn(read_y);
            let t = read_t();
            let labels = labels.join().unwrap_or_else(|_| {
                Err(CliError::Other(
                    "reading the labels: a thread panicked".to_string(),
                ))
            });
            (t, labels)
        })
    } else {
        (read_t(), read_y())
    };
    let (t, labels) = (t?, labels?);
    if labels.len() != t.rows {
        return Err(CliError::data(
            &labels_src.shown(),
            None,
            None,
            format!(
                "{} labels for {} rows of activations in {act}",
                labels.len(),
                t.rows,
            ),
        ));
    }
    let inputs = match &args.inputs {
        None => None,
        Some(path) => Some(read_inputs(
            &Source::parse(path),
            args.input_columns.as_ref(),
            "--input-columns",
            t.rows,
            threads,
        )?),
    };
    let (points, warnings) = estimate_tables(
        &estimators,
        settings,
        &t,
        &labels,
        inputs.as_ref(),
        threads,
        &act.shown(),
    )?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    // Printed once every estimate is in: an error leaves stdout empty.
    let text = estimate_csv(&estimators, &points, args.bits);
    let stdout = |e| CliError::io(Path::new("<stdout>"), e);
    out.write_all(text.as_bytes()).map_err(stdout)?;
    out.flush().map_err(stdout)
}

/// `infoplane estimate` on files brought as bytes, for frontends without files (the browser
/// page): `options` are what follows `estimate` (`--activations`, `--labels` and `--inputs`
/// name the files), `file` gives each file's bytes by that name. Returns what `estimate`
/// prints and the warnings it would print on stderr (the readers' and the estimates').
///
/// # Errors
/// The option, file and value errors `estimate` gives; `--history` (a whole history is read
/// from files).
pub fn estimate_bytes<'f>(
    options: &[String],
    file: &dyn Fn(&Path) -> Option<&'f [u8]>,
) -> Result<(String, Vec<String>), CliError> {
    use clap::Parser as _;
    let argv: Vec<String> = ["infoplane", "estimate"]
        .into_iter()
        .map(str::to_owned)
        .chain(options.iter().cloned())
        .collect();
    let cli =
        crate::args::Cli::try_parse_from(&argv).map_err(|e| super::assemble::clap_error(&e))?;
    let crate::args::Command::Estimate(args) = cli.command else {
        return Err(CliError::Other("not an estimate".into()));
    };
    if args.history.is_some() {
        return Err(CliError::option(
            "--history",
            "reads a whole history from files: give one layer's activations here",
        ));
    }
    let settings = args.settings.apply(Settings::DEFAULT)?;
    let estimators = super::estimators_of(&args.estimators, settings, &args.settings)?;
    let threads = threads(args.threads)?;
    let bytes = |name: &Path, option: &str| {
        file(name).ok_or_else(|| CliError::option(option, format!("no file {}", name.display())))
    };
    let Some(act) = args.activations.as_deref() else {
        return Err(CliError::option("--activations", "give the activations"));
    };
    let (t, mut warnings) = crate::arrays::matrix_from_bytes(
        bytes(act, "--activations")?,
        act,
        args.columns.as_ref(),
        "--columns",
    )?;
    let labels = crate::arrays::labels_from_bytes(
        bytes(&args.labels, "--labels")?,
        &args.labels,
        args.label_column.as_deref(),
    )?;
    if labels.len() != t.rows {
        return Err(CliError::data(
            &args.labels,
            None,
            None,
            format!(
                "{} labels for {} rows of activations in {}",
                labels.len(),
                t.rows,
                act.display()
            ),
        ));
    }
    let inputs = match args.inputs.as_deref() {
        None => None,
        Some(path) => {
            let (x, w) = crate::arrays::matrix_from_bytes(
                bytes(path, "--inputs")?,
                path,
                args.input_columns.as_ref(),
                "--input-columns",
            )?;
            warnings.extend(w);
            if x.rows != t.rows {
                return Err(CliError::data(
                    path,
                    None,
                    None,
                    format!("{} input rows for {} rows of activations", x.rows, t.rows),
                ));
            }
            Some(inputs_of(x)?)
        }
    };
    let (points, w) = estimate_tables(
        &estimators,
        settings,
        &t,
        &labels,
        inputs.as_ref(),
        threads,
        act,
    )?;
    warnings.extend(w);
    Ok((estimate_csv(&estimators, &points, args.bits), warnings))
}

/// Every estimator on the activations `t` read from `what` (with their labels and inputs, if
/// any), after checking what each needs: the points in the order of `estimators`, and the
/// warnings of the estimates (I(X;T) at its ceiling, values clipped by fixed bins).
///
/// # Errors
/// As [`check_needs`] and [`estimate_layer`].
pub fn estimate_tables(
    estimators: &[Estimator],
    settings: Settings,
    t: &Table,
    labels: &[u32],
    inputs: Option<&Inputs>,
    threads: usize,
    what: &Path,
) -> Result<(Vec<PlanePoint>, Vec<String>), CliError> {
    check_needs(estimators, settings, inputs.is_some(), t.rows, what)?;
    let mut work = Workspace::new();
    let points = estimate_layer(estimators, t, labels, inputs, threads, &mut work)?;
    let hx = honest::input_entropy(inputs.map(|x| x.ids.as_slice()), t.rows);
    let mut warnings = Vec::new();
    for (est, p) in estimators.iter().zip(&points) {
        warnings.extend(honest::warnings_of(
            est,
            settings,
            hx,
            &honest::issues(est, settings, &t.data, hx, p),
        ));
    }
    Ok((points, warnings))
}

/// What `estimate` prints: `estimator,i_xt_bits,i_ty_bits` (with `bits`, also the values'
/// bits in hex) and a row per estimator.
#[must_use]
pub fn estimate_csv(estimators: &[Estimator], points: &[PlanePoint], bits: bool) -> String {
    let mut text = String::from(if bits {
        "estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex\n"
    } else {
        "estimator,i_xt_bits,i_ty_bits\n"
    });
    for (est, p) in estimators.iter().zip(points) {
        let (ix, iy) = (p.i_xt.in_bits(), p.i_ty.in_bits());
        let _ = if bits {
            writeln!(
                text,
                "{},{ix},{iy},{:016x},{:016x}",
                est.name(),
                ix.to_bits(),
                iy.to_bits()
            )
        } else {
            writeln!(text, "{},{ix},{iy}", est.name())
        };
    }
    text
}

/// One recorded layer of a history: its epoch, its layer number and where its array is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The epoch.
    pub epoch: u32,
    /// The layer, as numbered in the name.
    pub layer: u32,
    /// The array.
    pub source: Source,
}

/// `epoch{E}_layer{L}` → `(E, L)`.
#[must_use]
pub fn parse_entry_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("epoch")?;
    let (e, l) = rest.split_once("_layer")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(e) || !digits(l) {
        return None;
    }
    Some((e.parse().ok()?, l.parse().ok()?))
}

/// The layers a history holds, by epoch then layer, and the names it holds that are not
/// layers.
///
/// # Errors
/// I/O and archive errors; a history without one `epoch{E}_layer{L}`; a layer twice.
pub fn history_entries(path: &Path) -> Result<(Vec<Entry>, Vec<String>), CliError> {
    let mut entries = Vec::new();
    let mut other = Vec::new();
    if path.is_dir() {
        let mut names = Vec::new();
        for e in std::fs::read_dir(path).map_err(|e| CliError::io(path, e))? {
            let e = e.map_err(|e| CliError::io(path, e))?;
            if let Some(n) = e.file_name().to_str() {
                names.push(n.to_owned());
            }
        }
        names.sort();
        for n in names {
            let (stem, ext) = n.rsplit_once('.').unwrap_or((n.as_str(), ""));
            let known = matches!(ext, "npy" | "csv" | "tsv" | "txt");
            match parse_entry_name(stem) {
                Some((epoch, layer)) if known => entries.push(Entry {
                    epoch,
                    layer,
                    source: Source {
                        path: path.join(&n),
                        member: None,
                    },
                }),
                _ => other.push(n),
            }
        }
    } else {
        for n in npz_names(path)? {
            match parse_entry_name(&n) {
                Some((epoch, layer)) => entries.push(Entry {
                    epoch,
                    layer,
                    source: Source {
                        path: path.to_path_buf(),
                        member: Some(n),
                    },
                }),
                None => other.push(n),
            }
        }
    }
    if entries.is_empty() {
        return Err(CliError::data(
            path,
            None,
            None,
            format!(
                "no arrays named epoch{{E}}_layer{{L}} (it holds: {})",
                if other.is_empty() {
                    "nothing".to_owned()
                } else {
                    other.join(", ")
                }
            ),
        ));
    }
    entries.sort_by_key(|e| (e.epoch, e.layer));
    if let Some(w) = entries
        .windows(2)
        .find(|w| matches!(w, [a, b] if (a.epoch, a.layer) == (b.epoch, b.layer)))
    {
        let names: Vec<String> = w.iter().map(|e| e.source.to_string()).collect();
        return Err(CliError::data(
            path,
            None,
            None,
            format!("epoch and layer given twice: {}", names.join(" and ")),
        ));
    }
    Ok((entries, other))
}

/// `estimate --history`: every recorded layer of every epoch through every estimator, into
/// `plane.csv`, `summary.csv`, `manifest.json` and the figures `run` draws.
fn estimate_history(
    args: &EstimateArgs,
    history: &Path,
    estimators: &[Estimator],
    settings: Settings,
    threads: usize,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let Some(dir) = &args.out else {
        return Err(CliError::option(
            "--out",
            "--history writes plane.csv and figures: give the directory with --out",
        ));
    };
    if args.columns.is_some() {
        return Err(CliError::option(
            "--columns",
            "--history measures every unit of each layer; choose units when recording",
        ));
    }
    let (entries, other) = history_entries(history)?;
    let labels_src = Source::parse(&args.labels);
    let labels = read_labels_from_source(&labels_src, args.label_column.as_deref())?;
    let inputs_src = args.inputs.as_deref().map(Source::parse);
    let used = |name: &String| {
        [Some(&labels_src), inputs_src.as_ref()]
            .into_iter()
            .flatten()
            .any(|s| s.member.as_ref() == Some(name) || s.path.file_name() == Some(name.as_ref()))
    };
    let inputs = match &inputs_src {
        None => None,
        Some(src) => Some(read_inputs(
            src,
            args.input_columns.as_ref(),
            "--input-columns",
            labels.len(),
            threads,
        )?),
    };
    check_needs(
        estimators,
        settings,
        inputs.is_some(),
        labels.len(),
        history,
    )?;
    super::run::prepare_out(dir, args.force, "a plane")?;
    let ignored: Vec<&String> = other.iter().filter(|n| !used(n)).collect();
    if !ignored.is_empty() {
        eprintln!(
            "note: {}: not named epoch{{E}}_layer{{L}}, ignored: {}",
            history.display(),
            ignored
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let names: Vec<&str> = estimators.iter().map(Estimator::name).collect();
    let mut plane = String::from(PLANE_HEADER);
    let mut summary = Summary::new();
    let mut work = Workspace::new();
    let hx = honest::input_entropy(inputs.as_ref().map(|x| x.ids.as_slice()), labels.len());
    let mut tally = honest::Tally::default();
    for e in &entries {
        let t = read_matrix(&e.source, None, "--columns", threads)?;
        if t.rows != labels.len() {
            return Err(CliError::data(
                &e.source.shown(),
                None,
                None,
                format!(
                    "{} rows, but {} has {} labels",
                    t.rows,
                    labels_src,
                    labels.len()
                ),
            ));
        }
        let points = estimate_layer(estimators, &t, &labels, inputs.as_ref(), threads, &mut work)?;
        tally.measured();
        for (k, (est, p)) in estimators.iter().zip(&points).enumerate() {
            tally.count(k, e.layer, &honest::issues(est, settings, &t.data, hx, p));
        }
        for (name, p) in names.iter().zip(points) {
            let (ix, iy) = (p.i_xt.in_bits(), p.i_ty.in_bits());
            let _ = writeln!(plane, "0,{},{},{name},{ix},{iy}", e.epoch, e.layer);
            summary.add_plane(0, e.epoch, e.layer, name, ix, iy);
        }
    }
    tally.report(estimators, settings, hx);
    crate::io::write_whole(&dir.join("plane.csv"), plane.as_bytes())?;
    super::run::write_summary(&summary, dir)?;
    let epochs = (
        entries.first().map_or(0, |e| e.epoch),
        entries.last().map_or(0, |e| e.epoch),
    );
    let layers = entries.iter().map(|e| e.layer).max().unwrap_or(0);
    let manifest = serde_json::json!({
        "command": "estimate --history",
        "version": env!("CARGO_PKG_VERSION"),
        "history": history.display().to_string(),
        "history_sha256": if history.is_file() { Some(super::run::sha256_file(history)?) } else { None },
        "labels": labels_src.to_string(),
        "inputs": inputs_src.as_ref().map(ToString::to_string),
        "samples": labels.len(),
        "epochs": entries.iter().map(|e| e.epoch).collect::<std::collections::BTreeSet<_>>(),
        "layers": layers,
        "estimators": estimators,
    });
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| CliError::Other(format!("manifest.json: {e}")))?;
    crate::io::write_whole(&dir.join("manifest.json"), format!("{text}\n").as_bytes())?;
    let caption = vec![
        format!(
            "{} · {} samples · {} recorded layers · epochs {}–{}",
            file_name(history),
            labels.len(),
            layers,
            epochs.0,
            epochs.1
        ),
        format!("estimators: {}", names.join(", ")),
    ];
    super::run::write_figures(
        &FigureInput {
            summary: &summary,
            layers: &[],
            caption,
            last_epoch: epochs.1,
            overlay: args.overlay,
        },
        dir,
    )?;
    let stdout = |e| CliError::io(Path::new("<stdout>"), e);
    writeln!(
        out,
        "{} layers × {} epochs × {} estimators → {}",
        layers,
        summary_epochs(&entries),
        names.len(),
        dir.join("plane.csv").display()
    )
    .map_err(stdout)?;
    out.flush().map_err(stdout)
}

fn summary_epochs(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|e| e.epoch)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
