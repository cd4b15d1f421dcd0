"""The editor as a new user meets it, in headless Chromium against the real gateway.

Sign up; create a workflow; drag Manual, HTTP Request and Set onto the canvas and connect them;
point the HTTP node at a local server; save; execute; watch every node turn to success (the HTTP node
is seen *running* first: the local server holds its answer until the test has looked); read the Set
node's output on the execution page; then break the URL, execute again, and see the failed node and
its error. Screenshots go to test-artifacts/ui/.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser


def _node(page, node_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f".cf-canvas .react-flow__node[data-id='{node_id}']")


def _status(status: str) -> re.Pattern[str]:
    return re.compile(rf"\bcf-status-{status}\b")


def test_new_user_builds_runs_and_debugs_a_workflow(live_gateway, browser_page, sign_up, http_server) -> None:
    from playwright.sync_api import expect

    answer = threading.Event()  # the local API answers once the test has seen the run in progress

    def person(_request):  # type: ignore[no-untyped-def]
        answer.wait(timeout=60)
        return 200, {}, {"name": "Ada", "id": 7}

    http_server.route("GET", "/person", person)
    page = browser_page
    base = live_gateway.url

    # Anonymous visitors are sent to sign in; a new user signs up instead.
    page.goto(f"{base}/ui/workflows")
    expect(page).to_have_url(re.compile(r"/ui/sign-in"))
    sign_up("ada@example.com")

    # Create a workflow: the editor opens on it.
    page.locator(".cf-new-name input").fill("Fetch a person")
    page.locator(".cf-create button").click()
    page.wait_for_url(re.compile(r"/ui/editor\?id="))
    workflow_id = page.url.split("id=", 1)[1]
    pane = page.locator(".cf-canvas .react-flow__pane")
    expect(pane).to_be_visible()

    # Drag three node types from the palette onto the canvas.
    for i, node_type in enumerate(["trigger.manual", "http.request", "set"]):
        page.locator(f".cf-palette-item[data-type='{node_type}']").drag_to(
            pane, target_position={"x": 120 + 260 * i, "y": 160 + 40 * i}
        )
    expect(page.locator(".cf-canvas .react-flow__node")).to_have_count(3)
    expect(page.locator(".cf-unsaved")).to_be_visible()

    # Connect them: output handle → input handle.
    _node(page, "trigger_manual").locator(".react-flow__handle.source").drag_to(
        _node(page, "http_request").locator(".react-flow__handle.target")
    )
    _node(page, "http_request").locator(".react-flow__handle.source").drag_to(
        _node(page, "set").locator(".react-flow__handle.target")
    )
    expect(page.locator(".cf-canvas .react-flow__edge")).to_have_count(2)

    # Configure: the settings panel is generated from each node's params schema.
    _node(page, "http_request").click()
    page.locator(".cf-field-url input").fill(f"{http_server.url}/person")
    _node(page, "set").click()
    expect(page.locator(".cf-context-vars")).to_contain_text("http_request")
    page.locator(".cf-field-fields textarea").fill('{"greeting": "Hello {{ http_request.data.name }}"}')

    page.locator(".cf-save button").click()
    expect(page.locator(".cf-saved")).to_have_text("v2")  # v1 was the empty workflow just created

    # Execute: the run's live events reach the canvas while it runs…
    try:
        page.locator(".cf-execute button").click()
        expect(_node(page, "trigger_manual")).to_have_class(_status("success"))
        expect(_node(page, "http_request")).to_have_class(_status("running"))
        expect(page.locator(".cf-run-status")).to_contain_text("running")
        page.screenshot(path=str(ARTIFACTS / "editor-mid-run.png"))
    finally:
        answer.set()
    # …and every node turns to success.
    for node_id in ("trigger_manual", "http_request", "set"):
        expect(_node(page, node_id)).to_have_class(_status("success"))
    expect(page.locator(".cf-run-status .cf-badge")).to_have_text("success")
    page.screenshot(path=str(ARTIFACTS / "editor-run-success.png"))
    assert [r.path for r in http_server.requests] == ["/person"]

    # The execution page shows each node's status and output, and links the run in the Dagster UI.
    with page.expect_popup() as popup:
        page.locator(".cf-open-execution").click()
    detail = popup.value
    execution_id = detail.url.split("id=", 1)[1]
    for node_id in ("trigger_manual", "http_request", "set"):
        expect(detail.locator(f".cf-node-card[data-node-id='{node_id}'] .cf-badge")).to_have_text("success")
    expect(detail.locator(".cf-node-card[data-node-id='set'] .cf-node-output")).to_contain_text(
        '"greeting": "Hello Ada"'
    )
    expect(detail.locator(".cf-dagster-link")).to_have_attribute(
        "href", re.compile(rf"/runs/{execution_id}$")
    )
    detail.screenshot(path=str(ARTIFACTS / "execution-detail.png"), full_page=True)
    detail.close()

    # Break the URL: the HTTP node fails, with its error, and Set never runs.
    _node(page, "http_request").click()
    page.locator(".cf-field-url input").fill("http://127.0.0.1:9/nothing-listens-here")
    page.locator(".cf-execute button").click()  # saves the change first (v3), then runs it
    expect(_node(page, "http_request")).to_have_class(_status("failed"))
    expect(page.locator(".cf-run-status .cf-badge")).to_have_text("failed")
    expect(page.locator(".cf-run-error")).to_contain_text("http_request")
    expect(page.locator(".cf-node-run-error")).to_contain_text("127.0.0.1:9")  # the selected node's error
    expect(_node(page, "trigger_manual")).to_have_class(_status("success"))
    expect(_node(page, "set")).not_to_have_class(_status("success"))
    expect(page.locator(".cf-saved")).to_have_text("v3")
    page.screenshot(path=str(ARTIFACTS / "editor-run-failed.png"))

    with page.expect_popup() as popup:
        page.locator(".cf-open-execution").click()
    failed = popup.value
    expect(failed.locator(".cf-execution-detail h2 .cf-badge")).to_have_text("failed")
    expect(failed.locator(".cf-node-card[data-node-id='http_request'] .cf-badge")).to_have_text("failed")
    expect(failed.locator(".cf-node-card[data-node-id='http_request'] .cf-node-error")).to_contain_text(
        "127.0.0.1:9"
    )
    expect(failed.locator(".cf-node-card[data-node-id='set'] .cf-badge")).not_to_have_text("success")
    failed.screenshot(path=str(ARTIFACTS / "execution-detail-failed.png"), full_page=True)
    failed.close()

    # The executions list: both runs, newest first, with workflow, start and duration.
    page.goto(f"{base}/ui/executions?workflow={workflow_id}")
    rows = page.locator(".cf-execution-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".cf-badge")).to_have_text("failed")
    expect(rows.nth(1).locator(".cf-badge")).to_have_text("success")
    expect(rows.nth(1)).to_contain_text("Fetch a person")
    expect(rows.nth(1).locator(".cf-duration")).to_have_text(re.compile(r"^\d+(\.\d+)? (ms|s)$"))
    expect(rows.nth(1).locator(".cf-execution-link")).to_have_attribute(
        "href", f"/ui/executions?id={execution_id}"
    )
    page.screenshot(path=str(ARTIFACTS / "executions-list.png"), full_page=True)
