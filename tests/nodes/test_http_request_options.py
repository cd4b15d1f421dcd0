"""HTTP Request with stored credentials, pagination and body modes, against a real local server.

Each credential type is checked where the server sees it (header, query string); OAuth2 tokens are
fetched from a local token endpoint, cached, and fetched again once after a 401. Secrets never reach
the node's output or error.
"""

from __future__ import annotations

import base64
import json
import secrets
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectflow_dagster.nodes.http_auth import TOKENS
from tests.conftest import LocalHTTPServer


@pytest.fixture(autouse=True)
def fresh_token_cache():  # type: ignore[no-untyped-def]
    TOKENS.clear()
    yield
    TOKENS.clear()


def query_of(req) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return parse_qs(urlsplit(req.path).query)


def echo(req):  # type: ignore[no-untyped-def]
    """Answers with what it received, as some APIs do (headers and query included)."""
    return 200, {}, {"headers": req.headers, "query": query_of(req)}


# ---- authentication ---------------------------------------------------------------------------------

SECRET = "s3cr3t-" + secrets.token_hex(12)


@pytest.mark.parametrize(
    ("kind", "credential_type", "fields", "seen"),
    [
        (
            "header",
            "http_header_auth",
            {"name": "X-API-Key", "value": SECRET},
            lambda r: r.headers["x-api-key"] == SECRET,
        ),
        (
            "bearer",
            "http_bearer_auth",
            {"token": SECRET},
            lambda r: r.headers["authorization"] == f"Bearer {SECRET}",
        ),
        (
            "basic",
            "http_basic_auth",
            {"username": "ada", "password": SECRET},
            lambda r: (
                r.headers["authorization"] == "Basic " + base64.b64encode(f"ada:{SECRET}".encode()).decode()
            ),
        ),
        (
            "query",
            "http_query_auth",
            {"name": "api_key", "value": SECRET},
            lambda r: query_of(r)["api_key"] == [SECRET],
        ),
    ],
)
def test_each_credential_type_reaches_the_server_and_never_the_output(
    run_action, book, http_server, kind, credential_type, fields, seen
):
    http_server.route("GET", "/me", echo)
    cred = book.add(credential_type, **fields)
    ex, _ = run_action("http.request", {"url": f"{http_server.url}/me?keep=1", "authentication": kind}, cred)
    assert ex.status == "success", ex.error
    [req] = http_server.requests
    assert seen(req)
    assert query_of(req)["keep"] == ["1"]
    assert SECRET not in json.dumps(ex.context) and "***" in json.dumps(ex.context["out"]["data"])
    encoded = base64.b64encode(f"ada:{SECRET}".encode()).decode()
    assert encoded not in json.dumps(ex.context)


def test_a_query_credential_is_not_in_httpx_request_log(run_action, book, http_server, caplog):
    import logging

    http_server.route("GET", "/me", echo)
    cred = book.add("http_query_auth", name="api_key", value=SECRET)
    with caplog.at_level(logging.INFO, logger="httpx"):
        ex, _ = run_action("http.request", {"url": f"{http_server.url}/me", "authentication": "query"}, cred)
    assert ex.status == "success", ex.error
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    # Our redaction writes api_key=***; once litellm is imported in the process, its own log filter may
    # already have replaced the whole query with REDACTED. Either way the request is logged, the key not.
    assert any("/me?" in line and ("api_key=***" in line or "REDACTED" in line) for line in lines), lines
    assert not any(SECRET in line for line in lines)


def test_a_rejected_credential_fails_without_showing_it(run_action, book, http_server):
    http_server.route("GET", "/me", lambda r: (401, {}, {"error": f"bad key {r.headers.get('x-api-key')}"}))
    cred = book.add("http_header_auth", name="X-API-Key", value=SECRET)
    ex, node = run_action("http.request", {"url": f"{http_server.url}/me", "authentication": "header"}, cred)
    assert ex.status == "failed"
    assert "HTTP 401" in node.error and "check the credential" in node.error
    assert SECRET not in node.error and SECRET not in (node.stack or "")


