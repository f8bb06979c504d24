"""SQLite storage for the API process: clients, therapists, sessions, tokens, audit.

One connection in WAL mode with ``synchronous=FULL``: a write the API has
acknowledged is on disk (kill -9 or power cut). Each change and its audit rows
commit in one transaction, so nothing is half-written. Calls are short and
serialised by a lock; FastAPI runs them in its worker threads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigctl.storage.migrations import MIGRATIONS, SCHEMA_VERSION

DB_FILE = "rigctl.db"
_FIXED3 = re.compile(r"-?\d+\.\d{3}")
ROLES = ("viewer", "clinician", "installer", "admin")
TOKEN_PREFIX = "rig_"
#: how often a token's last_used_at is written (a write per request would cost an fsync)
LAST_USED_EVERY_S = 60.0


class NotFound(LookupError):
    """No such row; the message names what was looked for."""


class Conflict(RuntimeError):
    """The change contradicts the current state (409)."""


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a token's id, name and role (or the shell)."""

    token_id: int | None
    name: str
    role: str

    @property
    def actor(self) -> str:
        if self.token_id is None:
            return self.name
        return f"token {self.token_id} ({self.name}, {self.role})"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def hash_token(token: str) -> str:
    """SHA-256 of the token: tokens are 256-bit random, so a fast hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def _audit_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        c = self._conn
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode})")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=ON")
        c.execute("PRAGMA busy_timeout=10000")
        self.migrate()
        self._last_used: dict[int, float] = {}

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Database:
        return cls(Path(state_dir) / DB_FILE)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- plumbing ------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: all or nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every migration above the file's version, each in its own transaction."""
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: schema version {current} is newer than this "
                               f"rigctl knows ({SCHEMA_VERSION}); upgrade rigctl")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as c:
                for stmt in MIGRATIONS[version - 1]:
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version={version}")

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    @staticmethod
    def _audit(c: sqlite3.Connection, actor: str, action: str, entity: str,
               entity_id: Any, field: str | None = None, old: Any = None,
               new: Any = None) -> None:
        c.execute(
            "INSERT INTO audit(at, actor, action, entity, entity_id, field, old_value, "
            "new_value) VALUES (?,?,?,?,?,?,?,?)",
            (now_iso(), actor, action, entity, None if entity_id is None else str(entity_id),
             field, _audit_value(old), _audit_value(new)),
        )

    # -- clients -------------------------------------------------------------
    @staticmethod
    def _client(row: Mapping[str, Any]) -> dict[str, Any]:
        d = dict(row)
        d["cleared"] = bool(d["cleared"])
        return d

    def list_clients(self) -> list[dict[str, Any]]:
        return [self._client(r) for r in self._all("SELECT * FROM clients ORDER BY id")]

    def get_client(self, client_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM clients WHERE id=?", (client_id,))
        if row is None:
            raise NotFound(f"client {client_id} does not exist")
        return self._client(row)

    #: fields whose every change is audited (limits and clearance)
    CLIENT_AUDITED = ("foot_load_limit_kg", "cleared")

    def create_client(self, actor: str, display_name: str, foot_load_limit_kg: float,
                      cleared: bool = False, notes: str = "") -> dict[str, Any]:
        ts = now_iso()
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO clients(display_name, foot_load_limit_kg, cleared, notes, "
                "created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (display_name, foot_load_limit_kg, int(cleared), notes, ts, ts))
            cid = cur.lastrowid
            self._audit(c, actor, "create", "client", cid, "foot_load_limit_kg", None,
                        foot_load_limit_kg)
            self._audit(c, actor, "create", "client", cid, "cleared", None, cleared)
        return self.get_client(int(cid or 0))

    def update_client(self, actor: str, client_id: int,
                      changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply ``changes``; returns (old, new) so the caller can push a new limit."""
        allowed = {"display_name", "foot_load_limit_kg", "cleared", "notes"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown client field(s): {', '.join(sorted(unknown))}")
        with self.transaction() as c:
            row = c.execute("SELECT * FROM clients WHERE id=?", (client_id,)).fetchone()
            if row is None:
                raise NotFound(f"client {client_id} does not exist")
            old = self._client(row)
            if changes:
                cols = ", ".join(f"{k}=?" for k in changes)
                vals = [int(v) if k == "cleared" else v for k, v in changes.items()]
                c.execute(f"UPDATE clients SET {cols}, updated_at=? WHERE id=?",
                          (*vals, now_iso(), client_id))
                for k in self.CLIENT_AUDITED:
                    if k in changes and changes[k] != old[k]:
                        self._audit(c, actor, "update", "client", client_id, k, old[k],
                                    changes[k])
            new = self._client(c.execute("SELECT * FROM clients WHERE id=?",
                                         (client_id,)).fetchone())
        return old, new

    def delete_client(self, actor: str, client_id: int) -> None:
        with self.transaction() as c:
            row = c.execute("SELECT * FROM clients WHERE id=?", (client_id,)).fetchone()
            if row is None:
                raise NotFound(f"client {client_id} does not exist")
            active = c.execute("SELECT id FROM sessions WHERE client_id=? AND status='active'",
                               (client_id,)).fetchone()
            if active is not None:
                raise Conflict(f"client {client_id} has the active session {active[0]}; "
                               "stop it first")
            old = self._client(row)
            c.execute("DELETE FROM clients WHERE id=?", (client_id,))
            self._audit(c, actor, "delete", "client", client_id, "foot_load_limit_kg",
                        old["foot_load_limit_kg"], None)
            self._audit(c, actor, "delete", "client", client_id, "cleared", old["cleared"],
                        None)

    # -- therapists ----------------------------------------------------------
    def list_therapists(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM therapists ORDER BY id")

    def get_therapist(self, therapist_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM therapists WHERE id=?", (therapist_id,))
        if row is None:
            raise NotFound(f"therapist {therapist_id} does not exist")
        return row

    def create_therapist(self, actor: str, name: str, weight_kg: float) -> dict[str, Any]:
        ts = now_iso()
        with self.transaction() as c:
            cur = c.execute("INSERT INTO therapists(name, weight_kg, created_at, updated_at) "
                            "VALUES (?,?,?,?)", (name, weight_kg, ts, ts))
            tid = int(cur.lastrowid or 0)
            self._audit(c, actor, "create", "therapist", tid, "weight_kg", None, weight_kg)
        return self.get_therapist(tid)

    def set_therapist_weight(self, actor: str, therapist_id: int,
                             weight_kg: float) -> dict[str, Any]:
        with self.transaction() as c:
            row = c.execute("SELECT weight_kg FROM therapists WHERE id=?",
                            (therapist_id,)).fetchone()
            if row is None:
                raise NotFound(f"therapist {therapist_id} does not exist")
            c.execute("UPDATE therapists SET weight_kg=?, updated_at=? WHERE id=?",
                      (weight_kg, now_iso(), therapist_id))
            self._audit(c, actor, "weigh-in", "therapist", therapist_id, "weight_kg",
                        row[0], weight_kg)
        return self.get_therapist(therapist_id)

    # -- sessions ------------------------------------------------------------
    @staticmethod
    def _session(row: Mapping[str, Any]) -> dict[str, Any]:
        d = dict(row)
        d["mount_names"] = json.loads(d["mount_names"] or "[]")
        d["counts"] = json.loads(d["counts"]) if d.get("counts") else None
        return d

    def active_session(self) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM sessions WHERE status='active'")
        return self._session(row) if row is not None else None

    def get_session(self, session_id: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM sessions WHERE id=?", (session_id,))
        if row is None:
            raise NotFound(f"session {session_id} does not exist")
        return self._session(row)

    def list_sessions(self, limit: int = 100, offset: int = 0,
                      client_id: int | None = None) -> list[dict[str, Any]]:
        where = ""
        params: list[Any] = [limit, offset]
        if client_id is not None:
            where, params = "WHERE client_id=?", [client_id, limit, offset]
        rows = self._all(f"SELECT * FROM sessions {where} ORDER BY started_at DESC, id "
                         "LIMIT ? OFFSET ?", params)
        return [self._session(r) for r in rows]

    def session_transitions(self, session_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT t_s, state, foot_load_kg FROM session_transitions "
                         "WHERE session_id=? ORDER BY seq", (session_id,))

    def session_ease_events(self, session_id: str) -> list[dict[str, Any]]:
        """The comfort-button presses of a finished session, in order."""
        return self._all("SELECT t_s, foot_load_kg, peak_2s_kg FROM session_ease_events "
                         "WHERE session_id=? ORDER BY seq", (session_id,))

    def client_ease_events(self, client_id: int) -> list[dict[str, Any]]:
        """Every press in the client's finished sessions, with the session's id, start and
        limit; newest session first (the evidence for a learned comfort limit)."""
        return self._all(
            "SELECT s.id AS session_id, s.started_at, s.limit_kg, e.t_s, e.foot_load_kg, "
            "e.peak_2s_kg FROM session_ease_events e JOIN sessions s ON s.id = e.session_id "
            "WHERE s.client_id=? AND s.status != 'active' "
            "ORDER BY s.started_at DESC, s.id, e.seq", (client_id,))

    def insert_active_session(self, session_id: str, client_id: int | None,
                              therapist_id: int | None, therapist_kg: float, limit_kg: float,
                              started_at: str, started_by: str,
                              mount_names: Iterable[str]) -> dict[str, Any]:
        try:
            with self.transaction() as c:
                c.execute(
                    "INSERT INTO sessions(id, client_id, therapist_id, therapist_weight_kg, "
                    "limit_kg, status, started_at, started_by, mount_names) "
                    "VALUES (?,?,?,?,?,'active',?,?,?)",
                    (session_id, client_id, therapist_id, therapist_kg, limit_kg, started_at,
                     started_by, json.dumps(list(mount_names))))
        except sqlite3.IntegrityError as e:
            raise Conflict(f"a session is already active ({e})") from None
        return self.get_session(session_id)

    def finish_session(self, session_id: str, summary: Mapping[str, Any],
                       trace_rows: Iterable[tuple[float, str, float, float, str]],
                       stopped_by: str, status: str = "stopped") -> dict[str, Any]:
        """Store the summary, transitions and trace of a session in one transaction."""
        with self.transaction() as c:
            row = c.execute("SELECT status FROM sessions WHERE id=?", (session_id,)).fetchone()
            if row is None:
                raise NotFound(f"session {session_id} does not exist")
            if row[0] != "active":
                raise Conflict(f"session {session_id} is not active (it is {row[0]})")
            c.execute(
                "UPDATE sessions SET status=?, stopped_at=?, stopped_by=?, duration_s=?, "
                "peak_foot_load_kg=?, time_over_limit_s=?, counts=? WHERE id=?",
                (status, now_iso(), stopped_by, summary.get("duration_s"),
                 summary.get("peak_foot_load_kg"), summary.get("time_over_limit_s"),
                 json.dumps(summary.get("counts") or {}), session_id))
            c.execute("DELETE FROM session_transitions WHERE session_id=?", (session_id,))
            c.executemany(
                "INSERT INTO session_transitions(session_id, seq, t_s, state, foot_load_kg) "
                "VALUES (?,?,?,?,?)",
                [(session_id, i, t["t_s"], t["state"], t["foot_load_kg"])
                 for i, t in enumerate(summary.get("transitions") or [])])
            c.execute("DELETE FROM session_ease_events WHERE session_id=?", (session_id,))
            c.executemany(
                "INSERT INTO session_ease_events(session_id, seq, t_s, foot_load_kg, peak_2s_kg) "
                "VALUES (?,?,?,?,?)",
                [(session_id, i, e["t_s"], e["foot_load_kg"], e["peak_2s_kg"])
                 for i, e in enumerate(summary.get("ease_events") or [])])
            c.execute("DELETE FROM session_trace WHERE session_id=?", (session_id,))
            c.executemany(
                "INSERT INTO session_trace(session_id, t_s, state, foot_load_kg, bar_load_kg, "
                "mount_loads) VALUES (?,?,?,?,?,?)",
                ((session_id, *r) for r in trace_rows))
        return self.get_session(session_id)

    def trace_csv(self, session_id: str) -> Iterator[str]:
        """The stored trace as CSV lines (header first)."""
        s = self.get_session(session_id)
        header = ["t_s", "state", "foot_load_kg", "bar_load_kg", *s["mount_names"]]
        yield ",".join(header) + "\n"
        rows = self._all("SELECT t_s, state, foot_load_kg, bar_load_kg, mount_loads "
                         "FROM session_trace WHERE session_id=? ORDER BY rowid", (session_id,))
        for r in rows:
            mounts = r["mount_loads"].split(";") if r["mount_loads"] else []
            yield ",".join([f"{r['t_s']:.3f}", r["state"], f"{r['foot_load_kg']:.3f}",
                            f"{r['bar_load_kg']:.3f}", *mounts]) + "\n"

    # -- tokens --------------------------------------------------------------
    def create_token(self, actor: str, role: str, name: str) -> tuple[dict[str, Any], str]:
        """A new random token; only its hash is stored. Returns (row, token in clear)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.transaction() as c:
            cur = c.execute("INSERT INTO tokens(name, role, token_hash, created_at, created_by) "
                            "VALUES (?,?,?,?,?)", (name, role, hash_token(token), now_iso(),
                                                   actor))
            tid = int(cur.lastrowid or 0)
            self._audit(c, actor, "create", "token", tid, "role", None, role)
        return self.get_token(tid), token

    def get_token(self, token_id: int) -> dict[str, Any]:
        row = self._one("SELECT id, name, role, created_at, created_by, last_used_at, "
                        "revoked_at FROM tokens WHERE id=?", (token_id,))
        if row is None:
            raise NotFound(f"token {token_id} does not exist")
        return row

    def list_tokens(self) -> list[dict[str, Any]]:
        return self._all("SELECT id, name, role, created_at, created_by, last_used_at, "
                         "revoked_at FROM tokens ORDER BY id")

    def revoke_token(self, actor: str, token_id: int) -> dict[str, Any]:
        with self.transaction() as c:
            row = c.execute("SELECT role, revoked_at FROM tokens WHERE id=?",
                            (token_id,)).fetchone()
            if row is None:
                raise NotFound(f"token {token_id} does not exist")
            if row[1] is None:
                c.execute("UPDATE tokens SET revoked_at=? WHERE id=?", (now_iso(), token_id))
                self._audit(c, actor, "revoke", "token", token_id, "role", row[0], None)
        return self.get_token(token_id)

    def verify_token(self, token: str) -> Principal | None:
        """The token's principal, or None when unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = self._one("SELECT id, name, role FROM tokens WHERE token_hash=? AND "
                        "revoked_at IS NULL", (hash_token(token),))
        if row is None:
            return None
        tid = int(row["id"])
        mono = time.monotonic()
        if mono - self._last_used.get(tid, -LAST_USED_EVERY_S) >= LAST_USED_EVERY_S:
            self._last_used[tid] = mono
            with self.transaction() as c:
                c.execute("UPDATE tokens SET last_used_at=? WHERE id=?", (now_iso(), tid))
        return Principal(tid, str(row["name"]), str(row["role"]))

    # -- audit ---------------------------------------------------------------
    def add_audit(self, actor: str, action: str, entity: str, entity_id: Any,
                  changes: Mapping[str, tuple[Any, Any]]) -> None:
        """Audit rows for a change made outside this database (e.g. a calibration the core
        committed): one row per field, ``field -> (old, new)``."""
        with self.transaction() as c:
            for fld, (old, new) in changes.items():
                self._audit(c, actor, action, entity, entity_id, fld, old, new)

    def list_audit(self, limit: int = 100, offset: int = 0,
                   entity: str | None = None) -> list[dict[str, Any]]:
        where = ""
        params: list[Any] = [limit, offset]
        if entity is not None:
            where, params = "WHERE entity=?", [entity, limit, offset]
        return self._all(f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                         params)

    # -- rig settings --------------------------------------------------------
    def rig_overrides(self) -> dict[str, Any]:
        """Settings changed through the API, as {dotted key: value}."""
        return {r["key"]: json.loads(r["value"])
                for r in self._all("SELECT key, value FROM rig_settings ORDER BY key")}

    def set_rig_overrides(self, actor: str, changes: Mapping[str, tuple[Any, Any]]) -> None:
        """``changes`` maps a dotted key to (old value, new value); each is audited."""
        ts = now_iso()
        with self.transaction() as c:
            for key, (old, new) in changes.items():
                c.execute("INSERT INTO rig_settings(key, value, updated_at) VALUES (?,?,?) "
                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value, "
                          "updated_at=excluded.updated_at", (key, json.dumps(new), ts))
                self._audit(c, actor, "update", "rig", None, key, old, new)


def read_trace_file(path: Path) -> tuple[list[str], list[tuple[float, str, float, float, str]]]:
    """(mount names, rows) of a trace file the core wrote; a torn last line is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # the core was killed mid-write: that row was never acknowledged
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return [], []
    mounts = header[4:]
    rows: list[tuple[float, str, float, float, str]] = []
    for r in reader:
        if len(r) != len(header) or r[0] == "t_s":
            continue  # a header repeated after a core restart, or a damaged row
        if not all(_FIXED3.fullmatch(x) for x in (r[0], *r[2:])):
            continue  # torn inside a number: the core writes exactly 3 decimals
        try:
            rows.append((float(r[0]), r[1], float(r[2]), float(r[3]), ";".join(r[4:])))
        except ValueError:
            continue
    return mounts, rows
