"""The core process's operations behind the socket: sessions, rig settings, sim scenarios.

Everything that changes what the loop does goes through ``Core.call`` (run at
the start of the next tick, in the loop thread); files are written here, in
the socket threads. A session start is acknowledged only after the active-
session file is on disk, so a core restart always resumes an acknowledged
session with its limit; a stop is acknowledged after the summary file is on
disk, so the API can always import it, even if it crashed meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rigctl.backends.scenario import ScenarioError, parse_scenario
from rigctl.config import Config, MountSection, WarningSection
from rigctl.core.controller import EaseEvent, SessionStats, Transition
from rigctl.core.runtime import Core, CoreTimeout
from rigctl.core.session_state import ActiveSession, SessionStateFile, atomic_write
from rigctl.core.warning import State
from rigctl.ipc.protocol import IpcError, number_arg, socket_path
from rigctl.ipc.recorder import SUMMARY_FILE, TraceRecorder, session_dir
from rigctl.ipc.server import IpcServer

log = logging.getLogger(__name__)

RIG_FILE = "rig.json"
CHECKPOINT_EVERY_S = 1.0
THERAPIST_MIN_KG = 30.0
THERAPIST_MAX_KG = 250.0
#: warning fields a rig PATCH may change (DESIGN section 6: thresholds and dwell times)
RIG_WARNING_FIELDS = tuple(WarningSection.model_fields)


def rig_settings(cfg: Config) -> dict[str, Any]:
    """The rig settings the API shows and changes: warning section + mount capacities."""
    return {
        "warning": cfg.warning.model_dump(),
        "mounts": {name: {"capacity_kg": m.capacity_kg} for name, m in cfg.mounts.items()},
    }


def apply_rig_changes(cfg: Config, changes: dict[str, Any]) -> Config:
    """A new config with ``changes`` ({"warning": {...}, "mounts": {name: {...}}}) applied.

    Raises ``IpcError`` naming the field and the allowed range.
    """
    unknown = set(changes) - {"warning", "mounts"}
    if unknown:
        raise IpcError("bad_request", f"{sorted(unknown)[0]}: unknown section; "
                       "allowed: warning, mounts", sorted(unknown)[0])
    warning = cfg.warning
    w_changes = changes.get("warning") or {}
    if not isinstance(w_changes, dict):
        raise IpcError("bad_request", "warning: must be an object", "warning")
    if w_changes:
        try:
            warning = WarningSection.model_validate({**cfg.warning.model_dump(), **w_changes})
        except ValidationError as e:
            raise _validation_error(e, "warning", WarningSection) from None
    mounts = dict(cfg.mounts)
    m_changes = changes.get("mounts") or {}
    if not isinstance(m_changes, dict):
        raise IpcError("bad_request", "mounts: must be an object", "mounts")
    for name, mc in m_changes.items():
        if name not in mounts:
            raise IpcError("bad_request", f"mounts.{name}: unknown mount; the rig has "
                           f"{', '.join(cfg.mount_names)}", f"mounts.{name}")
        if not isinstance(mc, dict) or set(mc) - {"capacity_kg"}:
            raise IpcError("bad_request", f"mounts.{name}: only capacity_kg may change here",
                           f"mounts.{name}")
        try:
            mounts[name] = MountSection.model_validate({**mounts[name].model_dump(), **mc})
        except ValidationError as e:
            raise _validation_error(e, f"mounts.{name}", MountSection) from None
    return cfg.model_copy(update={"warning": warning, "mounts": mounts})


def _validation_error(e: ValidationError, prefix: str, model: Any) -> IpcError:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    key = f"{prefix}.{loc}" if loc else prefix
    rng = ""
    f = model.model_fields.get(loc)
    if f is not None:
        bounds: dict[str, Any] = {}
        for m in f.metadata:
            for attr in ("ge", "gt", "le", "lt"):
                if getattr(m, attr, None) is not None:
                    bounds["lo" if attr[0] == "g" else "hi"] = getattr(m, attr)
        if bounds:
            rng = f" (allowed {bounds.get('lo', '-inf')}..{bounds.get('hi', 'inf')})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return IpcError("bad_request", f"{key}: {msg}{rng}", key)


class CoreService:
    """Binds a running ``Core`` to the socket, the session file, the trace and rig.json."""

    def __init__(self, core: Core, state_dir: Path) -> None:
        self.core = core
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file = SessionStateFile(self.state_dir)
        self.active: ActiveSession | None = None
        #: transitions print as seconds since the latest session's start (core start before)
        self.t0_ns = time.monotonic_ns()
        self._session_lock = threading.Lock()
        self._last_ckpt: tuple[Any, ...] | None = None
        self._ckpt_mono = 0.0
        self.recorder = TraceRecorder(core, self.state_dir, on_drain=self.checkpoint)
        self.server = IpcServer(socket_path(self.state_dir), self.status)
        core.on_transition(self._on_transition)
        for op, fn in (
            ("status", lambda a: self.status()),
            ("session.get", self.op_session_get),
            ("session.start", self.op_session_start),
            ("session.stop", self.op_session_stop),
            ("session.set_limit", self.op_set_limit),
            ("rig.get", lambda a: rig_settings(self.core.config)),
            ("rig.set", self.op_rig_set),
            ("sim.scenario", self.op_sim_scenario),
            ("sim.hold", self.op_sim_hold),
            ("loop.histogram", self.op_loop_histogram),
        ):
            self.server.register(op, fn)

    # -- lifecycle -------------------------------------------------------------
    def load_rig_file(self) -> None:
        """Re-apply rig settings saved by an earlier run (before the loop starts)."""
        path = self.state_dir / RIG_FILE
        if not path.exists():
            return
        try:
            changes = json.loads(path.read_text())
            cfg = apply_rig_changes(self.core.config, changes)
        except (ValueError, IpcError) as e:
            log.error("rig: ignoring %s: %s", path, e)
            return
        self._install_config(cfg)
        log.info("rig: settings from %s applied", path)

    def restore_session(self) -> ActiveSession | None:
        """Resume the session in the state file (the core restarted mid-session).

        An unreadable file raises ``ValueError``: better no core than a core that
        silently runs unarmed while a therapist believes a session is active.
        """
        saved = self.state_file.load()
        if saved is None:
            return None
        start_ns = saved.resume_start_ns(time.monotonic_ns())
        stats = saved.stats

        def resume(now_ns: int) -> None:
            ctl = self.core.controller
            ctl.start_session(saved.limit_kg, saved.therapist_kg, now_ns, saved.session_id)
            restarted = ctl.session
            assert restarted is not None
            seeded = SessionStats(saved.session_id, start_ns, saved.limit_kg, saved.therapist_kg,
                                  peak_foot_kg=float(stats.get("peak_foot_kg", 0.0)),
                                  over_limit_ns=int(stats.get("over_limit_ns", 0)),
                                  entries=dict(stats.get("entries", {})))
            for t in stats.get("transitions", []):
                seeded.transitions.append(Transition(start_ns + int(t[0]), State(t[1]),
                                                     float(t[2])))
            for e in stats.get("ease_events", []):  # comfort-button presses before the restart
                seeded.ease_events.append(EaseEvent(start_ns + int(e[0]), float(e[1]),
                                                    float(e[2])))
            for tr in restarted.transitions:  # the re-arming itself, at restart time
                seeded.record(tr)
            ctl.session = seeded

        self.t0_ns = start_ns
        self.core.call(resume, timeout=5.0)
        self.active = saved
        log.warning("session %s restored after a core restart: limit %.1f kg, therapist "
                    "%.1f kg", saved.session_id, saved.limit_kg, saved.therapist_kg)
        return saved

    def start(self) -> None:
        self.recorder.start()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.recorder.stop()
        self.checkpoint(force=True)

    # -- status ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st = self.core.status()
        a = self.active
        st["client_id"] = a.client_id if a is not None else None
        st["session_started_at"] = a.start_wall if a is not None else None
        st["backend"] = self.core.config.rig.backend
        st["core_fault"] = self._core_faulted()
        return st

    def _core_faulted(self) -> bool:
        ctl = self.core.controller
        return bool(ctl.estimator.faulted or self.core.loop.loop_fault
                    or not self.core.loop.running)

    def _on_transition(self, tr: Transition) -> None:
        s = self.core.controller.session
        data: dict[str, Any] = {"state": tr.state.value, "foot_load_kg": round(tr.foot_kg, 3),
                                "session_id": s.session_id if s else None,
                                "t_s": round((tr.t_ns - s.start_ns) / 1e9, 3) if s else None}
        self.server.broadcast("transition", data)
        print(f"{(tr.t_ns - self.t0_ns) / 1e9:8.3f} s  {tr.state.value:<8}  foot load "
              f"{tr.foot_kg:6.1f} kg", flush=True)

    # -- session checkpoint (writer thread) ---------------------------------------------
    def checkpoint(self, force: bool = False) -> None:
        """Save the running summary into the session file: at most once a second, if changed."""
        mono = time.monotonic()
        if not force and mono - self._ckpt_mono < CHECKPOINT_EVERY_S:
            return
        self._ckpt_mono = mono
        with self._session_lock:
            a = self.active
            s = self.core.controller.session
            if a is None or s is None or s.session_id != a.session_id:
                return
            trs = list(s.transitions)
            eases = list(s.ease_events)
            key = (round(s.peak_foot_kg, 2), s.over_limit_ns // 10_000_000, len(trs),
                   len(eases))
            if key == self._last_ckpt:
                return
            a.stats = {
                "peak_foot_kg": s.peak_foot_kg,
                "over_limit_ns": s.over_limit_ns,
                "entries": dict(s.entries),
                "transitions": [(t.t_ns - s.start_ns, t.state.value, t.foot_kg) for t in trs],
                "ease_events": [(e.t_ns - s.start_ns, e.foot_kg, e.peak_before_kg)
                                for e in eases],
            }
            self.state_file.save(a)
            self._last_ckpt = key

    # -- operations --------------------------------------------------------------------
    def _session_info(self) -> dict[str, Any] | None:
        a = self.active
        s = self.core.controller.session
        if a is None or s is None:
            return None
        return {"session_id": a.session_id, "client_id": a.client_id, "limit_kg": s.limit_kg,
                "therapist_weight_kg": a.therapist_kg, "started_at": a.start_wall,
                "summary": s.summary(time.monotonic_ns())}

    def op_session_get(self, args: dict[str, Any]) -> dict[str, Any] | None:
        return self._session_info()

    def op_session_start(self, args: dict[str, Any]) -> dict[str, Any]:
        w = self.core.config.warning
        limit = number_arg(args, "limit_kg", w.limit_min_kg, w.limit_max_kg)
        therapist = number_arg(args, "therapist_kg", THERAPIST_MIN_KG, THERAPIST_MAX_KG)
        sid = str(args.get("session_id") or uuid.uuid4().hex)
        client_id = args.get("client_id")
        if client_id is not None and not isinstance(client_id, int):
            raise IpcError("bad_request", "client_id: an integer or null", "client_id")
        with self._session_lock:
            if self.active is not None:
                raise IpcError("conflict", f"session {self.active.session_id} is active; "
                               "stop it first")
            if self._core_faulted():
                raise IpcError("conflict", "the core is faulted (sensor or loop fault); "
                               "fix it before starting a session")
            box: list[int] = []

            def begin(now_ns: int) -> None:
                self.t0_ns = now_ns  # before the events thread prints the first transition
                self.core.controller.start_session(limit, therapist, now_ns, sid)
                box.append(now_ns)

            self.core.call(begin, timeout=2.0)
            a = ActiveSession(sid, limit, therapist, box[0], time.time(), client_id)
            try:
                self.state_file.save(a)
            except OSError as e:  # not durable: do not leave an unrecorded session armed
                self.core.call(self.core.controller.stop_session)
                raise IpcError("internal", f"cannot write the session file: {e}") from None
            self.active = a
            self._last_ckpt = None
        log.info("session %s started: limit %.1f kg, therapist %.1f kg", sid, limit, therapist)
        info = self._session_info()
        assert info is not None
        return info

    def op_session_stop(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._session_lock:
            a = self.active
            if a is None:
                raise IpcError("conflict", "no session is active")
            want = args.get("session_id")
            if want is not None and want != a.session_id:
                raise IpcError("conflict", f"session {want} is not the active one "
                               f"({a.session_id})")
            summary = self.core.call(self.core.controller.stop_session, timeout=2.0) or {}
            summary["client_id"] = a.client_id
            summary["started_at"] = a.start_wall
            summary["stopped_at"] = time.time()
            summary["mount_names"] = list(self.core.config.mount_names)
            trace = self.recorder.finish(a.session_id)
            d = session_dir(self.state_dir, a.session_id)
            d.mkdir(parents=True, exist_ok=True)
            atomic_write(d / SUMMARY_FILE, json.dumps(summary).encode())
            self.state_file.clear()
            self.active = None
        log.info("session %s stopped", a.session_id)
        return {"session_id": a.session_id, "summary": summary, "trace_path": str(trace)}

    def op_set_limit(self, args: dict[str, Any]) -> dict[str, Any]:
        w = self.core.config.warning
        limit = number_arg(args, "limit_kg", w.limit_min_kg, w.limit_max_kg)
        with self._session_lock:
            a = self.active
            if a is None:
                raise IpcError("conflict", "no session is active")
            if args.get("session_id") not in (None, a.session_id):
                raise IpcError("conflict", "that session is not the active one")
            self.core.call(lambda now: self.core.controller.set_limit(limit, now))
            a.limit_kg = limit
            self.state_file.save(a)
        return {"session_id": a.session_id, "limit_kg": limit}

    def op_rig_set(self, args: dict[str, Any]) -> dict[str, Any]:
        cfg = apply_rig_changes(self.core.config, args)
        with self._session_lock:
            if self.active is not None:
                raise IpcError("conflict", "rig settings cannot change during a session; "
                               "stop the session first")
            self._install_config(cfg)
            base = rig_settings(cfg)
            atomic_write(self.state_dir / RIG_FILE, json.dumps(base, indent=1).encode())
        return base

    def _install_config(self, cfg: Config) -> None:
        """Swap in the warning settings of ``cfg``, by the loop thread (idle only)."""

        def swap(now_ns: int) -> None:
            if self.core.controller.session is not None:
                raise IpcError("conflict", "a session is active")
            self.core.controller.reconfigure(cfg)

        if self.core.loop.running:
            self.core.call(swap)
        else:
            swap(0)
        self.core.config = cfg

    def _sim(self) -> Any:
        from rigctl.backends.sim import SimRig

        src = self.core.source
        if not isinstance(src, SimRig):
            raise IpcError("unsupported", "scenarios play only on the sim backend (this rig "
                           f"runs '{self.core.config.rig.backend}')")
        return src

    def op_sim_scenario(self, args: dict[str, Any]) -> dict[str, Any]:
        rig = self._sim()
        text = args.get("csv")
        if not isinstance(text, str):
            raise IpcError("bad_request", "csv: the scenario CSV text is required", "csv")
        try:
            sc = parse_scenario(text, self.core.config.mount_names, source="scenario")
        except ScenarioError as e:
            raise IpcError("bad_request", str(e), "body") from None
        box: list[int] = []

        def play(now_ns: int) -> None:
            rig.play(sc, now_ns, loop=bool(args.get("loop", False)))
            box.append(now_ns)

        self.core.call(play)
        s = self.core.controller.session
        return {"rows": len(sc.times), "duration_s": sc.duration_s,
                "session_id": s.session_id if s else None,
                "session_t_s": round((box[0] - s.start_ns) / 1e9, 4) if s else None}

    def op_loop_histogram(self, args: dict[str, Any]) -> dict[str, Any]:
        """The loop's period-error histogram, sparse ({us: count}), for windowed figures."""
        lp = self.core.loop
        bins = lp.period_error.bins[:]  # one C-level copy; the loop keeps recording
        return {"ticks": lp.ticks, "overruns": lp.overruns,
                "period_error_us": {str(i): c for i, c in enumerate(bins) if c}}

    def op_sim_hold(self, args: dict[str, Any]) -> dict[str, Any]:
        rig = self._sim()
        loads = args.get("loads_kg")
        n = len(self.core.config.mount_names)
        if (not isinstance(loads, list) or len(loads) != n
                or not all(isinstance(x, int | float) for x in loads)):
            raise IpcError("bad_request", f"loads_kg: a list of {n} numbers", "loads_kg")
        self.core.call(lambda now: rig.hold(loads))
        return {"loads_kg": loads}


__all__ = ["CoreService", "CoreTimeout", "apply_rig_changes", "rig_settings"]
