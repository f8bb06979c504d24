"""Comfort-button presses in SQLite: the schema-2 migration and the per-client history."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rigctl.storage import Database
from rigctl.storage.migrations import MIGRATIONS


def summary(*presses: tuple[float, float, float]) -> dict[str, Any]:
    return {"duration_s": 60.0, "peak_foot_load_kg": 30.0, "time_over_limit_s": 0.0,
            "counts": {"ok": 1, "ease": len(presses)}, "transitions": [],
            "ease_events": [{"t_s": t, "foot_load_kg": f, "peak_2s_kg": p}
                            for t, f, p in presses]}


def test_a_version_1_database_migrates_and_keeps_its_records(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "rigctl.db")
    for stmt in MIGRATIONS[0]:
        raw.execute(stmt)
    raw.execute("INSERT INTO clients(display_name, foot_load_limit_kg, cleared, notes, "
                "created_at, updated_at) VALUES ('old', 40, 1, '', 't', 't')")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    db = Database.in_state_dir(tmp_path)
    assert db.schema_version == len(MIGRATIONS) >= 2
    [client] = db.list_clients()
    db.insert_active_session("s1", client["id"], None, 70.0, 40.0, "2026-11-01T10:00:00", "t",
                             ["m1"])
    db.finish_session("s1", summary((12.5, 31.0, 33.0)), [], "t")
    assert db.session_ease_events("s1") == [{"t_s": 12.5, "foot_load_kg": 31.0,
                                             "peak_2s_kg": 33.0}]
    assert db.integrity_check() == "ok"


def test_the_client_history_has_finished_sessions_of_that_client_newest_first(
        tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path)
    a = db.create_client("t", "A", 40.0, True)["id"]
    b = db.create_client("t", "B", 40.0, True)["id"]
    for sid, client, day, presses in (("a1", a, 1, [(5.0, 30.0, 31.0), (9.0, 32.0, 32.5)]),
                                      ("b1", b, 2, [(3.0, 20.0, 21.0)]),
                                      ("a2", a, 3, [(7.0, 34.0, 35.0)])):
        db.insert_active_session(sid, client, None, 70.0, 40.0, f"2026-11-0{day}T10:00:00",
                                 "t", ["m1"])
        db.finish_session(sid, summary(*presses), [], "t")
    db.insert_active_session("a3", a, None, 70.0, 40.0, "2026-11-04T10:00:00", "t", ["m1"])
    hist = db.client_ease_events(a)
    assert [(h["session_id"], h["t_s"], h["foot_load_kg"]) for h in hist] == [
        ("a2", 7.0, 34.0), ("a1", 5.0, 30.0), ("a1", 9.0, 32.0)]  # a3 is still running
    assert hist[0]["started_at"] == "2026-11-03T10:00:00" and hist[0]["limit_kg"] == 40.0


def test_a_failing_import_stores_no_press(tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path)
    db.insert_active_session("s1", None, None, 70.0, 40.0, "t0", "t", ["m1"])

    def rows():  # type: ignore[no-untyped-def]
        yield (0.0, "ok", 1.0, 69.0, "69.0")
        raise OSError("disk gone")

    with pytest.raises(OSError):
        db.finish_session("s1", summary((1.0, 20.0, 20.0)), rows(), "t")
    assert db.session_ease_events("s1") == []
    assert db.get_session("s1")["status"] == "active"
