"""One identity across surfaces, in headless Chromium against the real gateway (+ a warm worker).

A user creates a personal access token on the Tokens page; Python code (``import connectflow_dagster``)
with that token builds and saves a workflow over the REST API; it appears in the user's editor list,
opens on the canvas and runs from the editor's Execute; Python then sees that run. Another user sees
none of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import connectflow_dagster as cf_api

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser


def _status(status: str) -> re.Pattern[str]:
    return re.compile(rf"\bcf-status-{status}\b")


def test_a_workflow_built_in_python_with_a_token_opens_and_runs_in_that_users_editor(
    live_gateway, browser_page, sign_up
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    base = live_gateway.url
    sign_up("ada@example.com", "Ada Lovelace")

    page.goto(f"{base}/ui/tokens")
    page.locator(".cf-token-name input").fill("notebook")
    page.locator(".cf-create-token button").click()
    expect(page.locator(".cf-token-value")).to_have_text(re.compile(r"^cf_pat_"))
    token = page.locator(".cf-token-value").inner_text().strip()

    # The notebook side: plain HTTP to the gateway as Ada.
    cf_api.connect(url=base, token=token)
    wf = cf_api.WorkflowBuilder("Built in Python")
    start = wf.add("trigger.manual", "Start", variable_name="trigger", default_input={"name": "editor"})
    greet = wf.add("set", "Greeting", fields={"text": "Hello {{ trigger.name }}"})
    wf.connect(start, greet)
    saved = cf_api.save(wf)
    assert saved.url == f"{base}/ui/editor?id={wf.id}"

    page.goto(f"{base}/ui/workflows")
    row = page.locator(".cf-workflow-row", has_text="Built in Python")
    expect(row).to_have_count(1)
    row.locator(".cf-open-workflow").click()
    page.wait_for_url(re.compile(rf"/ui/editor\?id={wf.id}$"))
    for node_id in (start, greet):  # the first canvas of a session takes a while on a busy machine
        expect(page.locator(f".cf-canvas .react-flow__node[data-id='{node_id}']")).to_be_visible(
            timeout=30_000
        )
    expect(page.locator(".cf-canvas .react-flow__edge")).to_have_count(1)

    page.locator(".cf-execute button").click()
    for node_id in (start, greet):
        expect(page.locator(f".cf-canvas .react-flow__node[data-id='{node_id}']")).to_have_class(
            _status("success")
        )
    expect(page.locator(".cf-run-status .cf-badge")).to_have_text("success")
    page.screenshot(path=str(ARTIFACTS / "python-workflow-in-editor.png"))

    # The editor's run is Ada's run: Python reads it back, with the node's output.
    [run] = cf_api.executions(workflow_id=wf.id)
    assert run.status == "success"
    from connectflow_dagster import authoring

    assert authoring.execution(run.id).context["greeting"] == {"text": "Hello editor"}

    # Another user sees nothing of it, in the list or by its id.
    other = page.context.browser.new_context()
    try:
        bob = other.new_page()
        bob.goto(f"{base}/ui/sign-up")
        bob.locator(".cf-auth-name input").fill("Bob")
        bob.locator(".cf-auth-email input").fill("bob@example.com")
        bob.locator(".cf-auth-password input").fill("correct horse battery staple")
        bob.locator(".cf-auth-submit button").click()
        bob.wait_for_url(re.compile(r"/ui/workflows$"))
        expect(bob.locator(".cf-workflow-list")).to_be_visible()
        expect(bob.locator(".cf-workflow-row", has_text="Built in Python")).to_have_count(0)
        assert bob.request.get(f"{base}/api/workflows/{wf.id}").status == 404
        assert bob.request.get(f"{base}/api/executions/{run.id}").status == 404
    finally:
        other.close()
