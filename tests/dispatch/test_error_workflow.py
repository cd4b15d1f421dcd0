"""Error workflows: a failed run (after its retries) starts the workflow its settings name, whose Error
Trigger receives the failure; through the real gateway, one real worker and a real local HTTP server."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from connectflow_dagster.dispatch import inbox
from connectflow_dagster.execution import get_execution
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.tags import TAG_FAILED_RUN
from tests.dispatch.conftest import finished_execution, inbox_rows, save, wait_for

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def one_worker(empty_inbox):
    from connectflow_dagster.dispatch.worker import Worker

    worker = Worker(instance=empty_inbox.instance)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=60)


def error_workflow(url: str, **settings: Any) -> dict[str, Any]:
    """Posts the failure report it receives to the local server's /alerts."""
    return {
        "name": "Alert on failure",
        "settings": settings,
        "nodes": [
            {"id": "failed", "type": "trigger.error", "name": "On failure", "variable_name": "failure"},
            {
                "id": "alert",
                "type": "http.request",
                "name": "Alert",
                "params": {"method": "POST", "url": url + "/alerts", "body": "{{ failure }}"},
            },
        ],
        "edges": [{"source": "failed", "target": "alert"}],
    }


def failing_workflow(url: str, error_workflow_id: str, **call: Any) -> dict[str, Any]:
    return {
        "name": "Nightly sync",
        "settings": {"error_workflow_id": error_workflow_id},
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "sync",
                "type": "http.request",
                "name": "Sync orders",
                "params": {"url": url + "/sync"},
                **call,
            },
        ],
        "edges": [{"source": "start", "target": "sync"}],
    }


def execute(owner, workflow_id: str) -> str:  # type: ignore[no-untyped-def]
    response = owner.post(f"/api/workflows/{workflow_id}/execute", json={})
    assert response.status_code == 202, response.text
    return response.json()["execution_id"]


def test_the_error_workflow_receives_the_failed_execution(cf, live_gateway, one_worker, http_server):
    attempts = []
    http_server.route("GET", "/sync", lambda req: (attempts.append(req), (500, {}, {"error": "db down"}))[1])
    http_server.route("POST", "/alerts", lambda req: (200, {}, {"ok": True}))
    owner = live_gateway.user()
    handler, _ = save(error_workflow(http_server.url), owner.user_id)
    failing, _ = save(
        failing_workflow(http_server.url, handler, retry={"max_retries": 1, "delay_seconds": 0}),
        owner.user_id,
    )

    run_id = execute(owner, failing)
    failed = finished_execution(cf, run_id)
    assert failed.status == "failed" and len(attempts) == 2  # retried first, then reported

    alerts = wait_for(
        lambda: [r for r in http_server.requests if r.path == "/alerts"], what="the error workflow's alert"
    )
    report = alerts[0].json()
    assert report["workflow"] == {"id": failing, "name": "Nightly sync", "version": "1"}
    execution = report["execution"]
    assert execution["id"] == run_id and execution["status"] == "failed"
    assert execution["url"].endswith(f"/ui/executions?id={run_id}")
    assert execution["failed_node"] == {"id": "sync", "name": "Sync orders"}
    assert execution["last_node_executed"] == "Sync orders"
    assert "HTTP 500" in execution["error"]["message"] and "db down" in execution["error"]["message"]
    assert report["time"]

    [row] = inbox_rows(handler)
    assert row.dedup_key == f"error:{run_id}"  # reported once per failed run
    error_run = cf.instance.get_run_by_id(row.id)
    assert error_run.tags[TAG_FAILED_RUN] == run_id  # linked in the Dagster UI …
    assert owner.get(f"/api/executions/{row.id}").json()["failed_execution_id"] == run_id  # … and the API


def test_a_successful_or_handled_run_starts_no_error_workflow(cf, live_gateway, one_worker, http_server):
    http_server.route("GET", "/sync", lambda req: (500, {}, {"error": "db down"}))
    owner = live_gateway.user()
    handler, _ = save(error_workflow(http_server.url), owner.user_id)
    handled, _ = save(failing_workflow(http_server.url, handler, on_error="continue"), owner.user_id)
    ex = finished_execution(cf, execute(owner, handled))
    assert ex.status == "success"

    def event_done():  # type: ignore[no-untyped-def]
        with session_scope() as session:
            return inbox.get_event(session, ex.id).status == inbox.DONE or None

    wait_for(event_done, what="the worker to complete the event")  # a report would be queued by now
    assert inbox_rows(handler) == []


