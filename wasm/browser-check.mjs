// Browser check of the infoplane page through its Web Worker, driven by playwright-core.
// Called by browser-check.sh; run by hand as:
//
//   PLAYWRIGHT_CORE=/abs/node_modules/playwright-core CHROMIUM_PATH=/usr/bin/chromium \
//   BASE_URL=http://127.0.0.1:8000/ OUT_CSV=plane.csv SHOT_PREFIX=/tmp/shot node wasm/browser-check.mjs
//
// PLAYWRIGHT_CORE is the package directory: Node's ES modules ignore NODE_PATH, so the package is
// loaded with createRequire from that absolute path. BASE_URL serves wasm/www (with pkg/).
// QUERY (optional) is the run's query string; the default is the 60-epoch CI run.
//
// Checks, for a desktop (1280x900) and a phone (390x844) viewport: the run ends with
// body[data-state=done]; svg#plane has one circle per (measured epoch, layer) with finite
// data-ixt/data-ity and one poly-line per measured epoch; output#status reads "epochs N/N";
// pre#plane-csv holds the CSV; both viewports give the same CSV; the phone page does not scroll
// sideways; nothing logs a console error, throws, or fails a request. Then, if all that passed,
// a Stop test: a full preset run is stopped mid-way and must end in data-state=stopped (or done,
// if it was faster than the click) with a CSV to download.
// Writes OUT_CSV (plane.csv text) and SHOT_PREFIX-desktop.png, SHOT_PREFIX-phone.png; prints a
// JSON summary; exits 1 on any failed check.

import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import path from "node:path";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`browser-check.mjs: set ${name}`);
    process.exit(2);
  }
  return v;
};

const pwDir = path.resolve(env("PLAYWRIGHT_CORE"));
const require = createRequire(path.join(pwDir, "package.json"));
const { chromium } = require(pwDir);

const base = env("BASE_URL");
const query = env("QUERY", "preset=tishby&epochs=60&schedule=every:20&estimators=binning&seed=0&autostart=1");
const outCsv = process.env.OUT_CSV ?? "";
const shotPrefix = process.env.SHOT_PREFIX ?? "";
const expectCircles = Number(env("EXPECT_CIRCLES", "18"));
const expectEpochs = Number(env("EXPECT_EPOCHS", "3"));
const timeoutMs = Number(env("RUN_TIMEOUT_MS", "120000"));

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  return ok;
};

const browser = await chromium.launch({
  executablePath: env("CHROMIUM_PATH"),
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

/** Opens `url` in a fresh context and records console errors, page errors and failed requests. */
async function open(viewport, url, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(url, { waitUntil: "load" });
  return { context, page, problems };
}

const endStates = ["done", "stopped", "error"];
const waitEnd = (page) => page.waitForFunction(
  (states) => states.includes(document.body.dataset.state), endStates, { timeout: timeoutMs, polling: 100 },
);

/** Reads what the page drew and says. */
const readPage = (page) => page.evaluate(() => {
  const circles = [...document.querySelectorAll("#plane circle[data-epoch]")];
  const epochs = new Set(circles.map((c) => c.dataset.epoch));
  return {
    state: document.body.dataset.state,
    status: document.getElementById("status").textContent,
    error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
    circles: circles.length,
    epochs: epochs.size,
    finite: circles.every((c) => Number.isFinite(Number(c.dataset.ixt)) && Number.isFinite(Number(c.dataset.ity))),
    polylines: document.querySelectorAll("#plane g[data-curve] polyline").length,
    csv: document.getElementById("plane-csv").textContent,
    metricsCsv: document.getElementById("metrics-csv").textContent,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    downloadEnabled: !document.getElementById("dl-plane").disabled,
  };
});

const summary = {};
const url = new URL(`index.html?${query}`, base).href;
const csvs = [];
try {
  for (const [name, viewport, extra] of [
    ["desktop", { width: 1280, height: 900 }, {}],
    ["phone", { width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
  ]) {
    const t0 = Date.now();
    const { context, page, problems } = await open(viewport, url, extra);
    let r;
    try {
      await waitEnd(page);
      r = await readPage(page);
    } catch (e) {
      r = await readPage(page).catch(() => ({}));
      failures.push(`${name}: the run did not end within ${timeoutMs} ms (${e.message.split("\n")[0]})`);
    }
    const ms = Date.now() - t0;
    check(r.state === "done", `${name}: data-state is ${r.state}, not done${r.error ? ` (${r.error})` : ""}`);
    check(r.circles === expectCircles, `${name}: ${r.circles} circles with data-epoch, expected ${expectCircles}`);
    check(r.epochs === expectEpochs, `${name}: ${r.epochs} distinct epochs drawn, expected ${expectEpochs}`);
    check(r.polylines === expectEpochs, `${name}: ${r.polylines} epoch poly-lines, expected ${expectEpochs}`);
    check(r.finite === true, `${name}: a circle has a non-finite data-ixt or data-ity`);
    check(/\bepochs (\d+)\/\1\b/.test(r.status ?? ""), `${name}: status "${r.status}" does not read epochs N/N`);
    check((r.csv ?? "").startsWith("run,epoch,layer,estimator,i_xt_bits,i_ty_bits\n"), `${name}: #plane-csv lacks the plane.csv header`);
    check(r.downloadEnabled === true, `${name}: the download button is not enabled`);
    if (name === "phone") check(r.scrollWidth <= r.innerWidth, `phone: page is ${r.scrollWidth} px wide in a ${r.innerWidth} px viewport`);
    for (const p of problems) failures.push(`${name}: ${p}`);
    csvs.push(r.csv ?? "");
    if (shotPrefix) await page.screenshot({ path: `${shotPrefix}-${name}.png`, fullPage: true });
    summary[name] = { ms, state: r.state, status: r.status, circles: r.circles, epochs: r.epochs };
    await context.close();
  }
  check(csvs[0] === csvs[1], "desktop and phone runs gave different plane.csv");
  if (outCsv) writeFileSync(outCsv, csvs[0] ?? "");

  // Stop: a full preset run, stopped once some epochs are done, must end "stopped" with a CSV.
  if (failures.length === 0) {
    const { context, page, problems } = await open({ width: 1280, height: 900 },
      new URL("index.html?preset=tishby&estimators=binning&seed=0&autostart=1", base).href);
    try {
      await page.waitForFunction((states) => /epochs [1-9]\d*\//.test(document.getElementById("status").textContent)
        || states.includes(document.body.dataset.state), endStates, { timeout: timeoutMs, polling: 50 });
      await page.click("#stop");
      await waitEnd(page);
      const r = await readPage(page);
      check(r.state === "stopped" || r.state === "done", `stop: data-state is ${r.state}${r.error ? ` (${r.error})` : ""}`);
      check(r.csv.startsWith("run,epoch"), "stop: no plane.csv after Stop");
      check(r.downloadEnabled, "stop: the download button is not enabled after Stop");
      summary.stop = { state: r.state, status: r.status, circles: r.circles };
    } catch (e) {
      failures.push(`stop: ${e.message.split("\n")[0]}`);
    }
    for (const p of problems) failures.push(`stop: ${p}`);
    await context.close();
  }
} finally {
  await browser.close();
}

summary.failures = failures;
console.log(JSON.stringify(summary, null, 1));
process.exit(failures.length ? 1 : 0);
