"""What every route needs: the app's state, the caller's role, and the error shape.

Roles (DESIGN section 7): ``viewer`` sees status and the stream; ``clinician``
and ``installer`` each add their own area to viewer; ``admin`` has all.
Missing or bad token -> 401, valid token without the role -> 403. Failed
tokens are rate-limited per client address (429) so they cannot be guessed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from rigctl.config import Config, WarningSection
from rigctl.ipc.client import CoreClient
from rigctl.storage import Database, Principal

#: what each role may do, by the role an endpoint asks for
GRANTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"viewer"}),
    "clinician": frozenset({"viewer", "clinician"}),
    "installer": frozenset({"viewer", "installer"}),
    "admin": frozenset({"viewer", "clinician", "installer", "admin"}),
}


class ApiError(HTTPException):
    """An error answer with the JSON body ``{"code", "detail", "field"}``."""

    def __init__(self, status: int, detail: str, code: str | None = None,
                 field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.code = code or {400: "bad_request", 401: "unauthorized", 403: "forbidden",
                             404: "not_found", 409: "conflict", 413: "too_large",
                             422: "bad_request", 429: "rate_limited", 501: "not_implemented",
                             503: "core_unavailable"}.get(status, "error")
        self.field = field


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: ``detail`` names the field and the allowed range."""

    code: str
    detail: str
    field: str | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorBody} for c in codes}


#: a row id: SQLite integers are 64-bit, so larger numbers are refused with 422, not a 500
Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="row id")]
MAX_ID = 2**63 - 1

#: documented on every authenticated route (400: a body that is not even JSON)
AUTH_ERRORS = error_responses(400, 401, 403, 429)


class FailedAuthLimiter:
    """At most ``limit`` failed tokens per address per ``window_s``; then 429 until it cools."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, addr: str, now: float) -> deque[float]:
        q = self._fails.setdefault(addr, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, addr: str) -> float:
        """Seconds until ``addr`` may try again (0 when it may now)."""
        now = time.monotonic()
        q = self._recent(addr, now)
        if len(q) < self.limit:
            if not q:
                self._fails.pop(addr, None)
            return 0.0
        return max(self.window_s - (now - q[0]), 1.0)

    def failed(self, addr: str) -> None:
        self._recent(addr, time.monotonic()).append(time.monotonic())
        if len(self._fails) > 10_000:  # bounded memory under a spray of addresses
            self._fails.pop(next(iter(self._fails)))


@dataclass
class ApiState:
    config: Config
    db: Database
    core: CoreClient
    state_dir: Any
    limiter: FailedAuthLimiter = field(default_factory=FailedAuthLimiter)
    #: the warning section with the rig overrides from the database applied
    warning: WarningSection | None = None
    #: one session start or stop at a time in this process (the core serialises too)
    session_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def limits(self) -> tuple[float, float]:
        w = self.warning or self.config.warning
        return w.limit_min_kg, w.limit_max_kg


def get_state(request: Request) -> ApiState:
    st: ApiState = request.app.state.rigctl
    return st


State = Annotated[ApiState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="a token from `rigctl token create`")


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers whose role grants ``role``."""
    if role not in GRANTS:
        raise ValueError(f"unknown role {role}")

    async def check(request: Request, st: State,
                    cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                    ) -> Principal:
        addr = request.client.host if request.client else "unknown"
        wait = st.limiter.retry_after(addr)
        if wait:
            raise ApiError(429, f"too many failed tokens from {addr}; retry in {wait:.0f} s",
                           headers={"Retry-After": str(int(wait + 0.999))})
        if cred is None or cred.scheme.lower() != "bearer" or not cred.credentials:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": "Bearer"})
        who = await run_in_threadpool(st.db.verify_token, cred.credentials)
        if who is None:
            st.limiter.failed(addr)
            raise ApiError(401, "the token is unknown or revoked",
                           headers={"WWW-Authenticate": "Bearer"})
        if role not in GRANTS[who.role]:
            raise ApiError(403, f"this needs the {role} role; the token has {who.role}")
        return who

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Clinician = Annotated[Principal, Depends(require("clinician"))]
Installer = Annotated[Principal, Depends(require("installer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
