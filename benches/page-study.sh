#!/usr/bin/env bash
# The multi-seed study in the browser page against the CLI, in one session on this machine.
#
#   benches/page-study.sh [--repeats-seeds N] [--rounds R] [--workers W] [--preset P] [--out DIR]
#                         [--timeout-min M] [KEY=VALUE ...]
#
#   --repeats-seeds N  seeds 0..N-1 (default 50; --repeats is the same)
#   --rounds R         timed rounds (default 3)
#   --workers W        page Web Workers and CLI --threads (default 2)
#   --preset P         preset (default tishby)
#   --out DIR          output directory (default target/page-study)
#   --timeout-min M    give up on a page run after M minutes (default 30)
#   KEY=VALUE          any other `infoplane run` option by its long name without "--", given to
#                      both: `--KEY=VALUE` on the CLI and `KEY=VALUE` in the page's query string
#                      (e.g. epochs=200 schedule=every:20; estimator=a,b becomes
#                      `--estimator=a --estimator=b` on the CLI)
#
# Needs target/release/infoplane (`cargo build --release -p infoplane-cli`) and the page's wasm
# (`cargo build -p infoplane-wasm --target wasm32-unknown-unknown --release && wasm-bindgen
# --target web --out-dir wasm/www/pkg target/wasm32-unknown-unknown/release/infoplane_wasm.wasm`),
# Chromium, node and playwright-core (found as wasm/browser-check.sh finds them, never installed).
#
# Each round runs, in alternating order (CLI first in odd rounds, page first in even ones, to
# spread machine noise over both):
#   * the CLI: `target/release/infoplane run --preset P --repeats N --seed 0 --threads W --quiet
#     --force --out DIR/cli [--KEY=VALUE ...]` under `/usr/bin/time -v` (wall clock, max RSS);
#   * the page: wasm/www served by python3's http.server on a free 127.0.0.1 port, opened by
#     benches/page-study.mjs in headless Chromium (1280x900) at
#     index.html?preset=P&repeats=N&seed=0&workers=W&KEY=VALUE...&autostart=1, until
#     body[data-state=done]; it reads body[data-wall-ms] (the page's start-to-done wall time) and
#     pre#plane-csv, pre#metrics-csv, pre#layers-csv into DIR/page/, and times navigation-to-done
#     from node as well. Any console error, page error or failed request fails the run;
#   * `cmp` of DIR/page/{plane,metrics,layers}.csv with DIR/cli/: any difference fails the study
#     (the first differing line is shown).
# Then a table per round and the medians: CLI wall s, CLI max RSS, page wall s (data-wall-ms),
# page wall s from node, ratio page/CLI (target: page within 1.6x of the CLI), and the machine
# (nproc, CPU model, Chromium version). The same goes to DIR/result.json (also on failure, with
# "ok": false and the reason). Logs: DIR/logs/ (time -v output, CLI output, page summaries,
# the http server's log).
#
# Environment: CHROMIUM (browser binary; default chromium, chromium-browser, google-chrome,
# google-chrome-stable on PATH), PLAYWRIGHT_CORE (package directory; default
# $TOOLS/node_modules/playwright-core, then /work/ci-clone/target/ci-tools/node_modules/playwright-core),
# TOOLS (default target/ci-tools), INFOPLANE_WWW (directory to serve; default wasm/www),
# INFOPLANE_BIN (default target/release/infoplane); START_TIMEOUT_MS, GRACE_MS, PROGRESS_MS go
# through to page-study.mjs (see its header).
# Exit status: 0 when every round ran and every CSV matched (timings never fail the study);
# 1 when a run failed, the page did not reach "done", or the bytes differ; 2 on bad usage or a
# missing prerequisite.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
www=${INFOPLANE_WWW:-$repo/wasm/www}
tools=${TOOLS:-$repo/target/ci-tools}
bin=${INFOPLANE_BIN:-$repo/target/release/infoplane}

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die2() {
    echo "page-study: error: $*" >&2
    exit 2
}
positive_int() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die2 "$1 wants a positive whole number, not '$2'"
}

