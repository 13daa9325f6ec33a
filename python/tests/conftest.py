"""Shared fixtures: the `infoplane` binary the Python values are compared with, and Tishby's
12-bit data set exported by it."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> Path:
    env = os.environ.get("INFOPLANE_BIN")
    candidates = [Path(env)] if env else [ROOT / "target" / "release" / "infoplane"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise RuntimeError(
        "these tests compare with the infoplane binary: build it (cargo build --release -p "
        "infoplane-cli) or set INFOPLANE_BIN"
    )


@pytest.fixture(scope="session")
def cli():
    """Runs the CLI with the given arguments; returns its stdout (raises on failure)."""
    exe = _binary()

    def call(*args, check=True):
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"infoplane {' '.join(map(str, args))}: {p.stderr}")
        return p

    return call


@pytest.fixture(scope="session")
def tishby(cli, tmp_path_factory):
    """Tishby's 4096 12-bit patterns and labels, as the CLI generates them."""
    path = tmp_path_factory.mktemp("data") / "tishby.csv"
    cli("dataset", "tishby", "--out", path)
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    x = np.ascontiguousarray(data[:, :-1], dtype=np.float32)
    y = data[:, -1].astype(np.int64)
    return x, y


def tanh_layer(x, units, seed):
    """A tanh layer of random weights on x: activations spread over (-1, 1)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(scale=1.0, size=(x.shape[1], units)).astype(np.float32)
    return np.tanh(x @ w + rng.normal(scale=0.5, size=units).astype(np.float32)).astype(np.float32)
