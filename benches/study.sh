#!/usr/bin/env bash
# Studies: the timing targets (tishby-paper x20, tishby x50, 2 runs each) and peak RSS
# against the number of seeds, on 2 threads and on 1. Usage: bash benches/study.sh [BINARY]
set -euo pipefail
IP=${1:-target/release/infoplane}
OUT=$(mktemp -d)
for i in 1 2; do
  rm -rf $OUT/tp20 $OUT/t50
  /usr/bin/time -f "tishby-paper x20: %e s %M KB" $IP run --preset tishby-paper --repeats 20 --out $OUT/tp20 --quiet
  /usr/bin/time -f "tishby x50: %e s %M KB" $IP run --preset tishby --repeats 50 --out $OUT/t50 --quiet
done
for r in 1 2 4 8 16; do
  rm -rf $OUT/m$r
  /usr/bin/time -f "tishby x$r threads 2: %e s %M KB" $IP run --preset tishby --repeats $r --out $OUT/m$r --quiet
done
for r in 1 2 4 8; do
  rm -rf $OUT/n$r
  /usr/bin/time -f "tishby x$r threads 1: %e s %M KB" $IP run --preset tishby --repeats $r --threads 1 --epochs 800 --out $OUT/n$r --quiet
done
