"""``/api/auth``: sign-up, sign-in and sign-out with e-mail and password; GitHub and Google sign-in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.integrations.starlette_client import OAuthError
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import ConnectFlowError
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.invitations import mark_used, usable_invitation
from connectflow_dagster.store.models import AuthSession, User
from connectflow_dagster.store.passwords import password_problem
from connectflow_dagster.store.users import (
    EmailTaken,
    authenticate,
    create_session,
    create_user,
    end_session,
    get_user_by_email,
    has_owner,
    hash_password,
    normalize_email,
    user_for_oauth,
)
from gateway.auth.csrf import verify_origin
from gateway.auth.oauth import fetch_identity
from gateway.auth.sessions import SESSION_COOKIE, clear_session_cookies, set_session_cookies
from gateway.deps import CurrentUser, OptionalUser, SessionDep
from gateway.schemas.auth import ProvidersPublic, SessionPublic, SignIn, SignUp, SignUpAccepted, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _session_public(user: User, auth_session: Any) -> SessionPublic:
    return SessionPublic(
        user=UserPublic.of(user),
        expires_at=auth_session.expires_at,
        csrf_token=auth_session.csrf_token,
    )


def _ttl(request: Request) -> dt.timedelta:
    return dt.timedelta(days=request.app.state.gateway_settings.session_days)


SIGN_UP_ACCEPTED = (
    "If this address can be used, its account is ready: sign in with it. "
    "If it already had an account, sign in with that account's password."
)


def _refuse_password(message: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", "password"], "msg": message, "type": "value_error"}])


@router.post("/sign-up/email", status_code=202, response_model=SignUpAccepted)
def sign_up(body: SignUp, request: Request, session: SessionDep) -> SignUpAccepted:
    """Create an account, then sign in with it.

    Who may sign up follows ``CONNECTFLOW_SIGNUP`` (the first account, the owner, always may); the
    answer is the same whether or not the address already had an account, and attempts are
    throttled per client address (429).
    """
    verify_origin(request)
    settings = request.app.state.gateway_settings
    limiter = request.app.state.sign_up_limiter
    key = [f"ip:{request.client.host if request.client else 'unknown'}"]
    wait = limiter.retry_after(key)
    if wait:
        raise HTTPException(
            429,
            f"too many sign-ups from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    limiter.failed(key)  # every attempt counts, successful or not
    invitation = None
    if has_owner(session):
        if settings.signup == "closed":
            raise HTTPException(
                403, "sign-up is closed: ask an administrator of this ConnectFlow for an account"
            )
        if settings.signup == "invite":
            invitation = usable_invitation(session, body.invitation, body.email)
            if invitation is None:
                raise HTTPException(
                    403, "sign-up needs a valid invitation for this address: ask an administrator for one"
                )
    problem = password_problem(body.password, body.email)
    if problem:
        raise _refuse_password(problem)
    if get_user_by_email(session, body.email) is not None:
        hash_password(body.password)  # the same work as a new account: timing does not tell them apart
        return SignUpAccepted(detail=SIGN_UP_ACCEPTED)
    try:
        user = create_user(session, body.email, body.password, body.name)
    except (EmailTaken, IntegrityError):  # created by a concurrent sign-up between the check and the insert
        session.rollback()
        return SignUpAccepted(detail=SIGN_UP_ACCEPTED)
    if invitation is not None:
        mark_used(session, invitation, user.id)
    session.commit()
    return SignUpAccepted(detail=SIGN_UP_ACCEPTED)


@router.post("/sign-in/email", response_model=SessionPublic)
def sign_in(body: SignIn, request: Request, response: Response, session: SessionDep) -> SessionPublic:
    """Sign in; failed attempts are throttled per e-mail and per client address (429)."""
    verify_origin(request)
    limiter = request.app.state.sign_in_limiter
    client = request.client.host if request.client else "unknown"
    keys = [f"email:{normalize_email(body.email)}", f"ip:{client}"]
    wait = limiter.retry_after(keys)
    if wait:
        raise HTTPException(
            429, f"too many failed sign-ins; try again in {wait} s", headers={"Retry-After": str(wait)}
        )
    user = authenticate(session, body.email, body.password)
    if user is None:
        limiter.failed(keys)
        raise HTTPException(401, "wrong e-mail or password")
    limiter.succeeded(keys[:1])
    new = create_session(session, user, ttl=_ttl(request))
    session.commit()
    set_session_cookies(request, response, new)
    return SessionPublic(
        user=UserPublic.of(user),
        expires_at=new.expires_at,
        csrf_token=new.csrf_token,
    )


@router.post("/sign-out", status_code=204)
def sign_out(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """End this session (the cookie stops working everywhere, not only in this browser tab)."""
    end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    session.commit()
    response = Response(status_code=204)
    clear_session_cookies(request, response)
    return response


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """The signed-in user (401 when signed out)."""
    return UserPublic.of(user)


@router.get("/session", response_model=SessionPublic)
def current_session(request: Request, user: OptionalUser) -> SessionPublic:
    """The signed-in user, the session's expiry and its CSRF token (401 when signed out)."""
    if user is None:
        raise HTTPException(401, "sign in first")
    auth_session: AuthSession = request.state.auth_session
    return _session_public(user, auth_session)


