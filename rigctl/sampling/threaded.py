"""The shell every hardware backend shares: one sampler thread per mount, each owning a slot.

The backends differ only in how a thread gets a conversion (bit-banged GPIO,
kernel sysfs); starting, stopping and reading their slots is the same, so it
lives here once.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Sequence

from rigctl.sampling.slots import LatestSlot, Sample, SampleSource


class SamplerThread(abc.ABC):
    """A daemon thread that owns one amplifier and publishes into its slot.

    ``_run`` loops until ``_stop`` is set; ``stop`` only asks, ``join`` waits,
    so a source can ask all of its threads at once and then wait for each.
    """

    def __init__(self, name: str, slot: LatestSlot, thread_name: str) -> None:
        self.name = name
        self.slot = slot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    @abc.abstractmethod
    def _run(self) -> None:
        """Read conversions and publish them until ``_stop`` is set."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)


class ThreadedSource(SampleSource):
    """A backend whose mounts are read by :class:`SamplerThread` s into ``slots``.

    ``poll`` only reads the slots' latest references: it never blocks the loop.
    """

    slots: list[LatestSlot]
    samplers: Sequence[SamplerThread]

    def start(self) -> None:
        for s in self.samplers:
            s.start()

    def stop(self) -> None:
        for s in self.samplers:
            s.stop()
        for s in self.samplers:
            s.join(1.0)

    def poll(self, now_ns: int) -> list[Sample | None]:
        return [s.sample for s in self.slots]

    def counters(self) -> dict[str, dict[str, int]]:
        return {n: dict(s.counts) for n, s in zip(self.mount_names, self.slots, strict=True)}
