"""GitHub and Google sign-in through authlib, enabled when a provider's client id and secret are set.

GitHub is plain OAuth 2 (the user and their verified e-mails come from its REST API); Google is
OpenID Connect (the ID token is verified against the provider's keys, and carries ``email_verified``).
A first sign-in links to the account with the same verified e-mail, or creates one.

The endpoints are configurable (``CONNECTFLOW_GITHUB_OAUTH_URL``, ``CONNECTFLOW_GITHUB_API_URL``,
``CONNECTFLOW_GOOGLE_DISCOVERY_URL``) for GitHub Enterprise, and so tests can run a local provider.
The OAuth ``state`` (and the OIDC nonce) travel in a short-lived signed cookie, ``cf_oauth_state``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401  (installs authlib's own "always" filter first, so ours wins)

with warnings.catch_warnings():
    # authlib announces its move to an "httpx2" package on import; nothing to act on here yet.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.settings import GatewaySettings

STATE_COOKIE = "cf_oauth_state"


def build_oauth(settings: GatewaySettings) -> OAuth:
    """An authlib registry with each configured provider."""
    oauth = OAuth()
    if "github" in settings.oauth_providers:
        assert settings.github_client_secret is not None
        base = settings.github_oauth_url.rstrip("/")
        oauth.register(
            "github",
            client_id=settings.github_client_id,
            client_secret=settings.github_client_secret.get_secret_value(),
            authorize_url=f"{base}/authorize",
            access_token_url=f"{base}/access_token",
            api_base_url=settings.github_api_url.rstrip("/") + "/",
            client_kwargs={"scope": "read:user user:email"},
        )
    if "google" in settings.oauth_providers:
        assert settings.google_client_secret is not None
        oauth.register(
            "google",
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            server_metadata_url=settings.google_discovery_url,
            client_kwargs={"scope": "openid email profile"},
        )
    return oauth


@dataclass(frozen=True)
class Identity:
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


async def fetch_identity(provider: str, client: Any, token: dict[str, Any]) -> Identity:
    """Who signed in, from the provider's answer to the token exchange."""
    if provider == "github":
        profile = (await client.get("user", token=token)).raise_for_status().json()
        emails = (await client.get("user/emails", token=token)).raise_for_status().json()
        chosen = next((e for e in emails if e.get("primary") and e.get("verified")), None) or next(
            (e for e in emails if e.get("verified")), None
        )
        return Identity(
            provider="github",
            subject=str(profile["id"]),
            email=chosen["email"] if chosen else profile.get("email"),
            email_verified=chosen is not None,
            name=profile.get("name") or profile.get("login") or "",
        )
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        raise ValueError("the provider's ID token has no subject")
    return Identity(
        provider=provider,
        subject=str(claims["sub"]),
        email=claims.get("email"),
        email_verified=bool(claims.get("email_verified")),
        name=claims.get("name") or "",
    )


class OAuthStateMiddleware:
    """Starlette's signed-cookie session, only on ``/api/auth/`` paths (where authlib keeps its state).

    Built on first use: its signing secret derives from the credential key ring, which is not read
    (or, in development, generated) until a request needs it.
    """

    def __init__(self, app: ASGIApp, *, https_only: bool = False) -> None:
        self.app = app
        self.https_only = https_only
        self._inner: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/auth/"):
            await self.app(scope, receive, send)
            return
        if self._inner is None:
            from connectflow_dagster.crypto import get_keyring

            self._inner = SessionMiddleware(
                self.app,
                secret_key=get_keyring().derive_secret("oauth-state").hex(),
                session_cookie=STATE_COOKIE,
                max_age=600,
                path="/api/auth",
                same_site="lax",
                https_only=self.https_only,
            )
        await self._inner(scope, receive, send)
