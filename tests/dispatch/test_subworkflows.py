"""Execute Workflow: a workflow calls another of the same owner, through the real gateway and ONE real
worker thread (the child runs in the caller's worker: no deadlock), against a real local HTTP server."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dagster import RunsFilter

from connectflow_dagster.tags import (
    TAG_CALL_CHAIN,
    TAG_CALLER_NODE,
    TAG_CALLER_RUN,
    TAG_CHILD_RUNS,
    TAG_WORKFLOW,
)
from tests.dispatch.conftest import finished_execution, save

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def one_worker(empty_inbox):
    """The only executor of runs: one real ``Worker`` on one thread."""
    from connectflow_dagster.dispatch.worker import Worker

    worker = Worker(instance=empty_inbox.instance)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=60)


def child_workflow(url: str) -> dict[str, Any]:
    """Called with {"sku": …}: looks the price up on the local server, returns a quote."""
    return {
        "name": "Price lookup",
        "nodes": [
            {"id": "called", "type": "trigger.execute_workflow", "name": "Called", "variable_name": "called"},
            {
                "id": "price",
                "type": "http.request",
                "name": "Price",
                "params": {"url": url + "/price/{{ called.sku }}"},
            },
            {
                "id": "quote",
                "type": "set",
                "name": "Quote",
                "params": {
                    "fields": {"sku": "{{ called.sku }}", "total": "{{ price.data.cents * called.qty }}"}
                },
            },
        ],
        "edges": [{"source": "called", "target": "price"}, {"source": "price", "target": "quote"}],
    }


def caller_workflow(target: str, **call: Any) -> dict[str, Any]:
    return {
        "name": "Order",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "lookup",
                "type": "workflow.execute",
                "name": "Look up",
                "params": {"workflow_id": target, "input": {"sku": "{{ trigger.sku }}", "qty": 3}, **call},
            },
            {
                "id": "reply",
                "type": "set",
                "name": "Reply",
                "params": {"fields": {"text": "{{ look_up.sku }} costs {{ look_up.total }}"}},
            },
        ],
        "edges": [{"source": "start", "target": "lookup"}, {"source": "lookup", "target": "reply"}],
    }


def execute(owner, workflow_id: str, payload: dict) -> str:  # type: ignore[no-untyped-def]
    response = owner.post(f"/api/workflows/{workflow_id}/execute", json={"input": payload})
    assert response.status_code == 202, response.text
    return response.json()["execution_id"]


def test_the_caller_gets_the_child_output_and_both_runs_are_linked(cf, live_gateway, one_worker, http_server):
    http_server.route("GET", "/price/A-1", lambda req: (200, {}, {"cents": 250}))
    owner = live_gateway.user()
    child, _ = save(child_workflow(http_server.url), owner.user_id)
    parent, _ = save(caller_workflow(child), owner.user_id)

    run_id = execute(owner, parent, {"sku": "A-1"})
    ex = finished_execution(cf, run_id)
    assert ex.status == "success", ex.error
    assert ex.context["look_up"] == {"sku": "A-1", "total": 750}  # the child's last node
    assert ex.context["reply"] == {"text": "A-1 costs 750"}

    body = owner.get(f"/api/executions/{run_id}").json()
    [link] = body["children"]
    assert link["node_id"] == "lookup"
    child_id = link["execution_id"]
    child_body = owner.get(f"/api/executions/{child_id}").json()
    assert child_body["status"] == "success" and child_body["caller_id"] == run_id
    assert child_body["workflow_id"] == child and child_body["trigger"] == "called"
    child_run, parent_run = cf.instance.get_run_by_id(child_id), cf.instance.get_run_by_id(run_id)
    assert child_run.tags[TAG_CALLER_RUN] == run_id and child_run.tags[TAG_CALLER_NODE] == "lookup"
    assert child_run.tags[TAG_CALL_CHAIN] == parent
    assert parent_run.tags[TAG_CHILD_RUNS] == f"lookup={child_id}"
    assert child_run.job_name == f"wf_{child}__v1"  # its own Dagster run of the child's job

    # Another user sees neither execution.
    stranger = live_gateway.user()
    assert stranger.get(f"/api/executions/{child_id}").status_code == 404
    assert stranger.get(f"/api/executions/{run_id}").status_code == 404


def test_a_chosen_node_output_and_a_failing_child(cf, live_gateway, one_worker, http_server):
    http_server.route("GET", "/price/A-1", lambda req: (200, {}, {"cents": 250}))
    http_server.route("GET", "/price/BAD", lambda req: (404, {}, {"error": "no such sku"}))
    owner = live_gateway.user()
    child, _ = save(child_workflow(http_server.url), owner.user_id)
    chosen, _ = save(caller_workflow(child, output_node="price"), owner.user_id)
    ex = finished_execution(cf, execute(owner, chosen, {"sku": "A-1"}))
    assert ex.status == "failed"  # 'reply' reads look_up.sku, which the price node's output lacks
    assert ex.context["look_up"]["data"] == {"cents": 250}

    handled = caller_workflow(child)
    handled["nodes"][1]["on_error"] = "continue"
    parent, _ = save(handled, owner.user_id)
    ex = finished_execution(cf, execute(owner, parent, {"sku": "BAD"}))
    error = ex.context["look_up"]["error"]
    assert "sub-workflow" in error["message"] and "HTTP 404" in error["message"], error
    [link] = owner.get(f"/api/executions/{ex.id}").json()["children"]
    assert owner.get(f"/api/executions/{link['execution_id']}").json()["status"] == "failed"
    assert link["execution_id"] in error["message"]


def self_calling(target: str) -> dict[str, Any]:
    """Started by hand; calls whatever ``target`` renders to, passing ``back`` on."""
    return {
        "name": "Calls around",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "call",
                "type": "workflow.execute",
                "name": "Call",
                "params": {"workflow_id": target, "input": {"back": "{{ trigger.back | default('') }}"}},
            },
        ],
        "edges": [{"source": "start", "target": "call"}],
    }


def calls_back() -> dict[str, Any]:
    """A sub-workflow that calls the workflow its caller names in ``back``."""
    return {
        "name": "Calls back",
        "nodes": [
            {"id": "called", "type": "trigger.execute_workflow", "name": "Called", "variable_name": "called"},
            {
                "id": "call",
                "type": "workflow.execute",
                "name": "Call",
                "params": {"workflow_id": "{{ called.back }}"},
            },
        ],
        "edges": [{"source": "called", "target": "call"}],
    }


def test_call_cycles_are_refused_at_run_time(cf, live_gateway, one_worker):
    owner = live_gateway.user()
    # A → A: the id comes from the input, so no check at save can see it.
    a, _ = save(self_calling("{{ trigger.target }}"), owner.user_id)
    ex = finished_execution(cf, execute(owner, a, {"target": a}))
    assert ex.status == "failed" and f"call cycle refused: {a} → {a}" in ex.error, ex.error

    # A → B → A: B calls back whatever A passed it.
    b, _ = save(calls_back(), owner.user_id)
    ex = finished_execution(cf, execute(owner, a, {"target": b, "back": a}))
    assert ex.status == "failed"
    assert f"call cycle refused: {a} → {b} → {a}" in ex.error, ex.error
    [link] = owner.get(f"/api/executions/{ex.id}").json()["children"]
    child = owner.get(f"/api/executions/{link['execution_id']}").json()
    assert child["status"] == "failed" and child["caller_id"] == ex.id  # B ran and refused the call


def test_a_literal_call_cycle_is_a_problem_at_save(cf, live_gateway):
    owner = live_gateway.user()
    a = owner.post("/api/workflows", json=self_calling("not_saved_yet")).json()
    b = owner.post("/api/workflows", json=self_calling(a["id"])).json()
    assert b["runnable"] is True, b["problems"]  # A does not call B (yet)
    saved = owner.put(f"/api/workflows/{a['id']}", json=self_calling(b["id"])).json()
    [problem] = [p for p in saved["problems"] if "cycle" in p["message"]]
    assert problem["message"] == f"call cycle: {a['id']} → {b['id']} → {a['id']}"
    assert problem["node_id"] == "call" and problem["field"] == "params.workflow_id"
    refused = owner.post(f"/api/workflows/{a['id']}/execute", json={})
    assert refused.status_code == 422 and "call cycle" in refused.text
    me = owner.put(f"/api/workflows/{b['id']}", json=self_calling(b["id"])).json()
    assert any(p["message"] == f"call cycle: {b['id']} → {b['id']}" for p in me["problems"])


def test_another_users_workflow_is_not_found_like_a_missing_one(cf, live_gateway, one_worker, http_server):
    owner, stranger = live_gateway.user(), live_gateway.user()
    theirs, _ = save(child_workflow(http_server.url), stranger.user_id)
    caller, _ = save(self_calling("{{ trigger.target }}"), owner.user_id)
    other = finished_execution(cf, execute(owner, caller, {"target": theirs}))
    missing = finished_execution(cf, execute(owner, caller, {"target": "no_such_workflow"}))
    assert other.status == missing.status == "failed"
    assert other.error.replace(theirs, "<id>") == missing.error.replace("no_such_workflow", "<id>")
    assert f"workflow '{theirs}' not found" in other.error
    assert http_server.requests == []  # nothing of theirs ran
    assert cf.instance.get_runs_count(RunsFilter(tags={TAG_WORKFLOW: theirs})) == 0  # no child run


def test_a_workflow_without_an_execute_workflow_trigger_cannot_be_called(cf, live_gateway, one_worker):
    owner = live_gateway.user()
    plain, _ = save(
        {
            "name": "Plain",
            "nodes": [{"id": "start", "type": "trigger.manual", "name": "Start"}],
            "edges": [],
        },
        owner.user_id,
    )
    caller, _ = save(self_calling(plain), owner.user_id)
    ex = finished_execution(cf, execute(owner, caller, {}))
    assert ex.status == "failed" and "has no Execute Workflow Trigger" in ex.error


def test_parallel_calls_in_one_run_are_each_linked(cf, live_gateway, one_worker, http_server):
    http_server.route("GET", "/price/A-1", lambda req: (200, {}, {"cents": 250}))
    http_server.route("GET", "/price/B-2", lambda req: (200, {}, {"cents": 100}))
    owner = live_gateway.user()
    child, _ = save(child_workflow(http_server.url), owner.user_id)
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}]
    for sku in ("A-1", "B-2"):
        nodes.append(
            {
                "id": f"q_{sku[0]}",
                "type": "workflow.execute",
                "name": f"Quote {sku}",
                "params": {"workflow_id": child, "input": {"sku": sku, "qty": 2}},
            }
        )
    parent, _ = save(
        {
            "name": "two quotes",
            "nodes": nodes,
            "edges": [{"source": "start", "target": "q_A"}, {"source": "start", "target": "q_B"}],
        },
        owner.user_id,
    )
    ex = finished_execution(cf, execute(owner, parent, {}))
    assert ex.status == "success", ex.error
    assert ex.context["quote_a_1"]["total"] == 500 and ex.context["quote_b_2"]["total"] == 200
    children = owner.get(f"/api/executions/{ex.id}").json()["children"]
    assert sorted(c["node_id"] for c in children) == ["q_A", "q_B"]
    for link in children:
        assert owner.get(f"/api/executions/{link['execution_id']}").json()["caller_id"] == ex.id


def test_the_callers_timeout_stops_its_child(cf, live_gateway, one_worker, http_server):
    release = threading.Event()

    def hold(req):  # type: ignore[no-untyped-def]
        release.wait(60)
        return 200, {}, {"cents": 1}

    http_server.route("GET", "/price/SLOW", hold)
    try:
        owner = live_gateway.user()
        child, _ = save(child_workflow(http_server.url), owner.user_id)
        parent, _ = save({**caller_workflow(child), "settings": {"timeout_seconds": 1}}, owner.user_id)
        ex = finished_execution(cf, execute(owner, parent, {"sku": "SLOW"}))
        assert not release.is_set()
        assert ex.status == "failed" and ex.error.startswith("timed out after 1 s"), ex.error
        assert "'lookup'" in ex.error
        [link] = owner.get(f"/api/executions/{ex.id}").json()["children"]
        child_ex = finished_execution(cf, link["execution_id"])
        assert child_ex.status in ("failed", "canceled") and child_ex.status != "success"
    finally:
        release.set()
