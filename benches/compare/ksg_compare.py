#!/usr/bin/env python3
"""infoplane's KSG estimate of I(X;T) against NPEET's and scikit-learn's, on correlated Gaussians.

Each case draws X and T, both N x d. Coordinate c of T is rho*X_c + sqrt(1-rho^2)*noise, with
rho = 0.6 and standard normal X and noise. The true value is I(X;T) = -d/2 ln(1-rho^2) nats.
The script reports it in bits. The cases are d = 1, 5, 20 with N = 1000 and 10000, plus
N = 100000 for d = 1. The headline case is N = 10000, d = 20.

For each case it reports:
  * infoplane `estimate --estimator ksg --k 3`, timed as a whole process (wall clock around
    subprocess.run, so CSV reading and start-up are included). It runs with --threads 1 and
    --threads 2. The estimate shown is the standardised default. `std=false` shows the
    estimate with --standardize=false, which is what NPEET computes (NPEET does not standardise).
  * `base`: the same command with `--estimator binning`, a "read CSV + start-up" baseline.
    The `net` ratios subtract it from infoplane's time.
  * NPEET `mi(x, y, k=3, base=2)`, in bits, with NPEET's default noise (1e-10 uniform, drawn
    from np.random, seeded 0 before each call). It is timed in-process on arrays already in
    memory, in a forked child killed after --timeout seconds.
  * scikit-learn `mutual_info_regression(T, X, n_neighbors=3, random_state=0)` for d = 1 only
    (it returns nats, and standardises and adds noise itself). It is timed in-process.
Every time is the median of --runs runs (default 3). The ratios are NPEET time / infoplane time.

Setup and run (NPEET is imported from a copy of npeet/entropy_estimators.py, not installed):
    python3 -m venv /tmp/ksgenv && /tmp/ksgenv/bin/pip install numpy scipy scikit-learn
    # put gregversteeg/NPEET's npeet/entropy_estimators.py at /tmp/npeet_ee.py
    /tmp/ksgenv/bin/python benches/compare/ksg_compare.py [--bin PATH] [--quick]
--quick runs only N = 1000.
"""
import argparse
import csv
import importlib.util
import io
import math
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import scipy
import sklearn
from sklearn.feature_selection import mutual_info_regression

RHO = 0.6
K = 3
LN2 = math.log(2)


def load_npeet(path):
    spec = importlib.util.spec_from_file_location("npeet_ee", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_case(n, d, seed):
    rng = np.random.default_rng([seed, n, d])
    x = rng.standard_normal((n, d))
    t = RHO * x + math.sqrt(1 - RHO**2) * rng.standard_normal((n, d))
    return x, t


def write_case(dirname, x, t):
    paths = {name: os.path.join(dirname, f"{name}.csv") for name in ("X", "T", "Y")}
    np.savetxt(paths["X"], x, fmt="%.9g", delimiter=",")
    np.savetxt(paths["T"], t, fmt="%.9g", delimiter=",")
    np.savetxt(paths["Y"], np.zeros(len(x), dtype=int), fmt="%d")
    return paths


def run_infoplane(binary, paths, estimator, extra, runs, timeout):
    """Median wall time (s) of the whole process, and the I(X;T) it prints (bits)."""
    cmd = [binary, "estimate", "--activations", paths["T"], "--labels", paths["Y"],
           "--inputs", paths["X"], "--estimator", estimator, "--k", str(K)] + extra
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout)
        times.append(time.perf_counter() - start)
        out = proc.stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and rows[0]["estimator"] == estimator, out
    return statistics.median(times), float(rows[0]["i_xt_bits"])


def _timed_child(fn, conn):
    start = time.perf_counter()
    value = fn()
    conn.send((time.perf_counter() - start, value))
    conn.close()


def timed_with_timeout(fn, timeout):
    """Time fn() in a forked child. Returns (seconds, value), or None if it took over timeout."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_timed_child, args=(fn, send))
    child.start()
    send.close()
    result = recv.recv() if recv.poll(timeout) else None
    if result is None:
        child.kill()
    child.join()
    return result


def run_npeet(npeet, x, t, runs, timeout):
    """Median time (s) and estimate (bits) of NPEET's mi, or (None, None) after a timeout."""
    def call():
        np.random.seed(0)
        return npeet.mi(x, t, k=K, base=2)

    results = []
    for _ in range(runs):
        result = timed_with_timeout(call, timeout)
        if result is None:
            return None, None
        results.append(result)
    return statistics.median(r[0] for r in results), results[0][1]


