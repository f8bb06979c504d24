"""Rig settings: the warning thresholds and dwell times (DESIGN section 6) and mount capacities.

A change is validated against the config's ranges, refused during a session,
put in force in the core (which keeps it in its state directory across
restarts), then stored with one audit row per changed key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from rigctl.api.deps import AUTH_ERRORS, ApiError, Installer, State, error_responses
from rigctl.api.sync import effective_rig
from rigctl.ipc.protocol import IpcError
from rigctl.ipc.service import apply_rig_changes, rig_settings

router = APIRouter(prefix="/api/v1", tags=["rig"],
                   responses={**AUTH_ERRORS, **error_responses(409, 422, 503)})


class MountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity_kg: float


class RigOut(BaseModel):
    warning: dict[str, float]
    mounts: dict[str, MountSettings]


class RigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warning: dict[str, float] | None = None
    mounts: dict[str, MountSettings] | None = None


@router.get("/rig", response_model=RigOut)
def get_rig(st: State, who: Installer) -> dict[str, Any]:
    return effective_rig(st)


@router.patch("/rig", response_model=RigOut)
async def patch_rig(body: RigPatch, st: State, who: Installer) -> dict[str, Any]:
    current = await run_in_threadpool(effective_rig, st)
    changes: dict[str, Any] = {}
    if body.warning:
        for k in body.warning:
            if k not in current["warning"]:
                raise ApiError(422, f"warning.{k}: unknown setting; allowed: "
                               f"{', '.join(current['warning'])}", field=f"warning.{k}")
        changes["warning"] = {**current["warning"], **body.warning}
    if body.mounts:
        changes["mounts"] = {n: m.model_dump() for n, m in body.mounts.items()}
    base = st.config.model_copy()
    new_cfg = apply_rig_changes(base, {"warning": current["warning"],
                                       "mounts": current["mounts"]})
    new_cfg = apply_rig_changes(new_cfg, changes)  # raises 422 naming the field and range
    want = rig_settings(new_cfg)
    diff: dict[str, tuple[Any, Any]] = {}
    for k, v in want["warning"].items():
        if v != current["warning"][k]:
            diff[f"warning.{k}"] = (current["warning"][k], v)
    for name, m in want["mounts"].items():
        if m["capacity_kg"] != current["mounts"][name]["capacity_kg"]:
            diff[f"mounts.{name}.capacity_kg"] = (current["mounts"][name]["capacity_kg"],
                                                  m["capacity_kg"])
    if not diff:
        return current
    async with st.session_lock:
        try:
            await st.core.request("rig.set", want)
        except IpcError as e:
            if e.code == "conflict":
                raise ApiError(409, e.message) from None
            raise
        await run_in_threadpool(st.db.set_rig_overrides, who.actor, diff)
    return await run_in_threadpool(effective_rig, st)
