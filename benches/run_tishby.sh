#!/usr/bin/env bash
# Times whole `infoplane run --preset tishby` runs: 1 and 2 worker threads, 800 and 8000
# epochs. Prints wall time and peak RSS (from /usr/bin/time -v) in a table, with the machine.
#
#   bash benches/run_tishby.sh              # all four runs
#   EPOCHS="800" THREADS="1 2" bash benches/run_tishby.sh
#
# Logs and each run's output directory go to target/run_tishby/ (or $CARGO_TARGET_DIR).
# Timings are for reading, not for gating: shared 2-core VMs are noisy.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET_DIR/run_tishby"
BIN="$TARGET_DIR/release/infoplane"
THREADS="${THREADS:-1 2}"
EPOCHS="${EPOCHS:-800 8000}"

if [ ! -x /usr/bin/time ]; then
  echo "error: /usr/bin/time is missing (apt-get install time); bash's time keyword cannot report peak RSS" >&2
  exit 1
fi

echo "building the release CLI..." >&2
cargo build --release -p infoplane-cli --bin infoplane >&2
if [ ! -x "$BIN" ]; then
  echo "error: $BIN was not built" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# "h:mm:ss" or "m:ss.ss" (GNU time's elapsed format) to seconds.
to_seconds() {
  awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"
}

cpu_model="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
echo "machine: $(nproc) CPUs (nproc), ${cpu_model:-unknown CPU}, $(uname -sr)"
echo "binary:  $BIN ($("$BIN" --version 2>/dev/null || echo 'version unknown'))"
echo
printf '%-8s %-8s %10s %12s  %s\n' threads epochs "wall (s)" "max RSS (MB)" status
printf '%-8s %-8s %10s %12s  %s\n' ------- ------ -------- ------------ ------

failed=0
for epochs in $EPOCHS; do
  for threads in $THREADS; do
    name="t${threads}-e${epochs}"
    log="$OUT/$name.time.txt"
    status=ok
    if ! /usr/bin/time -v -o "$log" "$BIN" run --preset tishby --threads "$threads" \
      --epochs "$epochs" --out "$OUT/$name" --quiet >"$OUT/$name.stdout.txt" 2>"$OUT/$name.stderr.txt"; then
      status="FAILED (see $OUT/$name.stderr.txt)"
      failed=1
    fi
    wall_raw="$(awk -F': ' '/Elapsed \(wall clock\) time/ { print $2 }' "$log" 2>/dev/null || true)"
    rss_kb="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log" 2>/dev/null || true)"
    wall="n/a"
    rss="n/a"
    if [ -n "$wall_raw" ]; then wall="$(to_seconds "$wall_raw")"; fi
    if [ -n "$rss_kb" ]; then rss="$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')"; fi
    printf '%-8s %-8s %10s %12s  %s\n' "$threads" "$epochs" "$wall" "$rss" "$status"
  done
done
echo
echo "logs: $OUT"
exit "$failed"
