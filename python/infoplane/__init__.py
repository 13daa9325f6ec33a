"""infoplane: the information plane of neural networks, from Python.

The same estimators, runs and figures as the ``infoplane`` command line, on the arrays you
already have, with the CLI's bits: a value computed here equals the CLI's to the last bit on
the same input, whatever the thread count.

- :func:`estimate` — I(X;T) and I(T;Y) of one layer, in bits.
- :func:`mi` — I(A;B) of two variables (continuous, or class labels).
- :func:`run` — a whole ``infoplane run`` (Tishby's, Saxe's, MNIST presets), its plane and
  metrics as pandas DataFrames.
- :class:`infoplane.torch.Recorder` — records a PyTorch model's layers while it trains and
  estimates them on Rust threads.
- :func:`plot_plane`, :func:`plot_layers` — the CLI's SVG figures (shown inline in Jupyter).

Arrays: C-contiguous ``float32`` arrays are read in place (no copy); any other dtype or
layout (``float64``, Fortran order, slices, lists, torch tensors) is converted to a
C-contiguous ``float32`` copy first, as the CLI converts the files it reads. The GIL is
released while the estimators run.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _native

__version__: str = _native.__version__

__all__ = [
    "Figure",
    "InfoplaneWarning",
    "Point",
    "RunResult",
    "estimate",
    "estimators",
    "mi",
    "plot_layers",
    "plot_plane",
    "presets",
    "run",
    "run_options",
    "schedule_epochs",
    "__version__",
]

#: The columns of ``plane.csv`` (and of :meth:`infoplane.torch.Recorder.plane`).
PLANE_COLUMNS = ("run", "epoch", "layer", "estimator", "i_xt_bits", "i_ty_bits")

_U32_MAX = 2**32 - 1


class InfoplaneWarning(UserWarning):
    """An estimate that says less than it seems: I(X;T) at its ceiling H(X) (every input
    alone in its bin pattern, a kernel narrower than the distances), or activations outside
    the fixed bins' ``range`` (clipped into the end bins). The CLI prints the same text."""


class Point(NamedTuple):
    """One layer's place in the information plane, in bits."""

    i_xt: float
    """I(X;T): information the layer keeps about the input."""
    i_ty: float
    """I(T;Y): information the layer holds about the label."""


def _as_numpy(a: Any) -> Any:
    """A torch tensor (on any device, with or without grad) as a NumPy array; else ``a``."""
    if hasattr(a, "detach") and hasattr(a, "cpu") and hasattr(a, "numpy"):
        return a.detach().cpu().numpy()
    return a


def _matrix(name: str, a: Any) -> np.ndarray:
    """``a`` as a C-contiguous float32 matrix (rows: samples): read in place when it is one
    already, else converted. A vector is one column; more than two axes are flattened after
    the first (as the CLI reads an ``.npy`` of shape (N, C, H, W))."""
    arr = np.asarray(_as_numpy(a))
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, not an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name}: expected a matrix (rows: samples), not a scalar")
    if arr.size == 0:
        raise ValueError(f"{name}: empty (shape {arr.shape})")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _labels(name: str, y: Any, rows: Optional[int] = None) -> np.ndarray:
    """Class labels as uint32: integers (or integral floats) in [0, 2^32 - 1], shape (N,) or
    (N, 1)."""
    arr = np.asarray(_as_numpy(y))
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name}: labels need shape (N,) or (N, 1), not {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name}: {arr.shape[0]} labels for {rows} rows")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: no labels")
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.uint32)
    if kind in "iu":
        bad = np.flatnonzero((arr < 0) | (arr > _U32_MAX))
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(
                ~np.isfinite(arr) | (arr < 0) | (arr > _U32_MAX) | (np.floor(arr) != arr)
            )
    else:
        raise ValueError(f"{name}: labels must be integers, not an array of dtype {arr.dtype}")
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {arr[i].item()!r} is not a non-negative integer label")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def _names(estimator: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(estimator, str):
        return [estimator]
    names = list(estimator)
    if not all(isinstance(n, str) for n in names):
        raise TypeError("estimator: expected a name or a list of names")
    return names


