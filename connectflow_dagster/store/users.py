"""Users, their roles, their sign-in sessions and their linked OAuth accounts.

Roles: the first account created through sign-up (e-mail or OAuth) is the **owner**; an **admin** is
set by the owner or named in ``CONNECTFLOW_ADMIN_EMAILS``; everyone else is a **member**. Owners and
admins are administrators (they see the Dagster UI, which shows every user's runs).

A session is a random token in an httpOnly cookie; the database keeps only its SHA-256, so a leaked
database does not sign anyone in. Passwords are argon2id hashes (``argon2-cffi`` defaults), rehashed
on sign-in when the parameters change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import ConnectFlowError, EmailTaken
from connectflow_dagster.store.models import AuthSession, OAuthAccount, User, utcnow

SESSION_TTL = dt.timedelta(days=14)

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong e-mail costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


OWNER, ADMIN, MEMBER = "owner", "admin", "member"
ROLES = (OWNER, ADMIN, MEMBER)
ADMIN_ROLES = frozenset({OWNER, ADMIN})


def has_owner(session: Session) -> bool:
    """Whether the installation's first account (its owner) exists yet."""
    return bool(session.scalar(select(exists().where(User.role == OWNER))))


def create_user(session: Session, email: str, password: str | None, name: str = "") -> User:
    """A new account; ``password`` None makes an account that signs in only through OAuth.

    The first account becomes the owner; a unique index on the owner role makes a race between two
    first sign-ups end with one owner and one member.
    """
    email = normalize_email(email)
    if get_user_by_email(session, email) is not None:
        raise EmailTaken("an account with this e-mail address already exists")
    role = MEMBER if has_owner(session) else OWNER
    user = User(
        email=email,
        name=name.strip() or email.split("@")[0],
        password_hash=hash_password(password) if password is not None else None,
        role=role,
    )
    if role == MEMBER:
        session.add(user)
        session.flush()
        return user
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        # Another sign-up took the owner role (or this e-mail) between the check and the insert.
        if get_user_by_email(session, email) is not None:
            raise EmailTaken("an account with this e-mail address already exists") from None
        user = User(email=user.email, name=user.name, password_hash=user.password_hash, role=MEMBER)
        session.add(user)
        session.flush()
    return user


def effective_role(user: User) -> str:
    """The user's role, raised to ``admin`` when ``CONNECTFLOW_ADMIN_EMAILS`` names their address.

    Read at every check, so adding or removing an address takes effect on the next request.
    """
    if user.role in ROLES and user.role != MEMBER:
        return user.role
    return ADMIN if normalize_email(user.email) in get_settings().admin_email_set else MEMBER


def is_admin(user: User) -> bool:
    """Owners and admins administer the installation (the Dagster UI shows every user's runs)."""
    return effective_role(user) in ADMIN_ROLES


def set_role(session: Session, user: User, role: str) -> None:
    """Make ``user`` an ``admin`` or a ``member``; the owner role is only ever the first account's."""
    if role not in (ADMIN, MEMBER):
        raise ValueError(f"role must be {ADMIN!r} or {MEMBER!r}")
    if user.role == OWNER:
        raise ValueError("the owner's role cannot be changed")
    user.role = role
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (timing does not reveal whether the e-mail exists)."""
    user = get_user_by_email(session, email)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return user


# ---- sessions --------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie; never stored
    csrf_token: str
    expires_at: dt.datetime


def create_session(session: Session, user: User, *, ttl: dt.timedelta = SESSION_TTL) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = utcnow() + ttl
    session.add(
        AuthSession(token_hash=token_hash(token), user_id=user.id, csrf_token=csrf, expires_at=expires)
    )
    session.flush()
    return NewSession(token, csrf, expires)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def session_user(session: Session, token: str) -> tuple[User, AuthSession] | None:
    """The user and session row of a cookie token, or None when unknown or expired."""
    if not token:
        return None
    row = session.get(AuthSession, token_hash(token))
    if row is None:
        return None
    if _aware(row.expires_at) <= utcnow():
        session.delete(row)
        session.flush()
        return None
    user = session.get(User, row.user_id)
    return (user, row) if user is not None else None


def end_session(session: Session, token: str) -> None:
    session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))


def purge_expired_sessions(session: Session) -> int:
    result = session.execute(delete(AuthSession).where(AuthSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- OAuth accounts --------------------------------------------------------------------------------


def user_for_oauth(
    session: Session,
    provider: str,
    subject: str,
    email: str | None,
    name: str,
    *,
    email_verified: bool,
    allow_new: bool = True,
) -> User:
    """The user linked to (provider, subject); links a verified e-mail's account, or creates one
    (only when ``allow_new``: the sign-up policy allows new accounts)."""
    account = session.scalar(
        select(OAuthAccount).where(OAuthAccount.provider == provider, OAuthAccount.subject == subject)
    )
    if account is not None:
        user = session.get(User, account.user_id)
        if user is not None:
            return user
    user = get_user_by_email(session, email) if email and email_verified else None
    if user is None:
        if not email:
            raise ConnectFlowError(f"{provider} did not share an e-mail address with ConnectFlow")
        if not email_verified:
            raise ConnectFlowError(f"the e-mail address of this {provider} account is not verified")
        if not allow_new:
            raise ConnectFlowError(
                "there is no account for this address: ask an administrator for an invitation"
            )
        user = create_user(session, email, None, name)
    session.add(OAuthAccount(user_id=user.id, provider=provider, subject=subject))
    session.flush()
    return user
