"""Sub-workflows: an Execute Workflow node calls another workflow of the same owner.

The child execution is its own Dagster run and goes the one run path: an inbox event executed by
worker code. The calling node stores the event **already claimed** by a worker object of its own
(``inbox.enqueue_claimed``) and executes it at once in its own thread — so a single worker with one
thread cannot deadlock waiting for a child no one is free to run, and no other worker can take it
first. If the calling process dies, the child's lease expires and any worker finishes it (its link
to the caller is in the event's ``run_tags``).

Links, both ways: the child run is tagged ``connectflow/caller_run_id`` / ``caller_node`` /
``call_chain``; the caller gets ``connectflow/child_runs`` (``<node id>=<run id>,…``). The executions
API shows both (``caller_id``, ``children``), the Dagster UI shows the tags.

Refused, with a clear error: a workflow that is not the caller's owner's (the same "not found" as a
missing id), one without an Execute Workflow Trigger, a cycle of calls (A → B → A, A → A; the call
chain travels in the tags) and a chain deeper than ``MAX_CALL_DEPTH``. Saving a workflow whose
literal calls close a cycle is reported as a problem too (``call_problems``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from dagster import DagsterExecutionInterruptedError, DagsterInstance

from connectflow_dagster import runctl, spec
from connectflow_dagster.dispatch import inbox
from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError, NotFound, Problem
from connectflow_dagster.execution import Execution, get_execution
from connectflow_dagster.instance import get_instance
from connectflow_dagster.nodes.triggers.execute_workflow import EXECUTE_WORKFLOW_TRIGGER
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import current_version, get_workflow, version_spec
from connectflow_dagster.tags import TAG_CALL_CHAIN, TAG_CALLER_NODE, TAG_CALLER_RUN, TAG_CHILD_RUNS
from connectflow_dagster.templates import is_template

log = logging.getLogger("connectflow.calls")

EXECUTE_WORKFLOW = "workflow.execute"
MAX_CALL_DEPTH = 8
_links_lock = threading.Lock()  # parallel Execute Workflow nodes of one run add to the same tag


def call_workflow(
    *,
    owner_id: str,
    workflow_id: str,
    payload: Any,
    caller_run_id: str,
    caller_workflow_id: str,
    caller_node_id: str,
    attempt: int = 0,
    instance: DagsterInstance | None = None,
) -> Execution:
    """Execute ``workflow_id`` (the caller's owner's) with ``payload`` as a child run of
    ``caller_run_id`` and return the finished child execution."""
    from connectflow_dagster.dispatch.worker import Worker

    instance = instance or get_instance()
    caller = instance.get_run_by_id(caller_run_id)
    chain = [w for w in ((caller.tags.get(TAG_CALL_CHAIN) if caller else "") or "").split(",") if w]
    chain.append(caller_workflow_id)
    if workflow_id in chain:
        raise NonRetriableNodeError(f"call cycle refused: {' → '.join([*chain, workflow_id])}")
    if len(chain) > MAX_CALL_DEPTH:
        raise NonRetriableNodeError(
            f"sub-workflows nest deeper than {MAX_CALL_DEPTH} calls: {' → '.join([*chain, workflow_id])}"
        )
    worker = Worker(instance=instance)
    try:
        with session_scope() as session:
            try:
                version = current_version(session, get_workflow(session, owner_id, workflow_id))
            except NotFound:
                raise NonRetriableNodeError(f"workflow '{workflow_id}' not found") from None
            child = version_spec(version)
            trigger = next((n for n in child.nodes if n.type == EXECUTE_WORKFLOW_TRIGGER), None)
            if trigger is None:
                raise NonRetriableNodeError(
                    f"workflow '{workflow_id}' ({child.name}) has no Execute Workflow Trigger "
                    f"({EXECUTE_WORKFLOW_TRIGGER}) to start it"
                )
            event = inbox.enqueue_claimed(
                session,
                worker.worker_id,
                workflow_id=workflow_id,
                owner_id=owner_id,
                version_id=version.id,
                trigger_node_id=trigger.id,
                payload=payload,
                dedup_key=f"call:{caller_run_id}:{caller_node_id}:{attempt}",
                run_tags={
                    TAG_CALLER_RUN: caller_run_id,
                    TAG_CALLER_NODE: caller_node_id,
                    TAG_CALL_CHAIN: ",".join(chain),
                },
                lease_seconds=worker.lease_seconds,
            )
            existing = None
            if event is None:  # this attempt's child exists already (its caller was redelivered)
                row = inbox.accept_event(
                    session,
                    workflow_id=workflow_id,
                    owner_id=owner_id,
                    version_id=version.id,
                    trigger_node_id=trigger.id,
                    payload=payload,
                    dedup_key=f"call:{caller_run_id}:{caller_node_id}:{attempt}",
                )
                existing = row.execution_id
        child_id = event.id if event is not None else existing
        assert child_id is not None
        _link(instance, caller_run_id, caller_node_id, child_id)
        control = runctl.get(caller_run_id)
        if control is not None:
            control.add_child(child_id)
        try:
            if event is not None:
                worker.execute_claimed(event)
            else:
                worker.execute_event(child_id)
        except BaseException as exc:  # the caller was stopped (timeout, cancel) in the middle of the child
            _abandon(instance, worker.worker_id, child_id, str(exc))
            raise
    finally:
        worker.close()
    if control is not None and control.stop_reason is not None:  # the caller was stopped meanwhile
        # The interrupt may have landed inside the child's run, which Dagster caught; whatever its
        # run and event recorded before that, neither is left unfinished.
        _abandon(instance, worker.worker_id, child_id, control.stop_reason)
        raise DagsterExecutionInterruptedError(control.stop_reason)
    execution = get_execution(instance, child_id)
    if execution.status == "waiting":
        raise NonRetriableNodeError(
            f"sub-workflow '{workflow_id}' ({child.name}) is waiting (a Wait node; execution {child_id}); "
            "Execute Workflow needs it to finish"
        )
    if execution.status != "success":
        raise NodeExecutionError(
            f"sub-workflow '{workflow_id}' ({child.name}) {execution.status} (execution {child_id}): "
            f"{execution.error or 'no error recorded'}"
        )
    return execution


def _abandon(instance: DagsterInstance, worker_id: str, child_id: str, why: str) -> None:
    """The child ran in its caller's thread and that thread was interrupted: whatever point the child
    had reached, leave neither its run nor its event unfinished."""
    reason = f"stopped with its caller: {why}"
    try:
        run = instance.get_run_by_id(child_id)
        if run is not None and not run.is_finished:
            instance.report_run_canceled(run, message=reason)
        with session_scope() as session:
            row = inbox.get_event(session, child_id)
            if row is not None and row.status not in inbox.TERMINAL:
                inbox.fail_event(session, child_id, worker_id, reason, retry=False, attempts=row.attempts)
    except Exception:
        log.exception("could not close sub-workflow execution %s after its caller stopped", child_id)


def _link(instance: DagsterInstance, caller_run_id: str, node_id: str, child_id: str) -> None:
    with _links_lock:
        run = instance.get_run_by_id(caller_run_id)
        if run is None:
            return
        links = [p for p in (run.tags.get(TAG_CHILD_RUNS) or "").split(",") if p]
        links.append(f"{node_id}={child_id}")
        instance.add_run_tags(caller_run_id, {TAG_CHILD_RUNS: ",".join(links)})


def child_output(execution: Execution, node_id: str | None) -> Any:
    """The output the caller receives: the chosen node's, else the last node that produced one."""
    if node_id:
        node = next((n for n in execution.nodes if n.node_id == node_id), None)
        if node is None or node.status != "success" or node.variable is None:
            raise NonRetriableNodeError(
                f"node '{node_id}' of the sub-workflow produced no output (execution {execution.id})"
            )
        return node.output
    produced = [n for n in execution.nodes if n.status == "success" and n.variable is not None]
    if not produced:
        return None
    return max(produced, key=lambda n: n.finished_at or 0.0).output


