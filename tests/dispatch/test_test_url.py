"""Test URLs ("listen for test event"): only while the owner listens, one call, also when inactive."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.dispatch.conftest import finished_execution, inbox_rows, save
from tests.dispatch.test_webhook import hook_workflow

pytestmark = pytest.mark.usefixtures("backend")


def test_an_inactive_workflows_webhook_is_404_while_its_test_url_works_in_listening_mode(
    cf, live_gateway, worker_thread
):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    assert owner.post(f"/api/workflows/{wid}/deactivate").status_code == 200
    client = live_gateway.client()
    test_path = f"/api/webhook-test/{wid}/orders"
    assert client.post(test_path, json={"orderId": 0}).status_code == 404  # not listening
    assert owner.get(f"/api/workflows/{wid}/listen").json()["listening"] is False

    state = owner.post(f"/api/workflows/{wid}/listen").json()
    assert state["listening"] is True and state["execution_id"] is None
    assert [u["url"] for u in state["test_urls"]] == [f"{live_gateway.url}{test_path}"]
    assert client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}).status_code == 404  # inactive
    accepted = client.post(test_path + "?src=editor", json={"orderId": 2})
    assert accepted.status_code == 202, accepted.text
    execution_id = accepted.json()["execution_id"]
    # The editor finds the execution the test call started, and listening is over (one event).
    after = owner.get(f"/api/workflows/{wid}/listen").json()
    assert after["execution_id"] == execution_id and after["listening"] is False
    assert client.post(test_path, json={"orderId": 3}).status_code == 404
    execution = finished_execution(cf, execution_id)
    assert execution.status == "success" and execution.context["reply"] == {"message": "order 2 received"}
    assert len(inbox_rows(wid)) == 1


def test_listening_is_owner_only_stoppable_and_one_concurrent_call_wins(cf, live_gateway):
    owner, other = live_gateway.user(), live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    for method in ("post", "get", "delete"):
        assert getattr(other, method)(f"/api/workflows/{wid}/listen").status_code == 404
    assert owner.post(f"/api/workflows/{wid}/listen").status_code == 200
    stopped = owner.delete(f"/api/workflows/{wid}/listen").json()
    assert stopped["listening"] is False
    client = live_gateway.client()
    assert client.post(f"/api/webhook-test/{wid}/orders", json={}).status_code == 404

    owner.post(f"/api/workflows/{wid}/listen")

    def call(i: int) -> int:
        with live_gateway.client() as c:
            return c.post(f"/api/webhook-test/{wid}/orders", json={"orderId": i}).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(call, range(6)))
    assert codes == [202] + [404] * 5, codes
    assert len(inbox_rows(wid)) == 1


def test_the_test_url_keeps_the_trigger_secret_and_body_limit(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    secret = owner.post(f"/api/workflows/{wid}/triggers/hook/secret").json()["secret"]
    owner.post(f"/api/workflows/{wid}/listen")
    client = live_gateway.client()
    path = f"/api/webhook-test/{wid}/orders"
    assert client.post(path, json={"orderId": 1}).status_code == 401
    huge = client.post(
        path, content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413
    assert owner.get(f"/api/workflows/{wid}/listen").json()["listening"] is True  # refused calls take nothing
    ok = client.post(path, json={"orderId": 1}, headers={"X-ConnectFlow-Secret": secret})
    assert ok.status_code == 202
