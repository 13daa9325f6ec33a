"""Record a PyTorch model's information plane while it trains.

    import infoplane.torch

    rec = infoplane.torch.Recorder(model, x, y, layers=[model[1], model[3], model[5]],
                                   schedule="log:100", epochs=EPOCHS,
                                   estimator=["binning", "kde-upper"])
    for epoch in range(EPOCHS):
        rec.record(epoch)          # the network after `epoch` epochs, if the schedule says so
        train_one_epoch(model)
    plane = rec.plane()            # a DataFrame in plane.csv's columns
    infoplane.plot_plane(plane)

At a scheduled epoch the recorder runs ``x`` through the model under ``torch.no_grad()``
(in eval mode, then back), with forward hooks on the chosen layers that exist only for that
pass, so training itself runs without hooks. Each layer's output is copied once and handed
to a Rust thread that estimates it while training goes on; ``record`` waits only when
``max_pending`` layers are already queued. Epoch E means "after E epochs of training", as
in ``infoplane run`` (whose measured epochs are 0 … epochs − 1).

Torch is imported only by this module: ``import infoplane`` works without it.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
import torch

from . import PLANE_COLUMNS, InfoplaneWarning, _frame, _has_pandas, _labels, _matrix, _names
from . import _native, schedule_epochs

__all__ = ["Recorder"]

#: A clipping warning: `estimator: S% of the values: advice`.
_SHARE = re.compile(r"^([^:]+): ([0-9.]+)% of the values: (.*)$", re.S)


def _output_tensor(output: Any) -> torch.Tensor:
    """A module's output as one tensor (the first of a tuple or list)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"a recorded layer returned {type(output).__name__}, not a tensor")


