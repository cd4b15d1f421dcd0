"""Sticky notes in the editor, in headless Chromium against the real gateway: a saved note is drawn on
the canvas with its Markdown rendered, a new one is added with "+ Note", written in the side panel,
and both are in the saved version (and neither is a step of the run). Screenshot in test-artifacts/ui/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"

pytestmark = pytest.mark.browser

WORKFLOW = {
    "name": "Annotated",
    "nodes": [
        {"id": "start", "type": "trigger.manual", "name": "Start", "position": {"x": 0, "y": 200}},
        {"id": "pass", "type": "noop", "name": "Pass", "position": {"x": 260, "y": 200}},
    ],
    "edges": [{"source": "start", "target": "pass"}],
    "notes": [
        {
            "id": "why",
            "text": "Calls **billing** first",
            "position": {"x": 0, "y": 0},
            "size": {"width": 300, "height": 100},
            "color": "blue",
        }
    ],
}


def test_notes_are_drawn_added_and_edited_on_the_canvas(live_gateway, browser_page, sign_up) -> None:
    from playwright.sync_api import expect

    page = browser_page
    base = live_gateway.url
    sign_up("notes@example.com")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "cf_csrf")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    created = page.request.post(f"{base}/api/workflows", data=json.dumps(WORKFLOW), headers=headers)
    assert created.status == 201, created.text()
    workflow_id = created.json()["id"]

    page.goto(f"{base}/ui/editor?id={workflow_id}")
    saved_note = page.locator(".cf-canvas .react-flow__node[data-id='note:why']")
    expect(saved_note).to_be_visible()
    expect(saved_note.locator("strong")).to_have_text("billing")  # the Markdown is rendered

    page.locator(".cf-add-note button").click()
    editor = page.locator(".cf-note-editor-text textarea")
    expect(editor).to_be_visible()
    editor.fill("Retries **twice**")
    new_note = page.locator(".cf-canvas .react-flow__node[data-id='note:note_2']")
    expect(new_note.locator("strong")).to_have_text("twice")
    page.locator(".cf-save button").click()
    expect(page.locator(".cf-saved")).to_have_text("v2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notes.png"))

    spec = page.request.get(f"{base}/api/workflows/{workflow_id}").json()["spec"]
    assert [(n["id"], n["text"]) for n in spec["notes"]] == [
        ("why", "Calls **billing** first"),
        ("note_2", "Retries **twice**"),
    ]
    assert [n["id"] for n in spec["nodes"]] == ["start", "pass"]
