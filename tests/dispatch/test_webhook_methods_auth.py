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
