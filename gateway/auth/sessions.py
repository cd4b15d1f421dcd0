"""Session cookies: set on sign-in, cleared on sign-out, resolved to a user on each request."""

from __future__ import annotations

import datetime as dt

from fastapi import Request, Response

from connectflow_dagster.config import get_settings
from connectflow_dagster.store.models import User
from connectflow_dagster.store.users import NewSession, session_user

SESSION_COOKIE = "cf_session"
CSRF_COOKIE = "cf_csrf"


def cookies_secure(request: Request) -> bool:
    """Secure cookies when the browser reached us over https (directly, via a trusted proxy or the
    configured public URL), unless ``CONNECTFLOW_COOKIE_SECURE`` says otherwise."""
    configured = request.app.state.gateway_settings.cookie_secure
    if configured is not None:
        return bool(configured)
    public_url = get_settings().public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def set_session_cookies(request: Request, response: Response, new: NewSession) -> None:
    max_age = int((new.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    secure = cookies_secure(request)
    response.set_cookie(
        SESSION_COOKIE, new.token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    # Readable by the page on purpose: it is echoed in X-CSRF-Token (double submit).
    response.set_cookie(
        CSRF_COOKIE, new.csrf_token, max_age=max_age, httponly=False, samesite="lax", secure=secure, path="/"
    )


def clear_session_cookies(request: Request, response: Response) -> None:
    secure = cookies_secure(request)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="lax", secure=secure)


def user_from_session_token(token: str | None) -> User | None:
    """The signed-in user of a ``cf_session`` cookie value, or None (for code outside FastAPI routes,
    such as the Panel pages served by the same process)."""
    if not token:
        return None
    from connectflow_dagster.store.db import session_scope

    with session_scope() as session:
        found = session_user(session, token)
        if found is None:
            return None
        user = found[0]
        session.expunge(user)
        return user
