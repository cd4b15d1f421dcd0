"""Items through the API: the catalogue describes loops and Switch outputs, validation names a bad
Switch edge, and an execution lists a per-item node's items (another user gets 404)."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.usefixtures("backend")

START = {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}


def test_the_catalogue_describes_loops_and_per_node_outputs(gateway):
    types = {t["type"]: t for t in gateway.user().get("/api/node-types").json()["data"]}
    assert types["loop"]["items"] == "split" and types["aggregate"]["items"] == "collect"
    assert types["switch"]["outputs_from"] == {"param": "rules", "key": "output", "then": ["fallback"]}
    assert types["http.request"]["outputs_from"] is None and types["http.request"]["items"] is None


def test_a_switch_edge_from_an_output_the_node_does_not_have_is_a_problem(gateway):
    wf = {
        "name": "route",
        "nodes": [
            START,
            {
                "id": "route",
                "type": "switch",
                "name": "Route",
                "params": {
                    "mode": "value",
                    "value": "{{ trigger.s }}",
                    "rules": [{"output": "paid", "equals": "p"}],
                },
            },
            {"id": "done", "type": "set", "name": "Done", "params": {"fields": {"x": 1}}},
        ],
        "edges": [
            {"source": "start", "target": "route"},
            {"source": "route", "target": "done", "source_handle": "lost"},
        ],
    }
    saved = gateway.user().post("/api/workflows", json=wf)
    assert saved.status_code == 201, saved.text  # saved as a draft that cannot run, saying why
    assert saved.json()["runnable"] is False
    assert saved.json()["problems"] == [
        {
            "message": "output 'lost' does not exist (outputs: paid, fallback)",
            "node_id": "route",
            "field": "edges.1.source_handle",
        }
    ]


def test_an_execution_lists_each_item_of_a_node_inside_a_loop(gateway):
    ada, bob = gateway.user(), gateway.user()
    wf = {
        "name": "items",
        "nodes": [
            START,
            {"id": "each", "type": "loop", "name": "Each", "params": {"items": "{{ trigger.numbers }}"}},
            {"id": "double", "type": "set", "name": "Double", "params": {"fields": {"v": "{{ item * 2 }}"}}},
            {"id": "collect", "type": "aggregate", "name": "Collect"},
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "double"},
            {"source": "double", "target": "collect"},
        ],
    }
    created = ada.post("/api/workflows", json=wf).json()
    started = ada.post(f"/api/workflows/{created['id']}/execute", json={"input": {"numbers": [1, 2, 3]}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    gateway.wait(execution_id)
    detail = ada.get(f"/api/executions/{execution_id}").json()
    assert detail["status"] == "success", detail["error"]
    double = next(n for n in detail["nodes"] if n["node_id"] == "double")
    assert [(i["index"], i["mapping_key"], i["status"], i["output"]) for i in double["items"]] == [
        (0, "0", "success", {"v": 2}),
        (1, "1", "success", {"v": 4}),
        (2, "2", "success", {"v": 6}),
    ]
    assert double["items_summary"] == {"success": 3, "total": 3}
    assert next(n for n in detail["nodes"] if n["node_id"] == "collect")["items"] is None
    assert detail["context"]["collect"] == {"data": [{"v": 2}, {"v": 4}, {"v": 6}], "count": 3}
    assert bob.get(f"/api/executions/{execution_id}").status_code == 404


def test_retry_from_failure_reruns_only_the_failed_item(gateway, http_server):
    from urllib.parse import parse_qs, urlsplit

    healthy = threading.Event()

    def item(request):  # type: ignore[no-untyped-def]
        ident = parse_qs(urlsplit(request.path).query)["id"][0]
        if ident == "2" and not healthy.is_set():
            return 503, {}, {"error": "down"}
        return 200, {}, {"id": ident}

    http_server.route("GET", "/item", item)
    ada = gateway.user()
    wf = {
        "name": "retry items",
        "nodes": [
            START,
            {"id": "each", "type": "loop", "name": "Each", "params": {"items": [1, 2, 3]}},
            {
                "id": "fetch",
                "type": "http.request",
                "name": "Fetch",
                "params": {"url": http_server.url + "/item?id={{ item }}"},
            },
            {
                "id": "collect",
                "type": "aggregate",
                "name": "Collect",
                "params": {"value": "{{ fetch.data.id }}"},
            },
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "fetch"},
            {"source": "fetch", "target": "collect"},
        ],
    }
    created = ada.post("/api/workflows", json=wf).json()
    failed_id = ada.post(f"/api/workflows/{created['id']}/execute", json={}).json()["execution_id"]
    gateway.wait(failed_id)
    failed = ada.get(f"/api/executions/{failed_id}").json()
    assert failed["status"] == "failed" and failed["failed_node"] == "fetch"
    fetch = next(n for n in failed["nodes"] if n["node_id"] == "fetch")
    assert [i["status"] for i in fetch["items"]] == ["success", "failed", "success"]
    assert "503" in fetch["error"] and fetch["error"].endswith("(item 1)")

    healthy.set()
    retry_id = ada.post(f"/api/executions/{failed_id}/retry").json()["execution_id"]
    gateway.wait(retry_id)
    detail = ada.get(f"/api/executions/{retry_id}").json()
    assert detail["status"] == "success", detail["error"]
    assert detail["context"]["collect"] == {"data": ["1", "2", "3"], "count": 3}
    calls = sorted(parse_qs(urlsplit(r.path).query)["id"][0] for r in http_server.requests)
    assert calls == ["1", "2", "2", "3"]  # the items that had succeeded were not called again
