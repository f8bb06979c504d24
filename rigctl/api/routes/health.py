"""GET /api/v1/health: no token, for monitoring and for the dashboard's first look."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from rigctl import __version__
from rigctl.api.deps import State

router = APIRouter(prefix="/api/v1", tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "fault"]
    core_up: bool
    loop_rate_hz: float | None
    state: str | None
    version: str


@router.get("/health", response_model=HealthOut)
async def health(st: State) -> HealthOut:
    """``ok``; ``degraded`` when the core process is away; ``fault`` when it reports a fault."""
    snap = st.core.latest_status if st.core.up else None
    if snap is None:
        return HealthOut(status="degraded", core_up=False, loop_rate_hz=None, state=None,
                         version=__version__)
    faulted = bool(snap.get("core_fault")) or snap.get("state") == "fault"
    return HealthOut(status="fault" if faulted else "ok", core_up=True,
                     loop_rate_hz=snap.get("loop", {}).get("rate_hz"),
                     state=snap.get("state"), version=__version__)
