#!/usr/bin/env bash
# The as-if-random experiment (seed report, section 0.5): Saxe's network (saxe preset,
# 10 000 epochs, Saxe's schedule, bins of 0.07), tanh and ReLU, seeds 0–5, with the
# activations of K ∈ {2, 8, 32} consecutive snapshots pooled. Prints, per activation, K
# and layer, the single-snapshot and pooled I(X;T) (means over the seeds) at its largest
# after epoch 100 and at the last measured epoch, and how much each falls between the two
# (compression). Writes the runs, with their pool-*.svg figures, under OUT (default
# runs/as-if-random). Usage: bash benches/as_if_random.sh [BINARY] [OUT]
set -euo pipefail
IP=${1:-target/release/infoplane}
OUT=${2:-runs/as-if-random}
mkdir -p "$OUT"
for act in tanh relu; do
  for k in 2 8 32; do
    dir="$OUT/$act-pool$k"
    /usr/bin/time -f "$act K=$k: %e s, peak %M KB" \
      "$IP" run --preset saxe --activation "$act" --pool "$k" --repeats 6 --threads 2 \
      --quiet --force --out "$dir" 2>&1 | grep -v '^warning' || true
  done
done
python3 - "$OUT" <<'PY'
import csv, sys, os, collections
out = sys.argv[1]
print("| activation | K | layer | single: max after 100 → end | fall | pooled: max after 100 → end | fall | pooled − single at end |")
print("|---|---|---|---|---|---|---|---|")
for act in ("tanh", "relu"):
    for k in (2, 8, 32):
        path = os.path.join(out, f"{act}-pool{k}", "summary.csv")
        series = collections.defaultdict(dict)
        for r in csv.DictReader(open(path)):
            series[(int(r["layer"]), r["estimator"])][int(r["epoch"])] = float(r["i_xt_mean"])
        layers = sorted({l for l, _ in series})
        for l in layers:
            cells = []
            ends = []
            for est in ("binning-size", f"binning-size+pool{k}"):
                s = series[(l, est)]
                late = {e: v for e, v in s.items() if e >= 100}
                top = max(late.values())
                end = s[max(s)]
                ends.append(end)
                cells += [f"{top:.2f} → {end:.2f}", f"{top - end:.2f}"]
            print(f"| {act} | {k} | {l} | " + " | ".join(cells) + f" | {ends[1] - ends[0]:+.2f} |")
PY
