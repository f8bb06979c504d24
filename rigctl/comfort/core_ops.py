"""The comfort button in the core process: socket operations and the live ``ease`` event.

- ``ease.press {"session_id"}``: the dashboard's comfort button (the API's
  ``POST /sessions/{id}/ease``). The press runs in the loop thread, which also
  checks there that the named session is the one running, so a press can never
  land in a session that was stopped a moment before. The answer is the press
  record, saved in the session checkpoint before it is sent.
- ``sim.comfort_button {"bounce_ms", "toggle_ms", "hold_ms"}`` (sim backend):
  drives the mock pin of the configured button the way a finger on a bouncing
  contact does, so the whole path (pin, debounce, loop) runs in the real process;
  answers the presses accepted, the bounces ignored and the time from the first
  contact to the loop taking the press (``rigctl bench-ease`` prints it).
- Every press, from the hand-held button or the dashboard, goes to subscribers
  as an ``ease`` event (the API forwards it on ``/api/v1/stream``); a press
  outside a session is sent too, marked ``in_session: false``, and changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rigctl.core.controller import EaseEvent
from rigctl.inputs.comfort import ComfortButton
from rigctl.ipc.protocol import IpcError, number_arg
from rigctl.ipc.service import CoreService

log = logging.getLogger(__name__)

OPS = ("ease.press", "sim.comfort_button")


def event_data(session_id: str | None, start_ns: int | None, ev: EaseEvent | None,
               source: str) -> dict[str, Any]:
    """The ``ease`` event / press record as JSON (times in seconds since the session start)."""
    if ev is None or session_id is None or start_ns is None:
        return {"in_session": False, "session_id": None, "t_s": None, "foot_load_kg": None,
                "peak_2s_kg": None, "source": source}
    return {"in_session": True, "session_id": session_id,
            "t_s": round((ev.t_ns - start_ns) / 1e9, 3), "foot_load_kg": round(ev.foot_kg, 3),
            "peak_2s_kg": round(ev.peak_before_kg, 3), "source": source}


class ComfortOps:
    """Registers the comfort operations on ``service`` and sends every press as an event."""

    def __init__(self, service: CoreService, buttons: list[Any]) -> None:
        self.service = service
        self.core = service.core
        self.buttons = [b for b in buttons if isinstance(b, ComfortButton)]
        self._sim_lock = threading.Lock()
        #: when the loop applied the latest hand-held press (for the sim's edge-to-ease figure)
        self._button_cv = threading.Condition()
        self._button_ns = 0
        self.core.on_ease(self._on_button)
        server = service.server
        server.register("ease.press", self.op_press)
        server.register("sim.comfort_button", self.op_sim_button, slow=True)
        inputs = service.core.config.inputs
        if self.buttons:
            log.info("comfort button on GPIO %s (BCM), debounce %g ms", inputs.comfort_pin,
                     inputs.comfort_bounce_ms)

    # -- the hand-held button (events thread) ---------------------------------------------
    def _on_button(self, t_ns: int, ev: EaseEvent | None) -> None:
        s = self.core.controller.session
        if ev is not None and s is not None and any(e is ev for e in s.ease_events):
            data = event_data(s.session_id, s.start_ns, ev, "button")
            log.warning("comfort button pressed in session %s at %.3f s (foot load %.1f kg)",
                        s.session_id, data["t_s"], ev.foot_kg)
            self.service.checkpoint(force=True)
        else:  # outside a session (the core already logged it), or the session just ended
            data = event_data(None, None, None, "button")
        self.service.server.broadcast("ease", data)
        with self._button_cv:
            self._button_ns = t_ns
            self._button_cv.notify_all()

    # -- the dashboard's button -----------------------------------------------------------
    def op_press(self, args: dict[str, Any]) -> dict[str, Any]:
        sid = args.get("session_id")
        if not isinstance(sid, str) or not sid:
            raise IpcError("bad_request", "session_id: the active session's id is required",
                           "session_id")
        loop = self.core.loop
        ticks_before = loop.ticks
        asked_ns = time.monotonic_ns()

        def press(now_ns: int) -> dict[str, Any] | None:
            ctl = self.core.controller
            s = ctl.session
            if s is None or s.session_id != sid:
                return None
            ev = ctl.press_ease(now_ns)
            if ev is None:
                return None
            out = event_data(sid, s.start_ns, ev, "dashboard")
            out["state"] = ctl.state.value
            # ticks that ended between the request and the press: 0 or 1 means the first
            # tick that began after the request raised it
            out["ticks_waited"] = loop.ticks - ticks_before
            out["request_to_press_ms"] = round((now_ns - asked_ns) / 1e6, 3)
            return out

        rec = self.core.call(press, timeout=2.0)
        if rec is None:
            active = self.service.active
            raise IpcError("conflict", f"session {sid} is not the active one"
                           + (f" ({active.session_id} is)" if active else
                              " (no session is active)"))
        self.service.checkpoint(force=True)  # acknowledged presses survive a core restart
        log.warning("comfort button pressed on the dashboard in session %s at %.3f s "
                    "(foot load %.1f kg)", sid, rec["t_s"], rec["foot_load_kg"])
        self.service.server.broadcast("ease", {k: rec[k] for k in (
            "in_session", "session_id", "t_s", "foot_load_kg", "peak_2s_kg", "source")})
        return rec

    # -- the sim's button: a finger on a mock pin -----------------------------------------
    def op_sim_button(self, args: dict[str, Any]) -> dict[str, Any]:
        from rigctl.backends.sim import SimRig

        if not isinstance(self.core.source, SimRig):
            raise IpcError("unsupported", "the comfort button is pressed by hand on this rig "
                           f"('{self.core.config.rig.backend}' backend); only the sim has a "
                           "simulated one")
        if not self.buttons:
            raise IpcError("unsupported", "no comfort button is configured "
                           "(inputs.comfort_pin)")
        bounce_ms = number_arg(args, "bounce_ms", 0.0, 200.0, default=0.0)
        toggle_ms = number_arg(args, "toggle_ms", 0.2, 20.0, default=1.0)
        hold_ms = number_arg(args, "hold_ms", 0.0, 5000.0, default=100.0)
        btn = self.buttons[0]
        pin = btn.button.pin
        pressed, released = ((pin.drive_low, pin.drive_high) if self.core.config.inputs
                             .comfort_pull_up else (pin.drive_high, pin.drive_low))
        with self._sim_lock:
            presses, bounces = btn.presses, btn.bounces
            edge_ns = time.monotonic_ns()
            for k in range(round(bounce_ms / toggle_ms)):  # the contact chatters, then closes
                (pressed if k % 2 == 0 else released)()
                time.sleep(toggle_ms / 1000)
            pressed()
            time.sleep(hold_ms / 1000)
            released()
            done_ns = time.monotonic_ns()
            accepted = btn.presses - presses
            with self._button_cv:  # the loop applies the first accepted edge's press
                self._button_cv.wait_for(lambda: self._button_ns >= edge_ns,
                                         timeout=1.0 if accepted else 0.0)
                applied = self._button_ns if self._button_ns >= edge_ns else None
            return {"presses": accepted, "bounces": btn.bounces - bounces,
                    "duration_s": round((done_ns - edge_ns) / 1e9, 3),
                    # first contact to the loop raising ease (or noting a press outside a
                    # session): pin, debounce, hand-over and the next tick
                    "edge_to_press_ms": round((applied - edge_ns) / 1e6, 3)
                    if applied is not None else None}
