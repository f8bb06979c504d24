// Clients: the list, add, edit (limit, clearance, notes), delete.
// The API validates; its message appears next to the field it names.

import { h, kg, replace } from "../dom.js";
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
    const form = h("form", { class: "panel", "data-testid": "edit-client", novalidate: true, "aria-labelledby": "edit-client-h" },
      h("h2", { id: "edit-client-h" }, `Edit ${c.display_name}`),
      h("div", { class: "row" }, ef[0].el, ef[1].el), ef[2].el, ef[3].el, err, h("div", { class: "row" }, save, cancel));
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