seeds=50
rounds=3
workers=2
preset=tishby
out=$repo/target/page-study
timeout_min=30
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --repeats-seeds | --repeats) [ $# -ge 2 ] || usage; positive_int "$1" "$2"; seeds=$2; shift 2 ;;
        --rounds) [ $# -ge 2 ] || usage; positive_int "$1" "$2"; rounds=$2; shift 2 ;;
        --workers) [ $# -ge 2 ] || usage; positive_int "$1" "$2"; workers=$2; shift 2 ;;
        --preset) [ $# -ge 2 ] || usage; preset=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        --timeout-min) [ $# -ge 2 ] || usage; positive_int "$1" "$2"; timeout_min=$2; shift 2 ;;
        -h | --help) usage ;;
        --*=* | --*) die2 "unknown option '$1' (run options go as KEY=VALUE, without --; see --help)" ;;
        *=*)
            key=${1%%=*}
            [[ $key =~ ^[a-z][a-z0-9-]*$ ]] || die2 "bad option name '$key' in '$1'"
            case $key in
                preset | repeats | seed | threads | out | o | quiet | force | workers | worker | autostart | resume | shard)
                    die2 "'$key' is set by the study itself (use --preset/--repeats-seeds/--workers/--out); it cannot be given as $1" ;;
            esac
            extra+=("$1")
            shift
            ;;
        *) die2 "unexpected argument '$1' (run options go as KEY=VALUE; see --help)" ;;
    esac
done

# ---- prerequisites
if [ ! -x "$bin" ]; then
    die2 "$bin is missing: build it with \`cargo build --release -p infoplane-cli\`"
fi
if [ ! -f "$www/index.html" ] || [ ! -f "$www/pkg/infoplane_wasm.js" ]; then
    die2 "$www/pkg/infoplane_wasm.js is missing: build it with
  cargo build -p infoplane-wasm --target wasm32-unknown-unknown --release
  wasm-bindgen --target web --out-dir wasm/www/pkg target/wasm32-unknown-unknown/release/infoplane_wasm.wasm
(wasm-bindgen: target/ci-tools/bin/wasm-bindgen, or /work/ci-clone/target/ci-tools/bin/wasm-bindgen)"
fi
for tool in python3 node /usr/bin/time timeout cmp; do
    command -v "$tool" >/dev/null 2>&1 || die2 "$tool is not available"
done
find_chromium() {
    if [ -n "${CHROMIUM:-}" ]; then
        command -v "$CHROMIUM" || true
        return
    fi
    local c
    for c in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$c" >/dev/null 2>&1; then
            command -v "$c"
            return
        fi
    done
}
chromium_bin=$(find_chromium)
[ -n "$chromium_bin" ] || die2 "no Chromium found: set CHROMIUM or put chromium on PATH (apt-get install -y chromium)"
pw=${PLAYWRIGHT_CORE:-}
if [ -z "$pw" ]; then
    for c in "$tools/node_modules/playwright-core" /work/ci-clone/target/ci-tools/node_modules/playwright-core; do
        if [ -f "$c/package.json" ]; then
            pw=$c
            break
        fi
    done
fi
[ -n "$pw" ] && [ -f "$pw/package.json" ] \
    || die2 "playwright-core not found: set PLAYWRIGHT_CORE to its package directory, or \`npm install --no-save --prefix $tools playwright-core@1.65.1\`"
pw=$(cd "$pw" && pwd)

# Stale builds time old code: warn (do not fail) when sources are newer than the binaries.
newer=$(find "$repo/core" "$repo/cli" -name '*.rs' -newer "$bin" -print -quit 2>/dev/null || true)
[ -z "$newer" ] || echo "page-study: warning: $newer is newer than $bin (rebuild: cargo build --release -p infoplane-cli)" >&2
pkg_wasm=$www/pkg/infoplane_wasm_bg.wasm
if [ -f "$pkg_wasm" ]; then
    newer=$(find "$repo/core" "$repo/wasm/src" -name '*.rs' -newer "$pkg_wasm" -print -quit 2>/dev/null || true)
    [ -z "$newer" ] || echo "page-study: warning: $newer is newer than $pkg_wasm (rebuild the wasm and rerun wasm-bindgen)" >&2
fi

# DIR's logs/ and page/ are replaced: only in a directory this study made (marked .page-study).
if [ -d "$out" ] && [ ! -f "$out/.page-study" ] && [ -n "$(ls -A "$out")" ]; then
    die2 "$out is not empty and was not made by page-study.sh; choose another --out"
