"""The audit log (admin): who changed which limit, clearance, rig setting or token, and when."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from rigctl.api.deps import AUTH_ERRORS, Admin, State, error_responses

router = APIRouter(prefix="/api/v1", tags=["audit"],
                   responses={**AUTH_ERRORS, **error_responses(422)})


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str | None
    field: str | None
    old_value: str | None
    new_value: str | None


@router.get("/audit", response_model=list[AuditOut])
def audit(st: State, who: Admin,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
          entity: Literal["client", "therapist", "rig", "token", "calibration"] | None = None,
          ) -> list[dict[str, Any]]:
    """Newest first."""
    return st.db.list_audit(limit, offset, entity)
