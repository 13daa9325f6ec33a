#!/usr/bin/env bash
# Checkpoints and resume: what checkpointing costs a run (every measured epoch vs the
# default 10 s vs never), and what a resume costs (the run killed near its end, then
# resumed: replaying the shuffle stream and reading the rows back). Alternating runs,
# medians of 5. Usage: bash benches/resume.sh [BINARY]
set -euo pipefail
IP=${1:-target/release/infoplane}
OUT=$(mktemp -d)
secs() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Saxe's net (Adam, batch 256 reshuffled) and Tishby's, every epoch measured.
for preset in tishby saxe; do
  args=(run --preset "$preset" --epochs 2000 --schedule every:1 --estimator binning-size --threads 2 --quiet --no-plots)
  : > "$OUT/t0"; : > "$OUT/t10"; : > "$OUT/tn"
  for i in 1 2 3 4 5; do
    rm -rf "$OUT/a" "$OUT/b" "$OUT/c"
    secs "$IP" "${args[@]}" --checkpoint-every 0 --out "$OUT/a" >> "$OUT/t0"
    secs "$IP" "${args[@]}" --checkpoint-every 10 --out "$OUT/b" >> "$OUT/t10"
    secs "$IP" "${args[@]}" --checkpoint-every 1e9 --out "$OUT/c" >> "$OUT/tn"
  done
  echo "$preset 2000 epochs every:1: checkpoint every epoch $(median < "$OUT/t0") s, every 10 s $(median < "$OUT/t10") s, never $(median < "$OUT/tn") s"
  ls -l "$OUT/a/plane.csv" | awk '{print "  plane.csv bytes: " $5}'
done
# Resume cost: tishby, 8000 epochs (its preset), killed at about 90 %, resumed.
rm -rf "$OUT/full"
total=$(secs "$IP" run --preset tishby --threads 1 --quiet --no-plots --out "$OUT/full")
: > "$OUT/r"
for i in 1 2 3 4 5; do
  rm -rf "$OUT/k"
  "$IP" run --preset tishby --threads 1 --quiet --no-plots --checkpoint-every 0 --out "$OUT/k" &
  pid=$!
  sleep "$(awk -v t="$total" 'BEGIN {print t * 0.9}')"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  secs "$IP" run --resume "$OUT/k" --threads 1 --quiet >> "$OUT/r"
  cmp "$OUT/full/plane.csv" "$OUT/k/plane.csv"
done
echo "tishby 8000 epochs, 1 thread: whole run $total s; resumed after a kill at 90 %: $(median < "$OUT/r") s (plane.csv identical each time)"
rm -rf "$OUT"
