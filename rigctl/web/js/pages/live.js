// The live view: gauge, the facts of the session, each mount, the last 30 s.

import { h, kg, clock, replace } from "../dom.js";
import { Gauge } from "../gauge.js";
import { SeriesChart } from "../charts.js";
import { mountFaultText } from "../words.js";

const WINDOW_S = 30;

function fact(label, testid) {
  const value = h("span", { class: "fact-value", "data-testid": testid }, "–");
  return [h("div", { class: "fact" }, h("span", { class: "fact-label" }, label), value), value];
}

export function mount(root, { stream, me, api }) {
  const gauge = new Gauge();
  const chart = new SeriesChart({ width: 900, height: 250, label: "Foot load over the last 30 seconds, with the caution and limit lines" });
  const [fLimit, vLimit] = fact("Limit", "limit");
  const [fTherapist, vTherapist] = fact("Therapist", "therapist");
  const [fBar, vBar] = fact("On the bars", "bar-load");
  const [fTimer, vTimer] = fact("Session", "timer");
  const mountsEl = h("ul", { class: "mounts", "aria-label": "Bar mounts" });
  const mountRows = new Map();
  const caps = Object.fromEntries((me.mounts || []).map((m) => [m.name, m.capacity_kg]));

  replace(root,
    h("h1", { class: "visually-hidden" }, "Live view"),
    h("div", { class: "live" },
      gauge.el,
      h("section", { class: "facts", "aria-label": "Session" }, fLimit, fTherapist, fBar, fTimer,
        h("h2", { class: "sub" }, "Bar mounts"), mountsEl),
      h("section", { class: "chart-card", "aria-label": "Last 30 seconds" },
        h("h2", { class: "sub" }, "Foot load, last 30 s"), chart.el)));

  const buf = []; // {t (s, performance clock), foot, state}
  let snap = stream.last;
  let pending = false;

  function mountRow(m) {
    let row = mountRows.get(m.name);
    if (!row) {
      const value = h("span", { class: "mount-kg" });
      const bar = h("span", { class: "meter-fill" });
      const note = h("span", { class: "mount-note" });
      const li = h("li", { class: "mount", "data-testid": `mount-${m.name}` },
        h("span", { class: "mount-name" }, m.name), value,
        h("span", { class: "meter", "aria-hidden": "true" }, bar), note);
      row = { li, value, bar, note };
      mountRows.set(m.name, row);
      mountsEl.append(li);
    }
    return row;
  }

  function render() {
    pending = false;
    const stale = stream.age() > 2000 || !stream.connected;
    gauge.update(snap, me.caution_fraction, stale);
    if (!snap) return;
    vLimit.textContent = snap.limit_kg ? `${kg(snap.limit_kg)} kg` : "no session";
    vTherapist.textContent = snap.therapist_weight_kg ? `${kg(snap.therapist_weight_kg)} kg` : "–";
    vBar.textContent = `${kg(snap.bar_load_kg)} kg`;
    for (const m of snap.mounts || []) {
      const row = mountRow(m);
      row.value.textContent = `${kg(m.load_kg)} kg`;
      const cap = caps[m.name] || 100;
      row.bar.style.width = `${Math.max(0, Math.min(100, (100 * m.load_kg) / cap)).toFixed(1)}%`;
      row.li.classList.toggle("faulted", Boolean(m.fault));
      row.note.textContent = m.fault ? mountFaultText(m.name, m.fault).slice(m.name.length + 2) : "ok";
    }
    const now = performance.now() / 1000;
    while (buf.length && buf[0].t < now - WINDOW_S - 1) buf.shift();
    const xs = buf.map((p) => p.t - now);
    const ys = buf.map((p) => p.foot);
    const limit = snap.limit_kg;
    const top = Math.max(limit ? limit * 1.3 : 50, ...ys.map((y) => y * 1.1), 10);
    const spans = [];
    for (let i = 0; i < buf.length; i++) {
      if (buf[i].state !== "over") continue;
      const t1 = i + 1 < buf.length ? buf[i + 1].t : now;
      const last = spans[spans.length - 1];
      if (last && Math.abs(last.x1 - (buf[i].t - now)) < 1e-6) last.x1 = t1 - now;
      else spans.push({ x0: buf[i].t - now, x1: t1 - now, cls: "span over", label: "over the limit" });
    }
    const refs = limit ? [
      { y: limit, label: `limit ${kg(limit, 0)} kg`, cls: "ref limit" },
      { y: limit * me.caution_fraction, label: `caution ${kg(limit * me.caution_fraction, 0)} kg`, cls: "ref caution" },
    ] : [];
    chart.draw({ xs, ys, x0: -WINDOW_S, x1: 0, y0: 0, y1: top, refs, spans, xFormat: (v) => (v ? `${v} s` : "now") });
  }

  function schedule() {
    if (!pending) { pending = true; requestAnimationFrame(render); }
  }

  function tick() {
    if (snap && snap.session_started_at) {
      vTimer.textContent = clock(api.serverNow() - snap.session_started_at);
    } else {
      vTimer.textContent = "no session";
    }
    schedule();
  }

  const off = stream.on("status", (d) => {
    snap = d;
    buf.push({ t: performance.now() / 1000, foot: d.foot_load_kg, state: d.state });
    schedule();
  });
  const timer = setInterval(tick, 500);
  tick();
  return () => { off(); clearInterval(timer); };
}
