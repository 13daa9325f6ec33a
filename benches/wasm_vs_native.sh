#!/usr/bin/env bash
# Times the tishby preset (8000 epochs, binning) natively on one thread and in the wasm build
# under node, in one session, checks that both write the same plane.csv, and prints the ratio.
#   bash benches/wasm_vs_native.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/target/ci-tools/bin:$PATH"
command -v wasm-bindgen >/dev/null || { echo "needs wasm-bindgen (see .ci/run for the install)"; exit 1; }
out=target/wasm-vs-native
rm -rf "$out" && mkdir -p "$out"
cargo build --release -p infoplane-cli --quiet
cargo build --release -p infoplane-wasm --target wasm32-unknown-unknown --quiet
wasm-bindgen --target nodejs --out-dir "$out/pkg" target/wasm32-unknown-unknown/release/infoplane_wasm.wasm
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2 3; do
  s=$(date +%s.%N); ./target/release/infoplane run --preset tishby --threads 1 --quiet --out "$out/native"; e=$(date +%s.%N)
  native=$(python3 -c "print($e - $s)")
  wasm=$(node benches/wasm-run.cjs "$PWD/$out/pkg/infoplane_wasm.js" tishby 0 "" "$out/wasm-plane.csv" | awk '{print $(NF-1)}')
  cmp "$out/native/plane.csv" "$out/wasm-plane.csv"
  printf 'run %d: native %.2f s, wasm (node %s) %.2f s, ratio %.2f, plane.csv identical\n' "$i" "$native" "$(node --version)" "$wasm" "$(python3 -c "print($wasm / $native)")"
done
