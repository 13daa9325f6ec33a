//! `infoplane._native`: the extension module under the `infoplane` Python package.
//!
//! It only converts types (R23): estimator names and settings go through the core's registry,
//! estimates through the same function the CLI's `estimate` calls, `run` through the CLI's
//! own argument parser and run command, figures through the CLI's drawing. So Python gets
//! the CLI's bits. Arrays arrive as C-contiguous `float32` (the package converts anything
//! else first) and are borrowed, not copied, for `estimate`; the GIL is released while the
//! core computes. Errors are Python exceptions naming the argument; nothing panics.
//!
//! The public API, its documentation and its types are in `infoplane/__init__.py`.

use clap::Parser;
use infoplane_cli::args::{Cli, Command};
use infoplane_cli::cmd::estimate::{check_needs, estimate_mats, inputs_of};
use infoplane_cli::cmd::mi::{Second, mi_values};
use infoplane_cli::error::CliError;
use infoplane_cli::figures::FigureInput;
use infoplane_cli::honest;
use infoplane_cli::io::Table;
use infoplane_core::estimator::{Estimator, Param, Settings};
use infoplane_core::experiment::{Summary, delta};
use infoplane_core::schedule::ScheduleSpec;
use infoplane_core::{MatRef, Workspace};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The estimator settings a keyword may give, in the CLI's order.
const SETTINGS: [&str; 8] = [
    "bins",
    "range",
    "idnns_compat",
    "bin_size",
    "noise_var",
    "k",
    "standardize",
    "miller_madow",
];

/// A CLI option name as a Python argument name: `--noise-var` → `noise_var`.
fn arg_name(option: &str) -> String {
    option.trim_start_matches('-').replace('-', "_")
}

/// Rewrites `--option-name` in a message as `option_name`, for Python readers.
fn pythonize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let name_len = after.get(2..).map_or(0, |s| {
            s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(s.len())
        });
        match after.get(2..2 + name_len) {
            Some(name)
                if !name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()) =>
            {
                out.push_str(&name.replace('-', "_"));
            }
            _ => out.push_str(after.get(..2 + name_len).unwrap_or("--")),
        }
        rest = after.get(2 + name_len..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A CLI error as a Python exception: option errors name the argument (`ValueError`), file
/// errors are `OSError`s, the rest `ValueError`s.
fn py_err(e: CliError) -> PyErr {
    match e {
        CliError::Option { option, message } => {
            PyValueError::new_err(format!("{}: {}", arg_name(&option), pythonize(&message)))
        }
        CliError::Io { path, source } => {
            PyOSError::new_err(format!("{}: {source}", path.display()))
        }
        other => {
            let mut text = pythonize(&other.to_string());
            if let Some(h) = other.hint() {
                text.push_str(&format!(" (hint: {})", pythonize(h)));
            }
            PyValueError::new_err(text)
        }
    }
}

/// The settings from keyword arguments, over the defaults; `given` keeps each value's repr
/// for messages.
fn settings_of(kw: Option<&Bound<'_, PyDict>>) -> PyResult<(Settings, Vec<(String, String)>)> {
    let mut s = Settings::DEFAULT;
    let mut given = Vec::new();
    let Some(kw) = kw else {
        return Ok((s, given));
    };
    for (key, value) in kw.iter() {
        let key: String = key.extract()?;
        let shown = value
            .repr()
            .map_or_else(|_| "?".to_owned(), |r| r.to_string());
        let bad = |what: &str| {
            let accepts = infoplane_core::experiment::accepts(&key).unwrap_or(what);
            PyValueError::new_err(format!("{key}={shown} is not accepted: expected {accepts}"))
        };
        match key.as_str() {
            "bins" => s.bins = value.extract().map_err(|_| bad("an integer"))?,
            "k" => s.k = value.extract().map_err(|_| bad("an integer"))?,
            "bin_size" => s.bin_size = value.extract().map_err(|_| bad("a number"))?,
            "noise_var" => s.noise_var = value.extract().map_err(|_| bad("a number"))?,
            "idnns_compat" => s.idnns_compat = value.extract().map_err(|_| bad("True or False"))?,
            "standardize" => s.standardize = value.extract().map_err(|_| bad("True or False"))?,
            "miller_madow" => s.miller_madow = value.extract().map_err(|_| bad("True or False"))?,
            "range" => {
                (s.lo, s.hi) = value
                    .extract::<(f32, f32)>()
                    .map_err(|_| bad("a pair (lo, hi) with lo < hi"))?;
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "unexpected keyword argument {key:?}: the estimator settings are {}",
                    SETTINGS.join(", ")
                )));
            }
        }
        given.push((key, shown));
    }
    Ok((s, given))
}

