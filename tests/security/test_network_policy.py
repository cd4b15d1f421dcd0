"""Issue 11, finding 2: the outbound network policy (SSRF), through real workflow runs and the gateway.

Every test narrows the suite-wide allowlist (tests/conftest.py allows loopback for the fakes) with
``policy(...)``. The "victim" is a real local server that records every request or connection: a
refused attempt must leave it empty, not just fail. Loopback addresses other than 127.0.0.1
(127.0.0.2) stand for an allowed host, since no test may reach the internet.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from connectflow_dagster.compiler import Runtime
from connectflow_dagster.config import get_settings
from connectflow_dagster.credentials_runtime import resolve_credential
from connectflow_dagster.nodes.ai.providers import PROVIDERS
from connectflow_dagster.transport import NetworkPolicyError, StaticResolver, new_http_client
from gateway.routes.credentials import UNREACHABLE_MESSAGE
from tests.conftest import LocalHTTPServer
from tests.security.conftest import create_workflow, finished

BLOCKED = "blocked by the network policy"


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``policy(allow="…", mode="on")``: set the operator's settings for the rest of the test."""

    def set_policy(allow: str = "", mode: str = "on") -> None:
        monkeypatch.setenv("CONNECTFLOW_NETWORK_POLICY", mode)
        monkeypatch.setenv("CONNECTFLOW_NETWORK_ALLOW", allow)
        get_settings.cache_clear()

    set_policy()  # nothing allowed unless the test says so
    yield set_policy
    get_settings.cache_clear()


@pytest.fixture
def victim() -> Iterator[LocalHTTPServer]:
    """An internal service on 127.0.0.1 that must never hear from a workflow."""
    with LocalHTTPServer() as server:
        server.route("*", "/secret", lambda req: (200, {}, {"internal": "data"}))
        yield server


@pytest.fixture
def allowed_server() -> Iterator[LocalHTTPServer]:
    """A server on 127.0.0.2: the stand-in for an allowed (public or allowlisted) host."""
    with LocalHTTPServer(host="127.0.0.2") as server:
        yield server