def test_authentication_without_a_credential_is_a_problem():
    from connectflow_dagster import spec
    from tests.nodes.node_runs import action_workflow

    wf = spec.parse_workflow(
        action_workflow("http.request", {"url": "http://x.test/", "authentication": "bearer"}, None)
    )
    assert [p.message for p in spec.validate(wf) if p.node_id == "act"] == [
        "choose a 'HTTP bearer token' credential"
    ]


def test_the_credential_is_not_sent_to_another_origin(run_action, book, http_server):
    with LocalHTTPServer(host="127.0.0.2") as elsewhere:
        elsewhere.route("GET", "/steal", echo)
        http_server.route("GET", "/hop", lambda r: (302, {"Location": f"{elsewhere.url}/steal"}, ""))
        cred = book.add("http_bearer_auth", token=SECRET)
        ex, node = run_action(
            "http.request", {"url": f"{http_server.url}/hop", "authentication": "bearer"}, cred
        )
        assert ex.status == "failed" and "refusing to send the credential to http://127.0.0.2" in node.error
        assert elsewhere.requests == []


def test_a_same_origin_redirect_keeps_the_credential(run_action, book, http_server):
    http_server.route("GET", "/old", lambda r: (301, {"Location": "/new"}, ""))
    http_server.route("GET", "/new", echo)
    cred = book.add("http_bearer_auth", token=SECRET)
    ex, _ = run_action("http.request", {"url": f"{http_server.url}/old", "authentication": "bearer"}, cred)
    assert ex.status == "success", ex.error
    assert http_server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


# ---- OAuth2 client credentials ----------------------------------------------------------------------


class TokenServer:
    """An OAuth2 token endpoint and an API accepting only the latest token it issued."""

    def __init__(self, server: LocalHTTPServer, client_secret: str) -> None:
        self.server, self.client_secret = server, client_secret
        self.issued: list[str] = []
        self.token_requests: list[dict[str, Any]] = []
        server.route("POST", "/oauth/token", self.token)
        server.route("GET", "/api/items", self.api)

    def token(self, req):  # type: ignore[no-untyped-def]
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        self.token_requests.append({"form": form, "authorization": req.headers.get("authorization")})
        basic = "Basic " + base64.b64encode(f"client-1:{self.client_secret}".encode()).decode()
        ok = req.headers.get("authorization") == basic or (
            form.get("client_id") == "client-1" and form.get("client_secret") == self.client_secret
        )
        if form.get("grant_type") != "client_credentials" or not ok:
            return 401, {}, {"error": "invalid_client"}
        token = f"tok-{len(self.issued) + 1}-" + secrets.token_hex(8)
        self.issued.append(token)
        return 200, {}, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def api(self, req):  # type: ignore[no-untyped-def]
        if not self.issued or req.headers.get("authorization") != f"Bearer {self.issued[-1]}":
            return 401, {}, {"error": "invalid_token"}
        return 200, {}, {"items": [1, 2], "auth": req.headers["authorization"]}


@pytest.fixture
def oauth(http_server) -> TokenServer:  # type: ignore[no-untyped-def]
    return TokenServer(http_server, "client-secret-" + secrets.token_hex(8))


def oauth_credential(book, oauth: TokenServer, **extra: Any) -> str:  # type: ignore[no-untyped-def]
    return book.add(
        "oauth2_client_credentials",
        token_url=f"{oauth.server.url}/oauth/token",
        client_id="client-1",
        client_secret=oauth.client_secret,
        scope="items:read",
        **extra,
    )


@pytest.fixture
def run_as_one_owner(cf, book):  # type: ignore[no-untyped-def]
    """Like ``run_action``, every run by the same owner (tokens are cached per owner and credential)."""
    from tests.nodes.node_runs import action_workflow

    owner = cf.new_user()

    def run(params: dict[str, Any], credential_id: str):  # type: ignore[no-untyped-def]
        ex = cf.run(
            action_workflow("http.request", params, credential_id), owner_id=owner, runtime=book.runtime
        )
        return ex, next(n for n in ex.nodes if n.node_id == "act")

    return run


