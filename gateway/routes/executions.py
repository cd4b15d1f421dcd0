"""``/api/executions``: Dagster runs of the signed-in user's workflows, read from Dagster run storage."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster import execution as history
from connectflow_dagster.dagster_ui import run_url
from connectflow_dagster.store import workflows as workflow_store
from connectflow_dagster.store.models import Workflow
from gateway.deps import CurrentUser, InstanceDep, SessionDep
from gateway.runs import cancel_execution, pinned_version_id, retry_from_failure
from gateway.schemas.executions import (
    ChildExecution,
    ExecutionAccepted,
    ExecutionPublic,
    ExecutionsPublic,
    ExecutionSummary,
    ItemStatusPublic,
    NodeStatusPublic,
)

router = APIRouter(prefix="/api/executions", tags=["executions"])

STATUSES = ("queued", "running", "waiting", "success", "failed", "canceling", "canceled")


def _names(session: Session, owner_id: str, workflow_ids: set[str]) -> dict[str, str]:
    if not workflow_ids:
        return {}
    rows = session.execute(
        select(Workflow.id, Workflow.name).where(Workflow.owner_id == owner_id, Workflow.id.in_(workflow_ids))
    )
    return {wid: name for wid, name in rows}


def _summary_fields(ex: history.Execution, names: dict[str, str], parent_id: str | None) -> dict:
    return {
        "id": ex.id,
        "workflow_id": ex.workflow_id,
        "workflow_name": names.get(ex.workflow_id or ""),
        "status": ex.status,
        "version": ex.version,
        "trigger": ex.trigger,
        "started_at": ex.started_at,
        "finished_at": ex.finished_at,
        "duration_ms": ex.duration_ms,
        "parent_id": parent_id,
        "dagster_url": run_url(ex.id),
    }


@router.get("", response_model=ExecutionsPublic)
def list_executions(
    session: SessionDep,
    user: CurrentUser,
    instance: InstanceDep,
    workflow_id: str | None = Query(default=None, description="Only this workflow's executions."),
    status: str | None = Query(default=None, description=f"One of: {', '.join(STATUSES)}."),
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(default=None, description="The next_cursor of the previous page."),
) -> ExecutionsPublic:
    """Newest first, from Dagster run storage."""
    if status is not None and status not in STATUSES:
        raise HTTPException(
            422,
            [{"loc": ["query", "status"], "msg": f"must be one of: {', '.join(STATUSES)}", "type": "enum"}],
        )
    if workflow_id is not None:
        workflow_store.get_workflow(session, user.id, workflow_id, include_deleted=True)
    if cursor is not None:
        pinned_version_id(instance, session, cursor, user.id)  # a cursor is a run id: only one of the user's
    rows = history.list_executions(
        instance, owner_id=user.id, workflow_id=workflow_id, status=status, limit=limit, cursor=cursor
    )
    total = history.count_executions(instance, owner_id=user.id, workflow_id=workflow_id, status=status)
    names = _names(session, user.id, {r.workflow_id for r in rows if r.workflow_id})
    parents = {r.id: _parent(instance, r.id) for r in rows}
    return ExecutionsPublic(
        data=[ExecutionSummary(**_summary_fields(r, names, parents[r.id])) for r in rows],
        count=total,
        next_cursor=rows[-1].id if len(rows) == limit else None,
    )


def _parent(instance: object, run_id: str) -> str | None:
    run = instance.get_run_by_id(run_id)  # type: ignore[attr-defined]
    return run.parent_run_id if run is not None else None


@router.get("/{execution_id}", response_model=ExecutionPublic)
def get_execution(
    execution_id: str, session: SessionDep, user: CurrentUser, instance: InstanceDep
) -> ExecutionPublic:
    """Per-node status, output, error and timings, the final context, and a link to the Dagster UI."""
    ex = history.get_execution(instance, execution_id, owner_id=user.id, session=session)
    names = _names(session, user.id, {ex.workflow_id} if ex.workflow_id else set())
    return ExecutionPublic(
        **_summary_fields(ex, names, _parent(instance, ex.id)),
        nodes=[
            NodeStatusPublic(
                node_id=n.node_id,
                name=n.name,
                status=n.status,
                variable=n.variable,
                output=n.output,
                error=n.error,
                started_at=n.started_at,
                finished_at=n.finished_at,
                duration_ms=n.duration_ms,
                attempts=n.attempts,
                on_error=n.on_error,
                items=[ItemStatusPublic(**asdict(i)) for i in n.items] if n.items is not None else None,
                items_summary=n.items_summary,
            )
            for n in ex.nodes
        ],
        caller_id=ex.caller_id,
        children=[ChildExecution(**c) for c in ex.children],
        failed_execution_id=ex.failed_execution_id,
        error=ex.error,
        failed_node=ex.failed_node,
        context=ex.context,
        continuations=ex.continuations,
        resume_url=ex.resume_url,
    )


@router.post("/{execution_id}/retry", status_code=202, response_model=ExecutionAccepted)
def retry_execution(
    execution_id: str, session: SessionDep, user: CurrentUser, instance: InstanceDep
) -> ExecutionAccepted:
    """Re-execute from failure: the failed nodes and those after them run again, on the same version
    (through the inbox and a worker, like every run)."""
    run_id = retry_from_failure(instance, session, execution_id, user.id)
    return ExecutionAccepted(execution_id=run_id, status="queued")


@router.post("/{execution_id}/cancel", status_code=202, response_model=ExecutionAccepted)
def cancel(
    execution_id: str, session: SessionDep, user: CurrentUser, instance: InstanceDep
) -> ExecutionAccepted:
    """Cancel a queued or running execution (409 when it has already finished)."""
    status = cancel_execution(instance, session, execution_id, user.id)
    return ExecutionAccepted(execution_id=execution_id, status=status)
