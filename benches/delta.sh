#!/usr/bin/env bash
# Delta skip (`--schedule delta-exact:δ` and `delta-approx:δ`) on the tishby preset, against
# the every-epoch run it stands in for:
#
#   * wall time and peak RSS (medians of $REPS alternating runs; every:1 runs once),
#   * epochs measured (distinct epochs in plane.csv, and the manifest's measured_epochs and
#     every_epoch_measures),
#   * the guarantee: D between consecutive measured epochs, recomputed from plane.csv, where
#     D = max over layers of max(|ΔI(X;T)|/H(X), |ΔI(T;Y)|/H(Y)) with the delta estimator
#     (the manifest's delta_estimator, else the first estimator in plane.csv); delta-exact
#     must leave no pair that is above δ and not adjacent,
#   * rows: every row of plane.csv, layers.csv and metrics.csv must equal, field for field
#     as text, the every:1 run's row with the same (run, epoch, layer[, estimator]) key
#     (for the 80000-epoch run, its rows of epochs below 8000),
#   * peak memory as the run grows (delta-exact:0.05 at 8000 and 80000 epochs),
#   * thread independence (delta-exact:0.01 on 1, 2 and 4 threads: identical files).
#
# Usage: INFOPLANE=path/to/infoplane REPS=3 bash benches/delta.sh
# (INFOPLANE defaults to target/release/infoplane, relative to the repo root.) About 2.5 min
# on a 2-core VM. Timings are for reading, not for gating: shared VMs are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
IP=${INFOPLANE:-target/release/infoplane}
REPS=${REPS:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if [ ! -x /usr/bin/time ]; then
  echo "error: /usr/bin/time is missing (apt-get install time)" >&2
  exit 1
fi

# run NAME ARGS..: one tishby run into $OUT/NAME, its "wall_s peak_rss_kb" appended to
# $OUT/NAME.times.
run() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$OUT/$name.time" \
    "$IP" run --preset tishby --quiet --no-plots --force --out "$OUT/$name" "$@"
  cat "$OUT/$name.time" >> "$OUT/$name.times"
}

# The reference: every epoch measured (8000 epochs, the preset's).
run every1 --epochs 8000 --schedule every:1

# Timed configurations, NAME and arguments, run in turn $REPS times (alternating, so slow
# phases of the machine spread over all of them).
configs=(
  "exact0.01 --epochs 8000 --schedule delta-exact:0.01"
  "exact0.05 --epochs 8000 --schedule delta-exact:0.05"
  "approx0.01 --epochs 8000 --schedule delta-approx:0.01"
  "approx0.05 --epochs 8000 --schedule delta-approx:0.05"
  "exact0.05-e80000 --epochs 80000 --schedule delta-exact:0.05"
)
for ((i = 1; i <= REPS; i++)); do
  for c in "${configs[@]}"; do
    # shellcheck disable=SC2086 # the words of a configuration are split on purpose
    run $c
  done
done

# Thread independence: the same exact run on 1, 2 and 4 worker threads.
for t in 1 2 4; do
  run "threads$t" --epochs 8000 --schedule delta-exact:0.01 --threads "$t"
done

python3 - "$OUT" <<'PY'
"""Reads the runs under OUT and prints the tables."""
import csv
import hashlib
import json
import os
import statistics
import sys

OUT = sys.argv[1]
# H(X) and H(Y) of the tishby data set, in bits: 4096 distinct inputs, and the labels'
# entropy.
H_X = 12.0
H_Y = 0.9991571208502705


def path(name, f):
    return os.path.join(OUT, name, f)


def manifest(name):
    with open(path(name, "manifest.json")) as f:
        return json.load(f)


def times(name):
    """Median wall seconds and median peak RSS (KB) over the runs of NAME, and their count."""
    with open(os.path.join(OUT, name + ".times")) as f:
        rows = [line.split() for line in f if line.strip()]
    wall = statistics.median(float(r[0]) for r in rows)
    rss = statistics.median(int(r[1]) for r in rows)
    return wall, rss, len(rows)


