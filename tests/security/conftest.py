"""Fixtures for the security tests (issue 11): the real gateway under uvicorn on a free loopback port
with a warm worker thread, and users that talk to it over HTTP like an attacker or a victim would.

Every finding of the attack run gets a test here that goes through the live HTTP surface.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from tests.gateway.conftest import gateway, isolated_gateway  # noqa: F401  (fixtures, shared with gatekeeper)

PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], *, timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class LiveGateway:
    """``create_app()`` served by uvicorn in a thread of this process (it shares the test's env)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), what="uvicorn to start")
        assert self.server.started, "the gateway did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An anonymous HTTP client (its own cookie jar)."""
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)

    def sign_up(self, email: str | None = None, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        with self.client() as client:
            return client.post(
                "/api/auth/sign-up/email",
                json={
                    "email": email or f"u{secrets.token_hex(4)}@example.com",
                    "password": password,
                    **extra,
                },
            )

    def user(self, email: str | None = None, password: str = PASSWORD) -> httpx.Client:
        """A client signed in as a new account (signed up through the API; CSRF header set)."""
        email = email or f"u{secrets.token_hex(4)}@example.com"
        client = self.client()
        account = {"email": email, "password": password}
        response = client.post("/api/auth/sign-up/email", json=account)
        assert response.status_code == 202, response.text
        response = client.post("/api/auth/sign-in/email", json=account)
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = client.cookies.get("cf_csrf") or ""
        client.email = email  # type: ignore[attr-defined]
        return client

    def healthy(self) -> bool:
        with self.client() as client:
            return client.get("/api/health").status_code == 200


@pytest.fixture
def worker(cf: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """One warm worker claiming inbox events on a thread, as ``connectflow worker`` runs it."""
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.worker import Worker

    monkeypatch.setenv("CONNECTFLOW_WORKER_IDLE_POLL_SECONDS", "0.1")
    get_dispatch_settings.cache_clear()
    worker = Worker(instance=cf.instance)
    thread = threading.Thread(target=worker.run_forever, name="cf-worker", daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=60)
    get_dispatch_settings.cache_clear()


@pytest.fixture
def live(cf: Any, worker: Any) -> Iterator[LiveGateway]:
    """The gateway (API only) on a free port, with a worker."""
    from gateway.app import create_app

    with LiveGateway(create_app()) as server:
        yield server


def create_workflow(client: httpx.Client, workflow: dict[str, Any]) -> str:
    response = client.post("/api/workflows", json=workflow)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def finished(client: httpx.Client, execution_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The execution (as the API shows it) once it has finished."""

    def done() -> dict[str, Any] | None:
        body = client.get(f"/api/executions/{execution_id}").json()
        return body if body.get("status") in ("success", "failed", "canceled") else None

    return wait_for(done, timeout=timeout, what=f"execution {execution_id}")


def execute(client: httpx.Client, workflow_id: str, payload: Any = None) -> str:
    response = client.post(f"/api/workflows/{workflow_id}/execute", json={"input": payload})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


# The editor's browser fixtures (tests/ui): a gateway with the UI mounted, Chromium, a sign-up helper.
from tests.ui.conftest import browser_page, live_gateway, sign_up  # noqa: E402, F401
