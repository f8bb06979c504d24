"""One control tick: samples -> estimate -> warning state -> output commands.

Shared, unchanged, by the live loop (``rigctl.core.loop``) and by
``rigctl replay``: there is one implementation of the physics and the rules.
Still pure: time comes in as an argument and results are attributes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rigctl.config import Config
from rigctl.core.estimator import Estimator, EstimatorSettings
from rigctl.core.patterns import ALL_OFF, Commands, commands
from rigctl.core.warning import State, WarningMachine, WarningSettings
from rigctl.sampling.slots import Sample


@dataclass(frozen=True)
class Transition:
    t_ns: int
    state: State
    foot_kg: float


def estimator_settings(cfg: Config) -> EstimatorSettings:
    s = cfg.sampling
    return EstimatorSettings(
        stale_after_ns=int(s.stale_after_ms * 1e6),
        implausible_below_kg=s.implausible_below_kg,
        stuck_after_ns=int(s.stuck_after_s * 1e9),
        saturated_fault_after=s.saturated_fault_after,
    )


def warning_settings(cfg: Config) -> WarningSettings:
    w = cfg.warning
    tick_ns = cfg.tick_ns
    return WarningSettings(
        caution_fraction=w.caution_fraction,
        predict_horizon_ns=int(w.predict_horizon_ms * 1e6),
        rate_window_ticks=max(1, round(w.rate_window_ms * 1e6 / tick_ns)),
        tick_ns=tick_ns,
        over_dwell_ns=int(w.over_dwell_ms * 1e6),
        over_immediate_fraction=w.over_immediate_fraction,
        clear_ns=int(w.clear_ms * 1e6),
        hysteresis_fraction=w.hysteresis_fraction,
        hysteresis_min_kg=w.hysteresis_min_kg,
        overload_fraction=w.overload_fraction,
        fault_clear_ns=int(w.fault_clear_ms * 1e6),
    )


@dataclass(frozen=True)
class EaseEvent:
    """The client pressed the comfort button: when, and what the feet were doing."""

    t_ns: int
    foot_kg: float
    peak_before_kg: float  # highest foot load of the window before the press


@dataclass
class SessionStats:
    """Running summary of one session, updated every tick."""

    session_id: str | None
    start_ns: int
    limit_kg: float
    therapist_kg: float
    peak_foot_kg: float = 0.0
    over_limit_ns: int = 0
    entries: dict[str, int] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    ease_events: list[EaseEvent] = field(default_factory=list)
    last_ns: int | None = None

    def tick(self, now_ns: int, foot_kg: float) -> None:
        if self.last_ns is not None and foot_kg >= self.limit_kg:
            self.over_limit_ns += now_ns - self.last_ns
        self.last_ns = now_ns
        if foot_kg > self.peak_foot_kg:
            self.peak_foot_kg = foot_kg

    def record(self, tr: Transition) -> None:
        self.transitions.append(tr)
        self.entries[tr.state.value] = self.entries.get(tr.state.value, 0) + 1

    def summary(self, end_ns: int | None = None) -> dict[str, Any]:
        end = end_ns if end_ns is not None else (self.last_ns or self.start_ns)
        return {
            "session_id": self.session_id,
            "duration_s": round((end - self.start_ns) / 1e9, 3),
            "limit_kg": self.limit_kg,
            "therapist_weight_kg": self.therapist_kg,
            "peak_foot_load_kg": round(self.peak_foot_kg, 3),
            "time_over_limit_s": round(self.over_limit_ns / 1e9, 3),
            "counts": dict(self.entries),
            "transitions": [
                {"t_s": round((t.t_ns - self.start_ns) / 1e9, 3), "state": t.state.value,
                 "foot_load_kg": round(t.foot_kg, 3)}
                for t in self.transitions
            ],
            "ease_events": [
                {"t_s": round((e.t_ns - self.start_ns) / 1e9, 3),
                 "foot_load_kg": round(e.foot_kg, 3),
                 "peak_2s_kg": round(e.peak_before_kg, 3)}
                for e in self.ease_events
            ],
        }


class Controller:
    """Estimator + warning machine + session, ticked by a shell that owns the clock."""

    def __init__(self, cfg: Config, offsets: Sequence[float] | None = None,
                 scales: Sequence[float] | None = None) -> None:
        mounts = list(cfg.mounts.values())
        self.config = cfg
        self.mount_names = cfg.mount_names
        self.estimator = Estimator(
            cfg.mount_names,
            offsets if offsets is not None else [m.offset for m in mounts],
            scales if scales is not None else [m.scale for m in mounts],
            estimator_settings(cfg),
        )
        self.machine = WarningMachine(warning_settings(cfg), [m.capacity_kg for m in mounts])
        self._set_ease_rule(cfg)
        self.therapist_kg: float | None = None
        self.session: SessionStats | None = None
        self.foot_kg = 0.0
        self.loop_fault = False
        #: transitions not yet taken by the shell (printing, API, recording)
        self.transitions: deque[Transition] = deque(maxlen=1024)
        self._noted: State | None = State.IDLE
        self._ease: EaseEvent | None = None

    def _set_ease_rule(self, cfg: Config) -> None:
        w = cfg.warning
        self._ease_min_ns = int(w.ease_min_ms * 1e6)
        self._ease_keep = 1.0 - w.ease_drop_fraction
        #: foot load per tick over the ease peak window (ring), for the press record
        self._foot_ring = [0.0] * max(1, round(w.ease_peak_window_ms * 1e6 / cfg.tick_ns))
        self._ring_i = 0

    def reconfigure(self, cfg: Config) -> None:
        """New warning settings and mount capacities (rig settings changed); idle only."""
        if self.session is not None:
            raise RuntimeError("rig settings cannot change during a session")
        if cfg.mount_names != self.mount_names:
            raise ValueError("the mounts of a running rig cannot change")
        self.config = cfg
        self.machine = WarningMachine(warning_settings(cfg),
                                      [m.capacity_kg for m in cfg.mounts.values()])
        self._set_ease_rule(cfg)

    @property
    def state(self) -> State:
        return self.machine.state

    @property
    def limit_kg(self) -> float | None:
        return self.machine.limit_kg

    def start_session(self, limit_kg: float, therapist_kg: float, now_ns: int,
                      session_id: str | None = None) -> None:
        self.therapist_kg = float(therapist_kg)
        self.session = SessionStats(session_id, now_ns, float(limit_kg), float(therapist_kg))
        self._end_ease()
        self.machine.disarm(now_ns)
        self.machine.arm(limit_kg, now_ns)
        self._note_transition(now_ns)

    def set_limit(self, limit_kg: float, now_ns: int) -> None:
        if self.session is not None:
            self.session.limit_kg = float(limit_kg)
            self.machine.arm(limit_kg, now_ns)

    def stop_session(self, now_ns: int) -> dict[str, Any] | None:
        stats = self.session
        self.machine.disarm(now_ns)
        self._note_transition(now_ns)
        self.session = None
        self.therapist_kg = None
        self._end_ease()
        return stats.summary(now_ns) if stats is not None else None

    def tick(self, now_ns: int, samples: Sequence[Sample | None] | None = None) -> State:
        est = self.estimator
        if samples is not None:
            est.feed_latest(samples)
        est.evaluate(now_ns)
        w = self.therapist_kg
        foot = w - est.bar_kg if w is not None else 0.0
        self.foot_kg = foot = foot if foot > 0.0 else 0.0
        ring = self._foot_ring
        ring[self._ring_i] = foot
        self._ring_i = (self._ring_i + 1) % len(ring)
        ease = self._ease
        if (ease is not None and now_ns - ease.t_ns >= self._ease_min_ns
                and foot <= self._ease_keep * ease.foot_kg):
            self._end_ease()
        before = self.machine.state
        state = self.machine.step(now_ns, foot, est.safety_kg, est.faulted, self.loop_fault)
        if self.session is not None:
            self.session.tick(now_ns, foot)
        if state is not before:
            self._note_transition(now_ns)
        return state

    def press_ease(self, now_ns: int) -> EaseEvent | None:
        """The client's comfort button: ``ease`` at once, during a session only.

        Held until foot load has dropped by ``ease_drop_fraction`` from the
        press or ``ease_min_ms`` passed, whichever is later. Outside a session
        nothing changes and ``None`` is returned (the shell logs the press).
        """
        if self.session is None:
            return None
        ev = EaseEvent(now_ns, self.foot_kg, max(self._foot_ring))
        self.session.ease_events.append(ev)
        self._ease = ev
        self.machine.set_ease(True)
        self.machine.reevaluate(now_ns)
        self._note_transition(now_ns)
        return ev

    def _end_ease(self) -> None:
        self._ease = None
        self.machine.set_ease(False)

    def _note_transition(self, now_ns: int) -> None:
        state = self.machine.state
        if state is self._noted:
            return
        self._noted = state
        tr = Transition(now_ns, state, self.foot_kg)
        self.transitions.append(tr)
        if self.session is not None:
            self.session.record(tr)

    def commands(self, now_ns: int) -> Commands:
        return commands(self.machine.state, self.machine.since_ns, now_ns)


__all__ = ["ALL_OFF", "Controller", "SessionStats", "Transition"]
