// infoplane page: settings, the training workers, the live information plane, the run's files.
//
// A run is what `infoplane run <options>` makes: the form builds the options, the wasm module's
// `plan` checks them with the CLI's own parser and messages, and one Web Worker per core
// (worker.js) trains the seeds, each worker seed after seed. Workers stream
//   points:  Float64Array, flat groups of 5: [epoch, layer (1-based), estimatorIndex, i_xt_bits, i_ty_bits]
//   metrics: Float64Array, flat groups of 5: [epoch, train_loss, train_acc, test_loss, test_acc]
// and the page shows the mean over the seeds that reached each point (±1 sd bars at a few
// epochs). When every seed has ended, the wasm module's `assemble` makes the files the CLI
// writes in the run directory (CSV files, summaries, figures, manifest.json), byte for byte.
// Hooks for automation (see ../browser-check.sh):
//   * query parameters: any `run` option by its long name (preset, activation, seed, repeats,
//     epochs, schedule, estimator=a,b, noise-var, ...), workers=N, autostart=1, and worker=0
//     (train on the page's own thread, one seed at a time);
//   * body[data-state] is idle | running | done | stopped | error; body[data-wall-ms] is the
//     run's wall time once it has ended; body[data-eta-at-5] the total wall time predicted when
//     5 % of the work was done (and body[data-eta-at-5-elapsed] when that was);
//   * every drawn point is <circle data-epoch data-layer data-estimator data-ixt data-ity
//     data-runs> in svg#plane (the mean over data-runs seeds);
//   * output#status reads "epochs N/M · ..." (over all seeds); when the run ends the hidden
//     pre#plane-csv, pre#metrics-csv, pre#layers-csv, pre#summary-csv and pre#manifest-json
//     hold the run's files, and window.infoplaneFiles all of them as [[name, text], ...].

const SVGNS = "http://www.w3.org/2000/svg";

/**
 * The core's catalogue, read from the wasm module on load: `presets` (every default: epochs,
 * schedule, estimators, …, and a `summary`), `estimators` ({name, summary, params}),
 * `activations`, `schedules` (the accepted forms, in words).
 */
let CATALOG = { presets: [], estimators: [], activations: [], schedules: "" };

/** The preset called `name`, or the first one. */
function presetNamed(name) {
  return CATALOG.presets.find((p) => p.name === name) ?? CATALOG.presets[0];
}

/** Names of the catalogue's estimators, in registry order. */
function estimatorNames() {
  return CATALOG.estimators.map((e) => e.name);
}

/** Epochs of the first preset: the charts' extent before anything is known. */
const FALLBACK_EPOCHS = 8000;

/** Viridis at 9 even stops (as cli/src/plot.rs), interpolated linearly in sRGB. */
const VIRIDIS = [
  [0x44, 0x01, 0x54], [0x47, 0x2d, 0x7b], [0x3b, 0x52, 0x8b], [0x2c, 0x72, 0x8e], [0x21, 0x90, 0x8c],
  [0x27, 0xad, 0x81], [0x5d, 0xc8, 0x63], [0xaa, 0xdc, 0x32], [0xfd, 0xe7, 0x25],
];

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small helpers

/** Creates an SVG element with attributes, appended to `parent` if given. */
function svgEl(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function svgText(parent, x, y, text, attrs = {}) {
  const t = svgEl("text", { x: r2(x), y: r2(y), ...attrs }, parent);
  t.textContent = text;
  return t;
}

/** Rounds to 2 decimals for compact attribute values. */
function r2(v) {
  return Math.round(v * 100) / 100;
}

/** Position of `epoch` on the colour scale: ln(1 + epoch) / ln(1 + maxEpoch), in [0, 1]. */
function epochFraction(epoch, maxEpoch) {
  if (maxEpoch <= 0) return 0;
  const t = Math.log1p(Math.min(epoch, maxEpoch)) / Math.log1p(maxEpoch);
  return Math.min(1, Math.max(0, t));
}

/** "#rrggbb" of viridis at t in [0, 1]. */
function viridis(t) {
  t = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  const seg = VIRIDIS.length - 1;
  const i = Math.min(seg - 1, Math.floor(t * seg));
  const f = t * seg - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  let s = "#";
  for (let c = 0; c < 3; c++) s += Math.round(a[c] + (b[c] - a[c]) * f).toString(16).padStart(2, "0");
  return s;
}

/** A 1-2-5 step giving about `count` intervals over `span`. */
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Tick values in [lo, hi] at a 1-2-5 step, with their labels. */
function linearTicks(lo, hi, count) {
  const step = niceStep(hi - lo, count);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    const label = Math.abs(v) < step * 1e-9 ? "0" : v.toFixed(decimals);
    out.push({ v, label });
  }
  return out;
}

/** Rounds |v| up to 2 significant digits' worth (at most 10 % above), keeping the sign. */
function niceCeil(v) {
  if (v <= 0) return 0;
  const u = 10 ** Math.floor(Math.log10(v)) / 10;
  return Math.ceil(v / u - 1e-9) * u;
}

/**
 * Epochs labelled on a log colour bar or axis: 0, max, then 1·10^k, 5·10^k, 2·10^k, each kept
 * only if `farEnough(kept, candidate)` holds against every label kept so far (as plot.rs).
 */
function logTicks(maxEpoch, farEnough) {
  const cands = [0, maxEpoch];
  for (const m of [1, 5, 2]) for (let v = m; v < maxEpoch; v *= 10) cands.push(v);
  const kept = [];
  for (const c of cands) if (kept.every((k) => k !== c && farEnough(k, c))) kept.push(c);
  return kept.sort((a, b) => a - b);
}

