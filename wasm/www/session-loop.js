// The training loop shared by worker.js (normal use) and main.js's in-page mode (?worker=0,
// for headless `--dump-dom` checks, whose virtual clock does not wait for Web Workers).
//
// Messages in:   {type: "start", options, index}   seed number `index` of the run that
//                                                  `infoplane run <options>` makes
//                {type: "stop"}            finish after the current step, then send "done"
// Messages out:  {type: "started", index, seed, totalEpochs, nLayers, estimatorNames}
//                {type: "progress", index, points, metrics, epochsDone, totalEpochs, elapsedMs, trainMs, measureMs}
//                {type: "done", index, points, metrics, epochsDone, totalEpochs, elapsedMs, trainMs,
//                 measureMs, stopped, planeCsv, metricsCsv, layersCsv}
//                {type: "error", index, error[, planeCsv, metricsCsv, layersCsv]}   (the seed is over)
// After "done" or "error" the runner takes the next "start" (a worker runs seed after seed).
//
// Estimating dropped files:
//   in:  {type: "estimate", options, names, contents}   (`infoplane estimate` options; the
//        files' names and bytes, Uint8Arrays)
//   out: {type: "estimated", csv, warnings} or {type: "error", error}
// `points` and `metrics` are Float64Arrays, each owning its buffer (listed in `transfer`):
// flat groups of 5, [epoch, layer, estimatorIndex, i_xt_bits, i_ty_bits] and
// [epoch, train_loss, train_acc, test_loss, test_acc].

/** Wall-clock time one `step` call should take, in ms: short enough for a prompt Stop. */
const TARGET_STEP_MS = 75;
/** Largest factor by which the epochs per step may grow from one step to the next. */
const MAX_GROWTH = 4;

/** The message of anything thrown (wasm-bindgen throws `Error`s; a panic is a RuntimeError). */
function messageOf(e) {
  if (e instanceof Error) return e.message || String(e);
  return String(e);
}

/** A Float64Array that owns its whole buffer, so transferring it detaches nothing else. */
function owned(a) {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength ? a : a.slice();
}

/** The wasm module, loaded once per runner's thread. */
let modulePromise = null;
function loadModule() {
  modulePromise ??= import("./pkg/infoplane_wasm.js").then(async (wasm) => {
    await wasm.default();
    return wasm;
  });
  return modulePromise;
}

/**
 * A runner of sessions, one at a time. `post(msg, transfer)` delivers messages out; feed
 * messages in with `handle(msg)`. A "start" while a session runs is refused; the runner is
 * free again when it posts the session's "done" or "error".
 */
export function createRunner(post) {
  let busy = false;
  let stopRequested = false;

  async function run(cfg) {
    const index = cfg.index >>> 0;
    let wasm;
    try {
      wasm = await loadModule();
    } catch (e) {
      busy = false;
      post({
        type: "error",
        index,
        error: `could not load the WebAssembly module (pkg/infoplane_wasm.js): ${messageOf(e)}`,
      });
      return;
    }

    let session;
    let total;
    try {
      session = wasm.Session.fromArgs(cfg.options, index);
      total = session.totalEpochs();
      post({
        type: "started",
        index,
        seed: session.seed(),
        totalEpochs: total,
        nLayers: session.nLayers(),
        estimatorNames: session.estimatorNames(),
      });
    } catch (e) {
      busy = false;
      post({ type: "error", index, error: messageOf(e) });
      return;
    }

    const t0 = performance.now();
    let k = 1;


    const take = () => ({
      points: owned(session.takePoints()),
      metrics: owned(session.takeMetrics()),
    });

    const loop = () => {
      try {
        if (stopRequested || session.done()) {
          const { points, metrics } = take();
          const msg = {
            type: "done",
            index,
            points,
            metrics,
            epochsDone: session.epochsDone(),
            totalEpochs: total,
            elapsedMs: performance.now() - t0,
            trainMs: session.trainMs(),
            measureMs: session.measureMs(),
            stopped: !session.done(),
            planeCsv: session.planeCsv(),
            metricsCsv: session.metricsCsv(),
            layersCsv: session.layersCsv(),
          };
          session.free();
          busy = false;
          post(msg, [points.buffer, metrics.buffer]);
          return;
        }
        const a = performance.now();
        const epochsDone = session.step(k);
        const dt = performance.now() - a;
        // Aim the next step at TARGET_STEP_MS. Measured epochs cost far more than the others,
        // so the right k changes along a run; grow at most MAX_GROWTH times per step.
        const ideal = dt > 0.5 ? (k * TARGET_STEP_MS) / dt : k * MAX_GROWTH;
        k = Math.max(1, Math.min(Math.round(ideal), k * MAX_GROWTH, 1 << 20));
        const { points, metrics } = take();
        post({
          type: "progress",
          index,
          points,
          metrics,
          epochsDone,
          totalEpochs: total,
          elapsedMs: performance.now() - t0,
          trainMs: session.trainMs(),
          measureMs: session.measureMs(),
        }, [points.buffer, metrics.buffer]);
        // Yield to the event loop so a "stop" message can arrive between steps.
        setTimeout(loop, 0);
      } catch (e) {
        // Keep what was measured if the session still answers (after a panic it may not).
        const msg = { type: "error", index, error: messageOf(e) };
        try {
          msg.planeCsv = session.planeCsv();
          msg.metricsCsv = session.metricsCsv();
          msg.layersCsv = session.layersCsv();
        } catch {
          // The module is unusable; report the first error only.
        }
        busy = false;
        post(msg);
      }
    };
    loop();
  }

  return {
    handle(msg) {
      if (!msg) return;
      if (msg.type === "stop") {
        stopRequested = true;
      } else if (msg.type === "estimate") {
        loadModule()
          .then((wasm) => {
            const r = JSON.parse(wasm.estimateFiles(msg.options, msg.names, msg.contents));
            post({ type: "estimated", csv: r.csv, warnings: r.warnings });
          })
          .catch((e) => post({ type: "error", error: messageOf(e) }));
      } else if (msg.type === "start") {
        if (busy) {
          post({ type: "error", index: msg.index >>> 0, error: "this worker is still running a seed" });
          return;
        }
        busy = true;
        stopRequested = false;
        run(msg);
      }
    },
  };
}
