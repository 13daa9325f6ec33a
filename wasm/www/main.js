// infoplane page: settings, the training worker, and the live information plane.
//
// The worker (worker.js) trains one Session of the wasm module and streams
//   points:  Float64Array, flat groups of 5: [epoch, layer (1-based), estimatorIndex, i_xt_bits, i_ty_bits]
//   metrics: Float64Array, flat groups of 5: [epoch, train_loss, train_acc, test_loss, test_acc]
// The presets, activations and estimators come from the wasm module's catalogue (`catalog()`,
// the core's own lists), so the form offers exactly what the core implements.
// This file only draws them. Hooks for automation (see ../browser-check.sh):
//   * query parameters preset, activation, estimators (comma-separated), seed, epochs, schedule,
//     autostart=1 fill the form and start training on load;
//   * body[data-state] is idle | running | done | stopped | error;
//   * every drawn point is <circle data-epoch data-layer data-estimator data-ixt data-ity> in svg#plane;
//   * output#status reads "epochs N/M · ..."; when the run ends pre#plane-csv and pre#metrics-csv
//     (hidden) hold the CSV files, byte for byte as the CLI writes them.

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

// ---------------------------------------------------------------- the information plane

class PlaneView {
  constructor(svg, wrap, tip) {
    this.svg = svg;
    this.wrap = wrap;
    this.tip = tip;
    this.width = 0;
    this.frame = svgEl("g", { class: "frame" }, svg);
    this.curvesG = svgEl("g", { class: "curves" }, svg);
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
    this.needLayout = true;
  }

  show(index) {
    if (index === this.shown || !this.curves[index]) return;
    this.shown = index;
    this.clearDrawn();
  }

  /** Takes a batch of points from the worker; drawing waits for render(). */
  add(points) {
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
      c.push({ layer, x, y });
      if (c.length > 1 && c[c.length - 2].layer > layer) c.sort((a, b) => a.layer - b.layer);
      if (est === this.shown) {
        this.dirty.add(epoch);
        this.grow(x, y);
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
    if (this.needLayout) {
      this.layout(W);
      this.needLayout = false;
      for (const epoch of [...curves.keys()].sort((a, b) => a - b)) this.drawEpoch(epoch, curves.get(epoch));
    } else if (this.dirty.size > 0) {
      for (const epoch of [...this.dirty].sort((a, b) => a - b)) this.drawEpoch(epoch, curves.get(epoch));
    }
    this.dirty.clear();
    this.empty.style.display = curves.size > 0 ? "none" : "";
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
      d = { g, line, circles: [] };
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
    });
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
      this.tip.replaceChildren(
        `epoch ${best.epoch} · ${layerName}`, document.createElement("br"),
        `I(X;T) = ${p.x.toFixed(4)} bits`, document.createElement("br"),
        `I(T;Y) = ${p.y.toFixed(4)} bits`,
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
    this.rows = [];
    this.changed = true;
  }

  add(metrics) {
    for (let i = 0; i + 4 < metrics.length; i += 5) {
      this.rows.push([metrics[i], metrics[i + 1], metrics[i + 2], metrics[i + 3], metrics[i + 4]]);
    }
    if (metrics.length > 0) this.changed = true;
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
    svg.replaceChildren();
    const m = { left: 46, right: 12, top: 8, bottom: 38 };
    const pw = W - m.left - m.right;
    const ph = 140;
    svg.setAttribute("viewBox", `0 0 ${W} ${m.top + ph + m.bottom}`);
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
    const max = Math.max(1, this.maxEpoch);
    const fx = this.logX ? (e) => Math.log1p(e) / Math.log1p(max) : (e) => e / max;
    const sx = (e) => m.left + fx(e) * pw;
    const sy = (v) => m.top + ph - ((v - y0) / (y1 - y0)) * ph;

    for (const t of linearTicks(y0, y1, 4)) {
      const y = r2(sy(t.v));
      svgEl("line", { class: "grid", x1: m.left, x2: m.left + pw, y1: y, y2: y }, svg);
      svgText(svg, m.left - 6, y + 4, t.label, { class: "tick", "text-anchor": "end" });
    }
    const xt = this.logX
      ? logTicks(max, (a, b) => Math.abs(sx(a) - sx(b)) >= (String(a).length + String(b).length) * 3.7 + 8)
          .map((v) => ({ v, label: String(v) }))
      : linearTicks(0, max, Math.max(2, Math.round(pw / 70)));
    for (const t of xt) {
      const x = r2(sx(t.v));
      svgEl("line", { class: "grid", x1: x, x2: x, y1: m.top, y2: m.top + ph }, svg);
      svgText(svg, x, m.top + ph + 16, t.label, { class: "tick", "text-anchor": "middle" });
    }
    svgEl("path", { class: "axis", d: `M${m.left},${m.top}V${m.top + ph}H${m.left + pw}` }, svg);
    svgText(svg, m.left + pw / 2, m.top + ph + 33, this.logX ? "epoch (log scale)" : "epoch", {
      class: "axis-title", "text-anchor": "middle",
    });

    const few = this.rows.length <= 40;
    [["train", cols[0]], ["test", cols[1]]].forEach(([name, c]) => {
      const pts = this.rows.filter((r) => Number.isFinite(r[c])).map((r) => [r2(sx(r[0])), r2(sy(r[c]))]);
      if (pts.length > 1) svgEl("polyline", { class: `series ${name}`, points: pts.map((p) => p.join(",")).join(" ") }, svg);
      if (few || pts.length === 1) for (const [x, y] of pts) svgEl("circle", { class: `dot ${name}`, cx: x, cy: y, r: 2.5 }, svg);
    });
  }
}