def _warn(messages: Sequence[str]) -> None:
    for m in messages:
        warnings.warn(m, InfoplaneWarning, stacklevel=3)


def estimate(
    t: Any,
    labels: Any,
    inputs: Any = None,
    estimator: Union[str, Sequence[str]] = "binning",
    *,
    threads: int = 0,
    **settings: Any,
) -> Union[Point, Dict[str, Point]]:
    """I(X;T) and I(T;Y) of one layer, in bits: what ``infoplane estimate`` prints.

    Args:
        t: the layer's activations, one row per sample (N × units). A vector is one unit;
            more axes are flattened after the first. Read in place when C-contiguous
            ``float32``, else converted to it.
        labels: the class of each row, integers ≥ 0 (shape (N,) or (N, 1)).
        inputs: the inputs X, one row per sample. Equal rows are one input; without them
            every row is an input of its own (I(X;T) = H(T), as for Tishby's 4096 distinct
            patterns). ``ksg`` needs them (it measures distances in X).
        estimator: a name or a list of names: ``binning``, ``binning-range``,
            ``binning-size``, ``binning-equal-mass``, ``kde-upper``, ``kde-lower``, ``ksg``
            (:func:`estimators` lists them with their settings).
        threads: threads per estimate (0: every core). The bits do not depend on it.
        **settings: the estimators' settings, as the CLI's options: ``bins`` (int),
            ``range`` ((lo, hi)), ``idnns_compat`` (bool), ``bin_size`` (float),
            ``noise_var`` (float), ``k`` (int), ``standardize`` (bool), ``miller_madow``
            (bool). Each estimator reads those it has.

    Returns:
        A :class:`Point` ``(i_xt, i_ty)`` for one name; ``{name: Point}`` for a list.

    Raises:
        ValueError: a bad array (NaN or infinite value, by row and column; wrong shape;
            labels of the wrong length or not integers) or a setting the estimator does not
            accept, with what it accepts.
        TypeError: an unknown setting.

    Warns:
        InfoplaneWarning: an estimate at its ceiling H(X), or activations clipped outside
            ``range``.

    Example:
        >>> import numpy as np, infoplane
        >>> t = np.tanh(np.random.default_rng(0).normal(size=(4096, 10))).astype(np.float32)
        >>> y = np.arange(4096) % 2
        >>> infoplane.estimate(t, y, estimator="binning", bins=30)  # doctest: +SKIP
        Point(i_xt=12.0, i_ty=1.0)
    """
    names = _names(estimator)
    tm = _matrix("t", t)
    y = _labels("labels", labels, tm.shape[0])
    x = None if inputs is None else _matrix("inputs", inputs)
    if x is not None and x.shape[0] != tm.shape[0]:
        raise ValueError(f"inputs: {x.shape[0]} rows for {tm.shape[0]} rows of t")
    bits, notes = _native.estimate(tm, y, x, names, settings, threads)
    _warn(notes)
    points = [Point(float(a), float(b)) for a, b in bits]
    if isinstance(estimator, str):
        return points[0]
    return dict(zip(names, points))


def mi(
    a: Any,
    b: Any,
    estimator: Union[str, Sequence[str]] = "ksg",
    *,
    discrete_b: bool = False,
    threads: int = 0,
    **settings: Any,
) -> Union[float, Dict[str, float]]:
    """I(A;B) in bits: what ``infoplane mi`` prints.

    Two continuous variables (each N × columns): ``ksg`` (Kraskov et al.'s algorithm 1),
    or ``binning`` / ``binning-size`` / ``binning-equal-mass`` as H(A) + H(B) − H(A, B) over
    the same bins. With ``discrete_b=True``, ``b`` holds class labels and every estimator
    gives its I(T;Y) with T = ``a``. Both arrays are copied.

    Args:
        a, b: the variables, one row per sample (``b``: labels with ``discrete_b``).
        estimator: a name or a list of names.
        discrete_b: ``b`` is class labels.
        threads: threads per estimate (0: every core).
        **settings: as for :func:`estimate`.

    Returns:
        The bits for one name; ``{name: bits}`` for a list.

    Raises:
        ValueError: bad arrays, settings, or an estimator that cannot measure two given
            continuous variables (the KDE bounds, ``binning-range``), saying which can.
    """
    names = _names(estimator)
    am = _matrix("a", a)
    if discrete_b:
        bits, notes = _native.mi(am, None, _labels("b", b, am.shape[0]), names, settings, threads)
    else:
        bm = _matrix("b", b)
        if bm.shape[0] != am.shape[0]:
            raise ValueError(f"b: {bm.shape[0]} rows, but a has {am.shape[0]}")
        bits, notes = _native.mi(am, bm, None, names, settings, threads)
    _warn(notes)
    if isinstance(estimator, str):
        return float(bits[0])
    return {n: float(v) for n, v in zip(names, bits)}


