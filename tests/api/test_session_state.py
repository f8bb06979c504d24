"""The core's active-session file: all or nothing on disk, and a start time that survives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rigctl.core import session_state
from rigctl.core.session_state import ActiveSession, SessionStateFile


def test_saved_session_reads_back_and_clear_removes_it(tmp_path: Path) -> None:
    f = SessionStateFile(tmp_path)
    assert f.load() is None
    s = ActiveSession("abc", 40.0, 70.0, 123_000, 1_700_000_000.5, client_id=7,
                      stats={"peak_foot_kg": 41.0})
    f.save(s)
    assert f.load() == s
    f.clear()
    assert f.load() is None
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    f = SessionStateFile(tmp_path)
    f.save(ActiveSession("first", 40.0, 70.0, 1, 1.0))

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        f.save(ActiveSession("second", 50.0, 80.0, 2, 2.0))
    monkeypatch.undo()
    loaded = f.load()
    assert loaded is not None and loaded.session_id == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["active_session.json"]


def test_an_unreadable_file_is_an_error_not_a_silent_unarmed_start(tmp_path: Path) -> None:
    (tmp_path / "active_session.json").write_text('{"version": 1, "session_id": ')
    with pytest.raises(ValueError, match="unreadable active-session file"):
        SessionStateFile(tmp_path).load()


def test_the_start_time_is_kept_on_the_same_boot_and_derived_from_wall_time_after_reboot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = ActiveSession("x", 40.0, 70.0, start_mono_ns=5_000_000_000, start_wall=1000.0,
                      boot_id="boot-a")
    monkeypatch.setattr(session_state, "boot_id", lambda: "boot-a")
    assert s.resume_start_ns(now_mono_ns=9_000_000_000, now_wall=1004.0) == 5_000_000_000
    monkeypatch.setattr(session_state, "boot_id", lambda: "boot-b")
    # rebooted: 30 s of wall time since the start, the monotonic clock restarted at 0
    assert s.resume_start_ns(now_mono_ns=2_000_000_000, now_wall=1030.0) == -28_000_000_000
