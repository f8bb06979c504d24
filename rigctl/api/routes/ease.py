"""The client's comfort button on the API: the dashboard's press, and the learned limit.

``POST /api/v1/sessions/{id}/ease`` presses the comfort button for the client
(a clinician at the dashboard, e.g. when the client says "too much" aloud):
the core raises ``ease`` at its next tick, exactly as for the hand-held
button, and the press is recorded with the session.

``client_suggestion`` is what ``GET /api/v1/clients/{id}`` shows as
``suggested_limit_kg`` and ``suggestion`` (rule: ``rigctl.comfort.learn``).
It never changes a limit; a clinician accepts it with a normal PATCH.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rigctl.api.deps import AUTH_ERRORS, ApiError, ApiState, Clinician, State, error_responses
from rigctl.api.routes.sessions import SessionId
from rigctl.comfort.learn import Press, suggest_limit

router = APIRouter(prefix="/api/v1", tags=["sessions"],
                   responses={**AUTH_ERRORS, **error_responses(404, 409, 422, 503)})


class PressOut(BaseModel):
    in_session: bool
    session_id: str
    t_s: float = Field(description="session time of the press (s)")
    foot_load_kg: float = Field(description="foot load at the press")
    peak_2s_kg: float = Field(description="highest foot load of the 2 s before the press")
    source: str = Field(description="dashboard (this endpoint) or button (the hand-held one)")
    state: str = Field(description="the warning state right after the press: ease, or a "
                       "higher alarm (over, overload, fault) that outranks it")
    ticks_waited: int = Field(description="control ticks that ended between the request "
                              "reaching the core and the press: 0 or 1 means the first tick "
                              "that began after the request raised ease")
    request_to_press_ms: float


class PressEvidence(BaseModel):
    t_s: float
    foot_load_kg: float
    peak_2s_kg: float
    counted: bool = Field(description="false: below the rig's lowest limit, set aside")


class SessionEvidence(BaseModel):
    session_id: str
    started_at: str
    limit_kg: float
    presses: list[PressEvidence]


class SuggestionOut(BaseModel):
    reason: str
    rule: str
    presses: int = Field(description="presses counted")
    sessions: int = Field(description="sessions with counted presses")
    set_aside: int = Field(description="presses below the rig's lowest limit, not counted")
    median_foot_load_kg: float | None
    margin_kg: float | None
    computed_limit_kg: float | None = Field(description="what the rule gives, even when it "
                                            "is not lower than the current limit")
    evidence: list[SessionEvidence]


@router.post("/sessions/{session_id}/ease", response_model=PressOut, status_code=201)
async def press_ease(session_id: SessionId, st: State, who: Clinician) -> dict[str, Any]:
    """The comfort button from the dashboard: ``ease`` at the core's next tick, recorded.

    409 when the session is not the active one.
    """
    row = await run_in_threadpool(st.db.get_session, session_id)
    if row["status"] != "active":
        raise ApiError(409, f"session {session_id} is not active (it is {row['status']})")
    rec: dict[str, Any] = await st.core.request("ease.press", {"session_id": session_id})
    await st.core.refresh_status()
    return rec


def client_suggestion(st: ApiState, client: dict[str, Any]) -> dict[str, Any]:
    """``{"suggested_limit_kg", "suggestion"}`` for a client record (threadpool: reads the db)."""
    rows = st.db.client_ease_events(int(client["id"]))
    presses = [Press(r["session_id"], r["started_at"], float(r["limit_kg"]), float(r["t_s"]),
                     float(r["foot_load_kg"]), float(r["peak_2s_kg"])) for r in rows]
    lo, hi = st.limits
    return suggest_limit(presses, float(client["foot_load_limit_kg"]), lo, hi)
