"""The core's record of the active session, kept so a core restart resumes warning at once.

One small JSON file in the state directory, written the way calibration is:
temp file, fsync, rename, fsync of the directory. A reader therefore sees the
old file or the new one, never half of either, even after kill -9 or a power
cut. The file exists exactly while a session is active.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "active_session.json"
VERSION = 1


def boot_id() -> str:
    """Kernel boot id: monotonic timestamps only compare within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@dataclass
class ActiveSession:
    """What the core needs to resume a session: limit, therapist weight, id, start time.

    ``stats`` is a checkpoint of the running summary (peak, time over limit,
    state counts, transitions) so a summary spans a core restart.
    """

    session_id: str
    limit_kg: float
    therapist_kg: float
    start_mono_ns: int
    start_wall: float
    client_id: int | None = None
    boot_id: str = field(default_factory=boot_id)
    stats: dict[str, Any] = field(default_factory=dict)

    def resume_start_ns(self, now_mono_ns: int, now_wall: float | None = None) -> int:
        """The session's start on this boot's monotonic clock.

        Same boot: the stored monotonic start (exact). After a reboot the
        monotonic clock restarted, so the start is derived from wall time.
        """
        if self.boot_id == boot_id():
            return self.start_mono_ns
        wall = time.time() if now_wall is None else now_wall
        return now_mono_ns - int(max(wall - self.start_wall, 0.0) * 1e9)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see all of it or none (temp, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SessionStateFile:
    """The active-session file in a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / STATE_FILE

    def save(self, s: ActiveSession) -> None:
        doc = {"version": VERSION, **asdict(s)}
        atomic_write(self.path, json.dumps(doc, sort_keys=True).encode())

    def load(self) -> ActiveSession | None:
        """The saved session, or None when there is none.

        A file that cannot be parsed raises ``ValueError``: the core must not
        silently start unarmed when it was told a session is active.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
            if doc.get("version") != VERSION:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            return ActiveSession(
                session_id=str(doc["session_id"]),
                limit_kg=float(doc["limit_kg"]),
                therapist_kg=float(doc["therapist_kg"]),
                start_mono_ns=int(doc["start_mono_ns"]),
                start_wall=float(doc["start_wall"]),
                client_id=None if doc.get("client_id") is None else int(doc["client_id"]),
                boot_id=str(doc.get("boot_id", "unknown")),
                stats=dict(doc.get("stats") or {}),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{self.path}: unreadable active-session file: {e}") from None

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.path.parent)
