// The live view: gauge, the facts of the session, each mount, the last 30 s,
// and the client's comfort button: a clinician presses it for the client, and
// every press (hand-held or dashboard) is listed as it comes on the stream.

import { h, kg, clock, replace } from "../dom.js";
import { Gauge } from "../gauge.js";
import { SeriesChart } from "../charts.js";
import { mountFaultText, pressSource } from "../words.js";

const WINDOW_S = 30;
/** roles whose token may press the comfort button (the API's clinician grant) */
const CAN_PRESS = new Set(["clinician", "admin"]);
const LISTED = 8;
const NEW_MS = 8000;

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
  const ease = easePanel(api, me);

  replace(root,
    h("h1", { class: "visually-hidden" }, "Live view"),
    h("div", { class: "live" },
      gauge.el,
      h("div", { class: "side" },
        ease.el,
        h("section", { class: "facts", "aria-label": "Session" }, fLimit, fTherapist, fBar, fTimer,
          h("h2", { class: "sub" }, "Bar mounts"), mountsEl)),
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
    ease.update(snap);
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
      const st = buf[i].state;
      if (st !== "over" && st !== "ease") continue;
      const t1 = i + 1 < buf.length ? buf[i + 1].t : now;
      const last = spans[spans.length - 1];
      if (last && last.state === st && Math.abs(last.x1 - (buf[i].t - now)) < 1e-6) last.x1 = t1 - now;
      else spans.push({ state: st, x0: buf[i].t - now, x1: t1 - now, cls: `span ${st}`, label: st === "over" ? "over the limit" : "ease off (comfort button)" });
    }
    // each press on this chart's clock: its session time against the rig's clock now
    const marks = snap.session_started_at ? ease.presses().map((p) => ({
      x: p.t_s - (api.serverNow() - snap.session_started_at), cls: "ease",
      label: `comfort button at ${kg(p.foot_load_kg)} kg`,
    })) : [];
    const refs = limit ? [
      { y: limit, label: `limit ${kg(limit, 0)} kg`, cls: "ref limit" },
      { y: limit * me.caution_fraction, label: `caution ${kg(limit * me.caution_fraction, 0)} kg`, cls: "ref caution" },
    ] : [];
    chart.draw({ xs, ys, x0: -WINDOW_S, x1: 0, y0: 0, y1: top, refs, spans, marks, xFormat: (v) => (v ? `${v} s` : "now") });
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
  const offEase = stream.on("ease", (d) => { ease.add(d, true); schedule(); });
  const timer = setInterval(tick, 500);
  tick();
  return () => { off(); offEase(); ease.close(); clearInterval(timer); };
}

