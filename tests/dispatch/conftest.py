"""Helpers for the dispatch tests: saving workflows, polling with a deadline, a local gateway."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _fresh_dispatch_settings():
    from connectflow_dagster.dispatch.config import get_dispatch_settings

    get_dispatch_settings.cache_clear()
    yield
    get_dispatch_settings.cache_clear()


@pytest.fixture
def empty_inbox(cf):
    """The PostgreSQL database is shared by the test session: start each test with an empty inbox."""
    from sqlalchemy import delete

    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import TriggerEvent

    with session_scope() as session:
        session.execute(delete(TriggerEvent))
    return cf


def save(workflow: dict[str, Any], owner_id: str) -> tuple[str, int]:
    """Save ``workflow`` for ``owner_id`` (fresh id unless given); returns (workflow id, version id)."""
    from connectflow_dagster import spec
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import save_workflow

    data = {**workflow, "id": workflow.get("id") or "w" + secrets.token_hex(6)}
    with session_scope() as session:
        saved = save_workflow(session, owner_id, spec.parse_workflow(data))
        return saved.workflow.id, saved.version.id


def wait_for(condition: Callable[[], T | None], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def manual_set_workflow(**extra: Any) -> dict[str, Any]:
    return {
        "name": "manual → set",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "greet",
                "type": "set",
                "name": "Greet",
                "params": {"fields": {"message": "hello {{ trigger.name }}"}},
            },
        ],
        "edges": [{"source": "start", "target": "greet"}],
        **extra,
    }


# ---- the gateway served by uvicorn on a free loopback port, and a worker thread ------------------------


class LiveGateway:
    """``create_app()`` served by a real uvicorn server in this process (so it shares the test's env)."""

    def __init__(self) -> None:
        import socket
        import threading

        import uvicorn

        from gateway.app import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, what="uvicorn to start")

    def client(self):  # type: ignore[no-untyped-def]
        import httpx

        return httpx.Client(base_url=self.url, timeout=30)

    def user(self):  # type: ignore[no-untyped-def]
        """A new account signed up through the API; unsafe requests carry the CSRF header."""
        client = self.client()
        account = {
            "email": f"u{secrets.token_hex(4)}@example.com",
            "password": "correct horse battery staple",
        }
        response = client.post("/api/auth/sign-up/email", json=account)
        assert response.status_code == 202, response.text
        response = client.post("/api/auth/sign-in/email", json=account)
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = client.cookies.get("cf_csrf")
        client.user_id = response.json()["user"]["id"]  # type: ignore[attr-defined]
        return client

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_gateway(empty_inbox):
    gateway = LiveGateway()
    yield gateway
    gateway.stop()


@pytest.fixture
def worker_thread(empty_inbox):
    """A warm worker (the real ``Worker``) claiming events on a thread of this process."""
    import threading

    from connectflow_dagster.dispatch.worker import Worker

    worker = Worker(instance=empty_inbox.instance)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=60)


def inbox_rows(workflow_id: str) -> list[Any]:
    from sqlalchemy import select

    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import TriggerEvent

    with session_scope() as session:
        return list(session.scalars(select(TriggerEvent).where(TriggerEvent.workflow_id == workflow_id)))


def finished_execution(cf, execution_id: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """The execution once its run is finished (polled with a deadline)."""
    from connectflow_dagster.execution import get_execution

    def done():  # type: ignore[no-untyped-def]
        run = cf.instance.get_run_by_id(execution_id)
        return run is not None and run.is_finished

    wait_for(done, timeout=timeout, what=f"execution {execution_id} to finish")
    return get_execution(cf.instance, execution_id)
