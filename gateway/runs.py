"""Starting, retrying and cancelling executions from the gateway: all through the trigger inbox.

Nothing executes here. ``start_execution`` and ``retry_from_failure`` put an event into the inbox
(``connectflow_dagster.dispatch.inbox``) and answer with its id at once; a worker process creates the
Dagster run under that same id and executes it (DESIGN.md decision 14, "one run path"), exactly as
for a webhook, an API key or a schedule. A retry is an event that names the failed run it
re-executes from failure, on that run's pinned version.

Cancelling: an event no worker has started is marked canceled in the inbox and never runs; a
queued Dagster run is marked canceled; a run a worker is executing is marked *canceling* and the
worker is notified (``CANCEL``): it interrupts the run the way Dagster interrupts a run worker, so
Dagster records it canceled. A run launched elsewhere (the sensor path's run launcher) is handed to
the instance's run launcher to terminate.
"""

from __future__ import annotations

import logging
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy.orm import Session

from connectflow_dagster import waits
from connectflow_dagster.dispatch import inbox, notify
from connectflow_dagster.errors import Conflict, NotFound
from connectflow_dagster.execution import RunTarget, default_trigger
from connectflow_dagster.tags import TAG_OWNER, TAG_TRIGGER, TAG_VERSION_ID, TAG_WORKER, TAG_WORKFLOW

log = logging.getLogger(__name__)


def start_execution(
    session: Session, target: RunTarget, *, trigger_node_id: str | None = None, payload: Any = None
) -> str:
    """Enqueue a run of ``target`` (committed in the request's ``session``); returns the execution id
    (the Dagster run id to be) at once."""
    execution_id, _ = inbox.enqueue(
        target.workflow.id or "",
        target.owner_id,
        target.version_id,
        trigger_node_id or default_trigger(target.workflow),
        payload if payload is not None else {},
        session=session,
    )
    return execution_id


def retry_from_failure(instance: DagsterInstance, session: Session, run_id: str, owner_id: str) -> str:
    """Enqueue a re-execution of a failed or canceled run: a new run of the same pinned version that
    re-executes the failed steps and what follows them, reusing the parent's outputs for the steps
    that succeeded (Dagster's "re-execute from failure"). Returns the new execution id."""
    parent = instance.get_run_by_id(run_id)
    if parent is None or parent.tags.get(TAG_OWNER) != owner_id or TAG_VERSION_ID not in parent.tags:
        raise NotFound(f"execution '{run_id}' not found")
    if parent.status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        raise Conflict(
            f"only a failed or canceled execution can be retried (this one is {parent.status.value.lower()})"
        )
    execution_id, _ = inbox.enqueue(
        parent.tags.get(TAG_WORKFLOW, ""),
        owner_id,
        int(parent.tags[TAG_VERSION_ID]),
        parent.tags.get(TAG_TRIGGER, ""),
        {},
        parent_run_id=parent.run_id,
        session=session,
    )
    return execution_id


def pinned_version_id(instance: DagsterInstance, session: Session, run_id: str, owner_id: str) -> int:
    """The workflow version an execution of ``owner_id`` runs (404 for anyone else's)."""
    run = instance.get_run_by_id(run_id)
    if run is not None:
        if run.tags.get(TAG_OWNER) != owner_id or TAG_VERSION_ID not in run.tags:
            raise NotFound(f"execution '{run_id}' not found")
        return int(run.tags[TAG_VERSION_ID])
    event = inbox.get_event(session, run_id)
    if event is None or event.owner_id != owner_id:
        raise NotFound(f"execution '{run_id}' not found")
    return event.version_id


def cancel_execution(instance: DagsterInstance, session: Session, run_id: str, owner_id: str) -> str:
    """Cancel a queued or running execution; returns its status name afterwards."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        event = inbox.get_event(session, run_id)
        if event is None or event.owner_id != owner_id:
            raise NotFound(f"execution '{run_id}' not found")
        if not inbox.cancel_event(session, run_id, error="Canceled from the ConnectFlow API."):
            session.refresh(event)
            if event.status in (inbox.CANCELED, inbox.FAILED):
                raise Conflict(f"the execution has already finished ({event.status})")
        run = instance.get_run_by_id(run_id)  # a worker may have created it meanwhile
        if run is None:
            notify.publish(notify.RUN_END, run_id)
            notify.publish(notify.RUN_PROGRESS, run_id)
            return "canceled"
    if run.tags.get(TAG_OWNER) != owner_id:
        raise NotFound(f"execution '{run_id}' not found")
    if run.is_finished:
        if waits.cancel_execution(session, run_id):  # a waiting execution: it is not continued
            notify.publish(notify.RUN_END, run_id)
            notify.publish(notify.RUN_PROGRESS, run_id)
            return "canceled"
        raise Conflict(f"the execution has already finished ({run.status.value.lower()})")
    if run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
        # A worker about to start it sees this and does not.
        inbox.cancel_event(session, run_id, error="Canceled from the ConnectFlow API.")
        instance.report_run_canceled(run, message="Canceled from the ConnectFlow API before it started.")
        notify.publish(notify.RUN_END, run_id)
        notify.publish(notify.RUN_PROGRESS, run_id)
        return "canceled"
    if run.status != DagsterRunStatus.CANCELING:
        instance.report_run_canceling(run, message="Cancel requested from the ConnectFlow API.")
    if TAG_WORKER in run.tags:
        notify.publish(notify.CANCEL, run_id)  # the worker executing it interrupts it
    else:
        try:
            instance.run_launcher.terminate(run_id)
        except Exception as exc:  # a launcher that cannot terminate: the run is left canceling
            log.warning("could not terminate run %s: %s", run_id, exc)
    return "canceling"