// ---------------------------------------------------------------- the page

const form = $("controls");
const ui = {
  preset: $("preset"),
  activation: $("activation"),
  seed: $("seed"),
  epochs: $("epochs"),
  schedule: $("schedule"),
  train: $("train"),
  stop: $("stop"),
  progress: $("progress"),
  status: $("status"),
  error: $("error"),
  dlPlane: $("dl-plane"),
  dlMetrics: $("dl-metrics"),
  share: $("share"),
  estView: $("est-view"),
  planeTitle: $("plane-title"),
  planeCsv: $("plane-csv"),
  metricsCsv: $("metrics-csv"),
};
/** The estimator checkboxes, built from the catalogue by `buildForm`. */
let estimatorBoxes = [];

const plane = new PlaneView($("plane"), $("plane-wrap"), $("tip"));
const charts = new MetricsView($("acc"), $("loss"));

const run = {
  worker: null,
  total: 0,
  epochsDone: 0,
  elapsedMs: 0,
  trainMs: 0,
  measureMs: 0,
  planeCsv: "",
  metricsCsv: "",
  settings: null,
};

/** Web Worker (default) or the page's own thread (?worker=0, for headless checks). */
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
  const have = !running && run.planeCsv !== "";
  ui.dlPlane.disabled = !have;
  ui.dlMetrics.disabled = !(!running && run.metricsCsv !== "");
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

// Takes the new points, metric rows and counters of a worker "progress" or "done" message.
function applyProgress(msg) {
  plane.add(msg.points);
  charts.add(msg.metrics);
  run.epochsDone = msg.epochsDone;
  run.total = msg.totalEpochs;
  run.elapsedMs = msg.elapsedMs;
  run.trainMs = msg.trainMs ?? 0;
  run.measureMs = msg.measureMs ?? 0;
}

function updateStatus(word) {
  const total = run.total || (Number(ui.epochs.value) || presetNamed(ui.preset.value)?.epochs || 0);
  ui.progress.max = Math.max(1, total);
  ui.progress.value = Math.min(run.epochsDone, total);
  let s = `epochs ${run.epochsDone}/${total}`;
  if (run.elapsedMs > 0) s += ` · ${formatSeconds(run.elapsedMs)} · ${formatRate(run.epochsDone, run.elapsedMs)} epochs/s`;
  if (run.trainMs + run.measureMs > 0) s += ` (train ${formatSeconds(run.trainMs)}, measure ${formatSeconds(run.measureMs)})`;
  if (word) s += ` · ${word}`;
  ui.status.value = s;
  ui.status.textContent = s;
}

function updatePlaceholders() {
  const p = presetNamed(ui.preset.value);
  if (!p) return;
  ui.epochs.placeholder = String(p.epochs);
  ui.schedule.placeholder = p.schedule;
  $("preset-note").textContent = p.summary;
  if (!estimatorsTouched) {
    for (const b of estimatorBoxes) b.checked = p.estimators.includes(b.value);
  }
  if (document.body.dataset.state === "idle") {
    const ests = estimatorBoxes.filter((b) => b.checked).map((b) => b.value).join(", ") || "no estimator";
    ui.planeTitle.textContent = `${ui.preset.value} · ${ui.activation.value} · ${ests}`;
    charts.reset(Math.max(0, (Number(ui.epochs.value) || p.epochs) - 1), !ui.schedule.value.trim().startsWith("every:"));
    plane.reset([], Math.max(0, (Number(ui.epochs.value) || p.epochs) - 1));
    updateStatus("ready");
    scheduleRender();
  }
}