function formatSeconds(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${(s / 3600).toFixed(1)} h`;
}

function formatRate(epochs, ms) {
  if (ms <= 0 || epochs <= 0) return "–";
  const r = (epochs * 1000) / ms;
  return r >= 100 ? String(Math.round(r)) : r.toPrecision(2);
}

/** Layout width in viewBox units: the element's CSS width, within [min, max]. */
function layoutWidth(wrap, min, max, fallback) {
  const w = Math.floor(wrap.clientWidth);
  return w > 0 ? Math.max(min, Math.min(max, w)) : fallback;
}

/** Sample standard deviations of a point's I(X;T) and I(T;Y) over its seeds (0 for one). */
function sds(p) {
  return p.n > 1 ? [Math.sqrt(p.m2x / (p.n - 1)), Math.sqrt(p.m2y / (p.n - 1))] : [0, 0];
}

/** Epochs of an information plane with error bars, as the CLI's figures choose them. */
const BAR_EPOCHS = 7;

/**
 * The measured epochs nearest to BAR_EPOCHS evenly spaced points of the ln(1 + epoch) colour
 * scale (each taken once), ascending.
 */
function barEpochs(epochs, maxEpoch) {
  if (epochs.length === 0) return [];
  const sorted = [...epochs].sort((a, b) => a - b);
  const out = new Set();
  for (let k = 0; k < BAR_EPOCHS; k++) {
    const target = k / (BAR_EPOCHS - 1);
    let best = sorted[0];
    for (const e of sorted) {
      if (Math.abs(epochFraction(e, maxEpoch) - target) < Math.abs(epochFraction(best, maxEpoch) - target)) best = e;
    }
    out.add(best);
  }
  return [...out].sort((a, b) => a - b);
}

// ---------------------------------------------------------------- the information plane

class PlaneView {
  constructor(svg, wrap, tip) {
    this.svg = svg;
    this.wrap = wrap;
    this.tip = tip;
    this.width = 0;
    this.frame = svgEl("g", { class: "frame" }, svg);
    this.pinnedG = svgEl("g", { class: "pinned" }, svg);
    this.curvesG = svgEl("g", { class: "curves" }, svg);
    /** A finished run kept for comparison: {label, curves: [[epoch, [{layer, x, y}]]]}. */
    this.pinned = null;
    this.reset([], FALLBACK_EPOCHS - 1);
    this.installHover();
  }

  /** Forgets all points; `estimators` names the estimator indices of the coming points. */
  reset(estimators, maxEpoch) {
    this.estimators = estimators;
    this.maxEpoch = maxEpoch;
    /** Per estimator: Map epoch -> [{layer, x, y}] sorted by layer. */
    this.curves = estimators.map(() => new Map());
    this.shown = 0;
    this.version = (this.version ?? 0) + 1;
    this.clearDrawn();
    this.needLayout = true;
  }

  clearDrawn() {
    this.clearHover?.();
    this.curvesG.replaceChildren();
    this.drawn = new Map(); // epoch -> {g, line, circles[]} for the shown estimator
    this.lastEpoch = -1;
    this.dirty = new Set();
    // Before the first point: the 12-bit task's range. The first point resets it (see grow).
    this.xDom = [0, 12];
    this.yDom = [0, 1];
    this.hasData = false;
    const curves = this.curves[this.shown];
    if (curves) {
      for (const [epoch, pts] of curves) {
        for (const p of pts) this.grow(p.x, p.y);
        this.dirty.add(epoch);
      }
    }
    for (const [, pts] of this.pinned?.curves ?? []) for (const p of pts) this.grow(p.x, p.y);
    this.needLayout = true;
  }

  /**
   * Keeps the shown estimator's curves (the means) under `label`, drawn in grey beneath every
   * later run until unpinned: tanh against ReLU, two bin sizes, two estimators.
   */
  pin(label) {
    const curves = this.curves[this.shown];
    if (!curves || curves.size === 0) return false;
    this.pinned = {
      label,
      curves: [...curves.entries()].sort((a, b) => a[0] - b[0])
        .map(([e, pts]) => [e, pts.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => ({ layer: p.layer, x: p.x, y: p.y }))]),
    };
    this.clearDrawn();
    return true;
  }

  unpin() {
    this.pinned = null;
    this.clearDrawn();
  }

  /** The pinned run's curves: a thin grey line per measured epoch, its last epoch marked. */
  drawPinned() {
    const g = this.pinnedG;
    g.replaceChildren();
    const pin = this.pinned;
    if (!pin || pin.curves.length === 0) return;
    for (const [epoch, pts] of pin.curves) {
      svgEl("polyline", {
        "data-pinned-epoch": epoch,
        points: pts.map((p) => `${r2(this.sx(p.x))},${r2(this.sy(p.y))}`).join(" "),
      }, g);
    }
    const last = pin.curves[pin.curves.length - 1][1];
    svgEl("polyline", { class: "last", points: last.map((p) => `${r2(this.sx(p.x))},${r2(this.sy(p.y))}`).join(" ") }, g);
    for (const p of last) svgEl("circle", { cx: r2(this.sx(p.x)), cy: r2(this.sy(p.y)), r: 3.5 }, g);
    svgText(g, this.plotLeft + 8, this.plotTop + 16, `grey: ${pin.label} (pinned; its last epoch joined)`, { class: "pinned-note" });
  }

  show(index) {
    if (index === this.shown || !this.curves[index]) return;
    this.shown = index;
    this.clearDrawn();
  }

  /**
   * Takes a batch of points from a worker; drawing waits for render(). Each (estimator, epoch,
   * layer) keeps the running mean and variance (Welford) of the values of every seed that has
   * reached it, so with several seeds the plane shows their average as it grows.
   */
  add(points) {
    if (points.length > 0) this.version = (this.version ?? 0) + 1;
    for (let i = 0; i + 4 < points.length; i += 5) {
      const epoch = points[i];
      const layer = points[i + 1];
      const est = points[i + 2];
      const x = points[i + 3];
      const y = points[i + 4];
      const curves = this.curves[est];
      if (!curves) continue;
      let c = curves.get(epoch);
      if (!c) {
        c = [];
        curves.set(epoch, c);
      }
      let p = c.find((q) => q.layer === layer);
      if (!p) {
        p = { layer, n: 0, x: NaN, y: NaN, m2x: 0, m2y: 0 };
        c.push(p);
        if (c.length > 1 && c[c.length - 2].layer > layer) c.sort((a, b) => a.layer - b.layer);
      }
      if (Number.isFinite(x) && Number.isFinite(y)) {
        p.n += 1;
        if (p.n === 1) {
          p.x = x;
          p.y = y;
        } else {
          const dx = x - p.x;
          p.x += dx / p.n;
          p.m2x += dx * (x - p.x);
          const dy = y - p.y;
          p.y += dy / p.n;
          p.m2y += dy * (y - p.y);
        }
      }
      if (est === this.shown) {
        this.dirty.add(epoch);
        this.grow(p.x, p.y);
      }
    }
  }

  /** Widens the axis domains (never narrows them) so (x, y) fits with 5 % headroom. */
  grow(x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (!this.hasData) {
      this.hasData = true;
      this.xDom = [0, 1];
      this.yDom = [0, 1];
      this.needLayout = true;
    }
    const fit = (dom, v) => {
      const hi = Math.max(1, v * 1.05);
      const lo = Math.min(0, v * 1.05);
      let changed = false;
      if (hi > dom[1]) { dom[1] = niceCeil(hi); changed = true; }
      if (lo < dom[0]) { dom[0] = -niceCeil(-lo); changed = true; }
      return changed;
    };
    if (fit(this.xDom, x)) this.needLayout = true;
    if (fit(this.yDom, y)) this.needLayout = true;
  }

  /** Draws what changed since the last call (everything after a resize or a rescale). */
  render() {
    const W = layoutWidth(this.wrap, 320, 960, 860);
    if (W !== this.width) this.needLayout = true;
    const curves = this.curves[this.shown] ?? new Map();
    // ±1 sd error bars (with several seeds) at BAR_EPOCHS epochs spread evenly on the colour
    // scale, as the CLI's figures draw them: bars at every epoch would merge into a smear.
    const bars = barEpochs([...curves.keys()], this.maxEpoch);
    const barKey = bars.join(",");
    if (barKey !== this.barKey) {
      for (const e of this.bars ?? []) this.dirty.add(e);
      for (const e of bars) this.dirty.add(e);
      this.bars = bars;
      this.barKey = barKey;
    }
    if (this.needLayout) {
      this.layout(W);
      this.drawPinned();
      this.needLayout = false;
      for (const epoch of [...curves.keys()].sort((a, b) => a - b)) this.drawEpoch(epoch, curves.get(epoch));
    } else if (this.dirty.size > 0) {
      for (const epoch of [...this.dirty].sort((a, b) => a - b)) this.drawEpoch(epoch, curves.get(epoch));
    }
    this.dirty.clear();
    this.empty.style.display = curves.size > 0 ? "none" : "";
    this.empty.textContent = document.body.dataset.state === "running" ? "Training: the first points come soon" : "Press Train to start";
  }

  /** Rebuilds axes, grid and colour bar for width W and sets the scales. */
  layout(W) {
    this.width = W;
    const compact = W < 560;
    const m = { left: 56, right: compact ? 14 : 96, top: 12, bottom: 46 };
    const pw = W - m.left - m.right;
    const ph = Math.round(compact ? pw * 0.95 : Math.min(pw * 0.62, 520));
    const barBlock = compact ? 58 : 0;
    const H = m.top + ph + m.bottom + barBlock;
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const [x0, x1] = this.xDom;
    const [y0, y1] = this.yDom;
    this.sx = (v) => m.left + ((v - x0) / (x1 - x0)) * pw;
    this.sy = (v) => m.top + ph - ((v - y0) / (y1 - y0)) * ph;
    this.plotLeft = m.left;
    this.plotTop = m.top;

    const f = this.frame;
    f.replaceChildren();
    const defs = svgEl("defs", {}, f);
    svgEl("rect", { x: m.left, y: m.top, width: pw, height: ph, fill: "transparent" }, f);
    for (const t of linearTicks(x0, x1, Math.max(3, Math.round(pw / 70)))) {
      const x = r2(this.sx(t.v));
      svgEl("line", { class: "grid", x1: x, x2: x, y1: m.top, y2: m.top + ph }, f);
      svgText(f, x, m.top + ph + 17, t.label, { class: "tick", "text-anchor": "middle" });
    }
    for (const t of linearTicks(y0, y1, Math.max(4, Math.round(ph / 44)))) {
      const y = r2(this.sy(t.v));
      svgEl("line", { class: "grid", x1: m.left, x2: m.left + pw, y1: y, y2: y }, f);
      svgText(f, m.left - 7, y + 4, t.label, { class: "tick", "text-anchor": "end" });
    }
    svgEl("path", { class: "axis", d: `M${m.left},${m.top}V${m.top + ph}H${m.left + pw}` }, f);
    svgText(f, m.left + pw / 2, m.top + ph + 38, "I(X;T) (bits)", { class: "axis-title", "text-anchor": "middle" });
    const yc = m.top + ph / 2;
    svgText(f, 14, yc, "I(T;Y) (bits)", {
      class: "axis-title", "text-anchor": "middle", transform: `rotate(-90 14 ${r2(yc)})`,
    });
    this.empty = svgText(f, m.left + pw / 2, yc, "Press Train to start", { class: "empty-note", "text-anchor": "middle" });

    // Colour bar: viridis on ln(1 + epoch); SVG gradients interpolate in sRGB, as plot.rs does.
    const grad = svgEl("linearGradient", compact
      ? { id: "viridis", x1: 0, y1: 0, x2: 1, y2: 0 }
      : { id: "viridis", x1: 0, y1: 1, x2: 0, y2: 0 }, defs);
    VIRIDIS.forEach((c, i) => svgEl("stop", {
      offset: r2(i / (VIRIDIS.length - 1)),
      "stop-color": `rgb(${c[0]},${c[1]},${c[2]})`,
    }, grad));
    const max = this.maxEpoch;
    if (compact) {
      const bx = m.left;
      const by = m.top + ph + m.bottom + 8;
      const bw = pw;
      svgEl("rect", { x: bx, y: by, width: bw, height: 12, fill: "url(#viridis)" }, f);
      svgEl("rect", { class: "bar-frame", x: bx, y: by, width: bw, height: 12 }, f);
      const px = (e) => bx + epochFraction(e, max) * bw;
      const wide = (a, b) => Math.abs(px(a) - px(b)) >= (String(a).length + String(b).length) * 3.7 + 8;
      for (const e of logTicks(max, wide)) {
        const x = r2(px(e));
        svgEl("line", { class: "axis", x1: x, x2: x, y1: by + 12, y2: by + 16 }, f);
        svgText(f, x, by + 29, String(e), { class: "tick", "text-anchor": "middle" });
      }
      svgText(f, bx - 7, by + 10, "epoch", { class: "axis-title", "text-anchor": "end" });
    } else {
      const bx = m.left + pw + 20;
      const by = m.top;
      svgEl("rect", { x: bx, y: by, width: 14, height: ph, fill: "url(#viridis)" }, f);
      svgEl("rect", { class: "bar-frame", x: bx, y: by, width: 14, height: ph }, f);
      const py = (e) => by + ph - epochFraction(e, max) * ph;
      for (const e of logTicks(max, (a, b) => Math.abs(py(a) - py(b)) >= 20)) {
        const y = r2(py(e));
        svgEl("line", { class: "axis", x1: bx + 14, x2: bx + 18, y1: y, y2: y }, f);
        svgText(f, bx + 21, y + 4, String(e), { class: "tick" });
      }
      const tx = bx + 76;
      svgText(f, tx, m.top + ph / 2, "epoch", {
        class: "axis-title", "text-anchor": "middle", transform: `rotate(-90 ${r2(tx)} ${r2(m.top + ph / 2)})`,
      });
    }
  }

  /** Creates or updates the poly-line and circles of one epoch of the shown estimator. */
  drawEpoch(epoch, pts) {
    if (!pts) return;
    const fin = pts.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    let d = this.drawn.get(epoch);
    if (!d) {
      const colour = viridis(epochFraction(epoch, this.maxEpoch));
      const g = svgEl("g", { "data-curve": epoch, fill: colour, stroke: colour });
      const line = svgEl("polyline", {}, g);
      const spread = svgEl("path", { class: "spread" }, g);
      d = { g, line, spread, circles: [] };
      this.drawn.set(epoch, d);
      if (epoch > this.lastEpoch) {
        this.curvesG.appendChild(g);
        this.lastEpoch = epoch;
      } else {
        // Late-arriving older epoch: keep drawing order by epoch (newest on top).
        let before = null;
        for (const child of this.curvesG.children) {
          if (Number(child.getAttribute("data-curve")) > epoch) { before = child; break; }
        }
        this.curvesG.insertBefore(g, before);
      }
    }
    d.line.setAttribute("points", fin.map((p) => `${r2(this.sx(p.x))},${r2(this.sy(p.y))}`).join(" "));
    const est = this.estimators[this.shown] ?? "";
    while (d.circles.length < fin.length) d.circles.push(svgEl("circle", { r: 3 }, d.g));
    while (d.circles.length > fin.length) d.circles.pop().remove();
    fin.forEach((p, i) => {
      const c = d.circles[i];
      c.setAttribute("cx", r2(this.sx(p.x)));
      c.setAttribute("cy", r2(this.sy(p.y)));
      c.setAttribute("data-epoch", epoch);
      c.setAttribute("data-layer", p.layer);
      c.setAttribute("data-estimator", est);
      c.setAttribute("data-ixt", p.x);
      c.setAttribute("data-ity", p.y);
      c.setAttribute("data-runs", p.n);
    });
    let bars = "";
    if (this.bars?.includes(epoch)) {
      for (const p of fin) {
        if (p.n < 2) continue;
        const [sdx, sdy] = sds(p);
        const [x, y] = [this.sx(p.x), this.sy(p.y)];
        const [x0, x1] = [r2(this.sx(p.x - sdx)), r2(this.sx(p.x + sdx))];
        const [y0, y1] = [r2(this.sy(p.y - sdy)), r2(this.sy(p.y + sdy))];
        bars += `M${x0},${r2(y)}H${x1}M${r2(x)},${y0}V${y1}`;
      }
    }
    if (bars) d.spread.setAttribute("d", bars);
    else d.spread.removeAttribute("d");
  }

  /**
   * Pointing at the plot (mouse move, or touch) highlights the epoch of the nearest point
   * within a few pixels and shows that point's values; leaving the plot clears it.
   */
  installHover() {
    let hot = null;
    const clear = () => {
      if (hot) hot.classList.remove("hot");
      hot = null;
      this.curvesG.classList.remove("has-hot");
      this.tip.hidden = true;
    };
    const onMove = (ev) => {
      const curves = this.curves[this.shown];
      const rect = this.svg.getBoundingClientRect();
      if (!curves || !this.sx || rect.width === 0) return;
      const scale = this.width / rect.width; // viewBox units per CSS pixel
      const px = (ev.clientX - rect.left) * scale;
      const py = (ev.clientY - rect.top) * scale;
      const reach = (ev.pointerType === "touch" ? 22 : 10) * scale;
      let best = null;
      let bestD = reach * reach;
      for (const [epoch, pts] of curves) {
        for (const p of pts) {
          if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
          const dx = this.sx(p.x) - px;
          const dy = this.sy(p.y) - py;
          const d = dx * dx + dy * dy;
          // Ties go to the later epoch, which is drawn on top.
          if (d < bestD || (d === bestD && best && epoch > best.epoch)) {
            bestD = d;
            best = { epoch, p, n: pts.length };
          }
        }
      }
      if (!best) {
        clear();
        return;
      }
      const g = this.drawn.get(best.epoch)?.g;
      if (hot !== g) {
        if (hot) hot.classList.remove("hot");
        hot = g ?? null;
        if (hot) hot.classList.add("hot");
        this.curvesG.classList.toggle("has-hot", Boolean(hot));
      }
      const { p } = best;
      const layerName = p.layer === best.n ? `layer ${p.layer} (output)` : `layer ${p.layer}`;
      const [sdx, sdy] = sds(p);
      const pm = (sd) => (p.n > 1 ? ` ± ${sd.toFixed(4)}` : "");
      this.tip.replaceChildren(
        `epoch ${best.epoch} · ${layerName}`, document.createElement("br"),
        `I(X;T) = ${p.x.toFixed(4)}${pm(sdx)} bits`, document.createElement("br"),
        `I(T;Y) = ${p.y.toFixed(4)}${pm(sdy)} bits`,
        ...(p.n > 1 ? [document.createElement("br"), `mean ± sd over ${p.n} seeds`] : []),
      );
      this.tip.hidden = false;
      const wr = this.wrap.getBoundingClientRect();
      const cx = rect.left - wr.left + this.sx(p.x) / scale;
      const cy = rect.top - wr.top + this.sy(p.y) / scale;
      const tw = this.tip.offsetWidth;
      this.tip.style.left = `${Math.max(0, Math.min(wr.width - tw, cx - tw / 2))}px`;
      this.tip.style.top = `${Math.max(0, cy - this.tip.offsetHeight - 10)}px`;
    };
    this.svg.addEventListener("pointermove", onMove);
    this.svg.addEventListener("pointerdown", onMove);
    this.svg.addEventListener("pointerleave", (ev) => { if (ev.pointerType !== "touch") clear(); });
    this.clearHover = clear;
  }
}

// ---------------------------------------------------------------- charts against epoch

/**
 * Clears `svg` and draws the frame of a chart against epoch, W wide: y grid and ticks over
 * [y0, y1], epoch ticks up to `maxEpoch` (on ln(1 + epoch) when `logX`), axes and the axis
 * title. Returns the scales {sx, sy}.
 */
function epochFrame(svg, W, y0, y1, maxEpoch, logX) {
  svg.replaceChildren();
  const m = { left: 46, right: 12, top: 8, bottom: 38 };
  const pw = W - m.left - m.right;
  const ph = 140;
  svg.setAttribute("viewBox", `0 0 ${W} ${m.top + ph + m.bottom}`);
  const max = Math.max(1, maxEpoch);
  const fx = logX ? (e) => Math.log1p(e) / Math.log1p(max) : (e) => e / max;
  const sx = (e) => m.left + fx(e) * pw;
  const sy = (v) => m.top + ph - ((v - y0) / (y1 - y0)) * ph;
  for (const t of linearTicks(y0, y1, 4)) {
    const y = r2(sy(t.v));
    svgEl("line", { class: "grid", x1: m.left, x2: m.left + pw, y1: y, y2: y }, svg);
    svgText(svg, m.left - 6, y + 4, t.label, { class: "tick", "text-anchor": "end" });
  }
  const xt = logX
    ? logTicks(max, (a, b) => Math.abs(sx(a) - sx(b)) >= (String(a).length + String(b).length) * 3.7 + 8)
        .map((v) => ({ v, label: String(v) }))
    : linearTicks(0, max, Math.max(2, Math.round(pw / 70)));
  for (const t of xt) {
    const x = r2(sx(t.v));
    svgEl("line", { class: "grid", x1: x, x2: x, y1: m.top, y2: m.top + ph }, svg);
    svgText(svg, x, m.top + ph + 16, t.label, { class: "tick", "text-anchor": "middle" });
  }
  svgEl("path", { class: "axis", d: `M${m.left},${m.top}V${m.top + ph}H${m.left + pw}` }, svg);
  svgText(svg, m.left + pw / 2, m.top + ph + 33, logX ? "epoch (log scale)" : "epoch", {
    class: "axis-title", "text-anchor": "middle",
  });
  return { sx, sy };
}

// ---------------------------------------------------------------- accuracy and loss charts

class MetricsView {
  constructor(accSvg, lossSvg) {
    this.charts = [
      { svg: accSvg, kind: "acc", width: 0 },
      { svg: lossSvg, kind: "loss", width: 0 },
    ];
    this.reset(FALLBACK_EPOCHS - 1, true);
  }

  reset(maxEpoch, logX) {
    this.maxEpoch = maxEpoch;
    this.logX = logX;
    /** epoch -> [n, mean] for each of the four columns (train loss, train acc, test loss, test acc). */
    this.byEpoch = new Map();
    this.rows = [];
    this.changed = true;
  }

  /** Takes metric rows from a worker; each epoch shows the mean over the seeds that reached it. */
  add(metrics) {
    for (let i = 0; i + 4 < metrics.length; i += 5) {
      const epoch = metrics[i];
      let cols = this.byEpoch.get(epoch);
      if (!cols) {
        cols = [[0, NaN], [0, NaN], [0, NaN], [0, NaN]];
        this.byEpoch.set(epoch, cols);
      }
      for (let c = 0; c < 4; c++) {
        const v = metrics[i + 1 + c];
        if (!Number.isFinite(v)) continue;
        const m = cols[c];
        m[0] += 1;
        m[1] = m[0] === 1 ? v : m[1] + (v - m[1]) / m[0];
      }
    }
    if (metrics.length > 0) {
      this.rows = [...this.byEpoch.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([e, cols]) => [e, ...cols.map((m) => m[1])]);
      this.changed = true;
    }
  }

  render() {
    for (const ch of this.charts) {
      const W = layoutWidth(ch.svg.parentNode, 260, 620, 400);
      if (W !== ch.width || this.changed) this.draw(ch, W);
    }
    this.changed = false;
  }

  draw(ch, W) {
    ch.width = W;
    const svg = ch.svg;
    const acc = ch.kind === "acc";
    const cols = acc ? [2, 4] : [1, 3];
    const vals = [];
    for (const r of this.rows) for (const c of cols) if (Number.isFinite(r[c])) vals.push(r[c]);
    let y0;
    let y1;
    if (acc) {
      const lo = vals.length ? Math.min(...vals) : 0.5;
      y0 = Math.min(0.5, Math.floor(lo * 10) / 10);
      y1 = 1;
    } else {
      y0 = 0;
      const top = vals.length ? Math.max(0.1, Math.max(...vals) * 1.05) : 1;
      const step = niceStep(top, 4);
      y1 = Math.ceil(top / step - 1e-9) * step;
    }
    const { sx, sy } = epochFrame(svg, W, y0, y1, this.maxEpoch, this.logX);

    const few = this.rows.length <= 40;
    [["train", cols[0]], ["test", cols[1]]].forEach(([name, c]) => {
      const pts = this.rows.filter((r) => Number.isFinite(r[c])).map((r) => [r2(sx(r[0])), r2(sy(r[c]))]);
      if (pts.length > 1) svgEl("polyline", { class: `series ${name}`, points: pts.map((p) => p.join(",")).join(" ") }, svg);
      if (few || pts.length === 1) for (const [x, y] of pts) svgEl("circle", { class: `dot ${name}`, cx: x, cy: y, r: 2.5 }, svg);
    });
  }
}

// ---------------------------------------------------------------- each layer against epoch

/** Layer colours, as the CLI's figures (the matplotlib tab10 cycle). */
const LAYER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** I(X;T) and I(T;Y) of each layer against epoch, from the plane's curves (the shown estimator). */
class LayersView {
  constructor(ixtSvg, itySvg, legend) {
    this.charts = [{ svg: ixtSvg, key: "x", width: 0 }, { svg: itySvg, key: "y", width: 0 }];
    this.legend = legend;
    this.version = -1;
  }

  render(plane, logX) {
    const curves = plane.curves[plane.shown] ?? new Map();
    const version = `${plane.shown}:${plane.version}`;
    const epochs = [...curves.keys()].sort((a, b) => a - b);
    const layers = new Map(); // layer -> [[epoch, x, y]]
    for (const e of epochs) {
      for (const p of curves.get(e)) {
        if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
        if (!layers.has(p.layer)) layers.set(p.layer, []);
        layers.get(p.layer).push([e, p.x, p.y]);
      }
    }
    const keys = [...layers.keys()].sort((a, b) => a - b);
    const legendText = keys.map((l) => `<span class="key" style="border-top-color:${LAYER_COLOURS[(l - 1) % 10]}"></span>L${l}`).join(" ");
    if (this.legend.dataset.text !== legendText) {
      this.legend.innerHTML = legendText;
      this.legend.dataset.text = legendText;
    }
    for (const ch of this.charts) {
      const W = layoutWidth(ch.svg.parentNode, 260, 620, 400);
      if (W === ch.width && version === this.version) continue;
      this.draw(ch, W, keys, layers, Math.max(1, plane.maxEpoch), logX);
    }
    this.version = version;
  }

  draw(ch, W, keys, layers, max, logX) {
    ch.width = W;
    const col = ch.key === "x" ? 1 : 2;
    let top = 0;
    for (const l of keys) for (const r of layers.get(l)) top = Math.max(top, r[col]);
    top = top > 0 ? niceCeil(top * 1.05) : 1;
    const svg = ch.svg;
    const { sx, sy } = epochFrame(svg, W, 0, top, max, logX);
    for (const l of keys) {
      const pts = layers.get(l).map((r) => `${r2(sx(r[0]))},${r2(sy(r[col]))}`);
      const colour = LAYER_COLOURS[(l - 1) % 10];
      if (pts.length > 1) svgEl("polyline", { class: "series", "data-layer": l, points: pts.join(" "), style: `stroke:${colour}` }, svg);
      else if (pts.length === 1) {
        const [x, y] = pts[0].split(",");
        svgEl("circle", { cx: x, cy: y, r: 2.5, fill: colour }, svg);
      }
    }
  }
}

// ---------------------------------------------------------------- the page

const form = $("controls");
const ui = {
  preset: $("preset"),
  activation: $("activation"),
  seed: $("seed"),
  repeats: $("repeats"),
  workers: $("workers"),
  epochs: $("epochs"),
  schedule: $("schedule"),
  overlay: $("overlay"),
  train: $("train"),
  stop: $("stop"),
  progress: $("progress"),
  status: $("status"),
  mini: $("mini"),
  miniProgress: $("mini-progress"),
  miniStatus: $("mini-status"),
  error: $("error"),
  command: $("command"),
  downloads: $("downloads"),
  share: $("share"),
  estView: $("est-view"),
  planeTitle: $("plane-title"),
  figures: $("figures-card"),
  figureSelect: $("figure-select"),
  figureImg: $("figure-img"),
  saveSvg: $("save-svg"),
  savePng: $("save-png"),
  pin: $("pin"),
  viewSvg: $("view-svg"),
  viewPng: $("view-png"),
};
/** The estimator checkboxes, built from the catalogue by `buildForm`. */
let estimatorBoxes = [];
/** The other settings of `infoplane run`, built by `buildForm`: {name, input}. */
let moreFields = [];

const plane = new PlaneView($("plane"), $("plane-wrap"), $("tip"));
const charts = new MetricsView($("acc"), $("loss"));
const layerCharts = new LayersView($("layers-ixt"), $("layers-ity"), $("layers-legend"));

/** The wasm module of the page's own thread: catalogue, option checks, assembling files. */
let WASM = null;

/** The run in progress or last run. */
const run = {
  plan: null, // plan(options) of the wasm module, parsed
  options: [], // what follows `infoplane run`
  settings: null,
  pool: [], // {worker, index: seed index or null}
  next: 0, // next seed index to hand out
  seeds: [], // per seed index: {seed, epochsDone, trainMs, measureMs, measures, done, plane, metrics, layers}
  t0: 0,
  elapsedMs: 0,
  stopping: false,
  files: [], // [[name, text]] once the run has ended
};

/** Web Workers (default) or the page's own thread (?worker=0, for headless checks). */
let useWorker = true;
/** Estimator order: as given in the URL (so the CSV matches the CLI's flag order), then the rest. */
let estimatorOrder = [];
/** True once the user picks estimators by hand; until then they follow the preset. */
let estimatorsTouched = false;

function setState(state) {
  document.body.dataset.state = state;
  const running = state === "running";
  ui.train.disabled = running;
  ui.stop.disabled = !running;
  for (const el of form.querySelectorAll("select, input")) el.disabled = running;
  ui.pin.disabled = !plane.pinned && (running || !run.plan);
  updateMini();
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

/** Cores the browser reports (at least 1). */
function cores() {
  return Math.max(1, Math.min(64, navigator.hardwareConcurrency || 1));
}

// ------------------------------------------------------------ settings

/**
 * The settings of `infoplane run` the form offers beyond the main ones: option name, label,
 * input kind ("text", "bool" or a function giving the choices), and the preset's value shown
 * as the placeholder.
 */
const MORE = [
  ["layers", "Hidden widths", "text", (p) => p.hidden.join(",")],
  ["init", "Initialiser", () => CATALOG.inits, (p) => p.init],
  ["optimizer", "Optimiser", () => ["adam", "sgd"], (p) => p.optimizer.name],
  ["lr", "Learning rate", "text", (p) => p.optimizer.lr],
  ["momentum", "Momentum (sgd)", "text", (p) => p.optimizer.momentum ?? ""],
  ["batch", "Batch size", "text", (p) => p.batch ?? "full"],
  ["train-frac", "Training fraction", "text", (p) => p.train_frac],
  ["split", "Training rows", () => ["first", "random"], (p) => (p.random_split ? "random" : "first")],
  ["train-limit", "Train on first N rows", "text", () => ""],
  ["shuffle", "Reshuffle batches", "bool", (p) => p.shuffle],
  ["capture", "Capture", () => CATALOG.captures, (p) => p.capture],
  ["mi-rows", "Rows measured", () => ["all", "test"], (p) => p.mi_rows],
  ["mi-limit", "Measure first N rows", "text", () => ""],
  ["pool", "As-if-random pool K", "text", () => 1],
  ["delta-estimator", "Delta-skip estimator", () => estimatorNames(), () => ""],
  ["bins", "Bin edges", "text", (p) => p.settings.bins],
  ["range", "Bin range LO,HI", "text", (p) => `${p.settings.lo},${p.settings.hi}`],
  ["idnns-compat", "IDNNs edge quirks", "bool", (p) => p.settings.idnns_compat],
  ["bin-size", "Bin size", "text", (p) => p.settings.bin_size],
  ["noise-var", "KDE noise variance", "text", (p) => p.settings.noise_var],
  ["k", "KSG neighbours k", "text", (p) => p.settings.k],
  ["standardize", "KSG standardise", "bool", (p) => p.settings.standardize],
  ["miller-madow", "Miller–Madow", "bool", (p) => p.settings.miller_madow],
];

/** The main fields, by option name. */
const MAIN = () => ({
  preset: ui.preset, activation: ui.activation, seed: ui.seed, repeats: ui.repeats,
  epochs: ui.epochs, schedule: ui.schedule,
});

/** The estimators ticked, in `estimatorOrder`. */
function checkedEstimators() {
  const checked = new Set(estimatorBoxes.filter((b) => b.checked).map((b) => b.value));
  return estimatorOrder.filter((e) => checked.has(e));
}

/**
 * The form as `infoplane run` options (`options`, one argument per entry) and as the
 * settings of a share link (`query`: option name -> value). Empty fields are the preset's.
 */
function formOptions() {
  const options = [];
  const query = [];
  const put = (name, value) => {
    options.push(`--${name}=${value}`);
    query.push([name, value]);
  };
  put("preset", ui.preset.value);
  put("activation", ui.activation.value);
  for (const [name, input] of Object.entries(MAIN())) {
    if (name === "preset" || name === "activation") continue;
    const v = input.value.trim();
    if (v !== "") put(name, v);
  }
  const ests = checkedEstimators();
  for (const e of ests) options.push(`--estimator=${e}`);
  if (ests.length) query.push(["estimator", ests.join(",")]);
  for (const { name, input } of moreFields) {
    const v = input.value.trim();
    if (v !== "") put(name, v);
  }
  if (ui.overlay.checked) {
    options.push("--overlay");
    query.push(["overlay", "1"]);
  }
  return { options, query };
}

/** How many Web Workers to run: the field, else one per core. */
function workerCount() {
  const w = Number(ui.workers.value.trim() || cores());
  return Number.isInteger(w) && w >= 1 && w <= 64 ? w : null;
}

/** A shell word: quoted when it holds anything but safe characters. */
function shellWord(s) {
  return /^[A-Za-z0-9_.,:=+\/-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * Checks the form with the CLI's own parser and checks (the wasm module's `plan`): returns
 * the plan, or throws an Error with the message `infoplane run` would print.
 */
function checkForm() {
  const { options, query } = formOptions();
  if (checkedEstimators().length === 0) throw new Error("--estimator: choose at least one estimator");
  if (workerCount() === null) throw new Error("Workers: a whole number from 1 to 64 (empty: one per core)");
  const planned = JSON.parse(WASM.plan(options));
  return { options, query, plan: planned };
}

function linkQuery(query, autostart) {
  const q = new URLSearchParams();
  for (const [k, v] of query) q.set(k, v);
  if (ui.workers.value.trim() !== "") q.set("workers", ui.workers.value.trim());
  if (autostart) q.set("autostart", "1");
  return `?${q.toString().replaceAll("%2C", ",").replaceAll("%3A", ":")}`;
}

/** What was wrong with the link the page was opened with (shown until the next run). */
let linkNote = "";

/** Re-checks the form as it is edited: the CLI command, the share link, or the error. */
let checkTimer = 0;
function onFormEdited() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => {
    if (document.body.dataset.state === "running" || !WASM) return;
    try {
      const c = checkForm();
      showError(linkNote);
      ui.command.textContent = c.plan.command.map(shellWord).join(" ");
      ui.share.href = linkQuery(c.query, true);
    } catch (e) {
      showError(e.message);
      ui.command.textContent = "";
    }
  }, 120);
}

function updatePlaceholders() {
  const p = presetNamed(ui.preset.value);
  if (!p) return;
  ui.epochs.placeholder = String(p.epochs);
  ui.schedule.placeholder = p.schedule;
  $("preset-note").textContent = p.summary;
  for (const f of moreFields) {
    const v = f.preset(p);
    if (f.input.tagName === "SELECT") {
      f.input.options[0].textContent = v === "" ? "(preset)" : `${v} (preset)`;
    } else {
      f.input.placeholder = String(v);
    }
  }
  if (!estimatorsTouched) {
    for (const b of estimatorBoxes) b.checked = p.estimators.includes(b.value);
  }
  if (document.body.dataset.state === "idle") {
    const ests = checkedEstimators().join(", ") || "no estimator";
    ui.planeTitle.textContent = `${ui.preset.value} · ${ui.activation.value} · ${ests}`;
    const epochs = Number(ui.epochs.value) || p.epochs;
    charts.reset(Math.max(0, epochs - 1), !(ui.schedule.value.trim() || p.schedule).startsWith("every:"));
    plane.reset([], Math.max(0, epochs - 1));
    updateStatus("ready");
    scheduleRender();
  }
  onFormEdited();
}

// ------------------------------------------------------------ progress and time left

/** Totals over the seeds: epochs trained, compute time, measured epochs, seeds done. */
function totals() {
  const t = { epochs: 0, trainMs: 0, measureMs: 0, measures: 0, done: 0 };
  for (const s of run.seeds) {
    t.epochs += s.epochsDone;
    t.trainMs += s.trainMs;
    t.measureMs += s.measureMs;
    t.measures += s.measures;
    if (s.done) t.done += 1;
  }
  return t;
}

/**
 * The share of the run's work done and the wall time left. The work of a seed is its
 * training (time per epoch so far × epochs) plus its measuring (time per measured epoch so
 * far × measured epochs, when the schedule fixes them; under delta skip, by epochs); the
 * rate is the work done per wall-clock millisecond so far, over all workers.
 */
function estimate(t) {
  const p = run.plan;
  if (!p || t.epochs === 0 || run.elapsedMs <= 0) return null;
  const n = run.seeds.length;
  const done = t.trainMs + t.measureMs;
  let total;
  if (p.measuresPerSeed != null && t.measures > 0) {
    total = n * (p.epochs * (t.trainMs / t.epochs) + p.measuresPerSeed * (t.measureMs / t.measures));
  } else {
    total = n * p.epochs * (done / t.epochs);
  }
  if (!(total > 0)) return null;
  const fraction = Math.min(1, done / total);
  const rate = done / run.elapsedMs;
  return { fraction, leftMs: rate > 0 ? Math.max(0, (total - done) / rate) : NaN };
}

function updateStatus(word) {
  const p = run.plan;
  const t = totals();
  const n = run.seeds.length || 1;
  const perSeed = p?.epochs || Number(ui.epochs.value) || presetNamed(ui.preset.value)?.epochs || 0;
  const total = perSeed * n;
  let s = `epochs ${t.epochs}/${total}`;
  if (n > 1) s += ` · seeds ${t.done}/${n}`;
  if (run.elapsedMs > 0) s += ` · ${formatSeconds(run.elapsedMs)} · ${formatRate(t.epochs, run.elapsedMs)} epochs/s`;
  if (t.trainMs + t.measureMs > 0) s += ` (train ${formatSeconds(t.trainMs)}, measure ${formatSeconds(t.measureMs)})`;
  const est = document.body.dataset.state === "running" ? estimate(t) : null;
  // The first estimate past 5 % of the work, kept for checking it against the real time
  // (body[data-eta-at-5]: the predicted total wall time in ms, and where it was made).
  if (est && est.fraction >= 0.05 && Number.isFinite(est.leftMs) && !document.body.dataset.etaAt5) {
    document.body.dataset.etaAt5 = String(Math.round(run.elapsedMs + est.leftMs));
    document.body.dataset.etaAt5Elapsed = String(Math.round(run.elapsedMs));
  }
  if (est && est.fraction >= 0.01 && Number.isFinite(est.leftMs)) s += ` · about ${formatSeconds(est.leftMs)} left`;
  if (word) s += ` · ${word}`;
  ui.status.value = s;
  ui.status.textContent = s;
  const frac = est ? est.fraction : total > 0 ? t.epochs / total : 0;
  ui.progress.max = 1;
  ui.progress.value = document.body.dataset.state === "done" ? 1 : frac;
  ui.miniProgress.max = 1;
  ui.miniProgress.value = ui.progress.value;
  const left = est && est.fraction >= 0.01 && Number.isFinite(est.leftMs) ? ` · ${formatSeconds(est.leftMs)} left` : "";
  ui.miniStatus.textContent = `${Math.round(100 * ui.progress.value)}%${n > 1 ? ` · seeds ${t.done}/${n}` : ""}${left}`;
}

/** The bar pinned to the top of the screen: shown while a run goes on and the settings' progress is out of view. */
let progressVisible = true;
function updateMini() {
  ui.mini.hidden = !(document.body.dataset.state === "running" && !progressVisible);
}

// ------------------------------------------------------------ running the seeds

function start() {
  let c;
  try {
    c = checkForm();
  } catch (e) {
    showError(e.message);
    updateStatus("invalid settings");
    setState("error");
    return;
  }
  stopWorkers();
  linkNote = "";
  showError("");
  const p = c.plan;
  run.plan = p;
  run.options = c.options;
  run.settings = c;
  run.seeds = p.seeds.map((seed) => ({
    seed, epochsDone: 0, trainMs: 0, measureMs: 0, measures: 0, done: false, plane: "", metrics: "", layers: "",
  }));
  run.next = 0;
  run.stopping = false;
  run.files = [];
  run.t0 = performance.now();
  run.elapsedMs = 0;
  delete document.body.dataset.wallMs;
  delete document.body.dataset.etaAt5;
  delete document.body.dataset.etaAt5Elapsed;
  for (const id of ["plane-csv", "metrics-csv", "layers-csv", "summary-csv", "manifest-json"]) $(id).textContent = "";
  ui.downloads.replaceChildren();
  ui.figures.hidden = true;
  const names = p.estimators;
  plane.reset(names, Math.max(0, p.epochs - 1));
  const schedule = String(p.config.schedule ?? "");
  charts.reset(Math.max(0, p.epochs - 1), !schedule.startsWith("every:"));
  buildEstimatorView(names);
  setPlaneTitle(names[0]);
  ui.command.textContent = p.command.map(shellWord).join(" ");
  ui.share.href = linkQuery(c.query, true);
  try {
    history.replaceState(null, "", linkQuery(c.query, false));
  } catch {
    // file:// or a sandbox may refuse; the share link still works.
  }
  setState("running");
  updateStatus("starting");
  scheduleRender();

  const count = useWorker ? Math.min(workerCount(), run.seeds.length) : 1;
  run.workers = count;
  for (let k = 0; k < count; k++) {
    let worker;
    try {
      worker = useWorker ? new Worker("./worker.js", { type: "module" }) : new InPageRunner();
    } catch (e) {
      fail(`Cannot start the training worker: ${e.message}`);
      return;
    }
    const slot = { worker, index: null };
    run.pool.push(slot);
    worker.onmessage = (ev) => {
      if (!run.pool.includes(slot)) return;
      onWorkerMessage(slot, ev.data);
    };
    worker.onerror = (ev) => {
      if (!run.pool.includes(slot)) return;
      ev.preventDefault?.();
      fail(`The training worker failed: ${ev.message || "could not load worker.js"}`);
    };
    handOut(slot);
  }
}

/** Gives the worker of `slot` the next seed, or ends it when there is none. */
function handOut(slot) {
  if (!run.stopping && run.next < run.seeds.length) {
    slot.index = run.next;
    run.next += 1;
    slot.worker.postMessage({ type: "start", options: run.options, index: slot.index });
  } else {
    slot.index = null;
    slot.worker.terminate();
    run.pool = run.pool.filter((s) => s !== slot);
  }
}

/**
 * The worker's interface over session-loop.js on the page's own thread (?worker=0). The page
 * stalls during each ~75 ms step; this exists for headless `--dump-dom` checks, whose virtual
 * clock runs ahead of Web Workers but waits for work on the page itself.
 */
class InPageRunner {
  constructor() {
    this.onmessage = null;
    this.onerror = null;
    this.dead = false;
    this.ready = import("./session-loop.js").then(({ createRunner }) => {
      this.runner = createRunner((msg) => {
        if (!this.dead) queueMicrotask(() => this.onmessage?.({ data: msg }));
      });
    });
  }

  postMessage(msg) {
    this.ready
      .then(() => this.runner.handle(msg))
      .catch((e) => this.onerror?.({ message: `could not load session-loop.js: ${e.message}` }));
  }

  terminate() {
    this.dead = true;
    this.runner?.handle({ type: "stop" });
  }
}

function stopWorkers() {
  for (const slot of run.pool) slot.worker.terminate();
  run.pool = [];
}

function fail(message) {
  stopWorkers();
  run.elapsedMs = performance.now() - run.t0;
  flushRender();
  showError(message);
  updateStatus("error");
  setState("error");
}

/** Takes the new points, metric rows and counters of a "progress" or "done" message. */
function applyProgress(msg) {
  const s = run.seeds[msg.index];
  if (!s) return;
  plane.add(msg.points);
  charts.add(msg.metrics);
  s.epochsDone = msg.epochsDone;
  s.trainMs = msg.trainMs ?? 0;
  s.measureMs = msg.measureMs ?? 0;
  s.measures += msg.metrics.length / 5;
  run.elapsedMs = performance.now() - run.t0;
}

function onWorkerMessage(slot, msg) {
  switch (msg.type) {
    case "started":
      updateStatus("training");
      break;
    case "progress":
      applyProgress(msg);
      scheduleRender();
      break;
    case "done": {
      applyProgress(msg);
      const s = run.seeds[msg.index];
      if (s) {
        // A stopped seed keeps the rows it measured (see finishRun).
        s.done = !msg.stopped;
        s.plane = msg.planeCsv;
        s.metrics = msg.metricsCsv;
        s.layers = msg.layersCsv;
      }
      handOut(slot);
      scheduleRender();
      if (run.pool.length === 0) finishRun();
      break;
    }
    case "error": {
      const s = run.seeds[msg.index];
      fail(`seed ${s ? s.seed : msg.index}: ${msg.error}`);
      break;
    }
    default:
      break;
  }
}

/**
 * Every seed has ended (or the run was stopped): the files `infoplane run` writes, made by the
 * wasm module from the rows of the seeds, in seed order. A stopped run keeps what the CLI's
 * files hold when it is stopped: the seeds that finished before the first that did not, then
 * the rows that one measured.
 */
function finishRun() {
  const leading = [];
  let whole = 0;
  for (const s of run.seeds) {
    if (s.done) {
      leading.push(s);
      whole += 1;
      continue;
    }
    if (s.plane.includes("\n") && s.plane.indexOf("\n") < s.plane.length - 1) leading.push(s);
    break;
  }
  const complete = whole === run.seeds.length;
  run.elapsedMs = performance.now() - run.t0;
  if (leading.length > 0) {
    try {
      run.files = JSON.parse(WASM.assemble(
        run.options,
        leading.map((s) => s.plane),
        leading.map((s) => s.metrics),
        leading.map((s) => s.layers),
        complete,
        run.elapsedMs / 1000,
        run.workers,
      ));
    } catch (e) {
      fail(`assembling the run's files: ${e.message || e}`);
      return;
    }
  }
  run.elapsedMs = performance.now() - run.t0;
  document.body.dataset.wallMs = String(Math.round(run.elapsedMs));
  window.infoplaneFiles = run.files;
  const file = (name) => run.files.find((f) => f[0] === name)?.[1] ?? "";
  $("plane-csv").textContent = file("plane.csv");
  $("metrics-csv").textContent = file("metrics.csv");
  $("layers-csv").textContent = file("layers.csv");
  $("summary-csv").textContent = file("summary.csv");
  $("manifest-json").textContent = file("manifest.json");
  buildDownloads();
  buildFigures();
  flushRender();
  const word = complete ? "done" : `stopped: ${whole} of ${run.seeds.length} seeds whole${leading.length > whole ? ", and the measured epochs of the next" : ""}`;
  setState(complete ? "done" : "stopped");
  updateStatus(word);
}

