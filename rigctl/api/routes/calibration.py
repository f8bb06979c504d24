"""Calibration (installer) and therapist weigh-in (clinician): DESIGN sections 5 and 7.

The core does the work (it owns the hardware and the calibration file); these
routes validate, forward, and write the audit log: who started, captured,
committed, verified or re-tared, with the old and the new values. A refused
step answers 409 with the installer-facing reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rigctl.api.deps import (
    AUTH_ERRORS,
    ApiError,
    ApiState,
    Installer,
    State,
    error_responses,
)
from rigctl.calibration.fit import MIN_KNOWN_KG
from rigctl.ipc.protocol import IpcError
from rigctl.storage import Principal

router = APIRouter(prefix="/api/v1", tags=["calibration"],
                   responses={**AUTH_ERRORS, **error_responses(404, 409, 422, 503)})

Kg = Annotated[float, Field(ge=MIN_KNOWN_KG, le=2000, allow_inf_nan=False,
                            description="kg; at most the capacity of the mount(s) it hangs on")]
MountName = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class KnownKgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    known_kg: Kg


class BarPointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    known_kg: Kg
    position: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                            description="where the weight hangs: 0..1 of the bar's length "
                                        "from its first mount (0.5 = the middle)")


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    installer: Name


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    known_kg: Kg
    mount: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$",
                              description="the mount the weight hangs on; none: the whole "
                                          "rig's total is checked")


def _slow_timeout(st: ApiState, weigh_in: bool = False) -> float:
    """How long the core may take: the capture's own time limit plus a margin."""
    c = st.config.calibration
    return (c.weigh_in_timeout_s if weigh_in else c.settle_timeout_s) + c.tare_s + 10.0


async def _core(st: ApiState, op: str, args: dict[str, Any] | None = None,
                slow: bool = False) -> Any:
    try:
        return await st.core.request(op, args or {}, timeout=_slow_timeout(st) if slow else None)
    except IpcError as e:
        if e.code == "conflict":
            raise ApiError(409, e.message) from None
        if e.code == "not_found":
            raise ApiError(404, e.message) from None
        if e.code == "bad_request":
            raise ApiError(422, e.message, field=e.field) from None
        raise


async def _audit(st: ApiState, who: Principal, action: str, entity_id: Any,
                 changes: dict[str, tuple[Any, Any]]) -> None:
    await run_in_threadpool(st.db.add_audit, who.actor, action, "calibration", entity_id,
                            changes)


@router.get("/calibration")
async def get_calibration(st: State, who: Installer) -> dict[str, Any]:
    """The calibration in force (per mount zero, scale, reference zero) and the one in
    progress with its fit."""
    result: dict[str, Any] = await _core(st, "calibration.status")
    return result


@router.get("/calibration/history")
async def calibration_history(st: State, who: Installer) -> list[dict[str, Any]]:
    """Every committed calibration, oldest first: version, time, installer, per-mount
    offset/scale and points."""
    result: list[dict[str, Any]] = await _core(st, "calibration.history")
    return result


@router.post("/calibration/tare")
async def tare(st: State, who: Installer) -> dict[str, Any]:
    """Start a calibration: 1 s of samples with nobody on the bars (refused when a sample is
    faulted or the spread is too wide)."""
    res: dict[str, Any] = await _core(st, "calibration.tare", slow=True)
    await _audit(st, who, "tare", None, {"draft.started_at": (None, res["started_at"])})
    return res


@router.post("/calibration/mounts/{name}/points")
async def mount_point(name: MountName, body: KnownKgIn, st: State,
                      who: Installer) -> dict[str, Any]:
    """Capture a point with ``known_kg`` hanging on mount ``name`` now (waits for a still
    reading)."""
    res: dict[str, Any] = await _core(st, "calibration.point",
                                      {"mount": name, "known_kg": body.known_kg}, slow=True)
    await _audit(st, who, "point", name, {f"draft.{name}": (None, body.known_kg)})
    return res


@router.post("/calibration/bars/{bar}/points")
async def bar_point(bar: MountName, body: BarPointIn, st: State,
                    who: Installer) -> dict[str, Any]:
    """Capture points with ``known_kg`` hanging on bar ``bar`` (its two mounts share it by
    the lever rule)."""
    res: dict[str, Any] = await _core(st, "calibration.bar_point",
                                      {"bar": bar, "known_kg": body.known_kg,
                                       "position": body.position}, slow=True)
    await _audit(st, who, "point", f"bar {bar}",
                 {f"draft.{p['mount']}": (None, p["known_kg"]) for p in res["points"]})
    return res


