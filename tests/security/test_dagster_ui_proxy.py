"""Finding 1 (issue 11): any user could list every user's runs through the Dagster webserver's
GraphQL API. Now dagster-webserver listens on a unix socket only (no TCP port a workflow node could
address) and is served by the gateway at /dagster/ to administrators only.

Everything here is real: a dagster-webserver started exactly as ``connectflow up`` starts it, the
gateway under uvicorn on a free port, runs in Dagster storage, HTTP and the GraphQL websocket.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.gateway.conftest import PASSWORD
from tests.ui.conftest import LiveGateway

RUNS_QUERY = "{ runsOrError { __typename ... on Runs { results { runId tags { key value } } } } }"


class DagsterUI:
    """dagster-webserver as ``connectflow up`` runs it (same argv), on the test's own home."""

    def __init__(self, cf: Any) -> None:
        from connectflow_dagster.cli.engine import dagster_webserver_argv
        from connectflow_dagster.config import get_settings

        cf.instance  # noqa: B018  (creates DAGSTER_HOME and its dagster.yaml)
        self.socket = get_settings().dagster_socket
        env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "DAGSTER_HOME": str(cf.home / "dagster")}
        self.log = cf.home / "dagster-webserver.log"
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            dagster_webserver_argv(str(ROOT / "workspace.yaml")),
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_until_answering(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, base_url="http://dagster", timeout=5) as client:
            while True:
                try:
                    if client.get("/dagster/server_info").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "dagster-webserver did not answer"
                time.sleep(0.25)  # a subprocess with no readiness signal but its answer

    def process_tree(self) -> list[int]:
        """The webserver and its descendants (its code server)."""
        pids, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                children = (task / "children").read_text().split() if (task / "children").exists() else []
                todo.extend(int(c) for c in children)
        return pids

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


@pytest.fixture
def dagster_ui(cf: Any) -> Iterator[DagsterUI]:
    ui = DagsterUI(cf)
    try:
        ui.wait_until_answering()
        yield ui
    finally:
        ui.stop()


@pytest.fixture
def gateway_server(cf: Any) -> Iterator[LiveGateway]:
    from gateway.app import create_app

    with LiveGateway(create_app()) as server:
        yield server


def _sign_up(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    account = {"email": email, "password": PASSWORD}
    answer = client.post("/api/auth/sign-up/email", json=account)
    assert answer.status_code == 202, answer.text  # sign-up never signs in (no account enumeration)
    answer = client.post("/api/auth/sign-in/email", json=account)
    assert answer.status_code == 200, answer.text
    return client


def _tcp_listening_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[len("socket:[") : -1])
    return out


def _owner_run(cf: Any, owner_id: str) -> str:
    """One run of the owner's, with a webhook-like payload another user must never see."""
    execution = cf.run(
        {
            "name": "Owner's private flow",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start"},
                {
                    "id": "keep",
                    "type": "set",
                    "name": "Keep",
                    "params": {"fields": {"v": "{{ start.card }}"}},
                },
            ],
            "edges": [{"source": "start", "target": "keep"}],
        },
        {"card": "4242-owner-secret"},
        owner_id=owner_id,
    )
    assert execution.status == "success"
    return execution.id


@pytest.mark.timeout(400)
def test_a_member_cannot_reach_the_dagster_graphql_api(cf, dagster_ui, gateway_server):
    base = gateway_server.url
    owner = _sign_up(base, "owner@example.com")
    member = _sign_up(base, "member@example.com")
    assert member.get("/api/auth/me").json()["role"] == "member"
    owner_run = _owner_run(cf, owner.get("/api/auth/me").json()["id"])

    # Through the gateway: 404 for every path, method and the websocket, as for another user's object.
    assert member.get("/dagster/", headers={"Accept": "text/html"}).status_code == 404
    assert member.get(f"/dagster/runs/{owner_run}", headers={"Accept": "text/html"}).status_code == 404
    answer = member.post("/dagster/graphql", json={"query": RUNS_QUERY}, headers={"Origin": base})
    assert answer.status_code == 404 and owner_run not in answer.text
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus):
        connect(
            base.replace("http", "ws") + "/dagster/graphql",
            subprotocols=["graphql-ws"],  # type: ignore[list-item]
            additional_headers={"Cookie": f"cf_session={member.cookies['cf_session']}", "Origin": base},
            open_timeout=30,
        )
    # Signed out: a page visit is sent to sign in; GraphQL is 401.
    anonymous = httpx.Client(base_url=base, timeout=60)
    visit = anonymous.get("/dagster/runs", headers={"Accept": "text/html"})
    assert visit.status_code == 303 and visit.headers["location"].startswith("/ui/sign-in?next=%2Fdagster")
    assert anonymous.post("/dagster/graphql", json={"query": RUNS_QUERY}).status_code == 401

    # The webserver and its code server listen on unix sockets only: no TCP port exists that a
    # workflow node (HTTP Request, an LLM api_base, SMTP …) could be pointed at.
    listening = _tcp_listening_inodes()
    for pid in dagster_ui.process_tree():
        assert not (_socket_inodes(pid) & listening), f"pid {pid} listens on TCP"
    assert dagster_ui.socket.is_socket()
    assert (dagster_ui.socket.parent.stat().st_mode & 0o777) == 0o700

    # The attack of the finding: the member's HTTP Request node POSTs GraphQL to the Dagster UI
    # (here the only address it has, the gateway's /dagster/, without the member's cookie).
    member_id = member.get("/api/auth/me").json()["id"]
    attack = cf.run(
        {
            "name": "List every run",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start"},
                {
                    "id": "steal",
                    "type": "http.request",
                    "name": "Steal",
                    "params": {
                        "method": "POST",
                        "url": f"{base}/dagster/graphql",
                        "headers": {"Origin": base},
                        "body": {"query": RUNS_QUERY},
                        "fail_on_error_status": False,
                    },
                },
            ],
            "edges": [{"source": "start", "target": "steal"}],
        },
        owner_id=member_id,
    )
    seen = json.dumps(attack.to_dict(), default=str)
    assert owner_run not in seen and "4242-owner-secret" not in seen
    steal = next(n for n in attack.nodes if n.node_id == "steal")
    # Refused by the gateway (401: the node has no session), or by the outbound network policy.
    assert steal.status == "failed" or (attack.context or {}).get("steal", {}).get("status") == 401


