#!/usr/bin/env bash
# Browser check of the infoplane page (wasm/www) in headless Chromium.
#
#   wasm/browser-check.sh PLANE_CSV_OUT SCREENSHOT_PNG [STUDY_DIR]
#
# Run it after the wasm build and `wasm-bindgen --target web --out-dir wasm/www/pkg ...`. It
# serves wasm/www on a free 127.0.0.1 port and opens
#   index.html?preset=tishby&epochs=60&schedule=every:20&estimators=binning&seed=0&autostart=1
# (the CLI run `infoplane run --preset tishby --epochs 60 --schedule every:20 --seed 0`).
#
# 1. `chromium --dump-dom` with --virtual-time-budget. The virtual clock does not wait for Web
#    Workers, so this pass adds `&worker=0`: the page trains on its own thread with the same
#    loop (session-loop.js). Checks: body[data-state=done]; 18 <circle data-epoch> in svg#plane
#    (3 measured epochs x 6 layers); output#status reads "epochs 60/60". Writes the text of
#    pre#plane-csv to PLANE_CSV_OUT, for CI to `cmp` with the CLI's plane.csv.
# 2. `chromium --screenshot` of the finished page at phone width (390x1700: tall enough for the
#    settings and the plane) to SCREENSHOT_PNG, and at desktop width (1280x900) to
#    SCREENSHOT_PNG with "-desktop" before ".png".
# 3. The same run through the Web Worker, driven by playwright-core (browser-check.mjs): the
#    run must end "done" at desktop and phone width, draw the same points, give the same CSV as
#    pass 1, log no console error or failed request, fit the phone width, and stop on Stop.
#    Screenshots go next to SCREENSHOT_PNG ("-worker-desktop.png", "-worker-phone.png").
#    With STUDY_DIR, the study pass of browser-check.mjs too: seeds 0-3 of the same run with
#    binning and kde-upper on two Web Workers (`infoplane run --preset tishby --epochs 60
#    --schedule every:20 --seed 0 --repeats 4 --estimator binning --estimator kde-upper
#    --overlay`), whose files go to STUDY_DIR for the caller to compare with the CLI's, with
#    screenshots of the averaged plane, the overlay and the settings at both widths.
#    playwright-core comes from $PLAYWRIGHT_CORE (its package directory) or is installed with
#    `npm install --no-save --prefix "$TOOLS" playwright-core@1.65.1`; if neither works this
#    pass prints SKIP.
# The python3 server's log must show no 4xx/5xx response.
#
# Environment: CHROMIUM (browser binary; default: chromium, chromium-browser, google-chrome on
# PATH, else `apt-get install -y chromium chromium-driver` when root), TOOLS (default
# target/ci-tools), PLAYWRIGHT_CORE, INFOPLANE_WWW (directory to serve; default wasm/www),
# BROWSER_CHECK_NO_INSTALL=1 (never run apt-get or npm).
# Exit status: 0 when every check that could run passed (no Chromium: prints SKIP, exits 0);
# 1 when a check failed; 2 on bad usage or a missing wasm/www/pkg.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
www=${INFOPLANE_WWW:-$here/www}
tools=${TOOLS:-$repo/target/ci-tools}
no_install=${BROWSER_CHECK_NO_INSTALL:-0}

if [ $# -ne 2 ] && [ $# -ne 3 ]; then
    echo "usage: $0 PLANE_CSV_OUT SCREENSHOT_PNG [STUDY_DIR]" >&2
    exit 2
fi
plane_out=$1
shot=$2
study_dir=${3:-}
case $shot in
    *.png) shot_base=${shot%.png} ;;
    *) shot_base=$shot ;;
esac

if [ ! -f "$www/index.html" ] || [ ! -f "$www/pkg/infoplane_wasm.js" ]; then
    echo "error: $www/pkg/infoplane_wasm.js is missing: build the wasm crate and run wasm-bindgen --target web --out-dir wasm/www/pkg first" >&2
    exit 2
fi

# ---- find (or install) Chromium
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
if [ -z "$chromium_bin" ] && [ "$no_install" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "browser-check: installing chromium with apt-get"
    if apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver >/dev/null 2>&1; then
        chromium_bin=$(find_chromium)
    fi
fi
if [ -z "$chromium_bin" ]; then
    echo "SKIP: browser check: no Chromium found and none could be installed"
    exit 0
fi
echo "browser-check: $("$chromium_bin" --version 2>/dev/null | tail -n 1)"

# ---- serve wasm/www
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www" >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port/"
for _ in $(seq 100); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "${base}index.html" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the http server did not start:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

query=${QUERY:-"preset=tishby&epochs=60&schedule=every:20&estimators=binning&seed=0&autostart=1"}
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --virtual-time-budget=20000)

# Runs chromium with a fresh profile and a hard time limit. Output goes to files, never to a
# pipe (with pipefail an early-exiting reader would kill chromium with SIGPIPE).
run_chromium() {
    local profile
    profile=$(mktemp -d "$work/profile.XXXXXX")
    timeout -k 10 180 "$chromium_bin" "${flags[@]}" --user-data-dir="$profile" "$@" 2>>"$work/chromium.log"
}

failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}

# ---- 1. --dump-dom (page-thread training)
echo "browser-check: dump-dom ${base}index.html?$query&worker=0"
if ! run_chromium --window-size=1280,900 --dump-dom "${base}index.html?$query&worker=0" >"$work/dom.html"; then
    fail "chromium --dump-dom failed (see its log below)"
    tail -n 20 "$work/chromium.log" >&2 || true
