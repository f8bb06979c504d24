// Small SVG charts drawn by hand: a time series with reference lines and
// shaded spans, and an x/y scatter with a fitted line. SVG scales crisply
// from a phone to a wall tablet and its text is real text.

import { s } from "./dom.js";

/** A "nice" step for about n ticks over span. */
export function niceStep(span, n = 5) {
  if (!(span > 0)) return 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

export function ticks(lo, hi, n = 5) {
  const step = niceStep(hi - lo, n);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.round(v / step) * step);
  }
  return out;
}

/** At most about n points: min and max per bucket keep the peaks. */
export function downsample(xs, ys, n) {
  if (xs.length <= n) return [xs, ys];
  const buckets = Math.max(1, Math.floor(n / 2));
  const size = xs.length / buckets;
  const ox = [];
  const oy = [];
  for (let b = 0; b < buckets; b++) {
    const i0 = Math.floor(b * size);
    const i1 = Math.min(xs.length, Math.floor((b + 1) * size));
    let imin = i0;
    let imax = i0;
    for (let i = i0; i < i1; i++) {
      if (ys[i] < ys[imin]) imin = i;
      if (ys[i] > ys[imax]) imax = i;
    }
    for (const i of imin <= imax ? [imin, imax] : [imax, imin]) {
      if (ox.length && ox[ox.length - 1] === xs[i]) continue;
      ox.push(xs[i]);
      oy.push(ys[i]);
    }
  }
  return [ox, oy];
}

const PAD = { l: 46, r: 12, t: 12, b: 28 };

/**
 * A time-series chart that can be redrawn many times a second.
 * opts: {width, height, label, xLabel, yUnit}
 */
export class SeriesChart {
  constructor(opts) {
    this.w = opts.width || 800;
    this.h = opts.height || 240;
    this.baseH = this.h;
    this.xLabel = opts.xLabel || "";
    this.yUnit = opts.yUnit || "kg";
    this.svg = s("svg", {
      viewBox: `0 0 ${this.w} ${this.h}`, class: "chart", role: "img",
      "aria-label": opts.label || "chart",
    });
    this.gSpans = s("g", { class: "spans" });
    this.gGrid = s("g", { class: "grid" });
    this.gLines = s("g", { class: "refs" });
    this.path = s("path", { class: "series", d: "" });
    this.gLabels = s("g", { class: "labels" });
    this.gMarks = s("g", { class: "marks" });
    this.svg.append(this.gSpans, this.gGrid, this.gLines, this.path, this.gLabels, this.gMarks);
    this.el = this.svg;
  }

