"""What each warning state looks, sounds and feels like (DESIGN section 6 table).

Pure: ``commands(state, since_ns, now_ns)`` gives the exact LED, buzzer and
haptic values for this instant, timed from the state's entry. The loop drives
the pins from it every tick, so blink and beep timing is exact and testable and
no gpiozero background blink thread is ever involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from rigctl.core.warning import State

INF = float("inf")


@dataclass(frozen=True)
class Track:
    """A value over time: segments (start_ms, end_ms, value) repeating every period_ms.

    ``period_ms == 0`` means no repeat: the segments are timed from state entry.
    """

    period_ms: float
    segments: tuple[tuple[float, float, float], ...]

    def value(self, t_ms: float) -> float:
        if self.period_ms:
            t_ms %= self.period_ms
        for start, end, v in self.segments:
            if start <= t_ms < end:
                return v
        return 0.0


OFF = Track(0, ())
ON = Track(0, ((0, INF, 1.0),))


def blink(hz: float, duty: float = 0.5, phase: float = 0.0, value: float = 1.0) -> Track:
    period = 1000.0 / hz
    start = phase * period
    end = start + duty * period
    if end <= period:
        return Track(period, ((start, end, value),))
    return Track(period, ((start, period, value), (0, end - period, value)))


class Commands(NamedTuple):
    green: bool
    amber: bool
    red: bool
    buzzer_hz: float  # 0 = silent; an active buzzer sounds whenever > 0
    haptic: float  # motor intensity 0..1
    haptic_pattern: str  # for drivers that play named effects (DRV2605L)


@dataclass(frozen=True)
class StatePattern:
    green: Track
    amber: Track
    red: Track
    buzzer_hz: Track
    haptic: Track
    haptic_pattern: str


BUZZ_HZ = 2700.0  # near a piezo's resonance: loudest for the least drive

PATTERNS: dict[State, StatePattern] = {
    State.IDLE: StatePattern(
        green=Track(2000, ((0, 500, 1.0),)), amber=OFF, red=OFF,
        buzzer_hz=OFF, haptic=OFF, haptic_pattern="none"),
    State.OK: StatePattern(
        green=ON, amber=OFF, red=OFF, buzzer_hz=OFF, haptic=OFF, haptic_pattern="none"),
    State.CAUTION: StatePattern(
        green=ON, amber=ON, red=OFF, buzzer_hz=OFF,
        haptic=Track(0, ((0, 150, 0.6),)), haptic_pattern="short_pulse"),
    State.OVER: StatePattern(
        green=ON, amber=OFF, red=ON, buzzer_hz=Track(0, ((0, INF, BUZZ_HZ),)),
        haptic=ON, haptic_pattern="continuous_strong"),
    State.EASE: StatePattern(
        green=ON, amber=blink(2), red=OFF,
        buzzer_hz=Track(500, ((0, 80, 1500.0), (80, 160, 2200.0))),
        haptic=Track(1000, ((0, 100, 0.8), (200, 300, 0.8))), haptic_pattern="double_pulse"),
    State.OVERLOAD: StatePattern(
        green=OFF, amber=blink(4), red=blink(4),
        buzzer_hz=Track(125, ((0, 60, BUZZ_HZ),)),
        haptic=blink(2, 0.4, value=1.0), haptic_pattern="pulses"),
    State.FAULT: StatePattern(
        green=OFF, amber=blink(4), red=blink(4, phase=0.5),
        buzzer_hz=Track(1000 / 3, ((0, 120, BUZZ_HZ),)),
        haptic=Track(1500, ((0, 100, 1.0), (200, 300, 1.0), (400, 900, 1.0))),
        haptic_pattern="fault"),
}

ALL_OFF = Commands(False, False, False, 0.0, 0.0, "none")


def commands(state: State, since_ns: int, now_ns: int) -> Commands:
    p = PATTERNS[state]
    t_ms = (now_ns - since_ns) / 1e6
    return Commands(
        p.green.value(t_ms) > 0.5,
        p.amber.value(t_ms) > 0.5,
        p.red.value(t_ms) > 0.5,
        p.buzzer_hz.value(t_ms),
        p.haptic.value(t_ms),
        p.haptic_pattern,
    )
