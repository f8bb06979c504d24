"""Keeping the database and the core in agreement, including after either one crashed.

Runs at every (re)connect to the core:

- a session the core runs but the database lacks (the API died between the
  core's acknowledgement and its own insert) is inserted;
- a session the database calls active but the core no longer runs (the API
  died between the core's stop and the import, or the core lost it) is
  imported from the summary and trace files the core left in the state
  directory, or marked ``interrupted`` with whatever trace exists;
- rig settings stored in the database are pushed to the core if it differs.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool

from rigctl.api.deps import ApiState
from rigctl.ipc.client import CoreUnavailable
from rigctl.ipc.protocol import IpcError
from rigctl.ipc.recorder import SESSIONS_DIR, SUMMARY_FILE, TRACE_FILE, session_dir
from rigctl.ipc.service import apply_rig_changes, rig_settings
from rigctl.storage import Conflict, NotFound
from rigctl.storage.db import read_trace_file

log = logging.getLogger(__name__)


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def import_finished(st: ApiState, session_id: str, summary: dict[str, Any] | None,
                    stopped_by: str) -> dict[str, Any]:
    """Move a stopped session's summary and trace file into the database (one transaction).

    The files are removed only after the commit; if anything fails they stay
    and the next reconcile imports them.
    """
    d = session_dir(st.state_dir, session_id)
    if summary is None:
        try:
            summary = json.loads((d / SUMMARY_FILE).read_text())
        except (OSError, ValueError):
            summary = None
    _, rows = read_trace_file(d / TRACE_FILE)
    status = "stopped"
    if summary is None:  # the core lost the session (its state file was gone): keep the trace
        status = "interrupted"
        summary = _summary_from_trace(rows)
    row = st.db.finish_session(session_id, summary, rows, stopped_by, status)
    shutil.rmtree(d, ignore_errors=True)
    return row


def _summary_from_trace(rows: list[tuple[float, str, float, float, str]]) -> dict[str, Any]:
    if not rows:
        return {"duration_s": 0.0, "peak_foot_load_kg": None, "time_over_limit_s": None,
                "counts": {}, "transitions": []}
    counts: dict[str, int] = {}
    transitions = []
    last = None
    for t, state, foot, _bar, _m in rows:
        if state != last:
            counts[state] = counts.get(state, 0) + 1
            transitions.append({"t_s": t, "state": state, "foot_load_kg": foot})
            last = state
    return {"duration_s": rows[-1][0], "peak_foot_load_kg": max(r[2] for r in rows),
            "time_over_limit_s": None, "counts": counts, "transitions": transitions}


async def reconcile(st: ApiState) -> None:
    info = await st.core.request("session.get")
    db_active = await run_in_threadpool(st.db.active_session)
    if db_active is not None and (info is None or info["session_id"] != db_active["id"]):
        log.warning("session %s ended while the API was away; importing it", db_active["id"])
        await run_in_threadpool(import_finished, st, db_active["id"], None, "core")
        db_active = None
    if info is not None and db_active is None:
        try:
            await run_in_threadpool(st.db.get_session, info["session_id"])
            log.error("the core runs session %s, which the database has as finished",
                      info["session_id"])
        except NotFound:
            log.warning("session %s runs in the core but was not recorded; recording it",
                        info["session_id"])
            try:
                await run_in_threadpool(
                    st.db.insert_active_session, info["session_id"], info.get("client_id"),
                    None, info["therapist_weight_kg"], info["limit_kg"],
                    iso(info["started_at"]), "core", st.config.mount_names)
            except Conflict as e:
                log.error("cannot record session %s: %s", info["session_id"], e)
    await run_in_threadpool(_sweep_leftovers, st)
    await push_rig(st, only_if_different=True)


def _sweep_leftovers(st: ApiState) -> None:
    """Import or remove session folders whose import was cut short by a crash."""
    root = Path(st.state_dir) / SESSIONS_DIR
    if not root.is_dir():
        return
    for d in root.iterdir():
        try:
            s = st.db.get_session(d.name)
        except NotFound:
            continue  # not ours yet (a start in flight); leave it
        if s["status"] != "active" and (d / SUMMARY_FILE).exists():
            shutil.rmtree(d, ignore_errors=True)


def effective_rig(st: ApiState) -> dict[str, Any]:
    """Config defaults with the database's overrides applied (what the core should run)."""
    overrides = st.db.rig_overrides()
    changes: dict[str, Any] = {"warning": {}, "mounts": {}}
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "warning" and len(parts) == 2:
            changes["warning"][parts[1]] = value
        elif parts[0] == "mounts" and len(parts) == 3 and parts[1] in st.config.mounts:
            changes["mounts"].setdefault(parts[1], {})[parts[2]] = value
    try:
        cfg = apply_rig_changes(st.config, changes)
    except IpcError as e:  # e.g. the config file changed under stored overrides
        log.error("rig: stored settings no longer valid (%s); using the config file", e)
        cfg = st.config
    st.warning = cfg.warning
    return rig_settings(cfg)


async def push_rig(st: ApiState, only_if_different: bool) -> None:
    want = await run_in_threadpool(effective_rig, st)
    if only_if_different:
        have = await st.core.request("rig.get")
        if have == want:
            return
    try:
        await st.core.request("rig.set", want)
        log.info("rig: settings from the database pushed to the core")
    except IpcError as e:
        log.warning("rig: core kept its settings: %s", e.message)
    except CoreUnavailable:
        raise
