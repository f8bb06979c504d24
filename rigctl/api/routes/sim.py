"""POST /api/v1/sim/scenario (admin, sim backend only): play a scenario CSV now.

The body is the CSV of DESIGN section 8. The answer says where the scenario's
t=0 fell on the active session's clock (``session_t_s``), so a test can tell
exactly where the scenario puts each transition.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from rigctl.api.deps import AUTH_ERRORS, Admin, ApiError, State, error_responses

router = APIRouter(prefix="/api/v1", tags=["sim"],
                   responses={**AUTH_ERRORS, **error_responses(404, 413, 422, 503)})

MAX_BYTES = 4 * 1024 * 1024


class ScenarioOut(BaseModel):
    rows: int
    duration_s: float
    session_id: str | None
    session_t_s: float | None


@router.post("/sim/scenario", response_model=ScenarioOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def play_scenario(request: Request, st: State, who: Admin,
                        loop: Annotated[bool, Query(description="repeat at the end")] = False,
                        ) -> dict[str, Any]:
    """``t_s,<mount>...[,fault:<mount>...]``, loads in kg, linear between rows."""
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise ApiError(413, f"body: the scenario is {len(body)} bytes; at most {MAX_BYTES}",
                       field="body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "body: the scenario must be UTF-8 CSV text", field="body") from None
    result: dict[str, Any] = await st.core.request("sim.scenario", {"csv": text, "loop": loop})
    return result