def run_sklearn(x, t, runs):
    """Median time (s) and estimate (bits) of mutual_info_regression, for d = 1."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        nats = mutual_info_regression(t, x[:, 0], n_neighbors=K, random_state=0)[0]
        times.append(time.perf_counter() - start)
    return statistics.median(times), nats / LN2


def measure(args, npeet, n, d):
    x, t = make_case(n, d, args.seed)
    r = {"n": n, "d": d, "true": -d / 2 * math.log(1 - RHO**2) / LN2}
    with tempfile.TemporaryDirectory() as dirname:
        paths = write_case(dirname, x, t)
        ip = lambda est, extra: run_infoplane(args.bin, paths, est, extra, args.runs, args.timeout)
        r["t_base"], _ = ip("binning", ["--threads", "1"])
        r["t_ip1"], r["ip"] = ip("ksg", ["--threads", "1"])
        r["t_ip2"], ip2 = ip("ksg", ["--threads", "2"])
        assert ip2 == r["ip"], (ip2, r["ip"])
        _, r["ip_raw"] = run_infoplane(args.bin, paths, "ksg", ["--standardize=false"], 1,
                                       args.timeout)
    r["t_np"], r["np"] = run_npeet(npeet, x, t, args.runs, args.timeout)
    r["t_sk"], r["sk"] = run_sklearn(x, t, args.runs) if d == 1 else (None, None)
    return r


def fmt_bits(v):
    return "—" if v is None else f"{v:.4f}"


def fmt_time(v):
    if v is None:
        return "—"
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


def fmt_ratio(num, den):
    if num is None:
        return "timeout"
    return "n/a" if den <= 0 else f"{num / den:.1f}×"


def print_tables(results, timeout):
    print("### Estimates of I(X;T) (bits), k = 3, rho = 0.6\n")
    print("| N | d | true | infoplane | infoplane std=false | NPEET | sklearn |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        np_est = fmt_bits(r["np"]) if r["t_np"] is not None else f"timeout (> {timeout:.0f} s)"
        print(f"| {r['n']} | {r['d']} | {r['true']:.4f} | {r['ip']:.4f} | {r['ip_raw']:.4f} "
              f"| {np_est} | {fmt_bits(r['sk'])} |")
    print("\n### Times (median of runs) and speed ratios NPEET / infoplane\n")
    print("| N | d | base (binning) | infoplane 1 thr | infoplane 2 thr | NPEET | sklearn "
          "| ratio 1 thr raw | ratio 1 thr net | ratio 2 thr raw | ratio 2 thr net |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ratios = [fmt_ratio(r["t_np"], r[key] - sub)
                  for key in ("t_ip1", "t_ip2") for sub in (0.0, r["t_base"])]
        times = [fmt_time(r[key]) for key in ("t_base", "t_ip1", "t_ip2", "t_np", "t_sk")]
        print(f"| {r['n']} | {r['d']} | " + " | ".join(times + ratios) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="/tmp/infoplane-ksg", help="infoplane binary")
    parser.add_argument("--npeet", default="/tmp/npeet_ee.py",
                        help="copy of NPEET's npeet/entropy_estimators.py")
    parser.add_argument("--quick", action="store_true", help="only N = 1000")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and case")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per NPEET call")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    npeet = load_npeet(args.npeet)

    cases = [(n, d) for n in (1000, 10000) for d in (1, 5, 20)] + [(100000, 1)]
    if args.quick:
        cases = [(n, d) for n, d in cases if n == 1000]
    print(f"binary {args.bin}; NPEET {args.npeet}; numpy {np.__version__}, "
          f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
          f"{args.runs} runs per tool and case\n")
    results = []
    for n, d in cases:
        results.append(measure(args, npeet, n, d))
        r = results[-1]
        print(f"  done N={n} d={d}: infoplane {r['ip']:.4f}, NPEET {fmt_bits(r['np'])}",
              flush=True)
    print()
    print_tables(results, args.timeout)


if __name__ == "__main__":
    main()