class Recorder:
    """Captures chosen layers' activations at scheduled epochs and estimates their
    information plane on Rust threads.

    Args:
        model: the ``torch.nn.Module`` being trained.
        x: the measurement inputs (a tensor on the model's device, or an array), one row per
            sample: every scheduled epoch runs all of them through the model.
        y: their class labels (integers ≥ 0).
        layers: the modules whose outputs are the layers T, in order (layer 1 first), or
            their names in ``model.named_modules()``.
        schedule: when to measure: ``"every:N"``, ``"log:S"``, ``"list:E,E,.."``,
            ``"saxe"``, ``"saxe-mnist"`` (the CLI's schedules; ``log``, ``saxe`` and
            ``saxe-mnist`` need ``epochs``), a list of epochs, or ``"delta-approx:δ"``
            (delta skip: the stride doubles while the plane moves less than δ; the last
            epoch, ``epochs`` − 1, is always measured when ``epochs`` is given).
        epochs: the epochs the training will run.
        estimator: a name or a list of names (as :func:`infoplane.estimate`).
        inputs: the inputs X for I(X;T) (equal rows are one input) and for ``ksg``'s
            distances; default: ``x`` flattened after its first axis.
        run: the ``run`` column's value (a seed, say).
        threads: threads per estimate on the estimating thread (default 1, so training keeps
            the other cores); the bits do not depend on it.
        max_pending: layers queued before ``record`` waits for the estimator.
        batch_size: rows per forward pass when measuring (default: all at once).
        eval_mode: measure in ``model.eval()`` mode (dropout off, batch-norm statistics
            fixed), restoring the mode after.
        **settings: the estimators' settings (``bins``, ``range``, ``noise_var``, …).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        x: Any,
        y: Any,
        layers: Sequence[Union[torch.nn.Module, str]],
        *,
        schedule: Union[str, Sequence[int]] = "every:1",
        epochs: Optional[int] = None,
        estimator: Union[str, Sequence[str]] = "binning",
        inputs: Any = None,
        run: int = 0,
        threads: int = 1,
        max_pending: int = 16,
        batch_size: Optional[int] = None,
        eval_mode: bool = True,
        **settings: Any,
    ) -> None:
        if not layers:
            raise ValueError("layers: give at least one layer")
        named = dict(model.named_modules())
        mods: List[torch.nn.Module] = []
        for i, l in enumerate(layers):
            if isinstance(l, str):
                if l not in named:
                    raise ValueError(f"layers[{i}]: the model has no module named {l!r}")
                mods.append(named[l])
            elif isinstance(l, torch.nn.Module):
                mods.append(l)
            else:
                raise TypeError(f"layers[{i}]: expected a module or its name, not {type(l).__name__}")
        self.model = model
        self.layers = mods
        self.x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        n = int(self.x.shape[0])
        self._labels = _labels("y", y, n)
        self.estimators = _names(estimator)
        self.run = int(run)
        self.epochs = epochs
        self.batch_size = batch_size
        self.eval_mode = eval_mode
        x_in = _matrix("inputs", self.x if inputs is None else inputs)
        if x_in.shape[0] != n:
            raise ValueError(f"inputs: {x_in.shape[0]} rows for {n} rows of x")
        self._worker = _native.Worker(
            self._labels, x_in, self.estimators, settings, int(threads), int(max_pending)
        )
        self._rows: List[Tuple[int, int, List[Tuple[float, float]]]] = []
        self._notes: List[str] = []
        self._measured: List[int] = []
        # The schedule: a set of epochs, a period, or delta skip's state.
        self._fixed: Optional[Set[int]] = None
        self._every: Optional[int] = None
        self._delta: Optional[float] = None
        if isinstance(schedule, str):
            spec = schedule.strip()
            if spec.startswith("delta-exact"):
                raise ValueError(
                    "schedule: delta-exact measures epochs between ones already passed, from "
                    "weight snapshots; the recorder measures as training goes: use "
                    "delta-approx:δ here, or infoplane run --schedule delta-exact:δ"
                )
            if spec.startswith("delta-approx"):
                _native.schedule_epochs(spec, max(int(epochs or 1), 1))  # checks δ
                self._delta = float(spec.split(":", 1)[1])
            elif epochs is None:
                if spec.startswith("every:"):
                    _native.schedule_epochs(spec, 1)
                    self._every = int(spec.split(":", 1)[1])
                elif spec.startswith("list:"):
                    self._fixed = set(schedule_epochs(spec, 2**31) or [])
                else:
                    raise ValueError(f"schedule: {spec!r} needs epochs= (the length of training)")
            else:
                self._fixed = set(schedule_epochs(spec, int(epochs)) or [])
        else:
            eps = [int(e) for e in schedule]
            if any(e < 0 for e in eps):
                raise ValueError("schedule: epochs must be ≥ 0")
            self._fixed = set(eps)
        if self._every is not None and self._every < 1:
            raise ValueError("schedule: every:N needs N ≥ 1")
        self._anchor: Optional[int] = None
        self._stride = 1
        self._next = 0
        self._waiting: Optional[int] = None
        self._values: Dict[int, Dict[int, Tuple[float, float]]] = {}
        self._closed = False

    # --- the schedule ---

    def wants(self, epoch: int) -> bool:
        """Whether the schedule measures ``epoch`` (delta skip: as decided so far; it may
        wait for the previous measurement's estimates to decide)."""
        if self._fixed is not None:
            return epoch in self._fixed
        if self._every is not None:
            return epoch % self._every == 0
        self._decide(epoch)
        last = None if self.epochs is None else self.epochs - 1
        return self._waiting is None and (epoch == self._next or epoch == last)

    def _take(self, block: bool) -> None:
        for epoch, layer, bits, notes in self._worker.collect(block):
            self._rows.append((epoch, layer, [(float(a), float(b)) for a, b in bits]))
            self._notes.extend(notes)
            if self._delta is not None and bits:
                self._values.setdefault(epoch, {})[layer] = (float(bits[0][0]), float(bits[0][1]))

    def _decide(self, epoch: int) -> None:
        """Delta skip: once the last measured epoch b's values are in (waiting for them only
        when ``epoch`` is the earliest the next could be), the next epoch is b + stride, the
        stride doubled if b is within δ of the one before."""
        b = self._waiting
        if b is None:
            return
        self._take(block=False)
        last = None if self.epochs is None else self.epochs - 1
        if len(self._values.get(b, {})) < len(self.layers):
            if epoch < b + self._stride and epoch != last:
                return
            self._take(block=True)
        a = self._anchor
        if a is not None and self._delta is not None:
            h_x, h_y = self._worker.entropies()
            va = [v for _, v in sorted(self._values[a].items())]
            vb = [v for _, v in sorted(self._values[b].items())]
            if _native.delta_distance(va, vb, h_x, h_y) <= self._delta:
                self._stride *= 2
        self._anchor = b
        self._next = b + self._stride
        if self.epochs is not None:
            self._next = min(self._next, self.epochs - 1)
        self._waiting = None

    # --- measuring ---

    def record(self, epoch: int, *, force: bool = False) -> bool:
        """Measures the model as it is after ``epoch`` epochs if the schedule asks (or
        ``force``): captures every layer on ``x`` and queues the estimates. Returns whether
        it measured. Call it with 0 before training and after each epoch."""
        if self._closed:
            raise RuntimeError("the recorder is closed")
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError("epoch: must be ≥ 0")
        if self._measured and epoch <= self._measured[-1]:
            if epoch == self._measured[-1]:
                return False
            raise ValueError(f"epoch: {epoch} comes after {self._measured[-1]}, already measured")
        if not (force or self.wants(epoch)):
            return False
        acts = self.capture()
        for layer, t in enumerate(acts, start=1):
            self._worker.submit(epoch, layer, t)
        self._measured.append(epoch)
        if self._delta is not None:
            self._waiting = epoch
        self._take(block=False)
        return True

    def capture(self) -> List[np.ndarray]:
        """The chosen layers' outputs on ``x`` now, each as a (N, units) float32 array."""
        outs: List[List[torch.Tensor]] = [[] for _ in self.layers]

        def keep(i: int) -> Any:
            def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
                outs[i].append(_output_tensor(output).detach())

            return hook

        handles = [m.register_forward_hook(keep(i)) for i, m in enumerate(self.layers)]
        was_training = self.model.training
        try:
            if self.eval_mode:
                self.model.eval()
            with torch.no_grad():
                n = int(self.x.shape[0])
                step = n if not self.batch_size else int(self.batch_size)
                for start in range(0, n, step):
                    self.model(self.x[start : start + step])
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        arrays = []
        for i, parts in enumerate(outs):
            if not parts:
                raise RuntimeError(f"layer {i + 1} was not run by the model's forward pass")
            t = torch.cat(parts) if len(parts) > 1 else parts[0]
            arrays.append(_matrix(f"layer {i + 1}", t.float().cpu().reshape(t.shape[0], -1).numpy()))
        return arrays

    # --- results ---

    def plane(self, *, pandas: Optional[bool] = None) -> Any:
        """Every measured layer-epoch, in ``plane.csv``'s columns and row order (by epoch,
        layer, then estimator): a DataFrame, or a dict of arrays without pandas. Waits for
        the estimates still running; warns (:class:`infoplane.InfoplaneWarning`) once per
        kind of estimate that says less than it seems."""
        self._take(block=True)
        self._warn()
        rows = sorted(self._rows, key=lambda r: (r[0], r[1]))
        cols: Dict[str, List[Any]] = {c: [] for c in PLANE_COLUMNS}
        for epoch, layer, bits in rows:
            for name, (ix, iy) in zip(self.estimators, bits):
                cols["run"].append(self.run)
                cols["epoch"].append(epoch)
                cols["layer"].append(layer)
                cols["estimator"].append(name)
                cols["i_xt_bits"].append(ix)
                cols["i_ty_bits"].append(iy)
        as_pandas = _has_pandas() if pandas is None else bool(pandas)
        columns = [
            ("run", np.asarray(cols["run"], dtype=np.int64)),
            ("epoch", np.asarray(cols["epoch"], dtype=np.int64)),
            ("layer", np.asarray(cols["layer"], dtype=np.int64)),
            ("estimator", cols["estimator"]),
            ("i_xt_bits", np.asarray(cols["i_xt_bits"], dtype=np.float64)),
            ("i_ty_bits", np.asarray(cols["i_ty_bits"], dtype=np.float64)),
        ]
        return _frame(columns, as_pandas)

    def _warn(self) -> None:
        """One warning per estimator and kind, with how many layer-epochs it concerns (and
        for clipping, the largest share of values clipped)."""
        seen: Dict[str, Tuple[int, float]] = {}
        for n in self._notes:
            text = n.split(": ", 1)[1] if n.startswith("epoch ") else n
            share = 0.0
            m = _SHARE.match(text)
            if m:
                share = float(m.group(2))
                text = f"{m.group(1)}: {m.group(3)}"
            count, worst = seen.get(text, (0, 0.0))
            seen[text] = (count + 1, max(worst, share))
        self._notes.clear()
        for text, (count, worst) in seen.items():
            most = f", up to {worst:.2f}% of a layer's values" if worst > 0 else ""
            warnings.warn(
                f"{text} (at {count} layer-epochs{most})", InfoplaneWarning, stacklevel=3
            )

    @property
    def measured(self) -> List[int]:
        """The epochs measured so far."""
        return list(self._measured)

    def pending(self) -> int:
        """Layers captured and not yet estimated."""
        return int(self._worker.pending())

    def close(self) -> None:
        """Stops the estimating thread (estimates not collected by :meth:`plane` are lost)."""
        if not self._closed:
            self._closed = True
            self._worker.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
