"""``/api/executions``: Dagster runs read back from run storage; retry from failure; cancel."""

from __future__ import annotations

import threading

from connectflow_dagster.dispatch.worker import Worker
from tests.gateway.conftest import manual_workflow


def _run(gateway, user, workflow_id, payload=None):
    started = user.post(
        f"/api/workflows/{workflow_id}/execute", json={"input": payload or {"order_id": "A-1"}}
    )
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    gateway.wait(execution_id)
    return execution_id


def test_list_filters_by_workflow_and_status_and_pages(gateway, http_server):
    http_server.route("GET", "/ok", lambda req: (200, {}, {"fine": True}))
    ada = gateway.user()
    good = ada.post("/api/workflows", json=manual_workflow(f"{http_server.url}/ok", name="Good")).json()
    bad = ada.post("/api/workflows", json=manual_workflow(f"{http_server.url}/missing", name="Bad")).json()
    ok_ids = [_run(gateway, ada, good["id"]) for _ in range(2)]
    failed_id = _run(gateway, ada, bad["id"])

    everything = ada.get("/api/executions").json()
    assert everything["count"] == 3 and [e["id"] for e in everything["data"]] == [
        failed_id,
        *reversed(ok_ids),
    ]
    by_workflow = ada.get(f"/api/executions?workflow_id={good['id']}").json()
    assert {e["id"] for e in by_workflow["data"]} == set(ok_ids) and by_workflow["count"] == 2
    failed = ada.get("/api/executions?status=failed").json()
    assert [e["id"] for e in failed["data"]] == [failed_id] and failed["data"][0]["workflow_name"] == "Bad"
    first = ada.get("/api/executions?limit=2").json()
    assert len(first["data"]) == 2 and first["next_cursor"] == first["data"][-1]["id"]
    second = ada.get(f"/api/executions?limit=2&cursor={first['next_cursor']}").json()
    assert [e["id"] for e in second["data"]] == [ok_ids[0]] and second["next_cursor"] is None
    bad_status = ada.get("/api/executions?status=exploded")
    assert bad_status.status_code == 422 and bad_status.json()["detail"][0]["loc"] == ["query", "status"]

    detail = ada.get(f"/api/executions/{failed_id}").json()
    assert detail["status"] == "failed" and detail["failed_node"] == "fetch"
    fetch = next(n for n in detail["nodes"] if n["node_id"] == "fetch")
    assert fetch["status"] == "failed" and "404" in fetch["error"]
    assert next(n for n in detail["nodes"] if n["node_id"] == "summary")["status"] == "not_run"


def test_retry_from_failure_reruns_only_the_failed_part_on_the_same_version(gateway, http_server):
    healthy = threading.Event()
    http_server.route(
        "GET", "/flaky", lambda req: (200, {}, {"n": 1}) if healthy.is_set() else (503, {}, {"error": "down"})
    )
    ada = gateway.user()
    wf = ada.post("/api/workflows", json=manual_workflow(f"{http_server.url}/flaky")).json()
    failed_id = _run(gateway, ada, wf["id"], {"order_id": "R-1"})
    assert ada.get(f"/api/executions/{failed_id}").json()["status"] == "failed"
    # Editing the workflow afterwards does not change what the retry runs.
    changed = manual_workflow(f"{http_server.url}/flaky")
    changed["nodes"][-1]["params"]["fields"]["text"] = "edited"
    ada.put(f"/api/workflows/{wf['id']}", json=changed)

    healthy.set()
    retried = ada.post(f"/api/executions/{failed_id}/retry")
    assert retried.status_code == 202
    retry_id = retried.json()["execution_id"]
    gateway.wait(retry_id)
    detail = ada.get(f"/api/executions/{retry_id}").json()
    assert detail["status"] == "success", detail
    assert detail["parent_id"] == failed_id and detail["version"] == "1"
    statuses = {n["node_id"]: n["status"] for n in detail["nodes"]}
    assert statuses["fetch"] == "success" and statuses["summary"] == "success"
    assert detail["context"]["summary"] == {"text": "order R-1"}
    assert statuses["start"] != "success"  # the trigger's earlier output was reused, not re-run
    assert ada.post(f"/api/executions/{retry_id}/retry").status_code == 409  # it succeeded


def test_cancel_a_queued_and_a_running_execution(gateway, http_server):
    arrived, release = threading.Event(), threading.Event()

    def slow(req):
        arrived.set()
        release.wait(60)
        return 200, {}, {"late": True}

    http_server.route("GET", "/slow", slow)
    worker = Worker(instance=gateway.cf.instance)  # one worker: the second execution stays queued
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    ada = gateway.user()
    wf = ada.post("/api/workflows", json=manual_workflow(f"{http_server.url}/slow")).json()
    running = ada.post(f"/api/workflows/{wf['id']}/execute", json={}).json()["execution_id"]
    queued = ada.post(f"/api/workflows/{wf['id']}/execute", json={}).json()["execution_id"]
    assert arrived.wait(60)

    assert ada.post(f"/api/executions/{queued}/cancel").json() == {
        "execution_id": queued,
        "status": "canceled",
    }
    assert ada.post(f"/api/executions/{running}/cancel").json() == {
        "execution_id": running,
        "status": "canceling",
    }
    release.set()
    gateway.wait(running)
    gateway.wait(queued)
    assert ada.get(f"/api/executions/{running}").json()["status"] == "canceled"
    assert ada.get(f"/api/executions/{queued}").json()["status"] == "canceled"
    assert len([r for r in http_server.requests if r.path == "/slow"]) == 1  # the queued one never ran
    assert ada.post(f"/api/executions/{running}/cancel").status_code == 409
    assert ada.post(f"/api/executions/{queued}/cancel").status_code == 409
    worker.stop.set()
    thread.join(timeout=60)