@pytest.mark.parametrize("client_authentication", ["basic", "body"])
def test_oauth2_fetches_a_token_once_and_reuses_it(run_as_one_owner, book, oauth, client_authentication):
    cred = oauth_credential(book, oauth, client_authentication=client_authentication)
    params = {"url": f"{oauth.server.url}/api/items", "authentication": "oauth2_client_credentials"}
    first, _ = run_as_one_owner(params, cred)
    second, _ = run_as_one_owner(params, cred)
    assert first.status == second.status == "success", first.error or second.error
    assert len(oauth.issued) == 1  # cached for the second run
    assert oauth.token_requests[0]["form"]["scope"] == "items:read"
    assert first.context["out"]["data"] == {"items": [1, 2], "auth": "Bearer ***"}
    for token in oauth.issued:
        assert token not in json.dumps(first.context) + json.dumps(second.context)


def test_oauth2_fetches_a_new_token_once_after_a_401(run_as_one_owner, book, oauth):
    cred = oauth_credential(book, oauth)
    params = {"url": f"{oauth.server.url}/api/items", "authentication": "oauth2_client_credentials"}
    assert run_as_one_owner(params, cred)[0].status == "success"
    oauth.issued.append("revoked-elsewhere")  # the server now only accepts a newer token
    ex, _ = run_as_one_owner(params, cred)
    assert ex.status == "success", ex.error
    assert len(oauth.token_requests) == 2
    api_calls = [r for r in oauth.server.requests if r.path == "/api/items"]
    assert len(api_calls) == 3  # ok; 401 with the cached token; ok with the new one


def test_oauth2_gives_up_after_one_refresh(run_action, book, http_server):
    http_server.route(
        "POST", "/oauth/token", lambda r: (200, {}, {"access_token": "tok-" + secrets.token_hex(6)})
    )
    http_server.route("GET", "/api/items", lambda r: (401, {}, {"error": "never"}))
    cred = book.add(
        "oauth2_client_credentials",
        token_url=f"{http_server.url}/oauth/token",
        client_id="c",
        client_secret="client-secret-value",
    )
    ex, node = run_action(
        "http.request",
        {"url": f"{http_server.url}/api/items", "authentication": "oauth2_client_credentials"},
        cred,
    )
    assert ex.status == "failed" and "HTTP 401" in node.error
    assert sum(r.path == "/oauth/token" for r in http_server.requests) == 2


def test_a_refused_token_request_is_a_clear_error_without_the_secret(run_action, book, oauth):
    cred = book.add(
        "oauth2_client_credentials",
        token_url=f"{oauth.server.url}/oauth/token",
        client_id="client-1",
        client_secret="wrong-secret-123456",
    )
    ex, node = run_action(
        "http.request",
        {"url": f"{oauth.server.url}/api/items", "authentication": "oauth2_client_credentials"},
        cred,
    )
    assert ex.status == "failed"
    assert "OAuth2 token endpoint answered HTTP 401" in node.error and "wrong-secret-123456" not in node.error


# ---- pagination -------------------------------------------------------------------------------------

ROWS = [{"id": i} for i in range(1, 8)]  # 7 rows, 3 per page → 3 pages


def page_of(n: int) -> list[dict[str, int]]:
    return ROWS[(n - 1) * 3 : n * 3]


def test_next_url_from_the_response(run_action, http_server):
    def rows(req):  # type: ignore[no-untyped-def]
        n = int(query_of(req).get("p", ["1"])[0])
        nxt = f"/rows?p={n + 1}" if n * 3 < len(ROWS) else None
        return 200, {}, {"data": page_of(n), "links": {"next": nxt}}

    http_server.route("GET", "/rows", rows)
    pagination = {"mode": "next_url", "items_path": "data", "next_url_path": "links.next"}
    ex, _ = run_action("http.request", {"url": f"{http_server.url}/rows", "pagination": pagination}, None)
    assert ex.status == "success", ex.error
    out = ex.context["out"]
    assert out["data"] == ROWS and out["pages"] == 3 and out["more"] is False


