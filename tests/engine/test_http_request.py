"""The HTTP Request node against a real local server."""

from __future__ import annotations

import pytest

WF = {
    "name": "http",
    "nodes": [
        {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
        {"id": "call", "type": "http.request", "name": "Call", "variable_name": "api", "params": {}},
    ],
    "edges": [{"source": "start", "target": "call"}],
}


def workflow(**params):
    wf = {**WF, "nodes": [WF["nodes"][0], {**WF["nodes"][1], "params": params}]}
    return wf


def test_sends_method_headers_query_and_json_body_and_parses_the_reply(cf, http_server):
    http_server.route(
        "POST", "/orders", lambda req: (201, {"X-Reply": "yes"}, {"id": 42, "echo": req.json()})
    )
    ex = cf.run(
        workflow(
            method="POST",
            url=f"{http_server.url}/orders",
            headers={"X-Trace": "{{ trigger.trace }}"},
            query={"q": "{{ trigger.q }}"},
            body={"order": "{{ trigger.order }}"},
        ),
        {"trace": "t-1", "q": "a b", "order": 7},
    )
    assert ex.status == "success", ex.error
    [req] = http_server.requests
    assert req.method == "POST" and req.path == "/orders?q=a+b"
    assert req.headers["x-trace"] == "t-1" and req.json() == {"order": 7}
    out = ex.context["api"]
    assert out["status"] == 201 and out["data"] == {"id": 42, "echo": {"order": 7}}
    assert out["headers"]["x-reply"] == "yes"


def test_text_responses_are_returned_as_text(cf, http_server):
    http_server.route("GET", "/t", lambda req: (200, {"Content-Type": "text/plain"}, "hello"))
    ex = cf.run(workflow(url=f"{http_server.url}/t"))
    assert ex.context["api"]["data"] == "hello"


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_fail_the_node_with_the_status(cf, http_server, status):
    http_server.route("GET", "/e", lambda req: (status, {}, {"error": "nope"}))
    ex = cf.run(workflow(url=f"{http_server.url}/e"))
    assert ex.status == "failed"
    assert f"HTTP {status}" in ex.error and "nope" in ex.error


def test_error_statuses_can_be_returned_instead(cf, http_server):
    http_server.route("GET", "/e", lambda req: (404, {}, {"error": "nope"}))
    ex = cf.run(workflow(url=f"{http_server.url}/e", fail_on_error_status=False))
    assert ex.status == "success" and ex.context["api"]["status"] == 404


def test_connection_refused_is_a_clear_failure(cf):
    ex = cf.run(workflow(url="http://127.0.0.1:9/nothing", timeout=2))
    assert ex.status == "failed" and "connection failed" in ex.error


def test_non_http_urls_are_refused(cf):
    ex = cf.run(workflow(url="file:///etc/passwd"))
    assert ex.status == "failed" and "must start with http" in ex.error
