// One timed run of the infoplane page (wasm/www) in headless Chromium, driven by playwright-core.
// Called by benches/page-study.sh once per round; run by hand as:
//
//   PLAYWRIGHT_CORE=/abs/node_modules/playwright-core CHROMIUM_PATH=/usr/bin/chromium \
//   URL='http://127.0.0.1:8000/index.html?preset=tishby&repeats=50&seed=0&workers=2&autostart=1' \
//   OUT_DIR=target/page-study/page OUT_JSON=/tmp/page.json node benches/page-study.mjs
//
// It opens URL in a fresh desktop context (1280x900), waits until body[data-state] is an end state
// (done | stopped | error), then reads body[data-wall-ms] (the page's own start-to-done wall time)
// and the text of pre#plane-csv, pre#metrics-csv and pre#layers-csv, and writes them to
// OUT_DIR/plane.csv, OUT_DIR/metrics.csv and OUT_DIR/layers.csv byte for byte. It also measures
// the wall time from node: from just before the navigation to the moment data-state became
// "done" (taken in the page by a MutationObserver, so it does not depend on the polling).
//
// It does not hang on a broken page: it gives up when the page is not "running" within
// START_TIMEOUT_MS of loading, when the run has not ended within RUN_TIMEOUT_MS, when the page
// crashes, and GRACE_MS after the first console error, page error, failed request or HTTP error
// (the page gets that long to settle into "error"). Every such problem is printed to stderr as it
// happens, and a progress line (data-state, output#status) every PROGRESS_MS.
//
// Environment: PLAYWRIGHT_CORE (package directory; ES modules ignore NODE_PATH, so it is loaded
// with createRequire from that absolute path), CHROMIUM_PATH, URL, OUT_DIR (optional: no files
// without it), OUT_JSON (optional: the summary also goes there), RUN_TIMEOUT_MS (default 30 min),
// START_TIMEOUT_MS (default 120 s), GRACE_MS (default 10 s), PROGRESS_MS (default 30 s).
//
// Prints a JSON summary on stdout: ok, state, wallMs (data-wall-ms), nodeWallMs, loadMs (until
// the load event), runningAfterMs (navigation to data-state=running), status, error (p#error),
// problems (console errors, page errors, failed requests), failures, bytes of each CSV, and
// browserVersion. Exit status: 0 when the page reached "done" with a data-wall-ms and all three
// CSVs and nothing logged a console error or failed; 1 otherwise; 2 on bad usage.

import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`page-study.mjs: set ${name}`);
    process.exit(2);
  }
  return v;
};
const envMs = (name, fallback) => {
  const v = Number(env(name, String(fallback)));
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`page-study.mjs: ${name} must be a positive number of milliseconds`);
    process.exit(2);
  }
  return v;
};

const pwDir = path.resolve(env("PLAYWRIGHT_CORE"));
const require = createRequire(path.join(pwDir, "package.json"));
const { chromium } = require(pwDir);

const url = env("URL");
const chromiumPath = env("CHROMIUM_PATH");
const outDir = process.env.OUT_DIR ?? "";
const outJson = process.env.OUT_JSON ?? "";
const runTimeoutMs = envMs("RUN_TIMEOUT_MS", 30 * 60 * 1000);
const startTimeoutMs = envMs("START_TIMEOUT_MS", 120 * 1000);
const graceMs = envMs("GRACE_MS", 10 * 1000);
const progressMs = envMs("PROGRESS_MS", 30 * 1000);

const CSVS = [["plane", "plane-csv"], ["metrics", "metrics-csv"], ["layers", "layers-csv"]];
const END_STATES = ["done", "stopped", "error"];

const log = (msg) => console.error(`page-study.mjs: ${msg}`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const summary = {
  ok: false,
  url,
  state: null,
  wallMs: null,
  nodeWallMs: null,
  loadMs: null,
  runningAfterMs: null,
  status: "",
  error: "",
  states: [],
  problems: [],
  failures: [],
  bytes: {},
  browserVersion: null,
};
const problems = summary.problems;
const failures = summary.failures;
let firstProblemAt = null;
const problem = (what) => {
  problems.push(what);
  if (firstProblemAt === null) firstProblemAt = Date.now();
  log(`PROBLEM: ${what}`);
};

// Records every data-state change with Date.now() (the same clock as node's), from inside the page.
const initScript = () => {
  const rec = { states: [] };
  window.__pageStudy = rec;
  let last;
  const look = () => {
    const s = document.body?.dataset.state;
    if (s !== undefined && s !== last) {
      last = s;
      rec.states.push({ state: s, at: Date.now() });
    }
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
};

/** What the page says now; never throws (a crashed or navigating page gives {}). */
const readState = (page) => page.evaluate(() => {
  const err = document.getElementById("error");
  const status = document.getElementById("status");
  return {
    state: document.body?.dataset.state ?? null,
    wallMs: document.body?.dataset.wallMs ?? null,
    etaAt5: document.body?.dataset.etaAt5 ?? null,
    etaAt5Elapsed: document.body?.dataset.etaAt5Elapsed ?? null,
    status: status ? status.textContent : "",
    error: err && !err.hidden ? err.textContent.trim() : "",
    states: window.__pageStudy?.states ?? [],
  };
}).catch((e) => ({ evaluateError: e.message.split("\n")[0] }));

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
});
summary.browserVersion = browser.version();

