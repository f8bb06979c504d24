"""The SQLite store: WAL, migrations, audit of every change, all-or-nothing writes, hashing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rigctl.storage import Conflict, Database, NotFound, hash_token
from rigctl.storage.db import read_trace_file
from rigctl.storage.migrations import SCHEMA_VERSION


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.in_state_dir(tmp_path)


def test_a_new_file_is_wal_at_the_latest_schema_and_reopening_keeps_it(tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path)
    db.create_client("t", "A", 40.0, True)
    db.close()
    raw = sqlite3.connect(tmp_path / "rigctl.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    again = Database.in_state_dir(tmp_path)
    assert [c["display_name"] for c in again.list_clients()] == ["A"]
    assert again.integrity_check() == "ok"


def test_a_database_from_a_newer_rigctl_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "rigctl.db")
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(RuntimeError, match="newer"):
        Database.in_state_dir(tmp_path)


def test_every_limit_and_clearance_change_is_audited_with_old_and_new(db: Database) -> None:
    c = db.create_client("token 1 (ann, clinician)", "B", 40.0)
    db.update_client("token 2 (bob, clinician)", c["id"], {"foot_load_limit_kg": 35.0,
                                                            "cleared": True, "notes": "x"})
    db.update_client("token 2 (bob, clinician)", c["id"], {"notes": "only notes"})
    rows = db.list_audit(entity="client")
    changes = [(r["actor"], r["field"], r["old_value"], r["new_value"]) for r in rows]
    assert changes[:2] == [("token 2 (bob, clinician)", "cleared", "false", "true"),
                           ("token 2 (bob, clinician)", "foot_load_limit_kg", "40.0", "35.0")]
    assert len(rows) == 4  # two at creation, two changes; the notes are not audited


def test_a_failing_import_leaves_the_session_active_and_writes_nothing(db: Database) -> None:
    db.insert_active_session("s1", None, None, 70.0, 40.0, "2026-01-01T00:00:00Z", "t",
                             ["m1"])

    def rows():  # type: ignore[no-untyped-def]
        yield (0.0, "ok", 1.0, 69.0, "69.0")
        raise OSError("disk gone")

    summary = {"duration_s": 1.0, "peak_foot_load_kg": 1.0, "time_over_limit_s": 0.0,
               "counts": {"ok": 1}, "transitions": [{"t_s": 0.0, "state": "ok",
                                                    "foot_load_kg": 1.0}]}
    with pytest.raises(OSError):
        db.finish_session("s1", summary, rows(), "t")
    s = db.get_session("s1")
    assert s["status"] == "active" and s["duration_s"] is None
    assert db.session_transitions("s1") == []
    assert list(db.trace_csv("s1")) == ["t_s,state,foot_load_kg,bar_load_kg,m1\n"]


def test_only_one_session_can_be_active(db: Database) -> None:
    db.insert_active_session("s1", None, None, 70.0, 40.0, "t0", "t", [])
    with pytest.raises(Conflict):
        db.insert_active_session("s2", None, None, 70.0, 40.0, "t1", "t", [])


def test_a_client_in_the_active_session_cannot_be_deleted(db: Database) -> None:
    c = db.create_client("t", "C", 40.0, True)
    db.insert_active_session("s1", c["id"], None, 70.0, 40.0, "t0", "t", [])
    with pytest.raises(Conflict, match="active session"):
        db.delete_client("t", c["id"])
    db.finish_session("s1", {"counts": {}, "transitions": []}, [], "t")
    db.delete_client("t", c["id"])
    with pytest.raises(NotFound):
        db.get_client(c["id"])
    assert db.get_session("s1")["client_id"] is None  # the session stays, unlinked


def test_tokens_are_stored_hashed_and_revocation_is_immediate(tmp_path: Path) -> None:
    db = Database.in_state_dir(tmp_path)
    row, token = db.create_token("shell", "clinician", "front desk")
    who = db.verify_token(token)
    assert who is not None and (who.role, who.name) == ("clinician", "front desk")
    assert db.verify_token(token + "x") is None
    db.revoke_token("shell", row["id"])
    assert db.verify_token(token) is None
    db.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("rigctl"))
    assert token.encode() not in blob
    assert hash_token(token).encode() in blob


def test_a_trace_torn_by_a_crash_is_read_without_the_torn_row(tmp_path: Path) -> None:
    p = tmp_path / "trace.csv"
    p.write_text("t_s,state,foot_load_kg,bar_load_kg,m1,m2\n"
                 "0.020,ok,1.000,69.000,34.500,34.500\n"
                 "0.040,ok,1.000,69.0"  # killed mid-row, then the core restarted:
                 "\nt_s,state,foot_load_kg,bar_load_kg,m1,m2\n"
                 "0.060,over,45.000,25.000,12.500,12.500\n"
                 "0.080,over,45.000,25.000,12.500,12.5\n"  # torn, then a newline
                 "0.100,over,45.0")
    mounts, rows = read_trace_file(p)
    assert mounts == ["m1", "m2"]
    assert rows == [(0.02, "ok", 1.0, 69.0, "34.500;34.500"),
                    (0.06, "over", 45.0, 25.0, "12.500;12.500")]
