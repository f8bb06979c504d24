"""Warning state machine (DESIGN section 6): pure, driven by (time, loads, faults).

No clock, no I/O: every timer is a timestamp handed in by the caller, so a
replay over a trace gives the same transitions, to the tick, as the live loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"
    OK = "ok"
    CAUTION = "caution"
    EASE = "ease"
    OVER = "over"
    OVERLOAD = "overload"
    FAULT = "fault"

    def __str__(self) -> str:
        return self.value


#: When several apply the outputs follow the highest (DESIGN section 6).
PRIORITY: tuple[State, ...] = (
    State.FAULT, State.OVERLOAD, State.OVER, State.EASE, State.CAUTION, State.OK,
)


@dataclass(frozen=True)
class WarningSettings:
    caution_fraction: float = 0.80
    predict_horizon_ns: int = 150_000_000
    rate_window_ticks: int = 10
    tick_ns: int = 5_000_000
    over_dwell_ns: int = 50_000_000
    over_immediate_fraction: float = 1.20
    clear_ns: int = 300_000_000
    hysteresis_fraction: float = 0.05
    hysteresis_min_kg: float = 1.5
    overload_fraction: float = 0.80
    fault_clear_ns: int = 300_000_000

    def hysteresis_kg(self, limit_kg: float) -> float:
        return max(self.hysteresis_fraction * limit_kg, self.hysteresis_min_kg)


class WarningMachine:
    """Decides the warning state once per tick.

    Each alarm (caution, over, overload, fault) is a latch with its own raise
    rule and a clear rule of "below threshold minus hysteresis for clear time";
    the reported state is the highest latched alarm.
    """

    def __init__(self, settings: WarningSettings, capacities_kg: Sequence[float]) -> None:
        self.s = settings
        self.capacities_kg = tuple(float(c) for c in capacities_kg)
        self._overload_at = tuple(settings.overload_fraction * c for c in self.capacities_kg)
        self._overload_clear = tuple(
            a - settings.hysteresis_fraction * c
            for a, c in zip(self._overload_at, self.capacities_kg, strict=True)
        )
        self.limit_kg: float | None = None
        self.state = State.IDLE
        self.since_ns = 0
        self.rate_kg_s = 0.0
        self._hist = [0.0] * max(1, settings.rate_window_ticks)
        self._hist_i = 0
        self._hist_n = 0
        self._reset_latches()

    def _reset_latches(self) -> None:
        self.caution = self.over = self.overload = self.fault = self.ease = False
        self._above_since: int | None = None
        self._over_clear_since: int | None = None
        self._caution_clear_since: int | None = None
        self._overload_clear_since: int | None = None
        self._fault_clear_since: int | None = None

    @property
    def above_since_ns(self) -> int | None:
        """Tick at which foot load first reached the limit (the over dwell runs from it)."""
        return self._above_since

    # -- session -----------------------------------------------------------
    def arm(self, limit_kg: float, now_ns: int) -> None:
        """A session starts (or its limit changes): warnings follow this limit."""
        if self.limit_kg is None:
            self._reset_latches()
            # foot load jumps from 0 (no therapist known) to its real value as a
            # session starts: that step is not a rate of rise, so start afresh
            self._hist_n = 0
        self.limit_kg = float(limit_kg)
        self._settle(now_ns)

    def disarm(self, now_ns: int) -> None:
        self.limit_kg = None
        self._reset_latches()
        self._settle(now_ns)

    def set_ease(self, active: bool) -> None:
        self.ease = active

    def reevaluate(self, now_ns: int) -> State:
        """Settle the state now (after an input such as ease changed between ticks)."""
        return self._settle(now_ns)

    # -- tick ----------------------------------------------------------------
    def step(
        self,
        now_ns: int,
        foot_kg: float,
        mount_kg: Sequence[float],
        sensor_fault: bool,
        loop_fault: bool = False,
    ) -> State:
        s = self.s
        # Rate of rise over a fixed window of ticks (kg/s); 0 until the window
        # has filled since the session started.
        h = self._hist
        i = self._hist_i
        old = h[i]
        h[i] = foot_kg
        self._hist_i = (i + 1) % len(h)
        if self._hist_n < len(h):
            self._hist_n += 1
            self.rate_kg_s = 0.0
        else:
            self.rate_kg_s = (foot_kg - old) * 1e9 / (len(h) * s.tick_ns)

        limit = self.limit_kg
        if limit is None:
            return self._settle(now_ns)

        hyst = s.hysteresis_kg(limit)
        # over: held at/above the limit for the dwell, or at once far above it
        if foot_kg >= limit:
            if self._above_since is None:
                self._above_since = now_ns
            if (foot_kg >= s.over_immediate_fraction * limit
                    or now_ns - self._above_since >= s.over_dwell_ns):
                self.over = True
        else:
            self._above_since = None
        if self.over:
            self._over_clear_since, self.over = self._clear(
                foot_kg < limit - hyst, self._over_clear_since, now_ns, s.clear_ns)

        # caution: near the limit, or heading for it within the horizon
        caution_at = s.caution_fraction * limit
        predicted = foot_kg + max(self.rate_kg_s, 0.0) * s.predict_horizon_ns / 1e9
        if foot_kg >= caution_at or predicted >= limit:
            self.caution = True
            self._caution_clear_since = None
        elif self.caution:
            self._caution_clear_since, self.caution = self._clear(
                foot_kg < caution_at - hyst, self._caution_clear_since, now_ns, s.clear_ns)

        # overload: a mount near its rated capacity (ceiling safety)
        over_cap = False
        below_all = True
        at = self._overload_at
        clear_at = self._overload_clear
        for j in range(len(at)):
            m = mount_kg[j]
            if m >= at[j]:
                over_cap = True
            if m >= clear_at[j]:
                below_all = False
        if over_cap:
            self.overload = True
            self._overload_clear_since = None
        elif self.overload:
            self._overload_clear_since, self.overload = self._clear(
                below_all, self._overload_clear_since, now_ns, s.clear_ns)

        # fault: fail loud the moment a sensor or the loop is not trustworthy
        if sensor_fault or loop_fault:
            self.fault = True
            self._fault_clear_since = None
        elif self.fault:
            self._fault_clear_since, self.fault = self._clear(
                True, self._fault_clear_since, now_ns, s.fault_clear_ns)

        return self._settle(now_ns)

    @staticmethod
    def _clear(
        below: bool, since: int | None, now_ns: int, hold_ns: int
    ) -> tuple[int | None, bool]:
        """(new clear-since, still latched) for a latch that clears after ``hold_ns`` below."""
        if not below:
            return None, True
        if since is None:
            since = now_ns
        if now_ns - since >= hold_ns:
            return None, False
        return since, True

    def _settle(self, now_ns: int) -> State:
        if self.limit_kg is None:
            new = State.IDLE
        elif self.fault:
            new = State.FAULT
        elif self.overload:
            new = State.OVERLOAD
        elif self.over:
            new = State.OVER
        elif self.ease:
            new = State.EASE
        elif self.caution:
            new = State.CAUTION
        else:
            new = State.OK
        if new is not self.state:
            self.state = new
            self.since_ns = now_ns
        return new
