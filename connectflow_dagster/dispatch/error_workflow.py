"""Error workflows: when a run fails, its workflow's ``settings.error_workflow_id`` gets a report.

The worker calls ``report_failure`` once a run it executed has ended *failed* (its nodes' retries
exhausted, a timeout included). The report becomes an inbox event for the error workflow's Error
Trigger (``nodes/triggers/error.py``) — the one run path — with the dedup key ``error:<run id>``, so a
worker that dies after enqueuing and is replaced reports the failure once. Its run is tagged
``connectflow/failed_run_id`` (linked in the Dagster UI and the executions API).

No loops: a run started by an Error Trigger never reports its own failure, and neither does a
sub-workflow's run (its caller's Execute Workflow node fails — or continues — and the *caller's*
error workflow reports that). The error workflow is looked up again at failure time: same owner, not
deleted, its current version has an Error Trigger; otherwise the failure is logged and nothing runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus

from connectflow_dagster import spec
from connectflow_dagster.config import get_settings
from connectflow_dagster.dispatch import inbox, notify
from connectflow_dagster.errors import NotFound, Problem
from connectflow_dagster.execution import get_execution
from connectflow_dagster.nodes.triggers.error import ERROR_TRIGGER
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import current_version, get_workflow, version_spec
from connectflow_dagster.tags import (
    TAG_CALLER_RUN,
    TAG_FAILED_RUN,
    TAG_OWNER,
    TAG_TRIGGER,
    TAG_VERSION_ID,
    TAG_WORKFLOW,
)
from connectflow_dagster.transport import redact_url_secrets

log = logging.getLogger("connectflow.error_workflow")

MAX_MESSAGE_CHARS = 4000


def execution_url(execution_id: str) -> str:
    """The execution's page in the editor, at the address users reach the gateway at."""
    settings = get_settings()
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return f"{base}/ui/executions?id={execution_id}"


def error_workflow_problems(session: Any, owner_id: str, workflow: spec.Workflow) -> list[Problem]:
    """Why ``settings.error_workflow_id`` cannot receive this workflow's failures (empty: it can)."""
    error_id = workflow.settings.error_workflow_id
    if not error_id:
        return []
    field = "settings.error_workflow_id"
    if error_id == workflow.id:
        return [Problem("a workflow cannot be its own error workflow", field=field)]
    try:
        target = version_spec(current_version(session, get_workflow(session, owner_id, error_id)))
    except NotFound:
        return [Problem(f"error workflow '{error_id}' not found", field=field)]
    if not any(n.type == ERROR_TRIGGER for n in target.nodes):
        return [
            Problem(
                f"error workflow '{error_id}' ({target.name}) has no Error Trigger ({ERROR_TRIGGER})",
                field=field,
            )
        ]
    return []


def report_event_id(session: Any, run_id: str) -> str | None:
    """The inbox event (= execution id) of the report a failed run queued, if any."""
    from sqlalchemy import select

    from connectflow_dagster.store.models import TriggerEvent

    return session.scalar(select(TriggerEvent.id).where(TriggerEvent.dedup_key == f"error:{run_id}").limit(1))


def report_failure(instance: DagsterInstance, run_id: str) -> str | None:
    """Enqueue the error workflow of failed run ``run_id``; its execution id, or None (nothing to
    report: not failed, no error workflow, a run of an error workflow or of a sub-workflow)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status != DagsterRunStatus.FAILURE:
        return None
    tags = run.tags
    if TAG_CALLER_RUN in tags or TAG_VERSION_ID not in tags:
        return None
    from connectflow_dagster.store.workflows import version_by_id

    with session_scope() as session:
        workflow = version_spec(version_by_id(session, int(tags[TAG_VERSION_ID])))
        error_id = workflow.settings.error_workflow_id
        trigger_id = tags.get(TAG_TRIGGER, "")
        fired = next((n for n in workflow.nodes if n.id == trigger_id), None)
        if not error_id or (fired is not None and fired.type == ERROR_TRIGGER):
            return None
        owner_id = tags.get(TAG_OWNER, "")
        try:
            version = current_version(session, get_workflow(session, owner_id, error_id))
        except NotFound:
            log.warning("run %s failed; its error workflow '%s' was not found", run_id, error_id)
            return None
        target = version_spec(version)
        trigger = next((n for n in target.nodes if n.type == ERROR_TRIGGER), None)
        if trigger is None:
            log.warning("run %s failed; error workflow '%s' has no Error Trigger", run_id, error_id)
            return None
        accepted = inbox.accept_event(
            session,
            workflow_id=error_id,
            owner_id=owner_id,
            version_id=version.id,
            trigger_node_id=trigger.id,
            payload=failure_report(instance, run, workflow),
            dedup_key=f"error:{run_id}",
            run_tags={TAG_FAILED_RUN: run_id},
        )
        session.commit()
    if accepted.created:
        notify.publish(notify.INBOX)
        log.info("run %s failed: error workflow '%s' queued as %s", run_id, error_id, accepted.execution_id)
    return accepted.execution_id


def failure_report(instance: DagsterInstance, run: Any, workflow: spec.Workflow) -> dict[str, Any]:
    """What the Error Trigger outputs: the workflow, the failed node, the message, the link."""
    execution = get_execution(instance, run.run_id)
    names = {n.id: n.name for n in workflow.nodes}
    failed = execution.failed_node
    finished = [n for n in execution.nodes if n.finished_at is not None]
    last = max(finished, key=lambda n: n.finished_at or 0.0) if finished else None
    message = redact_url_secrets(execution.error or "the run failed")[:MAX_MESSAGE_CHARS]
    return {
        "execution": {
            "id": run.run_id,
            "url": execution_url(run.run_id),
            "status": execution.status,
            "error": {"message": message},
            "failed_node": {"id": failed, "name": names.get(failed, failed)} if failed else None,
            "last_node_executed": names.get(last.node_id, last.node_id) if last else None,
            "trigger": execution.trigger,
            "started_at": execution.started_at,
            "finished_at": execution.finished_at,
            "retry_of": run.parent_run_id,
        },
        "workflow": {
            "id": run.tags.get(TAG_WORKFLOW),
            "name": workflow.name,
            "version": execution.version,
        },
        "time": dt.datetime.now(dt.UTC).isoformat(),
    }
