"""Accounts and sessions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from gateway.schemas.common import RequestBody

_EMAIL_MAX = 320


def _check_email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise ValueError("enter an e-mail address like name@example.com")
    if any(c.isspace() for c in value):
        raise ValueError("an e-mail address cannot contain spaces")
    return value


Email = Annotated[str, Field(min_length=3, max_length=_EMAIL_MAX), AfterValidator(_check_email)]


class SignUp(RequestBody):
    email: Email
    password: str = Field(min_length=8, max_length=256, description="At least 8 characters.")
    name: str = Field(default="", max_length=200)


class SignIn(RequestBody):
    email: Email
    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    created_at: dt.datetime


class SessionPublic(BaseModel):
    """The signed-in user; ``csrf_token`` goes into the ``X-CSRF-Token`` header of unsafe requests."""

    user: UserPublic
    expires_at: dt.datetime
    csrf_token: str


class ProvidersPublic(BaseModel):
    providers: list[str]
