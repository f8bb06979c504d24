// Calibration for installers: what is in force, tare, known-weight points per
// mount with the fit plot (raw counts against kg, the fitted line, residuals),
// commit, verify, and the history. Each step is refused by the rig with a
// reason when it is not safe (a session running, a fault, an unstable load).

import { h, kg, when, replace } from "../dom.js";
import { field, valueOf, submitting } from "../forms.js";
import { fitPlot } from "../charts.js";

function mountPlot(name, m) {
  if (!m) return null;
  const pts = (m.points || []).map((p, i) => {
    const r = m.residuals_kg ? m.residuals_kg[i] : null;
    return {
      x: p.known_kg, y: p.raw, cls: `${p.kind === "tare" ? "tare" : ""} ${p.saturated ? "bad" : ""}`,
      label: `${p.known_kg} kg (${p.kind}): ${Math.round(p.raw)} counts` + (r === null || r === undefined ? "" : `, residual ${kg(r, 3)} kg`),
    };
  });
  const problems = m.problems || [];
  return h("figure", { class: "card", "data-testid": `fit-${name}` },
    h("figcaption", {}, h("strong", {}, name), " ",
      m.scale ? `${kg(m.scale, 0)} counts/kg, zero ${Math.round(m.offset)}` : "no line yet",
      m.max_residual_kg !== undefined && m.max_residual_kg !== null ? `, worst residual ${kg(m.max_residual_kg, 3)} kg` : ""),
    pts.length ? fitPlot({ points: pts, line: m.scale ? { offset: m.offset, scale: m.scale } : null, label: `Calibration points of ${name}: raw counts against known kg` }) : h("p", { class: "muted" }, "No points."),
    problems.length ? h("ul", { class: "form-error" }, problems.map((p) => h("li", {}, p))) : null);
}

