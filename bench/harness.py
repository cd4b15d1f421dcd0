"""What the trigger/dispatch benches share: a fresh home, a local HTTP API, the gateway and workers as
real processes on 127.0.0.1, and the 3-node workflow of tests/fixtures/n8n/webhook_http_set.json
rebuilt in ConnectFlow's format (webhook → HTTP request to the local API → Set with a templated field).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET = {
    "accept_p50_ms": 5.0,
    "accept_p99_ms": 25.0,
    "accept_rate_per_s": 1500.0,
    "worker_rss_mb": 250.0,
    "fanout5_ms": 400.0,
}


def fresh_home() -> str:
    """Use CONNECTFLOW_HOME / CONNECTFLOW_DATABASE_URL if set, else a new temporary SQLite home."""
    if "CONNECTFLOW_HOME" not in os.environ:
        os.environ["CONNECTFLOW_HOME"] = tempfile.mkdtemp(prefix="cf-bench-")
    os.environ.pop("DAGSTER_HOME", None)
    os.environ.setdefault("CONNECTFLOW_LOG_LEVEL", "WARNING")
    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.store.db import get_engine

    get_engine()
    get_instance()
    return os.environ["CONNECTFLOW_HOME"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalApi:
    """A threaded HTTP API on 127.0.0.1: ``POST /echo`` answers ``{"order": …, "amount": 9900}``;
    ``GET /slow`` answers after ``slow_seconds``."""

    def __init__(self, slow_seconds: float = 0.2):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._reply({"order": body.get("order"), "amount": 9900})

            def do_GET(self) -> None:
                time.sleep(slow_seconds)  # the remote API's own latency
                self._reply({"ok": True})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


def webhook_http_set(api_url: str, workflow_id: str) -> dict:
    """tests/fixtures/n8n/webhook_http_set.json in ConnectFlow's format, calling ``api_url``."""
    return {
        "id": workflow_id,
        "name": "Order webhook → fetch order → message",
        "nodes": [
            {"id": "webhook", "type": "trigger.webhook", "name": "Webhook", "params": {"path": "orders"}},
            {
                "id": "fetch_order",
                "type": "http.request",
                "name": "Fetch order",
                "params": {
                    "method": "POST",
                    "url": f"{api_url}/echo",
                    "body": {"order": "{{ webhook.body.orderId }}"},
                },
            },
            {
                "id": "message",
                "type": "set",
                "name": "Message",
                "params": {
                    "fields": {
                        "message": "Order {{ webhook.body.orderId }} paid {{ fetch_order.data.amount }}"
                    }
                },
            },
        ],
        "edges": [
            {"source": "webhook", "target": "fetch_order"},
            {"source": "fetch_order", "target": "message"},
        ],
    }


def save_workflow(document: dict) -> str:
    from connectflow_dagster import spec
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import local_user, save_workflow

    with session_scope() as session:
        owner = local_user(session)
        saved = save_workflow(session, owner.id, spec.parse_workflow(document))
        return saved.workflow.id


def new_workflow_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


class Gateway:
    """``uvicorn gateway.app:app`` as its own process(es) on a free loopback port."""

    def __init__(self, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "gateway.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                *(["--workers", str(workers)] if workers > 1 else []),
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def verdict(value: float, budget: float, lower_is_better: bool = True) -> str:
    ok = value <= budget if lower_is_better else value >= budget
    return "within budget" if ok else "OVER budget"
