// Diagnostics for installers: per mount the sample rate, the noise, the age of
// the newest sample and the faults (now and counted); the loop and the outputs.
// Rate and noise are measured here from the live stream over the last 5 s.

import { h, kg, replace } from "../dom.js";
import { mountFaultText } from "../words.js";

const WINDOW_MS = 5000;

/** Noise of a slowly moving signal: rms of successive differences / sqrt(2), kg. */
export function diffNoise(values) {
  if (values.length < 3) return null;
  let sum = 0;
  for (let i = 1; i < values.length; i++) sum += (values[i] - values[i - 1]) ** 2;
  return Math.sqrt(sum / (values.length - 1) / 2);
}

export function mount(root, { stream, api }) {
  const tbody = h("tbody");
  const loopEl = h("div", { class: "stats" });
  const outEl = h("div", { class: "stats" });
  const healthEl = h("p", { role: "status" });
  const hist = new Map(); // mount -> [{at, seq, kg}]
  const rows = new Map();

  replace(root, h("h1", {}, "Diagnostics"),
    h("section", { class: "panel" }, h("h2", {}, "Bar mounts"),
      h("p", { class: "muted" }, "Rate and noise are measured in this browser over the last 5 s of the live stream; noise is the rms change between readings, so it means the most with the bars still."),
      h("div", { class: "table-wrap" }, h("table", { "data-testid": "diag-mounts" },
        h("thead", {}, h("tr", {}, h("th", {}, "Mount"), h("th", { class: "num" }, "Load"), h("th", { class: "num" }, "Rate"),
          h("th", { class: "num" }, "Noise"), h("th", { class: "num" }, "Newest sample"), h("th", {}, "Now"), h("th", {}, "Faults counted"))),
        tbody))),
    h("section", { class: "panel" }, h("h2", {}, "Control loop"), loopEl, healthEl),
    h("section", { class: "panel" }, h("h2", {}, "Warning outputs"), outEl));

  function stat(k, v, testid) {
    return h("div", { class: "stat" }, h("span", { class: "k" }, k), h("span", { class: "v", "data-testid": testid }, v));
  }

  function row(name) {
    let r = rows.get(name);
    if (!r) {
      const cells = Array.from({ length: 6 }, (_, i) => h("td", { class: i < 4 ? "num" : "" }));
      r = { tr: h("tr", { "data-testid": `diag-${name}` }, h("td", {}, name), cells), cells };
      rows.set(name, r);
      tbody.append(r.tr);
    }
    return r;
  }

  function render(d) {
    const now = performance.now();
    for (const m of d.mounts || []) {
      const hs = hist.get(m.name) || [];
      hs.push({ at: now, seq: m.seq, kg: m.load_kg });
      while (hs.length && hs[0].at < now - WINDOW_MS) hs.shift();
      hist.set(m.name, hs);
      const first = hs[0];
      const last = hs[hs.length - 1];
      const span = (last.at - first.at) / 1000;
      const rate = span > 0.5 && typeof last.seq === "number" && typeof first.seq === "number"
        ? (last.seq - first.seq) / span : null;
      const noise = diffNoise(hs.map((x) => x.kg));
      const r = row(m.name);
      const [cLoad, cRate, cNoise, cAge, cNow, cCounts] = r.cells;
      cLoad.textContent = `${kg(m.load_kg, 2)} kg`;
      cRate.textContent = rate === null ? "–" : `${rate.toFixed(1)} /s`;
      cNoise.textContent = noise === null ? "–" : `${kg(noise, 3)} kg`;
      cAge.textContent = m.age_ms === null || m.age_ms === undefined ? "never" : `${Math.round(m.age_ms)} ms`;
      cNow.textContent = m.fault ? `✕ ${mountFaultText(m.name, m.fault).slice(m.name.length + 2)}` : "✓ ok";
      cNow.className = m.fault ? "form-error" : "";
      const counts = Object.entries(m.fault_counts || {});
      cCounts.textContent = counts.length ? counts.map(([k, v]) => `${k} ${v}`).join(", ") : "none";
    }
    const lp = d.loop || {};
    replace(loopEl,
      stat("Rate", `${kg(lp.rate_hz)} Hz`, "loop-rate"),
      stat("Jitter p99", `${kg(lp.jitter_p99_ms, 2)} ms`),
      stat("Overruns", String(lp.overruns ?? "–")),
      stat("Tick compute p99", lp.compute_p99_us === undefined ? "–" : `${lp.compute_p99_us} µs`),
      stat("Real-time priority", lp.sched_fifo ? "yes (SCHED_FIFO)" : "no"),
      stat("Loop fault", lp.fault ? "✕ late" : "✓ none"));
    const o = d.outputs || {};
    const on = (v) => (v ? "on" : "off");
    replace(outEl,
      stat("Green", on(o.green)), stat("Amber", on(o.amber)), stat("Red", on(o.red)),
      stat("Buzzer", o.buzzer_hz ? `${Math.round(o.buzzer_hz)} Hz` : "off"),
      stat("Haptic", o.haptic ? `${Math.round(o.haptic * 100)} %` : "off"),
      stat("Write failures", String(o.faults ?? 0)));
  }

  async function health() {
    try {
      const r = await api.get("/api/v1/health");
      healthEl.textContent = `Health: ${r.status}; core ${r.core_up ? "up" : "down"}; version ${r.version}.`;
    } catch (e) {
      healthEl.textContent = `Health: ${e.message}`;
    }
  }

  const off = stream.on("status", render);
  if (stream.last) render(stream.last);
  health();
  const t = setInterval(health, 5000);
  return () => { off(); clearInterval(t); };
}
