"""Accounts and sessions."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from connectflow_dagster.store.users import ADMIN_ROLES, effective_role
from gateway.schemas.common import RequestBody

_EMAIL_MAX = 320


# NUL and other control characters, bidi overrides (U+202E …), zero-width and format characters,
# surrogates and unassigned code points: none belongs in an address, several disguise one.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _check_email(value: str) -> str:
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value):
        raise ValueError("an e-mail address cannot contain control, formatting or direction characters")
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
    password: str = Field(
        min_length=8, max_length=256, description="At least 8 characters; common passwords are refused."
    )
    name: str = Field(default="", max_length=200)
    invitation: str | None = Field(
        default=None, max_length=200, description="The token of an administrator's invitation link."
    )


class SignUpAccepted(BaseModel):
    """The same answer whether or not the address already had an account (no enumeration)."""

    status: Literal["accepted"] = "accepted"
    detail: str


class InvitationCreate(RequestBody):
    email: Email


class InvitationPublic(BaseModel):
    id: str
    email: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used: bool
    url: str | None = Field(default=None, description="The sign-up link; only in the answer that created it.")


class InvitationsPublic(BaseModel):
    data: list[InvitationPublic]
    count: int


class SignIn(RequestBody):
    email: Email
    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    created_at: dt.datetime
    role: Literal["owner", "admin", "member"] = Field(
        description="owner (the first account), admin (set or named in CONNECTFLOW_ADMIN_EMAILS), member."
    )
    is_admin: bool = Field(description="Administrators see the Dagster UI at /dagster/.")

    @classmethod
    def of(cls, user: Any) -> UserPublic:
        """The public view of a ``User`` row, with its effective role."""
        role = effective_role(user)
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            role=role,  # type: ignore[arg-type]
            is_admin=role in ADMIN_ROLES,
        )


class SessionPublic(BaseModel):
    """The signed-in user; ``csrf_token`` goes into the ``X-CSRF-Token`` header of unsafe requests."""

    user: UserPublic
    expires_at: dt.datetime
    csrf_token: str


class ProvidersPublic(BaseModel):
    providers: list[str]
