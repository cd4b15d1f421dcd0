"""Active / inactive: an inactive workflow's production triggers answer 404 and its schedules stop."""

from __future__ import annotations

import pytest

from tests.dispatch.conftest import inbox_rows, save
from tests.dispatch.test_dagster_defs import scheduled_workflow
from tests.dispatch.test_webhook import hook_workflow

pytestmark = pytest.mark.usefixtures("backend")


def test_deactivating_answers_404_on_production_triggers_and_activating_restores_them(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    client = live_gateway.client()
    assert owner.get(f"/api/workflows/{wid}").json()["active"] is True  # the default (docs/decisions.md)
    assert client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 1}).status_code == 202

    off = owner.post(f"/api/workflows/{wid}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert owner.get("/api/workflows").json()["data"][0]["active"] is False
    refused = client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 2})
    assert refused.status_code == 404
    assert len(inbox_rows(wid)) == 1  # nothing stored for the refused call
    # Manual execution stays possible (it is not a production trigger).
    assert owner.post(f"/api/workflows/{wid}/execute", json={}).status_code == 202

    on = owner.post(f"/api/workflows/{wid}/activate")
    assert on.status_code == 200 and on.json()["active"] is True
    assert client.post(f"/api/webhooks/{wid}/orders", json={"orderId": 3}).status_code == 202


def test_another_user_cannot_activate_or_deactivate(cf, live_gateway):
    owner, other = live_gateway.user(), live_gateway.user()
    wid, _ = save(hook_workflow(), owner.user_id)
    assert other.post(f"/api/workflows/{wid}/deactivate").status_code == 404
    assert other.post(f"/api/workflows/{wid}/activate").status_code == 404
    assert owner.get(f"/api/workflows/{wid}").json()["active"] is True
    assert other.post("/api/workflows/nope/deactivate").status_code == 404


def test_an_inactive_workflow_has_no_schedule_and_its_ticks_queue_nothing(cf, empty_inbox):
    import datetime as dt

    from connectflow_dagster.dispatch.dagster_defs import enqueue_tick, schedule_name, schedules_and_sensors
    from connectflow_dagster.store import workflows as store
    from connectflow_dagster.store.db import session_scope

    owner = cf.new_user()
    wid, _ = save(scheduled_workflow(), owner)

    def names() -> set[str]:
        return {s.name for s in schedules_and_sensors()["schedules"]}

    assert schedule_name(wid, "tick") in names()
    with session_scope() as session:
        store.set_active(session, owner, wid, False)
    assert schedule_name(wid, "tick") not in names()
    # A tick already scheduled by the daemon before the location reloaded queues nothing.
    assert enqueue_tick(wid, "tick", dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)) is None
    assert inbox_rows(wid) == []
    with session_scope() as session:
        store.set_active(session, owner, wid, True)
    assert schedule_name(wid, "tick") in names()