  /**
   * xs, ys: numbers; x0..x1 and y0..y1: the axes; refs: [{y, label, cls}];
   * spans: [{x0, x1, cls, label}] shaded across the full height;
   * marks: [{x, cls, label, symbol}] instants drawn as a vertical line with a symbol on top.
   */
  draw({ xs, ys, x0, x1, y0, y1, refs = [], spans = [], marks = [], xFormat = (v) => `${v}`, maxPoints = 1200 }) {
    // follow the width on screen, so the text stays readable on a phone
    const cw = this.svg.clientWidth;
    if (cw > 0 && Math.abs(cw - this.w) > 8) {
      this.w = Math.round(cw);
      this.h = Math.round(Math.min(this.baseH, Math.max(180, cw * 0.5)));
      this.svg.setAttribute("viewBox", `0 0 ${this.w} ${this.h}`);
    }
    const { l, r, t, b } = PAD;
    const W = this.w - l - r;
    const H = this.h - t - b;
    const X = (v) => l + ((v - x0) / (x1 - x0 || 1)) * W;
    const Y = (v) => t + H - ((v - y0) / (y1 - y0 || 1)) * H;

    this.gGrid.replaceChildren();
    for (const v of ticks(y0, y1, 4)) {
      this.gGrid.append(
        s("line", { x1: l, x2: l + W, y1: Y(v), y2: Y(v) }),
        s("text", { x: l - 6, y: Y(v) + 4, class: "ytick" }, `${v}`),
      );
    }
    for (const v of ticks(x0, x1, 6)) {
      this.gGrid.append(s("text", { x: X(v), y: this.h - 8, class: "xtick" }, xFormat(v)));
    }
    this.gSpans.replaceChildren(...spans.map((sp) => s("rect", {
      x: X(Math.max(x0, sp.x0)), width: Math.max(1.5, X(Math.min(x1, sp.x1)) - X(Math.max(x0, sp.x0))),
      y: t, height: H, class: sp.cls || "span",
    }, sp.label ? s("title", {}, sp.label) : null)));
    this.gLines.replaceChildren();
    this.gLabels.replaceChildren();
    for (const ref of refs) {
      if (!(ref.y >= y0 && ref.y <= y1)) continue;
      this.gLines.append(s("line", { x1: l, x2: l + W, y1: Y(ref.y), y2: Y(ref.y), class: ref.cls || "ref" }));
      const kind = (ref.cls || "").replace(/\bref\b/, "").trim();
      this.gLabels.append(s("text", { x: l + 6, y: Y(ref.y) - 5, class: `reflabel ${kind}` }, ref.label));
    }
    // an instant (a comfort-button press) is a line *and* a symbol: never colour alone
    this.gMarks.replaceChildren(...marks.filter((m) => m.x >= x0 && m.x <= x1).map((m) => s("g", {
      class: `mark ${m.cls || ""}`.trim(),
    }, s("line", { x1: X(m.x), x2: X(m.x), y1: t + 12, y2: t + H }),
    s("text", { x: X(m.x), y: t + 10, "text-anchor": "middle" }, m.symbol || "◆"),
    m.label ? s("title", {}, m.label) : null)));
    this.svg.dataset.marks = String(this.gMarks.childElementCount);
    const [dx, dy] = downsample(xs, ys, maxPoints);
    let d = "";
    for (let i = 0; i < dx.length; i++) {
      const y = Math.min(y1, Math.max(y0, dy[i]));
      d += `${i ? "L" : "M"}${X(dx[i]).toFixed(1)} ${Y(y).toFixed(1)}`;
    }
    this.path.setAttribute("d", d);
    this.svg.dataset.points = String(dx.length);
  }
}

/**
 * A scatter of points with a fitted line: x = known kg, y = raw counts.
 * points: [{x, y, label, cls}], line: {offset, scale} (y = offset + scale * x).
 */
export function fitPlot({ points, line, label, width = 360, height = 220 }) {
  const { l, r, t, b } = { ...PAD, l: 70 };
  const W = width - l - r;
  const H = height - t - b;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const xmax = Math.max(1, ...xs) * 1.1;
  let ylo = Math.min(...ys);
  let yhi = Math.max(...ys);
  if (line && line.scale) {
    ylo = Math.min(ylo, line.offset);
    yhi = Math.max(yhi, line.offset + line.scale * xmax);
  }
  if (!(yhi > ylo)) { yhi = ylo + 1; ylo -= 1; }
  const pad = (yhi - ylo) * 0.08;
  ylo -= pad; yhi += pad;
  const X = (v) => l + (v / xmax) * W;
  const Y = (v) => t + H - ((v - ylo) / (yhi - ylo)) * H;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart fit", role: "img", "aria-label": label });
  const grid = s("g", { class: "grid" });
  for (const v of ticks(ylo, yhi, 4)) {
    grid.append(s("line", { x1: l, x2: l + W, y1: Y(v), y2: Y(v) }),
      s("text", { x: l - 6, y: Y(v) + 4, class: "ytick" }, Math.round(v).toLocaleString()));
  }
  for (const v of ticks(0, xmax, 5)) {
    grid.append(s("text", { x: X(v), y: height - 8, class: "xtick" }, `${v} kg`));
  }
  svg.append(grid);
  if (line && line.scale) {
    svg.append(s("line", { x1: X(0), y1: Y(line.offset), x2: X(xmax), y2: Y(line.offset + line.scale * xmax), class: "fitline" }));
  }
  for (const p of points) {
    svg.append(s("circle", { cx: X(p.x), cy: Y(p.y), r: 5, class: `pt ${p.cls || ""}` },
      s("title", {}, p.label || `${p.x} kg: ${p.y}`)));
  }
  svg.dataset.points = String(points.length);
  return svg;
}
