"""Attack run on the flow-logic and n8n surface (issues 12 and 13): code nodes, HTTP Request auth and
pagination, Wait/test URLs, sub-workflows and error workflows, n8n import — as a hostile user or a
hostile remote server would use them, against the real gateway (``live``) and a real worker.

One test per finding; each failed before its fix.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import socket
import threading
from typing import Any

import httpx
import pytest

from tests.security.conftest import create_workflow, execute, finished


def _js_workflow(code: str, **js: Any) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual", "params": {}},
            {"id": "js", "name": "JS", "type": "code.js", "params": {"code": code}, **js},
        ],
        "edges": [{"source": "start", "target": "js"}],
    }


def test_an_output_nested_too_deeply_fails_its_node_clearly(live: Any) -> None:
    """Finding: a node output nested ~900 deep (a code node's ``[[[…]]]``, a hostile API's answer)
    crashed the IO manager's pickling with a RecursionError: the run failed with Dagster's opaque
    "An exception was thrown during execution" and no node named. Now the node fails with a clear
    message, before anything is stored, and ``on_error`` applies."""
    alice = live.user()
    deep = "let x = 1; for (let i = 0; i < 900; i++) x = [x]; return [{json: {x}}];"
    execution = finished(alice, execute(alice, create_workflow(alice, _js_workflow(deep))))
    assert execution["status"] == "failed"
    assert "nested deeper than 128 levels" in execution["error"], execution["error"]
    assert "node 'js'" in execution["error"]

    tolerant = _js_workflow(deep, on_error="continue")
    execution = finished(alice, execute(alice, create_workflow(alice, tolerant)))
    assert execution["status"] == "success", execution["error"]
    js = next(n for n in execution["nodes"] if n["node_id"] == "js")
    assert "nested deeper than" in str(js["output"])

    fine = "let x = 1; for (let i = 0; i < 100; i++) x = [x]; return [{json: {x}}];"
    execution = finished(alice, execute(alice, create_workflow(alice, _js_workflow(fine))))
    assert execution["status"] == "success", execution["error"]


def test_an_import_does_not_stall_the_gateway(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding: ``POST /api/workflows/import`` converted and saved the document on the event loop
    (an ``async`` route calling synchronous code): a megabyte of n8n JSON is seconds of CPU during
    which every other request — webhooks, health, other users — waited. The conversion here is held
    until a health check has been answered: it can only be answered if the import runs off the loop."""
    from gateway.routes import workflows

    answered = threading.Event()
    real = workflows.import_n8n

    def held_import(data: Any, **kwargs: Any) -> Any:
        answered.wait(timeout=30)
        return real(data, **kwargs)

    monkeypatch.setattr(workflows, "import_n8n", held_import)
    alice = live.user()
    document = {"name": "n8n", "nodes": [], "connections": {}}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        importing = pool.submit(alice.post, "/api/workflows/import", json=document)
        try:
            with httpx.Client(base_url=live.url, timeout=10) as other:
                assert other.get("/api/health").status_code == 200  # a ReadTimeout before the fix
        finally:
            answered.set()
        assert importing.result().status_code == 201, importing.result().text


def test_a_respond_node_cannot_serve_script_or_cookies_on_the_editors_origin(live: Any) -> None:
    """Finding: Respond to Webhook answers are served from the gateway's origin (the editor's and the
    API's), with whatever ``Content-Type`` and headers the workflow chooses. Any user could publish an
    HTML page whose script runs as the visitor (the default CSP allows inline scripts), reads the
    ``cf_csrf`` cookie and calls the API with the visitor's session; or ``Set-Cookie`` the visitor
    into the attacker's session. Now a workflow's answer carries a sandboxing CSP (opaque origin, no
    scripts) that the workflow cannot replace, and no cookies."""
    mallory = live.user()
    page = "<script>fetch('/api/credentials').then(r => r.text()).then(alert)</script>"
    workflow = {
        "nodes": [
            {
                "id": "hook",
                "name": "Webhook",
                "type": "trigger.webhook",
                "params": {"path": "page", "methods": ["GET"], "response_mode": "respond_node"},
            },
            {
                "id": "answer",
                "name": "Answer",
                "type": "respond",
                "params": {
                    "respond_with": "text",
                    "body": page,
                    "headers": {
                        "Content-Type": "text/html",
                        "Set-Cookie": "cf_session=mallory; Path=/",
                        "content-security-policy": "script-src * 'unsafe-inline'",
                    },
                },
            },
        ],
        "edges": [{"source": "hook", "target": "answer"}],
    }
    wid = create_workflow(mallory, workflow)
    with live.client() as visitor:
        answer = visitor.get(f"/api/webhooks/{wid}/page")
    assert answer.status_code == 200, answer.text
    assert answer.text == page and answer.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in answer.headers
    policies = answer.headers.get_list("content-security-policy")
    assert policies and all(p.split(";")[0].strip() == "sandbox" for p in policies), policies
    assert "script-src *" not in str(policies)


