"""Therapists: a name and a body weight (the foot load is weight minus bar load)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rigctl.api.deps import AUTH_ERRORS, Clinician, Id, State, error_responses

router = APIRouter(prefix="/api/v1", tags=["therapists"],
                   responses={**AUTH_ERRORS, **error_responses(404, 422)})

THERAPIST_MIN_KG = 30.0
THERAPIST_MAX_KG = 250.0
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Weight = Annotated[float, Field(ge=THERAPIST_MIN_KG, le=THERAPIST_MAX_KG, allow_inf_nan=False,
                                description="kg, 30-250")]


class TherapistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    weight_kg: Weight


class TherapistOut(BaseModel):
    id: int
    name: str
    weight_kg: float
    created_at: str
    updated_at: str


@router.get("/therapists", response_model=list[TherapistOut])
def list_therapists(st: State, who: Clinician) -> list[dict[str, Any]]:
    return st.db.list_therapists()


@router.post("/therapists", response_model=TherapistOut, status_code=201)
def create_therapist(body: TherapistIn, st: State, who: Clinician) -> dict[str, Any]:
    return st.db.create_therapist(who.actor, body.name, body.weight_kg)


@router.get("/therapists/{therapist_id}", response_model=TherapistOut)
def get_therapist(therapist_id: Id, st: State, who: Clinician) -> dict[str, Any]:
    return st.db.get_therapist(therapist_id)


class WeighInOut(BaseModel):
    weight_kg: float
    spread_kg: float
    therapist: TherapistOut


@router.post("/therapists/{therapist_id}/weigh-in", status_code=200,
             response_model=WeighInOut, responses=error_responses(409, 503))
async def weigh_in(therapist_id: Id, st: State, who: Clinician) -> dict[str, Any]:
    """The therapist hangs fully from the bars, feet off the table: the still bar load
    (spread < 0.5 kg over 2 s, within 10 s, >= 30 kg) becomes their weight; 409 with the
    reason otherwise ("not stable: spread 2.3 kg - hang still with feet off the table")."""
    from rigctl.api.routes.calibration import weigh_in_therapist

    return await weigh_in_therapist(st, who, therapist_id, THERAPIST_MIN_KG, THERAPIST_MAX_KG)
