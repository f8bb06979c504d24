"""Samples and the latest-sample slots between sampler threads and the loop.

A sampler thread (one per amplifier) publishes each new sample by replacing a
single reference; the loop reads that reference. Replacing and reading one
attribute is atomic in CPython, so no lock is ever held across I/O and a read
never blocks the 200 Hz tick.
"""

from __future__ import annotations

import abc
from enum import IntEnum
from typing import NamedTuple

# HX711 output codes at the ends of its range (two's complement, 24 bit).
SAT_HIGH = 0x7FFFFF
SAT_LOW = -0x800000


class SampleStatus(IntEnum):
    OK = 0
    SATURATED = 1  # 0x7FFFFF / 0x800000: the cell or amp is out of range
    TIMING = 2  # PD_SCK was high > 60 us: the code is garbage, counted, never used
    ERROR = 3  # the driver could not read (I/O error); counted


class Sample(NamedTuple):
    """One conversion of one mount: ``seq`` increases by one per new sample."""

    seq: int
    t_ns: int  # time.monotonic_ns() when the conversion was read
    raw: int  # signed 24-bit counts (or the raw value of the IIO channel)
    status: SampleStatus = SampleStatus.OK


class LatestSlot:
    """Holds the newest sample of one mount plus counters the sampler keeps."""

    __slots__ = ("counts", "sample")

    def __init__(self) -> None:
        self.sample: Sample | None = None
        self.counts: dict[str, int] = {}

    def publish(self, t_ns: int, raw: int, status: SampleStatus = SampleStatus.OK) -> None:
        prev = self.sample
        seq = 1 if prev is None else prev.seq + 1
        self.sample = Sample(seq, t_ns, raw, status)

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


class SampleSource(abc.ABC):
    """A rig backend: gives the loop the newest sample per mount (python-can's Bus idea).

    ``poll`` must never block: it returns what the samplers last published.
    Backends that simulate time (the sim rig) use ``now_ns`` to produce the
    samples that are due; hardware backends ignore it.
    """

    mount_names: tuple[str, ...]

    @abc.abstractmethod
    def poll(self, now_ns: int) -> list[Sample | None]:
        """Newest sample per mount, in ``mount_names`` order."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Start sampler threads (hardware backends)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop sampler threads and release pins."""

    def counters(self) -> dict[str, dict[str, int]]:
        """Per mount driver-level counters (timing violations, read errors)."""
        return {}
