"""Personal access tokens: a user's credential for the management API, the CLI and notebooks.

A token is ``cf_pat_<12 hex>_<secret>`` (256 random bits), minted and checked by the same machinery
as API trigger keys (``store/keys.py``: ``mint_key`` / ``key_matches``): the database keeps the
public prefix and a keyed hash, so a stolen database yields no usable token, and the full token exists
only in the answer that created it. Every token has scopes, an expiry and can be revoked; each use
records ``last_used_at`` (at most once a minute, so reads do not turn into writes).

Scopes (what ``Authorization: Bearer cf_pat_…`` may do on the REST API):

=========  ===============================================================
``read``   GET: workflows, executions, credentials (never secrets), events
``write``  create, update and delete (POST/PUT/PATCH/DELETE)
``execute`` execute a workflow, retry or cancel an execution
=========  ===============================================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster.errors import TokenRejected
from connectflow_dagster.store.keys import key_matches, mint_key, public_prefix
from connectflow_dagster.store.models import PersonalAccessToken, User, utcnow

TOKEN_PREFIX = "cf_pat_"  # noqa: S105 (a public marker, not a secret)
_PURPOSE = "personal-access-token"
DEFAULT_LIFETIME = dt.timedelta(days=90)
MAX_LIFETIME = dt.timedelta(days=366)
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class Scope(StrEnum):
    """What a token may do (see the module docstring)."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"


ALL_SCOPES: tuple[Scope, ...] = (Scope.READ, Scope.WRITE, Scope.EXECUTE)


def token_scopes(row: PersonalAccessToken) -> list[Scope]:
    """The scopes of a stored token, in canonical order."""
    stored = set(row.scopes.split(","))
    return [s for s in ALL_SCOPES if s.value in stored]


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: ``token`` is the only copy of the secret, to be shown once."""

    row: PersonalAccessToken
    token: str


def create_token(
    session: Session,
    *,
    user_id: str,
    name: str = "",
    scopes: list[Scope] | tuple[Scope, ...] = ALL_SCOPES,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> NewToken:
    """Create a token for ``user_id``; raises ``ValueError`` for no scopes or a lifetime out of range."""
    wanted = {Scope(s) for s in scopes}
    if not wanted:
        raise ValueError("a token needs at least one scope")
    if not dt.timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"a token's lifetime must be between 1 minute and {MAX_LIFETIME.days} days")
    minted = mint_key(TOKEN_PREFIX, _PURPOSE)
    row = PersonalAccessToken(
        user_id=user_id,
        name=name,
        prefix=minted.prefix,
        token_hash=minted.key_hash,
        scopes=",".join(s.value for s in ALL_SCOPES if s in wanted),
        expires_at=utcnow() + lifetime,
    )
    session.add(row)
    session.flush()
    return NewToken(row, minted.key)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def is_token(presented: str) -> bool:
    """Whether a bearer credential looks like a personal access token (rather than, say, an API key)."""
    return presented.startswith(TOKEN_PREFIX)


def authenticate_token(session: Session, presented: str) -> tuple[User, PersonalAccessToken]:
    """The user and token row of a presented token; raises ``TokenRejected`` saying why not.

    Unknown and wrong-secret tokens get the same message; an expired or revoked token (whose secret
    matched) is named as such, so its holder knows to create a new one.
    """
    prefix = public_prefix(presented, TOKEN_PREFIX)
    row = (
        session.scalar(select(PersonalAccessToken).where(PersonalAccessToken.prefix == prefix))
        if prefix
        else None
    )
    if row is None or not key_matches(row.token_hash, presented, _PURPOSE):
        raise TokenRejected("invalid personal access token")
    if row.revoked_at is not None:
        raise TokenRejected(f"personal access token {row.prefix}… was revoked; create a new one")
    now = utcnow()
    if _aware(row.expires_at) <= now:
        raise TokenRejected(
            f"personal access token {row.prefix}… expired on {_aware(row.expires_at):%Y-%m-%d %H:%M} UTC; "
            "create a new one (`connectflow login`)"
        )
    user = session.get(User, row.user_id)
    if user is None:
        raise TokenRejected("invalid personal access token")
    if row.last_used_at is None or now - _aware(row.last_used_at) >= _LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.flush()
    return user, row


def list_tokens(session: Session, *, user_id: str) -> list[PersonalAccessToken]:
    """A user's tokens (revoked and expired included), newest first."""
    return list(
        session.scalars(
            select(PersonalAccessToken)
            .where(PersonalAccessToken.user_id == user_id)
            .order_by(PersonalAccessToken.created_at.desc(), PersonalAccessToken.id)
        )
    )


def revoke_token(session: Session, *, user_id: str, token_id: str) -> PersonalAccessToken | None:
    """Revoke one of the user's tokens (idempotent); None when it is not theirs or does not exist."""
    row = session.get(PersonalAccessToken, token_id)
    if row is None or row.user_id != user_id:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def token_state(row: PersonalAccessToken, now: dt.datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if row.revoked_at is not None:
        return "revoked"
    if _aware(row.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"