def literal_callees(workflow: spec.Workflow) -> list[tuple[str, str]]:
    """(node id, workflow id) of each Execute Workflow node whose workflow id is not a template."""
    out = []
    for node in workflow.nodes:
        target = node.params.get("workflow_id") if node.type == EXECUTE_WORKFLOW else None
        if isinstance(target, str) and target and not is_template(target):
            out.append((node.id, target))
    return out


def call_problems(session: Any, owner_id: str, workflow: spec.Workflow, limit: int = 200) -> list[Problem]:
    """A cycle the workflow's literal calls close through the owner's saved workflows (at most
    ``limit`` workflows are followed)."""
    if not workflow.id:
        return []
    problems = []
    loaded: dict[str, list[str]] = {}

    def callees(workflow_id: str) -> list[str]:
        if workflow_id not in loaded:
            try:
                saved = version_spec(current_version(session, get_workflow(session, owner_id, workflow_id)))
                loaded[workflow_id] = [target for _, target in literal_callees(saved)]
            except NotFound:
                loaded[workflow_id] = []
        return loaded[workflow_id]

    for node_id, target in literal_callees(workflow):
        path = _path_back(target, workflow.id, callees, limit)
        if path is not None:
            cycle = " → ".join([workflow.id, *path])
            problems.append(Problem(f"call cycle: {cycle}", node_id=node_id, field="params.workflow_id"))
    return problems


def _path_back(start: str, goal: str, callees: Any, limit: int) -> list[str] | None:
    """Workflow ids from ``start`` to ``goal`` along calls (depth first), or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack and len(seen) < limit:
        current, path = stack.pop()
        if current == goal:
            return path
        if current in seen:
            continue
        seen.add(current)
        stack.extend((nxt, [*path, nxt]) for nxt in callees(current))
    return None
