"""Finding 8: secrets echoed by a remote service were stored in the node's output; the database and
run files were world-readable; no CSP or other security headers."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.security.conftest import PASSWORD, create_workflow, execute, finished, wait_for

CONNECTFLOW = str(Path(sys.executable).parent / "connectflow")


def test_a_secret_echoed_by_the_service_is_masked_in_the_stored_output(live, http_server, cf):
    api_key = "sk-live-" + "7" * 32

    def echo(request):  # a careless API that repeats the caller's key in its answer
        key = request.headers.get("authorization", "")
        reply = {"role": "assistant", "content": f"you called me with {key}"}
        return (
            200,
            {},
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    http_server.route("POST", "/v1/chat/completions", echo)
    alice = live.user()
    credential = alice.post(
        "/api/credentials",
        json={
            "name": "llm",
            "type": "openai_api",
            "data": {"api_key": api_key, "base_url": f"{http_server.url}/v1"},
        },
    )
    assert credential.status_code == 201, credential.text
    workflow = {
        "name": "echo",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {
                "id": "ask",
                "type": "ai.openai",
                "name": "Ask",
                "params": {"prompt": "hi"},
                "credential_id": credential.json()["id"],
            },
        ],
        "edges": [{"source": "start", "target": "ask"}],
    }
    execution_id = execute(alice, create_workflow(alice, workflow))
    execution = finished(alice, execution_id)
    assert execution["status"] == "success", execution
    assert any(r.headers.get("authorization") == f"Bearer {api_key}" for r in http_server.requests)
    ask = next(n for n in execution["nodes"] if n["node_id"] == "ask")
    assert "you called me with Bearer ***" in str(ask["output"])
    assert api_key not in alice.get(f"/api/executions/{execution_id}").text
    assert api_key not in str(cf.instance.all_logs(execution_id))  # the event log, as Dagster's UI shows it
    pickles = [p.read_bytes() for p in cf.home.rglob("*") if p.is_file() and "storage" in p.parts]
    assert not any(api_key.encode() in blob for blob in pickles)  # IO-manager files


def test_every_response_carries_security_headers(live):
    alice = live.user()
    with live.client() as anonymous:
        answers = [
            anonymous.get("/api/health"),
            anonymous.get("/api/workflows"),  # 401
            anonymous.get("/api/nothing-here"),  # 404
            anonymous.post("/api/webhooks/nope/x", json={}),  # 404 from the ingest route
            anonymous.post(
                "/api/webhooks/nope/x", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
            ),  # 413 from the middleware
            anonymous.get("/api/openapi.json"),
        ]
    answers.append(alice.get("/api/auth/me"))
    for response in answers:
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    with live.client() as anonymous:
        docs = anonymous.get("/api/docs")
    assert docs.status_code == 200 and "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_the_editor_works_under_the_content_security_policy(live_gateway, browser_page, sign_up):
    """The CSP is compatible with the Panel/Bokeh editor: no violation while a user signs up, opens a
    workflow in the editor and sees its canvas."""
    violations: list[str] = []
    browser_page.on(
        "console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None
    )
    sign_up("csp@example.com", "Csp User")
    page = browser_page
    page.locator(".cf-new-name input").fill("Under CSP")
    page.locator(".cf-create button").click()
    page.wait_for_url(re.compile(r"/ui/editor\?id="))
    pane = page.locator(".cf-canvas .react-flow__pane")
    expect(pane).to_be_visible(timeout=60_000)
    page.locator(".cf-palette-item[data-type='trigger.manual']").drag_to(
        pane, target_position={"x": 150, "y": 150}
    )
    expect(page.locator(".cf-canvas .react-flow__node")).to_have_count(1, timeout=30_000)
    assert violations == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(300)
def test_home_database_and_run_files_are_private_to_the_account(tmp_path):
    """``connectflow serve`` + ``connectflow worker`` (the real CLI): after a sign-up and an
    execution, the home is 0700 and no file in it is readable by group or others."""
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "CONNECTFLOW_HOME": str(home), "CONNECTFLOW_PORT": str(port)}
    for name in ("DAGSTER_HOME", "CONNECTFLOW_DATABASE_URL"):
        env.pop(name, None)
    old_umask = os.umask(0o022)  # what a default login shell has
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [CONNECTFLOW, "serve", "--no-ui"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [CONNECTFLOW, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    finally:
        os.umask(old_umask)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=120, what="connectflow serve")
        with httpx.Client(base_url=base, timeout=60) as client:
            account = {"email": "owner@example.com", "password": PASSWORD}
            assert client.post("/api/auth/sign-up/email", json=account).status_code == 202
            assert client.post("/api/auth/sign-in/email", json=account).status_code == 200
            client.headers["X-CSRF-Token"] = client.cookies["cf_csrf"]
            workflow = {
                "name": "files",
                "nodes": [
                    {"id": "start", "type": "trigger.manual", "name": "Start"},
                    {"id": "keep", "type": "set", "name": "Keep", "params": {"fields": {"x": "{{ start }}"}}},
                ],
                "edges": [{"source": "start", "target": "keep"}],
            }
            execution = finished(client, execute(client, create_workflow(client, workflow), {"a": 1}))
            assert execution["status"] == "success", execution
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.rglob("*")]
    assert any(p.name == "connectflow.db" for p in files) and any(p.name == "secret.key" for p in files)
    exposed = [
        f"{p.relative_to(home)} {oct(stat.S_IMODE(p.stat().st_mode))}"
        for p in files
        if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    assert exposed == []
