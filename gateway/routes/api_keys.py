"""``/api/workflows/{id}/api-keys``: create (shown once), list (by prefix) and revoke API trigger keys.

Only the workflow's owner sees or changes its keys; anyone else gets 404, as for the workflow itself.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from connectflow_dagster.errors import NotFound
from connectflow_dagster.store import keys
from connectflow_dagster.store.models import ApiKey
from connectflow_dagster.store.workflows import get_workflow
from gateway.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/workflows/{workflow_id}/api-keys", tags=["api keys"])


class ApiKeyCreate(BaseModel):
    name: str = Field(default="", max_length=200, description="What the key is for.")


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's public beginning, to recognise it by.")
    workflow_id: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The full key. Shown only in this answer: store it now.")


class ApiKeysPublic(BaseModel):
    data: list[ApiKeyPublic]
    count: int


def _public(row: ApiKey) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "workflow_id": row.workflow_id,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


def _own_workflow(session: SessionDep, user: CurrentUser, workflow_id: str) -> None:
    try:
        get_workflow(session, user.id, workflow_id)
    except NotFound:
        raise HTTPException(404, f"workflow '{workflow_id}' not found") from None


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    workflow_id: str, body: ApiKeyCreate, session: SessionDep, user: CurrentUser
) -> ApiKeyCreated:
    """Create a key for this workflow. The answer holds the only copy of the full key."""
    _own_workflow(session, user, workflow_id)
    new = keys.create_api_key(session, owner_id=user.id, workflow_id=workflow_id, name=body.name)
    session.commit()
    return ApiKeyCreated(**_public(new.row), key=new.key)


@router.get("", response_model=ApiKeysPublic)
def list_api_keys(workflow_id: str, session: SessionDep, user: CurrentUser) -> ApiKeysPublic:
    _own_workflow(session, user, workflow_id)
    rows = keys.list_api_keys(session, owner_id=user.id, workflow_id=workflow_id)
    return ApiKeysPublic(data=[ApiKeyPublic(**_public(r)) for r in rows], count=len(rows))


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(workflow_id: str, key_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Revoke a key: calls with it get 401 from now on."""
    _own_workflow(session, user, workflow_id)
    if keys.revoke_api_key(session, owner_id=user.id, workflow_id=workflow_id, key_id=key_id) is None:
        raise HTTPException(404, f"API key '{key_id}' not found")
    session.commit()
    return Response(status_code=204)