class EndlessBody:
    """A raw HTTP server answering every request with a body of ``total`` bytes, sent in 64 KiB chunks
    without a length; records how much of it the client read before hanging up."""

    def __init__(self, total: int, gzip_body: bytes | None = None) -> None:
        self.total, self.sent, self.done = total, 0, threading.Event()
        self.gzip_body = gzip_body  # instead: this body, sent whole with Content-Encoding: gzip
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            if self.gzip_body is not None:
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                with contextlib.suppress(OSError):
                    conn.sendall(head + b"Connection: close\r\n\r\n" + self.gzip_body)
                self.done.set()
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
            )
            chunk = b"0" * 65536
            try:
                while self.sent < self.total:
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass
        self.done.set()


def test_a_response_without_end_fails_the_node_not_the_worker(
    live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding: nothing bounded how much of a response body a node reads: the HTTP Request node (and
    its pagination, and the OAuth2 token request) read all of it into the worker's memory and only
    then compared it with its 10 MiB limit; a server streaming without end took the worker (every
    user's runs) down. The transport now stops reading past ``MAX_RESPONSE_BYTES`` (64 MiB; 1 MiB here)."""
    from connectflow_dagster.transport import _http

    monkeypatch.setattr(_http, "MAX_RESPONSE_BYTES", 1024 * 1024, raising=False)
    server = EndlessBody(total=64 * 1024 * 1024)
    alice = live.user()
    workflow = {
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual", "params": {}},
            {"id": "get", "name": "Get", "type": "http.request", "params": {"url": f"{server.url}/big"}},
        ],
        "edges": [{"source": "start", "target": "get"}],
    }
    execution = finished(alice, execute(alice, create_workflow(alice, workflow)))
    assert execution["status"] == "failed"
    assert "is larger than 1048576 bytes" in execution["error"], execution["error"]
    assert server.done.wait(60)
    assert server.sent < server.total  # the worker hung up instead of reading it all


def test_an_imported_sticky_note_cannot_run_script_in_the_editor(live: Any) -> None:
    """Finding: sticky notes are drawn as Markdown with raw HTML rendered, and the editor's CSP allows
    inline event handlers (Panel needs them). A shared n8n workflow whose sticky note holds
    ``<img src=x onerror=…>`` ran its script as whoever imported and opened it (reading ``cf_csrf``
    and calling the API as them). Imported through the API, loaded as the editor loads it: the HTML
    sent to the browser holds the note's HTML as text, and no javascript: link."""
    import html

    from connectflow_dagster.registry import get_registry
    from ui.components.canvas import Canvas
    from ui.components.draft import WorkflowDraft

    hostile = (
        "**Read me** <img src=x onerror=\"fetch('/api/credentials')\"> <script>alert(1)</script> "
        '[click](javascript:alert(2)) <a href="javascript:alert(3)">here</a>'
    )
    n8n = {
        "name": "Shared template",
        "nodes": [
            {
                "id": "1",
                "name": "Note",
                "type": "n8n-nodes-base.stickyNote",
                "typeVersion": 1,
                "position": [0, 0],
                "parameters": {"content": hostile},
            },
            {
                "id": "2",
                "name": "Start",
                "type": "n8n-nodes-base.manualTrigger",
                "typeVersion": 1,
                "position": [200, 0],
                "parameters": {},
            },
        ],
        "connections": {},
    }
    victim = live.user()
    response = victim.post("/api/workflows/import", json=n8n)
    assert response.status_code == 201, response.text
    wid = response.json()["workflows"][0]["id"]
    document = victim.get(f"/api/workflows/{wid}").json()["spec"]
    assert document["notes"] and hostile in document["notes"][0]["text"]  # kept as written

    catalogue = {t["type"]: t for t in get_registry().catalogue()}
    draft = WorkflowDraft(workflow_id=wid, catalogue=catalogue)
    draft.load(document)
    canvas = Canvas(draft=draft)
    [view] = canvas._note_views.values()
    sent = html.unescape(view._get_properties(None)["text"])  # the HTML the browser puts in the page
    assert "<strong>Read me</strong>" in sent  # Markdown still renders
    assert "<img" not in sent and "<script" not in sent and '<a href="javascript' not in sent, sent


def test_a_resume_url_with_a_non_ascii_signature_is_404(live: Any) -> None:
    """Found by tests/security/test_fuzz_api.py: ``hmac.compare_digest`` refuses a ``str`` holding
    non-ASCII characters, so ``/api/webhook-waiting/{id}/é`` answered 500 instead of 404."""
    with live.client() as anon:
        for sig in ["%C3%A9", "%E2%98%83" * 3, "a%F0%9F%98%80"]:
            response = anon.post(f"/api/webhook-waiting/someexecution/{sig}", json={})
            assert response.status_code == 404, (sig, response.status_code, response.text)


def test_a_python_code_node_leaves_no_process_behind(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding: the Python code node's child is killed by process group, but code that forks and calls
    ``os.setsid()`` (a daemon, a fork bomb's survivors) left its own group and outlived the node and
    its timeout. Now (as root) the code runs as PID 1 of its own PID namespace — the kernel kills
    everything in it when the node ends — and otherwise may start no process at all.

    The escaped process holds a connection to this test's listener: it must close when the node ends."""
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_PYTHON_CODE", "on")
    get_settings.cache_clear()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(60)
    port = listener.getsockname()[1]
    code = f"""
import os, socket, time
try:
    pid = os.fork()
except OSError:  # not root: no processes at all
    return [{{"json": {{"forked": False}}}}]
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        s = socket.create_connection(("127.0.0.1", {port}))
        s.sendall(b"escaped")
        time.sleep(120)
    os._exit(0)
os.waitpid(pid, 0)
return [{{"json": {{"forked": True}}}}]
"""
    workflow = {
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual", "params": {}},
            {
                "id": "py",
                "name": "Py",
                "type": "code.python",
                "params": {"code": code, "timeout_seconds": 30},
            },
        ],
        "edges": [{"source": "start", "target": "py"}],
    }
    alice = live.user()
    execution = finished(alice, execute(alice, create_workflow(alice, workflow)))
    assert execution["status"] == "success", execution["error"]
    py = next(n for n in execution["nodes"] if n["node_id"] == "py")
    if "True" not in str(py["output"]):
        return  # not root: fork refused, nothing can be left behind
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(60)
        assert conn.recv(7) == b"escaped"
        assert conn.recv(1) == b""  # EOF: its process is gone (before the fix: a timeout after 60 s)
    listener.close()
    get_settings.cache_clear()


def test_a_compressed_response_is_limited_by_what_it_inflates_to(
    live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding (after the one above): the limit counted the bytes sent, and httpx inflated a
    gzip body afterwards: 64 MiB of gzip is ~64 GiB of zeros. The transport now inflates gzip/deflate
    itself, counting what comes out; a small compressed answer still arrives decoded."""
    from connectflow_dagster.transport import _http

    monkeypatch.setattr(_http, "MAX_RESPONSE_BYTES", 1024 * 1024, raising=False)
    bomb = EndlessBody(total=0, gzip_body=gzip.compress(b"0" * (8 * 1024 * 1024)))  # ~8 KiB sent
    small = EndlessBody(total=0, gzip_body=gzip.compress(b"hello " * 1000))
    alice = live.user()

    def fetch(url: str) -> dict[str, Any]:
        workflow = {
            "nodes": [
                {"id": "start", "name": "Start", "type": "trigger.manual", "params": {}},
                {"id": "get", "name": "Get", "type": "http.request", "params": {"url": url}},
            ],
            "edges": [{"source": "start", "target": "get"}],
        }
        return finished(alice, execute(alice, create_workflow(alice, workflow)))

    execution = fetch(f"{bomb.url}/bomb")
    assert execution["status"] == "failed"
    assert "is larger than 1048576 bytes" in execution["error"], execution["error"]
    execution = fetch(f"{small.url}/small")
    assert execution["status"] == "success", execution["error"]
    get = next(n for n in execution["nodes"] if n["node_id"] == "get")
    assert get["output"]["data"] == "hello " * 1000