/// The estimators `names` with `settings`, each checked by the core; an error names the
/// setting (or the estimator) and what it accepts.
fn estimators_of(
    names: &[String],
    settings: Settings,
    given: &[(String, String)],
) -> PyResult<Vec<Estimator>> {
    if names.is_empty() {
        return Err(PyValueError::new_err(
            "estimator: give at least one estimator",
        ));
    }
    names
        .iter()
        .map(|name| {
            Estimator::new(name, settings).map_err(|e| match e {
                infoplane_core::Error::InvalidParameter { name: "estimator" } => {
                    let known: Vec<&str> = infoplane_core::estimator::REGISTRY
                        .iter()
                        .map(|k| k.name())
                        .collect();
                    PyValueError::new_err(format!(
                        "estimator={name:?} is not accepted: expected one of {}",
                        known.join(", ")
                    ))
                }
                infoplane_core::Error::InvalidParameter { name: p } => {
                    let accepts = infoplane_core::experiment::accepts(p).unwrap_or("a valid value");
                    let shown = given
                        .iter()
                        .find(|(k, _)| {
                            k == p || (k == "range" && Param::from_name(p) == Some(Param::Range))
                        })
                        .map_or_else(|| "its default".to_owned(), |(k, v)| format!("{k}={v}"));
                    PyValueError::new_err(format!(
                        "{name}: {shown} is not accepted: expected {accepts}"
                    ))
                }
                other => PyValueError::new_err(format!("{name}: {other}")),
            })
        })
        .collect()
}

/// A matrix argument as a borrowed core matrix.
fn mat<'a>(what: &str, a: &'a PyReadonlyArray2<'_, f32>) -> PyResult<MatRef<'a>> {
    let &[rows, cols] = a.shape() else {
        return Err(PyValueError::new_err(format!("{what}: must have two axes")));
    };
    let data = a
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what}: must be C-contiguous")))?;
    MatRef::new(data, rows, cols).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// The message for a core error on a named matrix (`names`: the activations' and the inputs'
/// names and column counts), with a non-finite value located by row and column.
fn matrix_message(e: &CliError, names: [(&str, usize); 2]) -> Option<String> {
    let CliError::Core { context, source } = e else {
        return None;
    };
    let (what, cols) = match context.as_str() {
        "activations" => names[0],
        "inputs" => names[1],
        _ => return None,
    };
    Some(match source {
        infoplane_core::Error::NonFinite { index } => {
            let cols = cols.max(1);
            format!(
                "{what}: row {}, column {} is not finite (NaN or infinite)",
                index / cols,
                index % cols
            )
        }
        other => format!("{what}: {other}"),
    })
}

/// A core error as a `ValueError`, located in its matrix where it is about one.
fn matrix_error(e: CliError, names: [(&str, usize); 2]) -> PyErr {
    match matrix_message(&e, names) {
        Some(m) => PyValueError::new_err(m),
        None => py_err(e),
    }
}

