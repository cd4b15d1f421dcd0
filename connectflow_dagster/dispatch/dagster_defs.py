"""What dispatch adds to the Dagster code location: one schedule per schedule trigger, and the inbox sensor.

``definitions.py`` calls ``schedules_and_sensors()``.

- **Schedules** put each tick into the trigger inbox (dedup key: trigger node + scheduled time, so a
  tick evaluated twice starts one run); whichever dispatcher is configured runs it like any event.
- **The inbox sensor** is the dispatcher for deployments that scale out through Dagster's run
  launchers (``CONNECTFLOW_DISPATCH=sensor``; it is created stopped otherwise). For each pending event
  it creates the run exactly as a worker does — same job, tags and run config, run id = event id
  (``execution.create_run``) — and submits it to the instance's run coordinator, which hands it to
  the configured launcher (Default / Docker / K8s / Celery). It does not yield ``RunRequest``s because
  a ``RunRequest`` cannot carry a run id, and the inbox id *is* the execution id the caller already
  holds; creating the run under that id plays the role of the run key (a second submission of the same
  event finds the run instead of making another). See docs/decisions.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    SensorDefinition,
    SkipReason,
    sensor,
)

from connectflow_dagster.compiler import job_name
from connectflow_dagster.dispatch import inbox
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.store.db import session_scope

log = logging.getLogger("connectflow.dispatch")

SENSOR_NAME = "connectflow_inbox"
SENSOR_WORKER_ID = "dagster-sensor"


# ---- schedules -----------------------------------------------------------------------------------------


def schedule_name(workflow_id: str, node_id: str) -> str:
    return f"{job_name(workflow_id)}__{node_id}"


def enqueue_tick(workflow_id: str, node_id: str, scheduled: dt.datetime) -> tuple[str, bool] | None:
    """Accept one schedule tick of the workflow's *current* version; None if the trigger is gone."""
    from connectflow_dagster.dispatch.ingest import find_trigger

    with session_scope() as session:
        target = find_trigger(session, workflow_id, "trigger.schedule")
        if target is None or target.node.id != node_id:
            return None
        params: Any = target.params
        when = scheduled.astimezone(dt.UTC).isoformat()
        payload = {"scheduled_time": when, "cron": params.cron, "timezone": params.timezone}
        accepted = inbox.accept_event(
            session,
            workflow_id=target.workflow_id,
            owner_id=target.owner_id,
            version_id=target.version_id,
            trigger_node_id=node_id,
            payload=payload,
            dedup_key=f"schedule:{node_id}:{when}",
        )
    return accepted.execution_id, accepted.created


def _schedule_for(workflow_id: str, node_id: str, cron: str, timezone: str) -> ScheduleDefinition:
    def evaluate(context: Any) -> SkipReason:
        scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        result = enqueue_tick(workflow_id, node_id, scheduled)
        if result is None:
            return SkipReason(f"workflow '{workflow_id}' no longer has schedule trigger '{node_id}'")
        execution_id, created = result
        verb = "queued" if created else "already queued"
        return SkipReason(f"{verb} as execution {execution_id}; the ConnectFlow dispatcher runs it")

    return ScheduleDefinition(
        name=schedule_name(workflow_id, node_id),
        cron_schedule=cron,
        execution_timezone=timezone,
        job_name=job_name(workflow_id),
        execution_fn=evaluate,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Schedule trigger '{node_id}' of workflow '{workflow_id}'",
    )


def workflow_schedules() -> list[ScheduleDefinition]:
    """One schedule per enabled schedule trigger of every live, active workflow."""
    from connectflow_dagster.dispatch.ingest import trigger_nodes
    from connectflow_dagster.store.workflows import active_workflows, version_spec

    out = []
    with session_scope() as session:
        rows = active_workflows(session)
        for wf, version in rows:
            if not wf.active or "trigger.schedule" not in str(version.spec):
                continue
            for node, params in trigger_nodes(version_spec(version), "trigger.schedule"):
                out.append(_schedule_for(wf.id, node.id, params.cron, params.timezone))  # type: ignore[attr-defined]
    return out


# ---- the inbox sensor ------------------------------------------------------------------------------------


def submit_pending_events(instance: DagsterInstance, limit: int) -> list[str]:
    """Create and submit the runs of up to ``limit`` pending events; returns their execution ids."""
    from connectflow_dagster.execution import RunTarget, create_run
    from connectflow_dagster.store.workflows import version_by_id, version_spec

    submitted: list[str] = []
    for _ in range(limit):
        with session_scope() as session:
            event = inbox.claim_next_event(session, SENSOR_WORKER_ID)
        if event is None:
            break
        try:
            run = instance.get_run_by_id(event.id)
            if run is None:
                with session_scope() as session:
                    version = version_by_id(session, event.version_id)
                    target = RunTarget(version_spec(version), version.id, version.number, event.owner_id)
                _, run = create_run(
                    instance,
                    target,
                    trigger_node_id=event.trigger_node_id,
                    payload=event.payload,
                    run_id=event.id,
                    event_id=event.id,
                )
            if run.status == DagsterRunStatus.NOT_STARTED:
                instance.submit_run(event.id, workspace=None)  # type: ignore[arg-type]  # queued coordinator ignores it
        except Exception as exc:
            log.exception("event %s: could not submit its run", event.id)
            with session_scope() as session:
                inbox.fail_event(
                    session,
                    event.id,
                    SENSOR_WORKER_ID,
                    f"{type(exc).__name__}: {exc}",
                    retry=True,
                    attempts=event.attempts,
                )
            continue
        with session_scope() as session:
            inbox.complete_event(session, event.id, SENSOR_WORKER_ID, status=inbox.SUBMITTED)
        submitted.append(event.id)
    return submitted


def inbox_sensor() -> SensorDefinition:
    settings = get_dispatch_settings()

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=5,
        default_status=(
            DefaultSensorStatus.RUNNING if settings.dispatch == "sensor" else DefaultSensorStatus.STOPPED
        ),
        description="Submits trigger-inbox events as Dagster runs through the run coordinator and launcher "
        "(CONNECTFLOW_DISPATCH=sensor).",
    )
    def connectflow_inbox(context: Any) -> SkipReason:
        if get_dispatch_settings().dispatch != "sensor":
            return SkipReason("CONNECTFLOW_DISPATCH is 'worker': the warm workers run inbox events")
        ids = submit_pending_events(context.instance, get_dispatch_settings().sensor_batch)
        return SkipReason(
            f"submitted {len(ids)} event(s) as runs: {', '.join(ids)}" if ids else "inbox empty"
        )

    return connectflow_inbox


def schedules_and_sensors() -> dict[str, list[Any]]:
    """What ``definitions.py`` adds to the code location."""
    return {"schedules": workflow_schedules(), "sensors": [inbox_sensor()]}
