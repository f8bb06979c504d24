"""Sessions: start (pushes the client's limit and the therapist's weight to the core),
stop (the core writes the summary; it is imported with the trace), summary, trace.csv.

The core acknowledges a start only once its session file is on disk, and the
database row follows; a start that cannot be recorded is undone in the core.
While a session runs its summary is the core's live one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from rigctl.api.deps import (
    AUTH_ERRORS,
    MAX_ID,
    ApiError,
    ApiState,
    Clinician,
    State,
    error_responses,
)
from rigctl.api.routes.therapists import Weight
from rigctl.api.sync import import_finished, iso
from rigctl.ipc.protocol import IpcError
from rigctl.storage import Conflict

router = APIRouter(prefix="/api/v1", tags=["sessions"],
                   responses={**AUTH_ERRORS, **error_responses(404, 409, 422, 503)})

SessionId = Annotated[str, PathParam(min_length=1, max_length=64, description="session id")]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
    therapist_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = None
    therapist_weight_kg: Weight | None = None

    @model_validator(mode="after")
    def _one_weight(self) -> SessionIn:
        if (self.therapist_id is None) == (self.therapist_weight_kg is None):
            raise ValueError("give exactly one of therapist_id or therapist_weight_kg")
        return self


class TransitionOut(BaseModel):
    t_s: float
    state: str
    foot_load_kg: float


class EaseEventOut(BaseModel):
    """A press of the client's comfort button (hand-held or dashboard)."""

    t_s: float = Field(description="session time of the press (s)")
    foot_load_kg: float = Field(description="foot load at the press")
    peak_2s_kg: float = Field(description="highest foot load of the 2 s before the press")


class SummaryOut(BaseModel):
    duration_s: float | None
    peak_foot_load_kg: float | None
    time_over_limit_s: float | None
    counts: dict[str, int]
    transitions: list[TransitionOut]
    ease_events: list[EaseEventOut] = Field(default_factory=list)


class SessionOut(BaseModel):
    id: str
    status: str = Field(description="active, stopped, or interrupted (the core lost it)")
    client_id: int | None
    therapist_id: int | None
    therapist_weight_kg: float
    limit_kg: float
    started_at: str
    stopped_at: str | None
    started_by: str
    stopped_by: str | None
    summary: SummaryOut | None


