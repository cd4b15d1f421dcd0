"""The JavaScript sandbox (connectflow_dagster.sandbox.js) and the n8n-like API on top of it (.n8n).

No Dagster here: these call ``evaluate`` / ``run_code`` directly, as the JS code node and the n8n
expression import do.
"""

from __future__ import annotations

import threading

import pytest

from connectflow_dagster.sandbox import js, n8n

SMALL = {"timeout": 1.0, "memory": 16 * 1024 * 1024}


# ---- what the code cannot reach -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("return require('fs').readFileSync('/etc/passwd', 'utf8')", "require is not defined"),
        ("return process.env", "process is not defined"),
        ("return await fetch('http://127.0.0.1:1/')", "fetch is not defined"),
        ("return new XMLHttpRequest()", "XMLHttpRequest is not defined"),
        ("return await import('os')", "could not load module 'os'"),
        ("return await import('qjs:std')", "could not load module"),
        ("return std.loadFile('/etc/passwd')", "std is not defined"),
        ("return os.exec(['id'])", "os is not defined"),
        ("return Deno.readTextFileSync('/etc/passwd')", "Deno is not defined"),
        ("setTimeout(() => 1, 0)", "setTimeout is not defined"),
    ],
)
def test_no_file_network_or_process_access(code, says):
    with pytest.raises(js.JsCodeError) as caught:
        js.evaluate(code, **SMALL)
    assert says in str(caught.value)


def test_import_statements_do_not_parse():
    with pytest.raises(js.JsCodeError, match="SyntaxError"):
        js.evaluate("import fs from 'fs'; return 1", **SMALL)


def test_the_global_object_holds_only_builtins_and_the_given_data():
    names = js.evaluate("return Object.getOwnPropertyNames(globalThis)", {"a": 1}, **SMALL)
    assert "a" in names
    assert not {"require", "process", "fetch", "std", "os", "print", "setTimeout"} & set(names)


def test_console_output_is_collected_bounded_and_kept_when_the_code_fails():
    logs: list[str] = []
    assert (
        js.evaluate("console.log('hi', {a: 1}); console.error(new Error('x').message); return 1", logs=logs)
        == 1
    )
    assert logs == ['log hi {"a":1}', "error x"]
    logs.clear()
    with pytest.raises(js.JsTimeout):
        js.evaluate("console.info('before the loop'); while (true) {}", logs=logs, **SMALL)
    assert logs == ["info before the loop"]
    logs.clear()
    js.evaluate("for (let i = 0; i < 10000; i++) console.log('x'.repeat(1000)); return 1", logs=logs)
    assert len(logs) <= js.MAX_LOG_LINES and sum(map(len, logs)) <= js.MAX_LOG_CHARS + 10 * js.MAX_LOG_LINES


def test_each_evaluation_starts_from_a_fresh_runtime():
    js.evaluate("globalThis.leak = 'secret'; Object.prototype.polluted = 1; return 1", **SMALL)
    assert js.evaluate("return [typeof leak, ({}).polluted === undefined]", **SMALL) == ["undefined", True]


# ---- limits: the code is stopped with a clear error, and the next evaluation works ---------------------


@pytest.mark.parametrize(
    "code",
    [
        "while (true) {}",
        "for (;;) { try { while (true) {} } catch (e) {} }",  # the interrupt cannot be caught
        "async function f() { while (true) await null; } await f();",  # a chain of promise jobs
    ],
)
def test_an_infinite_loop_is_stopped(code):
    with pytest.raises(js.JsTimeout, match=r"ran longer than its time limit \(1 s\) and was stopped"):
        js.evaluate(code, **SMALL)
    assert js.evaluate("return 40 + 2", **SMALL) == 42


@pytest.mark.parametrize(
    "code",
    [
        "const a = []; while (true) a.push('x'.repeat(1000) + Math.random());",
        "let s = 'x'; while (true) s = s + s;",
        "const a = []; while (true) a.push({n: Math.random()});",  # no memory left to build the error
    ],
)
def test_a_memory_bomb_is_stopped(code):
    with pytest.raises((js.JsMemoryLimit, js.JsCodeError)) as caught:
        js.evaluate(code, timeout=5.0, memory=16 * 1024 * 1024)
    assert isinstance(caught.value, js.JsMemoryLimit) or "string too long" in str(caught.value)
    assert js.evaluate("return 'still working'", **SMALL) == "still working"


def test_a_bomb_that_swallows_the_memory_error_is_stopped_by_the_time_limit():
    code = "const a = []; while (true) { try { a.push(new Array(1e5).fill(1)); } catch (e) {} }"
    with pytest.raises(js.JsTimeout):
        js.evaluate(code, timeout=1.0, memory=16 << 20)