def test_next_url_from_the_link_header(run_action, http_server):
    def rows(req):  # type: ignore[no-untyped-def]
        n = int(query_of(req).get("page", ["1"])[0])
        link = {"Link": f'<{http_server.url}/rows?page={n + 1}>; rel="next"'} if n < 3 else {}
        return 200, link, page_of(n)

    http_server.route("GET", "/rows", rows)
    ex, _ = run_action(
        "http.request", {"url": f"{http_server.url}/rows", "pagination": {"mode": "next_url"}}, None
    )
    assert ex.context["out"]["data"] == ROWS and ex.context["out"]["pages"] == 3


def test_incrementing_page_parameter_stops_at_an_empty_page(run_action, http_server):
    http_server.route("GET", "/rows", lambda r: (200, {}, {"rows": page_of(int(query_of(r)["page"][0]))}))
    pagination = {"mode": "page", "items_path": "rows", "page_param": "page", "page_start": 1}
    ex, _ = run_action(
        "http.request",
        {"url": f"{http_server.url}/rows", "query": {"q": "x"}, "pagination": pagination},
        None,
    )
    assert ex.context["out"]["data"] == ROWS and ex.context["out"]["pages"] == 4  # the 4th is empty
    assert all(query_of(r)["q"] == ["x"] for r in http_server.requests)


def test_cursor_from_the_response(run_action, book, http_server):
    def rows(req):  # type: ignore[no-untyped-def]
        cursor = int(query_of(req).get("after", ["0"])[0])
        chunk = ROWS[cursor : cursor + 3]
        nxt = cursor + 3 if cursor + 3 < len(ROWS) else None
        return 200, {}, {"items": chunk, "meta": {"next_cursor": nxt}}

    http_server.route("GET", "/rows", rows)
    cred = book.add("http_query_auth", name="key", value=SECRET)
    pagination = {
        "mode": "cursor",
        "items_path": "items",
        "cursor_path": "meta.next_cursor",
        "cursor_param": "after",
    }
    ex, _ = run_action(
        "http.request",
        {"url": f"{http_server.url}/rows", "authentication": "query", "pagination": pagination},
        cred,
    )
    assert ex.context["out"]["data"] == ROWS and ex.context["out"]["pages"] == 3
    assert all(query_of(r)["key"] == [SECRET] for r in http_server.requests)  # every page authenticated


def test_max_pages_stops_an_endless_api_and_says_so(run_action, http_server):
    http_server.route("GET", "/rows", lambda r: (200, {}, [{"page": query_of(r)["page"][0]}]))
    pagination = {"mode": "page", "max_pages": 4}
    ex, _ = run_action("http.request", {"url": f"{http_server.url}/rows", "pagination": pagination}, None)
    out = ex.context["out"]
    assert out["pages"] == 4 and out["more"] is True and len(http_server.requests) == 4
    assert [row["page"] for row in out["data"]] == ["1", "2", "3", "4"]


def test_a_next_link_pointing_back_stops(run_action, http_server):
    http_server.route("GET", "/rows", lambda r: (200, {}, {"data": [1], "next": "/rows"}))
    pagination = {"mode": "next_url", "items_path": "data", "next_url_path": "next", "max_pages": 50}
    ex, _ = run_action("http.request", {"url": f"{http_server.url}/rows", "pagination": pagination}, None)
    assert ex.context["out"]["pages"] == 1 and ex.context["out"]["more"] is False


def test_cursor_pagination_needs_a_cursor_path():
    from connectflow_dagster import spec
    from tests.nodes.node_runs import action_workflow

    wf = spec.parse_workflow(
        action_workflow("http.request", {"url": "http://x.test/", "pagination": {"mode": "cursor"}}, None)
    )
    assert any("cursor_path" in p.message for p in spec.validate(wf))


# ---- body modes -------------------------------------------------------------------------------------


