"""The workflows page imports n8n JSON (paste or upload) through the real gateway, shows the import
report, and offers each workflow as n8n JSON and as a backup download."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from ui.api_client import GatewayClient
from ui.pages.workflows import WorkflowsPage

N8N = Path(__file__).resolve().parents[1] / "fixtures" / "n8n"


def _signed_in_client(app, email: str) -> GatewayClient:  # type: ignore[no-untyped-def]
    browser = TestClient(app)
    password = "correct horse battery staple 42"
    assert (
        browser.post(
            "/api/auth/sign-up/email", json={"email": email, "password": password, "name": "A"}
        ).status_code
        == 202
    )
    assert (
        browser.post("/api/auth/sign-in/email", json={"email": email, "password": password}).status_code
        == 200
    )
    return GatewayClient(
        transport=httpx.ASGITransport(app=app),
        cookies=dict(browser.cookies.items()),
        base_url="http://testserver",
    )


def test_paste_and_upload_import_show_the_report_and_download_links(cf):  # type: ignore[no-untyped-def]
    from gateway.app import create_app

    app = create_app()
    with TestClient(app):
        client = _signed_in_client(app, "importer@example.com")
        page = WorkflowsPage(client)

        async def scenario() -> None:
            await page.load()
            page._paste.value = (N8N / "schedule_if_discord.json").read_text()
            await page._on_import()
            assert page.message == "Imported 1 workflow from n8n."
            report = page._report.object
            assert (
                "5 nodes mapped exactly" in report
                and "choose a &#x27;discord_webhook&#x27; credential" in report
            )
            [row] = page.workflows
            assert row["name"] == "Hourly status check → Discord on failure"
            rendered = page._row(row)
            links = "".join(str(getattr(p, "object", "")) for p in rendered)
            assert f"/api/workflows/{row['id']}/export?format=n8n" in links
            exported = await client.request(
                "GET", f"/api/workflows/{row['id']}/export", params={"format": "n8n"}
            )
            assert [n["name"] for n in exported["nodes"]][:2] == ["Every hour", "Check status"]

            page._paste.value = ""
            page._upload.value = json.dumps(
                [json.loads((N8N / "webhook_http_set.json").read_text())]
            ).encode()
            await page._on_import()
            assert len(page.workflows) == 2

            page._paste.value = "{not json"
            await page._on_import()
            assert page.message.startswith("That is not JSON")
            page._paste.value = json.dumps({"nodes": "nope"})
            await page._on_import()
            assert page.message.startswith("Could not import") and "'nodes' must be a list" in page.message
            assert len(page.workflows) == 2
            await client.aclose()

        asyncio.run(scenario())


def test_a_placeholder_node_is_drawn_as_not_supported() -> None:
    from ui.components.canvas import flow_node, node_class

    node = {"id": "sheet", "type": "n8n.unsupported", "name": "Sheet", "position": {"x": 1, "y": 2}}
    assert "cf-unsupported" in flow_node(node, "action")["className"].split()
    assert "cf-unsupported" in node_class("trigger", "failed", False, "n8n.unsupported_trigger").split()
    assert "cf-unsupported" not in node_class("action", "idle", False, "http.request").split()