def _catalog() -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(_native.catalog())
    return data


def estimators() -> Dict[str, Dict[str, Any]]:
    """Every estimator: ``{name: {"summary": ..., "params": [{"name", "help", "accepts"}]}}``."""
    return {
        e["name"]: {k: v for k, v in e.items() if k != "name"} for e in _catalog()["estimators"]
    }


def presets() -> Dict[str, Dict[str, Any]]:
    """Every preset with its defaults (network, optimiser, epochs, schedule, estimators)."""
    return {p["name"]: p for p in _catalog()["presets"]}


def schedule_epochs(schedule: str, epochs: int) -> Optional[List[int]]:
    """The epochs a schedule (``every:N``, ``log:S``, ``list:E,E,..``, ``saxe``,
    ``saxe-mnist``) measures in a run of ``epochs`` epochs, as ``run`` measures them; ``None``
    for delta skip (``delta-approx:δ``, ``delta-exact:δ``), which decides as it goes."""
    epochs_ = _native.schedule_epochs(schedule, int(epochs))
    return None if epochs_ is None else list(epochs_)


def _frame(columns: Sequence[Any], as_pandas: bool) -> Any:
    """Columns ``[(name, values)]`` as a DataFrame, or a dict of NumPy arrays."""
    data = {
        name: (np.asarray(v, dtype=object) if isinstance(v, list) else v) for name, v in columns
    }
    if as_pandas:
        import pandas as pd

        return pd.DataFrame({n: (list(v) if v.dtype == object else v) for n, v in data.items()})
    return data


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


class RunResult(NamedTuple):
    """What :func:`run` returns: the run's files as tables (pandas DataFrames, or dicts of
    NumPy arrays without pandas), with the CLI's column names and values to the bit."""

    plane: Any
    """``plane.csv``: run, epoch, layer, estimator, i_xt_bits, i_ty_bits."""
    metrics: Any
    """``metrics.csv``: run, epoch, train_loss, train_acc, test_loss, test_acc."""
    layers: Any
    """``layers.csv``: run, epoch, layer, width, weight_norm, dead_units, grad_snr."""
    summary: Any
    """``summary.csv``: each plane cell over the seeds (mean, sd, se, min, max)."""
    metrics_summary: Any
    """``metrics-summary.csv``."""
    layers_summary: Any
    """``layers-summary.csv``."""
    manifest: Dict[str, Any]
    """``manifest.json``: every setting, the seeds, the status, checksums."""
    out: Optional[str]
    """The run's directory when ``out`` was given (its figures are there too), else None."""

    def plot(self, estimator: Optional[str] = None, *, overlay: bool = False) -> "Figure":
        """The plane as ``run`` draws it in ``plane.svg``: :func:`plot_plane` of this run."""
        return plot_plane(self, estimator, overlay=overlay)