async def _with_summary(st: ApiState, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if row["status"] == "active":
        info = None
        if st.core.connected:
            try:
                info = await st.core.request("session.get")
            except Exception:  # the core went away mid-call: the record alone still answers
                info = None
        s = info["summary"] if info and info["session_id"] == row["id"] else None
        out["summary"] = None if s is None else {
            k: s[k] for k in ("duration_s", "peak_foot_load_kg", "time_over_limit_s", "counts",
                              "transitions", "ease_events")}
        return out
    trs = await run_in_threadpool(st.db.session_transitions, row["id"])
    eases = await run_in_threadpool(st.db.session_ease_events, row["id"])
    out["summary"] = {"duration_s": row["duration_s"],
                      "peak_foot_load_kg": row["peak_foot_load_kg"],
                      "time_over_limit_s": row["time_over_limit_s"],
                      "counts": row["counts"] or {}, "transitions": trs, "ease_events": eases}
    return out


@router.post("/sessions", response_model=SessionOut, status_code=201)
async def start_session(body: SessionIn, st: State, who: Clinician) -> dict[str, Any]:
    """409 if a session is active, the client is not cleared, or the core is faulted."""
    client = await run_in_threadpool(st.db.get_client, body.client_id)
    if not client["cleared"]:
        raise ApiError(409, f"client {client['id']} is not cleared for sessions (cleared: "
                       "false); a clinician must clear them first", field="cleared")
    therapist_id = body.therapist_id
    if therapist_id is not None:
        weight = float((await run_in_threadpool(st.db.get_therapist, therapist_id))["weight_kg"])
    else:
        assert body.therapist_weight_kg is not None
        weight = body.therapist_weight_kg
    limit = float(client["foot_load_limit_kg"])
    lo, hi = st.limits
    if not lo <= limit <= hi:
        raise ApiError(409, f"client {client['id']}'s limit {limit:g} kg is outside the rig's "
                       f"allowed range {lo:g}-{hi:g} kg; update the client first",
                       field="foot_load_limit_kg")
    async with st.session_lock:
        active = await run_in_threadpool(st.db.active_session)
        if active is not None:
            raise ApiError(409, f"session {active['id']} is active; stop it first")
        sid = uuid.uuid4().hex
        info = await st.core.request("session.start", {
            "session_id": sid, "client_id": client["id"], "limit_kg": limit,
            "therapist_kg": weight})
        try:
            row = await run_in_threadpool(
                st.db.insert_active_session, sid, client["id"], therapist_id, weight, limit,
                iso(info["started_at"]), who.actor, st.config.mount_names)
        except BaseException:
            # not recorded: undo in the core so no unrecorded session stays armed
            try:
                await st.core.request("session.stop", {"session_id": sid})
            finally:
                await run_in_threadpool(_discard_dir, st, sid)
            raise
        await st.core.refresh_status()
    return await _with_summary(st, row)


def _discard_dir(st: ApiState, sid: str) -> None:
    import shutil

    from rigctl.ipc.recorder import session_dir

    shutil.rmtree(session_dir(st.state_dir, sid), ignore_errors=True)


@router.post("/sessions/{session_id}/stop", response_model=SessionOut)
async def stop_session(session_id: SessionId, st: State, who: Clinician) -> dict[str, Any]:
    async with st.session_lock:
        row = await run_in_threadpool(st.db.get_session, session_id)
        if row["status"] != "active":
            raise ApiError(409, f"session {session_id} is not active (it is {row['status']})")
        summary: dict[str, Any] | None
        try:
            res = await st.core.request("session.stop", {"session_id": session_id})
            summary = res["summary"]
        except IpcError as e:
            if e.code != "conflict":
                raise
            info = await st.core.request("session.get")
            if info is not None:  # the core runs another session: do not touch it
                raise
            summary = None  # the core has no session: import what it left behind
        try:
            row = await run_in_threadpool(import_finished, st, session_id, summary, who.actor)
        except Conflict:
            row = await run_in_threadpool(st.db.get_session, session_id)
        await st.core.refresh_status()
    return await _with_summary(st, row)


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(st: State, who: Clinician,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
                        client_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                        ) -> list[dict[str, Any]]:
    rows = await run_in_threadpool(st.db.list_sessions, limit, offset, client_id)
    return [await _with_summary(st, r) for r in rows]


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: SessionId, st: State, who: Clinician) -> dict[str, Any]:
    """The summary: duration, peak foot load, time over limit, counts, transitions."""
    row = await run_in_threadpool(st.db.get_session, session_id)
    return await _with_summary(st, row)


@router.get("/sessions/{session_id}/trace.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "t_s,state,foot_load_kg,bar_load_kg,<mount>...,"
                                            "ease_press"}})
async def trace_csv(session_id: SessionId, st: State, who: Clinician) -> StreamingResponse:
    """The recorded trace (50 Hz): while active, what the core has written so far.

    The last column, ``ease_press``, holds the exact time of a comfort-button
    press on the row nearest to it, and is empty elsewhere.
    """
    from rigctl.comfort.trace import mark_presses

    row = await run_in_threadpool(st.db.get_session, session_id)
    if row["status"] == "active":
        lines = await run_in_threadpool(_live_trace, st, session_id, row["mount_names"])
        presses = await _live_presses(st, session_id)
    else:
        lines = await run_in_threadpool(lambda: list(st.db.trace_csv(session_id)))
        presses = [e["t_s"] for e in
                   await run_in_threadpool(st.db.session_ease_events, session_id)]
    lines = mark_presses(lines, presses)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(iter(lines), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="session-{session_id}-{stamp}.csv"'})


async def _live_presses(st: ApiState, session_id: str) -> list[float]:
    """The running session's press times from the core (none if it is away right now)."""
    try:
        info = await st.core.request("session.get")
    except Exception:  # the trace still answers without the marks
        return []
    if not info or info["session_id"] != session_id:
        return []
    return [float(e["t_s"]) for e in info["summary"].get("ease_events", [])]


def _live_trace(st: ApiState, session_id: str, mounts: list[str]) -> list[str]:
    from rigctl.ipc.recorder import TRACE_FILE, session_dir
    from rigctl.storage.db import read_trace_file

    _, rows = read_trace_file(session_dir(st.state_dir, session_id) / TRACE_FILE)
    out = [",".join(["t_s", "state", "foot_load_kg", "bar_load_kg", *mounts]) + "\n"]
    out += [",".join([f"{t:.3f}", s, f"{f:.3f}", f"{b:.3f}", *m.split(";")]) + "\n"
            for t, s, f, b, m in rows]
    return out

