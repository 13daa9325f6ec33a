"""infoplane.estimate and infoplane.mi: the CLI's bits on the same arrays, and errors that
name the argument."""

import csv
import io
import warnings

import numpy as np
import pytest

import infoplane
from conftest import tanh_layer

ALL = ["binning", "binning-range", "binning-size", "binning-equal-mass", "kde-upper", "kde-lower", "ksg"]


def cli_rows(text):
    """`estimator -> (i_xt, i_ty)` from `estimate --bits` output, through the hex bits."""
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        out[r["estimator"]] = tuple(
            float.fromhex(bits_to_hex(r[k])) for k in ("i_xt_hex", "i_ty_hex")
        )
    return out


def bits_to_hex(h):
    """f64 bits (16 hex digits) as float.fromhex text."""
    return float(np.frombuffer(bytes.fromhex(h)[::-1], dtype=np.float64)[0]).hex()


@pytest.fixture(scope="module")
def layer(tishby, tmp_path_factory):
    x, y = tishby
    t = tanh_layer(x, 5, seed=1)
    d = tmp_path_factory.mktemp("layer")
    np.save(d / "t.npy", t)
    np.save(d / "y.npy", y)
    np.save(d / "x.npy", x)
    return t, x, y, d


@pytest.mark.parametrize(
    "settings,flags",
    [
        ({}, []),
        ({"bins": 12, "noise_var": 0.05, "k": 5}, ["--bins", "12", "--noise-var", "0.05", "--k", "5"]),
        ({"range": (-0.5, 0.5), "bin_size": 0.2, "miller_madow": True},
         ["--range=-0.5,0.5", "--bin-size", "0.2", "--miller-madow"]),
    ],
)
def test_every_estimator_equals_the_cli_to_the_bit(layer, cli, settings, flags):
    t, x, y, d = layer
    args = ["estimate", "--activations", d / "t.npy", "--labels", d / "y.npy", "--inputs", d / "x.npy", "--bits"]
    for e in ALL:
        args += ["--estimator", e]
    want = cli_rows(cli(*args, *flags).stdout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", infoplane.InfoplaneWarning)
        got = infoplane.estimate(t, y, x, estimator=ALL, **settings)
    assert set(got) == set(ALL)
    for e in ALL:
        assert got[e] == want[e], e  # exact: the same f64 bits


@pytest.mark.filterwarnings("ignore::infoplane.InfoplaneWarning")
def test_bits_do_not_depend_on_threads_or_layout(layer):
    t, x, y, _ = layer
    names = ["binning", "kde-upper", "ksg", "binning-equal-mass"]
    one = infoplane.estimate(t, y, x, estimator=names, threads=1)
    for threads in (2, 3, 8):
        assert infoplane.estimate(t, y, x, estimator=names, threads=threads) == one
    # float64, Fortran order, a strided view and a list give the same bits as float32.
    assert infoplane.estimate(t.astype(np.float64), y, x, estimator=names) == one
    assert infoplane.estimate(np.asfortranarray(t), y, np.asfortranarray(x), estimator=names) == one
    wide = np.zeros((t.shape[0], 2 * t.shape[1]), dtype=np.float32)
    wide[:, ::2] = t
    assert infoplane.estimate(wide[:, ::2], y, x, estimator=names) == one
    assert infoplane.estimate(t, y.tolist(), x, estimator=names) == one
    assert infoplane.estimate(t, y.astype(np.float64), x, estimator=names) == one


def test_c_contiguous_float32_is_read_in_place():
    t = np.ones((10, 3), dtype=np.float32)
    assert infoplane._matrix("t", t) is t
    assert infoplane._matrix("t", t.astype(np.float64)) is not t


def test_closed_forms():
    # T a copy of a balanced label over 2^k distinct inputs: I(X;T) = H(T) = 1 bit and
    # I(T;Y) = 1 bit for every binning; constant T: 0 and 0.
    n = 1024
    y = np.arange(n) % 2
    t = np.where(y == 1, 0.5, -0.5).astype(np.float32)[:, None]
    for e in ["binning", "binning-range", "binning-size", "binning-equal-mass"]:
        p = infoplane.estimate(t, y, estimator=e)
        assert p == infoplane.Point(1.0, 1.0), e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", infoplane.InfoplaneWarning)
        c = infoplane.estimate(np.zeros((n, 3), np.float32), y, estimator="binning")
    assert c == infoplane.Point(0.0, 0.0)
    # mi: two uniform 4-level variables, B = A: 2 bits; B independent of A: 0 bits.
    a = np.repeat(np.arange(4, dtype=np.float32) * 0.3 - 0.45, 256)[:, None]
    b_ind = np.tile(np.arange(4, dtype=np.float32) * 0.3 - 0.45, 256)[:, None]
    assert infoplane.mi(a, a, estimator="binning") == 2.0
    assert infoplane.mi(a, b_ind, estimator="binning") == 0.0
    assert infoplane.mi(a, np.repeat(np.arange(4), 256), estimator="binning", discrete_b=True) == 2.0


def test_ksg_on_a_gaussian_pair_is_near_the_closed_form():
    rng = np.random.default_rng(7)
    rho = 0.8
    z = rng.normal(size=(20000, 2))
    a = z[:, :1]
    b = rho * z[:, :1] + np.sqrt(1 - rho**2) * z[:, 1:]
    truth = -0.5 * np.log2(1 - rho**2)
    assert abs(infoplane.mi(a, b, estimator="ksg") - truth) < 0.03


def test_mi_equals_the_cli(tmp_path, cli):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2000, 3)).astype(np.float32)
    b = (a[:, :2] + 0.5 * rng.normal(size=(2000, 2))).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    names = ["ksg", "binning", "binning-size", "binning-equal-mass"]
    args = ["mi", "--x", tmp_path / "a.npy", "--y", tmp_path / "b.npy", "--bits", "--range=-4,4"]
    for e in names:
        args += ["--estimator", e]
    want = {r["estimator"]: float.fromhex(bits_to_hex(r["mi_hex"])) for r in csv.DictReader(io.StringIO(cli(*args).stdout))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", infoplane.InfoplaneWarning)
        got = infoplane.mi(a, b, estimator=names, range=(-4, 4))
    assert got == want
    y = (a[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "y.npy", y)
    out = cli("mi", "--x", tmp_path / "a.npy", "--y", tmp_path / "y.npy", "--discrete-y", "--bits",
              "--estimator", "binning", "--estimator", "ksg").stdout
    want = {r["estimator"]: float.fromhex(bits_to_hex(r["mi_hex"])) for r in csv.DictReader(io.StringIO(out))}
    assert infoplane.mi(a, y, estimator=["binning", "ksg"], discrete_b=True) == want


def test_warnings_say_what_the_cli_says():
    x = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    y = np.arange(500) % 3
    with pytest.warns(infoplane.InfoplaneWarning, match=r"ceiling H\(X\) = 8\.9658 bits.*fewer bins"):
        infoplane.estimate(x, y, estimator="binning-size", bin_size=1e-6)
    with pytest.warns(infoplane.InfoplaneWarning, match=r"% of the values: activations outside range -0\.25,0\.25"):
        infoplane.estimate(x, y, estimator="binning", bins=2, range=(-0.25, 0.25))


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda t, y: infoplane.estimate(t[:, :, None][:0], y), ValueError, r"t: empty"),
        (lambda t, y: infoplane.estimate(t, y[:-1]), ValueError, r"labels: 99 labels for 100 rows"),
        (lambda t, y: infoplane.estimate(t, y.reshape(10, 10)), ValueError, r"labels: labels need shape \(N,\) or \(N, 1\)"),
        (lambda t, y: infoplane.estimate(t, y + 0.5), ValueError, r"labels\[0\] = 0\.5 is not a non-negative integer"),
        (lambda t, y: infoplane.estimate(t, y - 1), ValueError, r"labels\[0\] = -1 is not a non-negative integer"),
        (lambda t, y: infoplane.estimate(t, y.astype(str)), ValueError, r"labels: labels must be integers"),
        (lambda t, y: infoplane.estimate(t.astype(str), y), ValueError, r"t: expected numbers"),
        (lambda t, y: infoplane.estimate(t, y, estimator="bining"), ValueError, r"estimator=\"bining\" is not accepted: expected one of binning"),
        (lambda t, y: infoplane.estimate(t, y, bins=0), ValueError, r"binning: bins=0 is not accepted: expected"),
        (lambda t, y: infoplane.estimate(t, y, bins=-3), ValueError, r"bins=-3 is not accepted"),
        (lambda t, y: infoplane.estimate(t, y, range=(1, -1)), ValueError, r"binning: range=\(1, -1\) is not accepted"),
        (lambda t, y: infoplane.estimate(t, y, estimator="kde-upper", noise_var=-1.0), ValueError, r"noise_var=-1\.0 is not accepted"),
        (lambda t, y: infoplane.estimate(t, y, bins="many"), ValueError, r"bins='many' is not accepted"),
        (lambda t, y: infoplane.estimate(t, y, binz=3), TypeError, r"unexpected keyword argument \"binz\""),
        (lambda t, y: infoplane.estimate(t, y, estimator="ksg"), ValueError, r"inputs: ksg measures I\(X;T\) from the inputs"),
        (lambda t, y: infoplane.estimate(t[:50], y[:50], t[:50], estimator="ksg", k=60), ValueError, r"k: k = 60 needs more than 60 samples; t has 50"),
        (lambda t, y: infoplane.estimate(t, y, t, estimator="ksg", k=100), ValueError, r"ksg: k=100 is not accepted: expected an integer from 1 to 64"),
        (lambda t, y: infoplane.estimate(t, y, t[:50]), ValueError, r"inputs: 50 rows for 100 rows of t"),
        (lambda t, y: infoplane.mi(t, t, estimator="kde-upper"), ValueError, r"estimator: kde-upper bounds I\(T; T \+ noise\)"),
        (lambda t, y: infoplane.mi(t, t[:10]), ValueError, r"b: 10 rows, but a has 100"),
        (lambda t, y: infoplane.estimate(t, y, threads=5000), ValueError, r"threads: 5000 is more than 1024"),
    ],
)
def test_bad_arguments_raise_naming_them(call, error, match):
    t = np.random.default_rng(1).normal(size=(100, 4)).astype(np.float32)
    y = np.arange(100) % 2
    with pytest.raises(error, match=match):
        call(t, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_located(bad):
    t = np.zeros((100, 4), dtype=np.float32)
    t[37, 2] = bad
    y = np.arange(100) % 2
    with pytest.raises(ValueError, match=r"^t: row 37, column 2 is not finite"):
        infoplane.estimate(t, y)
    with pytest.raises(ValueError, match=r"^inputs: row 37, column 2 is not finite"):
        infoplane.estimate(np.zeros((100, 4), np.float32), y, t)
    with pytest.raises(ValueError, match=r"^b: row 37, column 2 is not finite"):
        infoplane.mi(np.zeros((100, 4), np.float32), t, estimator="binning")


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.filterwarnings("ignore::infoplane.InfoplaneWarning")
def test_no_leak_over_ten_thousand_calls():
    rng = np.random.default_rng(2)
    t = rng.normal(size=(256, 6)).astype(np.float32)
    x = rng.integers(0, 4, size=(256, 3)).astype(np.float32)
    y = np.arange(256) % 2
    bad = t.copy()
    bad[5, 5] = np.nan

    def batch(n):
        for _ in range(n):
            infoplane.estimate(t, y, x, estimator=["binning", "kde-upper", "ksg"], threads=1)
            try:
                infoplane.estimate(bad, y)
            except ValueError:
                pass

    batch(500)  # warm up allocators and caches
    before = _rss_kb()
    batch(5000)  # 10 000 calls, half of them failing
    grown = _rss_kb() - before
    # One leaked copy of t per call would be 10 000 × 6 KB = 60 MB.
    assert grown < 8_000, f"resident memory grew by {grown} kB over 10 000 calls"


def test_catalogue_lists_every_estimator_with_its_settings():
    est = infoplane.estimators()
    assert set(ALL) <= set(est)
    params = {p["name"] for p in est["ksg"]["params"]}
    assert params == {"k", "standardize"}
    assert "tishby" in infoplane.presets()
    assert infoplane.schedule_epochs("every:25", 100) == [0, 25, 50, 75]
    assert infoplane.schedule_epochs("delta-approx:0.1", 100) is None
    with pytest.raises(ValueError, match=r"schedule=\"every:x\" is not accepted"):
        infoplane.schedule_epochs("every:x", 100)