def test_the_memory_message_names_the_limit():
    with pytest.raises(js.JsMemoryLimit, match=r"more memory than its limit \(16 MiB\)"):
        js.evaluate("const a = []; while (true) a.push({n: Math.random()});", timeout=5.0, memory=16 << 20)


def test_deep_recursion_is_a_catchable_range_error():
    with pytest.raises(js.JsCodeError, match="RangeError"):
        js.evaluate("function f() { return f() + 1 } return f()", **SMALL)
    assert js.evaluate("function f(){return f()} try { f() } catch (e) { return e.name }", **SMALL) == (
        "RangeError"
    )


def test_a_runaway_evaluation_does_not_stall_other_threads():
    """The engine releases the GIL: a Python thread keeps running while JavaScript loops."""
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            done.wait(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        with pytest.raises(js.JsTimeout):
            js.evaluate("while (true) {}", timeout=1.0, memory=16 << 20)
    finally:
        done.set()
        thread.join()
    assert ticks > 10


def test_concurrent_evaluations_are_independent():
    results: dict[int, object] = {}

    def run(i: int) -> None:
        results[i] = js.evaluate("let s = 0; for (let k = 0; k < 1000; k++) s += n; return s", {"n": i})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i * 1000 for i in range(8)}


# ---- results, errors, hostile input --------------------------------------------------------------------


def test_results_are_json_and_errors_name_the_users_line():
    assert js.evaluate("return {a: [1, 'b', null, true], u: undefined}") == {"a": [1, "b", None, True]}
    assert js.evaluate("return undefined") is None
    assert js.evaluate("a.b * 2", {"a": {"b": 21}}, expression=True) == 42
    with pytest.raises(js.JsCodeError) as caught:
        js.evaluate("const x = 1;\n\nreturn x.y.z;")
    assert caught.value.name == "TypeError" and caught.value.line == 3
    assert str(caught.value).endswith("(line 3)")
    with pytest.raises(js.JsCodeError, match='uncaught "plain string"'):
        js.evaluate("throw 'plain string'")
    with pytest.raises(js.JsCodeError, match="never settles"):
        js.evaluate("await new Promise(() => {})", **SMALL)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("const a = {}; a.self = a; return a", "not JSON"),
        ("return 10n", "not JSON"),
        ("return 'x'.repeat(17 * 1024 * 1024)", "larger than"),
    ],
)
def test_a_result_that_cannot_be_returned_is_refused(code, says):
    with pytest.raises(js.JsResultError, match=says):
        js.evaluate(code, timeout=5.0, memory=128 << 20)


