"""Dependencies routes declare with ``Annotated`` aliases::

    def handler(session: SessionDep, user: CurrentUser) -> ...

``SessionDep``   an app-database session; a route that writes calls ``session.commit()`` before it
                 answers, so a 2xx always means the write is durable (a failed commit becomes 503).
``CurrentUser``  the signed-in user (401 otherwise); on POST/PUT/PATCH/DELETE also checks CSRF (403).
``OptionalUser`` the signed-in user or None (no CSRF check: for reads and the auth routes).
``AdminUser``    the signed-in user when they are an administrator (owner, admin, or named in
                 ``CONNECTFLOW_ADMIN_EMAILS``); 404 for everyone else, so a member cannot even tell
                 an administrators' route exists (401 when signed out, CSRF as ``CurrentUser``).
``RegistryDep``  the node registry this app serves (the installed one unless a test passed another).
``InstanceDep``  the Dagster instance (run storage is the execution history).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from connectflow_dagster.registry import NodeRegistry
from connectflow_dagster.store.db import get_engine
from connectflow_dagster.store.models import AuthSession, User
from connectflow_dagster.store.users import is_admin, session_user
from gateway.auth.csrf import verify_csrf
from gateway.auth.sessions import SESSION_COOKIE


def get_session() -> Iterator[Session]:
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _signed_in(request: Request, session: Session) -> tuple[User, AuthSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    return session_user(session, token) if token else None


def get_current_user(request: Request, session: SessionDep) -> User:
    found = _signed_in(request, session)
    if found is None:
        raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": 'Cookie realm="connectflow"'})
    user, auth_session = found
    verify_csrf(request, auth_session)
    request.state.auth_session = auth_session
    return user


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    found = _signed_in(request, session)
    if found is None:
        return None
    request.state.auth_session = found[1]
    return found[0]


CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_admin_user(user: CurrentUser) -> User:
    """The signed-in administrator; 404 (not 403) for a member, as for another user's object."""
    if not is_admin(user):
        raise HTTPException(404, "not found")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


def get_registry_dep(request: Request) -> NodeRegistry:
    from connectflow_dagster.registry import get_registry

    return request.app.state.registry or get_registry()


RegistryDep = Annotated[NodeRegistry, Depends(get_registry_dep)]


def get_instance_dep() -> Any:
    from connectflow_dagster.instance import get_instance

    return get_instance()


InstanceDep = Annotated[Any, Depends(get_instance_dep)]
