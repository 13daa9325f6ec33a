#!/usr/bin/env python3
"""infoplane.estimate from Python against the reference Python implementations, same arrays.

Every comparison runs in one Python process on arrays already in memory, so the times are of
the estimators alone (no files, no start-up). The data is one Tishby-like layer:

  * X: the 4096 distinct 12-bit patterns (np.unpackbits of 0..4095, most significant bit
    first), float32 values 0/1;
  * T = tanh(X @ W + b), 4096 x 10, with W ~ N(0, 1) of shape (12, 10) and b ~ N(0, 1) of
    shape (10,), drawn from np.random.default_rng(SEED), computed in float64 and rounded
    to float32. With these weights the layer is nearly injective (every estimate of I(X;T)
    is within 0.01 bit of its ceiling H(X) = 12 bits); --w-scale S draws W ~ N(0, S^2)
    instead, for a layer whose rows crowd together (S = 0.1: the KDE kernels overlap and
    prune less);
  * y = X[:, 0] xor X[:, 5] xor X[:, 11]: the parity of bits 11, 6 and 0 (counting from the
    least significant), a balanced binary label that no single bit predicts;
  * for KSG, a continuous partner of T: Z = T[:, :3] + 0.3 * noise, 4096 x 3, noise ~ N(0, 1)
    from the same generator, float32.

The comparisons (values in bits; infoplane at threads=1 and threads=2):

  a. KDE upper bound, noise variance 1e-3. infoplane ``estimate(t, y, estimator="kde-upper")``
     against numpy written as Saxe et al.'s ibsgd computes it (kdenp.py / kde.py): pairwise
     squared distances by ||a||^2 + ||b||^2 - 2ab, ``lprobs = logsumexp(-D/(2 var), axis=1) -
     ln N - (d/2) ln(2 pi var)``, ``H_upper(T) = d/2 - mean(lprobs)``; ``H(T|X) = (d/2)(ln(2 pi
     var) + 1)``, the entropy of the added Gaussian noise; ``I(X;T) = H_upper(T) - H(T|X)``;
     ``I(T;Y) = H_upper(T) - sum_y p(y) H_upper(T | y)``, each class's estimate over its own
     rows, as ibsgd's notebooks form it. Two numpy variants: float64 (the reference value,
     exact enough to check infoplane to ~1e-6 bits) and float32 (the dtype ibsgd's Keras
     code runs in; its Gram-form distances cancel where the kernel matters and its value is
     shown, not checked).
  b. Fixed binning, 30 edges linspace(-1, 1, 30) (29 intervals), edges rounded to float32 as
     infoplane stores them. infoplane ``estimate(t, y, estimator="binning")`` against numpy
     as IDNNs (Shwartz-Ziv & Tishby) computes it: np.digitize, the entropy of the distinct
     rows of bins (np.unique(axis=0, return_counts=True)), I(X;T) = H(T) (every input is
     distinct, so H(T|X) = 0) and I(T;Y) = H(T) - sum_y p(y) H(T | y). Two rows:
       - ``binning`` (default) against digitize with the counts clipped to 1..29 (values
         outside [-1, 1], and tanh values that round to exactly 1.0, go to the end bins);
       - ``binning`` with ``idnns_compat=True`` against IDNNs' literal
         ``bins[np.digitize(v, bins) - 1]`` (v >= 1.0 gets a cell of its own).
  c. KSG (Kraskov et al., algorithm 1, k = 3, max-norm): ``infoplane.mi(t, z,
     estimator="ksg", standardize=False)`` against NPEET's ``mi(t, z, k=3, base=2)``. NPEET
     adds uniform noise of amplitude 1e-10 to both variables on every call (add_noise); it is
     timed as shipped (np.random seeded 0 before each call), and its value is also computed
     once with add_noise replaced by the identity, which is the same algorithm on the same
     numbers. scikit-learn's mutual_info_regression is left out: it takes a 1-D target,
     standardises and adds its own noise, so it does not compute I(T;Z) for a 3-D Z.

Every time is the median of --repeats calls after one warm-up call (time.perf_counter).
The ratio is peer time / infoplane time. numpy's matrix product uses OpenBLAS's threads
(the BLAS thread count is printed); NPEET (scikit-learn's KDTree) is single-threaded.

Setup and run:
    python3 -m venv /tmp/ksgenv
    /tmp/ksgenv/bin/pip install numpy scipy scikit-learn ./python
    # put gregversteeg/NPEET's npeet/entropy_estimators.py at /tmp/npeet_ee.py
    /tmp/ksgenv/bin/python benches/compare/python_estimate.py [--repeats 7] [--seed 0]
"""
import argparse
import importlib.util
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy
from scipy.special import logsumexp

import infoplane

LN2 = math.log(2.0)
N_BITS = 12
UNITS = 10
NOISE_VAR = 1e-3
BINS = 30
K = 3


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------


