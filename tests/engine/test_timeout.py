"""``settings.timeout_seconds`` stops a run: it fails saying so, naming the node that was running.

The slow service is a real local HTTP server that holds its answer until the test releases it, so a
run can only end early if the timeout stopped it (no elapsed-time assertions).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectflow_dagster.dispatch import inbox
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.tags import TAG_TIMED_OUT


@pytest.fixture
def held(http_server) -> Iterator[tuple[str, threading.Event, list]]:
    """GET /hold answers only once ``release`` is set (at the end of the test at the latest)."""
    release, arrived = threading.Event(), []

    def hold(req):
        arrived.append(req)
        release.wait(60)
        return 200, {}, {"late": True}

    http_server.route("GET", "/hold", hold)
    http_server.route("GET", "/fast", lambda req: (200, {}, {"fast": True}))
    yield http_server.url, release, arrived
    release.set()


def slow_flow(url: str, timeout: float, **call_settings) -> dict:
    return {
        "name": "slow",
        "settings": {"timeout_seconds": timeout},
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {"id": "fast", "type": "http.request", "name": "Fast", "params": {"url": f"{url}/fast"}},
            {
                "id": "slow",
                "type": "http.request",
                "name": "Slow call",
                "params": {"url": f"{url}/hold", "timeout": 120},
                **call_settings,
            },
            {"id": "after", "type": "set", "name": "After", "params": {"fields": {"x": 1}}},
        ],
        "edges": [
            {"source": "start", "target": "fast"},
            {"source": "fast", "target": "slow"},
            {"source": "slow", "target": "after"},
        ],
    }


def test_a_run_longer_than_its_timeout_fails_naming_the_running_node(cf, held):
    url, release, arrived = held
    ex = cf.run(slow_flow(url, 1))
    assert not release.is_set() and len(arrived) == 1  # it ended while the server still held
    assert ex.status == "failed"
    assert ex.error.startswith("timed out after 1 s") and "'slow'" in ex.error, ex.error
    nodes = {n.node_id: n for n in ex.nodes}
    assert nodes["fast"].status == "success" and ex.context["fast"]["data"] == {"fast": True}
    assert nodes["slow"].status == "failed" and nodes["slow"].error.startswith("timed out after 1 s")
    assert ex.failed_node == "slow"
    assert nodes["after"].status == "not_run"
    run = cf.instance.get_run_by_id(ex.id)
    assert run.status.value == "FAILURE" and run.tags["dagster/max_runtime"] == "1"
    assert run.tags[TAG_TIMED_OUT] == ex.error
    with session_scope() as session:  # nothing lost: the event is done, not retried
        assert inbox.get_event(session, ex.id).status == inbox.DONE


def test_neither_retries_nor_on_error_outlive_the_timeout(cf, held):
    url, release, arrived = held
    ex = cf.run(slow_flow(url, 1, on_error="continue", retry={"max_retries": 3, "delay_seconds": 0}))
    assert not release.is_set() and len(arrived) == 1
    assert ex.status == "failed" and ex.error.startswith("timed out after 1 s")
    assert {n.node_id: n.status for n in ex.nodes}["after"] == "not_run"


def test_a_run_within_its_timeout_succeeds(cf, held):
    url, _, _ = held
    wf = slow_flow(url, 300)
    wf["nodes"][2]["params"]["url"] = f"{url}/fast"
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert TAG_TIMED_OUT not in cf.instance.get_run_by_id(ex.id).tags


def test_the_timeout_stops_every_item_of_a_loop_in_flight(cf, held):
    url, release, arrived = held
    flow = {
        "name": "slow items",
        "settings": {"timeout_seconds": 1},
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "each",
                "type": "loop",
                "name": "Each",
                "params": {"items": [1, 2, 3, 4], "concurrency": 2},
            },
            {
                "id": "slow",
                "type": "http.request",
                "name": "Slow call",
                "params": {"url": f"{url}/hold", "timeout": 120},
            },
            {"id": "collect", "type": "aggregate", "name": "Collect"},
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "slow"},
            {"source": "slow", "target": "collect"},
        ],
    }
    ex = cf.run(flow)
    assert not release.is_set() and 1 <= len(arrived) <= 2  # at most the bound in flight, all stopped
    assert ex.status == "failed" and ex.error.startswith("timed out after 1 s"), ex.error
    slow = {n.node_id: n for n in ex.nodes}["slow"]
    assert slow.status == "failed" and slow.items
    assert {i.status for i in slow.items} <= {"failed", "not_run"} and slow.items[0].status == "failed"
    assert {n.node_id: n.status for n in ex.nodes}["collect"] == "not_run"
