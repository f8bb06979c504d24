// Sessions: start (client + therapist, typed weight or weigh-in) and stop,
// the history, and one session's page (#/sessions/ID) with its chart,
// over-limit moments, comfort-button presses and the CSV download.

import { h, kg, clock, when, replace } from "../dom.js";
import { field, valueOf, submitting, clearErrors, showError } from "../forms.js";
import { SeriesChart } from "../charts.js";
import { stateInfo } from "../words.js";

export function mount(root, ctx) {
  return ctx.args[0] ? mountOne(root, ctx, ctx.args[0]) : mountList(root, ctx);
}

// ---------------------------------------------------------------- the list

function mountList(root, { api, stream }) {
  const current = h("section", { class: "panel", "aria-labelledby": "now-h", "data-testid": "session-now" });
  const history = h("div", { class: "table-wrap" });
  const therapistsHost = h("div");
  const status = h("p", { class: "muted", role: "status" });
  let clients = [];
  let therapists = [];
  let timer = null;
  let shownSid; // the active session on screen (null: none), once loaded

  function clientName(id) {
    const c = clients.find((x) => x.id === id);
    return c ? c.display_name : id === null ? "(deleted)" : `client ${id}`;
  }

  function renderActive(s) {
    const started = Date.parse(s.started_at) / 1000;
    const elapsed = h("span", { class: "v", "data-testid": "active-timer" }, clock(api.serverNow() - started));
    timer = setInterval(() => { elapsed.textContent = clock(api.serverNow() - started); }, 500);
    const stop = h("button", { type: "button", class: "danger", "data-testid": "stop-session" }, "Stop session");
    const err = h("p", { class: "form-error", role: "alert" });
    stop.addEventListener("click", async () => {
      stop.disabled = true;
      try {
        const done = await api.post(`/api/v1/sessions/${s.id}/stop`);
        status.textContent = `Session stopped after ${clock((done.summary && done.summary.duration_s) || 0)}.`;
        await load();
      } catch (e) {
        err.textContent = e.message;
        stop.disabled = false;
      }
    });
    replace(current, h("h2", { id: "now-h" }, "Session running"),
      h("div", { class: "stats" },
        h("div", { class: "stat" }, h("span", { class: "k" }, "Client"), h("span", { class: "v" }, clientName(s.client_id))),
        h("div", { class: "stat" }, h("span", { class: "k" }, "Limit"), h("span", { class: "v" }, `${kg(s.limit_kg)} kg`)),
        h("div", { class: "stat" }, h("span", { class: "k" }, "Therapist"), h("span", { class: "v" }, `${kg(s.therapist_weight_kg)} kg`)),
        h("div", { class: "stat" }, h("span", { class: "k" }, "Running for"), elapsed)),
      h("div", { class: "row" }, stop, h("a", { href: "#/live" }, "Live view"), h("a", { href: `#/sessions/${encodeURIComponent(s.id)}` }, "Session page")),
      err);
  }

  function renderStart() {
    const cleared = clients.filter((c) => c.cleared);
    const fClient = field({
      name: "client_id", label: "Client", type: "select",
      options: [{ value: "", label: "— choose a client —" }, ...clients.map((c) => ({
        value: String(c.id), label: `${c.display_name} (limit ${kg(c.foot_load_limit_kg)} kg)${c.cleared ? "" : " - not cleared"}`, disabled: !c.cleared,
      }))],
      hint: cleared.length ? "Only cleared clients can have a session." : "No client is cleared yet: clear one on the Clients page.",
    });
    const fTherapist = field({
      name: "therapist_id", label: "Therapist", type: "select",
      options: [{ value: "", label: "— type a weight instead —" }, ...therapists.map((t) => ({ value: String(t.id), label: `${t.name} (${kg(t.weight_kg)} kg)` }))],
    });
    const fWeight = field({ name: "therapist_weight_kg", label: "Therapist weight (kg)", type: "number", hint: "Used when no therapist is chosen." });
    const err = h("p", { class: "form-error", role: "alert" });
    const note = h("p", { class: "ok-note", role: "status" });
    const startBtn = h("button", { type: "submit", "data-testid": "start-session" }, "Start session");
    const weighBtn = h("button", { type: "button", class: "quiet" }, "Weigh in now");
    const fields = [fClient, fTherapist, fWeight];
    const syncWeight = () => { fWeight.el.hidden = Boolean(fTherapist.input.value); weighBtn.hidden = !fTherapist.input.value; };
    fTherapist.input.addEventListener("change", syncWeight);
    syncWeight();
    weighBtn.addEventListener("click", async () => {
      const id = fTherapist.input.value;
      clearErrors(fields, err);
      note.textContent = "Weighing: hang fully from the bars, feet off the table, and keep still…";
      weighBtn.disabled = true;
      try {
        const r = await api.post(`/api/v1/therapists/${id}/weigh-in`);
        note.textContent = `Weighed in: ${kg(r.weight_kg)} kg (spread ${kg(r.spread_kg, 2)} kg).`;
        const opt = fTherapist.input.querySelector(`option[value="${id}"]`);
        if (opt && r.therapist) opt.textContent = `${r.therapist.name} (${kg(r.weight_kg)} kg)`;
        await loadTherapists();
      } catch (e) {
        note.textContent = "";
        showError(e, fields, err);
      } finally {
        weighBtn.disabled = false;
      }
    });
    const form = h("form", { novalidate: true, "data-testid": "start-form" },
      h("h2", { id: "now-h" }, "Start a session"),
      h("div", { class: "row" }, fClient.el, fTherapist.el, fWeight.el),
      h("div", { class: "row" }, startBtn, weighBtn), note, err);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { client_id: fClient.input.value ? Number(fClient.input.value) : null };
      if (fTherapist.input.value) body.therapist_id = Number(fTherapist.input.value);
      else body.therapist_weight_kg = valueOf(fWeight);
      const s = await submitting(startBtn, fields, err, () => api.post("/api/v1/sessions", body));
      if (s) { status.textContent = "Session started."; await load(); }
    });
    replace(current, form);
  }

  function renderTherapists() {
    const fName = field({ name: "name", label: "Name" });
    const fW = field({ name: "weight_kg", label: "Weight (kg)", type: "number" });
    const err = h("p", { class: "form-error", role: "alert" });
    const add = h("button", { type: "submit" }, "Add therapist");
    const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "ther-h" },
      h("h2", { id: "ther-h" }, "Therapists"),
      therapists.length
        ? h("ul", {}, therapists.map((t) => h("li", {}, `${t.name}: ${kg(t.weight_kg)} kg`)))
        : h("p", { class: "muted" }, "None yet. A therapist's weight can also be typed when starting a session."),
      h("div", { class: "row" }, fName.el, fW.el), err, add);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const t = await submitting(add, [fName, fW], err, () => api.post("/api/v1/therapists", { name: valueOf(fName), weight_kg: valueOf(fW) }));
      if (t) { await loadTherapists(); if (!current.querySelector("[data-testid=stop-session]")) renderStart(); }
    });
    replace(therapistsHost, form);
  }

  async function loadTherapists() {
    therapists = await api.get("/api/v1/therapists");
    renderTherapists();
  }

  async function load() {
    if (timer) { clearInterval(timer); timer = null; }
    let sessions;
    try {
      [clients, therapists, sessions] = await Promise.all([
        api.get("/api/v1/clients"), api.get("/api/v1/therapists"), api.get("/api/v1/sessions?limit=200"),
      ]);
    } catch (e) {
      replace(current, h("p", { class: "form-error" }, e.message));
      return;
    }
    const active = sessions.find((s) => s.status === "active");
    shownSid = active ? active.id : null;
    if (active) renderActive(active); else renderStart();
    renderTherapists();
    if (!sessions.length) {
      replace(history, h("p", { class: "muted" }, "No sessions yet."));
      return;
    }
    replace(history, h("table", { "data-testid": "session-list" },
      h("caption", { class: "visually-hidden" }, "Session history"),
      h("thead", {}, h("tr", {},
        h("th", {}, "Started"), h("th", {}, "Client"), h("th", { class: "num" }, "Limit"), h("th", { class: "num" }, "Duration"),
        h("th", { class: "num" }, "Peak foot load"), h("th", { class: "num" }, "Over limit"), h("th", {}, "Status"))),
      h("tbody", {}, sessions.map((s) => {
        const sm = s.summary || {};
        return h("tr", { "data-session-id": s.id },
          h("td", {}, h("a", { href: `#/sessions/${encodeURIComponent(s.id)}` }, when(s.started_at))),
          h("td", {}, clientName(s.client_id)),
          h("td", { class: "num" }, `${kg(s.limit_kg)} kg`),
          h("td", { class: "num" }, clock(sm.duration_s)),
          h("td", { class: "num" }, `${kg(sm.peak_foot_load_kg)} kg`),
          h("td", { class: "num" }, sm.time_over_limit_s === null || sm.time_over_limit_s === undefined ? "–" : `${kg(sm.time_over_limit_s)} s`),
          h("td", {}, h("span", { class: `tag state-${s.status}` }, s.status)));
      }))));
  }

  replace(root, h("h1", {}, "Sessions"), status, current, h("h2", {}, "History"), history, therapistsHost);
  load();
  // a session started or stopped elsewhere (another desk, rigctl) shows up here too
  let reloading = false;
  const off = stream.on("status", async (d) => {
    if (shownSid === undefined || reloading || (d.session_id || null) === shownSid) return;
    if (current.contains(document.activeElement)) return; // not under someone's fingers
    reloading = true;
    try { await load(); } finally { reloading = false; }
  });
  return () => { off(); if (timer) clearInterval(timer); };
}