/// One layer's estimates: `[(i_xt_bits, i_ty_bits)]` in the order of `estimators`, and the
/// warnings (`estimator: advice`).
#[pyfunction]
#[pyo3(signature = (t, labels, inputs, estimators, settings, threads))]
fn estimate(
    py: Python<'_>,
    t: PyReadonlyArray2<'_, f32>,
    labels: PyReadonlyArray1<'_, u32>,
    inputs: Option<PyReadonlyArray2<'_, f32>>,
    estimators: Vec<String>,
    settings: Option<&Bound<'_, PyDict>>,
    threads: usize,
) -> PyResult<Estimated> {
    let (settings, given) = settings_of(settings)?;
    let ests = estimators_of(&estimators, settings, &given)?;
    let tm = mat("t", &t)?;
    let y = labels
        .as_slice()
        .map_err(|_| PyValueError::new_err("labels: must be contiguous"))?;
    if y.len() != tm.rows() {
        return Err(PyValueError::new_err(format!(
            "labels: {} labels for {} rows of t",
            y.len(),
            tm.rows()
        )));
    }
    let xm = inputs.as_ref().map(|x| mat("inputs", x)).transpose()?;
    if let Some(x) = xm
        && x.rows() != tm.rows()
    {
        return Err(PyValueError::new_err(format!(
            "inputs: {} rows for {} rows of t",
            x.rows(),
            tm.rows()
        )));
    }
    let threads = infoplane_cli::cmd::threads(threads).map_err(py_err)?;
    let rows = tm.rows();
    let names = [("t", tm.cols()), ("inputs", xm.map_or(1, |x| x.cols()))];
    let result = py.detach(move || -> Result<_, CliError> {
        check_needs(&ests, settings, xm.is_some(), rows, Path::new("t"))?;
        let ids = match xm {
            Some(x) => {
                let mut ids = vec![0u32; x.rows()];
                let mut scratch = vec![0u64; x.rows()];
                infoplane_core::dataset::group_rows(x, &mut ids, &mut scratch)
                    .map_err(|e| CliError::core("inputs", e))?;
                Some(ids)
            }
            None => None,
        };
        let mut work = Workspace::new();
        let points = estimate_mats(&ests, tm, y, ids.as_deref(), xm, threads, &mut work)?;
        let hx = honest::input_entropy(ids.as_deref(), rows);
        let mut warnings = Vec::new();
        for (est, p) in ests.iter().zip(&points) {
            let issues = honest::issues(est, settings, tm.as_slice(), hx, p);
            warnings.extend(honest::warnings_of(est, settings, hx, &issues));
        }
        let bits = points
            .iter()
            .map(|p| (p.i_xt.in_bits(), p.i_ty.in_bits()))
            .collect();
        Ok((bits, warnings))
    });
    match result {
        Ok((bits, warnings)) => Ok((bits, warnings.iter().map(|w| pythonize(w)).collect())),
        Err(e) => Err(matrix_error(e, names)),
    }
}

/// A matrix argument copied into a table.
fn table(what: &str, a: &PyReadonlyArray2<'_, f32>) -> PyResult<Table> {
    let m = mat(what, a)?;
    Ok(Table {
        data: m.as_slice().to_vec(),
        rows: m.rows(),
        cols: m.cols(),
        header: None,
    })
}

/// I(A;B) in bits by each estimator, and the warnings. `b` is a matrix, or with
/// `b_labels` class labels.
#[pyfunction]
#[pyo3(signature = (a, b, b_labels, estimators, settings, threads))]
fn mi(
    py: Python<'_>,
    a: PyReadonlyArray2<'_, f32>,
    b: Option<PyReadonlyArray2<'_, f32>>,
    b_labels: Option<PyReadonlyArray1<'_, u32>>,
    estimators: Vec<String>,
    settings: Option<&Bound<'_, PyDict>>,
    threads: usize,
) -> PyResult<(Vec<f64>, Vec<String>)> {
    let (settings, given) = settings_of(settings)?;
    let ests = estimators_of(&estimators, settings, &given)?;
    let a = table("a", &a)?;
    let threads = infoplane_cli::cmd::threads(threads).map_err(py_err)?;
    let names = [("a", a.cols), ("a", a.cols)];
    let result = match (b, b_labels) {
        (Some(b), None) => {
            let b = table("b", &b)?;
            if b.rows != a.rows {
                return Err(PyValueError::new_err(format!(
                    "b: {} rows, but a has {}",
                    b.rows, a.rows
                )));
            }
            py.detach(|| {
                // Each matrix is checked alone first, so a bad value is located in its own.
                for (what, m) in [("a", &a), ("b", &b)] {
                    if let Err(infoplane_core::Error::NonFinite { index }) =
                        infoplane_core::check_finite(&m.data)
                    {
                        return Err(CliError::option(
                            what,
                            format!(
                                "row {}, column {} is not finite (NaN or infinite)",
                                index / m.cols.max(1),
                                index % m.cols.max(1)
                            ),
                        ));
                    }
                }
                mi_values(
                    &ests,
                    settings,
                    &a,
                    Second::Values(&b),
                    threads,
                    Path::new("a"),
                )
            })
        }
        (None, Some(y)) => {
            let y = y
                .as_slice()
                .map_err(|_| PyValueError::new_err("b: must be contiguous"))?;
            if y.len() != a.rows {
                return Err(PyValueError::new_err(format!(
                    "b: {} labels, but a has {} rows",
                    y.len(),
                    a.rows
                )));
            }
            py.detach(|| {
                mi_values(
                    &ests,
                    settings,
                    &a,
                    Second::Labels(y),
                    threads,
                    Path::new("a"),
                )
            })
        }
        _ => return Err(PyValueError::new_err("b: give a matrix or class labels")),
    };
    match result {
        Ok((bits, warnings)) => Ok((bits, warnings.iter().map(|w| pythonize(w)).collect())),
        Err(e) => Err(matrix_error(e, names)),
    }
}

