"""The editor's components without a browser: their param state and how they react to canvas events.

Canvas events are fed in exactly as the browser sends them (``ReactFlow._handle_msg``), so these
tests cover the same code path as a user's drag, connect and delete.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import panel as pn
import pytest

from connectflow_dagster.registry import get_registry
from ui.api_client import GatewayClient, NotSignedIn, ValidationFailed
from ui.components.canvas import Canvas, node_class
from ui.components.draft import WorkflowDraft, edge_key
from ui.components.node_settings import NodeSettings, credential_options, trigger_url
from ui.components.palette import Palette, palette_groups
from ui.components.schema_form import SchemaForm, field_specs
from ui.components.status import RunStatus, parse_event


@pytest.fixture
def catalogue() -> dict[str, dict]:
    return {t["type"]: t for t in get_registry().catalogue()}


@pytest.fixture
def draft(catalogue) -> WorkflowDraft:  # type: ignore[no-untyped-def]
    return WorkflowDraft(workflow_id="wf1", catalogue=catalogue)


def test_draft_adds_nodes_with_unique_ids_names_and_variables(draft: WorkflowDraft) -> None:
    first = draft.add_node("http.request", {"x": 10, "y": 20})
    second = draft.add_node("http.request", draft.next_position())
    assert (first["id"], first["name"], first["variable_name"]) == (
        "http_request",
        "HTTP Request",
        "http_request",
    )
    assert (second["id"], second["name"], second["variable_name"]) == (
        "http_request_2",
        "HTTP Request 2",
        "http_request_2",
    )
    assert second["position"] == {"x": 270.0, "y": 20.0}  # placed right of the right-most node
    assert draft.dirty


def test_draft_refuses_bad_connections_and_lists_context_variables(draft: WorkflowDraft) -> None:
    trigger = draft.add_node("trigger.manual")["id"]
    http = draft.add_node("http.request")["id"]
    setter = draft.add_node("set")["id"]
    assert draft.connect(trigger, http) is None
    assert draft.connect(http, setter) is None
    assert draft.connect(http, trigger) == "a trigger cannot have incoming connections"
    assert draft.connect(setter, http) == "this connection would make a cycle"
    assert draft.connect(trigger, http) == "these nodes are already connected"
    assert [v["variable"] for v in draft.context_variables(setter)] == ["http_request", "manual_trigger"]
    draft.remove_nodes([http])
    assert draft.edges == []


def test_draft_round_trips_a_saved_workflow(draft: WorkflowDraft) -> None:
    saved = {
        "id": "wf1",
        "name": "Orders",
        "version": 3,
        "nodes": [
            {"id": "t", "type": "trigger.manual", "name": "Start", "position": {"x": 0, "y": 0}, "params": {}}
        ],
        "edges": [],
    }
    draft.load(saved)
    assert (draft.title, draft.version, draft.dirty) == ("Orders", 3, False)
    draft.update_node("t", name="Begin")
    assert draft.dirty
    assert draft.to_spec()["nodes"][0]["name"] == "Begin"
    draft.mark_saved({"version": 4})
    assert (draft.dirty, draft.version) == (False, 4)


def test_canvas_applies_browser_events_to_the_draft(draft: WorkflowDraft) -> None:
    canvas = Canvas(draft=draft)
    canvas.flow._handle_msg(
        {
            "type": "drop",
            "drop_type": "application/x-connectflow-node",
            "data": {"type": "trigger.manual"},
            "position": {"x": 5, "y": 6},
        }
    )
    canvas.flow._handle_msg(
        {
            "type": "drop",
            "drop_type": "application/x-connectflow-node",
            "data": {"type": "set"},
            "position": {"x": 300, "y": 6},
        }
    )
    assert [n["id"] for n in draft.nodes] == ["trigger_manual", "set"]
    assert draft.nodes[0]["position"] == {"x": 5.0, "y": 6.0}
    assert len(canvas.flow.nodes) == 2

    canvas.flow._handle_msg(
        {
            "type": "edge_added",
            "edge": {"id": "xy-edge", "source": "trigger_manual", "target": "set", "sourceHandle": "main"},
        }
    )
    assert draft.edges == [{"source": "trigger_manual", "target": "set"}]
    assert [e["id"] for e in canvas.flow.edges] == [edge_key(draft.edges[0])]

    canvas.flow._handle_msg(
        {"type": "edge_added", "edge": {"id": "back", "source": "set", "target": "trigger_manual"}}
    )
    assert canvas.message == "a trigger cannot have incoming connections"
    assert len(canvas.flow.edges) == 1

    canvas.flow._handle_msg({"type": "node_moved", "node_id": "set", "position": {"x": 400, "y": 50}})
    assert draft.node("set")["position"] == {"x": 400.0, "y": 50.0}

    canvas.flow._handle_msg({"type": "selection_changed", "nodes": ["set"], "edges": []})
    assert canvas.selected_node == "set"

    canvas.flow._handle_msg({"type": "node_deleted", "node_id": "set"})
    assert [n["id"] for n in draft.nodes] == ["trigger_manual"]
    assert draft.edges == [] and canvas.selected_node is None


def test_canvas_patches_status_without_resending_the_graph(draft: WorkflowDraft) -> None:
    draft.add_node("trigger.manual")
    canvas = Canvas(draft=draft)
    sent: list[dict] = []
    canvas.flow._send_msg = sent.append  # record the patches the browser would receive
    graph_updates: list[str] = []
    canvas.flow.param.watch(lambda e: graph_updates.append(e.name), ["nodes", "edges"])

    canvas.set_status("trigger_manual", "running")
    canvas.set_status("trigger_manual", "success")
    canvas.show_problems([{"node_id": "trigger_manual", "field": "params", "message": "bad"}])

    assert graph_updates == []
    assert {"type": "patch_node_data", "node_id": "trigger_manual", "patch": {"status": "success"}} in sent
    classes = [m["patch"]["className"] for m in sent if m["type"] == "patch_node_props"]
    assert classes[-1] == node_class("trigger", "success", invalid=True)
    assert canvas.statuses == {"trigger_manual": "success"}


def test_palette_groups_filter_and_click(catalogue) -> None:  # type: ignore[no-untyped-def]
    groups = palette_groups(list(catalogue.values()))
    assert [g["group"] for g in groups] == ["trigger", "action", "logic"]
    assert "trigger.manual" in [i["type"] for i in groups[0]["items"]]
    found = [i["type"] for g in palette_groups(list(catalogue.values()), "http") for i in g["items"]]
    assert "http.request" in found and "set" not in found and "trigger.manual" not in found
    picked: list[str] = []
    palette = Palette(catalogue=list(catalogue.values()), on_pick=picked.append)
    palette._list._handle_msg({"type": "set"})
    assert picked == ["set"] and palette.picked == "set"
    palette.search = "merge"
    assert [i["type"] for g in palette._list.groups for i in g["items"]] == ["merge"]


def test_schema_form_generates_fields_and_parses_values(catalogue) -> None:  # type: ignore[no-untyped-def]
    schema = catalogue["http.request"]["params_schema"]
    kinds = {f.name: f.kind for f in field_specs(schema)}
    assert kinds["method"] == "select" and kinds["url"] == "text" and kinds["headers"] == "json"
    assert kinds["fail_on_error_status"] == "boolean" and kinds["timeout"] == "number"
    form = SchemaForm(schema=schema, value={"url": "http://x"})
    form.widgets["url"].value_input = "http://example.test/{{ trigger.id }}"
    form.widgets["headers"].value_input = '{"X-A": "1"}'
    form.widgets["query"].value_input = "{not json"
    assert form.value["url"] == "http://example.test/{{ trigger.id }}"
    assert form.value["headers"] == {"X-A": "1"}
    assert "query" in form.errors and "query" not in form.value
    # A JSON field also takes one template or a path, unquoted (a Loop's items).
    loop = SchemaForm(schema=catalogue["loop"]["params_schema"], value={})
    loop.widgets["items"].value_input = "{{ http_request.data.orders }}"
    assert loop.value["items"] == "{{ http_request.data.orders }}" and not loop.errors
    loop.widgets["items"].value_input = "http_request.data.orders"
    assert loop.value["items"] == "http_request.data.orders" and not loop.errors
    loop.widgets["items"].value_input = "[1, 2"
    assert "items" in loop.errors


def test_node_settings_writes_to_the_draft(draft: WorkflowDraft) -> None:
    trigger = draft.add_node("trigger.manual")["id"]
    http = draft.add_node("http.request")["id"]
    draft.connect(trigger, http)
    renamed: list[tuple[str, str]] = []
    settings = NodeSettings(draft=draft, on_rename=lambda i, n: renamed.append((i, n)))
    settings.node_id = http
    settings.form.widgets["url"].value_input = "http://127.0.0.1/x"
    assert draft.node(http)["params"] == {"url": "http://127.0.0.1/x"}
    settings.problems = [{"node_id": http, "field": "params.url", "message": "Field required"}]
    assert "Field required" in settings._problems_pane.object
    assert credential_options(
        [{"id": "c1", "name": "A", "type": "smtp"}, {"id": "c2", "name": "B", "type": "openai_api"}], "smtp"
    ) == {"— choose a credential —": None, "A (smtp)": "c1"}


def test_run_status_follows_the_live_events_the_gateway_streams(cf) -> None:  # type: ignore[no-untyped-def]
    """A real run's event log, read by the gateway's reader and shaped as its SSE events are."""
    from connectflow_dagster.dispatch.live import RunEventReader

    execution = cf.run(
        {
            "name": "fails in the middle",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start"},
                {
                    "id": "fetch",
                    "type": "http.request",
                    "name": "Fetch",
                    "params": {"url": "http://127.0.0.1:9/x"},
                },
                {"id": "after", "type": "set", "name": "After", "params": {"fields": {"a": 1}}},
            ],
            "edges": [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "after"}],
        }
    )
    reader = RunEventReader(cf.instance, execution.id)
    events = [{"event": "queued", "execution_id": execution.id}]
    events += [{**change.data, "event": change.kind} for change in reader.poll()]  # as events.py sends them

    seen: list[tuple[str, str, str | None]] = []
    status = RunStatus(on_node=lambda n, s, e: seen.append((n, s, e)))
    status.start(execution.id)
    for event in events:
        status.apply_event(event)
    assert [(n, s) for n, s, _ in seen] == [
        ("start", "running"),
        ("start", "success"),
        ("fetch", "running"),
        ("fetch", "failed"),
    ]
    assert seen[-1][2]  # the live event carries an error (Dagster's step error; the detail has the cause)
    assert (status.status, status.finished) == ("failed", True)
    assert status.node_statuses == {"start": "success", "fetch": "failed"}

    # The recorded detail (read once the stream ends) fills in what no event said: "after" never ran.
    from connectflow_dagster.execution import get_execution

    recorded = get_execution(cf.instance, execution.id)
    status.apply_execution(
        {
            "status": recorded.status,
            "error": recorded.error,
            "nodes": [{"node_id": n.node_id, "status": n.status, "error": n.error} for n in recorded.nodes],
        }
    )
    assert status.node_statuses == {"start": "success", "fetch": "failed", "after": "not_run"}
    fetch_error = next(n.error for n in recorded.nodes if n.node_id == "fetch")
    assert ("fetch", "failed", fetch_error) in seen and "127.0.0.1:9" in (fetch_error or "")
    assert "127.0.0.1:9" in status.error
    assert parse_event({"event": "run", "status": "running", "at": 1.0}) == ("run", None, "running", None)
    assert parse_event({"event": "queued", "execution_id": "x"})[0] == "other"


def test_api_client_forwards_the_session_and_maps_errors() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path == "/api/workflows" and request.method == "GET":
            return httpx.Response(200, json={"data": [{"id": "w1", "name": "A"}], "count": 1})
        if request.url.path == "/api/workflows/w1":
            return httpx.Response(
                422,
                json={
                    "detail": "invalid workflow",
                    "problems": [{"message": "Field required", "node_id": "n1", "field": "params.url"}],
                },
            )
        return httpx.Response(401, json={"detail": "not signed in"})

    client = GatewayClient(
        transport=httpx.MockTransport(handler), cookies={"cf_session": "s", "cf_csrf": "t"}
    )

    async def scenario() -> None:
        assert await client.list_workflows() == [{"id": "w1", "name": "A"}]
        with pytest.raises(ValidationFailed) as invalid:
            await client.save_workflow("w1", {"name": "A"})
        assert invalid.value.problems[0]["node_id"] == "n1"
        with pytest.raises(NotSignedIn):
            await client.get_execution("x")
        await client.aclose()

    asyncio.run(scenario())
    assert "cf_session=s" in calls[0].headers["cookie"]
    assert calls[1].headers["x-csrf-token"] == "t" and json.loads(calls[1].content) == {"name": "A"}
    assert "x-csrf-token" not in calls[0].headers


def test_node_settings_shows_trigger_urls_secrets_and_the_last_run(draft: WorkflowDraft) -> None:
    hook = draft.add_node("trigger.webhook")["id"]
    api = draft.add_node("trigger.api")["id"]
    draft.update_node(hook, params={"path": "/orders/"})
    settings = NodeSettings(draft=draft, base_url="http://cf.test")
    settings.node_id = hook
    assert "Save the workflow first" in settings._trigger_pane.object  # never saved: no URL yet

    draft.mark_saved({"version": 2})
    assert (
        trigger_url("http://cf.test/", "wf1", draft.node(hook), draft.type_info(hook))
        == "http://cf.test/api/webhooks/wf1/orders"
    )
    settings.trigger_info = {
        hook: {
            "url": "https://public.example/api/webhooks/wf1/orders",
            "secret_configured": True,
            "secret": "s3cret-shown-once",
        }
    }
    pane = settings._trigger_pane.object
    assert "https://public.example/api/webhooks/wf1/orders" in pane  # the gateway's answer wins
    assert "Secret: <b>set</b>" in pane and "s3cret-shown-once" in pane

    settings.run_results = {hook: {"status": "failed", "error": "boom <b>"}}
    assert "cf-badge-failed" in settings._run_pane.object and "boom &lt;b&gt;" in settings._run_pane.object

    settings.node_id = api
    assert "POST http://cf.test/api/trigger" in settings._trigger_pane.object
    assert "/ui/api-keys?workflow=wf1" in settings._trigger_pane.object
    assert settings._run_pane.object == ""


def test_api_client_asks_who_is_signed_in_and_sends_the_csrf_cookie() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path == "/api/auth/me":
            signed_in = "cf_session=s" in request.headers.get("cookie", "")
            return (
                httpx.Response(200, json={"id": "u1", "email": "a@b.c"}) if signed_in else httpx.Response(401)
            )
        if request.url.path == "/api/auth/sign-out":
            return httpx.Response(204)
        return httpx.Response(404, json={"detail": "no such route"})

    async def scenario() -> None:
        anonymous = GatewayClient(transport=httpx.MockTransport(handler))
        assert await anonymous.current_user() is None
        signed_in = GatewayClient(
            transport=httpx.MockTransport(handler),
            cookies={"cf_session": "s", "cf_csrf": "tok", "other": "x"},
        )
        assert (await signed_in.current_user())["id"] == "u1"
        await signed_in.request("POST", "/api/auth/sign-out")
        await anonymous.aclose()
        await signed_in.aclose()

    asyncio.run(scenario())
    assert [c.url.path for c in calls] == ["/api/auth/me", "/api/auth/me", "/api/auth/sign-out"]
    assert calls[2].headers["x-csrf-token"] == "tok"


def test_node_settings_set_retries_and_on_error_and_the_canvas_shows_the_error_handle(
    draft: WorkflowDraft,
) -> None:
    from ui.components.canvas import node_type_specs

    trigger = draft.add_node("trigger.manual")["id"]
    http = draft.add_node("http.request")["id"]
    after = draft.add_node("set")["id"]
    draft.connect(trigger, http)
    canvas = Canvas(draft=draft)
    settings = NodeSettings(draft=draft, on_error_mode=canvas.set_on_error)
    settings.node_id = http
    widgets = {
        w.css_classes[0]: w
        for w in settings._layout.select(lambda o: isinstance(o, pn.widgets.Widget))
        if getattr(w, "css_classes", None)
    }
    widgets["cf-field-retries"].value = 3
    widgets["cf-field-retry-delay"].value = 2.5
    widgets["cf-field-retry-backoff"].value = "constant"
    assert draft.node(http)["retry"] == {"max_retries": 3, "delay_seconds": 2.5, "backoff": "constant"}

    assert "http.request+error" in node_type_specs(draft.catalogue)
    assert "trigger.manual+error" not in node_type_specs(draft.catalogue)  # triggers never continue
    widgets["cf-field-on-error"].value = "error_output"
    assert draft.node(http)["on_error"] == "error_output"
    flow_types = {n["id"]: n["type"] for n in canvas.flow.nodes}
    assert flow_types[http] == "http.request+error"
    assert draft.connect(http, after, "error") is None
    assert draft.edges[-1] == {"source": http, "target": after, "source_handle": "error"}
    canvas.flow.add_edge(canvas._flow_edge(draft.edges[-1]))

    widgets["cf-field-on-error"].value = "continue"  # the error handle goes, and its connections
    assert {n["id"]: n["type"] for n in canvas.flow.nodes}[http] == "http.request"
    assert all(e.get("source_handle") != "error" for e in draft.edges)
    assert all(e.get("sourceHandle") != "error" for e in canvas.flow.edges)
    widgets["cf-field-on-error"].value = "stop"
    assert "on_error" not in draft.node(http)
    widgets["cf-field-retries"].value = 0
    assert "retry" not in draft.node(http)


def test_a_switch_on_the_canvas_has_one_handle_per_rule_and_a_fallback(draft: WorkflowDraft) -> None:
    from ui.components.canvas import flow_type

    trigger = draft.add_node("trigger.manual")["id"]
    switch = draft.add_node("switch")["id"]
    paid = draft.add_node("set")["id"]
    draft.update_node(
        switch, params={"mode": "value", "rules": [{"output": "paid", "equals": "p"}, {"equals": "r"}]}
    )
    canvas = Canvas(draft=draft)
    assert draft.outputs(switch) == ["paid", "1", "fallback"]
    kind = flow_type(draft.node(switch), draft.type_info(switch))
    assert kind == "switch@paid|1|fallback"
    assert [h["id"] for h in canvas.flow.node_types[kind]["outputs"]] == ["paid", "1", "fallback"]
    assert draft.connect(trigger, switch) is None
    canvas.flow._handle_msg(
        {"type": "edge_added", "edge": {"id": "e", "source": switch, "target": paid, "sourceHandle": "paid"}}
    )
    assert draft.edges[-1] == {"source": switch, "target": paid, "source_handle": "paid"}

    sent: list[dict] = []
    canvas.flow._send_msg = sent.append
    draft.update_node(switch, params={"mode": "value", "rules": [{"output": "open", "equals": "o"}]})
    # The node takes the new handles; the connection from the rule that is gone goes with it.
    assert {"type": "patch_node_props", "node_id": switch, "patch": {"type": "switch@open|fallback"}} in sent
    assert "switch@open|fallback" in canvas.flow.node_types
    assert all(e["source"] != switch or e.get("source_handle") != "paid" for e in draft.edges)


def test_run_status_shows_items_per_node_and_the_canvas_label_counts_them(draft: WorkflowDraft) -> None:
    trigger = draft.add_node("trigger.manual")["id"]
    loop = draft.add_node("loop")["id"]
    fetch = draft.add_node("http.request")["id"]
    collect = draft.add_node("aggregate")["id"]
    after = draft.add_node("set")["id"]
    for source, target in [(trigger, loop), (loop, fetch), (fetch, collect), (collect, after)]:
        assert draft.connect(source, target) is None
    assert (draft.loop_of(fetch), draft.loop_of(collect), draft.loop_of(after)) == (loop, loop, None)
    inside = [v["variable"] for v in draft.context_variables(fetch)]
    assert inside[:2] == ["item", "item_index"] and "loop_over_items" in inside
    after_vars = [v["variable"] for v in draft.context_variables(after)]
    assert "item" not in after_vars and "http_request" not in after_vars and "aggregate" in after_vars
    canvas = Canvas(draft=draft)
    summaries: dict[str, dict] = {}

    def on_items(node_id: str, summary: dict) -> None:
        summaries[node_id] = summary
        canvas.set_items(node_id, summary)

    status = RunStatus(on_node=canvas.set_status, on_items=on_items, loop_of=draft.loop_of)
    status.start("run-1")
    status.apply_event({"event": "node", "node_id": loop, "status": "success", "items": 3})
    for item, state in [(0, "running"), (1, "running"), (0, "success"), (1, "failed"), (2, "running")]:
        status.apply_event({"event": "node", "node_id": fetch, "item": item, "status": state})
    assert summaries[fetch] == {"success": 1, "failed": 1, "running": 1, "total": 3}
    assert canvas.statuses[fetch] == "failed"
    label = next(n["label"] for n in canvas.flow.nodes if n["id"] == fetch)
    assert label.endswith("· 1/3 items · 1 failed")
    canvas.reset_statuses()
    assert next(n["label"] for n in canvas.flow.nodes if n["id"] == fetch) == draft.node(fetch)["name"]


def test_sticky_notes_are_drawn_edited_moved_and_deleted_on_the_canvas(draft: WorkflowDraft) -> None:
    from ui.components.canvas import NOTE_TYPE, note_canvas_id
    from ui.components.note_settings import NoteSettings

    draft.load(
        {
            "id": "wf1",
            "name": "Annotated",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start", "position": {"x": 0, "y": 0}}
            ],
            "edges": [],
            "notes": [
                {
                    "id": "n1",
                    "text": "**Hello**",
                    "position": {"x": 10, "y": -200},
                    "size": {"width": 300, "height": 120},
                    "color": "blue",
                }
            ],
        }
    )
    canvas = Canvas(draft=draft)
    [drawn] = [n for n in canvas.flow.nodes if n["id"] == note_canvas_id("n1")]
    assert drawn["type"] == NOTE_TYPE and "cf-note-blue" in drawn["className"]
    assert drawn["style"] == {"width": "300.0px", "height": "120.0px"}
    assert canvas._note_views["n1"].object == "**Hello**"

    settings = NoteSettings(draft=draft, canvas=canvas)
    canvas.flow._handle_msg({"type": "selection_changed", "nodes": [note_canvas_id("n1")], "edges": []})
    assert canvas.selected_note == "n1" and canvas.selected_node is None
    settings.note_id = canvas.selected_note
    assert settings._layout.visible and settings._text.value == "**Hello**"
    settings._text.value_input = "## Why\nCalls billing."
    settings._color.value = "green"
    assert draft.note("n1")["text"] == "## Why\nCalls billing." and draft.note("n1")["color"] == "green"
    assert canvas._note_views["n1"].object == "## Why\nCalls billing."
    assert draft.dirty

    canvas.flow._handle_msg(
        {"type": "node_moved", "node_id": note_canvas_id("n1"), "position": {"x": 50, "y": 60}}
    )
    assert draft.note("n1")["position"] == {"x": 50.0, "y": 60.0}
    canvas.flow._handle_msg(
        {"type": "edge_added", "edge": {"id": "x", "source": "start", "target": note_canvas_id("n1")}}
    )
    assert draft.edges == [] and canvas.message == "both ends must be nodes of this workflow"

    added = canvas.add_note(text="second")
    assert [n["id"] for n in draft.notes] == ["n1", added]
    assert draft.to_spec()["notes"][1]["text"] == "second"
    assert [n["id"] for n in draft.nodes] == ["start"]  # notes are never workflow nodes

    canvas.flow._handle_msg({"type": "node_deleted", "node_id": note_canvas_id("n1")})
    assert [n["id"] for n in draft.notes] == [added]
    settings.note_id = added
    settings._remove()
    assert draft.notes == [] and "notes" not in draft.to_spec()


def test_the_execution_page_links_caller_children_and_the_reported_failure() -> None:
    from ui.pages.executions import related_links

    assert related_links({"id": "x"}) == ""
    html_ = related_links(
        {
            "caller_id": "c0ffee00-1",
            "children": [{"node_id": "quote", "execution_id": "abc<script>"}],
            "failed_execution_id": "deadbeef-2",
        }
    )
    assert "href='/ui/executions?id=c0ffee00-1'" in html_ and "called by execution" in html_
    assert "node quote called execution" in html_ and "<script>" not in html_  # escaped
    assert "href='/ui/executions?id=deadbeef-2'" in html_ and "reports the failure" in html_


def test_a_code_param_gets_a_monospace_editor_and_is_kept_verbatim(catalogue) -> None:  # type: ignore[no-untyped-def]
    schema = catalogue["code.js"]["params_schema"]
    kinds = {s.name: s.kind for s in field_specs(schema)}
    assert kinds["code"] == "code" and kinds["mode"] == "select"
    form = SchemaForm(schema=schema, value={})
    form.widgets["code"].value_input = "return {{ a: 1 }};"
    assert form.value["code"] == "return {{ a: 1 }};"


def test_the_http_request_lists_credentials_of_every_auth_type(catalogue) -> None:  # type: ignore[no-untyped-def]
    choices = catalogue["http.request"]["credential_types"]
    assert "oauth2_client_credentials" in choices and "http_bearer_auth" in choices
    creds = [
        {"id": "c1", "name": "API token", "type": "http_bearer_auth"},
        {"id": "c2", "name": "Mail", "type": "smtp"},
        {"id": "c3", "name": "Partner", "type": "oauth2_client_credentials"},
    ]
    assert list(credential_options(creds, choices).values()) == [None, "c1", "c3"]


def test_the_palette_marks_a_node_type_turned_off_on_this_server(catalogue) -> None:  # type: ignore[no-untyped-def]
    from ui.components.palette import palette_groups

    labels = {i["type"]: i["label"] for g in palette_groups(list(catalogue.values())) for i in g["items"]}
    assert labels["code.python"] == "Code (Python) (off)" and labels["code.js"] == "Code (JavaScript)"
