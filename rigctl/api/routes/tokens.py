"""Tokens (admin): create (the token is shown once, only its hash is kept), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from rigctl.api.deps import AUTH_ERRORS, Admin, Id, State, error_responses

router = APIRouter(prefix="/api/v1", tags=["tokens"],
                   responses={**AUTH_ERRORS, **error_responses(404, 422)})

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["viewer", "clinician", "installer", "admin"]
    name: Name


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None


class NewTokenOut(TokenOut):
    token: str


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(st: State, who: Admin) -> list[dict[str, Any]]:
    return st.db.list_tokens()


@router.post("/tokens", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, st: State, who: Admin) -> dict[str, Any]:
    """The new token is in the answer once; it cannot be read back later."""
    row, token = st.db.create_token(who.actor, body.role, body.name)
    return {**row, "token": token}


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: Id, st: State, who: Admin) -> dict[str, Any]:
    return st.db.revoke_token(who.actor, token_id)