/// The epochs a fixed schedule measures in a run of `epochs` epochs; `None` for delta skip
/// (decided as the run goes). Raises for a schedule the core does not accept.
#[pyfunction]
fn schedule_epochs(spec: &str, epochs: u32) -> PyResult<Option<Vec<u32>>> {
    let bad = |e: infoplane_core::Error| {
        let accepts = infoplane_core::experiment::accepts("schedule").unwrap_or("a schedule");
        PyValueError::new_err(format!(
            "schedule={spec:?} is not accepted ({e}): expected {accepts}"
        ))
    };
    let s = ScheduleSpec::parse(spec).map_err(bad)?;
    s.validate(epochs).map_err(bad)?;
    Ok(s.fixed().map(|f| f.epochs(epochs).collect()))
}

/// The delta-skip distance between two epochs' per-layer values (the core's rule).
#[pyfunction]
fn delta_distance(a: Vec<(f64, f64)>, b: Vec<(f64, f64)>, h_x: f64, h_y: f64) -> f64 {
    delta::distance(&a, &b, h_x, h_y)
}

/// The `infoplane run` options as keyword names (`--noise-var` → `noise_var`), each with
/// whether it is a switch (given or not) and whether it repeats.
fn run_options() -> Vec<(String, bool, bool)> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(run) = cmd.find_subcommand("run") else {
        return Vec::new();
    };
    run.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let switch = matches!(a.get_action(), clap::ArgAction::SetTrue);
            let repeats = matches!(a.get_action(), clap::ArgAction::Append);
            Some((arg_name(long), switch, repeats))
        })
        .collect()
}

