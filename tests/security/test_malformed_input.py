"""Findings 5, 6 and 9: every malformed input is a 4xx with a clear message (never a 500), a Stripe
trigger refuses events until its signing secret is set, form bodies work, the HTTP Request node keeps
the query string written in its URL. All through the live gateway."""

from __future__ import annotations

import json

import pytest

from connectflow_dagster.nodes.triggers.stripe import sign
from tests.security.conftest import create_workflow, execute, finished, wait_for

SECRET = "whsec_" + "s" * 32
EVENT = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {}}})


def _stripe_workflow(client) -> str:
    return create_workflow(
        client,
        {
            "name": "stripe",
            "nodes": [
                {"id": "stripe", "type": "trigger.stripe", "name": "Stripe"},
                {
                    "id": "note",
                    "type": "set",
                    "name": "Note",
                    "params": {"fields": {"t": "{{ stripe.event_type }}"}},
                },
            ],
            "edges": [{"source": "stripe", "target": "note"}],
        },
    )


def _webhook_workflow(client, **params) -> str:
    return create_workflow(
        client,
        {
            "name": "hook",
            "nodes": [
                {"id": "hook", "type": "trigger.webhook", "name": "Hook", "params": {"path": "in", **params}},
                {"id": "note", "type": "set", "name": "Note", "params": {"fields": {"t": "{{ hook.body }}"}}},
            ],
            "edges": [{"source": "hook", "target": "note"}],
        },
    )


def _executions(client) -> int:
    return int(client.get("/api/executions").json()["count"])


def test_a_stripe_trigger_refuses_events_until_its_signing_secret_is_set(live):
    owner = live.user()
    wid = _stripe_workflow(owner)
    with live.client() as stripe:
        forged = stripe.post(
            f"/api/webhooks/stripe/{wid}", content=EVENT, headers={"content-type": "application/json"}
        )
        assert forged.status_code == 401 and "no signing secret" in forged.json()["detail"]
        assert _executions(owner) == 0  # nothing stored, nothing run
        assert (
            owner.put(f"/api/workflows/{wid}/triggers/stripe/secret", json={"secret": SECRET}).status_code
            == 200
        )
        signed = stripe.post(
            f"/api/webhooks/stripe/{wid}",
            content=EVENT,
            headers={"content-type": "application/json", "stripe-signature": sign(SECRET, EVENT.encode())},
        )
        assert signed.status_code == 202, signed.text


def test_a_non_ascii_stripe_signature_is_a_401(live):
    owner = live.user()
    wid = _stripe_workflow(owner)
    assert (
        owner.put(f"/api/workflows/{wid}/triggers/stripe/secret", json={"secret": SECRET}).status_code == 200
    )
    with live.client() as stripe:
        response = stripe.post(
            f"/api/webhooks/stripe/{wid}",
            content=EVENT,
            headers={"content-type": "application/json", "stripe-signature": "t=1,v1=ü".encode()},
        )
    assert response.status_code == 401 and response.json()["detail"] == "invalid Stripe-Signature"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper than 64 levels"),
        (b'{"a":' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
        (b'{"text": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"amount": NaN}', "NaN"),
        (b'{"amount": -Infinity}', "Infinity"),
        (b'{"a": ', "malformed JSON"),
    ],
)
def test_hostile_webhook_json_is_a_400_and_stores_nothing(live, body, message):
    owner = live.user()
    wid = _webhook_workflow(owner)
    with live.client() as caller:
        response = caller.post(
            f"/api/webhooks/{wid}/in", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400 and message in response.json()["detail"], response.text
    assert _executions(owner) == 0
    assert live.healthy()


def test_header_length_caps(live):
    owner = live.user()
    wid = _webhook_workflow(owner)
    with live.client() as caller:
        long_key = caller.post(f"/api/webhooks/{wid}/in", json={}, headers={"idempotency-key": "k" * 201})
        long_secret = caller.post(
            f"/api/webhooks/{wid}/in", json={}, headers={"x-connectflow-secret": "s" * 1025}
        )
        ok = caller.post(f"/api/webhooks/{wid}/in", json={}, headers={"idempotency-key": "k" * 200})
        api = caller.post(
            "/api/trigger", json={}, headers={"idempotency-key": "k" * 300, "authorization": "Bearer x"}
        )
    assert long_key.status_code == 400 and "Idempotency-Key" in long_key.text.replace(
        "idempotency-key", "Idempotency-Key"
    )
    assert long_secret.status_code == 400 and "longer than 1024" in long_secret.text
    assert ok.status_code == 202
    assert owner.post(f"/api/workflows/{wid}/triggers/hook/secret").status_code == 201
    with live.client() as caller:
        long_secret = caller.post(
            f"/api/webhooks/{wid}/in", json={}, headers={"x-connectflow-secret": "s" * 1025}
        )
    assert long_secret.status_code == 400 and "longer than 1024" in long_secret.text
    assert api.status_code in (400, 401)


def test_multipart_form_webhooks_are_accepted(live):
    owner = live.user()
    wid = _webhook_workflow(owner)
    with live.client() as caller:
        response = caller.post(
            f"/api/webhooks/{wid}/in", data={"orderId": "A-1"}, files={"f": ("a.txt", b"x")}
        )
    assert response.status_code == 202, response.text
    execution = finished(owner, response.json()["execution_id"])
    note = next(n for n in execution["nodes"] if n["node_id"] == "note")
    assert note["output"]["t"] == {"orderId": "A-1"}  # the file part is not a form field


def test_a_failed_run_answers_anonymous_callers_without_internals(live, http_server):
    owner = live.user()
    wid = create_workflow(
        owner,
        {
            "name": "after run",
            "nodes": [
                {
                    "id": "hook",
                    "type": "trigger.webhook",
                    "name": "Hook",
                    "params": {"path": "in", "response_mode": "after_run"},
                },
                {
                    "id": "call",
                    "type": "http.request",
                    "name": "Call",
                    "params": {"url": f"{http_server.url}/internal/secret-path"},
                },
            ],
            "edges": [{"source": "hook", "target": "call"}],
        },
    )
    with live.client() as caller:
        response = caller.post(f"/api/webhooks/{wid}/in", json={"x": 1})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"execution_id", "status", "error"} and body["status"] == "failed"
    assert (
        "secret-path" not in response.text and "127.0.0.1" not in response.text and "404" not in response.text
    )
    assert finished(owner, body["execution_id"])["status"] == "failed"  # the owner sees the details


