"""Attack run on the ``/dagster/`` proxy: GraphQL in a GET query string must be refused however the
path is spelled. ``/dagster/./graphql?query=mutation…`` reached Dagster's GraphQL endpoint (httpx
removes the dot segment on the way upstream) although ``/dagster/graphql?query=…`` is refused."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.gateway.conftest import PASSWORD
from tests.security.test_dagster_ui_proxy import dagster_ui, gateway_server  # noqa: F401  (fixtures)

QUERY = "query=%7Bversion%7D"


def _admin(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    account = {"email": "owner@example.com", "password": PASSWORD}
    assert client.post("/api/auth/sign-up/email", json=account).status_code == 202
    assert client.post("/api/auth/sign-in/email", json=account).status_code == 200
    return client


def _raw_get(port: int, target: str, cookie: str) -> tuple[int, bytes]:
    """A GET with the request target exactly as written (an HTTP client would normalise it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: cf_session={cookie}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


TARGETS = [
    f"/dagster/graphql?{QUERY}",
    f"/dagster/./graphql?{QUERY}",
    f"/dagster/x/../graphql?{QUERY}",
    f"/dagster/.//graphql/?{QUERY}",
]


@pytest.mark.timeout(400)
def test_graphql_in_a_get_query_string_is_refused_however_the_path_is_spelled(cf, dagster_ui, gateway_server):  # noqa: F811
    admin = _admin(gateway_server.url)
    dagster_ui.wait_until_answering()
    cookie = admin.cookies["cf_session"]
    answers = {target: _raw_get(gateway_server.port, target, cookie) for target in TARGETS}
    assert {t: status for t, (status, _) in answers.items()} == dict.fromkeys(TARGETS, 405), answers
    # The same operation as a POST (what the UI sends) does reach Dagster: the refusals above are
    # the proxy's, not a dead upstream.
    answer = admin.post(
        "/dagster/graphql", json={"query": "{version}"}, headers={"Origin": gateway_server.url}
    )
    assert answer.status_code == 200 and "version" in answer.json()["data"], answer.text
