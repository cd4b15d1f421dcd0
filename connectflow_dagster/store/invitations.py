"""Invitations to sign up: created by administrators, bound to one address, used once, expiring.

The token goes into the sign-up link (``/ui/sign-up?invitation=…``) and is shown once; the database
keeps only its SHA-256, like session tokens.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster.store.models import Invitation, utcnow
from connectflow_dagster.store.users import normalize_email, token_hash

INVITATION_TTL = dt.timedelta(days=7)


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # goes into the link; never stored


def create_invitation(
    session: Session, created_by: str, email: str, *, ttl: dt.timedelta = INVITATION_TTL
) -> NewInvitation:
    """A new invitation for ``email``; the token is returned once."""
    token = "cf_inv_" + secrets.token_urlsafe(32)
    row = Invitation(
        token_hash=token_hash(token),
        email=normalize_email(email),
        created_by=created_by,
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    session.flush()
    return NewInvitation(row, token)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def usable_invitation(session: Session, token: str | None, email: str) -> Invitation | None:
    """The unused, unexpired invitation of ``token`` when it was made for ``email``, else None."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if row is None or row.used_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    return row if row.email == normalize_email(email) else None


def mark_used(session: Session, invitation: Invitation, user_id: str) -> None:
    invitation.used_at = utcnow()
    invitation.used_by = user_id
    session.flush()


def list_invitations(session: Session) -> list[Invitation]:
    """Every invitation, newest first (administrators see all of them)."""
    return list(session.scalars(select(Invitation).order_by(Invitation.created_at.desc())))


def delete_invitation(session: Session, invitation_id: str) -> bool:
    row = session.get(Invitation, invitation_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