let exitCode = 1;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(initScript);
  const page = await context.newPage();
  let crashed = false;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const where = m.worker() ? ` [worker ${m.worker().url()}]` : "";
    const loc = m.location();
    const at = loc?.url ? ` (${loc.url}:${loc.lineNumber})` : "";
    problem(`console error${where}: ${m.text()}${at}`);
  });
  page.on("pageerror", (e) => problem(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problem(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => { if (r.status() >= 400) problem(`HTTP ${r.status()}: ${r.url()}`); });
  page.on("crash", () => { crashed = true; problem("the page crashed (renderer process died; out of memory?)"); });
  page.on("worker", (w) => log(`worker started: ${w.url()}`));

  log(`opening ${url}`);
  const t0 = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 120 * 1000 });
  summary.loadMs = Date.now() - t0;

  // Poll until an end state, a crash, a problem plus grace, or a timeout.
  let r = {};
  let lastProgress = Date.now();
  let lastLine = "";
  let why = null;
  for (;;) {
    r = await readState(page);
    const now = Date.now();
    if (END_STATES.includes(r.state)) break;
    if (crashed) { why = "the page crashed"; break; }
    if (firstProblemAt !== null && now - firstProblemAt >= graceMs) {
      why = `a problem was reported ${seconds(now - firstProblemAt)} ago and the page did not end`;
      break;
    }
    if (r.state !== "running" && !(r.states ?? []).some((s) => s.state === "running") && now - t0 >= startTimeoutMs) {
      why = `the run did not start within ${seconds(startTimeoutMs)} of navigation`;
      break;
    }
    if (now - t0 >= runTimeoutMs) { why = `the run did not end within ${seconds(runTimeoutMs)}`; break; }
    if (now - lastProgress >= progressMs) {
      const line = `data-state=${r.state ?? "(none)"} status: ${(r.status ?? "").trim() || "(empty)"}`;
      log(`${seconds(now - t0)}: ${line}${line === lastLine ? " (unchanged)" : ""}`);
      lastLine = line;
      lastProgress = now;
    }
    await sleep(crashed || r.evaluateError ? 1000 : 100);
  }
  const detectedAt = Date.now();

  summary.state = r.state ?? null;
  summary.status = (r.status ?? "").trim();
  summary.error = r.error ?? "";
  summary.states = (r.states ?? []).map((s) => ({ state: s.state, ms: s.at - t0 }));
  const running = (r.states ?? []).find((s) => s.state === "running");
  if (running) summary.runningAfterMs = running.at - t0;
  if (r.evaluateError) failures.push(`could not read the page: ${r.evaluateError}`);
  if (why) failures.push(why);

  if (r.state === "done") {
    const done = (r.states ?? []).find((s) => s.state === "done");
    summary.nodeWallMs = (done ? done.at : detectedAt) - t0;
    const wall = Number(r.wallMs);
    if (r.wallMs === null || r.wallMs === undefined || r.wallMs === "" || !Number.isFinite(wall) || wall <= 0) {
      failures.push(`body[data-wall-ms] is ${JSON.stringify(r.wallMs)}, not a positive number of milliseconds`);
    } else {
      summary.wallMs = wall;
    }
    // The page's time estimate made once 5 % of the work was done: predicted total wall ms.
    summary.etaAt5Ms = r.etaAt5 == null ? null : Number(r.etaAt5);
    summary.etaAt5ElapsedMs = r.etaAt5Elapsed == null ? null : Number(r.etaAt5Elapsed);
    const texts = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => {
      const e = document.getElementById(id);
      return [id, e ? e.textContent : null];
    })), CSVS.map(([, id]) => id)).catch((e) => {
      failures.push(`could not read the CSVs: ${e.message.split("\n")[0]}`);
      return {};
    });
    if (outDir) mkdirSync(outDir, { recursive: true });
    for (const [name, id] of CSVS) {
      const text = texts[id];
      if (text === null || text === undefined) {
        failures.push(`the page has no pre#${id}`);
        continue;
      }
      if (text === "") failures.push(`pre#${id} is empty`);
      summary.bytes[name] = Buffer.byteLength(text, "utf8");
      if (outDir) writeFileSync(path.join(outDir, `${name}.csv`), text);
    }
  } else {
    failures.push(`data-state is ${JSON.stringify(r.state ?? null)}, not "done"`
      + (summary.error ? `; p#error: ${summary.error}` : "; p#error is empty or hidden")
      + (summary.status ? `; output#status: ${summary.status}` : ""));
  }
  if (problems.length) failures.push(`${problems.length} console error(s), page error(s) or failed request(s) (see problems)`);
  await context.close();
  summary.ok = failures.length === 0;
  exitCode = summary.ok ? 0 : 1;
} catch (e) {
  failures.push(`playwright: ${e.message.split("\n")[0]}`);
} finally {
  await browser.close().catch(() => {});
}

const json = JSON.stringify(summary, null, 1);
if (outJson) writeFileSync(outJson, `${json}\n`);
console.log(json);
for (const f of failures) log(`FAIL: ${f}`);
process.exit(exitCode);
