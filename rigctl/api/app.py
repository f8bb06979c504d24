"""The FastAPI app factory: database, core connection, routes, error shape.

Routes live one module per resource in ``rigctl.api.routes``; each module has a
``router``. Later features add their module name to ``ROUTE_MODULES`` (or pass
``extra_routers``) without touching the others.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from rigctl import __version__
from rigctl.api.deps import ApiError, ApiState, FailedAuthLimiter
from rigctl.api.sync import effective_rig, reconcile
from rigctl.config import Config
from rigctl.ipc.client import CoreClient, CoreUnavailable
from rigctl.ipc.protocol import ERROR_STATUS, IpcError, socket_path
from rigctl.storage import Conflict, Database, NotFound

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = [
    "rigctl.api.routes.health",
    "rigctl.api.routes.status",
    "rigctl.api.routes.clients",
    "rigctl.api.routes.therapists",
    "rigctl.api.routes.sessions",
    "rigctl.api.routes.rig",
    "rigctl.api.routes.tokens",
    "rigctl.api.routes.audit",
    "rigctl.api.routes.sim",
    "rigctl.api.routes.metrics",
    "rigctl.api.routes.calibration",
    "rigctl.api.routes.ease",
    "rigctl.api.routes.web",  # the dashboard at / (keep last: it serves /)
]

#: allowed range per field, for messages of body validation errors
FIELD_RANGES = {
    "display_name": "1-80 characters",
    "name": "1-80 characters",
    "notes": "0-2000 characters",
    "therapist_weight_kg": "30-250 kg",
    "weight_kg": "30-250 kg",
    "role": "viewer, clinician, installer or admin",
}


def _body(status: int, code: str, detail: str, field: str | None = None,
          headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail, "field": field}, status_code=status,
                        headers=headers)


def _validation_message(request: Request, exc: RequestValidationError) -> tuple[str, str | None]:
    err = exc.errors()[0]
    if err.get("type") == "json_invalid":  # its loc is a character offset, not a field
        return f"body: not valid JSON ({err.get('ctx', {}).get('error', 'decode error')} "\
               f"at character {err.get('loc', ('', '?'))[-1]})", "body"
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    last = loc[-1] if loc else ""
    if last == "foot_load_limit_kg":
        lo, hi = request.app.state.rigctl.limits
        rng = f"{lo:g}-{hi:g} kg"
    else:
        rng = FIELD_RANGES.get(last, "")
    detail = f"{field}: {msg}" if field else msg
    if rng:
        detail += f" (allowed: {rng})"
    return detail, field


def create_app(config: Config, state_dir: Path, auth_fail_limit: int = 10,
               auth_window_s: float = 60.0,
               extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.in_state_dir(state_dir)
        core = CoreClient(socket_path(state_dir))
        st = ApiState(config=config, db=db, core=core, state_dir=state_dir,
                      limiter=FailedAuthLimiter(auth_fail_limit, auth_window_s))
        effective_rig(st)
        app.state.rigctl = st
        core.on_connect(lambda: reconcile(st))
        await core.start()
        try:
            yield
        finally:
            await core.stop()
            db.close()

    # the docs' JavaScript and CSS are served from the package, not a CDN: a clinic's
    # rig is often offline, and /docs must still work there
    app = FastAPIOffline(
        title="rigctl local API",
        version=__version__,
        description="Clients, limits, sessions and the live state of an ashiatsu rig. "
                    "Every endpoint but /api/v1/health needs `Authorization: Bearer <token>` "
                    "(`rigctl token create --role ROLE`). Loads are in kg.",
        lifespan=lifespan,
    )
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(name).router)
    for r in extra_routers:
        app.include_router(r)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _body(exc.status_code, exc.code, str(exc.detail), exc.field, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found",
                405: "method_not_allowed"}.get(exc.status_code, "error")
        return _body(exc.status_code, code, str(exc.detail), None,
                     getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, field = _validation_message(request, exc)
        return _body(422, "bad_request", detail, field)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _body(404, "not_found", str(exc.args[0] if exc.args else exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return _body(409, "conflict", str(exc))

    @app.exception_handler(IpcError)
    async def _core_error(request: Request, exc: IpcError) -> JSONResponse:
        status = ERROR_STATUS.get(exc.code, 500)
        return _body(status, exc.code, exc.message, exc.field)

    @app.exception_handler(CoreUnavailable)
    async def _core_down(request: Request, exc: CoreUnavailable) -> JSONResponse:
        return _body(503, "core_unavailable", f"the rig's core process is not available: "
                     f"{exc}", None, {"Retry-After": "1"})

    return app


def api_state(app: FastAPI) -> Any:
    """The app's ``ApiState`` (for tests and for features added later)."""
    return app.state.rigctl