fi
mkdir -p "$out"
touch "$out/.page-study"
out=$(cd "$out" && pwd)
logs=$out/logs
rm -rf "$logs" "$out/page" "$out/result.json"
mkdir -p "$logs" "$out/page"

# ---- the two commands
cli_cmd=("$bin" run --preset "$preset" --repeats "$seeds" --seed 0 --threads "$workers" --quiet --force --out "$out/cli")
for kv in "${extra[@]}"; do
    key=${kv%%=*}
    value=${kv#*=}
    if [ "$key" = estimator ] || [ "$key" = estimators ]; then
        IFS=, read -r -a ests <<<"$value"
        for e in "${ests[@]}"; do
            cli_cmd+=("--estimator=$e")
        done
    else
        cli_cmd+=("--$key=$value")
    fi
done
query=$(python3 - "$preset" "$seeds" "$workers" "${extra[@]}" <<'PY'
import sys
from urllib.parse import urlencode

preset, seeds, workers, *extra = sys.argv[1:]
pairs = [("preset", preset), ("repeats", seeds), ("seed", "0"), ("workers", workers)]
pairs += [tuple(kv.split("=", 1)) for kv in extra]
pairs.append(("autostart", "1"))
print(urlencode(pairs, safe=",:"))
PY
)

# ---- machine
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs || true)
chromium_version=$("$chromium_bin" --version 2>/dev/null | tail -n 1 || true)
python3 -c '
import json, sys
keys = ["nproc", "cpu_model", "mem_total", "chromium", "chromium_version", "node_version", "playwright_core", "loadavg_at_start", "kernel"]
print(json.dumps(dict(zip(keys, sys.argv[1:])), indent=1))' \
    "$(nproc)" "$cpu_model" "$(grep -m1 MemTotal /proc/meminfo | cut -d: -f2 | xargs)" "$chromium_bin" \
    "$chromium_version" "$(node --version)" "$(node -p "require('$pw/package.json').version")" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -sr)" >"$logs/machine.json"
echo "page-study: machine: $(nproc) cores, ${cpu_model:-unknown CPU}; $chromium_version; node $(node --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "page-study: CLI:  ${cli_cmd[*]}"
echo "page-study: page: index.html?$query"

# ---- serve wasm/www
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www" >"$logs/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port/"
for _ in $(seq 100); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "${base}index.html" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "page-study: error: the http server did not start:" >&2
        cat "$logs/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

