"""Webhook triggers: HTTP methods as configured, and basic / header authentication."""

from __future__ import annotations

import pytest

from tests.dispatch.conftest import finished_execution, inbox_rows, save

pytestmark = pytest.mark.usefixtures("backend")


def method_workflow() -> dict:
    """Two webhook nodes on one path: GET looks an order up, DELETE/PUT cancel it."""
    return {
        "name": "Methods",
        "nodes": [
            {
                "id": "lookup",
                "type": "trigger.webhook",
                "name": "Lookup",
                "params": {"path": "orders", "methods": ["GET", "HEAD"]},
            },
            {
                "id": "change",
                "type": "trigger.webhook",
                "name": "Change",
                "params": {"path": "orders", "methods": ["PUT", "DELETE"]},
            },
            {"id": "seen", "type": "set", "name": "Seen", "params": {"fields": {"m": "{{ lookup.method }}"}}},
            {"id": "did", "type": "set", "name": "Did", "params": {"fields": {"m": "{{ change.method }}"}}},
        ],
        "edges": [{"source": "lookup", "target": "seen"}, {"source": "change", "target": "did"}],
    }


def test_each_webhook_answers_its_methods_and_others_are_404(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    wid, _ = save(method_workflow(), owner.user_id)
    client = live_gateway.client()
    url = f"/api/webhooks/{wid}/orders"
    got = client.get(url + "?id=7")
    assert got.status_code == 202, got.text
    execution = finished_execution(cf, got.json()["execution_id"])
    assert execution.trigger == "lookup" and execution.context["lookup"]["query"] == {"id": "7"}
    assert execution.context["seen"] == {"m": "GET"}
    deleted = client.delete(url)
    assert deleted.status_code == 202
    assert finished_execution(cf, deleted.json()["execution_id"]).context["did"] == {"m": "DELETE"}
    put = client.put(url, json={"status": "shipped"})
    assert finished_execution(cf, put.json()["execution_id"]).context["change"]["body"] == {
        "status": "shipped"
    }
    assert client.head(url).status_code == 202 and client.head(url).content == b""
    # POST is nobody's method here; PATCH neither.
    assert client.post(url, json={}).status_code == 404
    assert client.patch(url, json={}).status_code == 404
    assert len(inbox_rows(wid)) == 5


def auth_workflow(kind: str, credential_id: str | None) -> dict:
    return {
        "name": f"{kind} auth",
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "name": "Webhook",
                "credential_id": credential_id,
                "params": {"path": "in", "authentication": kind},
            },
            {
                "id": "ok",
                "type": "set",
                "name": "Ok",
                "params": {"fields": {"h": "{{ webhook.headers | json }}"}},
            },
        ],
        "edges": [{"source": "hook", "target": "ok"}],
    }


def test_basic_and_header_auth_with_stored_credentials(cf, live_gateway, worker_thread):
    import base64

    owner = live_gateway.user()
    basic = owner.post(
        "/api/credentials",
        json={
            "name": "hook basic",
            "type": "http_basic_auth",
            "data": {"username": "shop", "password": "pässwörd-1"},
        },
    )
    assert basic.status_code == 201, basic.text
    header = owner.post(
        "/api/credentials",
        json={
            "name": "hook key",
            "type": "http_header_auth",
            "data": {"name": "X-Api-Key", "value": "k-123456789"},
        },
    )
    basic_wid, _ = save(auth_workflow("basic", basic.json()["id"]), owner.user_id)
    header_wid, _ = save(auth_workflow("header", header.json()["id"]), owner.user_id)
    client = live_gateway.client()

    def b64(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    url = f"/api/webhooks/{basic_wid}/in"
    missing = client.post(url, json={})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    assert client.post(url, json={}, headers={"Authorization": b64("shop:wrong")}).status_code == 403
    assert client.post(url, json={}, headers={"Authorization": b64("other:pässwörd-1")}).status_code == 403
    assert client.post(url, json={}, headers={"Authorization": "Basic %%%not-base64"}).status_code == 403
    ok = client.post(url, json={}, headers={"Authorization": b64("shop:pässwörd-1")})
    assert ok.status_code == 202, ok.text
    assert (
        "authorization" not in finished_execution(cf, ok.json()["execution_id"]).context["webhook"]["headers"]
    )

    url = f"/api/webhooks/{header_wid}/in"
    assert client.post(url, json={}).status_code == 401
    assert client.post(url, json={}, headers={"X-Api-Key": "k-12345678"}).status_code == 403
    ok = client.post(url, json={}, headers={"X-Api-Key": "k-123456789"})
    assert ok.status_code == 202
    execution = finished_execution(cf, ok.json()["execution_id"])
    assert "x-api-key" not in execution.context["webhook"]["headers"]
    assert "k-123456789" not in str(execution.context)
    # Unknown workflows stay 404 whatever is presented; refused calls stored nothing.
    assert client.post("/api/webhooks/nope/in", json={}, headers={"X-Api-Key": "k"}).status_code == 404
    assert len(inbox_rows(basic_wid)) == 1 and len(inbox_rows(header_wid)) == 1


def test_a_webhook_asking_for_auth_needs_a_credential_and_another_users_credential_never_works(
    cf, live_gateway
):
    owner, other = live_gateway.user(), live_gateway.user()
    theirs = other.post(
        "/api/credentials",
        json={
            "name": "theirs",
            "type": "http_header_auth",
            "data": {"name": "X-Key", "value": "their-secret"},
        },
    ).json()["id"]
    created = owner.post("/api/workflows", json=auth_workflow("header", None))
    assert created.status_code == 201
    assert any(p["field"] == "credential_id" for p in created.json()["problems"])
    wid, _ = save(auth_workflow("header", theirs), owner.user_id)  # saved around the API's check
    refused = live_gateway.client().post(
        f"/api/webhooks/{wid}/in", json={}, headers={"X-Key": "their-secret"}
    )
    assert refused.status_code == 500 and "their-secret" not in refused.text
    assert inbox_rows(wid) == []
