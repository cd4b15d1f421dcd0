"""What dispatch adds to the Dagster code location: one schedule per schedule trigger, and the inbox sensor.

``definitions.py`` takes ``workflow_schedules`` (for the versions it lists) and ``inbox_sensor``.

- **Schedules** put each tick into the trigger inbox (dedup key: trigger node + scheduled time, so a
  tick evaluated twice starts one run); whichever dispatcher is configured runs it like any event.
- **The inbox sensor** is the dispatcher for deployments that scale out through Dagster's run
  launchers (``CONNECTFLOW_DISPATCH=sensor``; it is created stopped otherwise). For each pending event
  it creates the run exactly as a worker does — same job, tags and run config, run id = event id
  (``execution.create_run``) — and submits it to the instance's run coordinator, which hands it to
  the configured launcher (Default / Docker / K8s / Celery). It does not yield ``RunRequest``s because
  a ``RunRequest`` cannot carry a run id, and the inbox id *is* the execution id the caller already
  holds; creating the run under that id plays the role of the run key (a second submission of the same
  event finds the run instead of making another). An event is ``submitted`` while its run is queued or
  executing in another process; each tick first marks ``done`` the submitted events whose runs have
  finished (success, failure or canceled), as a worker does for the runs it executes. See
  docs/decisions.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunsFilter,
    ScheduleDefinition,
    SensorDefinition,
    SkipReason,
    sensor,
)
from sqlalchemy import select, update

from connectflow_dagster import waits
from connectflow_dagster.compiler import compile_problems, job_name, workflow_prefix
from connectflow_dagster.dispatch import error_workflow, inbox, notify
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import TriggerEvent

log = logging.getLogger("connectflow.dispatch")

SENSOR_NAME = "connectflow_inbox"
SENSOR_WORKER_ID = "dagster-sensor"
# Submitted events looked at per tick when marking finished ones done (they are the runs queued or
# executing right now, bounded by the run coordinator's queue, so one page is normally all of them).
RECONCILE_BATCH = 1000
_FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


# ---- schedules -----------------------------------------------------------------------------------------


def schedule_name(workflow_id: str, node_id: str) -> str:
    """``wf_<id>__<node>``: stable across versions (a schedule belongs to the workflow's trigger)."""
    return f"{workflow_prefix(workflow_id)}__{node_id}"


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
    if accepted.created:
        notify.publish(notify.INBOX)
    return accepted.execution_id, accepted.created


def _schedule_for(
    workflow_id: str, version: int, node_id: str, cron: str, timezone: str
) -> ScheduleDefinition:
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
        job_name=job_name(workflow_id, version),  # the current version's job (a tick runs the current one)
        execution_fn=evaluate,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Schedule trigger '{node_id}' of workflow '{workflow_id}'",
    )


ScheduledVersion = tuple[str, int, dict[str, Any], bool]  # workflow id, version number, document, active
"""A current version as ``workflow_schedules`` reads it."""


def _current_versions() -> list[ScheduledVersion]:
    from connectflow_dagster.store.workflows import active_workflows

    with session_scope() as session:
        return [(wf.id, v.number, v.spec, wf.active) for wf, v in active_workflows(session)]


def _compiles(workflow_id: str, version: int, document: dict[str, Any]) -> bool:
    from connectflow_dagster import spec

    workflow = spec.Workflow.model_validate({**document, "id": workflow_id})
    return not compile_problems(workflow, version=version)


def workflow_schedules(
    versions: Iterable[ScheduledVersion] | None = None,
    compiles: Callable[[str, int], bool] | None = None,
) -> list[ScheduleDefinition]:
    """One schedule per enabled schedule trigger of every live, active workflow's current version.

    A version that does not compile gets no schedule (the code location leaves its job out, and a
    schedule must target a job that exists); ``compiles`` answers that, defaulting to compiling it.
    """
    from connectflow_dagster import spec
    from connectflow_dagster.dispatch.ingest import trigger_nodes

    out = []
    for workflow_id, number, document, active in versions if versions is not None else _current_versions():
        if not active or "trigger.schedule" not in str(document):
            continue
        try:
            workflow = spec.Workflow.model_validate({**document, "id": workflow_id})
            nodes = list(trigger_nodes(workflow, "trigger.schedule"))
            runnable = compiles(workflow_id, number) if compiles else _compiles(workflow_id, number, document)
        except Exception:  # a document this code cannot read: the location's job check logs it
            log.warning("workflow %s version %d: schedule triggers not readable", workflow_id, number)
            continue
        if not runnable:
            continue
        for node, params in nodes:
            out.append(_schedule_for(workflow_id, number, node.id, params.cron, params.timezone))  # type: ignore[attr-defined]
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
            parent_run_id, resume_node = event.parent_run_id, None
            wait_id = waits.wait_id_of(event.dedup_key)
            if run is None and wait_id is not None:  # the continuation of a waiting execution
                with session_scope() as session:
                    wait = waits.claim_for_continuation(session, wait_id, event.id)
                    resumed = (wait.run_id, wait.node_id) if wait is not None else None
                if resumed is None:  # resumed by its URL first, or canceled
                    with session_scope() as session:
                        inbox.complete_event(session, event.id, SENSOR_WORKER_ID, status=inbox.CANCELED)
                    continue
                parent_run_id, resume_node = resumed
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
                    parent_run_id=parent_run_id,  # a retry (re-execution from failure) or continuation
                    resume_node=resume_node,
                    extra_tags=event.run_tags,
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


