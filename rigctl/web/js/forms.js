// Form fields whose error message (the API's own words) sits next to the field.

import { h } from "./dom.js";
import { ApiError } from "./api.js";

let uid = 0;

/**
 * A labelled field. opts: {name, label, type ("text"|"number"|"checkbox"|"select"|"textarea"),
 * value, hint, options: [{value, label, disabled}]}.
 * Numbers are typed as text (inputmode decimal): the API, not the browser, says what is allowed.
 */
export function field(opts) {
  const id = `f${++uid}-${opts.name}`;
  const errId = `${id}-error`;
  const hintId = `${id}-hint`;
  const described = [opts.hint ? hintId : null, errId].filter(Boolean).join(" ");
  let input;
  if (opts.type === "select") {
    input = h("select", { id, name: opts.name, "aria-describedby": described },
      (opts.options || []).map((o) => h("option", { value: o.value, disabled: o.disabled || false }, o.label)));
    if (opts.value !== undefined && opts.value !== null) input.value = String(opts.value);
  } else if (opts.type === "textarea") {
    input = h("textarea", { id, name: opts.name, rows: 2, "aria-describedby": described });
    input.value = opts.value || "";
  } else if (opts.type === "checkbox") {
    input = h("input", { id, name: opts.name, type: "checkbox", checked: Boolean(opts.value), "aria-describedby": described });
  } else {
    input = h("input", {
      id, name: opts.name, type: "text", autocomplete: "off",
      inputmode: opts.type === "number" ? "decimal" : false,
      value: opts.value === undefined || opts.value === null ? "" : opts.value,
      "aria-describedby": described,
    });
  }
  const error = h("p", { id: errId, class: "field-error", "data-testid": `error-${opts.name}` });
  const hint = opts.hint ? h("span", { id: hintId, class: "hint" }, opts.hint) : null;
  const label = h("label", { for: id }, opts.label);
  const el = opts.type === "checkbox"
    ? h("div", { class: "field check" }, input, label, hint, error)
    : h("div", { class: "field" }, label, input, hint, error);
  return { el, input, error, name: opts.name, type: opts.type || "text" };
}

/** The value to send: numbers as numbers when they parse (else the text, for the API to refuse). */
export function valueOf(f) {
  if (f.type === "checkbox") return f.input.checked;
  const v = f.input.value;
  if (f.type === "number") {
    const t = v.trim().replace(",", ".");
    const n = Number(t);
    return t !== "" && Number.isFinite(n) ? n : t;
  }
  return v;
}

export function clearErrors(fields, formError) {
  for (const f of fields) {
    f.error.textContent = "";
    f.input.removeAttribute("aria-invalid");
  }
  if (formError) formError.textContent = "";
}

/** Put an API error next to its field (or in the form's error line); focus the field. */
export function showError(err, fields, formError) {
  const f = err instanceof ApiError && err.field
    ? fields.find((x) => x.name === err.field || err.field.endsWith(`.${x.name}`)) : null;
  if (f) {
    f.error.textContent = err.fieldMessage;
    f.input.setAttribute("aria-invalid", "true");
    f.input.focus();
  } else if (formError) {
    formError.textContent = err.message || String(err);
  }
}

/** Run fn with the button disabled; errors go next to their field. */
export async function submitting(button, fields, formError, fn) {
  clearErrors(fields, formError);
  button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    showError(e, fields, formError);
    return undefined;
  } finally {
    button.disabled = false;
  }
}
