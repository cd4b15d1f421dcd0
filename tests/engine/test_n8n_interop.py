"""n8n import/export without running anything: mapping, expressions, report, placeholders, round-trip,
hostile documents. (Imported workflows are *run* in tests/nodes/test_n8n_import_runs.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectflow_dagster.errors import WorkflowInvalid
from connectflow_dagster.interop.n8n import export_n8n, import_n8n
from connectflow_dagster.interop.n8n.expressions import Ref, Untranslatable, jinja_path, translate_value
from connectflow_dagster.spec import validate
from connectflow_dagster.templates import render

N8N = Path(__file__).resolve().parents[1] / "fixtures" / "n8n"
FILES = sorted(N8N.glob("*.json")) + sorted(
    p for p in (N8N / "cases").glob("*.json") if ".inputs." not in p.name
)


def load(name: str) -> dict:
    path = N8N / name if (N8N / name).exists() else N8N / "cases" / name
    return json.loads(path.read_text())


def one(data: dict, **kw):  # type: ignore[no-untyped-def]
    [imported] = import_n8n(data, **kw)
    return imported


# ---- the three shared fixtures -----------------------------------------------------------------


def test_webhook_http_set_maps_every_node_exactly_and_validates():
    imported = one(load("webhook_http_set.json"))
    wf, report = imported.workflow, imported.report
    assert [(n.name, n.type) for n in wf.nodes] == [
        ("Webhook", "trigger.webhook"),
        ("Fetch order", "http.request"),
        ("Message", "set"),
    ]
    assert validate(wf) == []
    summary = report.summary()
    assert (summary["exact"], summary["approximated"], summary["unsupported"]) == (3, 0, 0)
    assert summary["expressions_translated"] == 2 and summary["expressions_placeholder"] == 0
    fetch = wf.node("fetch_order")
    assert fetch.params["body"] == {"order": "{{ webhook.body.orderId }}"}
    assert wf.node("message").params["fields"]["message"] == (
        "Order {{ webhook.body.orderId | js_string }} paid {{ fetch_order.data.amount | js_string }}"
    )
    # responseMode lastNode → answer after the run with the one node at the end
    assert wf.node("webhook").params == {
        "path": "orders",
        "response_mode": "after_run",
        "response_node": "message",
    }
    assert [(e.source, e.target) for e in wf.edges] == [
        ("webhook", "fetch_order"),
        ("fetch_order", "message"),
    ]
    assert [(n.position.x, n.position.y) for n in wf.nodes] == [(0, 0), (220, 0), (440, 0)]


def test_if_outputs_become_true_false_handles_and_credentials_are_flagged():
    imported = one(load("schedule_if_discord.json"))
    wf, report = imported.workflow, imported.report
    handles = {(e.source, e.target): e.source_handle for e in wf.edges}
    assert handles[("is_down", "alert")] == "true" and handles[("is_down", "all_good")] == "false"
    assert wf.node("every_hour").params == {"cron": "0 * * * *", "timezone": "UTC"}
    # $json after the If reads through it (n8n's If passes its items on) to the HTTP response
    assert wf.node("is_down").params["conditions"][0] == {
        "left": "{{ check_status.status }}",
        "operator": "not_equals",
        "right": 200,
    }
    alert = next(n for n in report.nodes if n.name == "Alert")
    assert alert.credential == {
        "expected_type": "discord_webhook",
        "n8n_credential": "Ops channel",
        "action": "choose a credential",
    }
    # the only problem left is the credential to choose
    assert report.problems == ["node 'alert', field 'credential_id': choose a 'Discord webhook' credential"]


def test_stripe_openai_email_translates_node_references_through_output_views():
    wf = one(load("stripe_openai_email.json")).workflow
    summarise, mail = wf.node("summarise"), wf.node("send_receipt")
    assert summarise.params["system_prompt"] == "You write one-paragraph payment confirmations."
    assert summarise.params["model"] == "gpt-4o-mini"
    assert "{{ (stripe_events.body.data.object.amount / 100) | js_string }}" in summarise.params["prompt"]
    # $json.message.content of n8n's OpenAI node is the chat node's text
    assert mail.params["text"] == "{{ summarise.text }}"
    assert mail.params["to"] == "{{ stripe_events.body.data.object.receipt_email }}"
    assert mail.retry is not None and mail.retry.max_retries == 2 and mail.retry.delay_seconds == 2
    assert wf.settings.timezone == "Europe/London"


# ---- expressions -------------------------------------------------------------------------------


def _resolve(ref: Ref) -> str:
    return jinja_path(ref.node.lower() if ref.node else "prev", ref.path)


@pytest.mark.parametrize(
    ("source", "template"),
    [
        ("={{ $json.a.b }}", "{{ prev.a.b }}"),
        ("={{ $json['odd key'][0] }}", '{{ prev["odd key"][0] }}'),
        ("={{ $json.items }}", '{{ prev["items"] }}'),  # never dict.items
        ("={{ $('Node').item.json.x }}", "{{ node.x }}"),
        ("={{ $('Node').first().json.x }}", "{{ node.x }}"),
        ('={{ $node["Node"].json.x }}', "{{ node.x }}"),
        ("={{ $input.item.json.x }}", "{{ prev.x }}"),
        ("={{ $input.first().json.x }}", "{{ prev.x }}"),
        ("=Hi {{ $json.name }}!", "Hi {{ prev.name | js_string }}!"),
        ('={{ "a" + $json.n }}', '{{ ("a" ~ (prev.n | js_string)) }}'),
        ("={{ `n=${$json.n}` }}", '{{ ("n=" ~ (prev.n | js_string)) }}'),
        ("={{ JSON.stringify($json) }}", "{{ (prev | js_json) }}"),
        ("={{ $json.s.toUpperCase() }}", "{{ prev.s.upper() }}"),
        ("={{ $json.list.length }}", "{{ (prev.list | length) }}"),
        ("={{ $json.n / 100 }}", "{{ (prev.n / 100) }}"),
        ("={{ { a: $json.n, b: [1, 'x'] } }}", {"a": "{{ prev.n }}", "b": [1, "x"]}),
        ("=plain text", "plain text"),
        ("no expression {{ x }}", '{{ "no expression {{ x }}" }}'),
        ("={{ $json.a }} ", '{{ (prev.a | js_string) ~ " " }}'),
    ],
)
def test_exact_translations(source, template):
    assert translate_value(source, _resolve).value == template


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("={{ $json.a ? 1 : 2 }}", "JavaScript"),
        ("={{ $json.a ?? 'x' }}", "JavaScript"),
        ("={{ $json.a?.b }}", "optional chaining"),
        ("={{ $now.toISO() }}", "$now"),
        ("={{ $json.a + $json.b }}", "unknown type"),
        ("={{ $json.list.map(x => x * 2) }}", "JavaScript"),
        ("={{ $('Node').last().json.x }}", "last"),
        ("={{ $json.a ", "closing"),
    ],
)
def test_what_does_not_translate_says_why(source, why):
    with pytest.raises(Untranslatable, match=why.replace("$", r"\$").replace("?", r"\?")):
        translate_value(source, _resolve)


def test_translated_templates_render_like_javascript():
    context = {"prev": {"n": 9900, "f": 99.0, "ok": True, "none": None, "obj": {"a": [1, 2]}, "s": " Ada "}}
    cases = {
        "=n={{ $json.n / 100 }}": "n=99",
        "=ok={{ $json.ok }} none={{ $json.none }}": "ok=true none=null",
        "={{ JSON.stringify($json.obj) }}": '{"a":[1,2]}',
        "=f {{ $json.f }}": "f 99",
        "={{ $json.s.trim().toLowerCase() }}": "ada",
    }
    for source, expected in cases.items():
        assert render(translate_value(source, _resolve).value, context) == expected, source


def test_expressions_that_need_javascript_get_an_expressions_node_before_their_node():
    imported = one(load("js_expressions.json"))
    wf = imported.workflow
    helper, computed = wf.node("computed_expr"), wf.node("computed")
    assert (helper.type, computed.type) == ("n8n.expressions", "set")
    assert helper.params["expressions"]["e0"] == "$json.body.amount > 5000 ? 'big' : 'small'"
    assert helper.params["input"] == "Webhook"
    assert helper.params["sources"]["Webhook"]["variable"] == "webhook"
    assert computed.params["fields"]["math"] == "{{ computed_expr.e4 }}"
    # a text mixing both: exact parts stay templates, the others read the JavaScript results
    assert computed.params["fields"]["mixed_js"] == (
        'Total: {{ computed_expr.e8 | js_string }} ({{ (webhook.body["items"] | length) | js_string }} items, '
        "{{ computed_expr.e9 | js_string }})"
    )
    assert [(e.source, e.target) for e in wf.edges] == [
        ("webhook", "computed_expr"),
        ("computed_expr", "computed"),
    ]
    assert {e.status for e in imported.report.expressions} == {"js"}
    assert validate(wf) == []
    # the export gives n8n back its own node and expressions, without the helper
    exported = export_n8n(wf)
    assert _essentials(exported) == _essentials(load("js_expressions.json"))


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("={{ DateTime.now().toISO() }}", "Luxon"),
        ("={{ $json.name.toTitleCase() }}", "toTitleCase"),
        ('={{ $("Web" + "hook").item.json.a ? 1 : 2 }}', "computed"),
        ("={{ $('Nobody').item.json.a ? 1 : 2 }}", "no node is named 'Nobody'"),
    ],
)
def test_what_neither_translates_nor_runs_as_javascript_keeps_its_node_as_a_placeholder(expression, why):
    doc = load("js_expressions.json")
    doc["nodes"][1]["parameters"]["assignments"]["assignments"] = [
        {"id": "a", "name": "x", "value": expression, "type": "string"}
    ]
    imported = one(doc)
    computed = imported.workflow.node("computed")
    assert computed.type == "n8n.unsupported"
    assert computed.meta["n8n"]["parameters"] == doc["nodes"][1]["parameters"]
    [record] = imported.report.expressions
    assert record.status == "placeholder" and why in record.reason
    assert why in computed.params["reason"]


# ---- placeholders, notes, sub-nodes ------------------------------------------------------------

ODD = {
    "name": "Odd nodes",
    "nodes": [
        {"id": "1", "name": "Sheet trigger", "type": "n8n-nodes-base.googleSheetsTrigger", "typeVersion": 1,
         "position": [0, 0], "parameters": {"documentId": "abc"}},
        {"id": "2", "name": "Route", "type": "n8n-nodes-base.compareDatasets", "typeVersion": 2.3,
         "position": [200, 0], "parameters": {"mergeByFields": {"values": [{"field1": "a", "field2": "b"}]}}},
        {"id": "3", "name": "Third", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "position": [400, 0], "parameters": {}},
        {"id": "4", "name": "Note", "type": "n8n-nodes-base.stickyNote", "typeVersion": 1, "position": [0, -200],
         "parameters": {"content": "## Read me", "height": 200, "width": 300}},
    ],
    "connections": {
        "Sheet trigger": {"main": [[{"node": "Route", "type": "main", "index": 0}]]},
        "Route": {"main": [[], [], [{"node": "Third", "type": "main", "index": 0}]]},
    },
}  # fmt: skip


def test_nodes_without_an_equivalent_are_kept_as_placeholders_with_every_connection():
    imported = one(ODD)
    wf = imported.workflow
    assert wf.node("sheet_trigger").type == "n8n.unsupported_trigger"
    route = wf.node("route")
    assert (
        route.type == "n8n.unsupported" and route.meta["n8n"]["parameters"] == ODD["nodes"][1]["parameters"]
    )
    [edge] = [e for e in wf.edges if e.source == "route"]
    assert edge.source_handle == "output_2"  # n8n's output 2
    assert validate(wf) == []  # runnable: the placeholder fails clearly when reached (tests/nodes)
    [note] = wf.notes
    assert (note.text, note.position.y, note.size.width, note.size.height) == ("## Read me", -200, 300, 200)
    summary = imported.report.summary()
    assert (summary["unsupported"], summary["exact"], summary["sticky_notes"]) == (2, 1, 1)


def test_basic_llm_chain_with_a_chat_model_folds_into_one_chat_node_and_exports_back():
    doc = {
        "name": "Chain",
        "nodes": [
            {"id": "1", "name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"id": "2", "name": "Ask", "type": "@n8n/n8n-nodes-langchain.chainLlm", "typeVersion": 1.5, "position": [200, 0],
             "parameters": {"promptType": "define", "text": "=Summarise {{ $json.topic }}",
                            "messages": {"messageValues": [{"message": "Be brief."}]}}},
            {"id": "3", "name": "Model", "type": "@n8n/n8n-nodes-langchain.lmChatAnthropic", "typeVersion": 1.3, "position": [200, 200],
             "parameters": {"model": {"__rl": True, "value": "claude-3-5-haiku-latest", "mode": "list"}, "options": {"temperature": 0.2}},
             "credentials": {"anthropicApi": {"id": "x", "name": "Claude"}}},
        ],
        "connections": {
            "Start": {"main": [[{"node": "Ask", "type": "main", "index": 0}]]},
            "Model": {"ai_languageModel": [[{"node": "Ask", "type": "ai_languageModel", "index": 0}]]},
        },
    }  # fmt: skip
    imported = one(doc)
    [ask] = [n for n in imported.workflow.nodes if n.name == "Ask"]
    assert ask.type == "ai.anthropic"
    assert ask.params == {
        "prompt": "Summarise {{ start.topic | js_string }}",
        "system_prompt": "Be brief.",
        "model": "claude-3-5-haiku-latest",
        "temperature": 0.2,
    }
    assert [n.name for n in imported.workflow.nodes] == ["Start", "Ask"]
    assert {(n.name, n.status) for n in imported.report.nodes} >= {("Model", "folded")}
    exported = export_n8n(imported.workflow)
    assert {n["name"] for n in exported["nodes"]} == {"Start", "Ask", "Model"}
    assert exported["connections"]["Model"] == doc["connections"]["Model"]


# ---- round trip --------------------------------------------------------------------------------


def _essentials(doc: dict) -> dict:
    return {
        "nodes": sorted(
            (n["name"], n["type"], tuple(n["position"]), json.dumps(n.get("parameters", {}), sort_keys=True))
            for n in doc["nodes"]
        ),
        "connections": doc["connections"],
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_round_trip_keeps_names_positions_connections_and_parameters(path):
    doc = json.loads(path.read_text())
    exported = export_n8n(one(doc).workflow)
    assert _essentials(exported) == _essentials(doc)
    original = {n["name"]: n for n in doc["nodes"]}
    for node in exported["nodes"]:
        for key in ("id", "typeVersion", "credentials", "webhookId"):
            assert node.get(key) == original[node["name"]].get(key), (node["name"], key)


def test_an_edited_node_is_exported_from_its_params_with_n8n_expressions():
    wf = one(load("webhook_http_set.json")).workflow
    wf.node("message").params["fields"] = {
        "message": "Order {{ webhook.body.orderId }} paid {{ fetch_order.data.amount }}!"
    }
    exported = export_n8n(wf)
    [message] = [n for n in exported["nodes"] if n["name"] == "Message"]
    assert message["type"] == "n8n-nodes-base.set"
    assert message["parameters"]["assignments"]["assignments"][0]["value"] == (
        '=Order {{ $("Webhook").first().json.body.orderId }} paid {{ $("Fetch order").first().json.amount }}!'
    )


def test_export_of_a_native_workflow_maps_each_node_and_its_templates():
    from connectflow_dagster.spec import parse_workflow

    wf = parse_workflow(
        json.loads((Path(__file__).resolve().parents[2] / "examples" / "branching.json").read_text())
    )
    exported = export_n8n(wf)
    types = [n["type"] for n in exported["nodes"]]
    assert "n8n-nodes-base.if" in types and "n8n-nodes-base.manualTrigger" in types
    assert all(t.startswith("n8n-nodes-base.") for t in types)
    # the manual trigger's default input becomes a JSON Set named like the ConnectFlow trigger
    start = next(n for n in exported["nodes"] if n["name"] == wf.nodes[0].name)
    assert start["parameters"]["mode"] == "raw"
    assert json.loads(start["parameters"]["jsonOutput"]) == wf.nodes[0].params["default_input"]
    # and the export imports back into an equivalent ConnectFlow workflow
    again = one(exported).workflow
    assert validate(again) == [] or all("credential" in str(p) for p in validate(again))


# ---- hostile documents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "expected an object"),
        ([], "empty array"),
        ({"nodes": {}}, "'nodes' must be a list"),
        ({"nodes": [{"type": "x"}]}, "has no name"),
        ({"nodes": [{"name": "A"}]}, "has no type"),
        ({"nodes": [{"name": "A", "type": "x"}, {"name": "A", "type": "x"}]}, "two nodes are named 'A'"),
        ({"nodes": [], "connections": []}, "'connections' must be an object"),
        ({"nodes": [{"name": f"n{i}", "type": "x"} for i in range(501)]}, "at most 500"),
        ([{"nodes": []}] * 101, "at most 100"),
    ],
)
def test_malformed_documents_are_refused_with_a_clear_problem(data, message):
    with pytest.raises(WorkflowInvalid, match=message):
        import_n8n(data)


def test_deeply_nested_parameters_are_refused_without_recursion():
    deep: dict = {}
    cursor = deep
    for _ in range(5000):
        cursor["a"] = {}
        cursor = cursor["a"]
    doc = {"nodes": [{"name": "A", "type": "n8n-nodes-base.set", "parameters": deep}], "connections": {}}
    with pytest.raises(WorkflowInvalid, match="nested deeper"):
        import_n8n(doc)


def test_garbage_inside_known_nodes_becomes_a_placeholder_not_a_crash():
    doc = {
        "nodes": [
            {"name": "Hook", "type": "n8n-nodes-base.webhook", "parameters": {"path": 5, "options": "x"}},
            {"name": "Set", "type": "n8n-nodes-base.set", "typeVersion": "3", "parameters": {"assignments": {"assignments": [5]}}},
            {"name": "If", "type": "n8n-nodes-base.if", "typeVersion": 2, "parameters": {"conditions": {"conditions": [{"operator": "x"}]}}},
            {"name": "Http", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": "nowhere",
             "parameters": {"url": "={{ $json.a", "sendBody": True, "jsonBody": "={ broken"}},
        ],
        "connections": {"Hook": {"main": [[{"node": "Set"}, {"node": "Nobody"}]], "Else": "x"}},
    }  # fmt: skip
    imported = one(doc)
    assert len(imported.workflow.nodes) == 4
    assert {n.status for n in imported.report.nodes} <= {"exact", "approximated", "unsupported"}


# ---- flow nodes, loops, settings ---------------------------------------------------------------


def _doc(nodes: list[dict], connections: dict) -> dict:
    return {"name": "T", "nodes": nodes, "connections": connections}


def _n(name: str, typ: str, params: dict | None = None, version: float = 1, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {
        "name": name,
        "type": f"n8n-nodes-base.{typ}",
        "typeVersion": version,
        "parameters": params or {},
        "position": [0, 0],
        **extra,
    }


def _main(*pairs: tuple[str, int, str]) -> dict:
    out: dict = {}
    for source, index, target in pairs:
        outputs = out.setdefault(source, {"main": []})["main"]
        while len(outputs) <= index:
            outputs.append([])
        outputs[index].append({"node": target, "type": "main", "index": 0})
    return out


def test_a_node_reading_an_unsupported_node_is_mapped_and_says_so():
    doc = _doc(
        [_n("Start", "manualTrigger"), _n("Sheet", "googleSheets", {"operation": "read"}, 4),
         _n("Use", "set", {"assignments": {"assignments": [{"id": "a", "name": "x", "value": "={{ $json.email }}", "type": "string"}]}}, 3.4)],
        _main(("Start", 0, "Sheet"), ("Sheet", 0, "Use")),
    )  # fmt: skip
    imported = one(doc)
    use = next(r for r in imported.report.nodes if r.name == "Use")
    assert use.type == "set" and use.status == "approximated"
    assert any("'Sheet' (not supported yet)" in note for note in use.notes)
    assert imported.workflow.node("use_expr").params["sources"]["Sheet"] == {
        "variable": "sheet",
        "kind": "identity",
    }
    assert {e.status for e in imported.report.expressions if e.node == "Use"} == {"js"}


def test_an_n8n_loop_back_edge_is_left_out_with_a_note():
    doc = _doc(
        [_n("Start", "manualTrigger"), _n("A", "noOp"), _n("B", "noOp")],
        _main(("Start", 0, "A"), ("A", 0, "B"), ("B", 0, "A")),
    )
    imported = one(doc)
    assert [(e.source, e.target) for e in imported.workflow.edges] == [("start", "a"), ("a", "b")]
    assert validate(imported.workflow) == []
    [a] = [r for r in imported.report.nodes if r.name == "A"]
    assert "connection back from 'B'" in " ".join(a.notes)


def test_filter_switch_wait_respond_and_on_error_map():
    cond = {
        "conditions": {
            "conditions": [
                {
                    "leftValue": "={{ $json.body.n }}",
                    "rightValue": 1,
                    "operator": {"type": "number", "operation": "gt"},
                }
            ],
            "combinator": "and",
        }
    }
    doc = _doc(
        [_n("Hook", "webhook", {"httpMethod": "POST", "path": "p", "responseMode": "responseNode"}, 2),
         _n("Keep", "filter", cond, 2),
         _n("Pause", "wait", {"amount": 3, "unit": "minutes"}, 1.1),
         _n("Route", "switch", {"rules": {"values": [cond, cond]}, "options": {"fallbackOutput": "extra"}}, 3.2),
         _n("Reply", "respondToWebhook", {"respondWith": "text", "responseBody": "=ok {{ $json.body.n }}", "options": {"responseCode": 201}}, 1.1,
            onError="continueRegularOutput"),
         _n("Other", "noOp")],
        _main(("Hook", 0, "Keep"), ("Keep", 0, "Pause"), ("Pause", 0, "Route"), ("Route", 1, "Reply"), ("Route", 2, "Other")),
    )  # fmt: skip
    wf = one(doc).workflow
    assert wf.node("hook").params["response_mode"] == "respond_node"
    assert (wf.node("keep").type, wf.node("keep").params["conditions"][0]["left"]) == (
        "if",
        "{{ hook.body.n }}",
    )
    assert wf.node("pause").params == {"resume": "after_interval", "amount": 3, "unit": "minutes"}
    assert [r["output"] for r in wf.node("route").params["rules"]] == ["0", "1"]
    reply = wf.node("reply")
    assert reply.params == {
        "respond_with": "text",
        "body": "ok {{ hook.body.n | js_string }}",
        "status_code": 201,
    }
    assert reply.on_error == "continue"
    handles = {(e.source, e.target): e.source_handle for e in wf.edges}
    assert handles[("keep", "pause")] == "true"
    assert handles[("route", "reply")] == "1" and handles[("route", "other")] == "fallback"
    assert validate(wf) == []


def test_split_out_becomes_a_loop_whose_items_the_next_nodes_read_and_aggregate_collects():
    wf = one(load("items_flow.json")).workflow
    assert wf.node("orders").params == {"items": "{{ webhook.body.orders }}"}
    assert wf.node("big_ones").params["conditions"][0]["left"] == "{{ item.amount }}"
    assert wf.node("notify").params["body"] == {"id": "{{ item.id }}", "amount": "{{ item.amount }}"}
    assert wf.node("collect").params == {"value": "{{ notify.data.received }}"}
    assert wf.node("summary").params["fields"]["count"] == "{{ (collect.data | length) }}"


def test_an_aggregate_without_a_split_out_before_it_is_not_mapped():
    doc = _doc(
        [_n("Start", "manualTrigger"), _n("Collect", "aggregate", {"aggregate": "aggregateAllItemData"})],
        _main(("Start", 0, "Collect")),
    )
    [report] = [r for r in one(doc).report.nodes if r.name == "Collect"]
    assert report.status == "unsupported" and "no Split Out before it" in report.notes[0]


def test_error_trigger_and_execute_workflow_map_to_their_connectflow_types():
    parent = _doc(
        [_n("Start", "manualTrigger"),
         _n("Call", "executeWorkflow", {"source": "database", "workflowId": {"__rl": True, "value": "Ab12Cd34Ef56Gh78", "mode": "id"}}, 1.1)],
        _main(("Start", 0, "Call")),
    )  # fmt: skip
    call = one(parent).workflow.node("call")
    assert call.type == "workflow.execute" and call.params["workflow_id"] == "Ab12Cd34Ef56Gh78"
    alert = _doc(
        [_n("On error", "errorTrigger"),
         _n("Say", "set", {"assignments": {"assignments": [{"id": "a", "name": "m", "type": "string",
                                                             "value": "={{ $json.workflow.name }} failed: {{ $json.execution.error.message }}"}]}}, 3.4)],
        _main(("On error", 0, "Say")),
    )  # fmt: skip
    wf = one(alert).workflow
    assert wf.node("on_error").type == "trigger.error"
    assert wf.node("say").params["fields"]["m"] == (
        "{{ on_error.workflow.name | js_string }} failed: {{ on_error.execution.error.message | js_string }}"
    )


def test_switch_v1_rules_sharing_an_output_become_one_rule_and_the_fallback_keeps_its_index():
    doc = _doc(
        [_n("Start", "manualTrigger"),
         _n("Route", "switch", {"dataType": "string", "value1": "={{ $json.kind }}", "fallbackOutput": 2,
                                "rules": {"rules": [{"operation": "equal", "value2": "a", "output": 0},
                                                    {"operation": "equal", "value2": "b", "output": 0},
                                                    {"operation": "contains", "value2": "c", "output": 1}]}}, 1),
         _n("AB", "noOp"), _n("C", "noOp"), _n("Else", "noOp")],
        _main(("Start", 0, "Route"), ("Route", 0, "AB"), ("Route", 1, "C"), ("Route", 2, "Else")),
    )  # fmt: skip
    wf = one(doc).workflow
    rules = wf.node("route").params["rules"]
    assert [(r["output"], [c["right"] for c in r["conditions"]], r["combine"]) for r in rules] == [
        ("0", ["a", "b"], "or"),
        ("1", ["c"], "or"),
    ]
    handles = {e.target: e.source_handle for e in wf.edges if e.source == "route"}
    assert handles == {"ab": "0", "c": "1", "else": "fallback"}
    assert validate(wf) == []


def test_mutated_documents_import_and_export_or_are_refused_never_crash():
    """Random junk in every corner of real n8n documents (fixed seed): the import and the export
    either work or refuse with WorkflowInvalid (a 422 at the API), never another exception."""
    import copy
    import random

    rnd = random.Random(13)
    junk = [
        None,
        0,
        -1,
        1.5,
        "",
        "x",
        "={{",
        "={{ $json }}",
        [],
        {},
        [1, "a"],
        {"a": None},
        True,
        "={{ $('No').item.json.x }}",
    ]

    def mutate(value, depth=0):  # type: ignore[no-untyped-def]
        if depth > 6:
            return value
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                roll = rnd.random()
                if roll < 0.1:
                    continue
                out[key] = rnd.choice(junk) if roll < 0.2 else mutate(item, depth + 1)
            return out
        if isinstance(value, list):
            return [mutate(item, depth + 1) for item in value if rnd.random() > 0.05]
        return value

    for path in FILES:
        original = json.loads(path.read_text())
        for _ in range(6):
            try:
                for imported in import_n8n(mutate(copy.deepcopy(original))):
                    export_n8n(imported.workflow)
            except WorkflowInvalid:
                pass


def test_export_of_a_draft_with_params_that_do_not_fit_says_so_instead_of_failing():
    from connectflow_dagster.spec import parse_workflow

    wf = parse_workflow(
        {
            "name": "Draft",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start"},
                {"id": "odd", "type": "set", "name": "Odd", "params": {"fields": "not a dict"}},
                {
                    "id": "http",
                    "type": "http.request",
                    "name": "Call",
                    "params": {"query": [1, 2], "headers": 5},
                },
            ],
            "edges": [{"source": "start", "target": "odd"}, {"source": "odd", "target": "http"}],
        }
    )
    exported = export_n8n(wf)
    kinds = {n["name"]: n["type"] for n in exported["nodes"]}
    assert kinds["Odd"] == kinds["Call"] == "n8n-nodes-base.stopAndError"
    assert exported["connections"]["Start"]["main"][0][0]["node"] == "Odd"


LOOP_OVER_ITEMS = _doc(
    [_n("Start", "manualTrigger"),
     _n("Rows", "code", {"jsCode": "return [{json: {id: 1}}, {json: {id: 2}}];"}, 2),
     _n("Each", "splitInBatches", {"options": {}}, 3),
     _n("Call", "httpRequest", {"method": "POST", "url": "http://127.0.0.1:8999/echo", "sendBody": True,
                                "specifyBody": "json", "jsonBody": "={{ { id: $json.id } }}"}, 4.2),
     _n("Report", "set", {"assignments": {"assignments": [{"id": "a", "name": "done", "value": "yes", "type": "string"}]}}, 3.4)],
    _main(("Start", 0, "Rows"), ("Rows", 0, "Each"), ("Each", 1, "Call"), ("Call", 0, "Each"), ("Each", 0, "Report")),
)  # fmt: skip


def test_loop_over_items_becomes_a_loop_and_its_done_output_an_aggregate_and_exports_back():
    imported = one(copy_of(LOOP_OVER_ITEMS))
    wf = imported.workflow
    assert (wf.node("each").type, wf.node("each").params) == ("loop", {"items": "{{ rows }}"})
    assert wf.node("call").params["body"] == {"id": "{{ item.id }}"}
    done = wf.node("each_done")
    assert done.type == "aggregate"
    pairs = {(e.source, e.target, e.source_handle) for e in wf.edges}
    assert pairs == {
        ("start", "rows", None),
        ("rows", "each", None),
        ("each", "call", "main"),
        ("call", "each_done", None),
        ("each_done", "report", None),
    }
    assert validate(wf) == []
    exported = export_n8n(wf)
    assert exported["connections"] == LOOP_OVER_ITEMS["connections"]
    assert sorted(n["name"] for n in exported["nodes"]) == sorted(n["name"] for n in LOOP_OVER_ITEMS["nodes"])


def copy_of(doc: dict) -> dict:
    return json.loads(json.dumps(doc))