// ------------------------------------------------------------ keeping what was made

const MIME = { csv: "text/csv", json: "application/json", svg: "image/svg+xml" };

function download(data, name) {
  const ext = name.split(".").pop();
  const blob = data instanceof Blob ? data : new Blob([data], { type: `${MIME[ext] ?? "text/plain"};charset=utf-8` });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** One button per file of the run directory. */
function buildDownloads() {
  ui.downloads.replaceChildren();
  for (const [name, text] of run.files) {
    if (name.endsWith(".svg")) continue;
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.setAttribute("aria-label", `Download ${name}`);
    b.addEventListener("click", () => download(text, name));
    ui.downloads.appendChild(b);
  }
}

/** The SVG figure as a PNG at `scale` times its size (the browser draws the SVG on a canvas). */
function svgToPng(svgText, scale) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml;charset=utf-8" }));
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(img.naturalWidth * scale);
      canvas.height = Math.round(img.naturalHeight * scale);
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the canvas gave no PNG"))), "image/png");
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error("the figure could not be drawn"));
    };
    img.src = url;
  });
}

let figureUrl = null;
/** The run's figures (the CLI's, byte for byte): a menu, the one chosen, Save SVG and PNG. */
function buildFigures() {
  const svgs = run.files.filter((f) => f[0].endsWith(".svg"));
  ui.figures.hidden = svgs.length === 0;
  fillSelect(ui.figureSelect, svgs.map(([name]) => ({ name })));
  showFigure();
}

