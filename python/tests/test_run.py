"""infoplane.run: the CLI's run, its files and figures, as tables."""

import json
import math

import numpy as np
import pytest

import infoplane

OPTS = dict(epochs=300, schedule="every:60", estimator=["binning", "kde-upper"], seed=4)
FLAGS = ["--preset", "tishby", "--epochs", "300", "--schedule", "every:60",
         "--estimator", "binning", "--estimator", "kde-upper", "--seed", "4"]


@pytest.fixture(scope="module")
def both(cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    cli("run", *FLAGS, "--out", d / "cli", "--quiet")
    r = infoplane.run("tishby", out=d / "py", **OPTS)
    return d, r


def test_files_are_the_clis_byte_for_byte(both):
    d, r = both
    for name in ["plane.csv", "metrics.csv", "layers.csv", "summary.csv", "plane.svg", "layers-binning.svg"]:
        assert (d / "py" / name).read_bytes() == (d / "cli" / name).read_bytes(), name
    assert r.out == str(d / "py")
    assert r.manifest["status"] == "complete"


def test_tables_hold_the_clis_numbers(both):
    d, r = both
    lines = (d / "cli" / "plane.csv").read_text().splitlines()
    assert lines[0] == ",".join(infoplane.PLANE_COLUMNS)
    assert list(r.plane.columns) == list(infoplane.PLANE_COLUMNS)
    assert len(r.plane) == len(lines) - 1 == 5 * 6 * 2
    for i, line in enumerate(lines[1:]):
        run, epoch, layer, est, ix, iy = line.split(",")
        row = r.plane.iloc[i]
        assert (row.run, row.epoch, row.layer, row.estimator) == (int(run), int(epoch), int(layer), est)
        assert row.i_xt_bits == float(ix) and row.i_ty_bits == float(iy)  # Python's own parser
    m = (d / "cli" / "metrics.csv").read_text().splitlines()
    assert len(r.metrics) == len(m) - 1
    assert r.metrics["train_loss"].tolist() == [float(l.split(",")[2]) for l in m[1:]]
    # An empty cell (grad_snr before any training) is NaN.
    assert math.isnan(r.layers["grad_snr"].iloc[0])


def test_the_figure_is_the_clis(both):
    d, r = both
    assert r.plot().svg == (d / "cli" / "plane.svg").read_text()
    assert infoplane.plot_plane(r, "kde-upper").svg == (d / "cli" / "plane-kde-upper.svg").read_text()
    assert infoplane.plot_layers(r, "binning").svg == (d / "cli" / "layers-binning.svg").read_text()
    # From a bare table: the same plane, without the run's caption.
    f = infoplane.plot_plane(r.plane)
    assert f.name == "plane.svg" and f.svg.startswith("<svg") and f._repr_svg_() == f.svg
    assert "tishby" not in f.svg and "tishby" in r.plot().svg


def test_without_out_nothing_is_kept_and_the_numbers_are_the_same(both):
    _, r = both
    t = infoplane.run("tishby", **OPTS)
    assert t.out is None
    assert t.plane.equals(r.plane) and t.metrics.equals(r.metrics)
    plain = infoplane.run("tishby", pandas=False, **OPTS)
    assert isinstance(plain.plane, dict)
    assert plain.plane["i_xt_bits"].dtype == np.float64
    assert plain.plane["epoch"].dtype == np.int64
    np.testing.assert_array_equal(plain.plane["i_xt_bits"], r.plane["i_xt_bits"].to_numpy())


def test_repeats_and_threads(cli, tmp_path):
    cli("run", "--preset", "tishby", "--epochs", "100", "--schedule", "every:50", "--repeats", "3",
        "--threads", "1", "--out", tmp_path / "cli", "--quiet")
    r = infoplane.run("tishby", epochs=100, schedule="every:50", repeats=3, threads=2)
    assert sorted(set(r.plane["run"])) == [0, 1, 2]
    text = (tmp_path / "cli" / "summary.csv").read_text().splitlines()
    assert len(r.summary) == len(text) - 1
    assert r.summary["i_xt_mean"].tolist() == [float(l.split(",")[4]) for l in text[1:]]


@pytest.mark.parametrize(
    "opts,error,match",
    [
        ({"schedule": "every:x"}, ValueError, r"^schedule: .*every:x"),
        ({"epochs": 0}, ValueError, r"^epochs: "),
        ({"epochs": "many"}, ValueError, r"^epochs: "),
        ({"activation": "sigmoidal"}, ValueError, r"^activation: "),
        ({"lr": -1.0}, ValueError, r"^lr: "),
        ({"estimator": "nope"}, ValueError, r"^estimator: "),
        ({"bins": 0}, ValueError, r"^bins: "),
        ({"epoch": 10}, TypeError, r"unexpected keyword argument \"epoch\""),
        ({"overlay": "yes"}, ValueError, r"overlay: expected True or False"),
    ],
)
def test_bad_options_name_the_keyword(opts, error, match):
    with pytest.raises(error, match=match):
        infoplane.run("tishby", **opts)


def test_an_existing_run_is_not_overwritten(both):
    d, _ = both
    before = (d / "py" / "plane.csv").read_bytes()
    with pytest.raises(ValueError, match="force"):
        infoplane.run("tishby", out=d / "py", epochs=50)
    assert (d / "py" / "plane.csv").read_bytes() == before
    assert json.loads((d / "py" / "manifest.json").read_text())["status"] == "complete"


def test_ctrl_c_stops_the_run_and_resume_ends_it_as_if_it_never_stopped(cli, tmp_path):
    import os
    import signal
    import threading
    import time

    opts = dict(epochs=12000, schedule="every:500", estimator="binning", checkpoint_every=0)
    out = tmp_path / "stopped"
    # Python's own Ctrl-C handler, even where the shell started this process with SIGINT
    # ignored (a background job).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        t0 = time.perf_counter()
        with pytest.raises(KeyboardInterrupt, match=r"interrupted.*resume"):
            infoplane.run("tishby", out=out, **opts)
        stopped_after = time.perf_counter() - t0
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped_after < 10, stopped_after
    assert not (out / "plane.csv").exists() and (out / ".infoplane-run").is_dir()
    r = infoplane.run(resume=out)
    cli("run", "--preset", "tishby", "--epochs", "12000", "--schedule", "every:500",
        "--estimator", "binning", "--out", tmp_path / "whole", "--quiet")
    assert (out / "plane.csv").read_bytes() == (tmp_path / "whole" / "plane.csv").read_bytes()
    assert len(r.plane) == 24 * 6
    assert r.manifest["status"] == "complete" and r.out == str(out)
