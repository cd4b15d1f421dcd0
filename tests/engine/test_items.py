"""Items: a loop fans out as Dagster mapped steps, an aggregate collects them back (docs/items.md)."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from dagster import DagsterEventType

from connectflow_dagster import spec
from connectflow_dagster.errors import WorkflowInvalid

START = {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}


def loop_workflow(url: str, *, loop_params: dict | None = None, retry: dict | None = None) -> dict:
    """start → list (HTTP) → each (loop) → fetch (per-item HTTP) → collect (aggregate) → done (Set)."""
    fetch = {
        "id": "fetch",
        "type": "http.request",
        "name": "Fetch item",
        "params": {"url": url + "/item?id={{ item.id }}&i={{ item_index }}"},
    }
    if retry:
        fetch["retry"] = retry
    return {
        "name": "per item",
        "nodes": [
            START,
            {"id": "list", "type": "http.request", "name": "List", "params": {"url": f"{url}/items"}},
            {
                "id": "each",
                "type": "loop",
                "name": "Each",
                "params": {"items": "{{ list.data }}", **(loop_params or {})},
            },
            fetch,
            {
                "id": "collect",
                "type": "aggregate",
                "name": "Collect",
                "params": {"value": "{{ fetch_item.data }}"},
            },
            {
                "id": "done",
                "type": "set",
                "name": "Done",
                "params": {"fields": {"names": "{{ collect.data | map(attribute='name') | list }}"}},
            },
        ],
        "edges": [
            {"source": "start", "target": "list"},
            {"source": "list", "target": "each"},
            {"source": "each", "target": "fetch"},
            {"source": "fetch", "target": "collect"},
            {"source": "collect", "target": "done"},
        ],
    }


def serve_items(http_server, count: int, on_item=None) -> None:
    http_server.route("GET", "/items", lambda _r: (200, {}, [{"id": f"o{i}"} for i in range(count)]))

    def item(request):
        query = parse_qs(urlsplit(request.path).query)
        if on_item is not None:
            answer = on_item(query)
            if answer is not None:
                return answer
        return 200, {}, {"name": f"name-{query['id'][0]}", "index": int(query["i"][0])}

    http_server.route("GET", "/item", item)


def step_events(cf, run_id: str, event_type) -> list:
    return [e.dagster_event for e in cf.instance.all_logs(run_id, of_type=event_type)]


@pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL storage
def test_items_run_as_dagster_mapped_steps_and_aggregate_keeps_their_order(cf, http_server):
    # The three requests wait for each other (they run at once) and answer in reverse item order;
    # the aggregate still lists them in item order.
    arrived = threading.Barrier(3, timeout=20)
    turn = threading.Condition()
    answered: list[str] = []

    def reverse(query):
        arrived.wait()
        with turn:
            turn.wait_for(lambda: len(answered) == 2 - int(query["i"][0]), timeout=20)
            answered.append(query["id"][0])
            turn.notify_all()
        return None

    serve_items(http_server, 3, on_item=reverse)
    ex = cf.run(loop_workflow(http_server.url, loop_params={"concurrency": 3}))
    assert ex.status == "success", ex.error
    assert ex.context["done"] == {"names": ["name-o0", "name-o1", "name-o2"]}
    assert ex.context["collect"]["count"] == 3
    assert ex.context["each"] == {"count": 3, "batches": 3, "batch_size": 1}
    succeeded = {e.step_key for e in step_events(cf, ex.id, DagsterEventType.STEP_SUCCESS)}
    assert {"fetch[0]", "fetch[1]", "fetch[2]"} <= succeeded  # Dagster mapped steps, one per item
    assert "item" not in ex.context and "fetch_item" not in ex.context  # per-item values stay in the loop
    assert answered == ["o2", "o1", "o0"]


def test_an_empty_list_aggregates_to_an_empty_list(cf, http_server):
    serve_items(http_server, 0)
    ex = cf.run(loop_workflow(http_server.url))
    assert ex.status == "success", ex.error
    assert ex.context["collect"] == {"data": [], "count": 0}
    assert ex.context["done"] == {"names": []}


def test_batches_of_n_items(cf, http_server):
    serve_items(http_server, 5)
    wf = loop_workflow(http_server.url, loop_params={"batch_size": 2})
    wf["nodes"][3]["params"]["url"] = http_server.url + "/item?id={{ item | length }}&i={{ item_index }}"
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert ex.context["each"] == {"count": 5, "batches": 3, "batch_size": 2}
    assert [i["name"] for i in ex.context["collect"]["data"]] == ["name-2", "name-2", "name-1"]


@pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL storage
def test_each_item_is_retried_on_its_own(cf, http_server):
    failures = {"o1": 1}
    lock = threading.Lock()

    def flaky(query):
        with lock:
            if failures.get(query["id"][0], 0) > 0:
                failures[query["id"][0]] -= 1
                return 503, {}, {"error": "busy"}
        return None

    serve_items(http_server, 3, on_item=flaky)
    ex = cf.run(loop_workflow(http_server.url, retry={"max_retries": 2, "delay_seconds": 0}))
    assert ex.status == "success", ex.error
    retried = [e.step_key for e in step_events(cf, ex.id, DagsterEventType.STEP_UP_FOR_RETRY)]
    assert retried == ["fetch[1]"]
    calls = [
        parse_qs(urlsplit(r.path).query)["id"][0] for r in http_server.requests if r.path.startswith("/item?")
    ]
    assert sorted(calls) == ["o0", "o1", "o1", "o2"]


@pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL storage
def test_the_concurrency_bound_is_honoured(cf, http_server):
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Event()

    def count(_query):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight >= 2:
                gate.set()
        gate.wait(10)  # the first two requests wait for each other, so two are in flight together
        with lock:
            in_flight -= 1
        return None

    serve_items(http_server, 8, on_item=count)
    ex = cf.run(loop_workflow(http_server.url, loop_params={"concurrency": 2}))
    assert ex.status == "success", ex.error
    assert peak == 2
    assert len(ex.context["collect"]["data"]) == 8


def test_a_list_above_the_max_items_limit_fails_with_a_clear_error(cf, http_server, monkeypatch):
    body = b"[" + b",".join([b"0"] * 1_000_000) + b"]"
    http_server.route("GET", "/items", lambda _r: (200, {"Content-Type": "application/json"}, body))
    wf = loop_workflow(http_server.url)
    # a lone path in a template is looked up directly: the template size limit does not cut it short
    ex = cf.run(wf)
    assert ex.status == "failed"
    assert ex.failed_node == "each"
    assert "the list has 1,000,000 items, more than the limit of 10,000" in ex.error
    assert not [r for r in http_server.requests if r.path.startswith("/item?")]


def test_max_items_is_configurable(cf, http_server, monkeypatch):
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_ITEMS_MAX", "3")
    get_settings.cache_clear()
    serve_items(http_server, 4)
    ex = cf.run(loop_workflow(http_server.url, loop_params={"max_items": 50}))
    assert ex.status == "failed" and "more than the limit of 3" in ex.error


def test_a_value_that_is_not_a_list_gives_a_clear_error(cf, http_server):
    http_server.route("GET", "/items", lambda _r: (200, {}, {"orders": [1, 2]}))
    ex = cf.run(loop_workflow(http_server.url))
    assert ex.status == "failed" and ex.failed_node == "each"
    assert "is an object, not a list (its list fields: orders)" in ex.error


def test_an_if_inside_a_loop_routes_each_item_and_the_aggregate_still_runs(cf):
    wf = {
        "name": "if in loop",
        "nodes": [
            START,
            {"id": "each", "type": "loop", "name": "Each", "params": {"items": "{{ trigger.numbers }}"}},
            {
                "id": "big",
                "type": "if",
                "name": "Big",
                "params": {"conditions": [{"left": "{{ item }}", "operator": "gt", "right": 10}]},
            },
            {"id": "label", "type": "set", "name": "Label", "params": {"fields": {"v": "big {{ item }}"}}},
            {"id": "collect", "type": "aggregate", "name": "Collect"},
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "big"},
            {"source": "big", "target": "label", "source_handle": "true"},
            {"source": "label", "target": "collect"},
        ],
    }
    ex = cf.run(wf, {"numbers": [5, 50, 7, 70]})
    assert ex.status == "success", ex.error
    assert ex.context["collect"] == {"data": [{"v": "big 50"}, {"v": "big 70"}], "count": 2}
    ex = cf.run(wf, {"numbers": [1, 2]})  # no item takes the branch: an empty list, not a skipped aggregate
    assert ex.status == "success", ex.error
    assert ex.context["collect"] == {"data": [], "count": 0}


def test_nodes_after_a_loop_without_aggregate_run_per_item(cf):
    wf = {
        "name": "no aggregate",
        "nodes": [
            START,
            {"id": "each", "type": "loop", "name": "Each", "params": {"items": [1, 2, 3]}},
            {"id": "twice", "type": "set", "name": "Twice", "params": {"fields": {"v": "{{ item * 2 }}"}}},
        ],
        "edges": [{"source": "start", "target": "each"}, {"source": "each", "target": "twice"}],
    }
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    outputs = {
        e.step_key: e.event_specific_data.metadata["output"].value
        for e in step_events(cf, ex.id, DagsterEventType.STEP_OUTPUT)
        if "variable" in e.event_specific_data.metadata
    }
    assert outputs["twice[0]"] == {"v": 2} and outputs["twice[2]"] == {"v": 6}
    # The executions read model: one entry per node, its items listed with their own status/output.
    twice = next(n for n in ex.nodes if n.node_id == "twice")
    assert twice.status == "success"
    assert [(i.index, i.status, i.output) for i in twice.items] == [
        (0, "success", {"v": 2}),
        (1, "success", {"v": 4}),
        (2, "success", {"v": 6}),
    ]
    assert twice.items_summary == {"success": 3, "total": 3}
    assert "twice" not in ex.context


def _problems(wf: dict) -> list[str]:
    with pytest.raises(WorkflowInvalid) as caught:
        spec.ensure_valid(spec.parse_workflow(wf))
    return [f"{p.node_id}: {p.message}" for p in caught.value.problems]


def _node(node_id: str, node_type: str, **params) -> dict:
    return {"id": node_id, "type": node_type, "name": node_id, "params": params}


def test_a_loop_inside_a_loop_is_refused_clearly():
    wf = {
        "nodes": [START, _node("outer", "loop", items=[[1]]), _node("inner", "loop", items="{{ item }}")],
        "edges": [{"source": "start", "target": "outer"}, {"source": "outer", "target": "inner"}],
    }
    assert _problems(wf) == [
        "inner: a loop inside loop 'outer' is not supported: aggregate 'outer' first, "
        "or loop over a flattened list"
    ]


def test_joining_a_branch_inside_a_loop_with_one_outside_is_refused_clearly():
    wf = {
        "nodes": [START, _node("each", "loop", items=[1]), _node("a", "set"), _node("join", "merge")],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "a"},
            {"source": "a", "target": "join"},
            {"source": "start", "target": "join"},
        ],
    }
    (problem,) = _problems(wf)
    assert problem.startswith(
        "join: joins a branch inside loop 'each' (once per item) with a branch outside it"
    )


def test_an_aggregate_without_a_loop_is_refused_and_item_is_reserved():
    wf = {
        "nodes": [
            START,
            _node("collect", "aggregate"),
            _node("each", "loop", items=[1]),
            _node("item", "set"),
        ],
        "edges": [
            {"source": "start", "target": "collect"},
            {"source": "start", "target": "each"},
            {"source": "each", "target": "item"},
        ],
    }
    problems = _problems(wf)
    assert "collect: an aggregate collects the items of a loop: connect it after a loop's nodes" in problems
    assert "item: 'item' is the current item inside loops: choose another variable name" in problems


def test_a_node_reached_inside_the_loop_and_after_its_aggregate_is_refused():
    wf = {
        "nodes": [
            START,
            _node("each", "loop", items=[1]),
            _node("a", "set"),
            _node("agg", "aggregate"),
            _node("b", "set"),
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "a"},
            {"source": "a", "target": "agg"},
            {"source": "agg", "target": "b"},
            {"source": "a", "target": "b"},
        ],
    }
    (problem,) = _problems(wf)
    assert problem.startswith("b: joins a branch inside loop 'each'")


def test_live_events_name_the_node_and_the_item(cf, http_server):
    from connectflow_dagster.dispatch.live import RunEventReader

    serve_items(http_server, 2)
    ex = cf.run(loop_workflow(http_server.url))
    events = [e.data for e in RunEventReader(cf.instance, ex.id).poll() if e.kind == "node"]
    fetch = {(e["item"], e["status"]) for e in events if e["node_id"] == "fetch"}
    assert fetch == {(0, "running"), (1, "running"), (0, "success"), (1, "success")}
    (loop_done,) = [e for e in events if e["node_id"] == "each" and e["status"] == "success"]
    assert loop_done["items"] == 2 and "item" not in loop_done


def test_a_failed_item_with_on_error_continue_leaves_the_other_items_results(cf, http_server):
    serve_items(
        http_server, 3, on_item=lambda q: (404, {}, {"error": "gone"}) if q["id"][0] == "o1" else None
    )
    wf = loop_workflow(http_server.url)
    wf["nodes"][3]["on_error"] = "continue"
    wf["nodes"][4]["params"] = {}  # collect each item's last output: the response, or the error
    wf["nodes"][5]["params"] = {"fields": {"n": "{{ collect.count }}"}}
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    first, failed, last = ex.context["collect"]["data"]
    assert first["data"] == {"name": "name-o0", "index": 0} and last["data"] == {
        "name": "name-o2",
        "index": 2,
    }
    assert failed["error"]["node_id"] == "fetch" and "404" in failed["error"]["message"]
    fetch = next(n for n in ex.nodes if n.node_id == "fetch")
    assert [(i.status, i.on_error) for i in fetch.items] == [
        ("success", None),
        ("success", "continue"),
        ("success", None),
    ]
    assert "404" in fetch.items[1].error and fetch.items_summary["on_error"] == 1


def test_a_loops_concurrency_is_clipped_to_the_configured_maximum(monkeypatch):
    from connectflow_dagster.compiler import loop_concurrency
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_ITEMS_MAX_CONCURRENCY", "6")
    monkeypatch.setenv("CONNECTFLOW_ITEMS_CONCURRENCY", "3")
    get_settings.cache_clear()
    try:
        node = spec.Node(id="each", type="loop", name="Each", params={"items": [1], "concurrency": 10**9})
        assert loop_concurrency(node) == 6
        assert loop_concurrency(node.model_copy(update={"params": {"items": [1]}})) == 3
        templated = node.model_copy(update={"params": {"items": [1], "concurrency": "{{ trigger.n }}"}})
        assert loop_concurrency(templated) == 3  # a template is not known when the job is built
    finally:
        get_settings.cache_clear()


def test_error_output_inside_a_loop_routes_only_the_failed_item(cf, http_server):
    serve_items(
        http_server, 3, on_item=lambda q: (404, {}, {"error": "gone"}) if q["id"][0] == "o1" else None
    )
    wf = loop_workflow(http_server.url)
    wf["nodes"][3]["on_error"] = "error_output"
    wf["nodes"][4]["params"] = {
        "value": "{{ fetch_item.data.name if fetch_item.data is defined else note.text }}"
    }
    wf["nodes"].append(
        {"id": "note", "type": "set", "name": "Note", "params": {"fields": {"text": "missing {{ item.id }}"}}}
    )
    wf["nodes"][5]["params"] = {"fields": {"n": "{{ collect.count }}"}}
    wf["edges"] += [
        {"source": "fetch", "target": "note", "source_handle": "error"},
        {"source": "note", "target": "collect"},
    ]
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert ex.context["collect"]["data"] == ["name-o0", "missing o1", "name-o2"]
    note = next(n for n in ex.nodes if n.node_id == "note")
    assert [i.status for i in note.items] == ["skipped", "success", "skipped"]
