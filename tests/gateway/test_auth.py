"""Accounts: sign-up, sign-in, sign-out, session cookies, CSRF, throttling."""

from __future__ import annotations

from sqlalchemy import select

from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import AuthSession, User
from gateway.auth import user_from_session_token
from tests.gateway.conftest import PASSWORD


def _set_cookie_headers(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_sign_up_then_sign_in_sets_an_httponly_lax_session_cookie(gateway):
    browser = gateway.anonymous()
    response = browser.post(
        "/api/auth/sign-up/email", json={"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 202 and "set-cookie" not in response.headers  # not signed in yet
    response = browser.post(
        "/api/auth/sign-in/email", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "ada@example.com" and body["user"]["name"] == "Ada"
    cookies = _set_cookie_headers(response)
    session_cookie = cookies["cf_session"].lower()
    assert (
        "httponly" in session_cookie and "samesite=lax" in session_cookie and "secure" not in session_cookie
    )
    assert "httponly" not in cookies["cf_csrf"].lower()  # the page reads it for X-CSRF-Token
    assert browser.get("/api/auth/me").json()["email"] == "ada@example.com"
    with session_scope() as session:
        user = session.scalar(select(User).where(User.email == "ada@example.com"))
        assert user.password_hash.startswith("$argon2id$")
        stored = session.scalars(select(AuthSession.token_hash)).all()
    token = browser.client.cookies["cf_session"]
    assert token not in stored  # only a hash of the token is stored
    assert user_from_session_token(token).email == "ada@example.com"
    assert user_from_session_token("forged") is None


def test_cookies_are_secure_behind_https(gateway):
    browser = gateway.anonymous(base_url="https://testserver")
    account = {"email": "tls@example.com", "password": PASSWORD}
    assert browser.post("/api/auth/sign-up/email", json=account).status_code == 202
    response = browser.post("/api/auth/sign-in/email", json=account)
    assert response.status_code == 200
    assert all("secure" in c.lower() for c in _set_cookie_headers(response).values())


def test_sign_in_sign_out(gateway):
    ada = gateway.user(email="ada2@example.com")
    ada.post("/api/auth/sign-out")
    assert ada.get("/api/auth/me").status_code == 401
    wrong = ada.post("/api/auth/sign-in/email", json={"email": "ada2@example.com", "password": "not it"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong e-mail or password"
    unknown = ada.post("/api/auth/sign-in/email", json={"email": "nobody@example.com", "password": "not it"})
    assert unknown.status_code == 401 and unknown.json() == wrong.json()
    ok = ada.post("/api/auth/sign-in/email", json={"email": "ADA2@example.com", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["user"]["email"] == "ada2@example.com"
    old_token = ada.client.cookies["cf_session"]
    assert ada.get("/api/auth/session").json()["csrf_token"] == ada.client.cookies["cf_csrf"]
    assert ada.post("/api/auth/sign-out").status_code == 204
    assert user_from_session_token(old_token) is None  # ended on the server, not only in this browser


def test_sign_up_errors_name_the_field(gateway):
    browser = gateway.anonymous()
    bad = browser.post("/api/auth/sign-up/email", json={"email": "not-an-email", "password": PASSWORD})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "email"]
    short = browser.post("/api/auth/sign-up/email", json={"email": "a@example.com", "password": "Qz7!xw"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    assert "Qz7!xw" not in short.text  # the submitted password is not echoed
    gateway.user(email="taken@example.com")
    taken = browser.post("/api/auth/sign-up/email", json={"email": "taken@example.com", "password": PASSWORD})
    fresh = browser.post("/api/auth/sign-up/email", json={"email": "fresh@example.com", "password": PASSWORD})
    assert taken.status_code == fresh.status_code == 202 and taken.json() == fresh.json()  # no enumeration


def test_unsafe_requests_need_the_csrf_token(gateway):
    ada = gateway.user()
    without = ada.post("/api/workflows", json={}, csrf=False)
    assert without.status_code == 403 and "X-CSRF-Token" in without.json()["detail"]
    wrong = ada.post("/api/workflows", json={}, csrf=False, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    cross_site = ada.post("/api/workflows", json={}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    same_site = ada.post("/api/workflows", json={}, headers={"Origin": "http://testserver"})
    assert same_site.status_code == 201
    assert ada.get("/api/workflows", csrf=False).status_code == 200  # reads need no token
    assert ada.post("/api/auth/sign-out", csrf=False).status_code == 403
    # Sign-in from another site is refused too (login CSRF).
    other = gateway.anonymous()
    assert (
        other.post(
            "/api/auth/sign-in/email",
            json={"email": ada.email, "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        ).status_code
        == 403
    )


def test_failed_sign_ins_are_throttled(gateway):
    gateway.app.state.sign_in_limiter.attempts = 3
    ada = gateway.user(email="throttle@example.com")
    other = gateway.user(email="other@example.com")
    attacker = gateway.anonymous()
    for _ in range(3):
        r = attacker.post(
            "/api/auth/sign-in/email", json={"email": "throttle@example.com", "password": "guess"}
        )
        assert r.status_code == 401
    blocked = attacker.post(
        "/api/auth/sign-in/email", json={"email": "throttle@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # Existing sessions keep working; the guessing address is throttled for other accounts too.
    assert ada.get("/api/auth/me").status_code == 200
    other.post("/api/auth/sign-out")
    assert (
        other.post(
            "/api/auth/sign-in/email", json={"email": "other@example.com", "password": PASSWORD}
        ).status_code
        == 429
    )
    gateway.app.state.sign_in_limiter.window = 0  # the window has passed
    assert (
        ada.post("/api/auth/sign-in/email", json={"email": ada.email, "password": PASSWORD}).status_code
        == 200
    )


def test_signed_out_requests_get_401(gateway):
    browser = gateway.anonymous()
    for path in (
        "/api/workflows",
        "/api/credentials",
        "/api/executions",
        "/api/auth/me",
        "/api/auth/session",
    ):
        assert browser.get(path).status_code == 401, path
    assert browser.get("/api/auth/providers").json() == {"providers": []}
