"""``/api/credentials``: encrypted credentials of the signed-in user, and ``/api/credential-types``.

Responses carry the non-secret fields only; secret fields are listed by name, never by value.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Query, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.errors import ServiceUnreachable
from connectflow_dagster.nodes.base import CredentialType
from connectflow_dagster.registry import NodeRegistry
from connectflow_dagster.store import credentials as store
from connectflow_dagster.store.models import Credential
from connectflow_dagster.transport import new_http_client
from gateway.deps import CurrentUser, RegistryDep, SessionDep
from gateway.schemas.credentials import (
    CredentialCreate,
    CredentialPublic,
    CredentialsPublic,
    CredentialTestResult,
    CredentialTypePublic,
    CredentialTypesPublic,
    CredentialUpdate,
)

router = APIRouter(prefix="/api/credentials", tags=["credentials"])
types_router = APIRouter(prefix="/api/credential-types", tags=["credentials"])

TEST_TIMEOUT_SECONDS = 15.0
# One answer for refused, reset, timed out and "not the expected protocol": a credential test must not
# tell a user which ports are open on hosts the gateway can reach (issue 11, finding 2).
UNREACHABLE_MESSAGE = "could not reach the service: check the address (no answer from it)"


def _public(row: Credential, registry: NodeRegistry) -> CredentialPublic:
    try:
        secret_names = store.secret_field_names(store.credential_type(row.type, registry).fields)
    except store.UnknownCredentialType:
        secret_names = []
    return CredentialPublic(
        id=row.id,
        name=row.name,
        type=row.type,
        data=store.public_fields(row, registry),
        secret_fields=secret_names,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@types_router.get("", response_model=CredentialTypesPublic)
def list_credential_types(registry: RegistryDep) -> CredentialTypesPublic:
    """Every credential type the installed nodes declare, with the JSON Schema of its fields."""
    items = [
        CredentialTypePublic.model_validate(
            {
                "type": ct.type,
                "display_name": ct.display_name,
                "schema": ct.fields.model_json_schema(),
                "secret_fields": store.secret_field_names(ct.fields),
                "testable": ct.test is not None,
            }
        )
        for ct in sorted(registry.credential_types().values(), key=lambda c: c.type)
    ]
    return CredentialTypesPublic(data=items, count=len(items))


@router.post("", status_code=201, response_model=CredentialPublic)
def create_credential(
    body: CredentialCreate, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> CredentialPublic:
    """Store a credential, encrypted. ``data`` is checked against the type's fields (422 names the field)."""
    row = store.create_credential(session, user.id, body.name, body.type, body.data, registry=registry)
    session.commit()
    return _public(row, registry)


@router.get("", response_model=CredentialsPublic)
def list_credentials(
    session: SessionDep,
    user: CurrentUser,
    registry: RegistryDep,
    type: str | None = Query(default=None, max_length=64, description="Only this credential type."),
) -> CredentialsPublic:
    rows = store.list_credentials(session, user.id, type)
    return CredentialsPublic(data=[_public(r, registry) for r in rows], count=len(rows))


@router.get("/{credential_id}", response_model=CredentialPublic)
def get_credential(
    credential_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> CredentialPublic:
    return _public(store.get_credential(session, user.id, credential_id), registry)


@router.patch("/{credential_id}", response_model=CredentialPublic)
def update_credential(
    credential_id: str, body: CredentialUpdate, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> CredentialPublic:
    """Rename and/or change fields; omitted fields (secrets included) keep their stored values."""
    row = store.update_credential(
        session, user.id, credential_id, name=body.name, data=body.data, registry=registry
    )
    session.commit()
    return _public(row, registry)


@router.delete("/{credential_id}", status_code=204)
def delete_credential(credential_id: str, session: SessionDep, user: CurrentUser) -> Response:
    store.delete_credential(session, user.id, credential_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{credential_id}/test", response_model=CredentialTestResult)
async def test_credential(
    credential_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> CredentialTestResult:
    """Check the credential against its service (the type's connectivity test). Never echoes secrets."""
    row = await run_in_threadpool(store.get_credential, session, user.id, credential_id)
    ctype = store.credential_type(row.type, registry)
    if ctype.test is None:
        return CredentialTestResult(
            ok=True, message=f"'{ctype.display_name}' credentials have no connection test"
        )
    values = await run_in_threadpool(store.decrypt_for_owner, user.id, credential_id, row.type)
    return await run_in_threadpool(_run_test, ctype, values)


def _run_test(ctype: CredentialType, values: dict[str, Any]) -> CredentialTestResult:
    secrets = [str(v) for k, v in values.items() if k in store.secret_field_names(ctype.fields) and v]

    def scrub(text: str) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    try:
        fields = ctype.fields.model_validate(values)
    except ValidationError:
        return CredentialTestResult(ok=False, message="the stored fields no longer fit this credential type")
    assert ctype.test is not None
    try:
        with new_http_client(timeout=TEST_TIMEOUT_SECONDS) as client:
            message = ctype.test(fields, client)
    except (ServiceUnreachable, httpx.TransportError, OSError):
        return CredentialTestResult(ok=False, message=UNREACHABLE_MESSAGE)
    except Exception as exc:  # any failure of the service check is the answer, not a server error
        return CredentialTestResult(ok=False, message=scrub(str(exc) or type(exc).__name__))
    return CredentialTestResult(ok=True, message=scrub(str(message or "connected")))
