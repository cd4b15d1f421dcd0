"""Per-node ``on_error`` (stop | continue | error_output), after the node's retries, against a real
local HTTP server."""

from __future__ import annotations

import json

import pytest

from connectflow_dagster import spec
from connectflow_dagster.errors import WorkflowInvalid


def flow(url: str, *, on_error: str | None = None, retry: dict | None = None, error_edge: bool = False):
    call: dict = {
        "id": "call",
        "type": "http.request",
        "name": "Call",
        "variable_name": "api",
        "params": {"url": url},
    }
    if on_error:
        call["on_error"] = on_error
    if retry:
        call["retry"] = retry
    nodes = [
        {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
        call,
        {"id": "after", "type": "set", "name": "After", "params": {"fields": {"saw": "{{ api }}"}}},
    ]
    edges = [{"source": "start", "target": "call"}, {"source": "call", "target": "after"}]
    if error_edge:
        nodes.append(
            {
                "id": "handle",
                "type": "set",
                "name": "Handle",
                "params": {"fields": {"why": "{{ api.error.message }}", "node": "{{ api.error.node_id }}"}},
            }
        )
        edges.append({"source": "call", "target": "handle", "source_handle": "error"})
    return {"name": "on_error", "nodes": nodes, "edges": edges}


def by_id(ex):
    return {n.node_id: n for n in ex.nodes}


@pytest.fixture
def failing(http_server):
    http_server.route("GET", "/down", lambda req: (503, {}, {"error": "down for maintenance"}))
    return f"{http_server.url}/down"


def test_stop_is_the_default_and_fails_the_run(cf, failing):
    ex = cf.run(flow(failing))
    assert ex.status == "failed" and ex.failed_node == "call"
    assert "HTTP 503" in ex.error
    assert by_id(ex)["after"].status in ("not_run", "skipped")


def test_continue_makes_the_error_the_output_and_the_run_goes_on(cf, failing):
    ex = cf.run(flow(failing, on_error="continue"))
    assert ex.status == "success", ex.error
    call = by_id(ex)["call"]
    assert call.status == "success" and call.on_error == "continue"
    error = ex.context["api"]["error"]
    assert "HTTP 503" in error["message"] and "down for maintenance" in error["message"]
    assert error["node_id"] == "call" and error["node_name"] == "Call" and error["attempts"] == 1
    assert not error["message"].startswith("node '")  # the node is named in its own fields
    assert call.error == error["message"]
    assert ex.context["after"]["saw"]["error"]["type"]


def test_error_output_routes_to_the_error_handle_only(cf, failing):
    ex = cf.run(flow(failing, on_error="error_output", error_edge=True))
    assert ex.status == "success", ex.error
    nodes = by_id(ex)
    assert nodes["call"].on_error == "error_output"
    assert nodes["handle"].status == "success"
    assert nodes["after"].status == "skipped"  # the normal output was not emitted
    assert "HTTP 503" in ex.context["handle"]["why"] and ex.context["handle"]["node"] == "call"


def test_error_output_node_that_succeeds_takes_the_normal_output(cf, http_server):
    http_server.route("GET", "/ok", lambda req: (200, {}, {"fine": True}))
    ex = cf.run(flow(f"{http_server.url}/ok", on_error="error_output", error_edge=True))
    assert ex.status == "success", ex.error
    nodes = by_id(ex)
    assert nodes["after"].status == "success" and nodes["handle"].status == "skipped"
    assert nodes["call"].on_error is None and nodes["call"].error is None


def test_retries_run_first_then_on_error_applies(cf, http_server):
    calls = []

    def down(req):
        calls.append(req)
        return 500, {}, {"error": "boom"}

    http_server.route("GET", "/flaky", down)
    ex = cf.run(
        flow(
            f"{http_server.url}/flaky",
            on_error="continue",
            retry={"max_retries": 2, "delay_seconds": 0, "backoff": "constant"},
        )
    )
    assert ex.status == "success", ex.error
    assert len(calls) == 3  # the first attempt and two retries, then on_error
    assert ex.context["api"]["error"]["attempts"] == 3
    assert by_id(ex)["call"].attempts == 3


def test_a_retry_that_succeeds_never_reaches_on_error(cf, http_server):
    calls = []

    def flaky(req):
        calls.append(req)
        return (500, {}, {"error": "once"}) if len(calls) == 1 else (200, {}, {"ok": 1})

    http_server.route("GET", "/flaky", flaky)
    ex = cf.run(
        flow(f"{http_server.url}/flaky", on_error="continue", retry={"max_retries": 2, "delay_seconds": 0})
    )
    assert ex.status == "success" and ex.context["api"]["data"] == {"ok": 1}
    assert by_id(ex)["call"].on_error is None


def test_non_retriable_errors_are_handled_too(cf):
    wf = {
        "name": "bad template",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "greet",
                "type": "set",
                "name": "Greet",
                "on_error": "continue",
                "retry": {"max_retries": 3, "delay_seconds": 0},
                "params": {"fields": {"x": "{{ trigger.missing.deep }}"}},
            },
        ],
        "edges": [{"source": "start", "target": "greet"}],
    }
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert ex.context["greet"]["error"]["attempts"] == 1  # not retried: retrying cannot help
    assert "missing" in ex.context["greet"]["error"]["message"]


