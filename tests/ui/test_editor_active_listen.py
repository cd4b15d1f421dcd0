"""The editor's Active switch and the webhook panel's "Listen for test event", without a browser."""

from __future__ import annotations

import asyncio

import httpx

from connectflow_dagster.registry import get_registry
from ui.api_client import GatewayClient
from ui.pages.editor import EditorPage


def _workflow(active: bool) -> dict:
    return {
        "id": "wf1",
        "name": "Hook",
        "version": 1,
        "active": active,
        "spec": {
            "name": "Hook",
            "nodes": [{"id": "hook", "type": "trigger.webhook", "name": "Webhook", "params": {"path": "a"}}],
            "edges": [],
        },
        "problems": [],
    }


def test_the_active_switch_calls_activate_and_deactivate_and_reverts_on_error() -> None:
    calls: list[tuple[str, str]] = []
    state = {"active": True, "fail": False}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        if request.url.path == "/api/node-types":
            return httpx.Response(200, json={"data": get_registry().catalogue(), "count": 0})
        if request.url.path == "/api/workflows/wf1" and request.method == "GET":
            return httpx.Response(200, json=_workflow(state["active"]))
        if request.url.path.endswith(("/activate", "/deactivate")):
            if state["fail"]:
                return httpx.Response(404, json={"detail": "workflow 'wf1' not found"})
            state["active"] = request.url.path.endswith("/activate")
            return httpx.Response(200, json=_workflow(state["active"]))
        return httpx.Response(200, json={"data": [], "count": 0})

    client = GatewayClient(
        transport=httpx.MockTransport(handler), cookies={"cf_session": "s", "cf_csrf": "t"}
    )
    page = EditorPage(client, workflow_id="wf1")

    async def scenario() -> None:
        await page.load()
        assert page.active is True and page._active.value is True
        await page.set_active(False)
        assert page.active is False and "Inactive" in page.message
        assert ("POST", "/api/workflows/wf1/deactivate") in calls
        state["fail"] = True
        await page.set_active(True)
        assert page.active is False and "Could not activate" in page.message
        await client.aclose()

    asyncio.run(scenario())


def test_listen_for_test_event_shows_the_test_url_and_follows_the_execution_the_call_started() -> None:
    polls = {"n": 0}
    test_url = "http://cf.test/api/webhook-test/wf1/a"

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/node-types":
            return httpx.Response(200, json={"data": get_registry().catalogue(), "count": 0})
        if path == "/api/workflows/wf1" and request.method == "GET":
            return httpx.Response(200, json=_workflow(False))
        if path == "/api/workflows/wf1/listen":
            listening = {
                "workflow_id": "wf1",
                "test_urls": [{"node_id": "hook", "type": "x", "url": test_url}],
            }
            if request.method == "POST":
                return httpx.Response(200, json={**listening, "listening": True, "listening_until": "soon"})
            polls["n"] += 1
            if polls["n"] < 3:  # the test call arrives on the third look
                return httpx.Response(200, json={**listening, "listening": True, "listening_until": "soon"})
            return httpx.Response(200, json={**listening, "listening": False, "execution_id": "ex-1"})
        if path.startswith("/api/executions/"):
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json={"data": [], "count": 0})

    client = GatewayClient(
        transport=httpx.MockTransport(handler), cookies={"cf_session": "s", "cf_csrf": "t"}
    )
    page = EditorPage(client, workflow_id="wf1")

    async def scenario() -> None:
        await page.load()
        page.settings.node_id = "hook"
        names = [getattr(w, "name", "") for w in page.settings._layout]
        assert "Listen for test event" in names, repr(names[6:])
        assert "Not listening" in page.settings._trigger_pane.object
        assert await page.listen(poll_seconds=0) == "ex-1"
        assert "Test event received: execution ex-1" in page.message
        assert test_url in page.settings._trigger_pane.object
        if page._follow_task is not None:
            page._follow_task.cancel()
        await client.aclose()

    asyncio.run(scenario())