/** "14:02:11" for a press at t_s into a session that started at startedAt (epoch s, rig clock). */
function pressTime(startedAt, tS) {
  if (!startedAt) return "";
  return new Date((startedAt + tS) * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/**
 * The comfort-button card: the button (clinician and admin, during a session)
 * and the presses of the running session, newest first. Presses come from the
 * stream's ease events, the button's own answer, and (for roles that may read
 * sessions) the session's summary, so a page opened mid-session lists the
 * earlier ones too; a press is one entry whichever way it came.
 */
function easePanel(api, me) {
  const canPress = CAN_PRESS.has(me.role);
  const button = h("button", {
    type: "button", class: "ease-btn", "data-testid": "ease-button", hidden: true,
    "aria-describedby": "ease-hint",
  }, h("span", { "aria-hidden": "true" }, "◆ "), "Client says ease off");
  const hint = h("p", { id: "ease-hint", class: "muted small" }, canPress
    ? "No session is running: the button works during a session."
    : "Presses of the client's comfort button show here.");
  const result = h("p", { class: "ease-result", role: "status", "data-testid": "ease-result" });
  const outside = h("p", { class: "muted small", role: "status", "data-testid": "ease-outside" });
  const list = h("ol", { class: "presses", "data-testid": "ease-presses", "aria-label": "Comfort-button presses, newest first" });
  const empty = h("p", { class: "muted small", "data-testid": "ease-none" }, "No presses in this session.");
  const el = h("section", { class: "ease-card", "aria-labelledby": "ease-h", "data-testid": "ease-card" },
    h("h2", { id: "ease-h", class: "sub" }, "Comfort button"),
    canPress ? button : null, hint, result, outside, list, empty);

  let sid = null;          // the session the list belongs to
  let startedAt = null;    // its start, epoch seconds on the rig's clock
  let busy = false;
  let byKey = new Map();   // "t_s" -> press
  const timers = new Set();

  function render() {
    const all = [...byKey.values()].sort((a, b) => b.t_s - a.t_s);
    replace(list, all.slice(0, LISTED).map((p) => h("li", { class: p.fresh ? "new" : "" },
      h("span", { class: "press-kg" }, `${kg(p.foot_load_kg)} kg`),
      p.source ? ` · ${pressSource(p.source)}` : "",
      h("span", { class: "press-when" },
        ` · ${[pressTime(startedAt, p.t_s), `(${clock(p.t_s)} into the session, peak ${kg(p.peak_2s_kg)} kg)`].filter(Boolean).join(" ")}`))));
    empty.hidden = all.length > 0;
    if (all.length > LISTED) list.append(h("li", { class: "muted" }, `and ${all.length - LISTED} earlier`));
  }

  function add(d, fresh) {
    if (!d) return;
    if (!d.in_session) {
      const at = new Date().toLocaleTimeString();
      outside.textContent = `${at}: the ${pressSource(d.source)} was pressed outside a session; nothing changed on the rig.`;
      return;
    }
    if (d.session_id !== sid) return; // a session that is not (or no longer) the one shown
    const key = Number(d.t_s).toFixed(3);
    const had = byKey.get(key);
    const p = { ...had, ...d, source: d.source || (had && had.source) || null, fresh: Boolean(fresh || (had && had.fresh)) };
    byKey.set(key, p);
    if (fresh && !had) {
      const tm = setTimeout(() => {
        timers.delete(tm);
        const cur = byKey.get(key);
        if (cur) { cur.fresh = false; render(); }
      }, NEW_MS);
      timers.add(tm);
    }
    render();
  }

  async function loadEarlier(id) {
    if (!canPress) return; // a viewer may not read sessions: it lists what it sees come in
    try {
      const s = await api.get(`/api/v1/sessions/${encodeURIComponent(id)}`);
      for (const e of (s.summary && s.summary.ease_events) || []) add({ ...e, in_session: true, session_id: id }, false);
    } catch { /* the stream still lists the presses from now on */ }
  }

  function update(snap) {
    const now = snap ? snap.session_id || null : null;
    if (now !== sid) {
      sid = now;
      startedAt = snap ? snap.session_started_at || null : null;
      byKey = new Map();
      result.textContent = "";
      render();
      if (sid) loadEarlier(sid);
    }
    if (!startedAt && snap && snap.session_started_at) startedAt = snap.session_started_at;
    button.hidden = !sid;
    hint.hidden = canPress ? Boolean(sid) : false;
  }

  button.addEventListener("click", async () => {
    if (!sid || busy) return;
    // not disabled while sending: that would take the keyboard focus off the button
    busy = true;
    button.setAttribute("aria-busy", "true");
    result.classList.remove("error");
    try {
      const rec = await api.post(`/api/v1/sessions/${encodeURIComponent(sid)}/ease`);
      add(rec, true);
      result.textContent = rec.state === "ease"
        ? `Sent: the rig warns the therapist to ease off (${kg(rec.foot_load_kg)} kg at the press).`
        : `Sent and recorded at ${kg(rec.foot_load_kg)} kg; the rig shows a higher alarm (${rec.state}) first.`;
    } catch (e) {
      result.classList.add("error");
      result.textContent = `Not sent: ${e.message}`;
    } finally {
      busy = false;
      button.removeAttribute("aria-busy");
    }
  });

  render();
  return {
    el, add, update,
    presses: () => [...byKey.values()],
    close: () => { for (const t of timers) clearTimeout(t); timers.clear(); },
  };
}
