"""GitHub and Google sign-in against a real local OAuth 2 / OpenID Connect provider on loopback.

The provider below speaks the documented shapes: Google's discovery document, authorization code
flow with an RS256-signed ID token (nonce, audience, issuer) and JWKS; GitHub's
``/login/oauth/authorize`` + ``/login/oauth/access_token`` and its REST ``/user`` and ``/user/emails``.
authlib in the gateway talks to it over HTTP; nothing is mocked.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import OAuthAccount
from gateway.app import create_app
from tests.conftest import LocalHTTPServer, Recorded
from tests.gateway.conftest import PASSWORD, Gateway, test_registry

CLIENT_ID, CLIENT_SECRET = "cf-test-client", "cf-test-client-secret"


@dataclass
class LocalProvider:
    server: LocalHTTPServer
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    person: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def install(self) -> None:
        s = self.server
        s.route("GET", "/.well-known/openid-configuration", self.discovery)
        s.route("GET", "/jwks", lambda r: (200, {}, {"keys": [self.key.as_dict(private=False)]}))
        s.route("GET", "/authorize", self.authorize)
        s.route("POST", "/token", self.token)
        s.route("GET", "/userinfo", self.userinfo)
        s.route("GET", "/login/oauth/authorize", self.authorize)
        s.route("POST", "/login/oauth/access_token", self.token)
        s.route("GET", "/api/user", self.github_user)
        s.route("GET", "/api/user/emails", self.github_emails)

    def discovery(self, _: Recorded):
        return (
            200,
            {},
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "userinfo_endpoint": f"{self.url}/userinfo",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            },
        )

    def authorize(self, rec: Recorded):
        query = {k: v[0] for k, v in parse_qs(urlsplit(rec.path).query).items()}
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce"),
            "scope": query.get("scope", ""),
        }
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": target}, b""

    def _client_ok(self, rec: Recorded, form: dict[str, str]) -> bool:
        import base64

        auth = rec.headers.get("authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return (user, password) == (CLIENT_ID, CLIENT_SECRET)
        return (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID, CLIENT_SECRET)

    def token(self, rec: Recorded):
        form = {k: v[0] for k, v in parse_qs(rec.body.decode()).items()}
        grant = self.codes.pop(form.get("code", ""), None)
        if not self._client_ok(rec, form):
            return 401, {}, {"error": "invalid_client"}
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {}, {"error": "invalid_grant"}
        access = secrets.token_urlsafe(16)
        self.tokens[access] = dict(self.person)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": grant["scope"],
        }
        if "openid" in grant["scope"]:
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": CLIENT_ID,
                "sub": self.person["sub"],
                "iat": now,
                "exp": now + 600,
                "nonce": grant["nonce"],
                "email": self.person["email"],
                "email_verified": self.person.get("email_verified", True),
                "name": self.person.get("name", ""),
            }
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        return 200, {}, body

    def _bearer(self, rec: Recorded) -> dict[str, Any] | None:
        return self.tokens.get(rec.headers.get("authorization", "").removeprefix("Bearer "))

    def userinfo(self, rec: Recorded):
        person = self._bearer(rec)
        return (200, {}, person) if person else (401, {}, {"error": "invalid_token"})

    def github_user(self, rec: Recorded):
        person = self._bearer(rec)
        if not person:
            return 401, {}, {"message": "Bad credentials"}
        return (
            200,
            {},
            {"id": int(person["sub"]), "login": person["login"], "name": person.get("name"), "email": None},
        )

    def github_emails(self, rec: Recorded):
        person = self._bearer(rec)
        if not person:
            return 401, {}, {"message": "Bad credentials"}
        return (
            200,
            {},
            [
                {"email": "old@example.com", "primary": False, "verified": True},
                {"email": person["email"], "primary": True, "verified": person.get("email_verified", True)},
            ],
        )


@pytest.fixture
def provider(http_server):
    p = LocalProvider(http_server)
    p.install()
    return p


@pytest.fixture
def oauth_gateway(cf, backend, provider, monkeypatch):
    monkeypatch.setenv("CONNECTFLOW_GOOGLE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CONNECTFLOW_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("CONNECTFLOW_GOOGLE_DISCOVERY_URL", f"{provider.url}/.well-known/openid-configuration")
    monkeypatch.setenv("CONNECTFLOW_GITHUB_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CONNECTFLOW_GITHUB_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("CONNECTFLOW_GITHUB_OAUTH_URL", f"{provider.url}/login/oauth")
    monkeypatch.setenv("CONNECTFLOW_GITHUB_API_URL", f"{provider.url}/api")
    app = create_app(registry=test_registry())
    with TestClient(app):
        yield Gateway(app, cf)


def _sign_in_with(browser, name: str, next_path: str | None = None) -> httpx.Response:
    """What a browser does: to the provider (which approves at once) and back to the gateway."""
    start = browser.get(
        f"/api/auth/sign-in/{name}" + (f"?next={next_path}" if next_path else ""), follow_redirects=False
    )
    assert start.status_code == 302, start.text
    consent = httpx.get(start.headers["location"], follow_redirects=False)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    return browser.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_google_sign_in_creates_an_account_and_signs_in(oauth_gateway, provider):
    provider.person = {"sub": "g-123", "email": "grace@example.com", "name": "Grace Hopper"}
    browser = oauth_gateway.anonymous()
    assert browser.get("/api/auth/providers").json() == {"providers": ["github", "google"]}
    done = _sign_in_with(browser, "google", "/ui/editor")
    assert done.status_code == 303 and done.headers["location"] == "/ui/editor"
    me = browser.get("/api/auth/me").json()
    assert me["email"] == "grace@example.com" and me["name"] == "Grace Hopper"
    # Again: the same account.
    again = oauth_gateway.anonymous()
    assert _sign_in_with(again, "google").headers["location"] == "/ui/workflows"
    assert again.get("/api/auth/me").json()["id"] == me["id"]
    with session_scope() as session:
        accounts = session.scalars(select(OAuthAccount).where(OAuthAccount.user_id == me["id"])).all()
        assert [(a.provider, a.subject) for a in accounts] == [("google", "g-123")]


def test_github_sign_in_links_to_the_account_with_the_same_verified_email(oauth_gateway, provider):
    existing = oauth_gateway.user(email="linus@example.com")
    provider.person = {"sub": "4242", "login": "linus", "email": "linus@example.com", "name": "Linus"}
    browser = oauth_gateway.anonymous()
    assert _sign_in_with(browser, "github").status_code == 303
    assert browser.get("/api/auth/me").json()["id"] == existing.id
    # The password still works for the same account.
    assert (
        browser.post(
            "/api/auth/sign-in/email", json={"email": "linus@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_unverified_emails_and_forged_callbacks_are_refused(oauth_gateway, provider):
    provider.person = {"sub": "g-9", "email": "mallory@example.com", "email_verified": False}
    browser = oauth_gateway.anonymous()
    refused = _sign_in_with(browser, "google")
    assert refused.status_code == 400 and "not verified" in refused.json()["detail"]
    assert browser.get("/api/auth/me").status_code == 401
    forged = oauth_gateway.anonymous().get(
        "/api/auth/callback/google?code=x&state=forged", follow_redirects=False
    )
    assert forged.status_code == 400
    assert (
        oauth_gateway.anonymous().get("/api/auth/sign-in/gitlab", follow_redirects=False).status_code == 404
    )


def test_providers_are_off_without_client_credentials(gateway):
    browser = gateway.anonymous()
    assert browser.get("/api/auth/providers").json() == {"providers": []}
    assert browser.get("/api/auth/sign-in/google", follow_redirects=False).status_code == 404