def read_csv(name, f):
    with open(path(name, f), newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


# Key columns of each compared file.
KEYS = {
    "plane.csv": ("run", "epoch", "layer", "estimator"),
    "layers.csv": ("run", "epoch", "layer"),
    "metrics.csv": ("run", "epoch"),
}


def keyed(name, f):
    """The file's header and its rows by key (a repeated key is an error)."""
    header, rows = read_csv(name, f)
    idx = [header.index(k) for k in KEYS[f]]
    out = {}
    for r in rows:
        k = tuple(r[i] for i in idx)
        if k in out:
            raise SystemExit(f"{name}/{f}: key {k} repeated")
        out[k] = r
    return header, out


REF = {f: keyed("every1", f) for f in KEYS}
REF_EPOCHS = manifest("every1")["epochs"]


def row_check(name, below=None):
    """'plane a/b, layers a/b, metrics a/b': rows equal to every:1's out of rows, per file
    (only the rows of epochs below `below` when given)."""
    parts, mismatches = [], []
    for f in KEYS:
        ref_header, ref = REF[f]
        header, rows = keyed(name, f)
        if below is not None:
            e = KEYS[f].index("epoch")
            rows = {k: r for k, r in rows.items() if int(k[e]) < below}
        if header != ref_header:
            mismatches.append(f"{f}: header differs")
        same = sum(1 for k, r in rows.items() if ref.get(k) == r)
        for k, r in rows.items():
            if ref.get(k) != r and len(mismatches) < 5:
                mismatches.append(f"{f} {k}: {r} vs every:1 {ref.get(k)}")
        parts.append(f"{f.split('.')[0]} {same}/{len(rows)}")
    return ", ".join(parts), mismatches


def plane_values(name):
    """The measured epochs (sorted) and, per epoch, the delta estimator's (I(X;T), I(T;Y))
    per layer, in layer order."""
    header, rows = read_csv(name, "plane.csv")
    c = {h: i for i, h in enumerate(header)}
    est = manifest(name).get("delta_estimator") or rows[0][c["estimator"]]
    by_epoch = {}
    for r in rows:
        if r[c["estimator"]] != est:
            continue
        e, layer = int(r[c["epoch"]]), int(r[c["layer"]])
        by_epoch.setdefault(e, []).append(
            (layer, float(r[c["i_xt_bits"]]), float(r[c["i_ty_bits"]]))
        )
    epochs = sorted({int(r[c["epoch"]]) for r in rows})
    vals = {e: [(x, y) for _, x, y in sorted(v)] for e, v in by_epoch.items()}
    return epochs, vals


def dist(a, b):
    return max(max(abs(ax - bx) / H_X, abs(ay - by) / H_Y) for (ax, ay), (bx, by) in zip(a, b))


def pairs(epochs, vals, delta):
    """Consecutive measured pairs: (#above δ, #above δ and not adjacent, max D, max D over
    the non-adjacent pairs, the worst non-adjacent pair). Adjacent pairs may be above δ
    under delta-exact: no epoch lies between them."""
    above = above_gap = 0
    max_all = max_gap = 0.0
    worst = None
    for e0, e1 in zip(epochs, epochs[1:]):
        d = dist(vals[e0], vals[e1])
        max_all = max(max_all, d)
        if d > delta:
            above += 1
        if e1 - e0 > 1:
            if d > delta:
                above_gap += 1
            if d >= max_gap:
                max_gap, worst = d, (e0, e1)
    return above, above_gap, max_all, max_gap, worst


def fmt_d(d):
    return f"{d:.5f}"


surprises = []

# Main table.
print("## Delta skip, tishby preset (binning; H(X) = 12 bits, H(Y) = 0.99916 bits)\n")
print(
    "| schedule | epochs | runs | wall s (median) | peak RSS KB (median) | measured "
    "(plane.csv / manifest) | every_epoch_measures | covers 0 and last | pairs > δ "
    "(all / non-adjacent) | max D (all) | max D non-adjacent [pair] | rows equal to every:1 |"
)
print("|" + "---|" * 12)
rows = [
    ("every:1", "every1", None),
    ("delta-exact:0.01", "exact0.01", 0.01),
    ("delta-exact:0.05", "exact0.05", 0.05),
    ("delta-approx:0.01", "approx0.01", 0.01),
    ("delta-approx:0.05", "approx0.05", 0.05),
    ("delta-exact:0.05", "exact0.05-e80000", 0.05),
]
for label, name, delta in rows:
    m = manifest(name)
    wall, rss, n = times(name)
    epochs, vals = plane_values(name)
    total = m["epochs"]
    covers = "yes" if epochs[0] == 0 and epochs[-1] == total - 1 else "NO"
    if delta is None:
        above = "–"
        max_all = fmt_d(pairs(epochs, vals, 1.0)[2])
        max_gap = "– (all adjacent)"
    else:
        a, ag, mx, mg, worst = pairs(epochs, vals, delta)
        above, max_all = f"{a} / {ag}", fmt_d(mx)
        max_gap = f"{fmt_d(mg)} [{worst[0]}, {worst[1]}]" if worst else "– (all adjacent)"
        if label.startswith("delta-exact") and ag:
            surprises.append(f"{label} --epochs {total}: {ag} non-adjacent pairs above δ")
    if covers != "yes":
        surprises.append(f"{label} --epochs {total}: measured {epochs[0]}..{epochs[-1]}")
    if len(epochs) != m["measured_epochs"]:
        surprises.append(
            f"{label} --epochs {total}: plane.csv has {len(epochs)} epochs, "
            f"manifest measured_epochs {m['measured_epochs']}"
        )
    if name == "every1":
        equal = "(reference)"
    elif total != REF_EPOCHS:
        # A longer run trains its first epochs as the reference does: compare those.
        equal, mism = row_check(name, below=REF_EPOCHS)
        equal = f"epochs < {REF_EPOCHS}: {equal}"
        surprises.extend(f"{label} --epochs {total}: {x}" for x in mism)
    else:
        equal, mism = row_check(name)
        surprises.extend(f"{label}: {x}" for x in mism)
    print(
        f"| {label} | {total} | {n} | {wall:.2f} | {rss} | {len(epochs)} / "
        f"{m['measured_epochs']} | {m['every_epoch_measures']} | {covers} | {above} | "
        f"{max_all} | {max_gap} | {equal} |"
    )

# Memory as the run grows.
print("\n## Peak memory against run length, delta-exact:0.05\n")
print("| epochs | runs | wall s (median) | peak RSS KB (median) | measured | every_epoch_measures |")
print("|---|---|---|---|---|---|")
for name in ("exact0.05", "exact0.05-e80000"):
    m = manifest(name)
    wall, rss, n = times(name)
    print(
        f"| {m['epochs']} | {n} | {wall:.2f} | {rss} | {m['measured_epochs']} | "
        f"{m['every_epoch_measures']} |"
    )

# Thread independence.
print("\n## Thread independence, delta-exact:0.01 (sha256, first 16 hex digits)\n")
print("| threads | plane.csv | layers.csv | metrics.csv | measured |")
print("|---|---|---|---|---|")
digests = {}
for name, label in [("threads1", "1"), ("threads2", "2"), ("threads4", "4"),
                    ("exact0.01", "0 (all cores), timed runs")]:
    d = []
    for f in ("plane.csv", "layers.csv", "metrics.csv"):
        with open(path(name, f), "rb") as fh:
            d.append(hashlib.sha256(fh.read()).hexdigest())
    digests[label] = tuple(d)
    print(f"| {label} | {d[0][:16]} | {d[1][:16]} | {d[2][:16]} | "
          f"{manifest(name)['measured_epochs']} |")
same = len(set(digests.values())) == 1
print(f"\nAll identical: {'yes' if same else 'NO'}")
if not same:
    surprises.append("thread runs differ: " + repr(digests))

print("\nChecks: " + ("all passed" if not surprises else "FAILED"))
for s in surprises:
    print(f"- {s}")
PY