def complete_finished_submissions(instance: DagsterInstance, limit: int = RECONCILE_BATCH) -> list[str]:
    """Mark ``done`` the submitted events whose runs have finished; returns their execution ids.

    A worker marks its event done when the run it executed returns; on the sensor path the run
    executes in a process the launcher started, so the sensor records the outcome on a later tick.
    An event whose run no longer exists (deleted from the Dagster UI) is marked failed.
    """
    with session_scope() as session:
        ids = list(
            session.scalars(
                select(TriggerEvent.id)
                .where(TriggerEvent.status == inbox.SUBMITTED)
                .order_by(TriggerEvent.created_at)
                .limit(limit)
            )
        )
    if not ids:
        return []
    runs = {run.run_id: run.status for run in instance.get_runs(RunsFilter(run_ids=ids))}
    finished = [i for i in ids if runs.get(i) in _FINISHED]
    missing = [i for i in ids if i not in runs]
    for execution_id in finished:  # before marking them done: a failed tick reports them (once) again
        if runs[execution_id] == DagsterRunStatus.FAILURE:
            try:
                error_workflow.report_failure(instance, execution_id)
            except Exception:
                log.exception("run %s: could not queue its error workflow", execution_id)
    now = dt.datetime.now(dt.UTC)
    submitted = (TriggerEvent.status == inbox.SUBMITTED, TriggerEvent.claimed_by == SENSOR_WORKER_ID)
    with session_scope() as session:
        if finished:
            session.execute(
                update(TriggerEvent)
                .where(TriggerEvent.id.in_(finished), *submitted)
                .values(status=inbox.DONE, finished_at=now)
            )
        if missing:
            session.execute(
                update(TriggerEvent)
                .where(TriggerEvent.id.in_(missing), *submitted)
                .values(status=inbox.FAILED, finished_at=now, error="its Dagster run was deleted")
            )
    if finished:  # waits that suspended those runs: their timed continuations join the inbox
        with session_scope() as session:
            for execution_id in finished:
                waits.finalize_run(session, execution_id, runs[execution_id] == DagsterRunStatus.SUCCESS)
        notify.publish(notify.INBOX)
    for execution_id in finished + missing:  # after-run webhooks and live events waiting on them
        notify.publish(notify.RUN_END, execution_id)
    return finished


def inbox_sensor() -> SensorDefinition:
    settings = get_dispatch_settings()

    @sensor(
        name=SENSOR_NAME,
        # The daemon's sensor loop runs every 5 s (hard-coded) and skips a sensor whose last tick
        # *started* less than minimum_interval_seconds ago; at 5 the tick of the next loop is always
        # a few ms short, so the sensor ticked every 10 s. Anything below 5 means every loop.
        minimum_interval_seconds=1,
        default_status=(
            DefaultSensorStatus.RUNNING if settings.dispatch == "sensor" else DefaultSensorStatus.STOPPED
        ),
        description="Submits trigger-inbox events as Dagster runs through the run coordinator and launcher "
        "(CONNECTFLOW_DISPATCH=sensor).",
    )
    def connectflow_inbox(context: Any) -> SkipReason:
        if get_dispatch_settings().dispatch != "sensor":
            return SkipReason("CONNECTFLOW_DISPATCH is 'worker': the warm workers run inbox events")
        done = complete_finished_submissions(context.instance)
        ids = submit_pending_events(context.instance, get_dispatch_settings().sensor_batch)
        parts = [f"submitted {len(ids)} event(s) as runs: {', '.join(ids)}"] if ids else []
        if done:
            parts.append(f"{len(done)} finished run(s) marked done: {', '.join(done)}")
        return SkipReason("; ".join(parts) or "inbox empty")

    return connectflow_inbox


def schedules_and_sensors() -> dict[str, list[Any]]:
    """The schedules and the inbox sensor (``definitions.py`` builds the same from its own listing)."""
    return {"schedules": workflow_schedules(), "sensors": [inbox_sensor()]}