def test_an_error_workflow_that_fails_starts_no_other(cf, live_gateway, one_worker, http_server):
    http_server.route("GET", "/sync", lambda req: (500, {}, {"error": "db down"}))
    http_server.route("POST", "/alerts", lambda req: (503, {}, {"error": "pager down"}))
    owner = live_gateway.user()
    # Two error workflows naming each other: the loop a failing error workflow could start.
    first, _ = save(error_workflow(http_server.url), owner.user_id)
    second, _ = save(error_workflow(http_server.url, error_workflow_id=first), owner.user_id)
    first, _ = save({**error_workflow(http_server.url, error_workflow_id=second), "id": first}, owner.user_id)
    failing, _ = save(failing_workflow(http_server.url, first), owner.user_id)

    finished_execution(cf, execute(owner, failing))
    [report] = wait_for(lambda: inbox_rows(first) or None, what="the error workflow's event")
    wait_for(lambda: inbox_rows(first)[0].status == inbox.DONE or None, what="the error workflow to end")
    assert get_execution(cf.instance, report.id).status == "failed"  # the alert failed too …
    assert inbox_rows(second) == []  # … and that failure started nothing


def test_the_error_workflow_must_exist_be_yours_and_have_an_error_trigger(cf, live_gateway, http_server):
    owner, stranger = live_gateway.user(), live_gateway.user()
    theirs, _ = save(error_workflow(http_server.url), stranger.user_id)
    plain = owner.post("/api/workflows", json=failing_workflow(http_server.url, "none")).json()["id"]
    for target, message in [
        ("no_such_workflow", "error workflow 'no_such_workflow' not found"),
        (theirs, f"error workflow '{theirs}' not found"),
        (plain, f"error workflow '{plain}' (Nightly sync) has no Error Trigger (trigger.error)"),
    ]:
        saved = owner.post("/api/workflows", json=failing_workflow(http_server.url, target)).json()
        problems = [p for p in saved["problems"] if p["field"] == "settings.error_workflow_id"]
        assert [p["message"] for p in problems] == [message]
        refused = owner.post(f"/api/workflows/{saved['id']}/execute", json={})
        assert refused.status_code == 422 and message in refused.text
    mine, _ = save(error_workflow(http_server.url), owner.user_id)
    ok = owner.post("/api/workflows", json=failing_workflow(http_server.url, mine)).json()
    assert ok["runnable"] is True, ok["problems"]
    hostile = owner.post("/api/workflows", json=failing_workflow(http_server.url, "../../etc/passwd"))
    assert hostile.status_code == 422  # not an id at all


def test_the_sensor_path_reports_failed_runs_too(cf, monkeypatch, http_server):
    """Runs a Dagster launcher executed: the inbox sensor queues the report when it sees them end."""
    from dagster import build_sensor_context

    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.dagster_defs import inbox_sensor

    monkeypatch.setenv("CONNECTFLOW_DISPATCH", "sensor")
    get_dispatch_settings.cache_clear()
    owner = cf.new_user()
    handler, _ = save(error_workflow(http_server.url), owner)
    failing, version = save(failing_workflow(http_server.url, handler), owner)
    run_id, _ = inbox.enqueue(failing, owner, version, "start", {})
    sensor = inbox_sensor()
    with build_sensor_context(instance=cf.instance) as context:
        sensor.evaluate_tick(context)  # submitted to the run coordinator
    # What the launched process would record: the run failed.
    cf.instance.report_run_failed(cf.instance.get_run_by_id(run_id), message="launcher process died")
    for _ in range(2):  # a second tick reports nothing twice
        with build_sensor_context(instance=cf.instance) as context:
            sensor.evaluate_tick(context)
    [report] = [r for r in inbox_rows(handler)]
    assert report.dedup_key == f"error:{run_id}"  # queued once (the sensor then submits it)
    assert json.loads(report.payload)["execution"]["error"]["message"] == "launcher process died"
