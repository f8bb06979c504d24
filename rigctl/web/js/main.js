// The dashboard shell: sign-in, pages by role, the live stream, the fault banner.
// Pages are hash routes (#/live, #/clients, #/sessions/ID ...), each a module
// with mount(root, ctx) that returns its cleanup.

import { Api, ApiError } from "./api.js";
import { LiveStream } from "./stream.js";
import { h, kg, replace } from "./dom.js";
import { faultBanners, stateInfo, PAGE_TITLES } from "./words.js";

const PAGES = {
  live: () => import("./pages/live.js"),
  clients: () => import("./pages/clients.js"),
  sessions: () => import("./pages/sessions.js"),
  calibration: () => import("./pages/calibration.js"),
  diagnostics: () => import("./pages/diagnostics.js"),
};

const api = new Api();
const stream = new LiveStream(api);
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const chip = document.getElementById("state-chip");
const whoEl = document.getElementById("who");
const signoutBtn = document.getElementById("signout");
const banners = document.getElementById("banners");

let me = null;
let cleanup = null;
let routeSeq = 0;
let conn = { connected: false, coreUp: null };
let signinNote = "";

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "live", args: parts.slice(1) };
}

function renderNav() {
  const { page } = route();
  replace(nav, ...me.pages.map((p) => h("a", {
    href: `#/${p}`, "aria-current": p === page ? "page" : false,
  }, PAGE_TITLES[p] || p)));
  nav.hidden = false;
}

function renderBanners() {
  if (!me) { replace(banners); return; }
  const list = faultBanners(stream.last, { ...conn, ageMs: stream.age() }, me);
  const key = JSON.stringify(list);
  if (banners.dataset.key === key) return;
  banners.dataset.key = key;
  replace(banners, ...list.map((b) => h("div", {
    class: `banner ${b.level}`, role: b.level === "fault" ? "alert" : "status", "data-testid": "banner",
  }, h("span", { class: "banner-sym", "aria-hidden": "true" }, b.level === "fault" ? "✕" : "!"), " ", b.text)));
}

function renderChip(snap) {
  if (!snap) { chip.hidden = true; return; }
  const info = stateInfo(snap.state);
  chip.textContent = `${info.symbol} ${info.word} · ${kg(snap.foot_load_kg)} kg`;
  chip.dataset.state = snap.state;
  chip.hidden = route().page === "live";
}

async function show(focusMain = false) {
  const seq = ++routeSeq;
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  if (!me) { signIn(); return; }
  const { page, args } = route();
  renderNav();
  renderChip(stream.last);
  document.title = `${PAGE_TITLES[page] || page} · ${me.rig_name} · rigctl`;
  if (!PAGES[page]) {
    replace(main, h("section", { class: "panel" }, h("h1", {}, "Not found"),
      h("p", {}, "There is no such page. "), h("a", { href: "#/live" }, "Go to the live view")));
    return;
  }
  if (!me.pages.includes(page)) {
    replace(main, h("section", { class: "panel", "data-testid": "forbidden" },
      h("h1", {}, PAGE_TITLES[page] || page),
      h("p", {}, `This page needs another role; your token is a ${me.role} token. `),
      h("a", { href: "#/live" }, "Go to the live view")));
    return;
  }
  replace(main, h("p", { class: "muted" }, "Loading…"));
  const mod = await PAGES[page]();
  if (seq !== routeSeq) return;
  cleanup = mod.mount(main, { api, stream, me, args, go: (hash) => { location.hash = hash; } }) || null;
  // after a link was followed, keyboard and screen-reader users land on the new content
  if (focusMain) main.focus({ preventScroll: true });
}

function signIn() {
  stream.stop();
  nav.hidden = true; chip.hidden = true; whoEl.hidden = true; signoutBtn.hidden = true;
  replace(banners);
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "token-error", spellcheck: "false" });
  const remember = h("input", { id: "remember", type: "checkbox" });
  const err = h("p", { id: "token-error", class: "field-error", role: "alert" }, signinNote);
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "panel signin", "data-testid": "signin", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an access token. An admin makes one on the rig with ",
      h("code", {}, "rigctl token create --role viewer"), " (or clinician, installer, admin)."),
    h("div", { class: "field" }, h("label", { for: "token" }, "Token"), input, err),
    h("div", { class: "field check" }, remember, h("label", { for: "remember" }, "Keep me signed in on this device")),
    button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) { err.textContent = "Enter a token."; input.focus(); return; }
    button.disabled = true;
    err.textContent = "";
    api.setToken(token, remember.checked);
    try {
      await start();
    } catch (ex) {
      api.setToken(null);
      err.textContent = ex instanceof ApiError && ex.status === 401
        ? "This token is not valid (unknown or revoked)." : `Cannot sign in: ${ex.message}`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

async function start() {
  me = await api.get("/api/v1/whoami");
  signinNote = "";
  whoEl.textContent = `${me.name} (${me.role})`;
  whoEl.hidden = false;
  signoutBtn.hidden = false;
  stream.start();
  if (!location.hash || location.hash === "#/signin") location.hash = "#/live";
  await show();
}

function signOut(note) {
  api.setToken(null);
  me = null;
  signinNote = note || "";
  stream.stop();
  if (cleanup) { cleanup(); cleanup = null; }
  signIn();
}

api.onUnauthorized = () => {
  if (me) signOut("Your token is no longer valid; sign in again.");
};
signoutBtn.addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", () => { if (me) show(true); });
stream.on("status", (snap) => { renderChip(snap); renderBanners(); });
stream.on("conn", (c) => { conn = c; renderBanners(); });
setInterval(renderBanners, 250);

(async () => {
  if (api.token) {
    try { await start(); return; } catch (e) {
      api.setToken(null);
      signinNote = e instanceof ApiError && e.status === 401 ? "Your saved token is no longer valid; sign in again." : "";
    }
  }
  signIn();
})();
