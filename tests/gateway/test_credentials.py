"""``/api/credentials``: secrets write-only, encrypted at rest, bound to their owner and row."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connectflow_dagster.crypto import DecryptionFailed
from connectflow_dagster.errors import CredentialError
from connectflow_dagster.store.credentials import _open, decrypt_for_owner
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import Credential

SECRET = "ping-secret-0b7d1f3a5c"


def _create(user, base_url="http://127.0.0.1:9", **data):
    body = {"name": "Ping", "type": "ping_api", "data": {"base_url": base_url, "api_key": SECRET, **data}}
    response = user.post("/api/credentials", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_credential_types_are_listed_with_their_schema(gateway):
    types = {t["type"]: t for t in gateway.user().get("/api/credential-types").json()["data"]}
    assert types["ping_api"]["secret_fields"] == ["api_key"] and types["ping_api"]["testable"] is True
    assert set(types["ping_api"]["schema"]["properties"]) == {"base_url", "api_key", "region"}


def test_create_list_get_update_delete(gateway):
    ada = gateway.user()
    cred = _create(ada)
    assert cred["data"] == {"base_url": "http://127.0.0.1:9", "region": "eu"}
    assert ada.get("/api/credentials?type=ping_api").json()["count"] == 1
    assert ada.get("/api/credentials?type=smtp").json()["count"] == 0
    assert ada.get(f"/api/credentials/{cred['id']}").json()["name"] == "Ping"
    # Omitted secret keeps its value; other fields change.
    updated = ada.patch(f"/api/credentials/{cred['id']}", json={"name": "Ping EU", "data": {"region": "us"}})
    assert updated.status_code == 200 and updated.json()["data"]["region"] == "us"
    assert decrypt_for_owner(ada.id, cred["id"], "ping_api") == {
        "base_url": "http://127.0.0.1:9",
        "api_key": SECRET,
        "region": "us",
    }
    ada.patch(f"/api/credentials/{cred['id']}", json={"data": {"api_key": "rotated-key-1234"}})
    assert decrypt_for_owner(ada.id, cred["id"], None)["api_key"] == "rotated-key-1234"
    assert ada.delete(f"/api/credentials/{cred['id']}").status_code == 204
    assert ada.get(f"/api/credentials/{cred['id']}").status_code == 404
    assert not any(SECRET in text for text in gateway.responses)


def test_invalid_credentials_name_the_field_and_never_echo_values(gateway):
    ada = gateway.user()
    missing = ada.post(
        "/api/credentials", json={"name": "x", "type": "ping_api", "data": {"api_key": SECRET}}
    )
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "data", "base_url"]
    extra = ada.post(
        "/api/credentials",
        json={"name": "x", "type": "ping_api", "data": {"base_url": "u", "api_key": SECRET, "bogus": SECRET}},
    )
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "data", "bogus"]
    unknown = ada.post("/api/credentials", json={"name": "x", "type": "nope", "data": {}})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "type"]
    assert "ping_api" in unknown.json()["detail"][0]["msg"]
    wrong = ada.post(
        "/api/credentials", json={"name": "x", "type": "ping_api", "data": {"base_url": 5, "api_key": 7}}
    )
    assert wrong.status_code == 422
    assert not any(SECRET in text for text in gateway.responses)


def test_connectivity_test_reports_failures_without_the_secret(gateway, http_server):
    ada = gateway.user()
    http_server.route("GET", "/ping", lambda req: (401, {}, {"error": "bad key"}))
    cred = _create(ada, base_url=http_server.url)
    result = ada.post(f"/api/credentials/{cred['id']}/test").json()
    assert result["ok"] is False and "***" in result["message"] and SECRET not in result["message"]
    http_server.route("GET", "/ping", lambda req: (200, {}, {"ok": True}))
    assert ada.post(f"/api/credentials/{cred['id']}/test").json() == {"ok": True, "message": "pong"}
    unreachable = _create(ada, base_url="http://127.0.0.1:9")
    assert ada.post(f"/api/credentials/{unreachable['id']}/test").json()["ok"] is False


def test_runtime_decryption_is_scoped_to_owner_and_type(gateway):
    ada, bob = gateway.user(), gateway.user()
    cred = _create(ada)
    with pytest.raises(CredentialError, match="not found") as err:
        decrypt_for_owner(bob.id, cred["id"], "ping_api")
    assert SECRET not in str(err.value)
    with pytest.raises(CredentialError, match="needs 'smtp'"):
        decrypt_for_owner(ada.id, cred["id"], "smtp")
    with pytest.raises(CredentialError, match="not found"):
        decrypt_for_owner(ada.id, "missing", None)


def test_a_ciphertext_copied_into_another_row_does_not_decrypt(gateway):
    ada, bob = gateway.user(), gateway.user()
    mine, theirs = _create(ada), _create(bob)
    with session_scope() as session:
        a = session.get(Credential, mine["id"])
        b = session.get(Credential, theirs["id"])
        b.ciphertext, b.key_id = a.ciphertext, a.key_id
    with session_scope() as session:
        row = session.scalar(select(Credential).where(Credential.id == theirs["id"]))
        with pytest.raises(DecryptionFailed):
            _open(row)
    with pytest.raises(CredentialError, match="cannot be decrypted"):
        decrypt_for_owner(bob.id, theirs["id"], None)
