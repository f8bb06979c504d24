"""GET /api/v1/status and the live stream (server-sent events).

Both are served from the snapshots the core pushes 20 times a second over the
socket, never by asking the core per request: the core's work does not grow
with the number of HTTP clients, so the control loop does not feel them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rigctl.api.deps import AUTH_ERRORS, ApiError, State, Viewer, error_responses

router = APIRouter(prefix="/api/v1", tags=["status"],
                   responses={**AUTH_ERRORS, **error_responses(503)})

KEEPALIVE_S = 15.0
MAX_STATUS_HZ = 20.0


class MountOut(BaseModel):
    name: str
    load_kg: float
    age_ms: float | None
    ok: bool
    fault: str | None


class LoopOut(BaseModel):
    rate_hz: float
    jitter_p99_ms: float
    overruns: int


class StatusOut(BaseModel):
    state: str
    foot_load_kg: float
    bar_load_kg: float
    therapist_weight_kg: float | None
    limit_kg: float | None
    session_id: str | None
    client_id: int | None
    mounts: list[MountOut]
    loop: LoopOut


def current_status(st: Any) -> dict[str, Any]:
    """The latest core snapshot, or 503 when the core is away."""
    snap = st.core.latest_status if st.core.up else None
    if snap is None:
        raise ApiError(503, "the rig's core process is not running or not answering",
                       headers={"Retry-After": "1"})
    return snap  # type: ignore[no-any-return]


@router.get("/status", response_model=StatusOut)
async def status(st: State, who: Viewer) -> dict[str, Any]:
    """The rig now: state, foot and bar load, the session's limit, each mount, the loop."""
    return current_status(st)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`status` events (<= 20/s), `transition` events, "
                                            "`ease` events (comfort-button presses) and "
                                            "`core` events when the core goes away"}})
async def stream(request: Request, st: State, who: Viewer,
                 max_events: Annotated[int | None, Query(ge=1, le=1_000_000,
                                                         description="end after this many "
                                                         "events (for scripts)")] = None,
                 ) -> StreamingResponse:
    """Server-sent events: ``status`` snapshots and each ``transition`` as it happens."""
    q = st.core.subscribe()
    snap = st.core.latest_status if st.core.up else None

    async def events() -> AsyncIterator[str]:
        sent = 0
        last_status = 0.0
        loop = asyncio.get_running_loop()
        try:
            if snap is not None:
                yield _sse("status", snap)
                sent += 1
                last_status = loop.time()
            else:
                yield _sse("core", {"up": False})
                sent += 1
            while max_events is None or sent < max_events:
                try:
                    ev = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                kind = str(ev.get("event"))
                if kind == "status":
                    now = loop.time()
                    if now - last_status < 1.0 / MAX_STATUS_HZ * 0.9:
                        continue
                    last_status = now
                yield _sse(kind, ev.get("data"))
                sent += 1
        finally:
            st.core.unsubscribe(q)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
