"""Gateway fixtures: the app on SQLite and PostgreSQL, users signed up through the API.

``gateway`` builds the app with the installed node types plus one test node type whose credential
(``ping_api``: a URL and a secret key) is checked against a real local HTTP server. Every response
any user receives is kept in ``gateway.responses`` so tests can assert a secret never left the server.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.registry import NodeRegistry, get_registry
from gateway.app import create_app

PASSWORD = "correct horse battery staple"


class PingFields(CredentialFields):
    base_url: str
    api_key: SecretStr
    region: str = "eu"


def check_ping(fields: PingFields, client: httpx.Client) -> str:
    key = fields.api_key.get_secret_value()
    response = client.get(f"{fields.base_url}/ping", headers={"Authorization": f"Bearer {key}"})
    if response.status_code == 401:
        # Deliberately careless, like a real SDK error: the gateway must scrub it.
        raise ValueError(f"the service rejected key {key}")
    response.raise_for_status()
    return "pong"


PING_CREDENTIAL = CredentialType(type="ping_api", display_name="Ping API", fields=PingFields, test=check_ping)


class PingParams(Params):
    path: str = "/ping"


def ping(params: PingParams, ctx: NodeContext) -> Any:
    creds = ctx.credential("ping_api")
    return ctx.http.get(creds["base_url"] + params.path).json()


PING_NODE = NodeType(
    type="test.ping",
    display_name="Ping",
    group="action",
    description="Test node with a credential.",
    params=PingParams,
    execute=ping,
    credential=PING_CREDENTIAL,
)


def test_registry() -> NodeRegistry:
    return NodeRegistry([*get_registry().all(), PING_NODE])


test_registry.__test__ = False  # type: ignore[attr-defined]


class ApiUser:
    """One browser: its own cookie jar; sends the CSRF header on unsafe requests like the UI does."""

    def __init__(self, app: FastAPI, log: list[str], base_url: str = "http://testserver") -> None:
        self.client = TestClient(app, base_url=base_url)
        self.log = log
        self.id: str | None = None
        self.email: str | None = None

    def request(self, method: str, path: str, *, csrf: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        token = self.client.cookies.get("cf_csrf")
        if csrf and method.upper() not in ("GET", "HEAD", "OPTIONS") and token:
            headers.setdefault("X-CSRF-Token", token)
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.log.append(response.text)
        self.log.append(str(response.headers))
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


@dataclass
class Gateway:
    app: FastAPI
    cf: Any
    responses: list[str] = field(default_factory=list)

    def anonymous(self, base_url: str = "http://testserver") -> ApiUser:
        return ApiUser(self.app, self.responses, base_url)

    def user(self, email: str | None = None, name: str = "Ada Lovelace") -> ApiUser:
        """A new account signed up (and so signed in) through the API."""
        user = self.anonymous()
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        response = user.post(
            "/api/auth/sign-up/email", json={"email": email, "password": PASSWORD, "name": name}
        )
        assert response.status_code == 202, response.text
        response = user.post("/api/auth/sign-in/email", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        user.id, user.email = response.json()["user"]["id"], email
        return user

    def wait(self, execution_id: str) -> None:
        """Execute the execution's inbox event here with the real worker code, as a worker process
        would (or, if a worker already holds it, wait until that worker finished it)."""
        from connectflow_dagster.dispatch.worker import Worker

        worker = Worker(instance=self.cf.instance)
        try:
            worker.execute_event(execution_id, timeout=120)
        finally:
            worker.close()


@pytest.fixture
def gateway(cf: Any, backend: str) -> Iterator[Gateway]:
    """The gateway on SQLite and on PostgreSQL, started (lifespan) like ``connectflow serve`` does."""
    app = create_app(registry=test_registry())
    with TestClient(app):
        yield Gateway(app, cf)


@pytest.fixture
def isolated_gateway(cf: Any, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """Like ``gateway``, but on PostgreSQL in a database of its own (the session's database holds
    other tests' credentials, encrypted under keys of homes that no longer exist: a whole-database
    operation such as ``rotate-keys`` rightly refuses to run there)."""
    if backend != "postgres":
        app = create_app(registry=test_registry())
        with TestClient(app):
            yield Gateway(app, cf)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from connectflow_dagster.config import get_settings
    from connectflow_dagster.instance import reset_instance
    from connectflow_dagster.store.db import reset_caches

    name = f"cf_gw_{secrets.token_hex(4)}"
    admin = create_engine(cf.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(cf.database_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("CONNECTFLOW_DATABASE_URL", url)
    cf.database_url = url
    get_settings.cache_clear()
    reset_caches()
    reset_instance()
    try:
        app = create_app(registry=test_registry())
        with TestClient(app):
            yield Gateway(app, cf)
    finally:
        reset_instance()
        reset_caches()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def manual_workflow(http_url: str | None = None, name: str = "Order summary") -> dict[str, Any]:
    """Manual trigger → (HTTP request to a local server →) Set."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual", "name": "Start"}]
    edges: list[dict[str, Any]] = []
    source = "start"
    if http_url:
        nodes.append({"id": "fetch", "type": "http.request", "name": "Fetch", "params": {"url": http_url}})
        edges.append({"source": "start", "target": "fetch"})
        source = "fetch"
    nodes.append(
        {
            "id": "summary",
            "type": "set",
            "name": "Summary",
            "params": {"fields": {"text": "order {{ start.order_id }}"}},
        }
    )
    edges.append({"source": source, "target": "summary"})
    return {"name": name, "nodes": nodes, "edges": edges}
