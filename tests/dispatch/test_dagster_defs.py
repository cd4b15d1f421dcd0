"""Schedules and the inbox sensor in the Dagster code location; both dispatchers make the same runs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dagster import DagsterRunStatus, build_schedule_context, build_sensor_context

from connectflow_dagster.dispatch import inbox
from connectflow_dagster.dispatch.dagster_defs import SENSOR_NAME, schedule_name
from connectflow_dagster.dispatch.worker import Worker
from connectflow_dagster.execution import get_execution
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.tags import TAG_EVENT, TAG_TRIGGER, TAG_VERSION, TAG_WORKFLOW
from tests.dispatch.conftest import inbox_rows, manual_set_workflow, save

pytestmark = pytest.mark.usefixtures("backend", "empty_inbox")


def scheduled_workflow() -> dict:
    return {
        "name": "Every weekday morning",
        "nodes": [
            {
                "id": "tick",
                "type": "trigger.schedule",
                "name": "Schedule",
                "params": {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"},
            },
            {
                "id": "note",
                "type": "set",
                "name": "Note",
                "params": {"fields": {"at": "{{ schedule.scheduled_time }}"}},
            },
        ],
        "edges": [{"source": "tick", "target": "note"}],
    }


def repository():
    from connectflow_dagster.definitions import connectflow

    return connectflow


def schedule_named(name: str):
    """From what the code location loads (the repository object itself caches its first load)."""
    from connectflow_dagster.dispatch.dagster_defs import schedules_and_sensors

    return next(s for s in schedules_and_sensors()["schedules"] if s.name == name)


def test_a_schedule_trigger_becomes_a_dagster_schedule_whose_ticks_run_once(cf):
    owner = cf.new_user()
    wid, _ = save(scheduled_workflow(), owner)
    schedule = schedule_named(schedule_name(wid, "tick"))
    assert schedule.cron_schedule == "0 9 * * 1-5" and schedule.execution_timezone == "Europe/Paris"
    assert schedule.job_name == f"wf_{wid}__v1"

    when = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    for _ in range(2):  # a tick evaluated twice (daemon restart) queues one event
        with build_schedule_context(instance=cf.instance, scheduled_execution_time=when) as context:
            result = schedule.evaluate_tick(context)
        assert result.skip_message and "queued as execution" in result.skip_message
    rows = inbox_rows(wid)
    assert len(rows) == 1 and json.loads(rows[0].payload)["scheduled_time"] == when.isoformat()

    outcome = Worker(instance=cf.instance).run_one()
    execution = get_execution(cf.instance, outcome.run_id)
    assert execution.status == "success" and execution.context["note"] == {"at": when.isoformat()}


def test_invalid_cron_or_timezone_is_a_validation_problem_on_the_node(cf):
    from connectflow_dagster import spec

    bad = scheduled_workflow()
    bad["nodes"][0]["params"] = {"cron": "every day", "timezone": "Mars/Olympus"}
    problems = spec.validate(spec.parse_workflow(bad))
    fields = {(p.node_id, p.field) for p in problems}
    assert ("tick", "params.cron") in fields and ("tick", "params.timezone") in fields


def test_the_sensor_is_stopped_and_idle_unless_dispatch_is_sensor(cf):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
    sensor = repository().get_sensor_def(SENSOR_NAME)
    assert sensor.default_status.value == "STOPPED"
    with build_sensor_context(instance=cf.instance) as context:
        result = sensor.evaluate_tick(context)
    assert "worker" in result.skip_message
    assert [r.status for r in inbox_rows(wid)] == ["pending"]


def test_the_sensor_and_the_worker_make_the_same_runs(cf, monkeypatch):
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.dagster_defs import inbox_sensor

    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    by_worker, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
    Worker(instance=cf.instance).run_one()
    by_sensor, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})

    monkeypatch.setenv("CONNECTFLOW_DISPATCH", "sensor")
    get_dispatch_settings.cache_clear()
    sensor = inbox_sensor()
    assert sensor.default_status.value == "RUNNING"
    with build_sensor_context(instance=cf.instance) as context:
        result = sensor.evaluate_tick(context)
    assert by_sensor in result.skip_message
    with build_sensor_context(instance=cf.instance) as context:
        assert sensor.evaluate_tick(context).skip_message == "inbox empty"  # nothing submitted twice

    worker_run, sensor_run = cf.instance.get_run_by_id(by_worker), cf.instance.get_run_by_id(by_sensor)
    assert sensor_run.status == DagsterRunStatus.QUEUED  # handed to the run coordinator / launcher
    assert sensor_run.job_name == worker_run.job_name == f"wf_{wid}__v1"
    assert sensor_run.run_config == worker_run.run_config | {
        "resources": {
            "cf_trigger": {
                "config": {
                    **worker_run.run_config["resources"]["cf_trigger"]["config"],
                    "event_id": by_sensor,
                }
            }
        }
    }
    same = {TAG_WORKFLOW, TAG_VERSION, TAG_TRIGGER}
    assert {k: sensor_run.tags[k] for k in same} == {k: worker_run.tags[k] for k in same}
    assert sensor_run.tags[TAG_EVENT] == by_sensor
    assert sensor_run.job_snapshot_id == worker_run.job_snapshot_id
    assert sensor_run.remote_job_origin == worker_run.remote_job_origin
    with session_scope() as session:
        assert inbox.get_event(session, by_sensor).status == "submitted"


def test_the_sensor_marks_submitted_events_done_when_their_runs_finish(cf, monkeypatch):
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.dagster_defs import inbox_sensor

    monkeypatch.setenv("CONNECTFLOW_DISPATCH", "sensor")
    get_dispatch_settings.cache_clear()
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    finished, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
    running, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Bob"})
    deleted, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Cy"})
    sensor = inbox_sensor()
    with build_sensor_context(instance=cf.instance) as context:
        sensor.evaluate_tick(context)
    assert {r.status for r in inbox_rows(wid)} == {"submitted"}

    # What the launched processes would do: one run ends (canceled counts), one is still going, and
    # one is deleted from the Dagster UI.
    cf.instance.report_run_canceled(cf.instance.get_run_by_id(finished))
    cf.instance.delete_run(deleted)
    with build_sensor_context(instance=cf.instance) as context:
        result = sensor.evaluate_tick(context)
    assert result.skip_message == f"1 finished run(s) marked done: {finished}"
    rows = {r.id: r for r in inbox_rows(wid)}
    assert rows[finished].status == "done" and rows[finished].finished_at is not None
    assert rows[running].status == "submitted"
    assert rows[deleted].status == "failed" and rows[deleted].error == "its Dagster run was deleted"
