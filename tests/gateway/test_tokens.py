"""Personal access tokens: ``/api/tokens`` and ``Authorization: Bearer cf_pat_…`` on the whole API."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import PersonalAccessToken
from tests.gateway.conftest import manual_workflow


def _token(user, **body) -> dict:
    created = user.post("/api/tokens", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _bearer(gateway, token: str):
    """A client with no cookies at all: only the token identifies it."""
    client = gateway.anonymous()
    client.client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_token_is_shown_once_hashed_at_rest_and_acts_as_its_user(gateway):
    ada = gateway.user()
    created = _token(ada, name="laptop")
    token = created["token"]
    prefix, _, secret = token.removeprefix("cf_pat_").partition("_")
    assert token.startswith(created["prefix"] + "_") and created["prefix"] == f"cf_pat_{prefix}"
    assert len(secret) >= 43  # token_urlsafe(32): 256 random bits
    assert created["scopes"] == ["read", "write", "execute"] and created["state"] == "active"
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)

    listed = ada.get("/api/tokens")
    assert listed.status_code == 200 and token not in listed.text and secret not in listed.text
    [row] = listed.json()["data"]
    assert row["id"] == created["id"] and row["prefix"] == created["prefix"] and "token" not in row
    assert row["last_used_at"] is None

    with session_scope() as session:
        stored = session.scalar(select(PersonalAccessToken).where(PersonalAccessToken.id == created["id"]))
        assert stored is not None
        columns = [str(getattr(stored, c.key)) for c in PersonalAccessToken.__table__.columns]
    assert not any(secret in value for value in columns)
    assert stored.token_hash != token and len(stored.token_hash) == 64

    me = _bearer(gateway, token).get("/api/auth/me")
    assert me.status_code == 200 and me.json()["id"] == ada.id
    assert ada.get("/api/tokens").json()["data"][0]["last_used_at"] is not None

    # No CSRF header with a bearer token; the workflow belongs to the token's user.
    made = _bearer(gateway, token).post("/api/workflows", json=manual_workflow(name="By token"))
    assert made.status_code == 201, made.text
    assert [w["name"] for w in ada.get("/api/workflows").json()["data"]] == ["By token"]
    # The cookie still needs its CSRF header.
    assert ada.post("/api/workflows", json=manual_workflow(), csrf=False).status_code == 403


@pytest.mark.parametrize(
    ("scopes", "can_read", "can_write", "can_execute"),
    [
        (["read"], True, False, False),
        (["write"], False, True, False),
        (["execute"], False, False, True),
        (["read", "execute"], True, False, True),
    ],
)
def test_scopes_limit_what_a_token_may_do(gateway, scopes, can_read, can_write, can_execute):
    ada = gateway.user()
    workflow = ada.post("/api/workflows", json=manual_workflow()).json()
    client = _bearer(gateway, _token(ada, scopes=scopes)["token"])

    read = client.get(f"/api/workflows/{workflow['id']}")
    assert read.status_code == (200 if can_read else 403), read.text
    if not can_read:
        assert "'read' scope" in read.json()["detail"]
    assert client.get("/api/executions").status_code == (200 if can_read else 403)

    write = client.patch(f"/api/workflows/{workflow['id']}", json={"name": "Renamed"})
    assert write.status_code == (200 if can_write else 403), write.text
    assert client.post("/api/workflows", json=manual_workflow()).status_code == (201 if can_write else 403)

    execute = client.post(f"/api/workflows/{workflow['id']}/execute", json={"input": {"order_id": 7}})
    assert execute.status_code == (202 if can_execute else 403), execute.text
    if can_execute:
        execution_id = execute.json()["execution_id"]
        gateway.wait(execution_id)
        assert ada.get(f"/api/executions/{execution_id}").json()["status"] == "success"
        assert client.post(f"/api/executions/{execution_id}/retry").status_code != 403


def test_expired_and_revoked_tokens_get_401_saying_why(gateway):
    ada = gateway.user()
    expired = _token(ada, name="old")
    revoked = _token(ada, name="lost")
    with session_scope() as session:
        session.execute(
            update(PersonalAccessToken)
            .where(PersonalAccessToken.id == expired["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert ada.delete(f"/api/tokens/{revoked['id']}").status_code == 204

    gone = _bearer(gateway, expired["token"]).get("/api/workflows")
    assert gone.status_code == 401 and "expired" in gone.json()["detail"]
    assert gone.headers["WWW-Authenticate"].startswith("Bearer")
    cut = _bearer(gateway, revoked["token"]).get("/api/workflows")
    assert cut.status_code == 401 and "revoked" in cut.json()["detail"]

    states = {t["name"]: t["state"] for t in ada.get("/api/tokens").json()["data"]}
    assert states == {"old": "expired", "lost": "revoked"}
    # A wrong secret behind a real prefix is just invalid (it does not learn the token's state).
    forged = revoked["prefix"] + "_" + "A" * 43
    assert _bearer(gateway, forged).get("/api/workflows").json()["detail"] == "invalid personal access token"


def test_another_users_token_is_404_and_invisible(gateway):
    ada, bob = gateway.user(), gateway.user()
    adas = _token(ada)
    assert bob.delete(f"/api/tokens/{adas['id']}").status_code == 404
    assert bob.get("/api/tokens").json() == {"data": [], "count": 0}
    # Bob's own token does not reach Ada's token either, and Ada's still works.
    bobs = _bearer(gateway, _token(bob)["token"])
    assert bobs.delete(f"/api/tokens/{adas['id']}").status_code == 404
    assert _bearer(gateway, adas["token"]).get("/api/auth/me").json()["id"] == ada.id
    # Ada's workflows are 404 with Bob's token, exactly as with his cookie.
    workflow = ada.post("/api/workflows", json=manual_workflow()).json()
    assert bobs.get(f"/api/workflows/{workflow['id']}").status_code == 404


def test_a_token_cannot_mint_tokens_but_can_revoke_itself(gateway):
    ada = gateway.user()
    created = _token(ada)
    client = _bearer(gateway, created["token"])
    refused = client.post("/api/tokens", json={"name": "wider"})
    assert refused.status_code == 403 and "signed-in session" in refused.json()["detail"]
    assert client.get("/api/tokens/current").json()["id"] == created["id"]
    assert ada.get("/api/tokens/current").status_code == 404  # a cookie session is not a token
    read_only = _bearer(gateway, _token(ada, scopes=["read"])["token"])
    assert read_only.delete("/api/tokens/current").status_code == 204  # any scope may log itself out
    assert read_only.get("/api/auth/me").status_code == 401
    assert client.delete("/api/tokens/current").status_code == 204
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ",
        "Bearer cf_pat_",
        "Bearer cf_pat_abc",
        "Bearer cf_pat_" + "0" * 12 + "_",
        "Bearer cf_pat_" + "0" * 12 + "_" + "x" * 5000,
        "Bearer cf_sk_0123456789ab_secret",
        "Basic YWRhOnBhc3N3b3Jk",
        "Bearer ' OR 1=1 --",
        "Bearer cf_pat_%00%00_\u00e9",
    ],
)
def test_malformed_authorization_headers_are_401(gateway, header):
    ada = gateway.user()
    client = gateway.anonymous()
    # Even next to a valid session cookie: a bearer that does not authenticate is never ignored.
    client.client.cookies.update(ada.client.cookies)
    response = client.request("GET", "/api/workflows", headers={"Authorization": header.encode("utf-8")})
    assert response.status_code == 401, response.text
    assert "cf_pat_" in response.json()["detail"] or "invalid" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": []},
        {"scopes": ["admin"]},
        {"scopes": ["read", "read", "read", "read"]},
        {"expires_in_days": 0},
        {"expires_in_days": 100_000},
        {"name": "x" * 201},
        {"user_id": "someone-else"},
        {"scopes": "read"},
    ],
)
def test_hostile_token_requests_are_422(gateway, body):
    ada = gateway.user()
    response = ada.post("/api/tokens", json=body)
    assert response.status_code == 422, response.text
    assert ada.get("/api/tokens").json()["count"] == 0


def test_openapi_documents_both_auth_schemes(gateway):
    schema = gateway.anonymous().get("/api/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["session"] == {
        **schemes["session"],
        "type": "apiKey",
        "in": "cookie",
        "name": "cf_session",
    }
    assert schemes["token"]["type"] == "http" and schemes["token"]["scheme"] == "bearer"
    execute = schema["paths"]["/api/workflows/{workflow_id}/execute"]["post"]
    assert execute["security"] == [{"session": []}, {"token": []}] and execute["x-token-scope"] == "execute"
    assert schema["paths"]["/api/workflows"]["get"]["x-token-scope"] == "read"
    assert schema["paths"]["/api/workflows"]["post"]["x-token-scope"] == "write"
    assert "security" not in schema["paths"]["/api/health"]["get"]
