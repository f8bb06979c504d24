"""Estimator: raw counts -> per-mount kg -> bar load, with per-mount fault detection.

Pure and deterministic: it sees only the samples fed to it and the times it is
told, never a clock or a pin, so the live loop and ``rigctl replay`` run the
very same code. It keeps per-mount state in flat lists and allocates nothing
per tick (the 200 Hz loop budget is tens of microseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Final

from rigctl.sampling.slots import Sample, SampleStatus

STALE: Final = "stale"
SATURATED: Final = "saturated"
IMPLAUSIBLE: Final = "implausible"
STUCK: Final = "stuck"
TIMING: Final = "timing"
READ_ERROR: Final = "read_error"
FAULT_KINDS: Final = (STALE, SATURATED, IMPLAUSIBLE, STUCK, TIMING, READ_ERROR)

_STATUS_COUNTER = {
    SampleStatus.SATURATED: SATURATED,
    SampleStatus.TIMING: TIMING,
    SampleStatus.ERROR: READ_ERROR,
}


@dataclass(frozen=True)
class EstimatorSettings:
    stale_after_ns: int
    implausible_below_kg: float = -2.0
    stuck_after_ns: int = 1_000_000_000
    saturated_fault_after: int = 2


def median3(a: float, b: float, c: float) -> float:
    return max(min(a, b), min(max(a, b), c))


class Estimator:
    """Per-mount calibration, median-of-3 spike rejection and fault flags.

    Feed new samples with :meth:`feed` (or :meth:`feed_latest` for a slot
    snapshot), then call :meth:`evaluate` once per tick. Results are plain
    attributes: ``mount_kg``, ``mount_fault`` (``None`` when healthy),
    ``bar_kg`` and ``faulted``.
    """

    def __init__(
        self,
        mount_names: Sequence[str],
        offsets: Sequence[float],
        scales: Sequence[float],
        settings: EstimatorSettings,
    ) -> None:
        n = len(mount_names)
        if not (len(offsets) == len(scales) == n):
            raise ValueError("one offset and one scale per mount")
        self.mount_names = tuple(mount_names)
        self.n = n
        self.settings = settings
        self.offsets = [float(o) for o in offsets]
        self.scales = [float(s) for s in scales]
        self.mount_kg = [0.0] * n
        #: load measured from the calibration's reference zero, which a session re-tare
        #: cannot move: the safety rules (mount capacity) use it (rigctl.calibration)
        self.safety_kg = [0.0] * n
        self.reference_offsets = list(self.offsets)
        self._safety_bias = [0.0] * n
        self.mount_fault: list[str | None] = [None] * n
        self.bar_kg = 0.0
        self.faulted = False
        self.fault_counts: list[dict[str, int]] = [dict.fromkeys(FAULT_KINDS, 0) for _ in range(n)]
        self.last_raw: list[float | None] = [None] * n
        self._last_seq = [0] * n
        self._win = [[0.0, 0.0, 0.0] for _ in range(n)]
        self._win_n = [0] * n
        self._win_i = [0] * n
        self._last_good_ns: list[int | None] = [None] * n
        self._sat_streak = [0] * n
        self._changed_ns = [0] * n
        self._started_ns: int | None = None

    def set_calibration(self, offsets: Sequence[float], scales: Sequence[float],
                        reference_offsets: Sequence[float] | None = None) -> None:
        """Swap calibration; the filters restart so no sample mixes two calibrations.

        ``offsets`` are the working zero (a re-tare); ``reference_offsets`` the
        committed calibration's zero that ``safety_kg`` is measured from.
        """
        ref = offsets if reference_offsets is None else reference_offsets
        if not (len(offsets) == len(scales) == len(ref) == self.n):
            raise ValueError("one offset and one scale per mount")
        self.offsets = [float(o) for o in offsets]
        self.scales = [float(s) for s in scales]
        self.reference_offsets = [float(r) for r in ref]
        self._safety_bias = [(o - r) / s for o, r, s in
                             zip(self.offsets, self.reference_offsets, self.scales, strict=True)]
        self._win_n = [0] * self.n

    def feed_latest(self, samples: Sequence[Sample | None]) -> None:
        """Feed whatever is new in a slot snapshot (one sample per mount)."""
        last_seq = self._last_seq
        for i in range(self.n):
            s = samples[i]
            if s is not None and s.seq != last_seq[i]:
                last_seq[i] = s.seq
                self.feed(i, s.t_ns, s.raw, s.status)

    def feed(self, i: int, t_ns: int, raw: float, status: int = SampleStatus.OK) -> None:
        if status == SampleStatus.OK and not isfinite(raw):
            # NaN/inf would make the bar load NaN and the foot load read as 0 (armed,
            # green, no warning): it is a read error, and the mount goes stale
            status = SampleStatus.ERROR
        if status != SampleStatus.OK:
            kind = _STATUS_COUNTER.get(SampleStatus(status), READ_ERROR)
            self.fault_counts[i][kind] += 1
            if status == SampleStatus.SATURATED:
                self._sat_streak[i] += 1
            return
        self._sat_streak[i] = 0
        self._last_good_ns[i] = t_ns
        if raw != self.last_raw[i]:
            self.last_raw[i] = raw
            self._changed_ns[i] = t_ns
        kg = (raw - self.offsets[i]) / self.scales[i]
        w = self._win[i]
        j = self._win_i[i]
        w[j] = kg
        self._win_i[i] = (j + 1) % 3
        k = self._win_n[i]
        if k < 3:
            k += 1
            self._win_n[i] = k
        if k == 3:
            self.mount_kg[i] = median3(w[0], w[1], w[2])
        elif k == 1:
            self.mount_kg[i] = kg
        # with two samples keep the first: a spike in the second is not trusted yet

    def evaluate(self, now_ns: int) -> None:
        if self._started_ns is None:
            self._started_ns = now_ns
        st = self.settings
        faulted = False
        bar = 0.0
        for i in range(self.n):
            last = self._last_good_ns[i]
            fault: str | None = None
            if self._sat_streak[i] >= st.saturated_fault_after:
                fault = SATURATED
            elif now_ns - (last if last is not None else self._started_ns) > st.stale_after_ns:
                fault = STALE
            elif self.mount_kg[i] < st.implausible_below_kg:
                fault = IMPLAUSIBLE
            elif now_ns - self._changed_ns[i] >= st.stuck_after_ns and self._is_stuck(i, now_ns):
                fault = STUCK
            prev = self.mount_fault[i]
            if fault is not prev:
                if fault is not None and fault is not SATURATED:
                    self.fault_counts[i][fault] += 1
                self.mount_fault[i] = fault
            if fault is not None:
                faulted = True
            bar += self.mount_kg[i]
            self.safety_kg[i] = self.mount_kg[i] + self._safety_bias[i]
        self.bar_kg = bar
        self.faulted = faulted

    def _is_stuck(self, i: int, now_ns: int) -> bool:
        limit = self.settings.stuck_after_ns
        changed = self._changed_ns
        if self.last_raw[i] is None or now_ns - changed[i] < limit:
            return False
        return any(j != i and now_ns - changed[j] < limit and self.last_raw[j] is not None
                   for j in range(self.n))