fi
if ! python3 - "$work/dom.html" "$plane_out" <<'PY'
import re
import sys
from html.parser import HTMLParser


class Dom(HTMLParser):
    """Collects body[data-state], plane circles, output#status and pre#plane-csv."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.state = None
        self.in_plane = 0
        self.circles = []
        self.capture = None
        self.text = {"status": [], "plane-csv": [], "error": []}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.state = a.get("data-state")
        if tag == "svg" and a.get("id") == "plane":
            self.in_plane += 1
        if tag == "circle" and self.in_plane and "data-epoch" in a:
            self.circles.append(a)
        if a.get("id") in self.text:
            self.capture = a["id"]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "svg" and self.in_plane:
            self.in_plane -= 1
        if tag in ("output", "pre", "p"):
            self.capture = None

    def handle_data(self, data):
        if self.capture:
            self.text[self.capture].append(data)


dom_path, csv_path = sys.argv[1], sys.argv[2]
with open(dom_path, encoding="utf-8") as f:
    html = f.read()
d = Dom()
d.feed(html)
status = "".join(d.text["status"]).strip()
csv = "".join(d.text["plane-csv"])
error = "".join(d.text["error"]).strip()
problems = []
if d.state != "done":
    problems.append(f"body data-state is {d.state!r}, not 'done'" + (f" (page error: {error})" if error else ""))
if len(d.circles) != 18:
    problems.append(f"{len(d.circles)} circles with data-epoch in svg#plane, expected 18 (3 epochs x 6 layers)")
epochs = sorted({int(float(c["data-epoch"])) for c in d.circles})
if epochs != [0, 20, 40]:
    problems.append(f"drawn epochs {epochs}, expected [0, 20, 40]")
layers = sorted({int(float(c["data-layer"])) for c in d.circles})
if layers != [1, 2, 3, 4, 5, 6]:
    problems.append(f"drawn layers {layers}, expected 1..6")
for c in d.circles:
    for k in ("data-ixt", "data-ity"):
        try:
            float(c[k])
        except (KeyError, ValueError):
            problems.append(f"circle without a number in {k}: {c}")
            break
if not re.search(r"\bepochs 60/60\b", status):
    problems.append(f"output#status reads {status!r}, expected 'epochs 60/60'")
if not csv.startswith("run,epoch,layer,estimator,i_xt_bits,i_ty_bits\n"):
    problems.append("pre#plane-csv does not start with the plane.csv header")
elif len(csv.splitlines()) != 19:
    problems.append(f"pre#plane-csv has {len(csv.splitlines())} lines, expected 19")
with open(csv_path, "w", encoding="utf-8", newline="") as f:
    f.write(csv)
for p in problems:
    print(f"FAIL: dump-dom: {p}", file=sys.stderr)
if not problems:
    print(f"browser-check: dump-dom ok: {len(d.circles)} points, status {status!r}, plane.csv {len(csv)} bytes")
sys.exit(1 if problems else 0)
PY
then
    failed=1
fi

# ---- 2. --screenshot at phone and desktop width (page-thread training, finished)
shoot() {
    local size=$1 out=$2
    if run_chromium --window-size="$size" --hide-scrollbars --screenshot="$out" "${base}index.html?$query&worker=0" >/dev/null \
        && [ -s "$out" ]; then
        echo "browser-check: screenshot $size -> $out"
    else
        fail "chromium --screenshot $size did not write $out"
    fi
}
shoot 390,1700 "$shot"
shoot 1280,900 "$shot_base-desktop.png"

# ---- 3. the Web Worker path, with playwright-core
pw=${PLAYWRIGHT_CORE:-}
if [ -z "$pw" ] && [ -f "$tools/node_modules/playwright-core/package.json" ]; then
    pw=$tools/node_modules/playwright-core
fi
if [ -z "$pw" ] && [ "$no_install" != 1 ] && command -v npm >/dev/null 2>&1; then
    mkdir -p "$tools"
    if npm install --no-save --no-audit --no-fund --prefix "$tools" playwright-core@1.65.1 >"$work/npm.log" 2>&1 \
        && [ -f "$tools/node_modules/playwright-core/package.json" ]; then
        pw=$tools/node_modules/playwright-core
    else
        tail -n 5 "$work/npm.log" >&2 || true
    fi
fi
if [ -z "$pw" ] || ! command -v node >/dev/null 2>&1; then
    echo "SKIP: worker check: playwright-core (or node) is not available"
else
    pw=$(cd "$pw" && pwd)
    echo "browser-check: worker path with playwright-core ($pw)"
    if PLAYWRIGHT_CORE=$pw CHROMIUM_PATH=$chromium_bin BASE_URL=$base QUERY=$query \
        OUT_CSV="$work/plane-worker.csv" SHOT_PREFIX="$shot_base-worker" STUDY_DIR="$study_dir" \
        timeout -k 10 600 node "$here/browser-check.mjs" >"$work/pw.json" 2>"$work/pw.log"; then
        echo "browser-check: worker path ok"
    else
        fail "worker path (browser-check.mjs):"
        cat "$work/pw.json" "$work/pw.log" >&2 || true
    fi
    if [ -f "$work/plane-worker.csv" ] && ! cmp -s "$work/plane-worker.csv" "$plane_out"; then
        fail "the worker run's plane.csv differs from the dump-dom run's"
    fi
fi

# ---- the server saw no error responses
if grep -E '" [45][0-9][0-9] ' "$work/server.log" >&2; then
    fail "the http server answered requests above with an error status"
fi

if [ "$failed" != 0 ]; then
    exit 1
fi
echo "browser-check: ok"
