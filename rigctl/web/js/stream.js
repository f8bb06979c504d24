// The live stream (GET /api/v1/stream, server-sent events) read with fetch,
// because EventSource cannot send the bearer token (and a token in the URL
// would end up in logs). It reconnects by itself with a growing pause, and
// tells its listeners when the data stops being live.

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
/** no byte at all for this long (the server sends keep-alives every 15 s): reconnect */
const SILENT_MS = 20000;

/** Split SSE text into complete events; returns [events, rest]. */
export function parseEvents(buffer) {
  const events = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return [events, rest];
}

export class LiveStream {
  constructor(api) {
    this.api = api;
    this.listeners = { status: new Set(), transition: new Set(), ease: new Set(), conn: new Set() };
    this.connected = false;
    this.coreUp = null;
    this.last = null;          // the newest status snapshot
    this.lastAt = 0;           // performance.now() when it came
    this.stopped = true;
    this.retryMs = RETRY_MIN_MS;
    this.controller = null;
  }

  on(kind, fn) {
    this.listeners[kind].add(fn);
    return () => this.listeners[kind].delete(fn);
  }

  emit(kind, data) {
    for (const fn of this.listeners[kind]) {
      try { fn(data); } catch (e) { console.error(e); }
    }
  }

  setConn(connected, info) {
    this.connected = connected;
    this.emit("conn", { connected, coreUp: this.coreUp, ...info });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.gen = (this.gen || 0) + 1;
    this.loop(this.gen);
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  /** One loop per start(): a loop left over from before a stop() ends at its next turn. */
  async loop(gen) {
    while (!this.stopped && gen === this.gen) {
      let reason = "";
      try {
        await this.readOnce();
        reason = "the stream ended";
      } catch (e) {
        if (e && e.status === 401) { this.stopped = true; break; }
        reason = e && e.name === "AbortError" ? "no data" : String((e && e.message) || e);
      }
      if (this.stopped || gen !== this.gen) break;
      this.setConn(false, { reason, retryMs: this.retryMs });
      await new Promise((r) => setTimeout(r, this.retryMs));
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    }
    if (gen === this.gen) this.setConn(false, { reason: "signed out" });
  }

  async readOnce() {
    this.controller = new AbortController();
    let silence = setTimeout(() => this.controller.abort(), SILENT_MS);
    try {
      const res = await this.api.raw("GET", "/api/v1/stream", {
        signal: this.controller.signal,
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(silence);
        silence = setTimeout(() => this.controller.abort(), SILENT_MS);
        buffer += decoder.decode(value, { stream: true });
        const [events, rest] = parseEvents(buffer);
        buffer = rest;
        for (const ev of events) this.dispatch(ev);
      }
    } finally {
      clearTimeout(silence);
    }
  }

  dispatch(ev) {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    if (!this.connected) this.setConn(true, {});
    this.retryMs = RETRY_MIN_MS;
    if (ev.event === "status") {
      if (this.coreUp !== true) { this.coreUp = true; this.setConn(true, {}); }
      this.last = data;
      this.lastAt = performance.now();
      this.emit("status", data);
    } else if (ev.event === "transition") {
      this.emit("transition", data);
    } else if (ev.event === "ease") {
      // a comfort-button press (hand-held or dashboard), also one outside a session
      this.emit("ease", data);
    } else if (ev.event === "core") {
      this.coreUp = Boolean(data && data.up);
      this.setConn(true, {});
    }
  }

  /** Milliseconds since the newest snapshot (Infinity before the first). */
  age() { return this.last ? performance.now() - this.lastAt : Infinity; }
}
