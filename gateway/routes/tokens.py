"""``/api/tokens``: a user's personal access tokens — create (shown once), list, revoke.

A token is created by a person: from a signed-in session (the editor's Tokens page, or
``connectflow login`` after signing in with e-mail and password), never by another token, so a
token cannot mint itself wider scopes or a longer life. A token may revoke itself
(``DELETE /api/tokens/current``: what ``connectflow logout`` does). Another user's token id is 404.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from connectflow_dagster.store import tokens
from connectflow_dagster.store.models import PersonalAccessToken
from gateway.deps import TOKEN_SCOPE_EXTRA, CurrentUser, SessionDep
from gateway.schemas.common import RequestBody

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


class TokenCreate(RequestBody):
    name: str = Field(default="", max_length=200, description="What the token is for (e.g. 'laptop CLI').")
    scopes: list[tokens.Scope] = Field(
        default_factory=lambda: list(tokens.ALL_SCOPES),
        min_length=1,
        max_length=3,
        description="`read` (GET), `write` (create/update/delete), `execute` (execute/retry/cancel).",
    )
    expires_in_days: int = Field(
        default=tokens.DEFAULT_LIFETIME.days,
        ge=1,
        le=tokens.MAX_LIFETIME.days,
        description="Lifetime in days; the token stops working after it.",
    )


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The token's public beginning, to recognise it by.")
    scopes: list[tokens.Scope]
    state: str = Field(description="`active`, `expired` or `revoked`.")
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The full token. Shown only in this answer: store it now.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes for timezone-aware columns; they were written in UTC.
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _public(row: PersonalAccessToken) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": tokens.token_scopes(row),
        "state": tokens.token_state(row),
        "created_at": _utc(row.created_at),
        "expires_at": _utc(row.expires_at),
        "last_used_at": _utc(row.last_used_at),
        "revoked_at": _utc(row.revoked_at),
    }


@router.post("", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, request: Request, session: SessionDep, user: CurrentUser) -> TokenCreated:
    """Create a token for the signed-in user. The answer holds the only copy of the full token."""
    if request.state.token is not None:
        raise HTTPException(
            403,
            "tokens are created from a signed-in session (the editor or `connectflow login`), not by a token",
        )
    new = tokens.create_token(
        session,
        user_id=user.id,
        name=body.name,
        scopes=body.scopes,
        lifetime=dt.timedelta(days=body.expires_in_days),
    )
    session.commit()
    return TokenCreated(**_public(new.row), token=new.token)


@router.get("", response_model=TokensPublic)
def list_tokens(session: SessionDep, user: CurrentUser) -> TokensPublic:
    """The user's tokens (never their secrets), newest first, revoked and expired ones included."""
    rows = tokens.list_tokens(session, user_id=user.id)
    return TokensPublic(data=[TokenPublic(**_public(r)) for r in rows], count=len(rows))


@router.get("/current", response_model=TokenPublic, openapi_extra={TOKEN_SCOPE_EXTRA: "none"})
def current_token(request: Request, user: CurrentUser) -> TokenPublic:
    """The token this request was made with (404 for a cookie session)."""
    if request.state.token is None:
        raise HTTPException(404, "this request was not made with a personal access token")
    return TokenPublic(**_public(request.state.token))


@router.delete("/current", status_code=204, openapi_extra={TOKEN_SCOPE_EXTRA: "none"})
def revoke_current_token(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke the token this request was made with (any scope may do this: `connectflow logout`)."""
    token = request.state.token
    if token is None:
        raise HTTPException(404, "this request was not made with a personal access token")
    tokens.revoke_token(session, user_id=user.id, token_id=token.id)
    session.commit()
    return Response(status_code=204)


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke a token: requests with it get 401 from now on."""
    if tokens.revoke_token(session, user_id=user.id, token_id=token_id) is None:
        raise HTTPException(404, f"token '{token_id}' not found")
    session.commit()
    return Response(status_code=204)
