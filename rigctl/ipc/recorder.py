"""The session trace, recorded by the core so an API crash loses nothing.

The loop thread's only part is an O(1) ``on_tick`` hook that appends one tuple
to a bounded ring every ``every`` ticks (50 Hz at 200 Hz loop rate). A writer
thread drains the ring every 100 ms into ``sessions/<id>/trace.csv`` in the
state directory (a ``write`` that returned survives kill -9 of either process)
and fsyncs it once a second (bounded loss on a power cut). The API imports the
file into SQLite when the session stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rigctl.core.runtime import Core

log = logging.getLogger(__name__)

SESSIONS_DIR = "sessions"
TRACE_FILE = "trace.csv"
SUMMARY_FILE = "summary.json"
TRACE_HZ = 50
DRAIN_S = 0.1
FSYNC_EVERY_S = 1.0

Row = tuple[str, int, str, float, float, tuple[float, ...]]


def session_dir(state_dir: Path, session_id: str) -> Path:
    return Path(state_dir) / SESSIONS_DIR / session_id


class TraceRecorder:
    def __init__(self, core: Core, state_dir: Path, hz: int = TRACE_HZ,
                 on_drain: Callable[[], None] | None = None) -> None:
        self.core = core
        self.state_dir = Path(state_dir)
        self.every = max(1, core.config.loop.rate_hz // hz)
        self.mount_names = core.config.mount_names
        self._ring: deque[Row] = deque(maxlen=60 * hz)  # a minute of slack for a slow disk
        self._n = 0
        self._lock = threading.Lock()
        self._files: dict[str, IO[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigctl-trace", daemon=True)
        self._on_drain = on_drain
        self.rows_written = 0
        self.dropped = 0
        core.on_tick(self._on_tick)

    # -- loop thread: O(1), no I/O -------------------------------------------------
    def _on_tick(self, now_ns: int) -> None:
        self._n += 1
        if self._n % self.every:
            return
        ctl = self.core.controller
        s = ctl.session
        if s is None or s.session_id is None:
            return
        est = ctl.estimator
        if len(self._ring) == self._ring.maxlen:
            self.dropped += 1
        self._ring.append((s.session_id, now_ns - s.start_ns, ctl.state.value, ctl.foot_kg,
                           est.bar_kg, tuple(est.mount_kg)))

    # -- writer thread ---------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # not started when the core stopped during start-up
            self._thread.join(2.0)
        with self._lock:
            self._drain()
            for f in self._files.values():
                with contextlib.suppress(OSError):
                    f.flush()
                    os.fsync(f.fileno())
                    f.close()
            self._files.clear()

    def _run(self) -> None:
        since_sync = 0.0
        while not self._stop.wait(DRAIN_S):
            with self._lock:
                try:
                    self._drain()
                    since_sync += DRAIN_S
                    if since_sync >= FSYNC_EVERY_S:
                        since_sync = 0.0
                        for f in self._files.values():
                            os.fsync(f.fileno())
                except OSError:
                    log.exception("trace: write failed (disk full?); the loop keeps warning")
            if self._on_drain is not None:
                try:
                    self._on_drain()
                except Exception:
                    log.exception("trace: checkpoint failed")

    def _file(self, session_id: str) -> IO[str]:
        f = self._files.get(session_id)
        if f is None:
            d = session_dir(self.state_dir, session_id)
            d.mkdir(parents=True, exist_ok=True)
            path = d / TRACE_FILE
            reopened = path.exists() and path.stat().st_size > 0
            f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the session
            if reopened:
                f.write("\n")  # a row torn by a crash must not glue onto the next one
            # a header on every (re)open; the importer skips repeats and blank lines
            f.write(",".join(["t_s", "state", "foot_load_kg", "bar_load_kg",
                              *self.mount_names]) + "\n")
            self._files[session_id] = f
        return f

    def _drain(self) -> None:
        ring = self._ring
        touched: set[str] = set()
        while ring:
            sid, t_ns, state, foot, bar, mounts = ring.popleft()
            f = self._file(sid)
            f.write(f"{t_ns / 1e9:.3f},{state},{foot:.3f},{bar:.3f},"
                    + ",".join(f"{m:.3f}" for m in mounts) + "\n")
            touched.add(sid)
            self.rows_written += 1
        for sid in touched:
            self._files[sid].flush()

    def finish(self, session_id: str) -> Path:
        """Write out and close a stopped session's trace (called before its summary)."""
        with self._lock:
            self._drain()
            f = self._files.pop(session_id, None)
            if f is not None:
                f.flush()
                os.fsync(f.fileno())
                f.close()
        return session_dir(self.state_dir, session_id) / TRACE_FILE
