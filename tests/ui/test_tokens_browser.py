"""The Tokens page in headless Chromium against the real gateway: create (shown once), use, revoke."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser


def test_tokens_page_creates_shows_once_and_revokes(live_gateway, browser_page, sign_up) -> None:
    from playwright.sync_api import expect

    page = browser_page
    base = live_gateway.url
    sign_up("katherine@example.com", "Katherine Johnson")

    page.goto(f"{base}/ui/tokens")
    expect(page.locator(".cf-token-list")).to_contain_text("No personal access tokens yet")
    page.locator(".cf-token-name input").fill("notebook")
    # Read only: untick write and execute.
    page.locator(".cf-token-scopes label", has_text="write").click()
    page.locator(".cf-token-scopes label", has_text="execute").click()
    page.locator(".cf-create-token button").click()
    expect(page.locator(".cf-token-value")).to_have_text(re.compile(r"^cf_pat_[0-9a-f]{12}_"))
    token = page.locator(".cf-token-value").inner_text().strip()
    row = page.locator(".cf-token-row")
    expect(row).to_have_count(1)
    expect(row.locator(".cf-token-state")).to_have_text("active")
    expect(row).to_contain_text("notebook")
    prefix = row.locator(".cf-token").get_attribute("data-prefix")
    assert prefix and token.startswith(prefix + "_")
    page.screenshot(path=str(ARTIFACTS / "tokens.png"), full_page=True)

    # The token acts as this user, within its scope, without any cookie.
    api = page.context.request
    bearer = {"Authorization": f"Bearer {token}", "Cookie": ""}
    me = api.get(f"{base}/api/auth/me", headers=bearer)
    assert me.status == 200 and me.json()["email"] == "katherine@example.com"
    denied = api.post(f"{base}/api/workflows", data={"name": "x", "nodes": [], "edges": []}, headers=bearer)
    assert denied.status == 403 and "'write' scope" in denied.json()["detail"]

    # Shown once: a fresh page lists it by prefix only.
    page.reload()
    expect(page.locator(".cf-token-row")).to_have_count(1)
    expect(page.locator(".cf-new-token")).not_to_contain_text(token)
    assert token not in page.content()

    page.locator(".cf-revoke-token button").click()
    expect(page.locator(".cf-token-state")).to_have_text("revoked")
    gone = api.get(f"{base}/api/auth/me", headers=bearer)
    assert gone.status == 401 and "revoked" in gone.json()["detail"]
