"""Credentials: validated against their type's fields model, encrypted at rest, scoped to an owner.

The stored row holds a name, a type, a key id and an AES-GCM ciphertext of the field values (JSON);
nothing else. Reads that return a ``Credential`` never decrypt; ``public_fields`` gives the non-secret
values for display and ``decrypt_for_owner`` is the one way a running node gets the secrets.

Secret fields (``SecretStr`` in the type's fields model) are write-only: an update that omits one
keeps the stored value.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import SecretBytes, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster.crypto import DecryptionFailed, KeyRing, get_keyring
from connectflow_dagster.errors import (
    CredentialError,
    CredentialInvalid,
    NotFound,
    UnknownCredentialType,
)
from connectflow_dagster.nodes.base import CredentialFields, CredentialType
from connectflow_dagster.registry import NodeRegistry, get_registry
from connectflow_dagster.store.models import Credential, new_id, utcnow

__all__ = [
    "CredentialInvalid",
    "UnknownCredentialType",
    "create_credential",
    "credential_type",
    "decrypt_for_owner",
    "delete_credential",
    "get_credential",
    "list_credentials",
    "public_fields",
    "rotate_keys",
    "secret_field_names",
    "update_credential",
]


def credential_type(type_name: str, registry: NodeRegistry | None = None) -> CredentialType:
    known = (registry or get_registry()).credential_types()
    if type_name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise UnknownCredentialType(f"unknown credential type '{type_name}' (known types: {names})")
    return known[type_name]


def _is_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_secret(a) for a in typing.get_args(annotation))
    return False


def secret_field_names(fields: type[CredentialFields]) -> list[str]:
    """The write-only fields of a credential type (declared as ``SecretStr``)."""
    return [name for name, info in fields.model_fields.items() if _is_secret(info.annotation)]


def _validate(ctype: CredentialType, data: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON values of ``data`` checked against the type (secrets unwrapped for storage)."""
    try:
        model = ctype.fields.model_validate(data)
    except ValidationError as exc:
        raise CredentialInvalid(
            [
                {"field": ".".join(str(p) for p in err["loc"]) or "data", "message": err["msg"]}
                for err in exc.errors(include_input=False, include_url=False)
            ]
        ) from None
    plain: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr | SecretBytes):
            value = value.get_secret_value()
            if isinstance(value, bytes):
                value = value.decode()
        plain[name] = value
    return json.loads(json.dumps(plain, default=str))


def _associated_data(row: Credential) -> bytes:
    return f"connectflow-credential:{row.id}:{row.owner_id}:{row.type}".encode()


def _seal(row: Credential, values: dict[str, Any], keyring: KeyRing | None = None) -> None:
    key_id, ciphertext = (keyring or get_keyring()).encrypt(
        json.dumps(values, separators=(",", ":")).encode(), _associated_data(row)
    )
    row.key_id, row.ciphertext = key_id, ciphertext


def _open(row: Credential, keyring: KeyRing | None = None) -> dict[str, Any]:
    return json.loads((keyring or get_keyring()).decrypt(row.key_id, row.ciphertext, _associated_data(row)))


def create_credential(
    session: Session,
    owner_id: str,
    name: str,
    type: str,
    data: dict[str, Any],
    *,
    registry: NodeRegistry | None = None,
) -> Credential:
    """Validate ``data`` against the credential type and store it encrypted."""
    ctype = credential_type(type, registry)
    values = _validate(ctype, data)
    row = Credential(id=new_id(), owner_id=owner_id, name=name, type=type)
    _seal(row, values)
    session.add(row)
    session.flush()
    return row


def get_credential(session: Session, owner_id: str, credential_id: str) -> Credential:
    row = session.get(Credential, credential_id)
    if row is None or row.owner_id != owner_id:
        raise NotFound(f"credential '{credential_id}' not found")
    return row


def list_credentials(session: Session, owner_id: str, type: str | None = None) -> list[Credential]:
    query = select(Credential).where(Credential.owner_id == owner_id)
    if type:
        query = query.where(Credential.type == type)
    return list(session.scalars(query.order_by(Credential.name, Credential.id)))


def update_credential(
    session: Session,
    owner_id: str,
    credential_id: str,
    *,
    name: str | None = None,
    data: dict[str, Any] | None = None,
    registry: NodeRegistry | None = None,
) -> Credential:
    """Rename and/or change fields; ``data`` merges into the stored values (omitted fields are kept)."""
    row = get_credential(session, owner_id, credential_id)
    if name is not None:
        row.name = name
    if data is not None:
        ctype = credential_type(row.type, registry)
        merged = {**_open(row), **data}
        _seal(row, _validate(ctype, merged))
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_credential(session: Session, owner_id: str, credential_id: str) -> None:
    session.delete(get_credential(session, owner_id, credential_id))
    session.flush()


def public_fields(row: Credential, registry: NodeRegistry | None = None) -> dict[str, Any]:
    """The non-secret field values (for display); secret fields are left out entirely."""
    try:
        secrets = set(secret_field_names(credential_type(row.type, registry).fields))
    except UnknownCredentialType:
        return {}  # the plugin that declared it is gone: show nothing rather than guess
    return {k: v for k, v in _open(row).items() if k not in secrets}


def decrypt_for_owner(owner_id: str, credential_id: str, expected_type: str | None) -> dict[str, Any]:
    """The decrypted field values of ``owner_id``'s credential, for a running node.

    Raises ``CredentialError`` (never containing a secret) when the credential does not exist, belongs
    to someone else, is of another type, or cannot be decrypted.
    """
    from connectflow_dagster.store.db import session_scope

    with session_scope() as session:
        row = session.get(Credential, credential_id)
        if row is None or row.owner_id != owner_id:
            raise CredentialError(f"credential '{credential_id}' not found")
        if expected_type and row.type != expected_type:
            raise CredentialError(
                f"credential '{row.name}' is a '{row.type}' credential; this node needs '{expected_type}'"
            )
        try:
            return _open(row)
        except DecryptionFailed as exc:
            raise CredentialError(f"credential '{row.name}' cannot be decrypted: {exc}") from None


def rotate_keys(
    session: Session, new_key: str, *, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-encrypt every credential not yet under ``new_key``; returns how many were re-encrypted.

    Runs in the caller's transaction (commit once at the end, so a failure changes nothing). The rows
    are locked (``FOR UPDATE`` on PostgreSQL; SQLite's write lock does the same) so a concurrent
    update cannot be overwritten by a stale ciphertext. Decryption uses the current key ring plus
    ``new_key``, so old keys keep decrypting until the caller retires them.
    """
    keyring = get_keyring().with_primary(new_key)
    rows = list(
        session.scalars(
            select(Credential)
            .where(Credential.key_id != keyring.primary_id)
            .order_by(Credential.id)
            .with_for_update()
        )
    )
    for done, row in enumerate(rows, start=1):
        values = _open(row, keyring)
        _seal(row, values, keyring)
        if on_progress is not None:
            on_progress(done, len(rows))
    session.flush()
    return len(rows)