class TcpListener:
    """A TCP port that accepts and closes at once (open, but speaking nothing); counts connections."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[TcpListener]:
    server = TcpListener()
    yield server
    server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_workflow(url: str, **params: Any) -> dict[str, Any]:
    return {
        "name": "fetch",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {"id": "call", "type": "http.request", "name": "Call", "params": {"url": url, **params}},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }


class CountingResolver(StaticResolver):
    """A resolver table that counts lookups and can change its answer (DNS rebinding)."""

    def __init__(self, answers: dict[str, list[Sequence[str]]]) -> None:
        super().__init__({})
        self.answers = answers
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        queue = self.answers[host.lower()]
        return queue.pop(0) if len(queue) > 1 else queue[0]


# ---- HTTP Request node: every spelling of loopback -------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0",
    "0.0.0.0",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "evil@127.0.0.1",
    "evil:x@127.1",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused(cf, policy, victim, host):
    ex = cf.run(http_workflow(f"http://{host}:{victim.port}/secret"))
    call = next(n for n in ex.nodes if n.node_id == "call")
    assert ex.status == "failed"
    if host == "0177.0.0.1":  # octal: httpx rejects the URL before any lookup
        assert "invalid url" in call.error.lower()
    else:
        assert BLOCKED in call.error and "CONNECTFLOW_NETWORK_ALLOW" in call.error
        assert ("loopback" if host not in ("0", "0.0.0.0") else "unspecified") in call.error
    assert call.attempts == 1  # a refusal is not retried
    assert victim.requests == []


def test_the_refusal_is_a_clear_node_error(cf, policy, victim):
    ex = cf.run(http_workflow(f"http://127.0.0.1:{victim.port}/secret"))
    assert f"{BLOCKED}: 127.0.0.1 is loopback; allow it with CONNECTFLOW_NETWORK_ALLOW" in ex.error, ex.error


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd12::1]/", "private"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
    ],
)
def test_metadata_private_link_local_cgnat_multicast_and_reserved_never_leave_the_worker(
    cf, policy, url, kind
):
    ex = cf.run(http_workflow(url, timeout=2))
    assert ex.status == "failed" and BLOCKED in ex.error and kind in ex.error, ex.error


def test_a_name_resolving_to_loopback_is_refused(cf, policy, victim):
    resolver = CountingResolver({"intranet.example": [["127.0.0.1"]]})
    ex = cf.run(
        http_workflow(f"http://intranet.example:{victim.port}/secret"),
        runtime=Runtime(resolver=resolver),
    )
    assert ex.status == "failed"
    assert f"{BLOCKED}: intranet.example (127.0.0.1) is loopback" in ex.error
    assert victim.requests == [] and resolver.calls == ["intranet.example"]


def test_a_name_with_one_internal_address_among_public_ones_is_refused(cf, policy, victim, allowed_server):
    policy(allow="127.0.0.2/32")
    resolver = CountingResolver({"mixed.example": [["127.0.0.2", "127.0.0.1"]]})
    ex = cf.run(
        http_workflow(f"http://mixed.example:{victim.port}/secret"), runtime=Runtime(resolver=resolver)
    )
    assert ex.status == "failed" and "mixed.example (127.0.0.1) is loopback" in ex.error
    assert victim.requests == [] and allowed_server.requests == []


def test_the_checked_address_is_the_one_connected_to(cf, policy, allowed_server):
    """DNS rebinding: the resolver answers the allowed address once, then loopback. The connection
    uses the first (checked) answer and the Host header keeps the name."""
    policy(allow="127.0.0.2/32")
    allowed_server.route("GET", "/hello", lambda req: (200, {}, {"hello": req.headers["host"]}))
    resolver = CountingResolver({"rebind.example": [["127.0.0.2"], ["127.0.0.1"]]})
    ex = cf.run(
        http_workflow(f"http://rebind.example:{allowed_server.port}/hello"),
        runtime=Runtime(resolver=resolver),
    )
    assert ex.status == "success", ex.error
    assert ex.context["call"]["data"] == {"hello": f"rebind.example:{allowed_server.port}"}
    assert resolver.calls == ["rebind.example"]  # resolved once: nothing re-resolves behind the check


@pytest.mark.parametrize("status", [307, 308, 302])
def test_a_redirect_to_a_refused_address_is_rechecked_and_carries_no_body(
    cf, policy, victim, allowed_server, status
):
    policy(allow="127.0.0.2/32")
    allowed_server.route(
        "POST", "/hop", lambda req: (status, {"Location": f"http://127.0.0.1:{victim.port}/secret"}, "")
    )
    ex = cf.run(
        http_workflow(
            f"{allowed_server.url}/hop", method="POST", body={"card": "4242 4242 4242 4242"}, timeout=5
        )
    )
    assert ex.status == "failed" and f"{BLOCKED}: 127.0.0.1 is loopback" in ex.error, ex.error
    assert [r.path for r in allowed_server.requests] == ["/hop"]
    assert victim.requests == []  # neither the body nor even a connection reached the target


def test_urls_taken_from_webhook_data_are_checked(cf, policy, victim, live):
    """An anonymous webhook caller chooses the URL a workflow calls: the live gateway takes the event,
    a worker runs it, the node is refused."""
    owner = live.user()
    workflow = {
        "name": "callback",
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "name": "Webhook", "params": {"path": "cb"}},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call back",
                "params": {
                    "url": "{{ webhook.body.callback }}",
                    "method": "POST",
                    "body": {"order": "{{ webhook.body.order }}"},
                },
            },
        ],
        "edges": [{"source": "hook", "target": "call"}],
    }
    wid = create_workflow(owner, workflow)
    with live.client() as anonymous:
        for callback in (
            f"http://127.0.0.1:{victim.port}/secret",
            "http://169.254.169.254/latest/meta-data/",
        ):
            accepted = anonymous.post(f"/api/webhooks/{wid}/cb", json={"callback": callback, "order": "A-1"})
            assert accepted.status_code == 202, accepted.text
            execution = finished(owner, accepted.json()["execution_id"])
            assert execution["status"] == "failed" and BLOCKED in (execution["error"] or ""), execution
    assert victim.requests == []


# ---- the allowlist and the off switch ---------------------------------------------------------------


def test_the_allowlist_lets_exactly_the_listed_targets_through(cf, policy, victim, allowed_server):
    allowed_server.route("GET", "/ok", lambda req: (200, {}, {"ok": True}))
    policy(allow="127.0.0.2/32")
    assert cf.run(http_workflow(f"{allowed_server.url}/ok")).status == "success"
    refused = cf.run(http_workflow(f"http://127.0.0.1:{victim.port}/secret"))
    assert refused.status == "failed" and BLOCKED in refused.error

    policy(allow="intranet.example")  # a host name: the name is allowed, other names to it are not
    resolver = StaticResolver({"intranet.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    listed = cf.run(
        http_workflow(f"http://intranet.example:{victim.port}/secret"), runtime=Runtime(resolver=resolver)
    )
    assert listed.status == "success", listed.error
    unlisted = cf.run(
        http_workflow(f"http://other.example:{victim.port}/secret"), runtime=Runtime(resolver=resolver)
    )
    assert unlisted.status == "failed" and "other.example (127.0.0.1) is loopback" in unlisted.error
    assert [r.headers["host"] for r in victim.requests] == [f"intranet.example:{victim.port}"]


def test_the_off_switch_allows_every_target(cf, policy, victim):
    policy(mode="off")
    ex = cf.run(http_workflow(f"http://127.0.0.1:{victim.port}/secret"))
    assert ex.status == "success", ex.error
    assert ex.context["call"]["data"] == {"internal": "data"}


# ---- SMTP and LLM endpoints -------------------------------------------------------------------------


def _action_workflow(node_type: str, params: dict[str, Any], credential_id: str) -> dict[str, Any]:
    return {
        "name": node_type,
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {
                "id": "act",
                "type": node_type,
                "name": "Act",
                "params": params,
                "credential_id": credential_id,
            },
        ],
        "edges": [{"source": "start", "target": "act"}],
    }


def _stored_credential(owner_id: str, credential_type: str, data: dict[str, Any]) -> str:
    from connectflow_dagster.store.credentials import create_credential
    from connectflow_dagster.store.db import session_scope

    with session_scope() as session:
        return create_credential(session, owner_id, "cred", credential_type, data).id


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "::1"])
def test_smtp_to_loopback_is_refused_before_connecting(cf, policy, listener, host):
    owner = cf.new_user()
    cred = _stored_credential(
        owner, "smtp", {"host": host, "port": listener.port, "security": "none", "username": "a@example.com"}
    )
    ex = cf.run(_action_workflow("email.smtp", {"to": "b@example.com", "text": "hi"}, cred), owner_id=owner)
    assert ex.status == "failed" and BLOCKED in ex.error and "loopback" in ex.error, ex.error
    assert listener.accepted == 0


@pytest.mark.parametrize(
    ("node_type", "credential_type", "data", "params"),
    [
        ("discord.send", "discord_webhook", {"webhook_url": "{url}/api/webhooks/1/tok"}, {"content": "hi"}),
        ("slack.send", "slack_webhook", {"webhook_url": "{url}/services/T/B/tok"}, {"text": "hi"}),
        (
            "instagram.publish",
            "instagram_graph",
            {"access_token": "tok", "account_id": "17", "base_url": "{url}"},
            {"image_url": "https://cdn.example.com/a.jpg"},
        ),
        ("luma.generate_image", "luma_api", {"api_key": "tok", "base_url": "{url}"}, {"prompt": "a cat"}),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else None,
)
def test_integration_nodes_cannot_reach_loopback(
    cf, policy, victim, node_type, credential_type, data, params
):
    owner = cf.new_user()
    url = f"http://0x7f000001:{victim.port}"
    cred = _stored_credential(owner, credential_type, {k: v.replace("{url}", url) for k, v in data.items()})
    ex = cf.run(_action_workflow(node_type, params, cred), owner_id=owner)
    assert ex.status == "failed" and f"{BLOCKED}: 0x7f000001 (127.0.0.1) is loopback" in ex.error, ex.error
    assert victim.requests == []


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.key)
def test_an_llm_api_base_on_loopback_is_refused(cf, policy, victim, provider):
    owner = cf.new_user()
    cred = _stored_credential(
        owner,
        provider.credential_type_name,
        {"api_key": "sk-" + secrets.token_hex(12), "base_url": f"http://127.1:{victim.port}/v1"},
    )
    ex = cf.run(_action_workflow(provider.node_type_name, {"prompt": "hi"}, cred), owner_id=owner)
    assert ex.status == "failed" and f"{BLOCKED}: 127.1 (127.0.0.1) is loopback" in ex.error, ex.error
    assert victim.requests == []


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.key)
def test_litellm_sends_through_the_shared_transport(cf, policy, victim, provider):
    """litellm makes its own HTTP calls: the request reaches the server only by a name that just the
    transport's resolver knows, so it arrived through the policy-checked, pinned client."""
    policy(allow="127.0.0.1/32")
    owner = cf.new_user()
    cred = _stored_credential(
        owner,
        provider.credential_type_name,
        {"api_key": "sk-" + secrets.token_hex(12), "base_url": f"http://llm.example:{victim.port}/v1"},
    )
    ex = cf.run(
        _action_workflow(provider.node_type_name, {"prompt": "hi"}, cred),
        owner_id=owner,
        runtime=Runtime(
            credential_resolver=resolve_credential,
            resolver=StaticResolver({"llm.example": ["127.0.0.1"]}),
        ),
    )
    assert ex.status == "failed"  # the victim is no LLM; what matters is how the request got there
    assert [r.headers["host"] for r in victim.requests] == [f"llm.example:{victim.port}"], ex.error