/// One option value as the command line writes it: numbers as Python prints them, `True` as
/// `true`, a list or tuple joined with commas.
fn option_text(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.extract::<bool>() {
        return Ok(if b { "true" } else { "false" }.to_owned());
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let parts = v
            .try_iter()?
            .map(|x| option_text(key, &x?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(parts.join(","));
    }
    if v.extract::<i64>().is_ok() || v.extract::<f64>().is_ok() {
        return Ok(v.str()?.to_string());
    }
    Err(PyTypeError::new_err(format!(
        "{key}: expected a string, number, bool or list, not {}",
        v.get_type().name()?
    )))
}

/// The command line of `infoplane run` for keyword options.
fn run_argv(options: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
    let known = run_options();
    let mut argv = Vec::new();
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        let Some((_, switch, repeats)) = known.iter().find(|(n, _, _)| *n == key) else {
            let names: Vec<&str> = known.iter().map(|(n, _, _)| n.as_str()).collect();
            return Err(PyTypeError::new_err(format!(
                "run() got an unexpected keyword argument {key:?}; the options are {}",
                names.join(", ")
            )));
        };
        let long = format!("--{}", key.replace('_', "-"));
        if *switch {
            let on: bool = value
                .extract()
                .map_err(|_| PyValueError::new_err(format!("{key}: expected True or False")))?;
            if on {
                argv.push(long);
            }
        } else if *repeats
            && (value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>())
        {
            for v in value.try_iter()? {
                argv.push(format!("{long}={}", option_text(&key, &v?)?));
            }
        } else if !value.is_none() {
            argv.push(format!("{long}={}", option_text(&key, &value)?));
        }
    }
    Ok(argv)
}

/// Runs `infoplane run` with keyword `options` (the CLI's, `--noise-var` as `noise_var`) and
/// the instruction-set level `simd`; the files go where `out` says. Returns the command line.
#[pyfunction]
#[pyo3(signature = (options, simd))]
fn run(py: Python<'_>, options: &Bound<'_, PyDict>, simd: Option<String>) -> PyResult<Vec<String>> {
    let argv = run_argv(options)?;
    let full: Vec<String> = ["infoplane".to_owned(), "run".to_owned()]
        .into_iter()
        .chain(argv.iter().cloned())
        .collect();
    let cli = Cli::try_parse_from(&full).map_err(|e| {
        let arg = e
            .get(clap::error::ContextKind::InvalidArg)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let name = arg
            .split_whitespace()
            .next()
            .map(arg_name)
            .unwrap_or_default();
        let text = e.render().to_string();
        let text = text.trim().trim_start_matches("error: ");
        // clap's message with its possible values and tips, without the usage lines.
        let said: Vec<&str> = text
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .filter(|l| !l.is_empty())
            .collect();
        let said = pythonize(&said.join(" "));
        if name.is_empty() {
            PyValueError::new_err(said)
        } else {
            PyValueError::new_err(format!("{name}: {said}"))
        }
    })?;
    infoplane_cli::choose_simd(simd.as_deref()).map_err(py_err)?;
    let Command::Run(args) = &cli.command else {
        return Err(PyRuntimeError::new_err("not a run"));
    };
    // The run goes on a thread of its own while this one waits without the GIL, taking it
    // back every 100 ms to see whether Python has a signal to handle (Ctrl-C, a Jupyter
    // interrupt): then the run is stopped as a killed run stops, staged for `resume`.
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("infoplane-run".into())
            .spawn_scoped(scope, move || {
                let _ = tx.send(infoplane_cli::cmd::run::run_as(args, full));
            })
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the run's thread: {e}")))?;
        let rx = Mutex::new(rx);
        let wait = |timeout| {
            py.detach(|| {
                rx.lock()
                    .map_or(Err(mpsc::RecvTimeoutError::Disconnected), |r| {
                        r.recv_timeout(timeout)
                    })
            })
        };
        let result = loop {
            match wait(Duration::from_millis(100)) {
                Ok(r) => break r,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err("the run's thread stopped"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Err(signal) = py.check_signals() {
                infoplane_cli::cmd::run::INTERRUPT.store(true, Ordering::SeqCst);
                let stopped = wait(Duration::from_secs(3600));
                infoplane_cli::cmd::run::INTERRUPT.store(false, Ordering::SeqCst);
                let _ = worker.join();
                return Err(match stopped {
                    Ok(Err(_)) => {
                        let dir = args.resume.as_ref().or(args.out.as_ref());
                        let dir = dir.map(|d| d.display().to_string()).unwrap_or_default();
                        pyo3::exceptions::PyKeyboardInterrupt::new_err(format!(
                            "the run was interrupted; it is staged in {dir}/.infoplane-run, and infoplane.run(resume={dir:?}) goes on from its last checkpoint"
                        ))
                    }
                    // It ended before it saw the flag, or failed on its own: the signal's error.
                    _ => signal,
                });
            }
        };
        let _ = worker.join();
        result.map_err(py_err)
    })?;
    Ok(argv)
}

/// A CSV file as columns: `[(name, values)]`, each an `int64` array when every cell is an
/// integer, a `float64` array when every cell is a number or empty (NaN), else a list of
/// strings. Numbers parse exactly as written (Rust's correctly rounded parser).
#[pyfunction]
fn read_csv<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyList>> {
    let io = |e: csv::Error| PyOSError::new_err(format!("{path}: {e}"));
    let mut r = csv::Reader::from_path(path).map_err(io)?;
    let header: Vec<String> = r.headers().map_err(io)?.iter().map(str::to_owned).collect();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for rec in r.records() {
        let rec = rec.map_err(io)?;
        for (c, v) in cols.iter_mut().zip(rec.iter()) {
            c.push(v.to_owned());
        }
    }
    let out = PyList::empty(py);
    for (name, cells) in header.into_iter().zip(cols) {
        let ints: Option<Vec<i64>> = cells.iter().map(|c| c.parse().ok()).collect();
        let floats: Option<Vec<f64>> = cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Some(f64::NAN)
                } else {
                    c.parse().ok()
                }
            })
            .collect();
        let values = match (ints, floats) {
            (Some(i), _) => i.into_pyarray(py).into_any(),
            (None, Some(f)) => f.into_pyarray(py).into_any(),
            (None, None) => PyList::new(py, cells)?.into_any(),
        };
        out.append(PyTuple::new(
            py,
            [name.into_pyobject(py)?.into_any(), values],
        )?)?;
    }
    Ok(out)
}

