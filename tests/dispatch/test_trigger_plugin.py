"""A new trigger type is one module plus one entry point: no gateway or editor code names it.

The test-only module ``tests/dispatch/plugin_trigger.py`` is installed as a distribution would install
it (a ``*.dist-info`` with a ``connectflow.nodes`` entry point on ``sys.path``); the gateway then
serves its declared URL through the generic ingest route, keeps its secret through the generic
trigger-settings API, and a worker runs the event.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dispatch.conftest import finished_execution, inbox_rows

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def ping_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install ``plugin_trigger`` through an entry point, for this test only."""
    from connectflow_dagster.registry import get_registry

    site = tmp_path / "site"
    dist = site / "cf_test_ping_trigger-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cf-test-ping-trigger\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        '[connectflow.nodes]\n"test.ping" = tests.dispatch.plugin_trigger:node\n'
    )
    monkeypatch.syspath_prepend(str(site))
    get_registry.cache_clear()
    assert "test.ping" in get_registry().type_names()
    yield
    monkeypatch.undo()
    get_registry.cache_clear()


def ping_workflow() -> dict:
    return {
        "name": "ping → greet",
        "nodes": [
            {
                "id": "ping",
                "type": "test.ping",
                "name": "Ping",
                "variable_name": "ping",
                "params": {"prefix": "> "},
            },
            {
                "id": "greet",
                "type": "set",
                "name": "Greet",
                "params": {"fields": {"text": "got {{ ping.message }}"}},
            },
        ],
        "edges": [{"source": "ping", "target": "greet"}],
    }


def test_a_trigger_from_a_plugin_is_served_by_the_generic_route(ping_plugin, cf, live_gateway, worker_thread):  # type: ignore[no-untyped-def]
    owner = live_gateway.user()
    created = owner.post("/api/workflows", json=ping_workflow())
    assert created.status_code == 201, created.text
    wid = created.json()["id"]

    catalogue = {t["type"]: t for t in owner.get("/api/node-types").json()["data"]}
    assert catalogue["test.ping"]["ingress"]["url"] == "/api/webhooks/ping/{workflow_id}"
    assert catalogue["test.ping"]["ingress"]["auth"] == "shared"

    # The generic trigger-settings API keeps its secret; another user sees nothing.
    assert live_gateway.user().post(f"/api/workflows/{wid}/triggers/ping/secret").status_code == 404
    info = owner.post(f"/api/workflows/{wid}/triggers/ping/secret")
    assert info.status_code == 201, info.text
    assert info.json()["url"] == f"{live_gateway.url}/api/webhooks/ping/{wid}"
    secret = info.json()["secret"]

    client = live_gateway.client()
    url = f"/api/webhooks/ping/{wid}"
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.post(url, json={"id": "p1", "message": "hi"}).status_code == 401
    assert (
        client.post(
            url, json={"id": "p1", "message": "hi"}, headers={"Authorization": "Bearer nope-nope"}
        ).status_code
        == 401
    )
    assert client.post(url, content=b"hi", headers={**auth, "Content-Type": "text/plain"}).status_code == 415
    assert (
        client.post(url, content=b"{", headers={**auth, "Content-Type": "application/json"}).status_code
        == 400
    )
    bad = client.post(url, json={"id": 1}, headers=auth)
    assert bad.status_code == 400 and "string 'id' and 'message'" in bad.json()["detail"]
    quiet = client.post(url, json={"id": "p0", "message": "x", "quiet": True}, headers=auth)
    assert quiet.status_code == 200 and quiet.json() == {"status": "ignored", "ping_id": "p0"}
    assert (
        client.post(
            "/api/webhooks/ping/no-such-workflow", json={"id": "p1", "message": "hi"}, headers=auth
        ).status_code
        == 404
    )
    assert inbox_rows(wid) == []  # nothing rejected or ignored was stored

    accepted = client.post(url, json={"id": "p1", "message": "hi"}, headers=auth)
    assert accepted.status_code == 202, accepted.text
    again = client.post(url, json={"id": "p1", "message": "hi again"}, headers=auth)
    assert again.status_code == 200 and again.json()["execution_id"] == accepted.json()["execution_id"]

    execution = finished_execution(cf, accepted.json()["execution_id"])
    assert execution.status == "success", execution.error
    assert execution.context["ping"] == {"ping_id": "p1", "message": "> hi", "quiet": False}
    assert execution.context["greet"] == {"text": "got > hi"}
    assert len(inbox_rows(wid)) == 1
