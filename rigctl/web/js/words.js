// What the rig's states and faults mean, in plain words. Every state has a
// symbol and a word as well as a colour: colour alone is never the signal.

export const STATES = {
  idle: { word: "No session", symbol: "–", hint: "No session is running: the rig does not warn." },
  ok: { word: "OK", symbol: "✓", hint: "Foot load is below the caution line." },
  caution: { word: "Caution", symbol: "▲", hint: "Foot load is near the limit." },
  ease: { word: "Ease off", symbol: "◆", hint: "The client pressed the comfort button." },
  over: { word: "Over limit", symbol: "■", hint: "Foot load is over the client's limit: take weight onto the bars." },
  overload: { word: "Bar overload", symbol: "⚠", hint: "A bar mount carries more than its safe share: ease off the bars." },
  fault: { word: "Fault", symbol: "✕", hint: "A sensor or the controller has a fault: the reading cannot be trusted." },
};

export function stateInfo(state) {
  return STATES[state] || { word: String(state || "unknown"), symbol: "?", hint: "" };
}

const MOUNT_FAULTS = {
  stale: "no data - check the cable",
  saturated: "reading out of range - overloaded or a wiring fault",
  implausible: "reads below zero - take everything off and re-tare, or check the mount",
  stuck: "reading frozen - check the amplifier",
  timing: "garbled readings - check the wiring",
  read_error: "cannot be read - check the amplifier",
};

/** "bar_b_right: no data - check the cable" */
export function mountFaultText(name, fault) {
  return `${name}: ${MOUNT_FAULTS[fault] || `fault (${fault})`}`;
}

/**
 * The banners to show for a status snapshot and the connection, most serious first.
 * conn: {connected, coreUp, ageMs}; rig: whoami (mount capacities);
 * returns [{level: "fault"|"warn", text}].
 */
export function faultBanners(snap, conn, rig) {
  const out = [];
  if (!conn.connected) {
    out.push({ level: "warn", text: "Connection to the rig lost - reconnecting. The numbers below are not live." });
    return out;
  }
  if (conn.coreUp === false) {
    out.push({ level: "fault", text: "The rig controller is not running: no warnings on the bars until it is back." });
    return out;
  }
  if (conn.ageMs > 2000 && Number.isFinite(conn.ageMs)) {
    out.push({ level: "warn", text: `No live data for ${Math.round(conn.ageMs / 1000)} s - the numbers below are old.` });
  }
  if (!snap) return out;
  for (const m of snap.mounts || []) {
    if (m.fault) out.push({ level: "fault", text: mountFaultText(m.name, m.fault) });
  }
  const loop = snap.loop || {};
  if (loop.fault) {
    out.push({ level: "fault", text: "The control loop is running late - the controller is overloaded." });
  }
  if (snap.state === "overload") {
    const cap = Object.fromEntries(((rig && rig.mounts) || []).map((m) => [m.name, m.capacity_kg]));
    const frac = (rig && rig.overload_fraction) || 0.8;
    const over = (snap.mounts || [])
      .filter((m) => cap[m.name] && m.load_kg >= frac * cap[m.name]).map((m) => m.name);
    out.push({ level: "fault", text: "A bar mount is near its rated load - ease off the bars" + (over.length ? `: ${over.join(", ")}` : ".") });
  }
  if (snap.state === "fault" && !out.some((b) => b.level === "fault")) {
    out.push({ level: "fault", text: "Fault: a reading or the control loop just failed; the rig re-arms when every reading is good again." });
  }
  if (snap.core_fault && !out.some((b) => b.level === "fault")) {
    out.push({ level: "fault", text: "The rig reports a fault - sessions cannot start until it clears." });
  }
  return out;
}

const PRESS_SOURCES = { button: "hand-held button", dashboard: "dashboard button" };

/** Where a comfort-button press came from, in words ("button" is the one in the client's hand). */
export function pressSource(source) {
  return PRESS_SOURCES[source] || "comfort button";
}

/** Role names as people say them. */
export const ROLES = {
  viewer: "viewer", clinician: "clinician", installer: "installer", admin: "admin",
};

export const PAGE_TITLES = {
  live: "Live",
  clients: "Clients",
  sessions: "Sessions",
  calibration: "Calibration",
  diagnostics: "Diagnostics",
};