def make_data(seed, w_scale=1.0):
    """X (4096 x 12, 0/1 float32), T (4096 x 10 float32), y (4096 uint8), Z (4096 x 3 f32)."""
    codes = np.arange(2**N_BITS, dtype=">u2").view(np.uint8).reshape(-1, 2)
    x = np.unpackbits(codes, axis=1)[:, 16 - N_BITS:].astype(np.float32)
    rng = np.random.default_rng(seed)
    w = w_scale * rng.standard_normal((N_BITS, UNITS))
    b = rng.standard_normal(UNITS)
    t = np.tanh(x.astype(np.float64) @ w + b).astype(np.float32)
    y = (x[:, 0].astype(np.uint8) ^ x[:, 5].astype(np.uint8) ^ x[:, 11].astype(np.uint8))
    z = (t[:, :3].astype(np.float64) + 0.3 * rng.standard_normal((len(t), 3))).astype(np.float32)
    return x, t, y, z


# ----------------------------------------------------------------------------------------
# Peers
# ----------------------------------------------------------------------------------------


def kde_upper_entropy(x, var):
    """ibsgd's entropy_estimator_kl (kdenp.py), in nats, in the dtype of x."""
    n, dims = x.shape
    x2 = np.expand_dims(np.sum(np.square(x), axis=1), 1)
    dists = x2 + x2.T - 2 * np.dot(x, x.T)
    dists2 = dists / x.dtype.type(2 * var)
    normconst = (dims / 2.0) * np.log(2 * np.pi * var)
    lprobs = logsumexp(-dists2, axis=1) - np.log(n) - normconst
    h = -np.mean(lprobs)
    return dims / 2 + float(h)


def kde_condentropy(dims, var):
    """Entropy of the added noise N(0, var I) in nats: H(T|X) for distinct inputs."""
    return (dims / 2.0) * (np.log(2 * np.pi * var) + 1)


def kde_upper_numpy(t, y, var, dtype):
    """(I(X;T), I(T;Y)) in bits by the KDE upper bound, as ibsgd forms them."""
    tt = t.astype(dtype)
    h = kde_upper_entropy(tt, var)
    h_given_x = kde_condentropy(tt.shape[1], var)
    h_given_y = 0.0
    for c in np.unique(y):
        rows = y == c
        h_given_y += rows.mean() * kde_upper_entropy(tt[rows], var)
    return (h - h_given_x) / LN2, (h - h_given_y) / LN2


def bin_entropy(symbols):
    """Entropy in bits of the distinct rows of an integer matrix (IDNNs' H(T))."""
    _, counts = np.unique(symbols, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log2(p)))


def binning_numpy(t, y, edges, idnns):
    """(I(X;T), I(T;Y)) in bits by fixed bins, distinct inputs (H(T|X) = 0)."""
    idx = np.digitize(t, edges)
    if idnns:
        # bins[np.digitize(v, bins) - 1]: the left edge of v's interval; index -1 (v below
        # the first edge) wraps to the last edge, where v >= the last edge also lands.
        symbols = edges[idx - 1]
    else:
        symbols = np.clip(idx, 1, len(edges) - 1) - 1
    h = bin_entropy(symbols)
    h_given_y = 0.0
    for c in np.unique(y):
        rows = y == c
        h_given_y += rows.mean() * bin_entropy(symbols[rows])
    return h, h - h_given_y


def load_npeet(path):
    spec = importlib.util.spec_from_file_location("npeet_ee", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def npeet_mi(npeet, a, b):
    """NPEET's mi as shipped (its 1e-10 noise drawn from np.random, seeded 0)."""
    np.random.seed(0)
    return float(npeet.mi(a, b, k=K, base=2))


def npeet_mi_noiseless(npeet, a, b):
    """NPEET's mi with add_noise replaced by the identity."""
    saved = npeet.add_noise
    npeet.add_noise = lambda x, intens=0.0: x
    try:
        return float(npeet.mi(a, b, k=K, base=2))
    finally:
        npeet.add_noise = saved


# ----------------------------------------------------------------------------------------
# Timing and report
# ----------------------------------------------------------------------------------------


def timed(fn, repeats):
    """(median seconds over `repeats` calls after one warm-up, the last call's value)."""
    value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def as_pair(v):
    return (float(v[0]), float(v[1])) if isinstance(v, tuple) else (float(v), None)


def machine():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("Model name")), "?")
    except (OSError, subprocess.CalledProcessError):
        model = platform.processor() or "?"
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    return model, nproc


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "?"
    info = [f"{p['prefix']} {p['num_threads']}" for p in threadpool_info()
            if p.get("user_api") == "blas"]
    return ", ".join(info) or "?"


def fmt_ms(s):
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.3f} s"


def fmt_bits(v):
    return "—" if v is None else f"{v:.9f}"