@router.get("/providers", response_model=ProvidersPublic)
def providers(request: Request) -> ProvidersPublic:
    """Social sign-in providers that are configured (``github``, ``google``)."""
    return ProvidersPublic(providers=request.app.state.gateway_settings.oauth_providers)


# ---- OAuth -------------------------------------------------------------------------------------------


def _client(request: Request, provider: str) -> Any:
    client = request.app.state.oauth.create_client(provider)
    if client is None:
        raise HTTPException(404, f"sign-in with '{provider}' is not configured")
    return client


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/ui/workflows"


def _callback_url(request: Request, provider: str) -> str:
    public_url = get_settings().public_url
    path = request.app.url_path_for("oauth_callback", provider=provider)
    return (
        f"{public_url.rstrip('/')}{path}"
        if public_url
        else str(request.url_for("oauth_callback", provider=provider))
    )


@router.get("/sign-in/{provider}", name="oauth_start", response_class=RedirectResponse, status_code=302)
async def oauth_start(provider: str, request: Request, next: str | None = None) -> Any:
    """Send the browser to the provider's consent page."""
    client = _client(request, provider)
    request.session["cf_next"] = _safe_next(next)
    return await client.authorize_redirect(request, _callback_url(request, provider))


@router.get("/callback/{provider}", name="oauth_callback", response_class=RedirectResponse, status_code=303)
async def oauth_callback(provider: str, request: Request) -> Any:
    """The provider sends the browser back here; sign the user in and continue to the app."""
    client = _client(request, provider)
    try:
        token = await client.authorize_access_token(request)
        identity = await fetch_identity(provider, client, token)
    except (OAuthError, ValueError, KeyError) as exc:
        raise HTTPException(400, f"{provider} sign-in failed: {exc}") from None

    signup_policy = request.app.state.gateway_settings.signup

    def sign_in_identity() -> Any:
        with session_scope() as session:
            user = user_for_oauth(
                session,
                identity.provider,
                identity.subject,
                identity.email,
                identity.name,
                email_verified=identity.email_verified,
                allow_new=signup_policy == "open" or not has_owner(session),
            )
            return create_session(session, user, ttl=_ttl(request))

    try:
        new = await run_in_threadpool(sign_in_identity)
    except ConnectFlowError as exc:
        raise HTTPException(400, str(exc)) from None
    response = RedirectResponse(_safe_next(request.session.pop("cf_next", None)), status_code=303)
    set_session_cookies(request, response, new)
    return response