/** Reads and checks the form. Returns settings, or throws Error with a message for the user. */
function readSettings() {
  const preset = ui.preset.value;
  const activation = ui.activation.value;
  const checked = new Set(estimatorBoxes.filter((b) => b.checked).map((b) => b.value));
  const estimators = estimatorOrder.filter((e) => checked.has(e));
  if (estimators.length === 0) throw new Error("Choose at least one estimator.");
  const seedText = ui.seed.value.trim();
  const seed = seedText === "" ? 0 : Number(seedText);
  if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) throw new Error("Seed must be a whole number from 0 to 4294967295.");
  const epochsText = ui.epochs.value.trim();
  const epochs = epochsText === "" ? 0 : Number(epochsText);
  if (!Number.isInteger(epochs) || epochs < 0 || epochs > 4294967295) throw new Error("Epochs must be a whole number of at least 1 (empty: the preset's).");
  const schedule = ui.schedule.value.trim();
  return { preset, activation, estimators: estimators.join(","), seed, epochs, schedule };
}

function settingsQuery(s, autostart) {
  const q = new URLSearchParams();
  q.set("preset", s.preset);
  q.set("activation", s.activation);
  q.set("estimators", s.estimators);
  q.set("seed", String(s.seed));
  if (s.epochs) q.set("epochs", String(s.epochs));
  if (s.schedule) q.set("schedule", s.schedule);
  if (autostart) q.set("autostart", "1");
  return `?${q.toString().replaceAll("%2C", ",").replaceAll("%3A", ":")}`;
}

function start() {
  let s;
  try {
    s = readSettings();
  } catch (e) {
    showError(e.message);
    updateStatus("invalid settings");
    setState("error");
    return;
  }
  stopWorker();
  showError("");
  run.settings = s;
  run.total = s.epochs || presetNamed(s.preset).epochs;
  run.epochsDone = 0;
  run.elapsedMs = 0;
  run.trainMs = 0;
  run.measureMs = 0;
  run.planeCsv = "";
  run.metricsCsv = "";
  ui.planeCsv.textContent = "";
  ui.metricsCsv.textContent = "";
  const names = s.estimators.split(",");
  plane.reset(names, run.total - 1);
  charts.reset(run.total - 1, !(s.schedule || presetNamed(s.preset).schedule).startsWith("every:"));
  buildEstimatorView(names);
  setPlaneTitle(names[0]);
  ui.share.href = settingsQuery(s, true);
  try {
    history.replaceState(null, "", settingsQuery(s, false));
  } catch {
    // file:// or a sandbox may refuse; the share link still works.
  }
  setState("running");
  updateStatus("starting");
  scheduleRender();

  let worker;
  try {
    worker = useWorker ? new Worker("./worker.js", { type: "module" }) : new InPageRunner();
  } catch (e) {
    fail(`Cannot start the training worker: ${e.message}`);
    return;
  }
  run.worker = worker;
  worker.onmessage = (ev) => {
    if (run.worker !== worker) return;
    onWorkerMessage(ev.data);
  };
  worker.onerror = (ev) => {
    if (run.worker !== worker) return;
    ev.preventDefault?.();
    fail(`The training worker failed: ${ev.message || "could not load worker.js"}`);
  };
  worker.postMessage({ type: "start", ...s });
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

function stopWorker() {
  if (run.worker) {
    run.worker.terminate();
    run.worker = null;
  }
}

function fail(message) {
  stopWorker();
  flushRender();
  showError(message);
  updateStatus("error");
  setState("error");
}

function onWorkerMessage(msg) {
  switch (msg.type) {
    case "started": {
      run.total = msg.totalEpochs;
      const names = String(msg.estimatorNames).split(",");
      plane.reset(names, Math.max(0, run.total - 1));
      charts.reset(Math.max(0, run.total - 1), charts.logX);
      buildEstimatorView(names);
      setPlaneTitle(names[0]);
      updateStatus("training");
      scheduleRender();
      break;
    }
    case "progress":
      applyProgress(msg);
      scheduleRender();
      break;
    case "done": {
      applyProgress(msg);
      run.planeCsv = msg.planeCsv;
      run.metricsCsv = msg.metricsCsv;
      stopWorker();
      flushRender();
      ui.planeCsv.textContent = run.planeCsv;
      ui.metricsCsv.textContent = run.metricsCsv;
      updateStatus(msg.stopped ? "stopped" : "done");
      setState(msg.stopped ? "stopped" : "done");
      break;
    }
    case "error":
      if (msg.planeCsv) {
        run.planeCsv = msg.planeCsv;
        run.metricsCsv = msg.metricsCsv ?? "";
        ui.planeCsv.textContent = run.planeCsv;
        ui.metricsCsv.textContent = run.metricsCsv;
      }
      fail(String(msg.error));
      break;
    default:
      break;
  }
}

/** The caption above the plane: the run's settings and the estimator shown. */
function setPlaneTitle(estimator) {
  const s = run.settings;
  if (s) ui.planeTitle.textContent = `${s.preset} · ${s.activation} · ${estimator} · seed ${s.seed}`;
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
let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(flushRender);
  setTimeout(flushRender, 200);
}

function flushRender() {
  renderPending = false;
  plane.render();
  charts.render();
  if (document.body.dataset.state === "running" && !ui.stop.disabled) {
    updateStatus(run.epochsDone > 0 ? "training" : "starting");
  }
}

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
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
  if (run.worker) {
    run.worker.postMessage({ type: "stop" });
    ui.stop.disabled = true;
    updateStatus("stopping");
  }
});
ui.dlPlane.addEventListener("click", () => download(run.planeCsv, "plane.csv"));
ui.dlMetrics.addEventListener("click", () => download(run.metricsCsv, "metrics.csv"));
ui.preset.addEventListener("change", updatePlaceholders);
ui.epochs.addEventListener("input", updatePlaceholders);
ui.schedule.addEventListener("input", updatePlaceholders);
ui.activation.addEventListener("change", updatePlaceholders);
new ResizeObserver(() => scheduleRender()).observe($("plane-wrap"));
new ResizeObserver(() => scheduleRender()).observe($("acc").parentNode);

