"""The core process's runtime: backend + controller + outputs + loop, and thread-safe access.

Other threads (the CLI, the API socket server) never touch the controller
directly: they submit small commands that the loop thread runs at the start
of its next tick, so the pure controller only ever sees one thread.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from rigctl.config import Config
from rigctl.core.controller import Controller, EaseEvent, Transition
from rigctl.core.loop import LoopRunner
from rigctl.core.patterns import commands
from rigctl.core.warning import State
from rigctl.outputs.base import OutputSink
from rigctl.sampling.slots import SampleSource

log = logging.getLogger(__name__)
T = TypeVar("T")

TransitionListener = Callable[[Transition], None]
#: (press time, the event or None when no session was active)
EaseListener = Callable[[int, EaseEvent | None], None]


class CoreTimeout(RuntimeError):
    """The loop did not run a submitted command in time (stalled or stopped)."""


class Core:
    def __init__(self, cfg: Config, source: SampleSource, outputs: OutputSink,
                 controller: Controller | None = None) -> None:
        self.config = cfg
        self.source = source
        self.outputs = outputs
        if controller is None:  # with the calibration the config names (factory), if any
            from rigctl.calibration.startup import build_controller

            controller = build_controller(cfg, None)[0]
        self.controller = controller
        lp = cfg.loop
        self.loop = LoopRunner(self._tick, lp.rate_hz, lp.spin_us, lp.sched_fifo,
                               lp.fifo_priority, lp.overrun_fault_streak,
                               stall_fault_ms=cfg.sampling.stale_after_ms)
        self._pending: deque[Callable[[int], None]] = deque()
        self._listeners: list[TransitionListener] = []
        self._ease_listeners: list[EaseListener] = []
        self._presses: deque[tuple[int, EaseEvent | None]] = deque(maxlen=64)
        self._tick_listeners: list[Callable[[int], None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._events = threading.Thread(target=self._dispatch, name="rigctl-events", daemon=True)
        self.last_commands = self.controller.commands(0)
        #: monotonic time at which each output change was applied (for bench latency)
        self.red_on_ns = 0
        #: first tick of a run of ticks that raised (their outputs show the fault pattern)
        self._failing_since: int | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        # Short GIL switch interval: a thread that holds the GIL (JSON, sockets)
        # must hand it to the waking loop thread within 0.5 ms, not the 5 ms default.
        sys.setswitchinterval(0.0005)
        self.source.start()
        self._events.start()
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self._stop.set()
        self._wake.set()
        self.outputs.close()
        self.source.stop()

    # -- the tick (loop thread only) ----------------------------------------------
    def _tick(self, now_ns: int) -> None:
        try:
            self._step(now_ns)
        except Exception:
            # the loop counts it and latches loop_fault, but the state machine never
            # saw it: without this the outputs would keep the last state (green on)
            if self._failing_since is None:
                self._failing_since = now_ns
            cmd = commands(State.FAULT, self._failing_since, now_ns)
            self.outputs.apply(cmd)
            self.last_commands = cmd
            raise
        self._failing_since = None

    def _step(self, now_ns: int) -> None:
        pending = self._pending
        while pending:
            pending.popleft()(now_ns)
        ctl = self.controller
        ctl.loop_fault = self.loop.loop_fault
        ctl.tick(now_ns, self.source.poll(now_ns))
        cmd = ctl.commands(now_ns)
        self.outputs.apply(cmd)
        if cmd.red and not self.last_commands.red:
            self.red_on_ns = time.monotonic_ns()
        self.last_commands = cmd
        for fn in self._tick_listeners:
            fn(now_ns)
        if ctl.transitions:
            self._wake.set()

    def _dispatch(self) -> None:
        q = self.controller.transitions
        presses = self._presses
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            while presses:
                t_ns, ev = presses.popleft()
                if ev is None:
                    log.info("comfort button pressed outside a session: no action")
                for efn in list(self._ease_listeners):
                    try:
                        efn(t_ns, ev)
                    except Exception:
                        log.exception("ease listener failed")
            while q:
                tr = q.popleft()
                for fn in list(self._listeners):
                    try:
                        fn(tr)
                    except Exception:
                        log.exception("transition listener failed")

    def on_transition(self, fn: TransitionListener) -> None:
        self._listeners.append(fn)

    def on_ease(self, fn: EaseListener) -> None:
        """Called (events thread) for every comfort-button press, in a session or not."""
        self._ease_listeners.append(fn)

    def press_ease(self) -> None:
        """The client's comfort button: never blocks (safe from a GPIO callback thread)."""

        def run(now_ns: int) -> None:
            self._presses.append((now_ns, self.controller.press_ease(now_ns)))
            self._wake.set()

        self._pending.append(run)

    def on_tick(self, fn: Callable[[int], None]) -> None:
        """Run ``fn(now_ns)`` in the loop thread after each tick: must be O(1) and never block."""
        self._tick_listeners.append(fn)

    # -- commands from other threads ----------------------------------------------
    def call(self, fn: Callable[[int], T], timeout: float = 1.0) -> T:
        """Run ``fn(now_ns)`` in the loop thread at its next tick and return its result."""
        done = threading.Event()
        box: list[Any] = []

        def run(now_ns: int) -> None:
            try:
                box.append((True, fn(now_ns)))
            except Exception as e:
                box.append((False, e))
            done.set()

        self._pending.append(run)
        if not done.wait(timeout):
            try:  # withdraw it: a caller told "busy" must not see it happen later
                self._pending.remove(run)  # (a stop that disarms a session it still shows)
            except ValueError:  # the loop took it just now: wait for its result
                if not done.wait(timeout):
                    raise CoreTimeout("the control loop took a command and did not finish "
                                      f"it within {timeout:.1f} s") from None
            else:
                raise CoreTimeout("the control loop did not answer within "
                                  f"{timeout:.1f} s")
        ok, value = box[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def start_session(self, limit_kg: float, therapist_kg: float,
                      session_id: str | None = None) -> None:
        self.call(lambda now: self.controller.start_session(limit_kg, therapist_kg, now,
                                                            session_id))

    def stop_session(self) -> dict[str, Any] | None:
        return self.call(self.controller.stop_session)

    # -- status (any thread; Klipper-style get_status snapshot) ----------------------
    def status(self) -> dict[str, Any]:
        ctl = self.controller
        est = ctl.estimator
        now = time.monotonic_ns()
        stats = ctl.session
        mounts = []
        driver_counts = self.source.counters()
        for i, name in enumerate(ctl.mount_names):
            slot_sample = None
            samples = getattr(self.source, "slots", None)
            if samples is not None:
                slot_sample = samples[i].sample
            age_ms = (now - slot_sample.t_ns) / 1e6 if slot_sample is not None else None
            fault = est.mount_fault[i]
            mounts.append({
                "name": name,
                "load_kg": round(est.mount_kg[i], 3),
                "age_ms": round(age_ms, 1) if age_ms is not None else None,
                "ok": fault is None,
                "fault": fault,
                "fault_counts": {k: v for k, v in est.fault_counts[i].items() if v},
                # driver-level events (timing violations, read errors, resets)
                "driver_counts": driver_counts.get(name, {}),
                # samples so far: the dashboard's diagnostics derive the rate from it
                "seq": slot_sample.seq if slot_sample is not None else None,
            })
        ls = self.loop.stats(max_age_s=1.0)
        return {
            "state": ctl.state.value,
            "state_since_s": round((now - ctl.machine.since_ns) / 1e9, 3)
            if ctl.machine.since_ns else None,
            "foot_load_kg": round(ctl.foot_kg, 3),
            "bar_load_kg": round(est.bar_kg, 3),
            "therapist_weight_kg": ctl.therapist_kg,
            "limit_kg": ctl.limit_kg,
            "session_id": stats.session_id if stats else None,
            "mounts": mounts,
            "outputs": {
                "green": self.last_commands.green, "amber": self.last_commands.amber,
                "red": self.last_commands.red, "buzzer_hz": self.last_commands.buzzer_hz,
                "haptic": self.last_commands.haptic, "faults": self.outputs.faults,
                "devices": self.outputs.status(),
            },
            "loop": {
                "rate_hz": ls["rate_hz"], "jitter_p99_ms": ls["jitter_p99_ms"],
                "overruns": ls["overruns"], "compute_p99_us": ls["compute_p99_us"],
                "sched_fifo": ls["sched_fifo"], "fault": ls["loop_fault"],
            },
        }
