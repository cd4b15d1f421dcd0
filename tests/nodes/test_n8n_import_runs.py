"""Imported n8n workflows *run* in ConnectFlow against local servers and give what n8n gives.

The expected results in tests/fixtures/n8n/expected/ were recorded from real n8n 1.123.81 by
bench/n8n_expected.py (the same workflows, the same inputs, the same mock API:
tests/fixtures/n8n/mock_service.py). The mock API answers here from a LocalHTTPServer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectflow_dagster.interop.n8n import import_n8n
from connectflow_dagster.nodes.triggers.webhook import event_context

N8N = Path(__file__).resolve().parents[1] / "fixtures" / "n8n"
sys.path.insert(0, str(N8N))
from mock_service import answer  # noqa: E402

# Cases whose every node maps exactly: the ConnectFlow run must answer what n8n answered.
RUNNABLE = [
    "webhook_http_set",
    "expressions",
    "http_versions",
    "if_set_versions",
    "js_expressions",
    "code_nodes",
    "items_flow",
    "switch_wait",
]


@pytest.fixture
def mock_api(http_server):  # type: ignore[no-untyped-def]
    def handler(request):  # type: ignore[no-untyped-def]
        url = urlsplit(request.path)
        status, payload = answer(
            request.method, url.path, dict(parse_qsl(url.query)), request.headers, request.body
        )
        return status, {}, payload

    for path in ("/echo", "/status", "/down", "/customer"):
        http_server.route("*", path, handler)
    return http_server


def _load(case: str, base_url: str) -> dict:
    path = N8N / f"{case}.json" if (N8N / f"{case}.json").exists() else N8N / "cases" / f"{case}.json"
    return json.loads(path.read_text().replace("http://127.0.0.1:8999", base_url))


def _answer_of(workflow, ex):  # type: ignore[no-untyped-def]
    """What n8n's "respond with the last node" answered: the output of the node that ran last
    (the trigger's response node, or the one finished node with nothing after it)."""
    trigger = next(n for n in workflow.nodes if n.type == "trigger.webhook")
    response_node = trigger.params.get("response_node")
    if response_node is None:
        sources = {e.source for e in workflow.edges}
        [response_node] = [n.node_id for n in ex.nodes if n.status == "success" and n.node_id not in sources]
    return ex.context[workflow.node(response_node).variable_name]


@pytest.mark.parametrize("case", RUNNABLE)
def test_imported_workflow_answers_what_n8n_answered(cf, mock_api, case):
    [imported] = import_n8n(_load(case, mock_api.url))
    summary = imported.report.summary()
    assert summary["unsupported"] == 0 and summary["expressions_placeholder"] == 0, imported.report.as_dict()
    workflow = imported.workflow
    expected = json.loads((N8N / "expected" / f"{case}.json").read_text())["runs"]
    assert expected
    for run in expected:
        context = event_context(body=run["input"], query={}, headers={}, method="POST", path="")
        ex = cf.run(workflow.model_dump(mode="json"), context)
        assert ex.status == "success", ex.error
        assert _answer_of(workflow, ex) == run["response"], run["input"]


def test_what_neither_translates_nor_runs_as_javascript_fails_clearly_when_run(cf, mock_api):
    """``DateTime`` (n8n's Luxon library) has no equivalent: the node stays a placeholder, and a run that
    reaches it fails naming it; it never computes something else."""
    doc = _load("js_expressions", mock_api.url)
    doc["nodes"][1]["parameters"]["assignments"]["assignments"].append(
        {"id": "now", "name": "now", "value": "={{ DateTime.now().toISO() }}", "type": "string"}
    )
    [imported] = import_n8n(doc)
    context = event_context(body={"amount": 9900}, query={}, headers={}, method="POST", path="")
    ex = cf.run(imported.workflow.model_dump(mode="json"), context)
    assert ex.status == "failed"
    assert "not supported: the n8n node type 'n8n-nodes-base.set' (v3.4)" in (ex.error or "")
    assert "Luxon" in (ex.error or "")


def test_merge_choose_branch_and_no_op(cf, mock_api):
    """n8n answered ``from_a: 7`` (Merge outputs input 1's item) and ``from_pass: null``: n8n cannot
    pair the Merge's item with the No Op's (``$('Pass').item``), ConnectFlow reads Pass's output."""
    [imported] = import_n8n(_load("merge_noop", mock_api.url))
    assert imported.report.summary()["unsupported"] == 0
    [run] = json.loads((N8N / "expected" / "merge_noop.json").read_text())["runs"]
    ex = cf.run(
        imported.workflow.model_dump(mode="json"),
        event_context(body=run["input"], query={}, headers={}, method="POST", path=""),
    )
    assert ex.status == "success", ex.error
    answer_ = _answer_of(imported.workflow, ex)
    assert answer_["from_a"] == run["response"]["from_a"] == 7
    assert run["response"]["from_pass"] is None and answer_["from_pass"] == 7  # the documented difference


def test_schedule_http_if_discord_fixture_alerts_when_the_status_is_not_200(cf, mock_api, book, discord):
    doc = json.loads(
        (N8N / "schedule_if_discord.json")
        .read_text()
        .replace("http://127.0.0.1:8999/status", f"{mock_api.url}/down")
    )
    [imported] = import_n8n(doc)
    data = imported.workflow.model_dump(mode="json")
    [alert] = [n for n in data["nodes"] if n["id"] == "alert"]
    alert["credential_id"] = book.add("discord_webhook", webhook_url=discord.webhook_url)
    ex = cf.run(data, None, runtime=book.runtime)
    assert ex.status == "success", ex.error
    [sent] = discord.requests
    assert sent.json()["content"] == "Status check failed with 503"
    assert sent.json()["username"] == "Status bot"
    assert {n.node_id: n.status for n in ex.nodes}["all_good"] == "skipped"


def test_stripe_openai_email_fixture_sends_the_summary(cf, book, fake_llm, smtp_starttls):
    [imported] = import_n8n(json.loads((N8N / "stripe_openai_email.json").read_text()))
    data = imported.workflow.model_dump(mode="json")
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes["summarise"]["credential_id"] = book.add(
        "openai_api", api_key=fake_llm.api_key, base_url=fake_llm.openai_base
    )
    nodes["send_receipt"]["credential_id"] = book.add(
        "smtp",
        host=smtp_starttls.host,
        port=smtp_starttls.port,
        security=smtp_starttls.security,
        username=smtp_starttls.username,
        password=smtp_starttls.password,
        ca_bundle=smtp_starttls.ca_file,
    )
    fake_llm.reply = "Thank you for your payment of 99 usd."
    event = json.loads((N8N.parent / "stripe" / "payment_intent.succeeded.json").read_text())
    context = event_context(body=event, query={}, headers={}, method="POST", path="stripe")
    ex = cf.run(data, context, runtime=book.runtime)
    assert ex.status == "success", ex.error
    [request] = fake_llm.requests
    prompt = request.json()["messages"][1]["content"]
    obj = event["data"]["object"]
    assert prompt == (
        f"Write a confirmation for a payment of {obj['amount'] // 100} {obj['currency']} by {obj['receipt_email']}."
    )
    [delivered] = smtp_starttls.messages
    assert delivered.rcpt_tos == [obj["receipt_email"]]
    assert delivered.body().strip() == "Thank you for your payment of 99 usd."


def test_now_and_today_are_dates_in_the_workflows_timezone(cf, mock_api):
    import datetime as dt
    from zoneinfo import ZoneInfo

    doc = _load("js_expressions", mock_api.url)
    doc["settings"]["timezone"] = "Asia/Tokyo"  # no DST: the offset is +09:00 all year
    doc["nodes"][1]["parameters"]["assignments"]["assignments"] = [
        {"id": "a", "name": "year", "value": "={{ $now.toFormat('yyyy') }}", "type": "string"},
        {"id": "b", "name": "today", "value": "={{ $today.toISO() }}", "type": "string"},
        {
            "id": "c",
            "name": "yesterday",
            "value": "={{ $today.minus({days: 1}).toISODate() }}",
            "type": "string",
        },
        {"id": "d", "name": "label", "value": "=Report {{ $now.toFormat('yyyy-MM-dd') }}", "type": "string"},
    ]
    [imported] = import_n8n(doc)
    assert any("stand-in for Luxon" in n for r in imported.report.nodes for n in r.notes)
    zone = ZoneInfo("Asia/Tokyo")
    before = dt.datetime.now(zone).date()
    ex = cf.run(
        imported.workflow.model_dump(mode="json"),
        event_context(body={}, query={}, headers={}, method="POST", path=""),
    )
    after = dt.datetime.now(zone).date()
    assert ex.status == "success", ex.error
    out = ex.context["computed"]
    candidates = [before, after]
    assert out["year"] in {str(d.year) for d in candidates}
    assert out["today"] in {f"{d.isoformat()}T00:00:00.000+09:00" for d in candidates}
    assert out["yesterday"] in {(d - dt.timedelta(days=1)).isoformat() for d in candidates}
    assert out["label"] in {f"Report {d.isoformat()}" for d in candidates}

    doc["nodes"][1]["parameters"]["assignments"]["assignments"] = [
        {"id": "a", "name": "x", "value": "={{ $now.toRelative() }}", "type": "string"}
    ]
    [imported] = import_n8n(doc)
    ex = cf.run(
        imported.workflow.model_dump(mode="json"),
        event_context(body={}, query={}, headers={}, method="POST", path=""),
    )
    assert ex.status == "failed" and "toRelative" in (ex.error or "")


def test_merge_combine_by_position_gives_the_combined_item_to_javascript(cf, mock_api):
    """Merge "combine by position" of two single items: {...input 1, ...input 2} (input 2 wins a clash),
    read by the next node's expressions in JavaScript."""
    doc = {
        "name": "Combine",
        "nodes": [
            {"name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": [0, 0],
             "parameters": {"httpMethod": "POST", "path": "c", "responseMode": "lastNode"}},
            {"name": "A", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, -100],
             "parameters": {"assignments": {"assignments": [{"id": "1", "name": "a", "value": 1, "type": "number"},
                                                            {"id": "2", "name": "both", "value": "from a", "type": "string"}]}}},
            {"name": "B", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [200, 100],
             "parameters": {"assignments": {"assignments": [{"id": "1", "name": "b", "value": 2, "type": "number"},
                                                            {"id": "2", "name": "both", "value": "from b", "type": "string"}]}}},
            {"name": "Merge", "type": "n8n-nodes-base.merge", "typeVersion": 3, "position": [400, 0],
             "parameters": {"mode": "combine", "combineBy": "combineByPosition", "options": {}}},
            {"name": "Out", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [600, 0],
             "parameters": {"assignments": {"assignments": [
                 {"id": "1", "name": "sum", "value": "={{ $json.a + $json.b }}", "type": "number"},
                 {"id": "2", "name": "both", "value": "={{ $json.both }}", "type": "string"}]}}},
        ],
        "connections": {
            "Webhook": {"main": [[{"node": "A", "type": "main", "index": 0}, {"node": "B", "type": "main", "index": 0}]]},
            "A": {"main": [[{"node": "Merge", "type": "main", "index": 0}]]},
            "B": {"main": [[{"node": "Merge", "type": "main", "index": 1}]]},
            "Merge": {"main": [[{"node": "Out", "type": "main", "index": 0}]]},
        },
    }  # fmt: skip
    [imported] = import_n8n(doc)
    assert imported.report.summary()["unsupported"] == 0, imported.report.as_dict()
    ex = cf.run(
        imported.workflow.model_dump(mode="json"),
        event_context(body={}, query={}, headers={}, method="POST", path=""),
    )
    assert ex.status == "success", ex.error
    assert ex.context["out"] == {"sum": 3, "both": "from b"}


