"""Microsecond histograms for the loop: fixed 1 us bins, no allocation per record."""

from __future__ import annotations

from array import array


class MicrosHistogram:
    """Counts of values in 1 us bins up to ``max_us``; larger values land in the last bin.

    Recording is an index and an increment, cheap enough for every tick;
    percentiles are computed only when someone asks.
    """

    def __init__(self, max_us: int = 20_000) -> None:
        self.max_us = max_us
        self.bins = array("q", bytes(8 * (max_us + 1)))
        self.count = 0
        self.total_us = 0
        self.max = 0

    def record(self, us: int) -> None:
        if us < 0:
            us = 0
        self.bins[us if us < self.max_us else self.max_us] += 1
        self.count += 1
        self.total_us += us
        if us > self.max:
            self.max = us

    def percentile(self, p: float) -> int:
        """Smallest value v with at least p % of the records <= v (0 when empty)."""
        if self.count == 0:
            return 0
        need = max(1, -(-self.count * p // 100))
        seen = 0
        for us, c in enumerate(self.bins):
            seen += c
            if seen >= need:
                return us
        return self.max_us

    def buckets(self, edges_us: list[int]) -> list[int]:
        """Cumulative counts at each edge (Prometheus ``le`` buckets)."""
        out = []
        seen = 0
        j = 0
        for edge in edges_us:
            top = min(edge, self.max_us)
            while j <= top:
                seen += self.bins[j]
                j += 1
            out.append(seen)
        return out

    def reset(self) -> None:
        self.bins = array("q", bytes(8 * (self.max_us + 1)))
        self.count = 0
        self.total_us = 0
        self.max = 0
