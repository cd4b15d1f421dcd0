"""What a new user does, end to end: two accounts, a workflow and a credential, a run through the API.

The second user sees none of the first user's objects through any endpoint; the credential's secret
is never in the database file, never in an API response, and survives ``connectflow rotate-keys``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from connectflow_dagster.store.credentials import decrypt_for_owner
from tests.gateway.conftest import manual_workflow

SECRET = "sk-live-7f3a9c1e5b2d4068a1c3e5f7091b2d4f"


def _database_bytes(cf) -> bytes:
    """Everything the app database holds, as bytes (the SQLite files, or a dump of every row)."""
    if cf.database_url is None:
        return b"".join(p.read_bytes() for p in cf.home.glob("connectflow.db*"))
    engine = create_engine(cf.database_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'cf_%'")
            ).scalars()
            return "\n".join(
                repr(row) for table in list(tables) for row in conn.execute(text(f'SELECT * FROM "{table}"'))
            ).encode()
    finally:
        engine.dispose()


def test_a_new_user_runs_a_workflow_and_another_user_sees_none_of_it(isolated_gateway, http_server):
    gateway = isolated_gateway
    http_server.route("GET", "/order", lambda req: (200, {}, {"order_id": "A-17", "total": 42}))
    alice, bob = gateway.user(name="Alice"), gateway.user(name="Bob")

    # Alice: a workflow and a credential.
    created = alice.post("/api/workflows", json=manual_workflow(f"{http_server.url}/order"))
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert workflow["version"] == 1 and workflow["problems"] == []
    cred = alice.post(
        "/api/credentials",
        json={
            "name": "Ping prod",
            "type": "ping_api",
            "data": {"base_url": http_server.url, "api_key": SECRET},
        },
    )
    assert cred.status_code == 201, cred.text
    credential = cred.json()
    assert credential["data"] == {"base_url": http_server.url, "region": "eu"}
    assert credential["secret_fields"] == ["api_key"]

    # Alice runs it through the API, then lists and opens the execution.
    started = alice.post(f"/api/workflows/{workflow['id']}/execute", json={"input": {"order_id": "A-17"}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    gateway.wait(execution_id)
    listed = alice.get("/api/executions").json()
    assert [e["id"] for e in listed["data"]] == [execution_id] and listed["count"] == 1
    assert listed["data"][0]["workflow_name"] == "Order summary"
    opened = alice.get(f"/api/executions/{execution_id}").json()
    assert opened["status"] == "success", opened
    assert {n["node_id"]: n["status"] for n in opened["nodes"]} == {
        "start": "success",
        "fetch": "success",
        "summary": "success",
    }
    assert opened["context"]["summary"] == {"text": "order A-17"}
    assert all(n["duration_ms"] is not None for n in opened["nodes"])
    assert opened["dagster_url"].endswith(f"/runs/{execution_id}")

    # Bob sees none of it, through any endpoint.
    assert bob.get("/api/workflows").json() == {"data": [], "count": 0}
    assert bob.get("/api/credentials").json() == {"data": [], "count": 0}
    assert bob.get("/api/executions").json()["data"] == []
    for path in (
        f"/api/workflows/{workflow['id']}",
        f"/api/workflows/{workflow['id']}/versions",
        f"/api/credentials/{credential['id']}",
        f"/api/executions/{execution_id}",
        f"/api/executions?workflow_id={workflow['id']}",
    ):
        assert bob.get(path).status_code == 404, path
    assert bob.post(f"/api/workflows/{workflow['id']}/execute", json={}).status_code == 404

    # The secret: not in the database, not in any response.
    assert SECRET.encode() not in _database_bytes(gateway.cf)
    assert not any(SECRET in text for text in gateway.responses)

    # It survives `connectflow rotate-keys` (the real command, in its own process).
    key_file = gateway.cf.home / "secret.key"
    old_key = key_file.read_text()
    env = {**os.environ, "CONNECTFLOW_HOME": str(gateway.cf.home)}
    env.pop("DAGSTER_HOME", None)
    if gateway.cf.database_url:
        env["CONNECTFLOW_DATABASE_URL"] = gateway.cf.database_url
    result = subprocess.run(
        [str(Path(sys.executable).parent / "connectflow"), "rotate-keys", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1 credential(s)" in result.stdout
    assert key_file.read_text() != old_key and (key_file.stat().st_mode & 0o777) == 0o600
    assert decrypt_for_owner(alice.id, credential["id"], "ping_api")["api_key"] == SECRET
    assert SECRET.encode() not in _database_bytes(gateway.cf)
    http_server.route("GET", "/ping", lambda req: (200, {}, {"ok": True}))
    tested = alice.post(f"/api/credentials/{credential['id']}/test")
    assert tested.json() == {"ok": True, "message": "pong"}
    assert http_server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert not any(SECRET in text for text in gateway.responses)
