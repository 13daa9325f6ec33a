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
// With STUDY_DIR set, a study next: STUDY_QUERY (default: tishby, 60 epochs, every:20, binning and
// kde-upper, seeds 0-3 on 2 Web Workers, --overlay) at both widths must end done with two workers
// started, every point the mean of all seeds, and the run's files (CSV files, summaries, figures,
// manifest.json), which are written to STUDY_DIR for the caller to compare with the CLI's; on the
// phone, while it runs with the plane scrolled into view, the progress must be pinned to the top.
// Screenshots: SHOT_PREFIX-study-{desktop,phone}-{plane,overlay,settings}.png and
// SHOT_PREFIX-study-phone-running.png. On the desktop, the study is then pinned and a ReLU run
// overlaid on it (SHOT_PREFIX-study-desktop-pinned.png), and the view saved as SVG. Then three
// files (an .npy layer, CSV labels and inputs) are put on the page and estimated with binning,
// kde-upper and ksg: the files and the page's estimate.csv go to STUDY_DIR/drop/
// (SHOT_PREFIX-drop-desktop.png).
// Writes OUT_CSV (plane.csv text) and SHOT_PREFIX-desktop.png, SHOT_PREFIX-phone.png; prints a
// JSON summary; exits 1 on any failed check.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
const studyDir = process.env.STUDY_DIR ?? "";
const studyQuery = env("STUDY_QUERY",
  "preset=tishby&epochs=60&schedule=every:20&estimator=binning,kde-upper&seed=0&repeats=4&workers=2&overlay=1&autostart=1");

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
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...extra });
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
    downloads: [...document.querySelectorAll("#downloads button")].map((b) => b.textContent),
    runs: circles.map((c) => Number(c.dataset.runs)),
    wallMs: Number(document.body.dataset.wallMs),
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
    check((r.downloads ?? []).includes("plane.csv") && r.downloads.includes("manifest.json") && r.downloads.includes("summary.csv"),
      `${name}: the downloads are ${JSON.stringify(r.downloads)}, without plane.csv, summary.csv and manifest.json`);
    if (name === "phone") check(r.scrollWidth <= r.innerWidth, `phone: page is ${r.scrollWidth} px wide in a ${r.innerWidth} px viewport`);
    for (const p of problems) failures.push(`${name}: ${p}`);
    csvs.push(r.csv ?? "");
    if (shotPrefix) await page.screenshot({ path: `${shotPrefix}-${name}.png`, fullPage: true });
    summary[name] = { ms, state: r.state, status: r.status, circles: r.circles, epochs: r.epochs };
    await context.close();
  }
  check(csvs[0] === csvs[1], "desktop and phone runs gave different plane.csv");
  if (outCsv) writeFileSync(outCsv, csvs[0] ?? "");

  // The study: several seeds on two Web Workers, the averaged plane, the run's files (written to
  // STUDY_DIR for the caller to compare with the CLI's), and screenshots of the averaged plane,
  // the estimator overlay and the settings at desktop and phone width.
  if (studyDir && failures.length === 0) {
    const studyUrl = new URL(`index.html?${studyQuery}`, base).href;
    const seeds = Number(new URLSearchParams(studyQuery).get("repeats"));
    const wantWorkers = Math.min(seeds, Number(new URLSearchParams(studyQuery).get("workers")));
    for (const [name, viewport, extra] of [
      ["desktop", { width: 1280, height: 900 }, {}],
      ["phone", { width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
    ]) {
      const { context, page, problems } = await open(viewport, studyUrl, extra);
      let workers = 0;
      page.on("worker", () => { workers += 1; });
      // Workers may start before the listener: count them from the page's own list too.
      let r = {};
      try {
        // While it runs on a phone, the progress is pinned to the top once the plane is in view.
        if (name === "phone") {
          await page.waitForFunction(() => document.body.dataset.state !== "idle", null, { timeout: timeoutMs });
          await page.evaluate(() => document.getElementById("plane-heading").scrollIntoView());
          await page.waitForTimeout(300);
          const mini = await page.evaluate(() => ({
            state: document.body.dataset.state,
            shown: !document.getElementById("mini").hidden,
            top: document.getElementById("mini").getBoundingClientRect().top,
          }));
          if (mini.state === "running") {
            check(mini.shown && mini.top === 0, `phone: the progress is not pinned to the top while the plane is in view (${JSON.stringify(mini)})`);
            if (shotPrefix) await page.screenshot({ path: `${shotPrefix}-study-phone-running.png` });
          }
        }
        await waitEnd(page);
        r = await readPage(page);
      } catch (e) {
        failures.push(`study ${name}: the run did not end within ${timeoutMs} ms (${e.message.split("\n")[0]})`);
      }
      const files = await page.evaluate(() => window.infoplaneFiles ?? []);
      check(r.state === "done", `study ${name}: data-state is ${r.state}${r.error ? ` (${r.error})` : ""}`);
      check((r.runs ?? []).length > 0 && r.runs.every((n) => n === seeds), `study ${name}: not every point is the mean of ${seeds} seeds`);
      check(r.finite === true, `study ${name}: a circle has a non-finite data-ixt or data-ity`);
      check(workers >= wantWorkers, `study ${name}: ${workers} Web Workers started, expected ${wantWorkers}`);
      check(Number.isFinite(r.wallMs) && r.wallMs > 0, `study ${name}: no data-wall-ms`);
      const names = files.map((f) => f[0]);
      for (const want of ["plane.csv", "metrics.csv", "layers.csv", "summary.csv", "manifest.json", "plane.svg", "plane-overlay.svg"]) {
        check(names.includes(want), `study ${name}: the run has no ${want} (it has ${names.join(", ")})`);
      }
      if (name === "phone") check(r.scrollWidth <= r.innerWidth, `study phone: page is ${r.scrollWidth} px wide in a ${r.innerWidth} px viewport`);
      for (const p of problems) failures.push(`study ${name}: ${p}`);
      if (name === "desktop") {
        mkdirSync(studyDir, { recursive: true });
        for (const [file, text] of files) writeFileSync(path.join(studyDir, file), text);
      }
      if (shotPrefix) {
        await page.locator("section.figure").screenshot({ path: `${shotPrefix}-study-${name}-plane.png` });
        await page.selectOption("#figure-select", "plane-overlay.svg");
        await page.waitForFunction(() => document.getElementById("figure-img").complete
          && document.getElementById("figure-img").naturalWidth > 0, null, { timeout: 10000 });
        await page.locator("#figures-card").screenshot({ path: `${shotPrefix}-study-${name}-overlay.png` });
        await page.evaluate(() => { document.getElementById("more").open = true; });
        await page.locator("#controls").screenshot({ path: `${shotPrefix}-study-${name}-settings.png` });
      }
      if (name === "desktop" && r.state === "done") {
        // Pin the study and overlay the next run (ReLU, one seed): the pinned curves stay in grey.
        try {
          await page.click("#pin");
          await page.selectOption("#activation", "relu");
          await page.fill("#repeats", "1");
          await page.click("#train");
          await waitEnd(page);
          const pinned = await page.evaluate(() => ({
            state: document.body.dataset.state,
            lines: document.querySelectorAll("#plane .pinned polyline").length,
            live: document.querySelectorAll("#plane .curves circle[data-epoch]").length,
            title: document.getElementById("plane-title").textContent,
          }));
          check(pinned.state === "done", `pinned: the second run ended ${pinned.state}`);
          check(pinned.lines > 0 && pinned.live > 0, `pinned: ${pinned.lines} pinned lines and ${pinned.live} points of the new run`);
          check(/relu/.test(pinned.title), `pinned: the title "${pinned.title}" does not name relu`);
          const [download] = await Promise.all([page.waitForEvent("download"), page.click("#view-svg")]);
          const svgPath = `${shotPrefix || "/tmp/infoplane-check"}-study-desktop-view.svg`;
          await download.saveAs(svgPath);
          const svgText = readFileSync(svgPath, "utf8");
          check(svgText.includes("<svg") && svgText.includes("pinned"), "pinned: the saved view is not an SVG with the pinned run");
          if (shotPrefix) await page.locator("section.figure").screenshot({ path: `${shotPrefix}-study-desktop-pinned.png` });
          summary.pinned = pinned;
        } catch (e) {
          failures.push(`pinned: ${e.message.split("\n")[0]}`);
        }
      }
      summary[`study-${name}`] = { state: r.state, status: r.status, workers, wallMs: r.wallMs, files: names.length };
      await context.close();
    }
  }

  // Your own activations: three files put on the page (an .npy layer, CSV labels and inputs)
  // and estimated there; the files and the page's estimate.csv go to STUDY_DIR/drop for the
  // caller to run `infoplane estimate` on them and compare.
  if (studyDir && failures.length === 0) {
    const dropDir = path.join(studyDir, "drop");
    mkdirSync(dropDir, { recursive: true });
    const rows = 512;
    const cols = 4;
    const t = new Float32Array(rows * cols);
    // The inputs are 16 patterns; each layer unit depends on them, plus a little per-row jitter;
    // the label is a function of the inputs, so both informations are well above 0.
    const xOf = (i) => [i % 2, (i >> 1) % 2, (i >> 2) % 4];
    for (let i = 0; i < rows; i++) {
      const [a, b, c] = xOf(i);
      for (let j = 0; j < cols; j++) {
        t[i * cols + j] = Math.fround(Math.tanh(0.9 * a - 1.1 * b * (j - 1.5) + 0.45 * c * (j % 2 ? 1 : -1) + 0.03 * ((i * 13 + j * 5) % 7)));
      }
    }
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
    while ((10 + header.length + 1) % 64 !== 0) header += " ";
    header += "\n";
    const npy = Buffer.concat([
      Buffer.from([0x93]), Buffer.from("NUMPY"), Buffer.from([1, 0]),
      Buffer.from(Uint16Array.of(header.length).buffer), Buffer.from(header, "latin1"),
      Buffer.from(t.buffer),
    ]);
    const files = {
      "layer3_T.npy": npy,
      "labels.csv": Buffer.from(Array.from({ length: rows }, (_, i) => `${(xOf(i)[0] + xOf(i)[2]) % 3}\n`).join("")),
      "inputs.csv": Buffer.from(Array.from({ length: rows }, (_, i) => `${xOf(i).join(",")}\n`).join("")),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dropDir, name), bytes);
    const { context, page, problems } = await open({ width: 1280, height: 900 }, new URL("index.html", base).href);
    try {
      await page.waitForFunction(() => document.querySelectorAll("#drop-estimators input").length > 0, null, { timeout: 30000 });
      await page.setInputFiles("#drop-input", Object.keys(files).map((n) => path.join(dropDir, n)));
      await page.waitForFunction(() => document.querySelectorAll(".drop-file").length === 3, null, { timeout: 10000 });
      const roles = await page.evaluate(() => [...document.querySelectorAll(".drop-file")]
        .map((r) => `${r.querySelector(".name").textContent}=${r.querySelector("select").value}`));
      check(roles.join(" ") === "layer3_T.npy=activations labels.csv=labels inputs.csv=inputs", `drop: roles guessed ${roles.join(" ")}`);
      for (const e of ["binning", "kde-upper", "ksg"]) await page.check(`#drop-estimators input[value="${e}"]`);
      await page.click("#drop-run");
      await page.waitForFunction(() => document.getElementById("estimate-csv") || !document.getElementById("drop-error").hidden,
        null, { timeout: timeoutMs });
      const r = await page.evaluate(() => ({
        csv: document.getElementById("estimate-csv")?.textContent ?? "",
        error: document.getElementById("drop-error").hidden ? "" : document.getElementById("drop-error").textContent,
        rows: document.querySelectorAll("#drop-table tr[data-estimator]").length,
      }));
      check(r.error === "", `drop: ${r.error}`);
      check(r.rows === 3, `drop: ${r.rows} result rows, expected 3`);
      writeFileSync(path.join(dropDir, "estimate-page.csv"), r.csv);
      if (shotPrefix) await page.locator("#drop-card").screenshot({ path: `${shotPrefix}-drop-desktop.png` });
      summary.drop = { roles, rows: r.rows };
    } catch (e) {
      failures.push(`drop: ${e.message.split("\n")[0]}`);
    }
    for (const p of problems) failures.push(`drop: ${p}`);
    await context.close();
  }

  // Stop: a full preset run, stopped once some epochs are done, must end "stopped" with a CSV.
  if (failures.length === 0) {
    const { context, page, problems } = await open({ width: 1280, height: 900 },
      new URL("index.html?preset=tishby&estimator=binning&seed=0&autostart=1", base).href);
    try {
      await page.waitForFunction((states) => /epochs [1-9]\d*\//.test(document.getElementById("status").textContent)
        || states.includes(document.body.dataset.state), endStates, { timeout: timeoutMs, polling: 50 });
      await page.click("#stop");
      await waitEnd(page);
      const r = await readPage(page);
      check(r.state === "stopped" || r.state === "done", `stop: data-state is ${r.state}${r.error ? ` (${r.error})` : ""}`);
      check(r.csv.startsWith("run,epoch"), "stop: no plane.csv after Stop");
      check(r.downloads.includes("plane.csv"), "stop: no plane.csv to download after Stop");
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
