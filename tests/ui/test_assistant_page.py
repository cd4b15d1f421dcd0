"""The assistant page through the real gateway (no model configured): ask, see the template draft with
its explanation, use it, and find it saved."""

from __future__ import annotations

import asyncio

import httpx
from fastapi.testclient import TestClient

from ui.api_client import GatewayClient
from ui.pages.assistant import AssistantPage


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


def test_ask_shows_the_draft_and_use_saves_it(cf):  # type: ignore[no-untyped-def]
    from gateway.app import create_app

    app = create_app()
    with TestClient(app):
        client = _signed_in_client(app, "asker@example.com")
        page = AssistantPage(client)

        async def scenario() -> None:
            await page._on_ask()
            assert page.message == "Describe the workflow first."
            page._request.value = "post google form responses to discord"
            await page._on_ask()
            assert "CONNECTFLOW_ASSISTANT_MODEL" in page.message
            assert "Post to Discord (Discord)" in page._result.object
            assert page._use.visible
            await page._on_use()
            assert page.saved_url.startswith("/ui/editor?id=")
            assert not page._use.visible
            [saved] = await client.list_workflows()
            assert saved["name"] == "Google Form response → Discord"
            await client.aclose()

        asyncio.run(scenario())
