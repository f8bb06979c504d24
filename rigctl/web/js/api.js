// The local API over fetch, with the bearer token. Errors carry the API's
// {code, detail, field} so forms can put the message next to the field.

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.detail) || `HTTP ${status}`;
    super(String(detail));
    this.status = status;
    this.code = (body && body.code) || "error";
    this.field = (body && body.field) || null;
  }

  /** The message without its leading "field: " (it is shown next to that field). */
  get fieldMessage() {
    const prefix = this.field ? `${this.field}: ` : "";
    return prefix && this.message.startsWith(prefix)
      ? this.message.slice(prefix.length) : this.message;
  }
}

const KEY = "rigctl.token";

export class Api {
  constructor() {
    this.token = sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || null;
    /** called once when the server says the token is no longer valid */
    this.onUnauthorized = () => {};
    /** server clock minus this browser's clock, seconds (from the Date header) */
    this.clockOffsetS = 0;
  }

  setToken(token, remember) {
    this.token = token;
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    if (token) (remember ? localStorage : sessionStorage).setItem(KEY, token);
  }

  headers(extra) {
    const hd = { Accept: "application/json", ...(extra || {}) };
    if (this.token) hd.Authorization = `Bearer ${this.token}`;
    return hd;
  }

  /** The raw Response (for streams and downloads); throws ApiError on 4xx/5xx. */
  async raw(method, path, { body, type, signal } = {}) {
    const init = { method, headers: this.headers(), signal, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = type || "application/json";
      init.body = type ? body : JSON.stringify(body);
    }
    const res = await fetch(path, init);
    this.noteDate(res);
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch { /* not JSON */ }
      const err = new ApiError(res.status, data);
      if (res.status === 401) this.onUnauthorized(err);
      throw err;
    }
    return res;
  }

  async call(method, path, opts) {
    const res = await this.raw(method, path, opts);
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }

  get(path, opts) { return this.call("GET", path, opts); }
  post(path, body, opts) { return this.call("POST", path, { ...opts, body }); }
  patch(path, body) { return this.call("PATCH", path, { body }); }
  del(path) { return this.call("DELETE", path); }

  /** The rig's clock may be wrong (no RTC, no internet): trust it over ours for timers. */
  noteDate(res) {
    const d = res.headers.get("Date");
    if (!d) return;
    const server = Date.parse(d) / 1000;
    if (!Number.isFinite(server)) return;
    const off = server - Date.now() / 1000;
    // the header has 1 s resolution: only a clearly different clock is corrected
    this.clockOffsetS = Math.abs(off) > 2 ? off : 0;
  }

  /** Now on the rig's clock, epoch seconds. */
  serverNow() { return Date.now() / 1000 + this.clockOffsetS; }
}