@router.get("/calibration/preview")
async def preview(st: State, who: Installer) -> dict[str, Any]:
    """The least-squares fit of the calibration in progress, residuals and problems."""
    result: dict[str, Any] = await _core(st, "calibration.preview")
    return result


@router.delete("/calibration/draft", status_code=204)
async def discard(st: State, who: Installer) -> None:
    """Drop the calibration in progress (the one in force is untouched)."""
    await _core(st, "calibration.discard")
    await _audit(st, who, "discard", None, {"draft": ("in progress", None)})


@router.post("/calibration/commit")
async def commit(body: CommitIn, st: State, who: Installer) -> dict[str, Any]:
    """Fit, check and persist the calibration in progress; it is in force at once.
    409 with the reason when a rule refuses it."""
    before = await _core(st, "calibration.status")
    res: dict[str, Any] = await _core(st, "calibration.commit", {"installer": body.installer},
                                      slow=True)
    old = before["in_force"]
    changes: dict[str, tuple[Any, Any]] = {
        "version": (old["version"], res["version"]),
        "installer": (None, body.installer),
    }
    for m, f in res["fit"]["mounts"].items():
        prev = old["mounts"].get(m, {})
        changes[f"{m}.offset"] = (prev.get("reference_zero"), f["offset"])
        changes[f"{m}.scale"] = (prev.get("scale"), f["scale"])
    await _audit(st, who, "commit", res["version"], changes)
    return res


@router.post("/calibration/verify")
async def verify(body: VerifyIn, st: State, who: Installer) -> dict[str, Any]:
    """Hang ``known_kg`` (on ``mount``, or anywhere for the total): per mount measured_kg,
    error_kg and error_pct."""
    res: dict[str, Any] = await _core(st, "calibration.verify",
                                      {"known_kg": body.known_kg, "mount": body.mount},
                                      slow=True)
    err = res["mounts"][body.mount] if body.mount else res["total"]
    await _audit(st, who, "verify", res["calibration_version"],
                 {f"error_pct.{body.mount or 'total'}": (None, err["error_pct"])})
    return res


@router.post("/calibration/retare")
async def retare(st: State, who: Installer) -> dict[str, Any]:
    """Re-zero for drift with the bars empty: the working zero moves (bounded), the reference
    zero that the safety rules use does not."""
    before = await _core(st, "calibration.status")
    res: dict[str, Any] = await _core(st, "calibration.retare", slow=True)
    after = await _core(st, "calibration.status")
    changes = {f"{m}.zero": (before["in_force"]["mounts"][m]["offset"],
                             after["in_force"]["mounts"][m]["offset"])
               for m in after["in_force"]["mounts"]}
    await _audit(st, who, "retare", res["calibration_version"], changes)
    return res


@router.get("/calibration/report")
async def report(st: State, who: Installer,
                 version: Annotated[int | None, Query(ge=1, le=2**31)] = None) -> dict[str, Any]:
    """The calibration report (the one in force, or ``version``) as JSON."""
    result: dict[str, Any] = await _core(st, "calibration.report", {"version": version})
    return result


@router.get("/calibration/report.html", response_model=None,
            responses={200: {"description": "the report page",
                             "content": {"text/html": {"schema": {"type": "string"}}}}})
async def report_html(st: State, who: Installer,
                      version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
                      ) -> HTMLResponse:
    """The same report as a printable page with a plot of points and fitted line per mount."""
    res = await _core(st, "calibration.report", {"version": version, "html": True})
    return HTMLResponse(res["html"])


async def weigh_in_therapist(st: ApiState, who: Principal, therapist_id: int,
                             lo_kg: float, hi_kg: float) -> dict[str, Any]:
    """The therapist hangs from the bars; the still bar load becomes their weight (audited).

    Used by ``POST /api/v1/therapists/{id}/weigh-in`` (clinician).
    """
    await run_in_threadpool(st.db.get_therapist, therapist_id)  # 404 before anyone hangs
    try:
        res = await st.core.request("weigh_in", {}, timeout=_slow_timeout(st, weigh_in=True))
    except IpcError as e:
        if e.code == "conflict":
            raise ApiError(409, e.message) from None
        raise
    w = float(res["weight_kg"])
    if not lo_kg <= w <= hi_kg:
        raise ApiError(409, f"weigh-in refused: {w:.1f} kg is outside the therapist weight "
                       f"range {lo_kg:g}-{hi_kg:g} kg")
    t = await run_in_threadpool(st.db.set_therapist_weight, who.actor, therapist_id, w)
    return {"weight_kg": w, "spread_kg": res["spread_kg"], "therapist": t}