def run(
    preset: str = "tishby",
    *,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    progress: bool = False,
    pandas: Optional[bool] = None,
    simd: Optional[str] = None,
    **options: Any,
) -> RunResult:
    """A training run with its measurements: ``infoplane run --preset PRESET`` with
    ``options``, returning its tables.

    Every option of ``infoplane run`` is a keyword, ``--noise-var`` as ``noise_var``:
    ``epochs=2000``, ``seed=3``, ``repeats=20``, ``activation="relu"``,
    ``layers=[10, 7, 5, 4, 3]``, ``schedule="log:100"``, ``estimator=["binning", "kde-upper"]``,
    ``bins=30``, ``threads=2``, ``overlay=True``… (:func:`run_options` lists them). Each is
    checked as the CLI checks it, before anything runs.

    Args:
        preset: ``tishby``, ``saxe``, ``mnist``, … (:func:`presets`).
        out: a directory to keep the run in (the CLI's files and figures); without it the
            run is written to a temporary directory, read, and removed (no figures drawn).
        progress: print the CLI's progress on stderr.
        pandas: return DataFrames (default: when pandas is installed) or dicts of arrays.
        simd: the kernels' instruction-set level (``auto``, ``v3``, …); the bits do not
            depend on it.

    Returns:
        :class:`RunResult` with the plane, metrics, layer statistics, summaries and manifest.

    Ctrl-C (or a Jupyter interrupt) stops the run as a killed run stops: ``KeyboardInterrupt``
    says where it is staged, and ``run(resume=out)`` goes on from its last checkpoint, ending
    with the bytes of a run that never stopped.

    Raises:
        ValueError: an option the CLI refuses (named, with what it accepts), a run that
            diverges (the files written up to then stay in ``out``).
        TypeError: a keyword that is not an option.
        KeyboardInterrupt: the run was interrupted.
    """
    as_pandas = _has_pandas() if pandas is None else bool(pandas)
    opts: Dict[str, Any] = dict(options)
    resume = opts.get("resume")
    if resume is None:
        opts["preset"] = preset
    elif out is not None:
        raise ValueError("out: a resumed run goes on in its own directory (resume=…)")
    if not progress:
        opts["quiet"] = True

    def read(directory: str, keep: bool = True) -> RunResult:
        def table(name: str) -> Any:
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                return _frame([], as_pandas)
            return _frame(_native.read_csv(path), as_pandas)

        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        return RunResult(
            plane=table("plane.csv"),
            metrics=table("metrics.csv"),
            layers=table("layers.csv"),
            summary=table("summary.csv"),
            metrics_summary=table("metrics-summary.csv"),
            layers_summary=table("layers-summary.csv"),
            manifest=manifest,
            out=directory if keep else None,
        )

    if resume is not None:
        directory = os.fspath(resume)
        opts["resume"] = directory
        _native.run(opts, simd)
        return read(directory)
    if out is not None:
        opts["out"] = os.fspath(out)
        _native.run(opts, simd)
        return read(os.fspath(out))
    with tempfile.TemporaryDirectory(prefix="infoplane-") as tmp:
        directory = os.path.join(tmp, "run")
        opts["out"] = directory
        opts.setdefault("no_plots", True)
        try:
            _native.run(opts, simd)
        except KeyboardInterrupt:
            # The staged run goes with the temporary directory: nothing to resume.
            raise KeyboardInterrupt(
                "the run was interrupted (give out= to keep a run that can be resumed)"
            ) from None
        return read(directory, keep=False)


def run_options() -> List[str]:
    """The keyword options :func:`run` takes (those of ``infoplane run``)."""
    return list(_native.run_option_names())


class Figure:
    """An SVG figure: shown inline in Jupyter, written with :meth:`save`, its text with
    ``str()``."""

    def __init__(self, svg: str, name: str) -> None:
        self.svg = svg
        """The SVG text."""
        self.name = name
        """The file name the CLI gives it (``plane.svg``, ``layers-binning.svg``, …)."""

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<infoplane.Figure {self.name}: {len(self.svg)} bytes of SVG>"

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the SVG to ``path``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)


def _column(data: Any, name: str) -> Optional[np.ndarray]:
    if isinstance(data, Mapping):
        v = data.get(name)
    else:
        cols = getattr(data, "columns", None)
        v = data[name] if cols is not None and name in cols else None
    return None if v is None else np.asarray(v)


