"""The dashboard: static files from ``rigctl/web`` at ``/``, and ``GET /api/v1/whoami``.

No build step and nothing from the internet: a clinic's Pi is offline, so
every byte the browser needs is in the package. Pages get a strict
Content-Security-Policy (scripts and styles from this origin only, no inline
script), so a client name with markup in it can never run as code.
``whoami`` tells the page the token's role (which pages and buttons to show)
and the few rig settings the live chart draws (the caution line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from rigctl.api.deps import AUTH_ERRORS, ApiError, State, Viewer
from rigctl.api.sync import effective_rig

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"

#: file types the dashboard is made of; anything else under web/ is not served
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

#: the token grants these pages (viewer: the live view only)
PAGES = {
    "viewer": ["live"],
    "clinician": ["live", "clients", "sessions"],
    "installer": ["live", "calibration", "diagnostics"],
    "admin": ["live", "clients", "sessions", "calibration", "diagnostics"],
}

router = APIRouter(tags=["dashboard"])


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            # an upgrade must reach the tablet on the wall without a manual reload
            "Cache-Control": "no-cache"}


def resolve_asset(path: str) -> Path | None:
    """The file under ``WEB_DIR`` that ``path`` names, or None (missing, hidden, outside)."""
    if not path or any(part.startswith(".") for part in path.split("/")):
        return None
    target = (WEB_DIR / path).resolve()
    if not target.is_relative_to(WEB_DIR) or not target.is_file():
        return None
    if target.suffix not in MEDIA_TYPES:
        return None
    return target


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type=MEDIA_TYPES[".html"],
                        headers=_headers())


@router.get("/ui", include_in_schema=False)
def ui_root() -> RedirectResponse:
    return RedirectResponse("/")


@router.api_route("/ui/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
def asset(path: str) -> FileResponse:
    target = resolve_asset(path)
    if target is None:
        raise ApiError(404, f"no dashboard file {path!r}")
    return FileResponse(target, media_type=MEDIA_TYPES[target.suffix], headers=_headers())


class MountInfo(BaseModel):
    name: str
    bar: str
    capacity_kg: float


class WhoAmI(BaseModel):
    name: str
    role: str
    token_id: int | None
    pages: list[str]
    rig_name: str
    backend: str
    mounts: list[MountInfo]
    caution_fraction: float
    overload_fraction: float
    limit_min_kg: float
    limit_max_kg: float


@router.get("/api/v1/whoami", response_model=WhoAmI, tags=["dashboard"],
            responses=AUTH_ERRORS)
def whoami(st: State, who: Viewer) -> dict[str, Any]:
    """The token's role and the pages it opens; the rig settings the live view draws."""
    rig = effective_rig(st)
    w = rig["warning"]
    mounts = [{"name": n, "bar": m.bar, "capacity_kg": rig["mounts"][n]["capacity_kg"]}
              for n, m in st.config.mounts.items()]
    return {"name": who.name, "role": who.role, "token_id": who.token_id,
            "pages": PAGES.get(who.role, ["live"]), "rig_name": st.config.rig.name,
            "backend": st.config.rig.backend, "mounts": mounts,
            "caution_fraction": w["caution_fraction"],
            "overload_fraction": w["overload_fraction"],
            "limit_min_kg": w["limit_min_kg"], "limit_max_kg": w["limit_max_kg"]}