def test_huge_code_is_refused_before_it_is_parsed():
    with pytest.raises(js.JsCodeError, match="longer than"):
        js.evaluate("1;" * (js.MAX_CODE_CHARS // 2 + 1))


def test_data_keys_must_be_identifiers_and_values_json():
    with pytest.raises(ValueError, match="identifier"):
        js.evaluate("return 1", {"a b": 1})
    assert js.evaluate("return [x, typeof __cf_data]", {"x": "</script>\u2028"}) == [
        "</script>\u2028",
        "undefined",
    ]


# ---- the n8n-like API ----------------------------------------------------------------------------------

INPUT = n8n.to_items([{"name": "Ada", "n": 1}, {"name": "Grace", "n": 2}])
NODES = {"Webhook": n8n.to_items({"body": {"tenant": "acme"}}), "Orders": INPUT}


def run_all(code: str):  # type: ignore[no-untyped-def]
    return n8n.run_code(code, mode="all", input_items=INPUT, nodes=NODES, meta={"workflow_id": "wf1"})


def run_each(code: str):  # type: ignore[no-untyped-def]
    return n8n.run_code(code, mode="each", input_items=INPUT, nodes=NODES)


def test_run_once_for_all_items():
    assert run_all("return $input.all().map(i => ({json: {upper: i.json.name.toUpperCase()}}))") == [
        {"upper": "ADA"},
        {"upper": "GRACE"},
    ]
    assert run_all(
        "return [{json: {count: items.length, first: $input.first().json.name, "
        "last: $input.last().json.name, json: $json.name}}]"
    ) == [{"count": 2, "first": "Ada", "last": "Grace", "json": "Ada"}]
    assert run_all("return {wf: $workflow.id}") == [{"wf": "wf1"}]


def test_run_once_for_each_item():
    assert run_each("return {...$json, index: $itemIndex, same: $input.item.json.n === $json.n}") == [
        {"name": "Ada", "n": 1, "index": 0, "same": True},
        {"name": "Grace", "n": 2, "index": 1, "same": True},
    ]
    assert run_each("$json.seen = true; return $input.item") == [
        {"name": "Ada", "n": 1, "seen": True},
        {"name": "Grace", "n": 2, "seen": True},
    ]
    assert run_each("if ($json.n > 1) return {kept: $json.name}") == [{"kept": "Grace"}]


def test_earlier_nodes_by_name():
    assert run_all(
        "return {t: $('Webhook').first().json.body.tenant, n: $('Orders').all().length, "
        "legacy: $node['Webhook'].json.body.tenant, old: $items('Orders').length}"
    ) == [{"t": "acme", "n": 2, "legacy": "acme", "old": 2}]
    assert run_each("return {paired: $('Orders').item.json.name}") == [{"paired": "Ada"}, {"paired": "Grace"}]
    with pytest.raises(
        js.JsCodeError,
        match=r"no node named 'Missing' ran before this one \(earlier nodes: Webhook, Orders\)",
    ):
        run_all("return $('Missing').first()")


def test_input_item_outside_each_mode_says_what_to_use():
    with pytest.raises(
        js.JsCodeError, match=r"\$input.item is only available when running once for each item"
    ):
        run_all("return $input.item")


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("[{json: {a: 1}}, {json: {a: 2}, pairedItem: 0}]", [{"a": 1}, {"a": 2}]),
        ("[{a: 1}, {b: 2}]", [{"a": 1}, {"b": 2}]),
        ("{json: {a: 1}}", [{"a": 1}]),
        ("{a: 1}", [{"a": 1}]),
        ("{json: {a: 1}, other: 2}", [{"json": {"a": 1}, "other": 2}]),  # not an item: plain data
        ("[]", []),
        ("null", []),
    ],
)
def test_returned_items_are_normalised_like_n8n(returned, expected):
    assert run_all(f"return {returned}") == expected


@pytest.mark.parametrize("returned", ["[1, 2]", "'text'", "[[{a: 1}]]", "42"])
def test_returning_something_that_is_not_items_is_a_clear_error(returned):
    with pytest.raises(n8n.ItemsError, match="must return items"):
        run_all(f"return {returned}")


def test_node_outputs_become_items():
    assert n8n.to_items(None) == []
    assert n8n.to_items({"a": 1}) == [{"json": {"a": 1}}]
    assert n8n.to_items([{"a": 1}, 2, {"json": {"b": 1}}]) == [
        {"json": {"a": 1}},
        {"json": {"value": 2}},
        {"json": {"b": 1}},
    ]
    assert n8n.to_items("x") == [{"json": {"value": "x"}}]


def test_an_n8n_expression_evaluates_with_the_same_globals():
    value = js.evaluate(
        "$json.name + ' @ ' + $('Webhook').first().json.body.tenant",
        n8n.globals_for(INPUT, NODES),
        prelude=n8n.PRELUDE,
        expression=True,
    )
    assert value == "Ada @ acme"


@pytest.mark.parametrize(
    "code",
    [
        "Promise.prototype.then = () => {}; return {ok: 1}",
        "JSON.stringify = () => '[[[['; return {ok: 1}",
        "Reflect.apply = () => null; return {ok: 1}",
        "try { globalThis.__cf_read = () => '{\"ok\": 2}'; } catch (e) {} return {ok: 1}",
        "try { Object.defineProperty(globalThis, '__cf_read_ok', {value: () => true}); } catch (e) {} return {ok: 1}",
    ],
)
def test_the_code_cannot_tamper_with_how_its_result_is_returned(code):
    assert js.evaluate(code, **SMALL) == {"ok": 1}


def test_a_result_nested_too_deeply_is_refused():
    code = "let a = []; for (let i = 0; i < 100000; i++) a = [a]; return a"
    with pytest.raises((js.JsResultError, js.JsCodeError)) as caught:
        js.evaluate(code, timeout=5.0, memory=64 << 20)
    assert "nested too deeply" in str(caught.value) or "stack" in str(caught.value).lower()


def test_an_internal_error_without_a_message_is_the_memory_limit():
    """Out of memory, QuickJS can throw an InternalError whose message it could not allocate; that is
    the memory limit, said as such (seen under load: "InternalError:  (line 1)")."""
    from connectflow_dagster.sandbox import js

    with pytest.raises(js.JsMemoryLimit, match="more memory than its limit"):
        js.evaluate("const e = new InternalError(''); throw e;", {}, timeout=5)