# ---- credential tests through the gateway's HTTP API ------------------------------------------------


def _credential_test(user: Any, credential_type: str, data: dict[str, Any]) -> dict[str, Any]:
    created = user.post("/api/credentials", json={"name": "probe", "type": credential_type, "data": data})
    assert created.status_code == 201, created.text
    answer = user.post(f"/api/credentials/{created.json()['id']}/test")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_credential_test_cannot_reach_loopback(gateway, policy, victim, listener):
    ada = gateway.user()
    for credential_type, data in [
        ("ping_api", {"base_url": f"http://127.0.0.1:{victim.port}", "api_key": "k" * 12}),
        ("discord_webhook", {"webhook_url": f"http://[::ffff:127.0.0.1]:{victim.port}/api/webhooks/1/t"}),
        ("openai_api", {"api_key": "sk-x", "base_url": f"http://localhost:{victim.port}/v1"}),
        ("smtp", {"host": "127.0.0.1", "port": listener.port, "security": "none"}),
    ]:
        result = _credential_test(ada, credential_type, data)
        assert result["ok"] is False and BLOCKED in result["message"], (credential_type, result)
    assert victim.requests == [] and listener.accepted == 0


def test_credential_test_messages_are_identical_for_open_and_closed_ports(gateway, policy, listener):
    """Blocked (policy on) or allowed (the operator listed loopback): an open port and a closed one
    answer the same message, so the Test button is no port scanner."""
    ada = gateway.user()
    closed = closed_port()
    cases = [
        ("ping_api", lambda port: {"base_url": f"http://127.0.0.1:{port}", "api_key": "k" * 12}),
        ("slack_webhook", lambda port: {"webhook_url": f"http://127.0.0.1:{port}/services/T/B/x"}),
        ("smtp", lambda port: {"host": "127.0.0.1", "port": port, "security": "none"}),
        ("anthropic_api", lambda port: {"api_key": "sk-x", "base_url": f"http://127.0.0.1:{port}"}),
    ]
    for allow in ("", "127.0.0.1/32"):
        policy(allow=allow)
        for credential_type, data in cases:
            open_answer = _credential_test(ada, credential_type, data(listener.port))
            closed_answer = _credential_test(ada, credential_type, data(closed))
            assert open_answer == closed_answer, (allow, credential_type, open_answer, closed_answer)
            assert open_answer["ok"] is False
            expected = UNREACHABLE_MESSAGE if allow else BLOCKED
            assert expected in open_answer["message"]
            assert str(listener.port) not in open_answer["message"]
    assert listener.accepted > 0  # the allowed round really connected to the open port


def test_the_transport_connects_to_the_checked_address_with_the_urls_host(policy, allowed_server):
    """The pinned transport as credential tests use it: the name resolves once through the seam, the
    connection goes to the checked address, the Host header keeps the name."""
    policy(allow="127.0.0.2/32")
    allowed_server.route("GET", "/h", lambda req: (200, {}, {"host": req.headers["host"]}))
    resolver = CountingResolver({"api.example": [["127.0.0.2"]], "localhost": [["127.0.0.1"]]})
    with new_http_client(resolver=resolver) as http:
        assert http.get(f"http://api.example:{allowed_server.port}/h").json() == {
            "host": f"api.example:{allowed_server.port}"
        }
        with pytest.raises(NetworkPolicyError, match=f"{BLOCKED}: localhost"):
            http.get(f"http://localhost:{allowed_server.port}/h")
    assert resolver.calls == ["api.example", "localhost"]