def fmt_diff(a, b):
    return "—" if a is None or b is None else f"{a - b:+.2e}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per tool (>= 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of W, b and Z's noise")
    parser.add_argument("--w-scale", type=float, default=1.0,
                        help="standard deviation of W's entries (default 1)")
    parser.add_argument("--npeet", default="/tmp/npeet_ee.py",
                        help="copy of NPEET's npeet/entropy_estimators.py")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=infoplane.InfoplaneWarning)

    x, t, y, z = make_data(args.seed, args.w_scale)
    npeet = load_npeet(args.npeet)
    edges = np.linspace(-1.0, 1.0, BINS).astype(np.float32)

    model, nproc = machine()
    print(f"command: {shlex.join([sys.executable] + sys.argv)}")
    print(f"machine: {model}, nproc {nproc}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, infoplane {infoplane.__version__}, BLAS threads: "
          f"{blas_threads()}")
    saturated = np.mean(np.abs(t) == 1.0)
    print(f"data: X {x.shape} 12-bit patterns, T = tanh(XW + b) {t.shape} float32 (seed "
          f"{args.seed}, W ~ N(0, {args.w_scale:g}^2); {saturated:.2%} of values exactly "
          f"+-1.0), y = parity of 3 bits (p(1) = {y.mean():.3f}), Z {z.shape}; median of "
          f"{args.repeats} calls after a warm-up\n")

    # name, infoplane call (threads -> value), peers [(label, call)], tolerance, quantities
    cases = [
        ("KDE upper, var 1e-3",
         lambda th: infoplane.estimate(t, y, estimator="kde-upper", noise_var=NOISE_VAR,
                                       threads=th),
         [("numpy float64 (ibsgd)", lambda: kde_upper_numpy(t, y, NOISE_VAR, np.float64)),
          ("numpy float32 (ibsgd dtype)", lambda: kde_upper_numpy(t, y, NOISE_VAR,
                                                                  np.float32))],
         1e-6, ("I(X;T)", "I(T;Y)")),
        ("binning 30 edges [-1,1]",
         lambda th: infoplane.estimate(t, y, estimator="binning", bins=BINS,
                                       range=(-1.0, 1.0), threads=th),
         [("numpy digitize (clipped)", lambda: binning_numpy(t, y, edges, idnns=False))],
         1e-12, ("I(X;T)", "I(T;Y)")),
        ("binning, idnns_compat",
         lambda th: infoplane.estimate(t, y, estimator="binning", bins=BINS,
                                       range=(-1.0, 1.0), idnns_compat=True, threads=th),
         [("numpy IDNNs bins[digitize-1]", lambda: binning_numpy(t, y, edges, idnns=True))],
         1e-12, ("I(X;T)", "I(T;Y)")),
        ("KSG k=3, I(T;Z)",
         lambda th: infoplane.mi(t, z, estimator="ksg", k=K, standardize=False, threads=th),
         [("NPEET mi (1e-10 noise)", lambda: npeet_mi(npeet, t, z))],
         1e-9, ("I(T;Z)",)),
    ]

    time_rows, value_rows = [], []
    for name, ip_call, peers, tol, quantities in cases:
        t1, v1 = timed(lambda: ip_call(1), args.repeats)
        t2, v2 = timed(lambda: ip_call(2), args.repeats)
        v1, v2 = as_pair(v1), as_pair(v2)
        same = "yes" if v1 == v2 else f"NO ({v1} vs {v2})"
        for label, peer_call in peers:
            tp, vp = timed(peer_call, args.repeats)
            vp = as_pair(vp)
            time_rows.append((name, label, t1, t2, tp, same))
            for q, a, b in zip(quantities, v1, vp):
                checked = "float32" not in label and "noise" not in label
                ok = abs(a - b) <= tol if checked else None
                verdict = "—" if ok is None else ("yes" if ok else "NO")
                value_rows.append((name, q, label, a, b, verdict, tol if checked else None))
        if name.startswith("KSG"):
            vn = npeet_mi_noiseless(npeet, t, z)
            value_rows.append((name, "I(T;Z)", "NPEET mi, add_noise off", v1[0], vn,
                               "yes" if abs(v1[0] - vn) <= tol else "NO", tol))
        print(f"  done: {name}", flush=True)

    print("\n### Times (median) and ratios peer / infoplane\n")
    print("| comparison | peer | infoplane 1 thr | infoplane 2 thr | peer | peer / ip 1 thr "
          "| peer / ip 2 thr | ip 1 thr = 2 thr bits |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for name, label, t1, t2, tp, same in time_rows:
        print(f"| {name} | {label} | {fmt_ms(t1)} | {fmt_ms(t2)} | {fmt_ms(tp)} "
              f"| {tp / t1:.1f}× | {tp / t2:.1f}× | {same} |")

    print("\n### Values (bits)\n")
    print("| comparison | quantity | peer | infoplane | peer value | infoplane − peer "
          "| within tolerance |")
    print("|---|---|---|---:|---:|---:|---|")
    for name, q, label, a, b, verdict, tol in value_rows:
        tol_s = f" ({tol:g})" if tol is not None else ""
        print(f"| {name} | {q} | {label} | {fmt_bits(a)} | {fmt_bits(b)} | {fmt_diff(a, b)} "
              f"| {verdict}{tol_s} |")


if __name__ == "__main__":
    main()