/// The CLI's figures of a plane: `[(file name, SVG)]`, from plane rows (columns `run`,
/// `epoch`, `layer`, `estimator`, `i_xt_bits`, `i_ty_bits`), a caption and the run's last
/// epoch (the colour bar's end).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one column each
#[pyo3(signature = (run, epoch, layer, estimator, i_xt, i_ty, caption, last_epoch, overlay))]
fn figures(
    run: Vec<u64>,
    epoch: Vec<u32>,
    layer: Vec<u32>,
    estimator: Vec<String>,
    i_xt: Vec<f64>,
    i_ty: Vec<f64>,
    caption: Vec<String>,
    last_epoch: u32,
    overlay: bool,
) -> PyResult<Vec<(String, String)>> {
    let n = run.len();
    if [
        epoch.len(),
        layer.len(),
        estimator.len(),
        i_xt.len(),
        i_ty.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(PyValueError::new_err("plane: the columns differ in length"));
    }
    let mut summary = Summary::new();
    for i in 0..n {
        let (Some(&r), Some(&e), Some(&l), Some(est), Some(&x), Some(&y)) = (
            run.get(i),
            epoch.get(i),
            layer.get(i),
            estimator.get(i),
            i_xt.get(i),
            i_ty.get(i),
        ) else {
            break;
        };
        if !summary.add_plane(r, e, l, est, x, y) {
            return Err(PyValueError::new_err(format!(
                "plane: run {r}, epoch {e}, layer {l}, estimator {est} appears twice"
            )));
        }
    }
    let input = FigureInput {
        summary: &summary,
        layers: &[],
        caption,
        last_epoch,
        overlay,
    };
    infoplane_cli::figures::figures(&input)
        .map_err(|e| PyValueError::new_err(format!("figure: {e}")))
}

/// The caption `run` writes under its figures, from its `manifest.json` text and seeds.
#[pyfunction]
fn run_caption(manifest: &str, seeds: Vec<u64>) -> PyResult<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(manifest)
        .map_err(|e| PyValueError::new_err(format!("manifest: {e}")))?;
    Ok(infoplane_cli::cmd::run::caption(&v, &seeds))
}

/// The core's catalogue (presets, estimators with their settings, activations, schedules) as
/// JSON.
#[pyfunction]
fn catalog() -> PyResult<String> {
    serde_json::to_string(&infoplane_core::catalog::catalog())
        .map_err(|e| PyRuntimeError::new_err(format!("catalogue: {e}")))
}

/// A layer's activations waiting to be estimated.
struct Job {
    epoch: u32,
    layer: u32,
    t: Table,
}

/// Each estimator's (I(X;T), I(T;Y)) in bits.
type Bits = Vec<(f64, f64)>;
/// A layer's bits and warnings.
type Estimated = (Bits, Vec<String>);
/// An estimated layer: epoch, layer, each estimator's bits, warnings.
type Finished = (u32, u32, Bits, Vec<String>);
/// An estimated layer, or why it could not be.
type Done = Result<Finished, String>;

/// Estimates layers on a thread of its own while Python goes on (the recorder's engine):
/// `submit` copies a layer and returns at once (it waits only when `max_pending` layers are
/// already queued), `collect` returns what is finished, or waits for everything. No lock is
/// held while the GIL is released, so other Python threads never wait on it.
#[pyclass]
struct Worker {
    jobs: Mutex<Option<mpsc::SyncSender<Job>>>,
    done: Arc<Mutex<mpsc::Receiver<Done>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pending: AtomicUsize,
    h_x: f64,
    h_y: f64,
}

