"""Active switch and "Listen for test event", in headless Chromium against the real gateway.

A webhook workflow is deactivated with the editor's switch (its production URL answers 404), the
webhook trigger's panel shows the test URL, "Listen for test event" opens it, one call of it runs
the saved workflow and the canvas shows the run's node statuses live.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_deactivate_listen_and_see_the_test_event_run_live(live_gateway, browser_page, sign_up) -> None:
    from playwright.sync_api import expect

    page = browser_page
    base = live_gateway.url
    sign_up("grace@example.com", "Grace")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "cf_csrf")
    created = page.request.post(
        f"{base}/api/workflows",
        headers={"X-CSRF-Token": csrf},
        data={
            "name": "Test me",
            "nodes": [
                {
                    "id": "hook",
                    "type": "trigger.webhook",
                    "name": "Webhook",
                    "params": {"path": "in"},
                    "position": {"x": 0, "y": 0},
                },
                {
                    "id": "reply",
                    "type": "set",
                    "name": "Reply",
                    "position": {"x": 400, "y": 0},
                    "params": {"fields": {"x": "{{ webhook.body.x }}"}},
                },
            ],
            "edges": [{"source": "hook", "target": "reply"}],
        },
    )
    assert created.status == 201, created.text()
    workflow_id = created.json()["id"]

    page.goto(f"{base}/ui/editor?id={workflow_id}")
    expect(page.locator(".cf-active-label")).to_have_text("Active")
    page.locator(".cf-active").click()
    expect(page.locator(".cf-active-label")).to_have_text("Inactive")
    assert page.request.post(f"{base}/api/webhooks/{workflow_id}/in", data={"x": 1}).status == 404

    page.locator(".cf-canvas .react-flow__node[data-id='hook']").click()
    test_url = f"{base}/api/webhook-test/{workflow_id}/in"
    expect(page.locator(".cf-test-url")).to_have_text(test_url)
    expect(page.locator(".cf-listen-state")).to_contain_text("Not listening")
    assert page.request.post(test_url, data={"x": 1}).status == 404  # not listening yet
    page.locator(".cf-listen button").click()
    expect(page.locator(".cf-listen-state")).to_contain_text("Listening", timeout=30_000)
    called = page.request.post(test_url, data={"x": 42})
    assert called.status == 202, called.text()
    reply = page.locator(".cf-canvas .react-flow__node[data-id='reply']")
    expect(reply).to_have_class(re.compile(r"\bcf-status-success\b"), timeout=60_000)
    expect(page.locator(".cf-editor-message")).to_contain_text("Test event received")
