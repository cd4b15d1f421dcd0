"""The API trigger and its keys against the running gateway."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import ApiKey
from tests.dispatch.conftest import finished_execution, inbox_rows, save

pytestmark = pytest.mark.usefixtures("backend")


def api_workflow() -> dict:
    return {
        "name": "API → echo",
        "nodes": [
            {"id": "api", "type": "trigger.api", "name": "API"},
            {
                "id": "echo",
                "type": "set",
                "name": "Echo",
                "params": {"fields": {"got": "{{ api.order.id }}"}},
            },
        ],
        "edges": [{"source": "api", "target": "echo"}],
    }


@pytest.fixture
def keyed(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(api_workflow(), owner.user_id)
    created = owner.post(f"/api/workflows/{wid}/api-keys", json={"name": "shop backend"})
    assert created.status_code == 201, created.text
    return wid, owner, created.json()


def call(client, key: str | None, payload=None, **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(
        "/api/trigger", json=payload if payload is not None else {"order": {"id": 7}}, headers=headers
    )


def test_keys_are_random_shown_once_and_stored_only_as_a_keyed_hash(cf, live_gateway, keyed):
    wid, owner, created = keyed
    key = created["key"]
    assert key.startswith(created["prefix"] + "_") and created["prefix"].startswith("cf_sk_")
    secret_part = key[len(created["prefix"]) + 1 :]
    assert len(base64.urlsafe_b64decode(secret_part + "=" * (-len(secret_part) % 4))) >= 32
    listed = owner.get(f"/api/workflows/{wid}/api-keys")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1 and listed.json()["data"][0]["prefix"] == created["prefix"]
    assert key not in listed.text and secret_part not in listed.text
    with session_scope() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == created["id"]))
        assert secret_part not in json.dumps([row.prefix, row.key_hash, row.name])
    other_key = owner.post(f"/api/workflows/{wid}/api-keys", json={}).json()["key"]
    assert other_key != key


def test_a_call_runs_the_workflow_with_the_payload_and_an_idempotency_key_runs_it_once(
    cf, live_gateway, worker_thread, keyed
):
    wid, _, created = keyed
    client = live_gateway.client()
    first = call(client, created["key"], {"order": {"id": 42}}, **{"Idempotency-Key": "order-42"})
    assert first.status_code == 202, first.text
    again = call(client, created["key"], {"order": {"id": 42}}, **{"Idempotency-Key": "order-42"})
    assert again.status_code == 200 and again.json()["execution_id"] == first.json()["execution_id"]
    plain = call(client, created["key"])
    assert plain.status_code == 202

    execution = finished_execution(cf, first.json()["execution_id"])
    assert execution.status == "success", execution.error
    assert execution.context["api"] == {"order": {"id": 42}}
    assert execution.context["echo"] == {"got": 42}
    assert len(inbox_rows(wid)) == 2
    assert created["key"] not in json.dumps(cf.instance.get_run_by_id(execution.id).tags)


def test_missing_wrong_and_revoked_keys_are_401(cf, live_gateway, keyed):
    wid, owner, created = keyed
    client = live_gateway.client()
    assert call(client, None).status_code == 401
    assert call(client, "cf_sk_000000000000_" + "x" * 43).status_code == 401
    assert call(client, created["key"][:-2] + "zz").status_code == 401
    assert owner.delete(f"/api/workflows/{wid}/api-keys/{created['id']}").status_code == 204
    assert call(client, created["key"]).status_code == 401
    listed = owner.get(f"/api/workflows/{wid}/api-keys").json()["data"]
    assert listed[0]["revoked_at"] is not None
    assert inbox_rows(wid) == []


def test_bad_bodies_are_refused_and_store_nothing(cf, live_gateway, keyed):
    wid, _, created = keyed
    client = live_gateway.client()
    auth = {"Authorization": f"Bearer {created['key']}"}
    assert (
        client.post(
            "/api/trigger", content=b"{nope", headers={**auth, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/trigger", content=b"a=1", headers={**auth, "Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    big = b'{"x": "' + b"a" * (1024 * 1024 + 1) + b'"}'
    assert (
        client.post(
            "/api/trigger", content=big, headers={**auth, "Content-Type": "application/json"}
        ).status_code
        == 413
    )
    assert inbox_rows(wid) == []


def test_a_deleted_workflow_is_404(cf, live_gateway, keyed):
    wid, owner, created = keyed
    assert owner.delete(f"/api/workflows/{wid}").status_code in (200, 204)
    assert call(live_gateway.client(), created["key"]).status_code == 404
    assert inbox_rows(wid) == []


def test_key_routes_are_owner_scoped(cf, live_gateway, keyed):
    wid, _, created = keyed
    other = live_gateway.user()
    assert other.get(f"/api/workflows/{wid}/api-keys").status_code == 404
    assert other.post(f"/api/workflows/{wid}/api-keys", json={}).status_code == 404
    assert other.delete(f"/api/workflows/{wid}/api-keys/{created['id']}").status_code == 404
    assert call(live_gateway.client(), created["key"]).status_code == 202
