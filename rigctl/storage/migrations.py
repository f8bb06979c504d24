"""Schema versions: each entry migrates version N-1 to N, applied in order at start.

``PRAGMA user_version`` holds the version. Each migration runs in one
transaction together with the version bump (SQLite DDL is transactional), so a
crash mid-migration leaves the old schema intact. Never edit a released
migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: clients, therapists, sessions with trace and transitions, tokens, audit, rig settings
    (
        """CREATE TABLE clients (
            id INTEGER PRIMARY KEY,
            display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 80),
            foot_load_limit_kg REAL NOT NULL CHECK (foot_load_limit_kg > 0),
            cleared INTEGER NOT NULL DEFAULT 0 CHECK (cleared IN (0, 1)),
            notes TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE therapists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
            weight_kg REAL NOT NULL CHECK (weight_kg > 0),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            client_id INTEGER REFERENCES clients(id) ON DELETE SET NULL,
            therapist_id INTEGER REFERENCES therapists(id) ON DELETE SET NULL,
            therapist_weight_kg REAL NOT NULL,
            limit_kg REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'stopped', 'interrupted')),
            started_at TEXT NOT NULL,
            stopped_at TEXT,
            started_by TEXT NOT NULL,
            stopped_by TEXT,
            mount_names TEXT NOT NULL DEFAULT '[]',
            duration_s REAL,
            peak_foot_load_kg REAL,
            time_over_limit_s REAL,
            counts TEXT
        )""",
        "CREATE UNIQUE INDEX sessions_one_active ON sessions(status) WHERE status = 'active'",
        "CREATE INDEX sessions_started ON sessions(started_at)",
        """CREATE TABLE session_transitions (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            t_s REAL NOT NULL,
            state TEXT NOT NULL,
            foot_load_kg REAL NOT NULL,
            PRIMARY KEY (session_id, seq)
        )""",
        """CREATE TABLE session_trace (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            t_s REAL NOT NULL,
            state TEXT NOT NULL,
            foot_load_kg REAL NOT NULL,
            bar_load_kg REAL NOT NULL,
            mount_loads TEXT NOT NULL
        )""",
        "CREATE INDEX session_trace_by_session ON session_trace(session_id, t_s)",
        """CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'clinician', 'installer', 'admin')),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            field TEXT,
            old_value TEXT,
            new_value TEXT
        )""",
        """CREATE TABLE rig_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ),
    # 2: the client's comfort-button presses, per session (issue 8: learned comfort limits)
    (
        """CREATE TABLE session_ease_events (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            t_s REAL NOT NULL,
            foot_load_kg REAL NOT NULL,
            peak_2s_kg REAL NOT NULL,
            PRIMARY KEY (session_id, seq)
        )""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