// ---------------------------------------------------------------- one session

/** Parse the trace CSV: {t, foot, state} arrays. */
export function parseTrace(text) {
  const lines = text.split(/\r?\n/).filter(Boolean);
  const head = (lines.shift() || "").split(",");
  const it = head.indexOf("t_s");
  const is = head.indexOf("state");
  const iff = head.indexOf("foot_load_kg");
  const t = []; const foot = []; const state = [];
  for (const line of lines) {
    const c = line.split(",");
    const tv = Number(c[it]);
    const fv = Number(c[iff]);
    if (!Number.isFinite(tv) || !Number.isFinite(fv)) continue;
    t.push(tv); foot.push(fv); state.push(c[is]);
  }
  return { t, foot, state };
}

/** Runs of the over state (or another state): [{t0, t1, peak}]. */
export function overMoments(tr, which = "over") {
  const out = [];
  let cur = null;
  for (let i = 0; i < tr.t.length; i++) {
    if (tr.state[i] === which) {
      if (!cur) { cur = { t0: tr.t[i], t1: tr.t[i], peak: tr.foot[i] }; out.push(cur); }
      cur.t1 = i + 1 < tr.t.length ? tr.t[i + 1] : tr.t[i];
      cur.peak = Math.max(cur.peak, tr.foot[i]);
    } else {
      cur = null;
    }
  }
  return out;
}

