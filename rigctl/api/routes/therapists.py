"""Therapists: a name and a body weight (the foot load is weight minus bar load)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rigctl.api.deps import AUTH_ERRORS, ApiError, Clinician, Id, State, error_responses

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


@router.post("/therapists/{therapist_id}/weigh-in", status_code=200,
             responses=error_responses(501))
def weigh_in(therapist_id: Id, st: State, who: Clinician) -> dict[str, Any]:
    """Weigh the therapist hanging from the bars: comes with the calibration feature (501)."""
    st.db.get_therapist(therapist_id)
    raise ApiError(501, "weigh-in needs calibration support, which this build does not have "
                   "yet; enter weight_kg when creating the therapist")