function showFigure() {
  const f = run.files.find((x) => x[0] === ui.figureSelect.value);
  if (figureUrl) URL.revokeObjectURL(figureUrl);
  figureUrl = null;
  if (!f) {
    ui.figureImg.removeAttribute("src");
    return;
  }
  figureUrl = URL.createObjectURL(new Blob([f[1]], { type: "image/svg+xml;charset=utf-8" }));
  ui.figureImg.src = figureUrl;
  ui.figureImg.alt = `Figure ${f[0]}`;
}

/** The estimator the plane shows. */
function shownEstimator() {
  return plane.estimators[plane.shown] ?? "plane";
}

/**
 * The plane as drawn, as a stand-alone SVG file: the page's styles written into each element
 * (they come from the style sheet and its colour scheme), on the card's background, with the
 * title line above.
 */
function planeViewSvg() {
  const svg = $("plane");
  const clone = svg.cloneNode(true);
  const props = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
    "stroke-linejoin", "opacity", "font-family", "font-size", "font-weight", "display", "shape-rendering"];
  const from = [svg, ...svg.querySelectorAll("*")];
  const to = [clone, ...clone.querySelectorAll("*")];
  from.forEach((el, i) => {
    const cs = getComputedStyle(el);
    to[i].setAttribute("style", props.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(";"));
  });
  const vb = svg.viewBox.baseVal;
  const top = 26;
  clone.setAttribute("viewBox", `0 ${-top} ${vb.width} ${vb.height + top}`);
  clone.setAttribute("width", String(vb.width));
  clone.setAttribute("height", String(vb.height + top));
  const bg = getComputedStyle($("plane-wrap").closest(".card")).backgroundColor;
  const rect = svgEl("rect", { x: 0, y: -top, width: vb.width, height: vb.height + top, fill: bg });
  clone.insertBefore(rect, clone.firstChild);
  const title = svgEl("text", { x: 12, y: -8, style: `fill:${getComputedStyle(ui.planeTitle).color};font-size:13px;font-family:${getComputedStyle(svg).fontFamily}` });
  title.textContent = ui.planeTitle.textContent;
  clone.appendChild(title);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}\n`;
}

// ------------------------------------------------------------ drawing

/** The caption above the plane: the run's settings and the estimator shown. */
function setPlaneTitle(estimator) {
  const c = run.settings;
  if (!c) return;
  const cfg = c.plan.config;
  const seeds = c.plan.seeds;
  const who = seeds.length > 1 ? `mean of ${seeds.length} seeds (${seeds[0]}–${seeds[seeds.length - 1]})` : `seed ${seeds[0]}`;
  ui.planeTitle.textContent = `${cfg.preset} · ${cfg.activation} · ${estimator} · ${who}`;
}

function buildEstimatorView(names) {
  ui.estView.replaceChildren();
  ui.estView.hidden = names.length < 2;
  names.forEach((name, i) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "est-view";
    input.value = String(i);
    input.checked = i === 0;
    input.addEventListener("change", () => {
      plane.show(i);
      setPlaneTitle(name);
      scheduleRender();
    });
    label.append(input, name);
    ui.estView.appendChild(label);
  });
}

// Redraws are batched: at most one per animation frame, with a timer as backup because
// background tabs and some headless modes do not run animation frames.
// While seeds run, the page draws at most every RUNNING_FRAME_MS: the workers need the cores.
const RUNNING_FRAME_MS = 250;
let renderPending = false;
let lastRender = 0;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  const wait = document.body.dataset.state === "running"
    ? Math.max(0, lastRender + RUNNING_FRAME_MS - performance.now()) : 0;
  setTimeout(() => requestAnimationFrame(() => { if (renderPending) flushRender(); }), wait);
  setTimeout(() => { if (renderPending) flushRender(); }, wait + 200);
}

function flushRender() {
  renderPending = false;
  lastRender = performance.now();
  plane.render();
  charts.render();
  layerCharts.render(plane, charts.logX);
  if (document.body.dataset.state === "running" && !ui.stop.disabled) {
    run.elapsedMs = performance.now() - run.t0;
    updateStatus(totals().epochs > 0 ? "training" : "starting");
  }
}

// ---------------------------------------------------------------- wiring

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (document.body.dataset.state !== "running") {
    start();
    // On a phone the plane is below the settings: bring it into view.
    if (document.body.dataset.state === "running" && window.matchMedia("(max-width: 899px)").matches) {
      $("plane-heading").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }
});
ui.stop.addEventListener("click", () => {
  if (run.pool.length) {
    run.stopping = true;
    for (const slot of run.pool) slot.worker.postMessage({ type: "stop" });
    ui.stop.disabled = true;
    updateStatus("stopping");
  }
});
ui.figureSelect.addEventListener("change", showFigure);
ui.pin.addEventListener("click", () => {
  if (plane.pinned) {
    plane.unpin();
    ui.pin.textContent = "Pin to compare";
    ui.pin.disabled = document.body.dataset.state === "running" || !run.plan;
  } else if (run.plan && plane.pin(ui.planeTitle.textContent)) {
    ui.pin.textContent = "Unpin";
  }
  scheduleRender();
});
ui.viewSvg.addEventListener("click", () => download(planeViewSvg(), `plane-view-${shownEstimator()}.svg`));
ui.viewPng.addEventListener("click", () => {
  svgToPng(planeViewSvg(), 2)
    .then((png) => download(png, `plane-view-${shownEstimator()}.png`))
    .catch((e) => showError(`PNG: ${e.message}`));
});
ui.saveSvg.addEventListener("click", () => {
  const f = run.files.find((x) => x[0] === ui.figureSelect.value);
  if (f) download(f[1], f[0]);
});
ui.savePng.addEventListener("click", () => {
  const f = run.files.find((x) => x[0] === ui.figureSelect.value);
  if (!f) return;
  svgToPng(f[1], 2)
    .then((png) => download(png, f[0].replace(/\.svg$/, ".png")))
    .catch((e) => showError(`PNG: ${e.message}`));
});
ui.preset.addEventListener("change", updatePlaceholders);
ui.epochs.addEventListener("input", updatePlaceholders);
ui.schedule.addEventListener("input", updatePlaceholders);
ui.activation.addEventListener("change", updatePlaceholders);
for (const el of [ui.seed, ui.repeats, ui.workers, ui.overlay]) el.addEventListener("input", onFormEdited);
new ResizeObserver(() => scheduleRender()).observe($("plane-wrap"));
new ResizeObserver(() => scheduleRender()).observe($("acc").parentNode);
new ResizeObserver(() => scheduleRender()).observe($("layers-ixt").parentNode);
new IntersectionObserver((entries) => {
  progressVisible = entries.some((e) => e.isIntersecting);
  updateMini();
}).observe($("progress-block"));

/** Fills the form from the query string: {autostart} asked for, {ok} if every value was valid. */
function applyQuery() {
  const q = new URLSearchParams(location.search);
  const problems = [];
  const main = MAIN();
  const more = new Map(moreFields.map((f) => [f.name, f.input]));
  for (const [key, raw] of q) {
    const v = raw.trim();
    if (key === "autostart" || key === "worker") continue;
    if (key === "workers") {
      ui.workers.value = v;
    } else if (key === "overlay") {
      ui.overlay.checked = v === "1" || v === "true";
    } else if (key === "estimators" || key === "estimator") {
      const list = v.split(",").map((s) => s.trim()).filter(Boolean);
      const known = estimatorNames();
      const bad = list.filter((e) => !known.includes(e));
      if (bad.length) problems.push(`unknown estimator '${bad[0]}' (expected ${known.join(", ")})`);
      else if (list.length) {
        estimatorsTouched = true;
        for (const b of estimatorBoxes) b.checked = list.includes(b.value);
        estimatorOrder = [...new Set([...list, ...known])];
      }
    } else if (main[key] || more.has(key)) {
      const input = main[key] ?? more.get(key);
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === v)) {
        problems.push(`unknown ${key} '${v}' (expected ${[...input.options].map((o) => o.value).filter(Boolean).join(", ")})`);
      } else {
        input.value = v;
      }
    } else {
      problems.push(`unknown setting '${key}'`);
    }
  }
  if (problems.length) {
    linkNote = `Link settings ignored: ${problems.join("; ")}.`;
    showError(linkNote);
  }
  useWorker = q.get("worker") !== "0";
  const auto = q.get("autostart");
  return { autostart: auto === "1" || auto === "true", ok: problems.length === 0 };
}

/** Options of a <select>: one per name, with an optional tooltip. */
function fillSelect(select, items) {
  select.replaceChildren(...items.map(({ name, title }) => {
    const o = document.createElement("option");
    o.value = name;
    o.textContent = name;
    if (title) o.title = title;
    return o;
  }));
}

/** Builds the menus, the estimator checkboxes and the other settings from the catalogue. */
function buildForm() {
  fillSelect(ui.preset, CATALOG.presets.map((p) => ({ name: p.name, title: p.summary })));
  fillSelect(ui.activation, CATALOG.activations.map((name) => ({ name })));
  const first = CATALOG.presets[0];
  if (first) ui.activation.value = first.activation;
  ui.workers.placeholder = String(cores());
  const fieldset = $("estimators");
  fieldset.querySelectorAll("label").forEach((l) => l.remove());
  estimatorBoxes = CATALOG.estimators.map((e) => {
    const label = document.createElement("label");
    const params = e.params.map((p) => `${p.name}: ${p.help}`).join("; ");
    label.title = params ? `${e.summary} (settings: ${params})` : e.summary;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "estimator";
    box.value = e.name;
    box.addEventListener("change", () => {
      estimatorsTouched = true;
      updatePlaceholders();
    });
    label.append(box, ` ${e.name}`);
    fieldset.appendChild(label);
    return box;
  });
  estimatorOrder = estimatorNames();
  $("schedule-label").title = `Accepted: ${CATALOG.schedules}`;
  const box = $("more-fields");
  box.replaceChildren();
  const helps = new Map(CATALOG.estimators.flatMap((e) => e.params.map((p) => [p.name.replaceAll("_", "-"), `${p.help}; accepts ${p.accepts}`])));
  moreFields = MORE.map(([name, label, kind, preset]) => {
    const wrap = document.createElement("label");
    wrap.className = "field";
    const span = document.createElement("span");
    span.className = "label";
    span.textContent = label;
    const code = document.createElement("small");
    code.textContent = ` --${name}`;
    span.appendChild(code);
    let input;
    if (kind === "text") {
      input = document.createElement("input");
      input.type = "text";
      input.spellcheck = false;
      input.autocapitalize = "off";
    } else {
      input = document.createElement("select");
      const choices = kind === "bool" ? ["true", "false"] : kind();
      fillSelect(input, [{ name: "" }, ...choices.map((c) => ({ name: c }))]);
    }
    input.id = `opt-${name}`;
    input.name = name;
    input.addEventListener("input", onFormEdited);
    input.addEventListener("change", onFormEdited);
    if (helps.has(name)) wrap.title = helps.get(name);
    wrap.append(span, input);
    box.appendChild(wrap);
    return { name, input, preset };
  });
}

// ---------------------------------------------------------------- your own activations

/** Dropped files: {name, bytes (Uint8Array), role: activations | labels | inputs | unused}. */
let dropped = [];
let dropBoxes = [];

/** A first guess at what a dropped file holds, from its name. */
function guessRole(name, taken) {
  const base = name.toLowerCase().replace(/\.[a-z]+$/, "");
  const want = /label|target|(^|[_\-.])y($|[_\-.])/.test(base) ? "labels"
    : /input|(^|[_\-.])x($|[_\-.])/.test(base) ? "inputs" : "activations";
  return taken.has(want) ? "unused" : want;
}

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`;
}