function mountOne(root, { api, me }, id) {
  const chart = new SeriesChart({ width: 1000, height: 280, label: "Foot load over the session, with the limit line and the over-limit moments shaded", xLabel: "s" });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("p", {}, h("a", { href: "#/sessions" }, "← All sessions")), body);

  async function download(btn, err) {
    btn.disabled = true;
    try {
      const res = await api.raw("GET", `/api/v1/sessions/${encodeURIComponent(id)}/trace.csv`);
      const cd = res.headers.get("Content-Disposition") || "";
      const m = /filename="([^"]+)"/.exec(cd);
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: m ? m[1] : `session-${id}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      err.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  (async () => {
    let s; let text; let client = null;
    try {
      s = await api.get(`/api/v1/sessions/${encodeURIComponent(id)}`);
      const res = await api.raw("GET", `/api/v1/sessions/${encodeURIComponent(id)}/trace.csv`);
      text = await res.text();
      if (s.client_id !== null) client = await api.get(`/api/v1/clients/${s.client_id}`).catch(() => null);
    } catch (e) {
      replace(body, h("p", { class: "form-error" }, e.message));
      return;
    }
    const sm = s.summary || { counts: {}, transitions: [] };
    const tr = parseTrace(text);
    const moments = overMoments(tr);
    const eased = overMoments(tr, "ease");
    const presses = [...(sm.ease_events || [])].sort((a, b) => a.t_s - b.t_s);
    const limit = s.limit_kg;
    const peak = Math.max(limit * 1.3, ...tr.foot.map((v) => v * 1.1), 10);
    const tEnd = tr.t.length ? tr.t[tr.t.length - 1] : (sm.duration_s || 1);
    chart.draw({
      xs: tr.t, ys: tr.foot, x0: 0, x1: Math.max(1, tEnd), y0: 0, y1: peak,
      refs: [
        { y: limit, label: `limit ${kg(limit, 0)} kg`, cls: "ref limit" },
        { y: limit * me.caution_fraction, label: `caution ${kg(limit * me.caution_fraction, 0)} kg`, cls: "ref caution" },
      ],
      spans: [
        ...eased.map((m) => ({ x0: m.t0, x1: m.t1, cls: "span ease", label: `ease off at ${kg(m.t0)} s for ${kg(m.t1 - m.t0)} s` })),
        ...moments.map((m) => ({ x0: m.t0, x1: m.t1, cls: "span over", label: `over the limit at ${kg(m.t0)} s for ${kg(m.t1 - m.t0)} s` })),
      ],
      marks: presses.map((p) => ({ x: p.t_s, cls: "ease", label: `comfort button at ${clock(p.t_s)}: ${kg(p.foot_load_kg)} kg` })),
      // a short session gets seconds ("0.4 s"): minutes and seconds would all read "0:00"
      xFormat: (v) => (tEnd < 20 ? `${Number(v.toFixed(2))} s` : clock(v)),
    });
    chart.el.setAttribute("data-testid", "session-chart");
    const err = h("p", { class: "form-error", role: "alert" });
    const dl = h("button", { type: "button", "data-testid": "download-csv" }, "Download CSV");
    dl.addEventListener("click", () => download(dl, err));
    const counts = Object.entries(sm.counts || {}).map(([k, v]) => `${stateInfo(k).word}: ${v}`).join(", ");
    replace(body,
      h("h1", {}, `Session of ${when(s.started_at)}`),
      h("section", { class: "panel", "data-testid": "session-summary" },
        h("div", { class: "stats" },
          h("div", { class: "stat" }, h("span", { class: "k" }, "Client"), h("span", { class: "v" }, client ? client.display_name : s.client_id === null ? "(deleted)" : `client ${s.client_id}`)),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Status"), h("span", { class: "v" }, s.status)),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Duration"), h("span", { class: "v" }, clock(sm.duration_s))),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Limit"), h("span", { class: "v" }, `${kg(limit)} kg`)),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Therapist"), h("span", { class: "v" }, `${kg(s.therapist_weight_kg)} kg`)),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Peak foot load"), h("span", { class: "v" }, `${kg(sm.peak_foot_load_kg)} kg`)),
          h("div", { class: "stat" }, h("span", { class: "k" }, "Time over limit"), h("span", { class: "v", "data-testid": "time-over" }, sm.time_over_limit_s === null || sm.time_over_limit_s === undefined ? "–" : `${kg(sm.time_over_limit_s)} s`))),
        counts ? h("p", { class: "muted" }, `States entered: ${counts}`) : null,
        h("div", { class: "row" }, dl), err),
      h("section", { class: "panel" },
        h("h2", {}, "Foot load"),
        tr.t.length ? chart.el : h("p", { class: "muted" }, "No trace was recorded for this session."),
        h("div", { class: "legend", "aria-hidden": "true" },
          h("span", {}, h("span", { class: "sw series" }), "foot load"),
          h("span", {}, h("span", { class: "sw limit" }), "limit"),
          h("span", {}, h("span", { class: "sw caution" }), "caution"),
          h("span", {}, h("span", { class: "sw over" }), "over the limit"),
          h("span", {}, h("span", { class: "sw ease" }), "ease off"),
          h("span", {}, h("span", { class: "sym-ease" }, "◆"), "comfort-button press"))),
      h("section", { class: "panel", "aria-labelledby": "moments-h" },
        h("h2", { id: "moments-h" }, "Moments"),
        h("h3", {}, `Over the limit (${moments.length})`),
        moments.length
          ? h("ol", { "data-testid": "over-moments" }, moments.map((m) => h("li", {},
            `at ${clock(m.t0)} (${kg(m.t0)} s): over-limit warning for ${kg(m.t1 - m.t0)} s, peak ${kg(m.peak)} kg`)))
          : h("p", { "data-testid": "over-moments" }, "✓ The foot load stayed within the limit."),
        h("h3", {}, `The client asked to ease off (${presses.length})`),
        presses.length
          ? h("ol", { "data-testid": "ease-moments" }, presses.map((p) => h("li", {},
            `at ${clock(p.t_s)} (${kg(p.t_s)} s): comfort button pressed at ${kg(p.foot_load_kg)} kg on the feet, `
            + `peak ${kg(p.peak_2s_kg)} kg in the 2 s before`)))
          : h("p", { "data-testid": "ease-moments" }, "The comfort button was not pressed.")),
      h("details", { class: "panel" },
        h("summary", {}, `State changes (${(sm.transitions || []).length})`),
        h("ol", {}, (sm.transitions || []).map((t) => h("li", {}, `${kg(t.t_s)} s: ${stateInfo(t.state).word} (${kg(t.foot_load_kg)} kg)`)))));
  })();
  return null;
}
