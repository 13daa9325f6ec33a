#!/usr/bin/env python3
"""Whole-process wall time of `infoplane estimate --estimator kde-upper` on 4096 x 10 layers.

Usage: estimate_wall.py BEFORE_BINARY AFTER_BINARY [RUNS] [-- extra estimate options]

Writes three 17-digit CSV layers and a label file to a temporary directory (uniform in
[0, 1), uniform in (-1, 1), Gaussian with sigma 10: from a KDE that is most of the run to one
that prunes almost everything), runs the two binaries alternately RUNS times (default 60) on
each, checks they print the same rows, and prints the medians and their ratio.
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def write_layers(d):
    rng = random.Random(1)
    layers = {
        "uniform01": lambda: rng.random(),
        "uniform11": lambda: 2 * rng.random() - 1,
        "gauss10": lambda: rng.gauss(0, 10),
    }
    paths = {}
    for name, draw in layers.items():
        p = os.path.join(d, f"{name}.csv")
        with open(p, "w") as f:
            for _ in range(4096):
                f.write(",".join(repr(draw()) for _ in range(10)) + "\n")
        paths[name] = p
    labels = os.path.join(d, "labels.csv")
    with open(labels, "w") as f:
        for _ in range(4096):
            f.write(f"{rng.randrange(2)}\n")
    return paths, labels


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1:]
    before, after = args[0], args[1]
    runs = int(args[2]) if len(args) > 2 else 60
    with tempfile.TemporaryDirectory() as d:
        paths, labels = write_layers(d)
        for name, path in paths.items():
            cmd = ["estimate", "--activations", path, "--labels", labels,
                   "--estimator", "kde-upper"] + extra
            outs = {b: subprocess.run([b] + cmd, capture_output=True, check=True).stdout
                    for b in (before, after)}
            assert outs[before] == outs[after], (name, outs)
            times = {before: [], after: []}
            for _ in range(runs):
                for b in (before, after):
                    t = time.perf_counter()
                    subprocess.run([b] + cmd, stdout=subprocess.DEVNULL, check=True)
                    times[b].append(time.perf_counter() - t)
            mb = statistics.median(times[before]) * 1e3
            ma = statistics.median(times[after]) * 1e3
            print(f"{name}: before {mb:.2f} ms, after {ma:.2f} ms, ratio {ma / mb:.2f}")


if __name__ == "__main__":
    main()
