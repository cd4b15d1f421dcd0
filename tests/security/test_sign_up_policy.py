"""Finding 7: sign-up was always open, unthrottled, revealed registered addresses (409) and accepted
``password`` or eight spaces. Finding 8 (part): addresses with NUL or right-to-left overrides.

All through a live gateway; SQLite only, because "the first account is the owner" needs a database
of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.conftest import PASSWORD, LiveGateway


def _gateway(monkeypatch: pytest.MonkeyPatch, **env: str) -> LiveGateway:
    from gateway.app import create_app

    monkeypatch.delenv("CONNECTFLOW_SIGNUP", raising=False)  # tests/conftest.py opens it for other tests
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return LiveGateway(create_app())


@pytest.fixture
def default_policy(cf: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveGateway]:
    with _gateway(monkeypatch) as server:
        yield server


def _sign_in(live: LiveGateway, email: str, password: str = PASSWORD) -> Any:
    client = live.client()
    response = client.post("/api/auth/sign-in/email", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies.get("cf_csrf") or ""
    return client


def test_first_account_is_the_owner_then_sign_up_needs_an_invitation(default_policy):
    live = default_policy
    assert live.sign_up("owner@example.com").status_code == 202
    owner = _sign_in(live, "owner@example.com")
    assert owner.get("/api/auth/me").json()["role"] == "owner"

    # Without an invitation: one answer for every address, registered or not.
    stranger = live.sign_up("stranger@example.com")
    registered = live.sign_up("owner@example.com")
    assert stranger.status_code == registered.status_code == 403
    assert stranger.json() == registered.json() and "invitation" in stranger.json()["detail"]
    assert live.sign_up("bob@example.com", invitation="cf_inv_forged").status_code == 403

    created = owner.post("/api/invitations", json={"email": "Bob@Example.com"})
    assert created.status_code == 201, created.text
    token = created.json()["url"].split("invitation=", 1)[1]
    assert created.json()["url"].startswith(f"{live.url}/ui/sign-up?invitation=cf_inv_")
    listed = owner.get("/api/invitations").json()
    assert listed["count"] == 1 and listed["data"][0]["url"] is None  # the link is shown once

    assert live.sign_up("mallory@example.com", invitation=token).status_code == 403  # bound to Bob
    assert live.sign_up("bob@example.com", invitation=token).status_code == 202
    bob = _sign_in(live, "bob@example.com")
    assert bob.get("/api/auth/me").json()["role"] == "member"
    assert live.sign_up("carol@example.com", invitation=token).status_code == 403  # used once
    assert owner.get("/api/invitations").json()["data"][0]["used"] is True

    # Members cannot invite, list or revoke: 404 like another user's object.
    invitation_id = listed["data"][0]["id"]
    assert bob.post("/api/invitations", json={"email": "eve@example.com"}).status_code == 404
    assert bob.get("/api/invitations").status_code == 404
    assert bob.delete(f"/api/invitations/{invitation_id}").status_code == 404
    assert owner.delete(f"/api/invitations/{invitation_id}").status_code == 204
    assert live.client().get("/api/invitations").status_code == 401


def test_open_sign_up_answers_the_same_for_a_registered_address(cf, monkeypatch):
    with _gateway(monkeypatch, CONNECTFLOW_SIGNUP="open") as live:
        assert live.sign_up("ada@example.com").status_code == 202
        again = live.sign_up("ada@example.com", password="another long passphrase")
        fresh = live.sign_up("grace@example.com")
        assert again.status_code == fresh.status_code == 202
        assert again.json() == fresh.json()
        assert "set-cookie" not in again.headers and "set-cookie" not in fresh.headers
        # The registered account keeps its password; sign-in errors do not tell the cases apart.
        _sign_in(live, "ada@example.com")
        with live.client() as client:
            wrong = client.post(
                "/api/auth/sign-in/email", json={"email": "ada@example.com", "password": "x" * 9}
            )
            unknown = client.post(
                "/api/auth/sign-in/email", json={"email": "no@example.com", "password": "x" * 9}
            )
        assert wrong.status_code == unknown.status_code == 401 and wrong.json() == unknown.json()


def test_closed_sign_up_refuses_everyone_after_the_owner(cf, monkeypatch):
    with _gateway(monkeypatch, CONNECTFLOW_SIGNUP="closed") as live:
        assert live.sign_up("owner@example.com").status_code == 202
        owner = _sign_in(live, "owner@example.com")
        token = (
            owner.post("/api/invitations", json={"email": "bob@example.com"}).json()["url"].split("=", 1)[1]
        )
        refused = live.sign_up("bob@example.com", invitation=token)
        assert refused.status_code == 403 and "closed" in refused.json()["detail"]


def test_sign_up_is_throttled_per_client_address(cf, monkeypatch):
    with _gateway(monkeypatch, CONNECTFLOW_SIGNUP="open", CONNECTFLOW_SIGN_UP_ATTEMPTS="3") as live:
        statuses = [live.sign_up().status_code for _ in range(3)]
        assert statuses == [202, 202, 202]
        blocked = live.sign_up()
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    "password",
    [
        "password",
        " " * 8,
        "        x",
        "12345678",
        "aaaaaaaa",
        "abababab",
        "Password1",
        "ada@example.com",
        "adalovelace",
    ],
)
def test_common_and_trivial_passwords_are_refused(cf, monkeypatch, password):
    with _gateway(monkeypatch, CONNECTFLOW_SIGNUP="open") as live:
        response = live.sign_up(
            "adalovelace@example.com" if password == "adalovelace" else "ada@example.com", password
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "password"]
        assert "input" not in response.json()["detail"][0]  # the submitted password is never echoed


@pytest.mark.parametrize(
    "email",
    [
        "ada\x00@example.com",
        "ada@exa\x00mple.com",
        "evil\u202emoc.elgoog@example.com",
        "ad\u200ba@example.com",
    ],
)
def test_addresses_with_nul_or_direction_overrides_are_refused(cf, monkeypatch, email):
    with _gateway(monkeypatch, CONNECTFLOW_SIGNUP="open") as live:
        response = live.sign_up(email)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "email"]
        with live.client() as client:
            sign_in = client.post("/api/auth/sign-in/email", json={"email": email, "password": PASSWORD})
        assert sign_in.status_code == 422
