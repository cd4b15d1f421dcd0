"""Through the API: the Python code node while it is off, and sticky notes (kept, never run)."""

from __future__ import annotations

from typing import Any

import pytest

from connectflow_dagster import spec

START = {"id": "start", "type": "trigger.manual", "name": "Start"}
NOTE = {
    "id": "n1",
    "text": "## Why\nThis **posts** the order to `billing`.",
    "position": {"x": 10, "y": -40},
    "size": {"width": 300, "height": 120},
    "color": "blue",
}


def with_notes(*notes: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "Annotated",
        "nodes": [START, {"id": "pass", "type": "noop", "name": "Pass"}],
        "edges": [{"source": "start", "target": "pass"}],
        "notes": list(notes),
    }


def test_a_python_node_while_off_is_a_problem_on_save_and_refused_on_execute(gateway):
    ada = gateway.user()
    body = {
        "name": "py",
        "nodes": [
            START,
            {"id": "code", "type": "code.python", "name": "Code", "params": {"code": "return {}"}},
        ],
        "edges": [{"source": "start", "target": "code"}],
    }
    saved = ada.post("/api/workflows", json=body)
    assert saved.status_code == 201
    [problem] = saved.json()["problems"]
    assert problem["node_id"] == "code" and "CONNECTFLOW_PYTHON_CODE=on" in problem["message"]
    refused = ada.post(f"/api/workflows/{saved.json()['id']}/execute", json={})
    assert refused.status_code == 422
    assert "turned off on this server" in refused.json()["problems"][0]["message"]


def test_sticky_notes_round_trip_and_are_not_run(gateway):
    ada = gateway.user()
    created = ada.post("/api/workflows", json=with_notes(NOTE))
    assert created.status_code == 201, created.text
    wf = created.json()
    assert wf["problems"] == [] and wf["spec"]["notes"] == [NOTE]
    assert ada.get(f"/api/workflows/{wf['id']}").json()["spec"]["notes"] == [NOTE]
    moved = {**NOTE, "position": {"x": 99.0, "y": 1.0}, "text": "edited"}
    saved = ada.put(f"/api/workflows/{wf['id']}", json=with_notes(moved)).json()
    assert saved["version"] == 2 and saved["spec"]["notes"][0]["text"] == "edited"
    started = ada.post(f"/api/workflows/{wf['id']}/execute", json={})
    assert started.status_code == 202
    gateway.wait(started.json()["execution_id"])
    execution = ada.get(f"/api/executions/{started.json()['execution_id']}").json()
    assert execution["status"] == "success"
    assert {n["node_id"] for n in execution["nodes"]} == {"start", "pass"}  # the note is not a step
    grace = gateway.user()
    assert grace.get(f"/api/workflows/{wf['id']}").status_code == 404


def test_a_workflow_without_notes_keeps_its_content_hash():
    """Older workflows (saved before notes existed) keep their version hash."""
    wf = spec.parse_workflow({"name": "x", "nodes": [START]})
    assert "notes" not in wf.content()
    assert "notes" in spec.parse_workflow({**with_notes(NOTE)}).content()


@pytest.mark.parametrize(
    ("notes", "says"),
    [
        ([{**NOTE, "id": f"n{i}"} for i in range(spec.MAX_NOTES + 1)], "at most 200"),
        ([{**NOTE, "text": "x" * (spec.MAX_NOTE_CHARS + 1)}], "at most 20000"),
        ([{**NOTE, "size": {"width": 10**9, "height": 10}}], "less than or equal to 4000"),
        ([{**NOTE, "id": "../etc"}], "should match pattern"),
        ([{**NOTE, "color": "<script>"}], "should be"),
        ([{**NOTE, "onclick": "x"}], "Extra inputs are not permitted"),
    ],
)
def test_hostile_notes_are_refused(gateway, notes, says):
    ada = gateway.user()
    refused = ada.post("/api/workflows", json=with_notes(*notes))
    assert refused.status_code == 422
    assert says in refused.text


def test_duplicate_note_ids_are_a_problem(gateway):
    ada = gateway.user()
    saved = ada.post("/api/workflows", json=with_notes(NOTE, NOTE)).json()
    assert saved["problems"] == [
        {"message": "duplicate sticky note id 'n1'", "node_id": None, "field": "notes"}
    ]


def test_the_catalogue_lists_the_http_credential_types_and_the_python_node_as_off(gateway):
    ada = gateway.user()
    types = {t["type"]: t for t in ada.get("/api/node-types").json()["data"]}
    assert "oauth2_client_credentials" in types["http.request"]["credential_types"]
    assert types["code.python"]["enabled"] is False and types["code.js"]["enabled"] is True
    listed = {t["type"] for t in ada.get("/api/credential-types").json()["data"]}
    assert {"http_header_auth", "http_bearer_auth", "http_basic_auth", "http_query_auth"} <= listed