/// A poisoned lock (a panic elsewhere) as a Python error.
fn poisoned<T>(_: T) -> PyErr {
    PyRuntimeError::new_err("the worker failed earlier")
}

/// What the worker thread estimates with.
struct Engine {
    ests: Vec<Estimator>,
    settings: Settings,
    labels: Vec<u32>,
    inputs: Option<infoplane_cli::cmd::estimate::Inputs>,
    threads: usize,
    hx: f64,
}

impl Engine {
    /// Estimates one job.
    fn one(&self, job: &Job, work: &mut Workspace) -> Done {
        let Self {
            ests,
            settings,
            labels,
            inputs,
            threads,
            hx,
        } = self;
        let (settings, threads, hx, inputs) = (*settings, *threads, *hx, inputs.as_ref());
        let t = &job.t;
        if t.rows != labels.len() {
            return Err(format!(
                "epoch {}, layer {}: {} rows of activations for {} labels",
                job.epoch,
                job.layer,
                t.rows,
                labels.len()
            ));
        }
        let tm = MatRef::new(&t.data, t.rows, t.cols).map_err(|e| e.to_string())?;
        let ids = inputs.map(|x| x.ids.as_slice());
        let xm = inputs
            .map(|x| MatRef::new(&x.table.data, x.table.rows, x.table.cols))
            .transpose()
            .map_err(|e| e.to_string())?;
        let xm = xm.filter(|_| ests.iter().any(|e| e.kind().needs_inputs()));
        let points = estimate_mats(ests, tm, labels, ids, xm, threads, work).map_err(|e| {
            let at = format!("epoch {}, layer {}", job.epoch, job.layer);
            matrix_message(
                &e,
                [(&at, t.cols), ("x", inputs.map_or(1, |x| x.table.cols))],
            )
            .unwrap_or_else(|| format!("{at}: {}", pythonize(&e.to_string())))
        })?;
        let mut warnings = Vec::new();
        for (est, p) in ests.iter().zip(&points) {
            let issues = honest::issues(est, settings, &t.data, hx, p);
            for w in honest::warnings_of(est, settings, hx, &issues) {
                warnings.push(format!(
                    "epoch {}, layer {}: {}",
                    job.epoch,
                    job.layer,
                    pythonize(&w)
                ));
            }
        }
        let bits = points
            .iter()
            .map(|p| (p.i_xt.in_bits(), p.i_ty.in_bits()))
            .collect();
        Ok((job.epoch, job.layer, bits, warnings))
    }
}

