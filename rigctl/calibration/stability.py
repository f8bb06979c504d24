"""Is a reading still? Window statistics over timestamped values (pure).

Tare, calibration points, verification and the therapist weigh-in all ask
the same question, "has this reading been steady for the last W seconds?",
so they share one answer. A single HX711 spike is removed with the same
median-of-3 the live estimator uses, so it cannot fail a window on its own
(a swinging weight still does: that is many samples, not one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rigctl.core.estimator import median3


def median3_filter(xs: Sequence[float]) -> list[float]:
    """Running median of 3 (the first two values pass through), like the estimator's."""
    out: list[float] = []
    for i, x in enumerate(xs):
        out.append(x if i < 2 else median3(xs[i - 2], xs[i - 1], x))
    return out


def dedupe(ts: Sequence[int], xs: Sequence[float | None]) -> tuple[list[int], list[float]]:
    """One value per new sample: drop ticks that repeat the previous value, and gaps.

    The recorder samples the newest reading once per loop tick (200 Hz) while
    the amplifier converts at 80 SPS, so most readings appear two or three
    times in a row.
    """
    out_t: list[int] = []
    out_x: list[float] = []
    prev: float | None = None
    for t, x in zip(ts, xs, strict=True):
        if x is None or x == prev:
            continue
        prev = x
        out_t.append(t)
        out_x.append(x)
    return out_t, out_x


@dataclass(frozen=True)
class Window:
    start_ns: int
    end_ns: int
    n: int
    mean: float
    spread: float  # max - min of the filtered values

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def window_stats(ts: Sequence[int], xs: Sequence[float]) -> Window | None:
    """Mean and spread of already filtered values; None for an empty window."""
    if not xs:
        return None
    return Window(ts[0], ts[-1], len(xs), math.fsum(xs) / len(xs), max(xs) - min(xs))


def last_window(ts: Sequence[int], xs: Sequence[float], window_ns: int) -> Window | None:
    """Stats of the values in the last ``window_ns`` (None until that much time is covered)."""
    if not ts or ts[-1] - ts[0] < window_ns:
        return None
    end = ts[-1]
    lo = 0
    hi = len(ts)
    while lo < hi:  # first index inside the window
        mid = (lo + hi) // 2
        if ts[mid] < end - window_ns:
            lo = mid + 1
        else:
            hi = mid
    return window_stats(ts[lo:], xs[lo:])