def _figures(
    data: Any, overlay: bool, caption: Optional[Sequence[str]], epochs: Optional[int]
) -> Dict[str, str]:
    last: Optional[int] = None
    if isinstance(data, RunResult):
        m = data.manifest
        plane = data.plane
        seeds = [int(s) for s in m.get("seeds", [])]
        if caption is None:
            caption = _native.run_caption(json.dumps(m), seeds)
        if epochs is None and "epochs" in m:
            last = max(int(m["epochs"]) - 1, 0)
    else:
        plane = data
    cols = {n: _column(plane, n) for n in PLANE_COLUMNS}
    missing = [n for n in PLANE_COLUMNS[1:] if cols[n] is None]
    if missing:
        raise ValueError(f"plane: no column {missing[0]!r} (expected {', '.join(PLANE_COLUMNS)})")
    n = len(cols["epoch"])  # type: ignore[arg-type]
    run_col = cols["run"] if cols["run"] is not None else np.zeros(n, dtype=np.int64)
    epoch = np.asarray(cols["epoch"], dtype=np.int64)
    if epochs is not None:
        last = int(epochs)
    if last is None:
        last = int(epoch.max()) if n else 0
    figs = _native.figures(
        [int(v) for v in run_col],
        [int(v) for v in epoch],
        [int(v) for v in cols["layer"]],  # type: ignore[union-attr]
        [str(v) for v in cols["estimator"]],  # type: ignore[union-attr]
        [float(v) for v in cols["i_xt_bits"]],  # type: ignore[union-attr]
        [float(v) for v in cols["i_ty_bits"]],  # type: ignore[union-attr]
        list(caption or []),
        last,
        overlay,
    )
    return dict(figs)


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def plot_plane(
    data: Any,
    estimator: Optional[str] = None,
    *,
    overlay: bool = False,
    caption: Optional[Sequence[str]] = None,
    epochs: Optional[int] = None,
) -> Figure:
    """The information plane as the CLI draws it (``plane.svg``): the mean over the runs,
    one line per measured epoch through the layers, coloured by epoch, ±1 sd bars.

    Args:
        data: a :class:`RunResult` (its figure equals the CLI's ``plane.svg`` byte for byte),
            or a DataFrame / dict with ``plane.csv``'s columns (``run`` optional).
        estimator: which estimator (default: the first).
        overlay: every estimator on one plane (``plane-overlay.svg``).
        caption: lines under the figure (default: a run's settings; none for a table).
        epochs: the last epoch of the colour bar (default: the run's, or the last measured).
    """
    figs = _figures(data, overlay, caption, epochs)
    if overlay:
        name = "plane-overlay.svg"
        if name not in figs:
            raise ValueError("overlay: needs at least two estimators with values")
    else:
        planes = [k for k in figs if k == "plane.svg" or (k.startswith("plane-") and k != "plane-overlay.svg")]
        if not planes:
            raise ValueError("plane: no finite values to draw")
        if estimator is None:
            name = "plane.svg"
        else:
            name = next((k for k in planes[1:] if k == f"plane-{_stem(estimator)}.svg"), "")
            if not name:
                first = _column(data.plane if isinstance(data, RunResult) else data, "estimator")
                if first is not None and len(first) and str(first[0]) == estimator:
                    name = "plane.svg"
                else:
                    raise ValueError(f"estimator: no values for {estimator!r}")
    return Figure(figs[name], name)


def plot_layers(
    data: Any,
    estimator: Optional[str] = None,
    *,
    caption: Optional[Sequence[str]] = None,
    epochs: Optional[int] = None,
) -> Figure:
    """I(X;T) and I(T;Y) of each layer against epoch, with ±1 sd bands (the CLI's
    ``layers-<estimator>.svg``). Arguments as for :func:`plot_plane`."""
    figs = _figures(data, False, caption, epochs)
    layers = [k for k in figs if k.startswith("layers-")]
    if not layers:
        raise ValueError("plane: no finite values to draw")
    if estimator is None:
        name = layers[0]
    else:
        name = f"layers-{_stem(estimator)}.svg"
        if name not in figs:
            raise ValueError(f"estimator: no values for {estimator!r}")
    return Figure(figs[name], name)
