// Clients: the list, add, edit (limit, clearance, notes), delete.
// The API validates; its message appears next to the field it names.
// The edit view also shows the limit learned from the client's comfort-button
// presses, which a clinician may accept (the ordinary, audited PATCH).

import { h, kg, clock, when, replace } from "../dom.js";
import { field, valueOf, submitting } from "../forms.js";

function clientFields(me, c) {
  const range = `${me.limit_min_kg}–${me.limit_max_kg} kg`;
  return [
    field({ name: "display_name", label: "Name or pseudonym", value: c && c.display_name, hint: "The least that identifies the client: a first name or a pseudonym." }),
    field({ name: "foot_load_limit_kg", label: "Foot-load limit (kg)", type: "number", value: c && c.foot_load_limit_kg, hint: `Most weight the feet may put on this client; allowed ${range}.` }),
    field({ name: "cleared", label: "Cleared for ashiatsu sessions", type: "checkbox", value: c ? c.cleared : false }),
    field({ name: "notes", label: "Notes (optional)", type: "textarea", value: c && c.notes }),
  ];
}

export function mount(root, { api, me }) {
  const list = h("div", { class: "table-wrap" });
  const status = h("p", { class: "muted", role: "status" });
  const editHost = h("div");

  // -- add form
  const fields = clientFields(me, null);
  const formError = h("p", { class: "form-error", role: "alert" });
  const addBtn = h("button", { type: "submit" }, "Add client");
  const addForm = h("form", { class: "panel", "data-testid": "add-client", novalidate: true, "aria-labelledby": "add-client-h" },
    h("h2", { id: "add-client-h" }, "Add a client"),
    h("div", { class: "row" }, fields[0].el, fields[1].el), fields[2].el, fields[3].el, formError, addBtn);
  addForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(fields.map((f) => [f.name, valueOf(f)]));
    const made = await submitting(addBtn, fields, formError, () => api.post("/api/v1/clients", body));
    if (made) {
      fields[0].input.value = ""; fields[1].input.value = ""; fields[2].input.checked = false; fields[3].input.value = "";
      status.textContent = `Added ${made.display_name}.`;
      await load();
    }
  });

  function edit(c) {
    const ef = clientFields(me, c);
    const err = h("p", { class: "form-error", role: "alert" });
    const save = h("button", { type: "submit" }, "Save");
    const cancel = h("button", { type: "button", class: "quiet", onclick: () => replace(editHost) }, "Cancel");
    const learned = h("section", { class: "suggestion", "data-testid": "suggestion", "aria-labelledby": "suggestion-h" },
      h("h3", { id: "suggestion-h" }, "Learned comfort limit"), h("p", { class: "muted" }, "Loading…"));
    const form = h("form", { class: "panel", "data-testid": "edit-client", novalidate: true, "aria-labelledby": "edit-client-h" },
      h("h2", { id: "edit-client-h" }, `Edit ${c.display_name}`),
      h("div", { class: "row" }, ef[0].el, ef[1].el), learned, ef[2].el, ef[3].el, err, h("div", { class: "row" }, save, cancel));

    async function showSuggestion() {
      let d;
      try {
        d = await api.get(`/api/v1/clients/${c.id}`);
      } catch (e) {
        replace(learned, h("h3", { id: "suggestion-h" }, "Learned comfort limit"), h("p", { class: "form-error" }, e.message));
        return;
      }
      replace(learned, ...suggestionView(d, async (btn, note) => {
        const kgNew = d.suggested_limit_kg;
        btn.disabled = true;
        try {
          const saved = await api.patch(`/api/v1/clients/${c.id}`, { foot_load_limit_kg: kgNew });
          // only the limit changed: other edits in progress stay in the form
          c = { ...c, foot_load_limit_kg: saved.foot_load_limit_kg, updated_at: saved.updated_at };
          ef[1].input.value = String(saved.foot_load_limit_kg);
          status.textContent = `Limit of ${saved.display_name} set to ${kg(saved.foot_load_limit_kg)} kg (recorded in the audit log).`;
          await Promise.all([load(), showSuggestion()]);
        } catch (e) {
          note.textContent = e.message;
          btn.disabled = false;
        }
      }));
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const changes = {};
      for (const f of ef) {
        const v = valueOf(f);
        if (v !== c[f.name]) changes[f.name] = v;
      }
      if (!Object.keys(changes).length) { replace(editHost); return; }
      const saved = await submitting(save, ef, err, () => api.patch(`/api/v1/clients/${c.id}`, changes));
      if (saved) {
        replace(editHost);
        status.textContent = `Saved ${saved.display_name}.`;
        await load();
      }
    });
    replace(editHost, form);
    ef[1].input.focus();
    showSuggestion();
  }

  async function remove(c, btn) {
    if (!window.confirm(`Delete ${c.display_name}? Their past sessions stay, without the name.`)) return;
    btn.disabled = true;
    try {
      await api.del(`/api/v1/clients/${c.id}`);
      status.textContent = `Deleted ${c.display_name}.`;
      await load();
    } catch (e) {
      status.textContent = e.message;
      btn.disabled = false;
    }
  }

  async function load() {
    let clients;
    try {
      clients = await api.get("/api/v1/clients");
    } catch (e) {
      replace(list, h("p", { class: "form-error" }, e.message));
      return;
    }
    if (!clients.length) {
      replace(list, h("p", { class: "muted" }, "No clients yet: add the first one below."));
      return;
    }
    replace(list, h("table", { "data-testid": "client-list" },
      h("caption", { class: "visually-hidden" }, "Clients"),
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "num" }, "Limit"), h("th", {}, "Cleared"), h("th", {}, "Notes"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, clients.map((c) => {
        const del = h("button", { type: "button", class: "quiet" }, "Delete");
        del.addEventListener("click", () => remove(c, del));
        return h("tr", { "data-client-id": c.id },
          h("td", {}, c.display_name),
          h("td", { class: "num" }, `${kg(c.foot_load_limit_kg)} kg`),
          h("td", {}, h("span", { class: `tag ${c.cleared ? "yes" : "no"}` }, c.cleared ? "✓ cleared" : "✕ not cleared")),
          h("td", {}, c.notes || ""),
          h("td", {}, h("div", { class: "row" },
            h("button", { type: "button", class: "quiet", onclick: () => edit(c), "aria-label": `Edit ${c.display_name}` }, "Edit"), del)));
      }))));
  }

  replace(root, h("h1", {}, "Clients"), status, list, editHost, addForm);
  load();
  return null;
}

