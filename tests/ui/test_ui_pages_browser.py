"""Credentials, trigger settings, API keys and sign-out, in headless Chromium against the real gateway.

A credential is created from the form its type's schema generates, tested against a local server,
and deleted; its secret never reaches the page. A saved webhook trigger shows its URL (from the
gateway's trigger settings) and a generated secret, once; an API trigger links to the workflow's API
keys, where a key is created (shown once), used, and revoked. Signing out ends the session.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser

SECRET = "sk-test-do-not-show-4242"


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_credentials_are_created_tested_and_deleted_without_showing_secrets(
    live_gateway, browser_page, sign_up, http_server
) -> None:
    from playwright.sync_api import expect

    http_server.route("GET", "/models", lambda req: (200, {}, {"data": [{"id": "local-model"}]}))
    page = browser_page
    base = live_gateway.url
    sign_up("grace@example.com", "Grace Hopper")

    page.goto(f"{base}/ui/credentials")
    expect(page.locator(".cf-credential-list")).to_contain_text("No credentials yet")
    # The form is generated from the type's JSON Schema: a write-only field becomes a password input.
    page.locator(".cf-credential-type select").select_option(label="OpenAI API")
    expect(page.locator(".cf-credential-form-type")).to_contain_text("openai_api")
    expect(page.locator(".cf-field-api_key input")).to_have_attribute("type", "password")
    page.locator(".cf-credential-name input").fill("Local model server")
    page.locator(".cf-field-api_key input").fill(SECRET)
    page.locator(".cf-field-base_url input").fill(http_server.url)
    page.locator(".cf-create-credential button").click()

    row = page.locator(".cf-credential-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Local model server")
    expect(row).to_contain_text(http_server.url)  # the non-secret field is shown…
    expect(row).to_contain_text("secrets set (write-only): api_key")  # …the secret only by name
    expect(page.locator(".cf-field-api_key input")).to_have_value("")  # the form forgot it

    # Test: the gateway calls the service with the stored key; the page only learns the verdict.
    row.locator(".cf-test-credential button").click()
    expect(page.locator(".cf-message")).to_contain_text("Test passed")
    assert [r.headers.get("authorization") for r in http_server.requests] == [f"Bearer {SECRET}"]
    page.screenshot(path=str(ARTIFACTS / "credentials.png"), full_page=True)
    assert SECRET not in page.content()
    page.reload()
    expect(page.locator(".cf-credential-row")).to_have_count(1)
    assert SECRET not in page.content()
    listed = page.request.get(f"{base}/api/credentials")
    assert listed.ok and SECRET not in listed.text()

    page.locator(".cf-credential-row .cf-delete-credential button").click()
    expect(page.locator(".cf-credential-list")).to_contain_text("No credentials yet")
    assert page.request.get(f"{base}/api/credentials").json()["count"] == 0


def test_trigger_settings_api_keys_and_sign_out(live_gateway, browser_page, sign_up) -> None:
    from playwright.sync_api import expect

    page = browser_page
    base = live_gateway.url
    sign_up("linus@example.com", "Linus")

    page.locator(".cf-new-name input").fill("Inbound")
    page.locator(".cf-create button").click()
    page.wait_for_url(re.compile(r"/ui/editor\?id="))
    workflow_id = page.url.split("id=", 1)[1]
    for node_type in ("trigger.webhook", "trigger.api"):  # a click adds the node beside the others
        page.locator(f".cf-palette-item[data-type='{node_type}']").click()
    expect(page.locator(".cf-canvas .react-flow__node")).to_have_count(2)
    page.locator(".cf-save button").click()
    expect(page.locator(".cf-saved")).to_have_text("v2")

    # A webhook trigger: its URL and secret state come from the gateway's trigger settings.
    page.locator(".cf-canvas .react-flow__node[data-id='trigger_webhook']").click()
    webhook_url = f"{base}/api/webhooks/{workflow_id}"
    expect(page.locator(".cf-trigger-url")).to_have_text(webhook_url)
    expect(page.locator(".cf-secret-state")).to_contain_text("not set")
    page.locator(".cf-generate-secret button").click()
    expect(page.locator(".cf-secret-state")).to_contain_text("set")
    secret = page.locator(".cf-trigger-secret").inner_text().strip()
    assert len(secret) >= 16
    refused = page.request.post(webhook_url, data={"hello": "world"})
    assert refused.status == 401, refused.text()
    accepted = page.request.post(
        webhook_url, data={"hello": "world"}, headers={"X-ConnectFlow-Secret": secret}
    )
    assert accepted.status == 202, accepted.text()

    # An API trigger: the endpoint, and a link to this workflow's API keys.
    page.locator(".cf-canvas .react-flow__node[data-id='trigger_api']").click()
    expect(page.locator(".cf-trigger-url")).to_have_text(f"POST {base}/api/trigger")
    with page.expect_popup() as popup:
        page.locator(".cf-manage-keys").click()
    keys = popup.value
    expect(keys.locator(".cf-key-list")).to_contain_text("No API keys for this workflow")
    keys.locator(".cf-key-name input").fill("CRM")
    keys.locator(".cf-create-key button").click()
    expect(keys.locator(".cf-key-value")).to_have_text(re.compile(r"^cf_sk_"))
    key = keys.locator(".cf-key-value").inner_text().strip()
    row = keys.locator(".cf-key-row")
    expect(row).to_have_count(1)
    prefix = row.locator(".cf-key").get_attribute("data-prefix")
    assert prefix and key.startswith(prefix) and len(prefix) < len(key)
    expect(row).to_contain_text("CRM")
    expect(row.locator(".cf-key-state")).to_have_text("active")
    keys.screenshot(path=str(ARTIFACTS / "api-keys.png"), full_page=True)

    call = {"Authorization": f"Bearer {key}"}
    started = keys.request.post(f"{base}/api/trigger", data={"order": 1}, headers=call)
    assert started.status == 202, started.text()

    # Shown once: a fresh page lists the key by its prefix only.
    keys.reload()
    expect(keys.locator(".cf-key-row")).to_have_count(1)
    expect(keys.locator(".cf-key-value")).to_have_count(0)
    assert key not in keys.content()

    keys.locator(".cf-key-row .cf-revoke-key button").click()
    expect(keys.locator(".cf-key-row .cf-key-state")).to_have_text("revoked")
    assert keys.request.post(f"{base}/api/trigger", data={"order": 2}, headers=call).status == 401
    keys.close()

    # Sign out: readable on the dark bar, and the session ends.
    button = page.locator(".cf-sign-out button")
    label = button.evaluate("el => getComputedStyle(el).color")
    bar = page.locator(".cf-topbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    assert _contrast(label, bar) >= 7, (label, bar)
    button.click()
    page.wait_for_url(re.compile(r"/ui/sign-in"))
    assert page.request.get(f"{base}/api/auth/me").status == 401
    page.goto(f"{base}/ui/credentials")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))
