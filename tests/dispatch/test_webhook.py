"""Generic webhooks against the running gateway: JSON and form bodies, secrets, response modes."""

from __future__ import annotations

import pytest

from tests.dispatch.conftest import finished_execution, inbox_rows, save

pytestmark = pytest.mark.usefixtures("backend")


def hook_workflow(**params) -> dict:
    return {
        "name": "Webhook → reply",
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "name": "Webhook",
                "params": {"path": "orders", **params},
            },
            {
                "id": "reply",
                "type": "set",
                "name": "Reply",
                "params": {"fields": {"message": "order {{ webhook.body.orderId }} received"}},
            },
        ],
        "edges": [{"source": "hook", "target": "reply"}],
    }


def test_json_and_form_bodies_start_runs(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    client = live_gateway.client()
    as_json = client.post(f"/api/webhooks/{wid}/orders?src=shop", json={"orderId": "A-1"})
    assert as_json.status_code == 202, as_json.text
    as_form = client.post(f"/api/webhooks/{wid}/orders", data={"orderId": "B-2"})
    assert as_form.status_code == 202, as_form.text

    first = finished_execution(cf, as_json.json()["execution_id"])
    assert first.status == "success", first.error
    assert first.context["webhook"]["body"] == {"orderId": "A-1"}
    assert first.context["webhook"]["query"] == {"src": "shop"}
    assert first.context["reply"] == {"message": "order A-1 received"}
    second = finished_execution(cf, as_form.json()["execution_id"])
    assert second.context["reply"] == {"message": "order B-2 received"}


def test_an_idempotency_key_makes_a_redelivery_start_nothing(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    client = live_gateway.client()
    first = client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}, headers={"Idempotency-Key": "k1"})
    again = client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert len(inbox_rows(wid)) == 1


def test_a_secret_is_required_once_set_and_never_reaches_the_run(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    secret = owner.post(f"/api/workflows/{wid}/triggers/hook/secret").json()["secret"]
    client = live_gateway.client()
    assert client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}).status_code == 401
    wrong = client.post(
        f"/api/webhooks/{wid}/orders", json={"orderId": 1}, headers={"X-ConnectFlow-Secret": "no"}
    )
    assert wrong.status_code == 401
    assert inbox_rows(wid) == []
    ok = client.post(
        f"/api/webhooks/{wid}/orders", json={"orderId": 1}, headers={"X-ConnectFlow-Secret": secret}
    )
    assert ok.status_code == 202
    execution = finished_execution(cf, ok.json()["execution_id"])
    assert "x-connectflow-secret" not in execution.context["webhook"]["headers"]
    run = cf.instance.get_run_by_id(execution.id)
    assert secret not in str(run.run_config) + str(run.tags)


def test_bad_requests_are_refused_and_store_nothing(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    client = live_gateway.client()
    url = f"/api/webhooks/{wid}/orders"
    assert client.post(url, content=b"{bad", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post(url, content=b"hello", headers={"Content-Type": "text/plain"}).status_code == 415
    big = b'{"a": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    assert client.post(url, content=big, headers={"Content-Type": "application/json"}).status_code == 413
    assert client.post(f"/api/webhooks/{wid}/other-path", json={}).status_code == 404
    assert client.post("/api/webhooks/unknown_workflow/orders", json={}).status_code == 404
    assert inbox_rows(wid) == []


def test_after_run_answers_with_the_result(cf, live_gateway, worker_thread):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(response_mode="after_run", response_node="reply"), owner.user_id)
    response = live_gateway.client().post(f"/api/webhooks/{wid}/orders", json={"orderId": "C-3"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    assert response.json()["data"] == {"message": "order C-3 received"}

    whole = save(hook_workflow(response_mode="after_run"), owner.user_id)[0]
    response = live_gateway.client().post(f"/api/webhooks/{whole}/orders", json={"orderId": "D-4"})
    assert response.json()["data"]["reply"] == {"message": "order D-4 received"}


def test_after_run_falls_back_to_202_when_the_run_takes_too_long(cf, live_gateway):
    owner = live_gateway.user()  # no worker: the run cannot finish within the timeout
    wid, _ = save(hook_workflow(response_mode="after_run", response_timeout_seconds=0.3), owner.user_id)
    response = live_gateway.client().post(f"/api/webhooks/{wid}/orders", json={"orderId": "E-5"})
    assert response.status_code == 202
    assert [r.id for r in inbox_rows(wid)] == [response.json()["execution_id"]]


def test_every_change_to_the_workflow_takes_effect_on_the_next_request(cf, live_gateway):
    """The ingest path caches only parsed immutable versions: a new version, a secret set or rotated,
    deactivation and deletion are seen by the very next webhook (after one already warmed the cache)."""
    from sqlalchemy import update

    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import Workflow

    owner = live_gateway.user()
    wid, first_version = save(hook_workflow(), owner.user_id)
    client = live_gateway.client()
    assert client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}).status_code == 202
    _, second_version = save({**hook_workflow(path="invoices"), "id": wid}, owner.user_id)
    assert client.post(f"/api/webhooks/{wid}/orders", json={}).status_code == 404
    assert client.post(f"/api/webhooks/{wid}/invoices", json={}).status_code == 202
    assert [r.version_id for r in sorted(inbox_rows(wid), key=lambda r: r.created_at)] == [
        first_version,
        second_version,
    ]
    old = owner.post(f"/api/workflows/{wid}/triggers/hook/secret").json()["secret"]
    assert client.post(f"/api/webhooks/{wid}/invoices", json={}).status_code == 401
    new = owner.post(f"/api/workflows/{wid}/triggers/hook/secret").json()["secret"]
    url = f"/api/webhooks/{wid}/invoices"
    assert client.post(url, json={}, headers={"X-ConnectFlow-Secret": old}).status_code == 401
    assert client.post(url, json={}, headers={"X-ConnectFlow-Secret": new}).status_code == 202
    with session_scope() as session:
        session.execute(update(Workflow).where(Workflow.id == wid).values(active=False))
    assert client.post(url, json={}, headers={"X-ConnectFlow-Secret": new}).status_code == 404
    with session_scope() as session:
        session.execute(update(Workflow).where(Workflow.id == wid).values(active=True))
    assert client.post(url, json={}, headers={"X-ConnectFlow-Secret": new}).status_code == 202
    assert owner.delete(f"/api/workflows/{wid}").status_code == 204
    assert client.post(url, json={}, headers={"X-ConnectFlow-Secret": new}).status_code == 404
    assert len(inbox_rows(wid)) == 4