def received(req):  # type: ignore[no-untyped-def]
    return 200, {}, {"content_type": req.headers.get("content-type"), "body": req.body.decode("latin-1")}


def test_form_urlencoded(run_action, http_server):
    http_server.route("POST", "/in", received)
    ex, _ = run_action(
        "http.request",
        {"method": "POST", "url": f"{http_server.url}/in", "body_type": "form", "body": {"a": "1 2", "n": 3}},
        None,
    )
    seen = ex.context["out"]["data"]
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen["body"]) == {"a": ["1 2"], "n": ["3"]}


def test_multipart_fields_and_files_are_parsed_by_the_server(run_action, http_server):
    parts: dict[str, Any] = {}

    def multipart(req):  # type: ignore[no-untyped-def]
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode() + req.body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        return 200, {}, {"ok": True}

    http_server.route("POST", "/upload", multipart)
    png = bytes(range(256))
    ex, _ = run_action(
        "http.request",
        {
            "method": "POST",
            "url": f"{http_server.url}/upload",
            "body_type": "multipart",
            "body": {"title": "Report", "meta": {"v": 1}},
            "files": [
                {"field": "notes", "filename": "notes.txt", "content_type": "text/plain", "text": "héllo"},
                {
                    "field": "image",
                    "filename": "pic.png",
                    "content_type": "image/png",
                    "base64": base64.b64encode(png).decode(),
                },
            ],
        },
        None,
    )
    assert ex.status == "success", ex.error
    assert parts["title"][2] == b"Report" and json.loads(parts["meta"][2]) == {"v": 1}
    assert parts["notes"] == ("notes.txt", "text/plain", "héllo".encode())
    assert parts["image"] == ("pic.png", "image/png", png)


def test_bad_base64_is_a_clear_error(run_action, http_server):
    ex, node = run_action(
        "http.request",
        {
            "method": "POST",
            "url": f"{http_server.url}/upload",
            "body_type": "multipart",
            "files": [{"field": "f", "base64": "not base64!!"}],
        },
        None,
    )
    assert ex.status == "failed" and "'base64' is not valid base64" in node.error
    assert http_server.requests == []


def test_raw_body_with_its_content_type(run_action, http_server):
    http_server.route("POST", "/in", received)
    ex, _ = run_action(
        "http.request",
        {
            "method": "POST",
            "url": f"{http_server.url}/in",
            "body_type": "raw",
            "content_type": "application/xml",
            "body": "<order id='1'/>",
        },
        None,
    )
    assert ex.context["out"]["data"] == {"content_type": "application/xml", "body": "<order id='1'/>"}


def test_pagination_stops_at_its_byte_budget(run_action, http_server, monkeypatch):
    from connectflow_dagster.nodes import http_request

    monkeypatch.setattr(http_request, "MAX_PAGINATED_BYTES", 50_000)
    http_server.route("GET", "/big", lambda r: (200, {}, [{"blob": "x" * 20_000}]))
    ex, node = run_action(
        "http.request",
        {"url": f"{http_server.url}/big", "pagination": {"mode": "page", "max_pages": 100}},
        None,
    )
    assert ex.status == "failed" and "pagination read more than 50000 bytes after 3 pages" in node.error
    assert len(http_server.requests) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"files": [{"field": "f", "text": "x"}] * 101}, "params.files"),
        ({"files": [{"field": "f", "text": "x", "base64": "eA=="}]}, "params.files.0"),
        ({"pagination": {"mode": "page", "max_pages": 10_000}}, "params.pagination.max_pages"),
        ({"authentication": "kerberos"}, "params.authentication"),
        ({"body_type": "xml"}, "params.body_type"),
    ],
)
def test_hostile_options_are_problems_on_save(params, field):
    from connectflow_dagster import spec
    from tests.nodes.node_runs import action_workflow

    wf = spec.parse_workflow(action_workflow("http.request", {"url": "http://x.test/", **params}, None))
    assert any((p.field or "").startswith(field) for p in spec.validate(wf)), spec.validate(wf)