/** "1 press" / "3 presses" */
function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Why there is no suggestion, in plain words (the API's own reason when it is another case). */
function noSuggestion(d) {
  const sg = d.suggestion || {};
  const aside = sg.set_aside ? ` ${count(sg.set_aside, "press", "presses")} with almost no load on the back did not count.` : "";
  if (typeof sg.computed_limit_kg === "number") {
    return `No suggested limit: the presses point to ${kg(sg.computed_limit_kg)} kg, which is not below `
      + `the current limit of ${kg(d.foot_load_limit_kg)} kg, and a press never argues for more load.${aside}`;
  }
  const need = /at least (\d+) presses in at least (\d+) sessions/.exec(sg.reason || "");
  if (need && typeof sg.presses === "number") {
    return `No suggested limit yet: it needs at least ${need[1]} comfort-button presses in at least ${need[2]} sessions, `
      + `and this client has ${count(sg.presses, "press", "presses")} in ${count(sg.sessions, "session", "sessions")} so far.${aside}`;
  }
  return `No suggested limit: ${sg.reason || "there are no comfort-button presses yet"}.`;
}

/**
 * The learned limit of a client record from GET /clients/{id}: the suggestion
 * with its evidence and an "Accept suggestion" button, or why there is none.
 * onAccept(button, errorLine) sets the limit.
 */
export function suggestionView(d, onAccept) {
  const sg = d.suggestion || {};
  const out = [h("h3", { id: "suggestion-h" }, "Learned comfort limit")];
  const evidence = sg.evidence || [];
  if (d.suggested_limit_kg !== null && d.suggested_limit_kg !== undefined) {
    const err = h("p", { class: "form-error", role: "alert" });
    const accept = h("button", { type: "button", "data-testid": "accept-suggestion" }, "Accept suggestion");
    accept.addEventListener("click", () => onAccept(accept, err));
    out.push(
      h("p", { class: "big", "data-testid": "suggested-limit" },
        `Suggested limit: ${kg(d.suggested_limit_kg)} kg (from ${count(sg.presses, "press", "presses")} in ${count(sg.sessions, "session", "sessions")})`),
      h("p", {}, `The client pressed the comfort button at a median foot load of ${kg(sg.median_foot_load_kg)} kg; `
        + `less a margin of ${kg(sg.margin_kg)} kg that gives ${kg(d.suggested_limit_kg)} kg. `
        + `The limit now is ${kg(d.foot_load_limit_kg)} kg and stays so until you accept.`),
      h("div", { class: "row" }, accept), err);
  } else {
    out.push(h("p", { "data-testid": "suggestion-reason" }, noSuggestion(d)));
  }
  if (evidence.length) {
    out.push(h("p", { class: "muted" }, "Presses of the comfort button in past sessions, newest first:"),
      h("ul", { class: "evidence", "data-testid": "evidence" }, evidence.map((e) => h("li", {},
        h("a", { href: `#/sessions/${encodeURIComponent(e.session_id)}` }, when(e.started_at)),
        ` (limit ${kg(e.limit_kg)} kg): `,
        e.presses.map((p, i) => h("span", { class: p.counted ? "" : "aside", title: p.counted ? null : "set aside: below the rig's lowest limit, nobody really on the back" },
          i ? "; " : "", `${kg(p.foot_load_kg)} kg at ${clock(p.t_s)}`))))));
  }
  if (sg.rule) out.push(h("details", {}, h("summary", {}, "How the suggestion is made"), h("p", { class: "muted" }, `The rule: ${sg.rule}.`)));
  return out;
}
