"""The trigger inbox and the warm worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import DagsterRunStatus, RunsFilter

from connectflow_dagster.dispatch import inbox
from connectflow_dagster.dispatch.worker import Worker
from connectflow_dagster.execution import RunTarget, create_run, get_execution
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import version_by_id, version_spec
from connectflow_dagster.tags import TAG_EVENT, TAG_OWNER, TAG_TRIGGER, TAG_WORKER_LOST, TAG_WORKFLOW
from tests.dispatch.conftest import manual_set_workflow, save

pytestmark = pytest.mark.usefixtures("backend", "empty_inbox")


def _enqueue(wid: str, vid: int, owner: str, payload=None, dedup=None) -> tuple[str, bool]:
    return inbox.enqueue(wid, owner, vid, "start", payload or {"name": "Ada"}, dedup)


def _status(event_id: str) -> str:
    with session_scope() as session:
        return inbox.get_event(session, event_id).status


def test_a_dedup_key_is_accepted_once(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    first, created = _enqueue(wid, vid, owner, dedup="evt_1")
    again, created_again = _enqueue(wid, vid, owner, dedup="evt_1")
    other, other_created = _enqueue(wid, vid, owner)
    assert created and not created_again and other_created
    assert again == first and other != first
    with session_scope() as session:
        assert inbox.status_counts(session) == {"pending": 2}


def test_a_worker_runs_an_event_as_the_dagster_run_with_its_id(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner, {"name": "Grace"})
    outcome = Worker(instance=cf.instance).run_one()
    assert outcome.event_id == event_id and outcome.run_id == event_id and outcome.status == "done"
    execution = get_execution(cf.instance, event_id, owner_id=owner)
    assert execution.status == "success"
    assert execution.context["greet"] == {"message": "hello Grace"}
    tags = cf.instance.get_run_by_id(event_id).tags
    assert tags[TAG_EVENT] == event_id and tags[TAG_WORKFLOW] == wid
    assert tags[TAG_OWNER] == owner and tags[TAG_TRIGGER] == "start"
    assert _status(event_id) == "done"
    assert Worker(instance=cf.instance).run_one() is None  # nothing left, nothing re-run


def test_two_claims_never_get_the_same_event(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner)
    with session_scope() as session:
        first = inbox.claim_next_event(session, "w1")
    with session_scope() as session:
        second = inbox.claim_next_event(session, "w2")
    assert first.id == event_id and first.attempts == 1 and second is None


def test_an_expired_lease_makes_the_event_claimable_again(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner)
    with session_scope() as session:
        inbox.claim_next_event(session, "dead-worker", lease_seconds=0)
    outcome = Worker(instance=cf.instance).run_one()
    assert outcome.event_id == event_id and outcome.status == "done"
    with session_scope() as session:
        assert inbox.get_event(session, event_id).attempts == 2
    assert get_execution(cf.instance, event_id).status == "success"


def test_a_run_left_unfinished_by_a_dead_worker_is_failed_with_the_reason_and_retried(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner, {"name": "Lin"})
    with session_scope() as session:
        event = inbox.claim_next_event(session, "dead-worker", lease_seconds=0)
        version = version_by_id(session, vid)
        target = RunTarget(version_spec(version), version.id, version.number, owner)
    # the dead worker had created the run (run id = event id) but never finished it
    create_run(
        cf.instance,
        target,
        trigger_node_id="start",
        payload=event.payload,
        run_id=event_id,
        event_id=event_id,
    )

    outcome = Worker(instance=cf.instance).run_one()

    assert outcome.status == "done" and outcome.run_id != event_id
    first = cf.instance.get_run_by_id(event_id)
    assert first.status == DagsterRunStatus.FAILURE and first.tags[TAG_WORKER_LOST] == "true"
    assert "stopped while running this execution" in (get_execution(cf.instance, event_id).error or "")
    retry = cf.instance.get_run_by_id(outcome.run_id)
    assert retry.status == DagsterRunStatus.SUCCESS
    assert retry.tags["dagster/root_run_id"] == event_id and retry.tags[TAG_EVENT] == event_id
    runs = cf.instance.get_runs(RunsFilter(tags={TAG_EVENT: event_id}))
    assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"]


def test_an_event_is_given_up_after_the_configured_attempts(cf, monkeypatch):
    from connectflow_dagster.dispatch.config import get_dispatch_settings

    monkeypatch.setenv("CONNECTFLOW_MAX_ATTEMPTS", "1")
    get_dispatch_settings.cache_clear()
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner)
    with session_scope() as session:
        inbox.claim_next_event(session, "dead-worker", lease_seconds=0)
    outcome = Worker(instance=cf.instance).run_one()
    assert outcome.status == "failed" and outcome.run_id is None
    with session_scope() as session:
        row = inbox.get_event(session, event_id)
        assert row.status == "failed" and "gave up after 1 attempts" in row.error
    assert cf.instance.get_runs(RunsFilter(tags={TAG_EVENT: event_id})) == []


def test_a_finished_run_whose_worker_died_before_recording_it_is_not_run_again(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = _enqueue(wid, vid, owner)
    worker = Worker(instance=cf.instance)
    with session_scope() as session:
        event = inbox.claim_next_event(session, worker.worker_id, lease_seconds=0)
    worker.execute(event)  # ran, but pretend the completion was lost: put the claim back as expired
    with session_scope() as session:
        row = inbox.get_event(session, event_id)
        row.status, row.claimed_by = "claimed", "dead-worker"
        row.lease_expires_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    outcome = Worker(instance=cf.instance).run_one()
    assert outcome.status == "done" and outcome.run_id == event_id
    assert len(cf.instance.get_runs(RunsFilter(tags={TAG_EVENT: event_id}))) == 1
