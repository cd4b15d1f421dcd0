"""Shared fixtures: an isolated ConnectFlow environment on SQLite or on the real PostgreSQL server.

``cf`` gives each test a fresh ``CONNECTFLOW_HOME``; parametrised with ``backend`` it runs once on
SQLite and once on PostgreSQL (a database created for this test session on the local server, dropped
at the end). With ``CI=true`` an unreachable PostgreSQL server fails the run instead of skipping.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# The outbound network policy stays on in tests, as in production; the local servers the tests start
# (HTTP fakes, aiosmtpd, PostgreSQL's host) are loopback, so the suite allows loopback explicitly.
# tests/security/ narrows this per test. Set (not setdefault) so a developer's shell cannot change it.
TEST_NETWORK_ALLOW = "127.0.0.0/8,::1/128,localhost"
os.environ["CONNECTFLOW_NETWORK_POLICY"] = "on"
os.environ["CONNECTFLOW_NETWORK_ALLOW"] = TEST_NETWORK_ALLOW

# The suite never touches a running instance (issue 9): a test without the ``cf`` fixture still gets a
# throwaway home, never ./.connectflow (where `make up` keeps its data and its Dagster UI socket), and
# nothing inherited from the shell points it at a live database or Dagster UI.
SESSION_HOME = Path(tempfile.mkdtemp(prefix="cf-test-home-"))
os.environ["CONNECTFLOW_HOME"] = str(SESSION_HOME)
for _inherited in ("DAGSTER_HOME", "CONNECTFLOW_DATABASE_URL", "CONNECTFLOW_DAGSTER_UI_URL"):
    os.environ.pop(_inherited, None)
atexit.register(shutil.rmtree, SESSION_HOME, ignore_errors=True)

PG_ADMIN_URL = os.environ.get("CONNECTFLOW_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def _pg_reachable() -> bool:
    url = make_url(PG_ADMIN_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (skipped without a server, unless CI=true)."""
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} and CI=true: these tests must run")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"cf_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    from connectflow_dagster.instance import reset_instance
    from connectflow_dagster.store.db import reset_caches

    reset_instance()
    reset_caches()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class CFEnv:
    """An isolated ConnectFlow environment (settings, app DB and Dagster instance)."""

    home: Path
    backend: str
    database_url: str | None

    @property
    def instance(self):  # type: ignore[no-untyped-def]
        from connectflow_dagster.instance import get_instance

        return get_instance()

    def new_user(self, email: str | None = None) -> str:
        from connectflow_dagster.store.db import session_scope
        from connectflow_dagster.store.models import User

        with session_scope() as session:
            user = User(email=email or f"user-{secrets.token_hex(4)}@example.com", name="Test user")
            session.add(user)
            session.flush()
            return user.id

    def run(
        self,
        workflow: dict[str, Any] | Any,
        payload: Any = None,
        *,
        owner_id: str | None = None,
        trigger: str | None = None,
        runtime: Any = None,
    ):  # type: ignore[no-untyped-def]
        """Save ``workflow`` (unique id per call unless given) and execute it; returns the Execution."""
        from connectflow_dagster import spec
        from connectflow_dagster.dispatch.worker import run_in_process
        from connectflow_dagster.execution import RunTarget, get_execution
        from connectflow_dagster.store.db import session_scope
        from connectflow_dagster.store.workflows import save_workflow

        data = workflow.model_dump(mode="json") if hasattr(workflow, "model_dump") else dict(workflow)
        data.setdefault("id", None)
        if not data["id"]:
            data["id"] = "t" + secrets.token_hex(6)
        wf = spec.parse_workflow(data)
        owner_id = owner_id or self.new_user()
        with session_scope() as session:
            saved = save_workflow(session, owner_id, wf)
            target = RunTarget(saved.spec(), saved.version.id, saved.version.number, owner_id)
        run_id = run_in_process(
            target, trigger_node_id=trigger, payload=payload, runtime=runtime, instance=self.instance
        )
        return get_execution(self.instance, run_id)


def _activate(monkeypatch: pytest.MonkeyPatch, home: Path, database_url: str | None) -> None:
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.instance import reset_instance
    from connectflow_dagster.store.db import reset_caches

    monkeypatch.setenv("CONNECTFLOW_HOME", str(home))
    # Tests sign up many accounts from one address: open sign-up, no sign-up throttle (the policy and
    # the throttle have their own tests in tests/security/test_sign_up_policy.py).
    monkeypatch.setenv("CONNECTFLOW_SIGNUP", "open")
    monkeypatch.setenv("CONNECTFLOW_SIGN_UP_ATTEMPTS", "1000000")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # Never act as the developer's own login or token (connectflow login, CONNECTFLOW_TOKEN).
    for name in ("CONNECTFLOW_TOKEN", "CONNECTFLOW_URL", "CONNECTFLOW_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home.parent / "xdg-config"))
    if database_url:
        monkeypatch.setenv("CONNECTFLOW_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("CONNECTFLOW_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    reset_caches()
    reset_instance()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def cf(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CFEnv]:
    """ConnectFlow on SQLite; on both backends when the test also takes ``backend``."""
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else "sqlite"
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    home = tmp_path / "cfhome"
    _activate(monkeypatch, home, database_url)
    yield CFEnv(home=home, backend=backend, database_url=database_url)
    from connectflow_dagster.identity import connect

    connect()  # forget a cf.connect(...) made by the test
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.instance import reset_instance
    from connectflow_dagster.store.db import reset_caches

    reset_instance()
    reset_caches()
    get_settings.cache_clear()


# ---- a real local HTTP server ------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1 (or another loopback ``host``); ``route(method, path, handler)``
    where handler(Recorded) → (status, headers, body). Every request is recorded in ``requests``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], Callable[[Recorded], tuple[int, dict[str, str], Any]]] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(rec)
                    handler = outer.routes.get((self.command, path)) or outer.routes.get(("*", path))
                if handler is None:
                    status, headers, payload = 404, {}, {"error": "not found"}
                else:
                    status, headers, payload = handler(rec)
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
                )
                self.send_response(status)
                if not isinstance(payload, bytes | str):
                    self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def route(
        self, method: str, path: str, handler: Callable[[Recorded], tuple[int, dict[str, str], Any]]
    ) -> None:
        self.routes[(method, path)] = handler

    def __enter__(self) -> LocalHTTPServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        yield server


# Copies of ../shared/fixtures (Stripe events, Google Forms payloads, n8n workflows), kept in the repo
# so a fresh clone tests without anything beside it.
FIXTURES = ROOT / "tests" / "fixtures"
