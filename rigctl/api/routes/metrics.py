"""GET /metrics: Prometheus text format (viewer token, as every endpoint but health).

Each scrape asks the core for one ``metrics`` snapshot over the socket (loop
histograms, state times, fault counters, loads) and counts the sessions in the
database through a read-only connection of its own. With the core away the
scrape still answers, with ``rigctl_core_up 0``, so an alert can fire on it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response

from rigctl.api.deps import AUTH_ERRORS, State, Viewer
from rigctl.ipc.client import CoreUnavailable
from rigctl.ipc.protocol import IpcError
from rigctl.telemetry.metrics import CONTENT_TYPE, render

log = logging.getLogger(__name__)
router = APIRouter(tags=["metrics"], responses={**AUTH_ERRORS})

CORE_TIMEOUT_S = 2.0


def session_counts(db_path: Path) -> dict[str, int] | None:
    """Sessions by status, read without the API's write connection (WAL: never blocks it)."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as e:
        log.warning("metrics: cannot open %s: %s", db_path, e)
        return None
    try:
        rows = conn.execute("SELECT status, count(*) FROM sessions GROUP BY status").fetchall()
        return {str(status): int(n) for status, n in rows}
    except sqlite3.Error as e:
        log.warning("metrics: cannot count sessions: %s", e)
        return None
    finally:
        conn.close()


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format 0.0.4"}})
async def metrics(st: State, who: Viewer) -> Response:
    """Loop timing histograms, per-state time, transitions, faults, loads, sessions."""
    core: dict[str, Any] | None
    try:
        core = await st.core.request("metrics", timeout=CORE_TIMEOUT_S)
    except (CoreUnavailable, IpcError) as e:
        log.info("metrics: core not available for this scrape: %s", e)
        core = None
    sessions = await asyncio.to_thread(session_counts, st.db.path)
    return Response(render(core, sessions), media_type=CONTENT_TYPE)
