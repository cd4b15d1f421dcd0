"""Respond to Webhook: the caller gets the Respond node's answer when it runs; the run goes on."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.dispatch.conftest import save, wait_for

pytestmark = pytest.mark.usefixtures("backend")


def respond_workflow(after: list[dict[str, Any]] | None = None, **respond: Any) -> dict[str, Any]:
    """Webhook (respond_node) → Respond → whatever ``after`` adds after it."""
    nodes = [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "name": "Webhook",
            "params": {"path": "orders", "response_mode": "respond_node", "response_timeout_seconds": 60},
        },
        {
            "id": "answer",
            "type": "respond",
            "name": "Answer",
            "params": {
                "status_code": 201,
                "headers": {"X-Order": "{{ webhook.body.id }}"},
                "body": {"accepted": "{{ webhook.body.id }}"},
                **respond,
            },
        },
        *(after or []),
    ]
    edges = [{"source": "hook", "target": "answer"}]
    edges += [{"source": "answer", "target": n["id"]} for n in after or []]
    return {"name": "Respond", "nodes": nodes, "edges": edges}


def test_the_caller_gets_the_answer_when_the_respond_node_runs_and_the_run_goes_on(
    cf, live_gateway, worker_thread, http_server
):
    release = threading.Event()

    def slow(_):  # type: ignore[no-untyped-def]
        assert release.wait(60), "the test never released the slow call"
        return 200, {}, {"ok": True}

    http_server.route("GET", "/slow", slow)
    after = [
        {"id": "later", "type": "http.request", "name": "Later", "params": {"url": f"{http_server.url}/slow"}}
    ]
    owner = live_gateway.user()
    wid, _ = save(respond_workflow(after), owner.user_id)
    client = live_gateway.client()
    answer = client.post(f"/api/webhooks/{wid}/orders", json={"id": "A-7"})
    # Answered while the node after the Respond node is still blocked: not at the run's end.
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"accepted": "A-7"} and answer.headers["x-order"] == "A-7"
    assert answer.headers["content-type"] == "application/json"
    wait_for(lambda: any(r.path == "/slow" for r in http_server.requests), what="the node after it")
    run_ids = [r.run_id for r in cf.instance.get_runs() if r.tags.get("connectflow/workflow_id") == wid]
    assert not cf.instance.get_run_by_id(run_ids[0]).is_finished  # blocked there: the run goes on
    release.set()
    run = wait_for(
        lambda: (r := cf.instance.get_run_by_id(run_ids[0])) and r.is_finished and r, what="run end"
    )
    assert run.status.value == "SUCCESS"


def test_a_run_that_ends_without_a_respond_node_answers_a_clear_error(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    workflow = {
        "name": "No respond",
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "name": "Webhook",
                "params": {"path": "x", "response_mode": "respond_node", "response_timeout_seconds": 60},
            },
            {
                "id": "check",
                "type": "if",
                "name": "Big?",
                "params": {"conditions": [{"left": "{{ webhook.body.n }}", "operator": "gte", "right": 100}]},
            },
            {"id": "answer", "type": "respond", "name": "Answer", "params": {"body": "big"}},
        ],
        "edges": [
            {"source": "hook", "target": "check"},
            {"source": "check", "target": "answer", "source_handle": "true"},
        ],
    }
    wid, _ = save(workflow, owner.user_id)
    client = live_gateway.client()
    small = client.post(f"/api/webhooks/{wid}/x", json={"n": 1})
    assert small.status_code == 500
    assert small.json()["error"] == "the workflow ended without reaching a Respond to Webhook node"
    big = client.post(f"/api/webhooks/{wid}/x", json={"n": 500})
    assert big.status_code == 200 and big.json() == "big"


@pytest.mark.parametrize(
    ("respond", "error"),
    [
        ({"headers": {"Bad Name": "x"}}, "not a valid header name"),
        ({"headers": {"X-A": "a\r\nSet-Cookie: b=1"}}, "no line breaks"),
        ({"headers": {"Content-Length": "1"}}, "set by the server"),
        ({"respond_with": "text", "body": "{{ 'x' * 600000 }}{{ 'y' * 600000 }}"}, "larger than"),
    ],
)
def test_hostile_answers_fail_the_respond_node_and_the_caller_gets_an_error(
    cf, live_gateway, worker_thread, respond, error
):
    owner = live_gateway.user()
    wid, _ = save(respond_workflow(**respond), owner.user_id)
    reply = live_gateway.client().post(f"/api/webhooks/{wid}/orders", json={"id": 1})
    assert reply.status_code == 500 and "Set-Cookie" not in reply.headers
    from connectflow_dagster.execution import get_execution

    execution = get_execution(cf.instance, reply.json()["execution_id"])
    assert execution.status == "failed" and error in (execution.error or "")


def test_concurrent_callers_each_get_their_answer_and_a_second_respond_node_does_not_answer_again(
    cf, live_gateway, worker_thread
):
    from connectflow_dagster.execution import get_execution

    owner = live_gateway.user()
    workflow = respond_workflow(
        after=[{"id": "second", "type": "respond", "name": "Second", "params": {"body": "second"}}]
    )
    wid, _ = save(workflow, owner.user_id)

    def call(i: int):  # type: ignore[no-untyped-def]
        with live_gateway.client() as client:
            return client.post(f"/api/webhooks/{wid}/orders", json={"id": i})

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(call, range(4)))
    assert [r.status_code for r in replies] == [201] * 4
    assert [r.json() for r in replies] == [{"accepted": i} for i in range(4)]
    runs = [r for r in cf.instance.get_runs() if r.tags.get("connectflow/workflow_id") == wid]
    wait_for(lambda: all(cf.instance.get_run_by_id(r.run_id).is_finished for r in runs), what="the runs")
    execution = get_execution(cf.instance, runs[0].run_id)
    assert execution.context["second"]["sent"] is False and execution.context["answer"]["sent"] is True


def test_respond_node_mode_without_a_respond_node_is_a_problem_on_save():
    from connectflow_dagster import spec

    hook = {
        "id": "hook",
        "type": "trigger.webhook",
        "name": "Hook",
        "params": {"response_mode": "respond_node"},
    }
    answer = {"id": "answer", "type": "respond", "name": "Answer", "params": {"body": "ok"}}
    alone = spec.parse_workflow({"id": "r1", "name": "r", "nodes": [hook], "edges": []})
    problems = [p for p in spec.validate(alone) if p.field == "params.response_mode"]
    assert [p.node_id for p in problems] == ["hook"]
    assert "add one" in problems[0].message
    paired = spec.parse_workflow(
        {"id": "r2", "name": "r", "nodes": [hook, answer], "edges": [{"source": "hook", "target": "answer"}]}
    )
    assert not [p for p in spec.validate(paired) if p.field == "params.response_mode"]
