"""Stripe webhooks against the running gateway: signatures, filters, redeliveries, bad input."""

from __future__ import annotations

import json
import time

import pytest

from connectflow_dagster.nodes.triggers.stripe import sign
from tests.conftest import FIXTURES
from tests.dispatch.conftest import finished_execution, inbox_rows, save

pytestmark = pytest.mark.usefixtures("backend")

SECRET = "whsec_test_5f1c0a2e9b7d4c3f8a6e1d0b"
EVENT = (FIXTURES / "stripe" / "payment_intent.succeeded.json").read_bytes()
REFUND = (FIXTURES / "stripe" / "charge.refunded.json").read_bytes()


def stripe_workflow(event_types: list[str] | None = None) -> dict:
    return {
        "name": "Stripe payment → note",
        "nodes": [
            {
                "id": "stripe",
                "type": "trigger.stripe",
                "name": "Stripe",
                "params": {"event_types": event_types or []},
            },
            {
                "id": "note",
                "type": "set",
                "name": "Note",
                "params": {
                    "fields": {"text": "{{ stripe.event_type }}: {{ stripe.raw.data.object.amount }}"}
                },
            },
        ],
        "edges": [{"source": "stripe", "target": "note"}],
    }


def post(client, wid: str, body: bytes, signature: str | None, content_type: str = "application/json"):
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(f"/api/webhooks/stripe/{wid}", content=body, headers=headers)


@pytest.fixture
def signed_workflow(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(stripe_workflow(), owner.user_id)
    response = owner.put(f"/api/workflows/{wid}/triggers/stripe/secret", json={"secret": SECRET})
    assert response.status_code == 200, response.text
    assert response.json()["secret_configured"] is True and SECRET not in response.text
    return wid, owner


def test_a_signed_event_runs_once_and_a_redelivery_starts_nothing(
    cf, live_gateway, worker_thread, signed_workflow
):
    wid, _ = signed_workflow
    client = live_gateway.client()
    first = post(client, wid, EVENT, sign(SECRET, EVENT))
    assert first.status_code == 202, first.text
    execution_id = first.json()["execution_id"]

    again = post(client, wid, EVENT, sign(SECRET, EVENT))  # Stripe retries: new timestamp, same event
    assert again.status_code == 200 and again.json() == {"execution_id": execution_id, "status": "duplicate"}

    execution = finished_execution(cf, execution_id)
    assert execution.status == "success", execution.error
    event = json.loads(EVENT)
    assert execution.context["stripe"] == {
        "event_id": event["id"],
        "event_type": "payment_intent.succeeded",
        "created": event["created"],
        "livemode": False,
        "raw": event,
    }
    assert execution.context["note"] == {"text": "payment_intent.succeeded: 9900"}
    assert [row.id for row in inbox_rows(wid)] == [execution_id]

    run = cf.instance.get_run_by_id(execution_id)
    stored = json.dumps([run.run_config, run.tags]) + "".join(
        e.message or "" for e in cf.instance.all_logs(execution_id)
    )
    assert SECRET not in stored


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=deadbeef",
        sign("whsec_someone_else_entirely", EVENT),
        sign(SECRET, EVENT, timestamp=int(time.time()) - 301),
        sign(SECRET, EVENT + b" "),
    ],
    ids=["missing", "garbage", "wrong-secret", "too-old", "other-body"],
)
def test_a_bad_signature_is_401_and_stores_nothing(cf, live_gateway, signed_workflow, signature):
    wid, _ = signed_workflow
    response = post(live_gateway.client(), wid, EVENT, signature)
    assert response.status_code == 401, response.text
    assert inbox_rows(wid) == []


def test_bad_requests_are_refused_and_store_nothing(cf, live_gateway, signed_workflow):
    wid, owner = signed_workflow
    client = live_gateway.client()
    malformed = b'{"id": "evt_1", "type": '
    assert post(client, wid, malformed, sign(SECRET, malformed)).status_code == 400
    not_an_event = b'{"hello": "world"}'
    assert post(client, wid, not_an_event, sign(SECRET, not_an_event)).status_code == 400
    assert post(client, wid, EVENT, sign(SECRET, EVENT), content_type="text/plain").status_code == 415
    huge = b'{"id": "evt_big", "type": "x", "pad": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    assert post(client, wid, huge, sign(SECRET, huge)).status_code == 413
    assert post(client, "no_such_workflow", EVENT, sign(SECRET, EVENT)).status_code == 404
    assert inbox_rows(wid) == []

    assert owner.delete(f"/api/workflows/{wid}").status_code in (200, 204)
    assert post(client, wid, EVENT, sign(SECRET, EVENT)).status_code == 404
    assert inbox_rows(wid) == []


def test_the_event_type_filter_ignores_other_events(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(stripe_workflow(["payment_intent.*"]), owner.user_id)
    assert (
        owner.put(f"/api/workflows/{wid}/triggers/stripe/secret", json={"secret": SECRET}).status_code == 200
    )
    client = live_gateway.client()
    ignored = post(client, wid, REFUND, sign(SECRET, REFUND))
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert inbox_rows(wid) == []
    accepted = post(client, wid, EVENT, sign(SECRET, EVENT))
    assert accepted.status_code == 202
    assert [row.id for row in inbox_rows(wid)] == [accepted.json()["execution_id"]]


def test_another_user_cannot_see_or_set_the_trigger_secret(cf, live_gateway, signed_workflow):
    wid, _ = signed_workflow
    other = live_gateway.user()
    assert other.get(f"/api/workflows/{wid}/triggers/stripe").status_code == 404
    assert (
        other.put(
            f"/api/workflows/{wid}/triggers/stripe/secret", json={"secret": "whsec_mine_now"}
        ).status_code
        == 404
    )
    assert post(live_gateway.client(), wid, EVENT, sign(SECRET, EVENT)).status_code == 202
