"""Credentials. Secret fields are write-only: requests may set them, responses never contain them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from gateway.schemas.common import RequestBody


class CredentialCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(
        min_length=1, max_length=64, description="A credential type from /api/credential-types."
    )
    data: dict[str, Any] = Field(default_factory=dict, description="Field values; checked against the type.")


class CredentialUpdate(RequestBody):
    """Rename and/or change fields; omitted fields (secrets included) keep their stored value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    data: dict[str, Any] | None = None


class CredentialPublic(BaseModel):
    id: str
    name: str
    type: str
    data: dict[str, Any] = Field(description="The non-secret field values.")
    secret_fields: list[str] = Field(description="Write-only fields that are set (values never returned).")
    created_at: dt.datetime
    updated_at: dt.datetime


class CredentialsPublic(BaseModel):
    data: list[CredentialPublic]
    count: int


class CredentialTestResult(BaseModel):
    ok: bool
    message: str


class CredentialTypePublic(BaseModel):
    type: str
    display_name: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    secret_fields: list[str]
    testable: bool


class CredentialTypesPublic(BaseModel):
    data: list[CredentialTypePublic]
    count: int
