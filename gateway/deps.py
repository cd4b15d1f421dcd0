"""Dependencies routes declare with ``Annotated`` aliases::

    def handler(session: SessionDep, user: CurrentUser) -> ...

``SessionDep``   an app-database session; a route that writes calls ``session.commit()`` before it
                 answers, so a 2xx always means the write is durable (a failed commit becomes 503).
``CurrentUser``  the caller: a session cookie (unsafe methods also need the CSRF header, else 403) or
                 ``Authorization: Bearer cf_pat_…`` (no CSRF: a browser never adds that header on its
                 own; the token's scopes must cover the route, else 403). 401 otherwise.
``OptionalUser`` the signed-in (cookie) user or None (no CSRF check: for reads and the auth routes).
``AdminUser``    the signed-in user when they are an administrator (owner, admin, or named in
                 ``CONNECTFLOW_ADMIN_EMAILS``); 404 for everyone else, so a member cannot even tell
                 an administrators' route exists (401 when signed out, CSRF as ``CurrentUser``).
``RegistryDep``  the node registry this app serves (the installed one unless a test passed another).
``InstanceDep``  the Dagster instance (run storage is the execution history).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from connectflow_dagster.registry import NodeRegistry
from connectflow_dagster.store.db import get_engine
from connectflow_dagster.store.models import AuthSession, User
from connectflow_dagster.store.tokens import Scope, TokenRejected, authenticate_token, is_token, token_scopes
from connectflow_dagster.store.users import is_admin, session_user
from gateway.auth.csrf import SAFE_METHODS, verify_csrf
from gateway.auth.sessions import SESSION_COOKIE


def get_session() -> Iterator[Session]:
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


# Both schemes are declared as FastAPI security dependencies so /api/docs documents them.
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    description="The editor's sign-in cookie (`POST /api/auth/sign-in/email`). POST, PUT, PATCH and "
    "DELETE also need the `X-CSRF-Token` header echoing the `cf_csrf` cookie.",
    auto_error=False,
)
token_scheme = HTTPBearer(
    scheme_name="token",
    bearerFormat="cf_pat_…",
    description="A personal access token (`POST /api/tokens`, the editor's Tokens page or "
    "`connectflow login`), limited to its scopes: `read` (GET), `write` (create, update, delete), "
    "`execute` (execute, retry, cancel). No CSRF header needed.",
    auto_error=False,
)

TOKEN_SCOPE_EXTRA = "x-token-scope"  # noqa: S105 (an OpenAPI extension name)
"""A route may declare the scope a token needs (``openapi_extra={TOKEN_SCOPE_EXTRA: "execute"}``, or
``"none"`` for what any valid token may do); otherwise ``required_scope`` derives it."""
_EXECUTE_ACTIONS = frozenset({"execute", "retry", "cancel"})


def required_scope(method: str, path: str, *, declared: str | None = None) -> Scope | None:
    """The token scope a request needs: the route's declaration, else ``read`` for GET/HEAD/OPTIONS,
    ``execute`` for ``…/execute``, ``…/retry`` and ``…/cancel``, ``write`` for every other change."""
    if declared:
        return None if declared == "none" else Scope(declared)
    if method.upper() in SAFE_METHODS:
        return Scope.READ
    if path.rstrip("/").rsplit("/", 1)[-1] in _EXECUTE_ACTIONS:
        return Scope.EXECUTE
    return Scope.WRITE


def _unauthorized(detail: str, scheme: str = "Bearer") -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": f'{scheme} realm="connectflow"'})


def _token_user(request: Request, session: Session, presented: str) -> User:
    if not is_token(presented):
        raise _unauthorized(
            "not a personal access token (cf_pat_…); API keys (cf_sk_…) only start their workflow "
            "at /api/trigger"
        )
    try:
        user, token = authenticate_token(session, presented)
    except TokenRejected as exc:
        raise _unauthorized(str(exc)) from None
    session.commit()  # last_used_at, even when the route itself only reads
    route = request.scope.get("route")
    declared = (getattr(route, "openapi_extra", None) or {}).get(TOKEN_SCOPE_EXTRA)
    needed = required_scope(request.method, getattr(route, "path", request.url.path), declared=declared)
    if needed is not None and needed not in token_scopes(token):
        raise HTTPException(403, f"this token lacks the '{needed}' scope this request needs")
    request.state.token = token
    return user


def _signed_in(request: Request, session: Session) -> tuple[User, AuthSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    return session_user(session, token) if token else None


def get_current_user(
    request: Request,
    session: SessionDep,
    _cookie: Annotated[str | None, Security(session_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(token_scheme)],
) -> User:
    """The caller, by bearer token or by session cookie (see the module docstring)."""
    request.state.token = None
    if bearer is not None:
        return _token_user(request, session, bearer.credentials.strip())
    if request.headers.get("authorization"):
        raise _unauthorized("send the token as `Authorization: Bearer cf_pat_…`")
    found = _signed_in(request, session)
    if found is None:
        raise _unauthorized("sign in first", scheme="Cookie")
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
