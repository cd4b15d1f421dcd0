"""Code (JavaScript) and No Op nodes in real runs (the worker's in-process path), and the JS example."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.conftest import ROOT

START = {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """Start → nodes in order."""
    ids = ["start", *(n["id"] for n in nodes)]
    return {
        "name": "code chain",
        "nodes": [START, *nodes],
        "edges": [{"source": a, "target": b} for a, b in itertools.pairwise(ids)],
    }


def js(node_id: str, code: str, mode: str = "all_items", name: str | None = None, **params: Any):
    return {
        "id": node_id,
        "type": "code.js",
        "name": name or node_id.title(),
        "params": {"code": code, "mode": mode, **params},
    }


def node(ex, node_id: str):  # type: ignore[no-untyped-def]
    return next(n for n in ex.nodes if n.node_id == node_id)


def test_the_js_example_prices_each_order(cf):
    ex = cf.run(json.loads((ROOT / "examples" / "js_code.json").read_text()))
    assert ex.status == "success", ex.error
    assert ex.context["price_each_order"][2] == {
        "id": "A-1043",
        "qty": 12,
        "price": 14.25,
        "total": 171,
        "currency": "EUR",
        "big": True,
    }
    assert ex.context["report"]["message"] == "3 orders, 310 EUR; big: A-1042, A-1043"


def test_input_is_the_previous_node_and_earlier_nodes_are_reached_by_name(cf):
    wf = chain(
        {"id": "rows", "type": "set", "name": "Rows", "params": {"fields": {"n": "{{ trigger.n }}"}}},
        js("double", "return items.map(i => ({json: {n: i.json.n * 2, from: $('Start').first().json.who}}))"),
        js("each", "return {...$json, i: $itemIndex, rows: $('Rows').item.json.n}", mode="each_item"),
        {"id": "pass", "type": "noop", "name": "Pass"},
    )
    ex = cf.run(wf, {"n": 21, "who": "Ada"})
    assert ex.status == "success", ex.error
    assert ex.context["double"] == [{"n": 42, "from": "Ada"}]
    assert ex.context["each"] == [{"n": 42, "from": "Ada", "i": 0, "rows": 21}]
    assert ex.context["pass"] == ex.context["each"]  # No Op: its output is its input


def test_console_log_goes_to_the_event_log(cf):

    ex = cf.run(chain(js("code", "console.log('total', 42); return {}")))
    assert ex.status == "success", ex.error
    messages = [entry.user_message for entry in cf.instance.all_logs(ex.id)]
    assert any("console.log total 42" in m for m in messages)


def test_code_is_not_a_template(cf):
    """``{{`` in JavaScript is code: neither rendered nor reported as a template syntax error."""
    code = "const o = {a: {b: 1}}; const t = `{{ not jinja }}` + '{% raw %}'; return [{json: {t, b: o.a.b}}]"
    ex = cf.run(chain(js("code", code)))
    assert ex.status == "success", ex.error
    assert ex.context["code"] == [{"t": "{{ not jinja }}{% raw %}", "b": 1}]


@pytest.mark.parametrize(
    ("code", "says", "limit"),
    [
        ("while (true) {}", "ran longer than its time limit (1 s) and was stopped", 1),
        # A generous time limit: on a loaded machine the memory bomb must still meet its memory limit first.
        (
            "const a = []; while (true) a.push('x'.repeat(1000) + Math.random());",
            "more memory than its limit",
            60,
        ),
        ("return require('child_process').execSync('id')", "require is not defined", 1),
        ("return [1, 2]", "must return items", 1),
        (
            "\nreturn $json.missing.deeper",
            "TypeError: cannot read property 'deeper' of undefined (line 2)",
            1,
        ),
    ],
)
def test_a_failing_code_node_fails_its_run_clearly_and_the_next_run_works(cf, code, says, limit):
    ex = cf.run(chain(js("code", code, timeout_seconds=limit)))
    assert ex.status == "failed"
    failed = node(ex, "code")
    assert failed.status == "failed" and says in (failed.error or "")
    assert "Traceback" not in (failed.error or "")
    again = cf.run(chain(js("code", "return {ok: true}")))
    assert again.status == "success" and again.context["code"] == [{"ok": True}]


def test_a_huge_output_is_refused(cf):
    ex = cf.run(chain(js("code", "return {s: 'x'.repeat(20 * 1024 * 1024)}", timeout_seconds=5)))
    assert ex.status == "failed"
    assert "larger than" in (node(ex, "code").error or "")


def test_huge_code_is_refused_on_save(cf):
    from connectflow_dagster import spec
    from connectflow_dagster.sandbox.js import MAX_CODE_CHARS

    wf = spec.parse_workflow(chain(js("code", "//" + "x" * MAX_CODE_CHARS)))
    problems = spec.validate(wf)
    assert any(p.node_id == "code" and "params.code" in (p.field or "") for p in problems)


def test_the_node_types_are_in_the_catalogue():
    from connectflow_dagster.registry import get_registry

    registry = get_registry()
    code = registry.get("code.js").describe()
    assert code["params_schema"]["properties"]["mode"]["enum"] == ["all_items", "each_item"]
    assert registry.get("noop").describe()["group"] == "logic"


# ---- Code (Python): off unless the operator enables it ------------------------------------------------


def py(node_id: str, code: str, mode: str = "all_items", **params: Any):
    return {
        "id": node_id,
        "type": "code.python",
        "name": node_id.title(),
        "params": {"code": code, "mode": mode, **params},
    }


@pytest.fixture
def python_on(monkeypatch):  # type: ignore[no-untyped-def]
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_PYTHON_CODE", "on")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_python_node_is_off_by_default(cf):
    from connectflow_dagster import spec

    wf = chain(py("code", "return {'ran': True}"))
    problems = spec.validate(spec.parse_workflow(wf))
    assert [p.message for p in problems if p.node_id == "code"] == [
        "the Python code node is turned off on this server: it runs arbitrary Python for trusted "
        "authors, and an operator enables it with CONNECTFLOW_PYTHON_CODE=on"
    ]
    # Saving through the API reports it and refuses to execute: tests/gateway/test_code_and_notes.py.
    from connectflow_dagster.registry import get_registry

    described = get_registry().get("code.python").describe()
    assert described["enabled"] is False and "Turned off on this server" in described["description"]


@pytest.mark.usefixtures("python_on")
def test_python_code_over_items_in_both_modes(cf):
    wf = chain(
        js("rows", "return [{n: 1}, {n: 2}]", name="Rows"),
        py("double", "return [{'json': {'n': i['json']['n'] * 2}} for i in _input.all()]"),
        py(
            "each",
            "print('logged, not returned')\nreturn {**_json, 'i': _item_index, 'row': _('Rows').item['json']['n']}",
            mode="each_item",
        ),
    )
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert ex.context["double"] == [{"n": 2}, {"n": 4}]
    assert ex.context["each"] == [{"n": 2, "i": 0, "row": 1}, {"n": 4, "i": 1, "row": 2}]


@pytest.mark.usefixtures("python_on")
def test_the_python_process_sees_no_secret_and_no_inherited_descriptor(cf, monkeypatch, tmp_path):
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", "parent-secret-" + "k" * 20)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-parent-secret")
    get_settings.cache_clear()
    held = open(tmp_path / "held.txt", "w")  # an open descriptor of the parent  # noqa: SIM115
    try:
        code = "import os\nreturn {'env': dict(os.environ), 'fds': sorted(os.listdir('/proc/self/fd'))}"
        ex = cf.run(chain(py("code", code)))
    finally:
        held.close()
    assert ex.status == "success", ex.error
    [seen] = ex.context["code"]
    assert set(seen["env"]) == {"PATH", "LANG", "HOME"}
    assert "parent-secret" not in json.dumps(seen) and "aws-parent-secret" not in json.dumps(seen)
    assert seen["fds"] == ["0", "1", "2", "3"]  # stdin, stdout, stderr, and listdir's own


@pytest.mark.usefixtures("python_on")
@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("while True:\n    pass", "limit (1 s) and was stopped"),  # CPU or wall clock: whichever first
        ("import time\ntime.sleep(60)", "ran longer than its time limit (1 s)"),
        ("blob = bytearray(1024 * 1024 * 1024)\nreturn {}", "needed more memory than its limit"),
        ("x = 1\n\nreturn {'v': 1 / 0}", "ZeroDivisionError: division by zero (line 3)"),
        ("return [1, 2]", "must return items"),
        ("print('x' * (32 * 1024 * 1024))", "larger than"),
    ],
)
def test_python_limits_stop_the_code_clearly(cf, code, says):
    ex = cf.run(chain(py("code", code, timeout_seconds=1)))
    assert ex.status == "failed"
    assert says in (node(ex, "code").error or "")
    again = cf.run(chain(py("code", "return {'ok': True}")))
    assert again.status == "success" and again.context["code"] == [{"ok": True}]


def test_the_cpu_limit_stops_a_busy_loop_before_the_wall_clock_does():
    from connectflow_dagster.sandbox import python

    with pytest.raises(python.PythonCodeError, match=r"more than its CPU time limit \(1 s\)"):
        python.run(
            "while True:\n    pass",
            mode="all",
            input_items=[],
            nodes={},
            timeout=120,
            memory=64 << 20,
            cpu_seconds=1,
        )


def test_right_after_a_loop_the_input_is_the_current_item(cf):
    wf = {
        "name": "loop code",
        "nodes": [
            {**START},
            {"id": "each", "type": "loop", "name": "Each row", "params": {"items": "{{ trigger.rows }}"}},
            js("code", "return {...$json, tag: $('Start').first().json.tag}", mode="each_item"),
            {"id": "pass", "type": "noop", "name": "Pass"},
            {"id": "agg", "type": "aggregate", "name": "Agg"},
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "code"},
            {"source": "code", "target": "pass"},
            {"source": "pass", "target": "agg"},
        ],
    }
    ex = cf.run(wf, {"rows": [{"a": 1}, {"a": 2}], "tag": "x"})
    assert ex.status == "success", ex.error
    assert ex.context["agg"]["data"] == [[{"a": 1, "tag": "x"}], [{"a": 2, "tag": "x"}]]


def test_parallel_code_nodes_in_one_run_are_isolated(cf):
    """Two branches at once on the worker's threads: one runaway, one normal; each gets its outcome."""
    wf = {
        "name": "parallel code",
        "nodes": [
            {**START},
            js("runaway", "globalThis.shared = 'leak'; while (true) {}", timeout_seconds=1),
            js("normal", "return {shared: typeof shared, n: $input.first().json.n + 1}"),
        ],
        "edges": [{"source": "start", "target": "runaway"}, {"source": "start", "target": "normal"}],
    }
    ex = cf.run(wf, {"n": 1})
    assert ex.status == "failed"
    assert node(ex, "normal").status == "success" and node(ex, "normal").output == [
        {"shared": "undefined", "n": 2}
    ]
    assert "time limit" in (node(ex, "runaway").error or "")


def test_after_an_http_request_the_items_are_the_response_body_as_in_n8n(cf, http_server):
    http_server.route("GET", "/people", lambda r: (200, {}, [{"name": "Ada"}, {"name": "Grace"}]))
    wf = chain(
        {
            "id": "call",
            "type": "http.request",
            "name": "Call",
            "params": {"url": f"{http_server.url}/people"},
        },
        js(
            "code",
            "return {count: items.length, first: $('Call').first().json.name, all: $input.all().map(i => i.json.name)}",
        ),
    )
    ex = cf.run(wf)
    assert ex.status == "success", ex.error
    assert ex.context["code"] == [{"count": 2, "first": "Ada", "all": ["Ada", "Grace"]}]
    assert ex.context["call"]["status"] == 200  # templates still see the whole output
