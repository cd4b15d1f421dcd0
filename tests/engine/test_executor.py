"""The threaded executor: independent branches of a run execute at the same time."""

from __future__ import annotations

import threading

import pytest

from tests.dispatch.conftest import manual_set_workflow

pytestmark = pytest.mark.usefixtures("backend")


def fanout_workflow(url: str, branches: int = 5) -> dict:
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start"}]
    edges = []
    for i in range(branches):
        nodes.append(
            {"id": f"call{i}", "type": "http.request", "name": f"Call {i}", "params": {"url": f"{url}/slow"}}
        )
        edges.append({"source": "start", "target": f"call{i}"})
    nodes.append({"id": "join", "type": "merge", "name": "Join"})
    edges += [{"source": f"call{i}", "target": "join"} for i in range(branches)]
    return {"name": "fan-out", "nodes": nodes, "edges": edges}


def test_five_parallel_http_nodes_are_in_flight_at_the_same_time(cf, http_server):
    # Each request waits until all five have arrived: run one after another, they would time out.
    barrier = threading.Barrier(5, timeout=20)

    def slow(_request):
        barrier.wait()
        return 200, {}, {"ok": True}

    http_server.route("GET", "/slow", slow)
    execution = cf.run(fanout_workflow(http_server.url))
    assert execution.status == "success", execution.error
    assert len(http_server.requests) == 5
    statuses = {n.node_id: n.status for n in execution.nodes}
    assert all(statuses[f"call{i}"] == "success" for i in range(5)) and statuses["join"] == "success"


def test_a_failing_branch_fails_the_run_and_the_others_still_finish(cf, http_server):
    http_server.route("GET", "/slow", lambda _r: (200, {}, {"ok": True}))
    workflow = fanout_workflow(http_server.url, branches=3)
    workflow["nodes"][2]["params"]["url"] = f"{http_server.url}/missing"
    execution = cf.run(workflow)
    statuses = {n.node_id: n.status for n in execution.nodes}
    assert execution.status == "failed"
    assert statuses["call1"] == "failed" and statuses["call0"] == statuses["call2"] == "success"


def test_a_chain_still_runs_in_order(cf):
    execution = cf.run(manual_set_workflow(), {"name": "Ada"})
    assert execution.status == "success" and execution.context["greet"] == {"message": "hello Ada"}
