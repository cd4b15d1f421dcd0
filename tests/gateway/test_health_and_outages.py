"""``/api/health`` and the node catalogue; an unreachable database gives 503, never a lost 2xx write."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from connectflow_dagster.config import get_settings
from connectflow_dagster.instance import reset_instance
from connectflow_dagster.store.db import head_revision, reset_caches
from gateway.app import create_app
from tests.gateway.conftest import PASSWORD, Gateway, manual_workflow, test_registry


def test_health_reports_storage_migrations_and_version(gateway):
    body = gateway.anonymous().get("/api/health")
    assert body.status_code == 200
    assert body.json() == {
        "status": "ok",
        "version": body.json()["version"],
        "database": "ok",
        "migrations": "ok",
        "dagster_storage": "ok",
    }
    assert head_revision()  # "ok" above means the app database is at this head


def test_node_catalogue(gateway):
    types = {t["type"]: t for t in gateway.anonymous().get("/api/node-types").json()["data"]}
    assert {"trigger.manual", "http.request", "set", "if", "merge", "test.ping"} <= set(types)
    ping = types["test.ping"]
    assert (
        ping["display_name"] == "Ping" and ping["group"] == "action" and ping["credential_type"] == "ping_api"
    )
    assert ping["params_schema"]["properties"]["path"]["default"] == "/ping"
    assert types["trigger.manual"]["group"] == "trigger"


class TcpProxy:
    """A loopback TCP forwarder standing between the gateway and PostgreSQL; ``stop()`` is the outage."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.stopped:
                    client.close()
                    return
                upstream = socket.create_connection(self.target)
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def _use_database(monkeypatch, url: str) -> None:
    monkeypatch.setenv("CONNECTFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_caches()
    reset_instance()


@pytest.mark.postgres
def test_a_database_outage_gives_503_and_loses_no_acknowledged_write(cf, postgres_url, monkeypatch):
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    _use_database(
        monkeypatch, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )
    app = create_app(registry=test_registry())
    with TestClient(app):
        gw = Gateway(app, cf)
        ada = gw.user()
        assert ada.post("/api/workflows", json=manual_workflow(name="Before")).status_code == 201
        proxy.stop()
        health = ada.get("/api/health")
        assert health.status_code == 503 and health.json()["database"].startswith("unreachable")
        write = ada.post("/api/workflows", json=manual_workflow(name="During"))
        assert write.status_code == 503 and "nothing was saved" in write.json()["detail"]
        sign_up = gw.anonymous().post(
            "/api/auth/sign-up/email", json={"email": "outage@example.com", "password": PASSWORD}
        )
        assert sign_up.status_code == 503
    # The database is back (directly this time): only the acknowledged write is there.
    _use_database(monkeypatch, postgres_url)
    app = create_app(registry=test_registry())
    with TestClient(app):
        back = Gateway(app, cf)
        ada.client = TestClient(app, cookies=dict(ada.client.cookies))
        assert {w["name"] for w in ada.get("/api/workflows").json()["data"]} == {"Before"}
        assert (
            back.anonymous()
            .post("/api/auth/sign-in/email", json={"email": "outage@example.com", "password": PASSWORD})
            .status_code
            == 401
        )


def test_an_unopenable_database_gives_503_on_health_and_writes(cf, tmp_path, monkeypatch):
    _use_database(monkeypatch, f"sqlite:///{tmp_path / 'missing-dir' / 'app.db'}")
    app = create_app(registry=test_registry())
    with TestClient(app):
        gw = Gateway(app, cf)
        assert gw.anonymous().get("/api/health").status_code == 503
        response = gw.anonymous().post(
            "/api/auth/sign-up/email", json={"email": "nobody@example.com", "password": PASSWORD}
        )
        assert response.status_code == 503
