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
            return httpx.Response(200, json=get_registry().catalogue())
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