@pytest.mark.timeout(400)
def test_an_admin_uses_the_dagster_ui_through_the_gateway(cf, dagster_ui, gateway_server):
    base = gateway_server.url
    admin = _sign_up(base, "owner@example.com")
    me = admin.get("/api/auth/me").json()
    assert me["is_admin"] is True
    run_id = _owner_run(cf, me["id"])

    # The page, built for the /dagster prefix, and one of its scripts.
    page = admin.get("/dagster/", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert 'window.__webpack_public_path__ = "/dagster"' in page.text
    script = re.search(r'src="(/dagster/[^"]+\.js)"', page.text)
    assert script is not None
    assert admin.get(script.group(1)).status_code == 200
    # "Open in Dagster" links point at the proxy and open for the administrator.
    link = admin.get(f"/api/executions/{run_id}").json()["dagster_url"]
    assert link == f"/dagster/runs/{run_id}"
    assert admin.get(link, headers={"Accept": "text/html"}).status_code == 200

    # GraphQL as the UI sends it (same-origin POST), and as a script sends it (CSRF header).
    answer = admin.post("/dagster/graphql", json={"query": RUNS_QUERY}, headers={"Origin": base})
    assert answer.status_code == 200, answer.text
    runs = answer.json()["data"]["runsOrError"]["results"]
    assert run_id in {r["runId"] for r in runs}
    csrf = {"X-CSRF-Token": admin.cookies["cf_csrf"]}
    assert admin.post("/dagster/graphql", json={"query": RUNS_QUERY}, headers=csrf).status_code == 200
    # Cross-site: another origin, or neither an origin nor the token, is refused; so is a GraphQL
    # operation in a GET link's query string (Dagster would run a mutation from it).
    other = {"Origin": "http://evil.example"}
    assert admin.post("/dagster/graphql", json={"query": RUNS_QUERY}, headers=other).status_code == 403
    assert admin.post("/dagster/graphql", json={"query": RUNS_QUERY}).status_code == 403
    assert admin.get("/dagster/graphql", params={"query": RUNS_QUERY}).status_code == 405

    # The GraphQL websocket (the UI's live subscriptions) through the proxy.
    from websockets.sync.client import connect

    ws_url = base.replace("http", "ws") + "/dagster/graphql"
    cookie = {"Cookie": f"cf_session={admin.cookies['cf_session']}"}
    with connect(
        ws_url,
        subprotocols=["graphql-ws"],  # type: ignore[list-item]
        additional_headers={**cookie, "Origin": base},
        open_timeout=30,
    ) as ws:
        assert ws.subprotocol == "graphql-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=60))["type"] == "connection_ack"
        query = "subscription($id: ID!) { pipelineRunLogs(runId: $id) { __typename } }"
        ws.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": query, "variables": {"id": run_id}}})
        )
        message = json.loads(ws.recv(timeout=60))
        assert message["type"] == "data" and message["id"] == "1", message
        assert (
            message["payload"]["data"]["pipelineRunLogs"]["__typename"]
            == "PipelineRunLogsSubscriptionSuccess"
        )
    # A websocket from another site's page is refused even with the administrator's cookie.
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus):
        connect(
            ws_url,
            subprotocols=["graphql-ws"],  # type: ignore[list-item]
            additional_headers={**cookie, "Origin": "http://evil.example"},
            open_timeout=30,
        )