# ---- reports (rounds.jsonl -> table, medians, result.json)
report() { # report MODE [REASON]: MODE is row (the last round) or final
    python3 - "$1" "${2:-}" "$out" "$seeds" "$workers" "$preset" "$query" "${cli_cmd[*]}" <<'PY'
import json
import statistics
import sys

mode, reason, out, seeds, workers, preset, query, cli_cmd = sys.argv[1:]
try:
    rows = [json.loads(line) for line in open(f"{out}/logs/rounds.jsonl")]
except FileNotFoundError:
    rows = []


def f(v, spec):
    return "-" if v is None else format(v, spec)


head = f"{'round':>5}  {'order':<9}  {'CLI s':>8}  {'CLI MB':>7}  {'page s':>8}  {'page s (node)':>13}  {'page/CLI':>8}  {'bytes':<9}  {'ETA@5%/real':>11}"


def line(r):
    return (f"{r['round']:>5}  {r['order']:<9}  {f(r['cli_wall_s'], '.2f'):>8}  {f(r['cli_max_rss_mb'], '.1f'):>7}  "
            f"{f(r['page_wall_s'], '.2f'):>8}  {f(r['page_node_wall_s'], '.2f'):>13}  {f(r['ratio'], '.3f'):>8}  "
            f"{r['bytes']:<9}  {f(r.get('eta_at_5_over_actual'), '.2f'):>11}")


if mode == "row":
    if len(rows) == 1:
        print(head)
    print(line(rows[-1]))
    sys.exit(0)

machine = json.load(open(f"{out}/logs/machine.json"))


def med(key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


ok = mode == "final" and not reason and bool(rows) and all(r["bytes"] == "identical" for r in rows)
medians = {k: med(k) for k in ("cli_wall_s", "cli_max_rss_mb", "page_wall_s", "page_node_wall_s", "ratio", "ratio_node")}
# The ratio of the medians is steadier than the median of the ratios on a noisy machine; give both.
if medians["cli_wall_s"] and medians["page_wall_s"]:
    medians["ratio_of_medians"] = medians["page_wall_s"] / medians["cli_wall_s"]
target = 1.6
result = {
    "ok": ok,
    "failure": reason or None,
    "study": {"preset": preset, "seeds": int(seeds), "workers": int(workers), "rounds_run": len(rows)},
    "cli_command": cli_cmd,
    "page_query": query,
    "machine": machine,
    "rounds": rows,
    "medians": medians,
    "target_ratio": target,
    "target_met": None if medians["ratio"] is None else medians["ratio"] <= target,
}
with open(f"{out}/result.json", "w") as fh:
    json.dump(result, fh, indent=1)
    fh.write("\n")

if rows:
    print()
    print(head)
    for r in rows:
        print(line(r))
    m = medians
    print(f"{'median':>5}  {'':<9}  {f(m['cli_wall_s'], '.2f'):>8}  {f(m['cli_max_rss_mb'], '.1f'):>7}  "
          f"{f(m['page_wall_s'], '.2f'):>8}  {f(m['page_node_wall_s'], '.2f'):>13}  {f(m['ratio'], '.3f'):>8}")
print()
print(f"machine: {machine['nproc']} cores, {machine['cpu_model'] or 'unknown CPU'}, {machine['mem_total']}; "
      f"{machine['chromium_version']}; node {machine['node_version']}, playwright-core {machine['playwright_core']}")
print(f"study: {preset} x{seeds} seeds, {workers} workers / threads; "
      "page s = body[data-wall-ms] (start to done), page s (node) = navigation to done")
if medians["ratio"] is not None:
    verdict = "met" if medians["ratio"] <= target else "NOT met"
    print(f"median page/CLI {medians['ratio']:.3f} (ratio of medians {medians.get('ratio_of_medians', 0):.3f}; "
          f"from node {f(medians['ratio_node'], '.3f')}): target <= {target} {verdict}")
print(f"result: {out}/result.json")
PY
}

failed_reason=
fail() {
    failed_reason=$1
    echo "page-study: FAIL: $1" >&2
    report final "$1" || true
    exit 1
}

run_cli() { # run_cli ROUND
    local r=$1
    echo "page-study: round $r: CLI"
    if ! /usr/bin/time -v -o "$logs/round-$r-cli.time" "${cli_cmd[@]}" >"$logs/round-$r-cli.log" 2>&1; then
        tail -n 20 "$logs/round-$r-cli.log" >&2 || true
        fail "round $r: the CLI failed (log: $logs/round-$r-cli.log)"
    fi
}

run_page() { # run_page ROUND
    local r=$1 rc=0
    echo "page-study: round $r: page"
    rm -f "$out/page/plane.csv" "$out/page/metrics.csv" "$out/page/layers.csv"
    PLAYWRIGHT_CORE=$pw CHROMIUM_PATH=$chromium_bin URL="${base}index.html?$query" OUT_DIR="$out/page" \
        OUT_JSON="$logs/round-$r-page.json" RUN_TIMEOUT_MS=$((timeout_min * 60 * 1000)) \
        timeout -k 30 $((timeout_min * 60 + 300)) node "$here/page-study.mjs" >/dev/null || rc=$?
    if [ "$rc" != 0 ]; then
        if [ -f "$logs/round-$r-page.json" ]; then
            python3 - "$logs/round-$r-page.json" <<'PY' >&2 || true
import json, sys
s = json.load(open(sys.argv[1]))
last = s["states"][-1]["ms"] / 1000 if s["states"] else None
when = f", since {last:.1f} s after navigation" if last is not None else ""
print(f"page-study: the page run failed: data-state={s['state']!r}{when}")
print(f"  p#error: {s['error'] or '(empty or hidden)'}")
print(f"  output#status: {s['status'] or '(empty)'}")
changes = ", ".join(f"{x['state']}@{x['ms']}" for x in s["states"]) or "(none)"
print(f"  state changes (ms after navigation): {changes}")
for p in s["problems"]:
    print(f"  {p}")
for f in s["failures"]:
    print(f"  FAIL: {f}")
PY
        fi
        if grep -E '" [45][0-9][0-9] ' "$logs/server.log" >&2; then
            echo "page-study: the http server answered the requests above with an error status" >&2
        fi
        # What the page did give is still worth comparing (e.g. one seed where N were asked for).
        if [ -f "$out/cli/plane.csv" ] && ls "$out/page/"*.csv >/dev/null 2>&1; then
            echo "page-study: comparing the CSVs the page did give with the CLI's:" >&2
            compare "$r" >&2 && echo "page-study: (those are identical)" >&2
        fi
        fail "round $r: the page run failed (exit $rc; summary: $logs/round-$r-page.json)"
    fi
}

compare() { # compare ROUND -> prints identical, or fails showing the first differing line
    local r=$1 name bad=0
    for name in plane metrics layers; do
        if [ ! -f "$out/cli/$name.csv" ]; then
            echo "page-study: the CLI wrote no $out/cli/$name.csv" >&2
            bad=1
        elif [ ! -f "$out/page/$name.csv" ]; then
            echo "page-study: the page gave no $name.csv" >&2
            bad=1
        elif ! cmp -s "$out/cli/$name.csv" "$out/page/$name.csv"; then
            bad=1
            python3 - "$out/cli/$name.csv" "$out/page/$name.csv" <<'PY' >&2
import sys

a, b = (open(p, "rb").read() for p in sys.argv[1:3])
la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
name = sys.argv[1].rsplit("/", 1)[-1]
nl = b"\n"
show = lambda x: repr(x[:300].decode(errors="replace"))
print(f"page-study: {name} differs: CLI {len(a)} bytes / {a.count(nl)} lines, page {len(b)} bytes / {b.count(nl)} lines")
for i in range(max(len(la), len(lb))):
    x = la[i] if i < len(la) else None
    y = lb[i] if i < len(lb) else None
    if x != y:
        print(f"  first difference at line {i + 1}:")
        print(f"    CLI:  {show(x) if x is not None else '(end of file)'}")
        print(f"    page: {show(y) if y is not None else '(end of file)'}")
        break
PY
        fi
    done
    return "$bad"
}

record() { # record ROUND ORDER BYTES
    python3 - "$1" "$2" "$3" "$logs/round-$1-cli.time" "$logs/round-$1-page.json" >>"$logs/rounds.jsonl" <<'PY'
import json
import re
import sys

rnd, order, same, time_file, page_file = sys.argv[1:]
t = open(time_file).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
secs = 0.0
for part in m.group(1).split(":"):
    secs = secs * 60 + float(part)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
user = float(re.search(r"User time \(seconds\): (\S+)", t).group(1))
system = float(re.search(r"System time \(seconds\): (\S+)", t).group(1))
p = json.load(open(page_file))
page_s = p["wallMs"] / 1000 if p.get("wallMs") else None
node_s = p["nodeWallMs"] / 1000 if p.get("nodeWallMs") else None
print(json.dumps({
    "round": int(rnd),
    "order": order,
    "cli_wall_s": secs,
    "cli_cpu_s": user + system,
    "cli_max_rss_mb": rss / 1024,
    "page_wall_s": page_s,
    "page_node_wall_s": node_s,
    "page_load_s": p["loadMs"] / 1000 if p.get("loadMs") is not None else None,
    "page_running_after_s": p["runningAfterMs"] / 1000 if p.get("runningAfterMs") is not None else None,
    "ratio": page_s / secs if page_s and secs else None,
    # The page's estimate of its total time, made at 5 % of the work, over the real time.
    "eta_at_5_over_actual": (p["etaAt5Ms"] / p["wallMs"]) if p.get("etaAt5Ms") and p.get("wallMs") else None,
    "ratio_node": node_s / secs if node_s and secs else None,
    "bytes": same,
    "page_csv_bytes": p.get("bytes", {}),
}))
PY
}

# ---- rounds
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        order=cli,page
        run_cli "$r"
        run_page "$r"
    else
        order=page,cli
        run_page "$r"
        run_cli "$r"
    fi
    if compare "$r"; then
        same=identical
    else
        same=DIFFER
    fi
    record "$r" "$order" "$same"
    report row
    if [ "$same" != identical ]; then
        fail "round $r: the page's CSV bytes differ from the CLI's (files: $out/page, $out/cli)"
    fi
done

if grep -E '" [45][0-9][0-9] ' "$logs/server.log" >&2; then
    fail "the http server answered the requests above with an error status"
fi
report final
echo "page-study: ok: $rounds round(s), the page's plane.csv, metrics.csv and layers.csv equal the CLI's"