/** Fills the form from the query string: {autostart} asked for, {ok} if every value was valid. */
function applyQuery() {
  const q = new URLSearchParams(location.search);
  const problems = [];
  const pick = (key, input, allowed) => {
    if (!q.has(key)) return;
    const v = q.get(key).trim();
    if (allowed && !allowed.includes(v)) problems.push(`unknown ${key} '${v}' (expected ${allowed.join(", ")})`);
    else input.value = v;
  };
  pick("preset", ui.preset, CATALOG.presets.map((p) => p.name));
  pick("activation", ui.activation, CATALOG.activations);
  pick("seed", ui.seed);
  pick("epochs", ui.epochs);
  pick("schedule", ui.schedule);
  if (q.has("estimators") || q.has("estimator")) {
    const list = (q.get("estimators") ?? q.get("estimator")).split(",").map((s) => s.trim()).filter(Boolean);
    const known = estimatorNames();
    const bad = list.filter((e) => !known.includes(e));
    if (bad.length) problems.push(`unknown estimator '${bad[0]}' (expected ${known.join(", ")})`);
    else if (list.length) {
      estimatorsTouched = true;
      for (const b of estimatorBoxes) b.checked = list.includes(b.value);
      estimatorOrder = [...new Set([...list, ...known])];
    }
  }
  if (problems.length) showError(`Link settings ignored: ${problems.join("; ")}.`);
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

/** Builds the preset and activation menus and the estimator checkboxes from the catalogue. */
function buildForm() {
  fillSelect(ui.preset, CATALOG.presets.map((p) => ({ name: p.name, title: p.summary })));
  fillSelect(ui.activation, CATALOG.activations.map((name) => ({ name })));
  const first = CATALOG.presets[0];
  if (first) ui.activation.value = first.activation;
  const fieldset = $("estimators");
  fieldset.querySelectorAll("label").forEach((l) => l.remove());
  estimatorBoxes = CATALOG.estimators.map((e) => {
    const label = document.createElement("label");
    const params = e.params.map((p) => `${p.name}: ${p.help}`).join("; ");
    label.title = params ? `${e.summary} (settings from the preset: ${params})` : e.summary;
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
}

/** Loads the wasm module's catalogue, builds the form, and applies the link's settings. */
async function init() {
  try {
    const mod = await import("./pkg/infoplane_wasm.js");
    await mod.default();
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
  const query = applyQuery();
  setState("idle");
  updatePlaceholders();
  ui.share.href = (() => {
    try {
      return settingsQuery(readSettings(), true);
    } catch {
      return "?autostart=1";
    }
  })();
  if (query.autostart && query.ok) {
    start();
  } else {
    flushRender();
    // An automated run that cannot start must not look idle forever.
    if (query.autostart) setState("error");
  }
}

init();