export function mount(root, { api, me }) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const progress = h("p", { class: "ok-note", role: "status" });
  replace(root, h("h1", {}, "Calibration"), progress, body);
  const mounts = (me.mounts || []).map((m) => m.name);

  async function step(button, fields, err, what, fn) {
    progress.textContent = `${what}… keep the bars still.`;
    const r = await submitting(button, fields, err, fn);
    progress.textContent = r ? `${what}: done.` : "";
    if (r) await load();
    return r;
  }

  function tarePanel() {
    const err = h("p", { class: "form-error", role: "alert" });
    const b = h("button", { type: "button" }, "Tare (start a new calibration)");
    b.addEventListener("click", () => step(b, [], err, "Tare", () => api.post("/api/v1/calibration/tare")));
    return h("section", { class: "panel" }, h("h2", {}, "1. Tare"),
      h("p", {}, "Take everything off the bars (nobody hanging, no weights), then tare. This starts a new calibration; the one in force stays until you commit."),
      b, err);
  }

  function pointPanel() {
    const bars = [...new Set((me.mounts || []).map((m) => m.bar))];
    const fWhere = field({
      name: "where", label: "Hung on", type: "select",
      options: [...mounts.map((n) => ({ value: `mount:${n}`, label: `mount ${n}` })),
        ...bars.map((b) => ({ value: `bar:${b}`, label: `bar ${b} (shared by its mounts)` }))],
    });
    const fKg = field({ name: "known_kg", label: "Known weight (kg)", type: "number", hint: "Hang it, let it settle, then add the point." });
    const fPos = field({ name: "position", label: "Position on the bar (0-1)", type: "number", value: "0.5", hint: "0.5 = the middle; 0 = at its first mount." });
    const err = h("p", { class: "form-error", role: "alert" });
    const warn = h("p", { class: "form-error" });
    const b = h("button", { type: "submit" }, "Add point");
    const sync = () => { fPos.el.hidden = !fWhere.input.value.startsWith("bar:"); };
    fWhere.input.addEventListener("change", sync);
    sync();
    const form = h("form", { class: "panel", novalidate: true, "data-testid": "point-form" }, h("h2", {}, "2. Known weights"),
      h("p", {}, "Two or more different weights per mount, on the mount itself or on its bar; the fit below updates after each point."),
      h("div", { class: "row" }, fWhere.el, fKg.el, fPos.el), b, err, warn);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      warn.textContent = "";
      const [kind, name] = fWhere.input.value.split(":");
      const r = kind === "bar"
        ? await step(b, [fKg, fPos, fWhere], err, `Point on bar ${name}`, () =>
          api.post(`/api/v1/calibration/bars/${encodeURIComponent(name)}/points`, { known_kg: valueOf(fKg), position: valueOf(fPos) }))
        : await step(b, [fKg, fWhere], err, `Point on ${name}`, () =>
          api.post(`/api/v1/calibration/mounts/${encodeURIComponent(name)}/points`, { known_kg: valueOf(fKg) }));
      if (r && r.warnings && r.warnings.length) warn.textContent = r.warnings.join(" ");
    });
    return form;
  }

  function retarePanel() {
    const err = h("p", { class: "form-error", role: "alert" });
    const b = h("button", { type: "button", class: "quiet" }, "Re-tare (drift)");
    b.addEventListener("click", () => step(b, [], err, "Re-tare", () => api.post("/api/v1/calibration/retare")));
    return h("section", { class: "panel" }, h("h2", {}, "Re-tare"),
      h("p", {}, "With the bars empty, re-zero for drift. The reference zero that the safety rules use does not move; a zero far from it is refused."),
      b, err);
  }

  function commitPanel(draft) {
    const fName = field({ name: "installer", label: "Your name (goes into the calibration record)" });
    const err = h("p", { class: "form-error", role: "alert" });
    const b = h("button", { type: "submit" }, "Commit calibration");
    const problems = (draft && draft.fit && draft.fit.problems) || [];
    const discard = h("button", { type: "button", class: "quiet" }, "Discard this calibration");
    discard.addEventListener("click", () => {
      if (window.confirm("Discard the calibration in progress? The one in force stays.")) {
        step(discard, [], err, "Discard", () => api.del("/api/v1/calibration/draft").then(() => ({})));
      }
    });
    const form = h("form", { class: "panel", novalidate: true, "data-testid": "commit-form" }, h("h2", {}, "3. Commit"),
      problems.length ? h("div", {}, h("p", {}, "Not ready yet:"), h("ul", { class: "form-error" }, problems.map((p) => h("li", {}, p)))) : h("p", {}, "The fit passes the checks."),
      fName.el, h("div", { class: "row" }, b, discard), err);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      step(b, [fName], err, "Commit", () => api.post("/api/v1/calibration/commit", { installer: valueOf(fName) }));
    });
    return form;
  }

  function verifyPanel() {
    const fKg = field({ name: "known_kg", label: "Known weight (kg)", type: "number" });
    const fMount = field({ name: "mount", label: "On mount", type: "select", options: [{ value: "", label: "anywhere (check the total)" }, ...mounts.map((n) => ({ value: n, label: n }))] });
    const err = h("p", { class: "form-error", role: "alert" });
    const out = h("div", { "data-testid": "verify-result" });
    const b = h("button", { type: "submit" }, "Verify");
    const form = h("form", { class: "panel", novalidate: true, "data-testid": "verify-form" }, h("h2", {}, "Verify"),
      h("p", {}, "Hang a known weight and compare what the rig reads."),
      h("div", { class: "row" }, fKg.el, fMount.el), b, err, out);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const req = { known_kg: valueOf(fKg) };
      if (fMount.input.value) req.mount = fMount.input.value;
      progress.textContent = "Verifying… keep the weight still.";
      const r = await submitting(b, [fKg, fMount], err, () => api.post("/api/v1/calibration/verify", req));
      progress.textContent = "";
      if (!r) return;
      const rows = Object.entries(r.mounts || {}).map(([n, v]) => h("li", {}, `${n}: reads ${kg(v.measured_kg, 2)} kg` +
        (v.error_kg !== undefined ? `, error ${kg(v.error_kg, 2)} kg (${kg(v.error_pct, 1)} %)` : "")));
      if (r.total) rows.push(h("li", {}, `total: reads ${kg(r.total.measured_kg, 2)} kg, error ${kg(r.total.error_kg, 2)} kg (${kg(r.total.error_pct, 1)} %)`));
      replace(out, h("p", { class: r.pass ? "ok-note" : "form-error" }, r.pass ? `✓ Within ${r.tolerance_pct} %` : `✕ Outside ${r.tolerance_pct} %: calibrate again`), h("ul", {}, rows));
    });
    return form;
  }

  function historyPanel(history) {
    return h("section", { class: "panel" }, h("h2", {}, "History"),
      history.length ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Committed"), h("th", {}, "Installer"), h("th", {}, "Verifications"))),
        h("tbody", {}, [...history].reverse().map((r) => h("tr", {},
          h("td", {}, `v${r.version}`), h("td", {}, when(r.committed_at)), h("td", {}, r.installer),
          h("td", {}, (r.verifications || []).length ? (r.verifications || []).map((v) => `${v.known_kg} kg ${v.pass ? "✓" : "✕"}`).join(", ") : "none"))))))
        : h("p", { class: "muted" }, "No calibration has been committed on this rig yet."));
  }

  async function load() {
    let cal; let history;
    try {
      [cal, history] = await Promise.all([api.get("/api/v1/calibration"), api.get("/api/v1/calibration/history")]);
    } catch (e) {
      replace(body, h("p", { class: "form-error", "data-testid": "calibration-error" },
        e.status === 404 || e.status === 405 ? "This build of rigctl has no calibration endpoints." : e.message));
      return;
    }
    const f = cal.in_force || {};
    const draft = cal.draft;
    const fitMounts = draft && draft.fit ? draft.fit.mounts || {} : {};
    const last = history.length ? history[history.length - 1] : null;
    replace(body,
      h("section", { class: "panel", "data-testid": "calibration-in-force" }, h("h2", {}, "In force"),
        h("p", {}, f.describe || `version ${f.version}`),
        f.uncalibrated && f.uncalibrated.length ? h("p", { class: "form-error" }, `Not calibrated: ${f.uncalibrated.join(", ")}`) : null,
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Mount"), h("th", { class: "num" }, "Zero (counts)"), h("th", { class: "num" }, "Scale (counts/kg)"), h("th", { class: "num" }, "Reference zero"))),
          h("tbody", {}, Object.entries(f.mounts || {}).map(([n, m]) => h("tr", {},
            h("td", {}, n), h("td", { class: "num" }, Math.round(m.offset)), h("td", { class: "num" }, kg(m.scale, 1)),
            h("td", { class: "num" }, m.reference_zero === null || m.reference_zero === undefined ? "–" : Math.round(m.reference_zero)))))))),
      cal.busy ? h("p", { class: "ok-note" }, `Busy: ${cal.busy}`) : null,
      tarePanel(),
      draft ? h("div", {}, pointPanel(),
        h("section", { class: "panel" }, h("h2", {}, "Fit of the calibration in progress"),
          h("div", { class: "grid2" }, mounts.map((n) => mountPlot(n, fitMounts[n])))),
        commitPanel(draft))
        : h("p", { class: "muted" }, "Tare first to add known-weight points."),
      verifyPanel(),
      retarePanel(),
      last ? h("section", { class: "panel" }, h("h2", {}, `Fit of v${last.version} (in the record)`),
        h("div", { class: "grid2" }, mounts.map((n) => mountPlot(n, last.mounts && last.mounts[n])))) : null,
      historyPanel(history));
  }

  load();
  return null;
}
