// The foot-load gauge: a 240° arc from 0 to 1.5 x the limit with the caution
// and over bands, the value arc in the state's colour, a big number and the
// state's symbol and word (readable from 2 m, never colour alone).

import { h, s, kg } from "./dom.js";
import { stateInfo } from "./words.js";

const CX = 150;
const CY = 150;
const R = 120;
const SWEEP = 240;

function point(deg, r = R) {
  const a = (deg * Math.PI) / 180;
  return [CX + r * Math.sin(a), CY - r * Math.cos(a)];
}

/** SVG path of the arc between fractions f0..f1 of the gauge (0..1). */
export function arcPath(f0, f1, r = R) {
  const a0 = -SWEEP / 2 + SWEEP * Math.max(0, Math.min(1, f0));
  const a1 = -SWEEP / 2 + SWEEP * Math.max(0, Math.min(1, f1));
  const [x0, y0] = point(a0, r);
  const [x1, y1] = point(a1, r);
  const large = a1 - a0 > 180 ? 1 : 0;
  return `M${x0.toFixed(2)} ${y0.toFixed(2)}A${r} ${r} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

export class Gauge {
  constructor() {
    this.bandOk = s("path", { class: "band ok" });
    this.bandCaution = s("path", { class: "band caution" });
    this.bandOver = s("path", { class: "band over" });
    this.value = s("path", { class: "value-arc" });
    this.limitTick = s("line", { class: "limit-tick" });
    this.limitText = s("text", { class: "limit-text", "text-anchor": "middle" });
    const svg = s("svg", { viewBox: "0 0 300 250", class: "gauge-svg", "aria-hidden": "true" },
      s("path", { class: "track", d: arcPath(0, 1) }),
      this.bandOk, this.bandCaution, this.bandOver, this.value, this.limitTick, this.limitText);
    this.number = h("span", { class: "number", "data-testid": "foot-load" }, "–");
    this.sym = h("span", { class: "sym", "aria-hidden": "true" }, "–");
    this.word = h("span", { class: "word", "data-testid": "state-word" }, "–");
    this.pct = h("div", { class: "pct" }, "");
    this.el = h("section", { class: "gauge-card", "data-testid": "gauge", "data-state": "idle", "aria-label": "Foot load" },
      h("div", { class: "gauge" }, svg,
        h("div", { class: "readout" },
          h("div", { class: "caption" }, "foot load"),
          h("div", {}, this.number, h("span", { class: "unit" }, " kg")),
        )),
      h("div", { class: "state-label", role: "status", "aria-live": "polite" }, this.sym, " ", this.word),
      this.pct);
    this.lastState = null;
  }

  /** snap: a status snapshot; cautionFraction: the rig's caution line as a fraction of the limit. */
  update(snap, cautionFraction, stale) {
    const state = snap ? snap.state : "idle";
    const foot = snap ? snap.foot_load_kg : null;
    const limit = snap && snap.limit_kg ? snap.limit_kg : null;
    const max = limit ? limit * 1.5 : 100;
    this.bandOk.setAttribute("d", limit ? arcPath(0, cautionFraction / 1.5) : "");
    this.bandCaution.setAttribute("d", limit ? arcPath(cautionFraction / 1.5, 1 / 1.5) : "");
    this.bandOver.setAttribute("d", limit ? arcPath(1 / 1.5, 1) : "");
    const f = typeof foot === "number" ? foot / max : 0;
    this.value.setAttribute("d", f > 0.002 ? arcPath(0, f, R) : "");
    if (limit) {
      const a = -SWEEP / 2 + SWEEP / 1.5;
      const [x0, y0] = point(a, R - 22);
      const [x1, y1] = point(a, R + 14);
      const [tx, ty] = point(a, R + 26);
      Object.entries({ x1: x0, y1: y0, x2: x1, y2: y1 }).forEach(([k, v]) => this.limitTick.setAttribute(k, v.toFixed(1)));
      this.limitText.setAttribute("x", tx.toFixed(1));
      this.limitText.setAttribute("y", (ty + 4).toFixed(1));
      this.limitText.textContent = `limit ${kg(limit, 0)}`;
    } else {
      this.limitTick.setAttribute("x1", "0"); this.limitTick.setAttribute("x2", "0");
      this.limitTick.setAttribute("y1", "0"); this.limitTick.setAttribute("y2", "0");
      this.limitText.textContent = "";
    }
    this.number.textContent = kg(foot);
    if (state !== this.lastState) {
      const info = stateInfo(state);
      this.sym.textContent = info.symbol;
      this.word.textContent = info.word;
      this.el.dataset.state = state;
      this.el.title = info.hint;
      this.lastState = state;
    }
    this.pct.textContent = limit && typeof foot === "number"
      ? `${Math.round((100 * foot) / limit)} % of the ${kg(limit, 0)} kg limit` : "no limit: no session";
    this.el.classList.toggle("stale", Boolean(stale));
  }
}