def test_loop_over_items_calls_once_per_item_and_continues_after_done(cf, mock_api):
    doc = {
        "name": "Loop over items",
        "nodes": [
            {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"name": "Rows", "type": "n8n-nodes-base.code", "typeVersion": 2, "position": [200, 0],
             "parameters": {"jsCode": "return [{json: {id: 1}}, {json: {id: 2}}, {json: {id: 3}}];"}},
            {"name": "Each", "type": "n8n-nodes-base.splitInBatches", "typeVersion": 3, "position": [400, 0], "parameters": {"options": {}}},
            {"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": [600, 100],
             "parameters": {"method": "POST", "url": f"{mock_api.url}/echo", "sendBody": True, "specifyBody": "json",
                            "jsonBody": "={{ { id: $json.id } }}", "options": {}}},
            {"name": "Report", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [600, -100],
             "parameters": {"assignments": {"assignments": [{"id": "a", "name": "done", "value": "yes", "type": "string"}]}}},
        ],
        "connections": {
            "Start": {"main": [[{"node": "Rows", "type": "main", "index": 0}]]},
            "Rows": {"main": [[{"node": "Each", "type": "main", "index": 0}]]},
            "Each": {"main": [[{"node": "Report", "type": "main", "index": 0}], [{"node": "Call", "type": "main", "index": 0}]]},
            "Call": {"main": [[{"node": "Each", "type": "main", "index": 0}]]},
        },
    }  # fmt: skip
    [imported] = import_n8n(doc)
    ex = cf.run(imported.workflow.model_dump(mode="json"), None)
    assert ex.status == "success", ex.error
    assert sorted(r.json()["id"] for r in mock_api.requests if r.path == "/echo") == [1, 2, 3]
    assert ex.context["each_done"]["count"] == 3
    assert ex.context["report"] == {"done": "yes"}