def test_edges_from_the_error_handle_need_error_output():
    wf = spec.parse_workflow(flow("http://127.0.0.1:9/x", on_error="continue", error_edge=True))
    with pytest.raises(WorkflowInvalid) as info:
        spec.ensure_valid(wf)
    [problem] = [p for p in info.value.problems if p.field and "source_handle" in p.field]
    assert problem.node_id == "call" and "error_output" in problem.message
    spec.ensure_valid(
        spec.parse_workflow(flow("http://127.0.0.1:9/x", on_error="error_output", error_edge=True))
    )


def test_a_trigger_cannot_continue_after_an_error():
    wf = flow("http://127.0.0.1:9/x")
    wf["nodes"][0]["on_error"] = "continue"
    with pytest.raises(WorkflowInvalid) as info:
        spec.ensure_valid(spec.parse_workflow(wf))
    assert any(p.field == "on_error" and p.node_id == "start" for p in info.value.problems)


def test_unknown_on_error_is_refused_with_the_field():
    with pytest.raises(WorkflowInvalid) as info:
        spec.parse_workflow(flow("http://127.0.0.1:9/x", on_error="ignore"))
    assert any(p.field == "on_error" and p.node_id == "call" for p in info.value.problems)


def test_the_default_leaves_the_saved_content_and_its_hash_unchanged():
    wf = spec.parse_workflow(flow("http://127.0.0.1:9/x"))
    assert "on_error" not in wf.content()["nodes"][1]
    assert "error_workflow_id" not in wf.content()["settings"]
    explicit = flow("http://127.0.0.1:9/x", on_error="stop")
    assert spec.parse_workflow(explicit).content_hash() == wf.content_hash()
    handled = spec.parse_workflow(flow("http://127.0.0.1:9/x", on_error="continue"))
    assert handled.content()["nodes"][1]["on_error"] == "continue"
    assert handled.content_hash() != wf.content_hash()


SECRET = "tok-" + "9f3b7c1d2e4a6b8c0d1e2f3a4b5c6d7e"


def test_secrets_are_scrubbed_from_the_error_output_and_the_error_workflow_report(cf, http_server):
    from connectflow_dagster.dispatch.error_workflow import report_event_id
    from connectflow_dagster.dispatch.worker import Worker
    from connectflow_dagster.execution import get_execution
    from connectflow_dagster.store.credentials import create_credential
    from connectflow_dagster.store.db import session_scope
    from tests.dispatch.conftest import save

    # A hostile service that echoes the credential back in its error answer.
    http_server.route("GET", "/echo", lambda req: (403, {}, {"denied": req.headers.get("authorization")}))
    http_server.route("POST", "/alerts", lambda req: (200, {}, {"ok": True}))
    owner = cf.new_user()
    with session_scope() as session:
        cred = create_credential(session, owner, "api", "http_bearer_auth", {"token": SECRET}).id

    def calling(on_error: str, **settings) -> dict:
        wf = flow(f"{http_server.url}/echo", on_error=on_error)
        wf["nodes"][1]["params"]["authentication"] = "bearer"
        wf["nodes"][1]["credential_id"] = cred
        wf["settings"] = settings
        return wf

    ex = cf.run(calling("continue"), owner_id=owner)
    assert ex.status == "success", ex.error
    message = ex.context["api"]["error"]["message"]
    assert "HTTP 403" in message and "***" in message and SECRET not in message
    assert SECRET not in json.dumps(ex.to_dict(), default=str)

    alert = {
        "name": "alert",
        "nodes": [
            {"id": "failed", "type": "trigger.error", "name": "On failure", "variable_name": "failure"},
            {
                "id": "post",
                "type": "http.request",
                "name": "Post",
                "params": {"method": "POST", "url": http_server.url + "/alerts", "body": "{{ failure }}"},
            },
        ],
        "edges": [{"source": "failed", "target": "post"}],
    }
    handler, _ = save(alert, owner)
    failed = cf.run(calling("stop", error_workflow_id=handler), owner_id=owner)
    assert failed.status == "failed" and SECRET not in (failed.error or "")
    with session_scope() as session:
        report = report_event_id(session, failed.id)
    worker = Worker(instance=cf.instance)
    try:
        worker.execute_event(report)
    finally:
        worker.close()
    assert get_execution(cf.instance, report).status == "success"
    [posted] = [r for r in http_server.requests if r.path == "/alerts"]
    assert "HTTP 403" in posted.body.decode() and SECRET.encode() not in posted.body
