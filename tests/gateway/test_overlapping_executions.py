"""One run path, end to end: ``connectflow serve`` started alone (a real uvicorn gateway that starts
its own worker processes) executes 20 overlapping manual executions from two users while a client
keeps calling ``/api/health``.

The first release executed manual runs on a thread pool inside the gateway, and two overlapping runs
could deadlock the whole process (a lock-order deadlock in Python logging between Dagster's per-run
logging set-up and a handler in the other run's thread): health, the API and webhook intake stopped
answering. Here every health call must answer, every run must succeed, and the gateway must still be
up at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.dispatch.conftest import wait_for
from tests.gateway.conftest import manual_workflow

CONNECTFLOW = str(Path(sys.executable).parent / "connectflow")
RUNS_PER_USER = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``connectflow serve --no-ui --worker-processes 2`` against the test's home (and database)."""

    def __init__(self, cf, log: Path) -> None:  # type: ignore[no-untyped-def]
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "CONNECTFLOW_PORT": str(self.port)}
        env.pop("DAGSTER_HOME", None)
        if cf.database_url:
            env["CONNECTFLOW_DATABASE_URL"] = cf.database_url
        else:
            env.pop("CONNECTFLOW_DATABASE_URL", None)
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [CONNECTFLOW, "serve", "--no-ui", "--worker-processes", "2"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}"
            try:
                return httpx.get(f"{self.url}/api/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=180, what="connectflow serve to answer")

    def user(self, name: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=60)
        account = {
            "email": f"{name.lower()}-{os.urandom(3).hex()}@example.com",
            "password": "correct horse battery staple",
        }
        assert client.post("/api/auth/sign-up/email", json=account).status_code == 202
        signed = client.post("/api/auth/sign-in/email", json=account)
        assert signed.status_code == 200, signed.text
        client.headers["X-CSRF-Token"] = client.cookies["cf_csrf"]
        return client

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the gateway and the workers it started
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.mark.timeout(900)
def test_twenty_overlapping_executions_from_two_users_while_health_answers(
    cf, backend, http_server, tmp_path
):
    http_server.route("GET", "/order", lambda req: (200, {}, {"total": 42}))
    served = Served(cf, tmp_path / "serve.log")
    health_calls: list[int] = []
    health_errors: list[str] = []
    done = threading.Event()

    def poll_health() -> None:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            while not done.is_set():
                try:
                    health_calls.append(client.get("/api/health").status_code)
                except httpx.HTTPError as exc:  # a timeout here is what the deadlock looked like
                    health_errors.append(f"{type(exc).__name__}: {exc}")
                done.wait(0.05)  # a client's pace between calls, not synchronisation

    try:
        users = [served.user("Ada"), served.user("Lin")]
        workflows = []
        for user in users:
            created = user.post("/api/workflows", json=manual_workflow(f"{http_server.url}/order"))
            assert created.status_code == 201, created.text
            workflows.append(created.json()["id"])
        poller = threading.Thread(target=poll_health, daemon=True)
        poller.start()

        def execute(i: int) -> tuple[int, str, str]:
            who = i % 2
            started = users[who].post(
                f"/api/workflows/{workflows[who]}/execute", json={"input": {"order_id": f"O-{i}"}}
            )
            assert started.status_code == 202, started.text
            return who, started.json()["execution_id"], f"O-{i}"

        with ThreadPoolExecutor(max_workers=2 * RUNS_PER_USER) as pool:  # all 20 at once
            started = list(pool.map(execute, range(2 * RUNS_PER_USER)))
        assert len({execution_id for _, execution_id, _ in started}) == 2 * RUNS_PER_USER

        def finished(who: int, execution_id: str):  # type: ignore[no-untyped-def]
            body = users[who].get(f"/api/executions/{execution_id}").json()
            return body if body["status"] in ("success", "failed", "canceled") else None

        for who, execution_id, order in started:
            body = wait_for(
                lambda who=who, execution_id=execution_id: finished(who, execution_id),
                timeout=600,
                what=f"execution {execution_id}",
            )
            assert body["status"] == "success", body
            assert body["context"]["summary"] == {"text": f"order {order}"}
            # Each user sees only their own ten.
            other = users[1 - who].get(f"/api/executions/{execution_id}")
            assert other.status_code == 404
        done.set()
        poller.join(timeout=60)
        assert health_errors == []
        assert health_calls and set(health_calls) == {200}
        assert served.proc.poll() is None, "the gateway died"
        assert httpx.get(f"{served.url}/api/health", timeout=30).status_code == 200
        for user in users:
            assert user.get("/api/executions?limit=50").json()["count"] == RUNS_PER_USER
    finally:
        done.set()
        served.stop()