#[pymethods]
impl Worker {
    /// A worker for layers of `labels.len()` rows with these inputs, estimators and settings,
    /// each estimate split over `threads` threads.
    #[new]
    #[pyo3(signature = (labels, inputs, estimators, settings, threads, max_pending))]
    fn new(
        labels: PyReadonlyArray1<'_, u32>,
        inputs: Option<PyReadonlyArray2<'_, f32>>,
        estimators: Vec<String>,
        settings: Option<&Bound<'_, PyDict>>,
        threads: usize,
        max_pending: usize,
    ) -> PyResult<Self> {
        let (settings, given) = settings_of(settings)?;
        let ests = estimators_of(&estimators, settings, &given)?;
        let labels = labels
            .as_slice()
            .map_err(|_| PyValueError::new_err("y: must be contiguous"))?
            .to_vec();
        let inputs = match &inputs {
            Some(x) => {
                let x = table("x", x)?;
                if x.rows != labels.len() {
                    return Err(PyValueError::new_err(format!(
                        "x: {} rows for {} labels",
                        x.rows,
                        labels.len()
                    )));
                }
                let cols = x.cols;
                Some(inputs_of(x).map_err(|e| matrix_error(e, [("x", cols), ("x", cols)]))?)
            }
            None => None,
        };
        check_needs(
            &ests,
            settings,
            inputs.is_some(),
            labels.len(),
            Path::new("x"),
        )
        .map_err(py_err)?;
        let threads = infoplane_cli::cmd::threads(threads).map_err(py_err)?;
        let h_x = honest::input_entropy(inputs.as_ref().map(|x| x.ids.as_slice()), labels.len());
        let h_y = honest::input_entropy(Some(&labels), labels.len());
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(max_pending.max(1));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new()
            .name("infoplane-estimates".into())
            .spawn(move || {
                let engine = Engine {
                    ests,
                    settings,
                    labels,
                    inputs,
                    threads,
                    hx: h_x,
                };
                let mut work = Workspace::new();
                for job in job_rx {
                    let r = engine.one(&job, &mut work);
                    if done_tx.send(r).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| {
                PyRuntimeError::new_err(format!("cannot start the estimating thread: {e}"))
            })?;
        Ok(Self {
            jobs: Mutex::new(Some(job_tx)),
            done: Arc::new(Mutex::new(done_rx)),
            thread: Mutex::new(Some(thread)),
            pending: AtomicUsize::new(0),
            h_x,
            h_y,
        })
    }

    /// Queues layer `layer` of epoch `epoch` (copied); waits, without the GIL, only while
    /// `max_pending` layers are queued.
    fn submit(
        &self,
        py: Python<'_>,
        epoch: u32,
        layer: u32,
        t: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<()> {
        let t = table(&format!("epoch {epoch}, layer {layer}"), &t)?;
        let tx = self.jobs.lock().map_err(poisoned)?.clone();
        let Some(tx) = tx else {
            return Err(PyRuntimeError::new_err("the worker is closed"));
        };
        self.pending.fetch_add(1, Ordering::SeqCst);
        py.detach(move || tx.send(Job { epoch, layer, t }))
            .map_err(|_| {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                PyRuntimeError::new_err("the estimating thread stopped")
            })
    }

    /// The finished layers, `[(epoch, layer, [(i_xt, i_ty)], warnings)]`, without waiting
    /// (`block`: until every queued layer is done). The first failed layer raises.
    #[pyo3(signature = (block))]
    fn collect(&self, py: Python<'_>, block: bool) -> PyResult<Vec<Finished>> {
        let mut out = Vec::new();
        while self.pending.load(Ordering::SeqCst) > 0 {
            let rx = Arc::clone(&self.done);
            let next = if block {
                py.detach(move || rx.lock().ok().and_then(|r| r.recv().ok()))
            } else {
                rx.lock().map_err(poisoned)?.try_recv().ok()
            };
            let Some(r) = next else {
                if block {
                    return Err(PyRuntimeError::new_err("the estimating thread stopped"));
                }
                break;
            };
            self.pending.fetch_sub(1, Ordering::SeqCst);
            out.push(r.map_err(PyValueError::new_err)?);
        }
        Ok(out)
    }

    /// Layers queued and not yet collected.
    fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// H(X) and H(Y) in bits: the entropies of the input groups and of the labels.
    fn entropies(&self) -> (f64, f64) {
        (self.h_x, self.h_y)
    }

    /// Stops the thread once the queued layers are done (their results are dropped).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        *self.jobs.lock().map_err(poisoned)? = None;
        let thread = self.thread.lock().map_err(poisoned)?.take();
        if let Some(t) = thread {
            py.detach(|| t.join())
                .map_err(|_| PyRuntimeError::new_err("the estimating thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            *jobs = None;
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// The keyword options `run` takes.
#[pyfunction]
fn run_option_names() -> Vec<String> {
    run_options().into_iter().map(|(n, _, _)| n).collect()
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(estimate, m)?)?;
    m.add_function(wrap_pyfunction!(mi, m)?)?;
    m.add_function(wrap_pyfunction!(schedule_epochs, m)?)?;
    m.add_function(wrap_pyfunction!(delta_distance, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_option_names, m)?)?;
    m.add_function(wrap_pyfunction!(read_csv, m)?)?;
    m.add_function(wrap_pyfunction!(figures, m)?)?;
    m.add_function(wrap_pyfunction!(run_caption, m)?)?;
    m.add_function(wrap_pyfunction!(catalog, m)?)?;
    m.add_class::<Worker>()?;
    Ok(())
}
