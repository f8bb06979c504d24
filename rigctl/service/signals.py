"""SIGTERM / SIGINT as a stop request whose handler takes no lock.

A Python signal handler runs in the main thread between two bytecodes, also
while that thread holds a lock. ``threading.Event.set`` takes the event's
internal (non-reentrant) lock, so a handler calling it deadlocks the process
when the signal lands while the main thread is inside ``Event.wait`` on that
same event: seen as a ``rigctl core`` that ignored SIGTERM, every thread
waiting and its socket still there, until kill -9. Here the handler only
records the signal and writes one byte to a non-blocking pipe; the main
thread sleeps in ``select`` on that pipe, which the byte wakes at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Iterable
from types import FrameType
from typing import Any


class StopSignals:
    """Turns the given signals into a stop request for the main thread to wait on."""

    def __init__(self, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.signals = tuple(signals)
        #: the first signal received, ``None`` until then
        self.received: int | None = None
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._previous: dict[int, Any] = {}

    def install(self) -> StopSignals:
        """Set the handlers (main thread only, as Python requires)."""
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # No locks, no logging, no print: only an attribute and a pipe write.
        if self.received is None:
            self.received = signum
        with contextlib.suppress(OSError):  # a full pipe is already readable
            os.write(self._w, b"\0")

    def is_set(self) -> bool:
        return self.received is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a signal came (True) or ``timeout`` seconds passed (False)."""
        if self.received is None:
            select.select([self._r], [], [], timeout)
        return self.received is not None

    def close(self) -> None:
        """Put the previous handlers back and close the pipe."""
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)
