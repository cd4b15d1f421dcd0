"""Live run events over server-sent events, read from the Dagster event log."""

from __future__ import annotations

import json

import pytest

from tests.dispatch.conftest import save

pytestmark = pytest.mark.usefixtures("backend")


def two_trigger_workflow() -> dict:
    """A webhook and a manual trigger; only the webhook fires, so the manual one is skipped."""
    return {
        "name": "Two triggers",
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "name": "Webhook"},
            {"id": "by_hand", "type": "trigger.manual", "name": "By hand"},
            {"id": "ok", "type": "set", "name": "Ok", "params": {"fields": {"v": "{{ webhook.body.v }}"}}},
            {
                "id": "boom",
                "type": "set",
                "name": "Boom",
                "params": {"fields": {"v": "{{ webhook.body.missing }}"}},
            },
        ],
        "edges": [{"source": "hook", "target": "ok"}, {"source": "ok", "target": "boom"}],
    }


def read_stream(client, execution_id: str) -> list[tuple[str, dict]]:
    events = []
    with client.stream("GET", f"/api/executions/{execution_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


def test_the_stream_reports_each_node_and_the_end_of_the_run(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    wid, _ = save(two_trigger_workflow(), owner.user_id)
    execution_id = live_gateway.client().post(f"/api/webhooks/{wid}", json={"v": 1}).json()["execution_id"]

    events = read_stream(owner, execution_id)

    assert events[0] == ("queued", {"execution_id": execution_id})
    kinds = [k for k, _ in events]
    assert kinds.count("run") == 1 and kinds[-1] == "end"
    assert kinds.index("run") < kinds.index("node")
    per_node: dict[str, list[str]] = {}
    for kind, data in events:
        if kind == "node":
            per_node.setdefault(data["node_id"], []).append(data["status"])
    assert per_node["hook"] == ["running", "success"]
    assert per_node["by_hand"] == ["running", "skipped"]
    assert per_node["ok"] == ["running", "success"]
    assert per_node["boom"] == ["running", "failed"]
    failed = next(d for k, d in events if k == "node" and d["status"] == "failed")
    assert "missing" in failed["error"]
    assert events[-1][1]["status"] == "failed"


def test_another_user_gets_404_and_anonymous_401(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(two_trigger_workflow(), owner.user_id)
    execution_id = live_gateway.client().post(f"/api/webhooks/{wid}", json={"v": 1}).json()["execution_id"]
    assert live_gateway.user().get(f"/api/executions/{execution_id}/events").status_code == 404
    assert live_gateway.client().get(f"/api/executions/{execution_id}/events").status_code == 401
    assert owner.get("/api/executions/no-such-execution/events").status_code == 404


def test_a_node_error_is_streamed_as_the_node_said_it_not_as_dagster_wraps_it(
    cf, live_gateway, worker_thread
):
    owner = live_gateway.user()
    workflow = {
        "name": "Unreachable",
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "name": "Webhook"},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call",
                "params": {"url": "http://127.0.0.1:9/", "timeout": 2},
            },
        ],
        "edges": [{"source": "hook", "target": "call"}],
    }
    wid, _ = save(workflow, owner.user_id)
    execution_id = live_gateway.client().post(f"/api/webhooks/{wid}", json={}).json()["execution_id"]
    failed = next(d for k, d in read_stream(owner, execution_id) if k == "node" and d["status"] == "failed")
    assert failed["error"].startswith("node 'call' (Call): GET http://127.0.0.1:9/")
    assert "connection failed" in failed["error"]
    assert "Dagster" not in failed["error"]
