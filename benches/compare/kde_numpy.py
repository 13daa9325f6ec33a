"""The KDE upper-bound entropy as Saxe et al.'s ibsgd computes it (kde.py: pairwise squared
distances by ||a||^2 + ||b||^2 - 2ab, then a log-sum-exp per row), written in vectorised
numpy float32, timed on the same shapes as infoplane's criterion bench.

    pip install numpy && python3 benches/compare/kde_numpy.py

Prints the median time per entropy and the value in nats, so the Rust figure can be set
beside it (run both in the same session; see benches/RESULTS.md).
"""
import time

import numpy as np


def kde_upper_entropy(x, var):
    """H_upper(T) in nats for the rows of x (N x d, float32), noise variance var."""
    n, d = x.shape
    x2 = np.sum(x * x, axis=1, keepdims=True)
    dists = x2 + x2.T - 2.0 * (x @ x.T)
    a = -dists / np.float32(2.0 * var)
    m = a.max(axis=1, keepdims=True)
    lse = np.log(np.exp(a - m).sum(axis=1)) + m[:, 0]
    lprobs = lse - np.log(np.float32(n)) - np.float32(d / 2.0 * np.log(2.0 * np.pi * var))
    return float(d / 2.0 - lprobs.mean())


def bench(n, d, var, reps, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, d)).astype(np.float32)
    kde_upper_entropy(x, var)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        h = kde_upper_entropy(x, var)
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(f"numpy float32 KDE upper entropy n={n} d={d} var={var}: median {med * 1e3:.2f} ms "
          f"over {reps} runs, H = {h:.6f} nats")


if __name__ == "__main__":
    print(f"numpy {np.__version__}")
    bench(4096, 10, 1e-3, 15, 1)
    bench(10000, 20, 0.1, 3, 2)
