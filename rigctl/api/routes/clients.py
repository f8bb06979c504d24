"""Clients: a display name or pseudonym, the foot-load limit, cleared yes/no, notes.

The least data that serves (DESIGN section 7). Every change of a limit or of
the clearance is written to the audit log in the same transaction. A limit
changed while the client's session runs is pushed to the core first, so the
record never claims a limit that is not in force.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from rigctl.api.deps import AUTH_ERRORS, ApiError, ApiState, Clinician, Id, State, error_responses
from rigctl.api.routes.ease import SuggestionOut, client_suggestion

router = APIRouter(prefix="/api/v1", tags=["clients"],
                   responses={**AUTH_ERRORS, **error_responses(404, 409, 422, 503)})

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Notes = Annotated[str, StringConstraints(max_length=2000)]
Kg = Annotated[float, Field(allow_inf_nan=False, description="kg; the rig's allowed range "
                            "(default 5-120 kg, GET /api/v1/rig)")]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Name
    foot_load_limit_kg: Kg
    cleared: StrictBool = False
    notes: Notes = ""


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Name | None = None
    foot_load_limit_kg: Kg | None = None
    cleared: StrictBool | None = None
    notes: Notes | None = None


class ClientOut(BaseModel):
    id: int
    display_name: str
    foot_load_limit_kg: float
    cleared: bool
    notes: str
    created_at: str
    updated_at: str


class ClientDetailOut(ClientOut):
    suggested_limit_kg: float | None = Field(
        description="a limit learned from the client's comfort-button presses in past "
        "sessions, or null (the reason is in suggestion); never applied by itself: accept "
        "it by PATCHing foot_load_limit_kg")
    suggestion: SuggestionOut


def check_limit(st: ApiState, kg: float) -> None:
    lo, hi = st.limits
    if not math.isfinite(kg) or not lo <= kg <= hi:
        raise ApiError(422, f"foot_load_limit_kg: {kg:g} kg is outside the allowed range "
                       f"{lo:g}-{hi:g} kg", field="foot_load_limit_kg")


@router.get("/clients", response_model=list[ClientOut])
def list_clients(st: State, who: Clinician) -> list[dict[str, Any]]:
    return st.db.list_clients()


@router.post("/clients", response_model=ClientOut, status_code=201)
def create_client(body: ClientIn, st: State, who: Clinician) -> dict[str, Any]:
    check_limit(st, body.foot_load_limit_kg)
    return st.db.create_client(who.actor, body.display_name, body.foot_load_limit_kg,
                               body.cleared, body.notes)


@router.get("/clients/{client_id}", response_model=ClientDetailOut)
def get_client(client_id: Id, st: State, who: Clinician) -> dict[str, Any]:
    """The record, and the limit its comfort-button presses suggest (with the evidence)."""
    client = st.db.get_client(client_id)
    return {**client, **client_suggestion(st, client)}


@router.patch("/clients/{client_id}", response_model=ClientOut)
async def patch_client(client_id: Id, body: ClientPatch, st: State,
                       who: Clinician) -> dict[str, Any]:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    for k, v in changes.items():
        if v is None:
            raise ApiError(422, f"{k}: must not be null", field=k)
    old = await run_in_threadpool(st.db.get_client, client_id)
    new_limit = changes.get("foot_load_limit_kg")
    pushed = False
    if new_limit is not None:
        check_limit(st, new_limit)
        active = await run_in_threadpool(st.db.active_session)
        if (active is not None and active["client_id"] == client_id
                and new_limit != old["foot_load_limit_kg"]):
            await st.core.request("session.set_limit",
                                  {"session_id": active["id"], "limit_kg": new_limit})
            pushed = True
            await st.core.refresh_status()
    try:
        _, new = await run_in_threadpool(st.db.update_client, who.actor, client_id, changes)
    except Exception:
        if pushed and active is not None:  # keep core and record in agreement
            await st.core.request("session.set_limit", {"session_id": active["id"],
                                                        "limit_kg": old["foot_load_limit_kg"]})
        raise
    return new


@router.delete("/clients/{client_id}", status_code=204, response_model=None)
def delete_client(client_id: Id, st: State, who: Clinician) -> None:
    """Deletes the record; its past sessions stay, no longer linked to a name."""
    st.db.delete_client(who.actor, client_id)

