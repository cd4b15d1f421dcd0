"""Workflows execute as Dagster runs, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterEventType

from connectflow_dagster.execution import get_execution, list_executions
from connectflow_dagster.tags import TAG_OWNER, TAG_TRIGGER, TAG_VERSION, TAG_WORKFLOW
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("backend")


def load_example(name: str) -> dict:
    data = json.loads((ROOT / "examples" / name).read_text())
    data["id"] = None  # a fresh workflow per test (PostgreSQL is shared by the session)
    return data


def statuses(execution) -> dict[str, str]:
    return {n.node_id: n.status for n in execution.nodes}


def test_branching_example_runs_the_taken_branch_and_skips_the_other(cf):
    ex = cf.run(load_example("branching.json"))
    assert ex.status == "success", ex.error
    assert statuses(ex) == {
        "start": "success",
        "order": "success",
        "is_big": "success",
        "big": "success",
        "small": "skipped",
        "done": "success",
    }
    assert ex.context["big_order"] == {"message": "Order A-1042 is big: 250"}
    assert "small_order" not in ex.context
    assert ex.context["done"] == {"merged_from": ["big"]}


def test_the_other_branch_runs_for_other_input(cf):
    ex = cf.run(load_example("branching.json"), {"order_id": "B-7", "amount": 5})
    assert statuses(ex)["big"] == "skipped" and statuses(ex)["small"] == "success"
    assert ex.context["small_order"]["message"] == "Order B-7 is small: 5"


def test_runs_are_tagged_and_outputs_are_in_the_event_log(cf):
    owner = cf.new_user()
    ex = cf.run(load_example("branching.json"), owner_id=owner)
    run = cf.instance.get_run_by_id(ex.id)
    assert run.tags[TAG_WORKFLOW] == ex.workflow_id and run.tags[TAG_OWNER] == owner
    assert run.tags[TAG_VERSION] == "1" and run.tags[TAG_TRIGGER] == "start"
    assert run.job_name == f"wf_{ex.workflow_id}__v1"  # the version's job, so Dagster re-runs that version
    assert run.tags["connectflow/workflow_name"] == load_example("branching.json")["name"]
    outputs = [e.dagster_event for e in cf.instance.all_logs(ex.id, of_type=DagsterEventType.STEP_OUTPUT)]
    by_step = {e.step_key: e.event_specific_data.metadata["output"].value for e in outputs}
    assert by_step["order"] == {"id": "A-1042", "amount": 250, "label": "Order A-1042"}


def test_a_failure_records_node_message_and_stack(cf):
    wf = {
        "name": "fails",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "greet",
                "type": "set",
                "name": "Greet",
                "params": {"fields": {"x": "{{ trigger.missing.deep }}"}},
            },
            {"id": "after", "type": "set", "name": "After", "params": {"fields": {"y": 1}}},
        ],
        "edges": [{"source": "start", "target": "greet"}, {"source": "greet", "target": "after"}],
    }
    ex = cf.run(wf, {"name": "Ada"})
    assert ex.status == "failed"
    assert ex.failed_node == "greet"
    greet = next(n for n in ex.nodes if n.node_id == "greet")
    assert greet.status == "failed"
    assert (
        "node 'greet'" in greet.error
        and "field 'params.fields.x'" in greet.error
        and "missing" in greet.error
    )
    assert greet.stack
    assert next(n for n in ex.nodes if n.node_id == "after").status == "not_run"
    assert "greet" in ex.error


def test_only_what_lies_downstream_of_the_fired_trigger_runs(cf):
    wf = {
        "name": "two triggers",
        "nodes": [
            {"id": "manual", "type": "trigger.manual", "name": "Manual", "variable_name": "trigger"},
            {"id": "prod", "type": "trigger.manual", "name": "Production", "variable_name": "prod"},
            {"id": "test_only", "type": "set", "name": "Test only", "params": {"fields": {"src": "manual"}}},
            {"id": "shared", "type": "set", "name": "Shared", "params": {"fields": {"n": "{{ prod.n }}"}}},
        ],
        "edges": [{"source": "manual", "target": "test_only"}, {"source": "prod", "target": "shared"}],
    }
    ex = cf.run(wf, {"n": 7}, trigger="prod")
    assert ex.status == "success", ex.error
    assert statuses(ex) == {
        "manual": "skipped",
        "test_only": "skipped",
        "prod": "success",
        "shared": "success",
    }
    assert ex.context == {"prod": {"n": 7}, "shared": {"n": 7}}


def test_retry_policy_retries_a_server_error_then_succeeds(cf, http_server):
    calls = []

    def flaky(req):
        calls.append(req)
        return (503, {}, {"error": "busy"}) if len(calls) == 1 else (200, {}, {"ok": True})

    http_server.route("GET", "/flaky", flaky)
    wf = {
        "name": "retry",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call",
                "retry": {"max_retries": 2, "delay_seconds": 0},
                "params": {"url": f"{http_server.url}/flaky"},
            },
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert len(calls) == 2
    call = next(n for n in ex.nodes if n.node_id == "call")
    assert call.attempts == 2 and call.output["data"] == {"ok": True}


def test_when_retries_run_out_the_error_still_says_what_went_wrong(cf, http_server):
    http_server.route("GET", "/down", lambda req: (503, {"Retry-After": "0"}, {"error": "down"}))
    wf = {
        "name": "exhausted",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call",
                "retry": {"max_retries": 1, "delay_seconds": 0},
                "params": {"url": f"{http_server.url}/down"},
            },
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    ex = cf.run(wf)
    call = next(n for n in ex.nodes if n.node_id == "call")
    assert ex.status == "failed" and call.attempts == 2 and len(http_server.requests) == 2
    assert "answered HTTP 503" in call.error and "Exceeded max_retries of 1" in call.error


def test_invalid_input_fails_at_once_without_retrying(cf, http_server):
    calls = []
    http_server.route("GET", "/x", lambda req: (calls.append(req), (200, {}, {}))[1])
    wf = {
        "name": "bad",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call",
                "retry": {"max_retries": 3, "delay_seconds": 0},
                "params": {"url": f"{http_server.url}/x", "timeout": "{{ trigger.timeout }}"},
            },
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    ex = cf.run(wf, {"timeout": "soon"})
    call = next(n for n in ex.nodes if n.node_id == "call")
    assert ex.status == "failed" and call.attempts == 1 and calls == []
    assert "field 'params.timeout'" in call.error


def test_executions_are_read_from_dagster_run_storage(cf):
    first = cf.run(load_example("branching.json"))
    second = cf.run(load_example("branching.json"))
    mine = list_executions(cf.instance, workflow_id=first.workflow_id)
    assert [e.id for e in mine] == [first.id]
    assert {e.id for e in list_executions(cf.instance, limit=100)} >= {first.id, second.id}
    failed_only = list_executions(cf.instance, workflow_id=first.workflow_id, status="failed")
    assert failed_only == []
    detail = get_execution(cf.instance, first.id)
    assert detail.duration_ms and detail.started_at and detail.finished_at