async function addFiles(list) {
  for (const f of list) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    dropped = dropped.filter((d) => d.name !== f.name);
    const taken = new Set(dropped.map((d) => d.role));
    dropped.push({ name: f.name, bytes, role: guessRole(f.name, taken) });
  }
  drawDropped();
}

function drawDropped() {
  const box = $("drop-files");
  box.replaceChildren();
  for (const d of dropped) {
    const row = document.createElement("div");
    row.className = "drop-file";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = d.name;
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = formatBytes(d.bytes.length);
    const role = document.createElement("select");
    role.setAttribute("aria-label", `What ${d.name} holds`);
    fillSelect(role, ["activations", "labels", "inputs", "unused"].map((n) => ({ name: n })));
    role.value = d.role;
    role.addEventListener("change", () => {
      d.role = role.value;
      updateDropButton();
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => {
      dropped = dropped.filter((x) => x !== d);
      drawDropped();
    });
    row.append(name, size, role, remove);
    box.appendChild(row);
  }
  updateDropButton();
}

/** `infoplane estimate` options for the dropped files, or an Error saying what is missing. */
function dropOptions() {
  const one = (role) => {
    const files = dropped.filter((d) => d.role === role);
    if (files.length > 1) throw new Error(`${files.length} files are marked ${role}: mark one`);
    return files[0];
  };
  const t = one("activations");
  const y = one("labels");
  const x = one("inputs");
  if (!t) throw new Error("Mark a file as the activations (one row per sample).");
  if (!y) throw new Error("Mark a file as the labels (one per row of the activations).");
  const ests = dropBoxes.filter((b) => b.checked).map((b) => b.value);
  if (ests.length === 0) throw new Error("--estimator: choose at least one estimator");
  const options = ["--activations", t.name, "--labels", y.name];
  if (x) options.push("--inputs", x.name);
  for (const e of ests) options.push("--estimator", e);
  options.push(...$("drop-options").value.trim().split(/\s+/).filter(Boolean));
  const files = [t, y, x].filter(Boolean);
  return { options, files };
}

function updateDropButton() {
  let ok = true;
  try {
    dropOptions();
  } catch {
    ok = false;
  }
  $("drop-run").disabled = !ok;
}

function showDropError(message) {
  const e = $("drop-error");
  e.textContent = message;
  e.hidden = !message;
}

/** Estimates the dropped files in a Web Worker (on the page with ?worker=0). */
function estimateDropped() {
  let job;
  try {
    job = dropOptions();
  } catch (e) {
    showDropError(e.message);
    return;
  }
  showDropError("");
  const out = $("drop-result");
  out.textContent = "Estimating…";
  $("drop-run").disabled = true;
  const msg = {
    type: "estimate",
    options: job.options,
    names: job.files.map((f) => f.name),
    contents: job.files.map((f) => f.bytes),
  };
  const command = ["infoplane", "estimate", ...job.options].map(shellWord).join(" ");
  const done = (reply) => {
    $("drop-run").disabled = false;
    if (reply.type === "error") {
      out.replaceChildren();
      showDropError(reply.error);
      return;
    }
    drawDropResult(reply.csv, reply.warnings, command);
  };
  if (!useWorker) {
    try {
      const r = JSON.parse(WASM.estimateFiles(msg.options, msg.names, msg.contents));
      done({ type: "estimated", ...r });
    } catch (e) {
      done({ type: "error", error: e.message || String(e) });
    }
    return;
  }
  const worker = new Worker("./worker.js", { type: "module" });
  worker.onmessage = (ev) => {
    worker.terminate();
    done(ev.data);
  };
  worker.onerror = (ev) => {
    worker.terminate();
    done({ type: "error", error: `The worker failed: ${ev.message || "could not load worker.js"}` });
  };
  worker.postMessage(msg);
}

function drawDropResult(csv, warnings, command) {
  const out = $("drop-result");
  out.replaceChildren();
  const table = document.createElement("table");
  table.id = "drop-table";
  const lines = csv.trim().split("\n");
  const head = document.createElement("tr");
  for (const h of ["estimator", "I(X;T) bits", "I(T;Y) bits"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  table.appendChild(head);
  for (const line of lines.slice(1)) {
    const [name, ix, iy] = line.split(",");
    const tr = document.createElement("tr");
    tr.dataset.estimator = name;
    tr.dataset.ixt = ix;
    tr.dataset.ity = iy;
    for (const [v, cls] of [[name, ""], [Number(ix).toFixed(4), "num"], [Number(iy).toFixed(4), "num"]]) {
      const td = document.createElement("td");
      td.textContent = v;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
  out.appendChild(table);
  for (const w of warnings) {
    const p = document.createElement("p");
    p.className = "warn";
    p.textContent = `warning: ${w}`;
    out.appendChild(p);
  }
  const cli = document.createElement("div");
  cli.className = "cli";
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "The same from the command line";
  const code = document.createElement("code");
  code.textContent = command;
  cli.append(label, code);
  const save = document.createElement("button");
  save.type = "button";
  save.textContent = "Download estimate.csv";
  save.addEventListener("click", () => download(csv, "estimate.csv"));
  out.append(cli, save);
  const pre = document.createElement("pre");
  pre.id = "estimate-csv";
  pre.hidden = true;
  pre.textContent = csv;
  out.appendChild(pre);
}

function buildDropCard() {
  const fieldset = $("drop-estimators");
  fieldset.querySelectorAll("label").forEach((l) => l.remove());
  dropBoxes = CATALOG.estimators.map((e, i) => {
    const label = document.createElement("label");
    label.title = e.summary;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = e.name;
    box.checked = i === 0;
    box.addEventListener("change", updateDropButton);
    label.append(box, ` ${e.name}`);
    fieldset.appendChild(label);
    return box;
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    addFiles([...ev.dataTransfer.files]).catch((e) => showDropError(e.message));
  });
  $("drop-input").addEventListener("change", (ev) => {
    addFiles([...ev.target.files]).catch((e) => showDropError(e.message));
    ev.target.value = "";
  });
  $("drop-run").addEventListener("click", estimateDropped);
  $("drop-options").addEventListener("input", updateDropButton);
}

/** Loads the wasm module's catalogue, builds the form, and applies the link's settings. */
async function init() {
  try {
    const mod = await import("./pkg/infoplane_wasm.js");
    await mod.default();
    WASM = mod;
    CATALOG = JSON.parse(mod.catalog());
    // Presets on data read from files (MNIST) need those files, which the page cannot load
    // yet: it offers the presets whose data set the module generates.
    CATALOG.presets = CATALOG.presets.filter((p) => p.dataset !== "mnist");
  } catch (e) {
    showError(`Could not load the WebAssembly module (pkg/infoplane_wasm.js): ${e.message || e}`);
    updateStatus("error");
    setState("error");
    return;
  }
  buildForm();
  buildDropCard();
  const query = applyQuery();
  setState("idle");
  updatePlaceholders();
  if (query.autostart && query.ok) {
    start();
  } else {
    flushRender();
    // An automated run that cannot start must not look idle forever.
    if (query.autostart) setState("error");
  }
}

init();
