"""A loop in the editor, in headless Chromium against the real gateway: per-item statuses on the canvas.

Drag Manual → Loop Over Items → HTTP Request → Aggregate, loop over three ids, call a local server per
item (the third answers 404), execute, and see the HTTP node count its items as they finish: two of
three succeeded, one failed, and the node is marked failed. Then a Switch: one handle per rule and a
fallback, redrawn as its rules change. Screenshot in test-artifacts/ui/.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser


def _node(page, node_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f".cf-canvas .react-flow__node[data-id='{node_id}']")


def test_a_loop_built_in_the_editor_shows_per_item_statuses(
    live_gateway, browser_page, sign_up, http_server
) -> None:
    from playwright.sync_api import expect

    def item(request):  # type: ignore[no-untyped-def]
        ident = parse_qs(urlsplit(request.path).query)["id"][0]
        return (404, {}, {"error": "no such item"}) if ident == "3" else (200, {}, {"id": ident})

    http_server.route("GET", "/item", item)
    page = browser_page
    sign_up("loops@example.com")
    page.locator(".cf-new-name input").fill("Per item")
    page.locator(".cf-create button").click()
    page.wait_for_url(re.compile(r"/ui/editor\?id="))
    pane = page.locator(".cf-canvas .react-flow__pane")
    expect(pane).to_be_visible()

    types = ["trigger.manual", "loop", "http.request", "aggregate"]
    for i, node_type in enumerate(types):
        page.locator(f".cf-palette-item[data-type='{node_type}']").drag_to(
            pane, target_position={"x": 100 + 230 * i, "y": 160 + 30 * i}
        )
    ids = ["trigger_manual", "loop", "http_request", "aggregate"]
    expect(page.locator(".cf-canvas .react-flow__node")).to_have_count(4)
    for source, target in itertools.pairwise(ids):
        _node(page, source).locator(".react-flow__handle.source").drag_to(
            _node(page, target).locator(".react-flow__handle.target")
        )
    expect(page.locator(".cf-canvas .react-flow__edge")).to_have_count(3)

    _node(page, "loop").click()
    page.locator(".cf-field-items textarea").fill("[1, 2, 3]")
    _node(page, "http_request").click()
    expect(page.locator(".cf-context-vars")).to_contain_text("loop")
    page.locator(".cf-field-url input").fill(http_server.url + "/item?id={{ item }}")
    page.locator(".cf-save button").click()
    expect(page.locator(".cf-saved")).to_have_text("v2")

    page.locator(".cf-execute button").click()
    expect(page.locator(".cf-run-status .cf-badge")).to_have_text("failed")
    http = _node(page, "http_request")
    expect(http).to_contain_text("2/3 items · 1 failed")
    expect(http).to_have_class(re.compile(r"\bcf-status-failed\b"))
    expect(_node(page, "loop")).to_have_class(re.compile(r"\bcf-status-success\b"))
    page.screenshot(path=str(ARTIFACTS / "editor-loop-items.png"))
    # The execution page lists the node's items, each with its status and output or error.
    with page.expect_popup() as popup:
        page.locator(".cf-open-execution").click()
    detail = popup.value
    rows = detail.locator(".cf-node-card[data-node-id='http_request'] .cf-item-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".cf-badge")).to_have_text("success")
    expect(rows.nth(2).locator(".cf-badge")).to_have_text("failed")
    expect(rows.nth(2)).to_contain_text("404")
    expect(detail.locator(".cf-node-card[data-node-id='http_request'] .cf-items-summary")).to_contain_text(
        "3 items: 2 success, 1 failed"
    )
    detail.screenshot(path=str(ARTIFACTS / "execution-loop-items.png"), full_page=True)
    detail.close()
    assert sorted(r.path for r in http_server.requests) == ["/item?id=1", "/item?id=2", "/item?id=3"]

    # A Switch draws one output handle per rule, then fallback, and redraws them as the rules change.
    page.locator(".cf-palette-item[data-type='switch']").drag_to(pane, target_position={"x": 300, "y": 420})
    switch = _node(page, "switch")
    expect(switch.locator(".react-flow__handle.source")).to_have_count(1)  # fallback alone
    switch.click()
    page.locator(".cf-field-mode select").select_option("value")
    page.locator(".cf-field-rules textarea").fill('[{"output": "paid", "equals": "p"}, {"equals": "r"}]')
    handles = switch.locator(".react-flow__handle.source")
    expect(handles).to_have_count(3)
    assert [handles.nth(i).get_attribute("data-handleid") for i in range(3)] == ["paid", "1", "fallback"]