def test_workflow_size_and_nesting_limits_are_4xx(live):
    owner = live.user()
    deep: dict = {}
    for _ in range(900):
        deep = {"a": deep}
    nested = owner.post(
        "/api/workflows",
        json={"name": "deep", "nodes": [{"id": "s", "type": "set", "name": "S", "params": {"fields": deep}}]},
    )
    assert nested.status_code == 422 and "nested deeper than 32 levels" in nested.text
    chain = [{"id": "n0", "type": "trigger.manual", "name": "n0"}] + [
        {"id": f"n{i}", "type": "set", "name": f"n{i}"} for i in range(1, 2000)
    ]
    edges = [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(1999)]
    long = owner.post("/api/workflows", json={"name": "long", "nodes": chain, "edges": edges})
    assert long.status_code == 422 and "500" in long.text
    assert live.healthy()


def test_execute_input_with_nan_or_a_lone_surrogate_is_refused(live):
    owner = live.user()
    wid = create_workflow(
        owner, {"name": "m", "nodes": [{"id": "start", "type": "trigger.manual", "name": "S"}]}
    )
    for raw in (b'{"input": {"x": NaN}}', b'{"input": {"x": "\\udc00"}}'):
        response = owner.post(
            f"/api/workflows/{wid}/execute", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text


def test_the_execution_page_shows_stored_lone_surrogates(live):
    owner = live.user()
    wid = create_workflow(
        owner,
        {
            "name": "surrogate",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "S"},
                {"id": "odd", "type": "set", "name": "Odd", "params": {"fields": {"t": "{{ '\\ud800' }}"}}},
            ],
            "edges": [{"source": "start", "target": "odd"}],
        },
    )
    execution_id = execute(owner, wid)
    wait_for(
        lambda: (
            owner.get(f"/api/executions/{execution_id}").status_code != 200
            or owner.get(f"/api/executions/{execution_id}").json()["status"] in ("success", "failed")
        ),
        what="the run",
    )
    page = owner.get(f"/api/executions/{execution_id}")
    assert page.status_code == 200, page.text
    assert owner.get("/api/executions").status_code == 200


def test_the_http_request_node_keeps_the_query_string_of_its_url(live, http_server):
    http_server.route("GET", "/q", lambda r: (200, {}, {"ok": True}))
    owner = live.user()
    wid = create_workflow(
        owner,
        {
            "name": "query",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "S"},
                {
                    "id": "a",
                    "type": "http.request",
                    "name": "A",
                    "params": {"url": f"{http_server.url}/q?a=1&b=two"},
                },
                {
                    "id": "b",
                    "type": "http.request",
                    "name": "B",
                    "params": {"url": f"{http_server.url}/q?a=1", "query": {"c": "3"}},
                },
            ],
            "edges": [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}],
        },
    )
    assert finished(owner, execute(owner, wid))["status"] == "success"
    assert [r.path for r in http_server.requests] == ["/q?a=1&b=two", "/q?a=1&c=3"]


@pytest.mark.parametrize("query", ["bokeh-session-id=", "bokeh_session_id=", "bokeh-session-id=%00"])
def test_editor_pages_with_an_empty_or_malformed_session_id_are_not_500(live_gateway, query):
    import httpx

    from tests.security.conftest import PASSWORD

    with httpx.Client(base_url=live_gateway.url, timeout=60) as browser:
        account = {"email": "editor@example.com", "password": PASSWORD}
        browser.post("/api/auth/sign-up/email", json=account)
        assert browser.post("/api/auth/sign-in/email", json=account).status_code == 200
        for page in ("/ui/workflows", "/ui/editor", "/ui/executions"):
            response = browser.get(f"{page}?{query}")
            assert response.status_code < 500, (page, response.status_code)
