"""Executions are Dagster runs: create one, and read history back from Dagster run storage.

``create_run`` creates the run with the code location's origin (so the Dagster UI shows it under the
workflow's job and can re-execute it); a worker (``dispatch.worker``) executes it — every execution
is an inbox event first, whatever started it. ``list_executions`` / ``get_execution`` read run
storage and the event log; an execution whose event no worker has picked up yet (or that was
canceled before it ran) is read from the inbox, so its id answers from the moment it is returned.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, JobDefinition, RunsFilter
from sqlalchemy.orm import Session

from connectflow_dagster import spec
from connectflow_dagster.compiler import (
    MAX_NAME_TAG,
    TRIGGER_RESOURCE,
    Runtime,
    compile_workflow,
    descendants,
)
from connectflow_dagster.dagster_private import (
    ExecuteRunWithPlanIterable,
    ExecutionPlan,
    InMemoryJob,
    KnownExecutionState,
    LoadableTargetOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    PlanOrchestrationContextManager,
    ReconstructableRepository,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
    create_execution_plan,
    execute_run_iterator,
    job_execution_iterator,
    orchestration_context_event_generator,
)
from connectflow_dagster.errors import NotFound
from connectflow_dagster.statuses import (
    RUN_STATUSES,
    node_status,
    output_counts,
    run_status_name,
    split_step_key,
    step_failure_message,
)
from connectflow_dagster.tags import (
    TAG_CALLER_RUN,
    TAG_CHILD_RUNS,
    TAG_EVENT,
    TAG_FAILED_RUN,
    TAG_LOOP,
    TAG_OWNER,
    TAG_RESUMED,
    TAG_TIMED_OUT,
    TAG_TIMED_OUT_NODES,
    TAG_TRIGGER,
    TAG_VERSION,
    TAG_VERSION_HASH,
    TAG_VERSION_ID,
    TAG_WORKFLOW,
    TAG_WORKFLOW_NAME,
)

CODE_LOCATION = "connectflow"
REPOSITORY = "connectflow"
DEFINITIONS_MODULE = "connectflow_dagster.definitions"


@dataclass(frozen=True)
class RunTarget:
    """What a run executes: a saved workflow version and who owns it."""

    workflow: spec.Workflow
    version_id: int
    version_number: int
    owner_id: str


def job_origins(name: str) -> tuple[RemoteJobOrigin, Any]:
    """The Dagster UI's and the Python origin of job ``name`` in the ``connectflow`` code location.

    A run created with them can be re-executed from the Dagster UI and started by a run launcher.
    """
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE),
        location_name=CODE_LOCATION,
    )
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY), name)
    code = (
        ReconstructableRepository.for_module(DEFINITIONS_MODULE, REPOSITORY)
        .get_reconstructable_job(name)
        .get_python_origin()
    )
    return remote, code


def run_config_for(trigger_node_id: str | None, payload: Any, event_id: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"input_json": json.dumps(payload if payload is not None else {}, default=str)}
    if trigger_node_id:
        config["node_id"] = trigger_node_id
    if event_id:
        config["event_id"] = event_id
    # The console logger is quiet by default; the event log records every event regardless.
    return {"resources": {TRIGGER_RESOURCE: {"config": config}}, "loggers": {"console": {"config": {}}}}


def run_tags(target: RunTarget, trigger_node_id: str, event_id: str | None = None) -> dict[str, str]:
    tags = {
        TAG_WORKFLOW: target.workflow.id or "",
        # The name its owner knows, as it was when the run was created (a later rename is not
        # copied onto old runs; the id tag above is what groups a workflow's runs).
        TAG_WORKFLOW_NAME: target.workflow.name[:MAX_NAME_TAG],
        TAG_VERSION: str(target.version_number),
        TAG_VERSION_ID: str(target.version_id),
        TAG_VERSION_HASH: target.workflow.content_hash()[:16],
        TAG_TRIGGER: trigger_node_id,
        TAG_OWNER: target.owner_id,
    }
    if event_id:
        tags[TAG_EVENT] = event_id
    return tags


def default_trigger(workflow: spec.Workflow) -> str:
    triggers = list(spec.triggers_of(workflow))
    if not triggers:
        raise NotFound("the workflow has no trigger")
    return triggers[0].id


# One execution plan (and origins) per compiled job: a plan depends on the job's graph, not on the
# run's trigger input, and jobs are cached per immutable version (compiler.py). Building the plan
# and resolving the origins took ~10 % of a worker's CPU per run (docs/decisions.md).
_prepared: OrderedDict[int, tuple[JobDefinition, ExecutionPlan, Any, Any]] = OrderedDict()
_prepared_lock = threading.Lock()
_PREPARED_SIZE = 256


def _prepared_for(
    job: JobDefinition, run_config: dict[str, Any], tags: dict[str, str], instance: DagsterInstance
):  # type: ignore[no-untyped-def]
    with _prepared_lock:
        hit = _prepared.get(id(job))
        if hit is not None and hit[0] is job:
            _prepared.move_to_end(id(job))
            return hit[1], hit[2], hit[3]
    plan = create_execution_plan(
        job,
        run_config=run_config,
        instance_ref=instance.get_ref() if instance.is_persistent else None,
        tags=tags,
    )
    remote_origin, code_origin = job_origins(job.name)
    with _prepared_lock:
        _prepared[id(job)] = (job, plan, remote_origin, code_origin)
        while len(_prepared) > _PREPARED_SIZE:
            _prepared.popitem(last=False)
    return plan, remote_origin, code_origin


def create_run(
    instance: DagsterInstance,
    target: RunTarget,
    *,
    trigger_node_id: str | None = None,
    payload: Any = None,
    run_id: str | None = None,
    event_id: str | None = None,
    runtime: Runtime | None = None,
    extra_tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    resume_node: str | None = None,
):  # type: ignore[no-untyped-def]
    """Create (not execute) the Dagster run for ``target``; returns (job, run).

    With ``parent_run_id`` the run is Dagster's "re-execute from failure" of that run: the same
    (pinned) version, the parent's run config, only the failed steps and what follows them, reusing
    the parent's outputs for the steps that succeeded. With ``resume_node`` as well it is the
    continuation of a waiting execution (``waits.py``): a re-execution from that Wait node's step,
    which receives ``payload`` as what resumed it."""
    if parent_run_id is not None and resume_node is not None:
        return _create_continuation(
            instance, target, parent_run_id, resume_node, payload, run_id, event_id, runtime, extra_tags
        )
    if parent_run_id is not None:
        return _create_reexecution(instance, target, parent_run_id, run_id, event_id, runtime, extra_tags)
    trigger_node_id = trigger_node_id or default_trigger(target.workflow)
    if trigger_node_id not in {n.id for n in spec.triggers_of(target.workflow)}:
        raise NotFound(f"trigger node '{trigger_node_id}' is not a trigger of this workflow")
    # The versioned job (wf_<id>__v<N>): a run launched from it by Dagster (sensor path, re-execution
    # in the Dagster UI) loads that name from the code location, which resolves that version.
    job = compile_workflow(target.workflow, version=target.version_number, runtime=runtime)
    run_config = run_config_for(trigger_node_id, payload, event_id)
    tags = run_tags(target, trigger_node_id, event_id) | (extra_tags or {})
    plan, remote_origin, code_origin = _prepared_for(job, run_config, tags, instance)
    run = instance.create_run_for_job(
        job_def=job,
        execution_plan=plan,
        run_id=run_id or str(uuid.uuid4()),
        run_config=run_config,
        tags=tags,
        remote_job_origin=remote_origin,
        job_code_origin=code_origin,
    )
    return job, run


def iterate_created_run(instance: DagsterInstance, job: JobDefinition, run: Any) -> Iterator[Any]:
    """Execute a run made by ``create_run`` here, yielding its Dagster events as ``execute_run_iterator`` does.

    Same orchestration, events and run-status changes as Dagster's own ``execute_run_iterator``; what
    it skips is what a worker does not need: re-reading the execution-plan snapshot from storage and
    re-building the plan (the job's plan is prepared once, ``_prepared_for``). Runs that select steps
    (re-execution from failure) or were created elsewhere go through ``execute_run_iterator`` itself.
    """
    with _prepared_lock:
        hit = _prepared.get(id(job))
    plan = hit[1] if hit is not None and hit[0] is job else None
    if (
        plan is None
        or (run.step_keys_to_execute and list(run.step_keys_to_execute) != plan.step_keys_to_execute)
        or run.parent_run_id
        or run.resolved_op_selection
        or run.asset_selection
        or run.asset_check_selection
        or run.status not in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING)
    ):
        yield from execute_run_iterator(InMemoryJob(job), run, instance)
        return
    yield from ExecuteRunWithPlanIterable(
        execution_plan=plan,
        iterator=job_execution_iterator,
        execution_context_manager=PlanOrchestrationContextManager(
            context_event_generator=orchestration_context_event_generator,
            job=InMemoryJob(job),
            execution_plan=plan,
            dagster_run=run,
            instance=instance,
            run_config=run.run_config,
            raise_on_error=False,
            executor_defs=None,
            output_capture=None,
        ),
    )


def execute_created_run(instance: DagsterInstance, job: JobDefinition, run: Any) -> None:
    """``iterate_created_run`` to the run's end (no ``JobExecutionResult`` is built: nobody reads it)."""
    for _event in iterate_created_run(instance, job, run):
        pass


def _create_reexecution(
    instance: DagsterInstance,
    target: RunTarget,
    parent_run_id: str,
    run_id: str | None,
    event_id: str | None,
    runtime: Runtime | None,
    extra_tags: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        raise NotFound(f"execution '{parent_run_id}' not found")
    job = compile_workflow(target.workflow, version=target.version_number, runtime=runtime)
    step_keys, known_state = KnownExecutionState.build_resume_retry_reexecution(instance, parent)
    plan = create_execution_plan(
        job, parent.run_config, step_keys_to_execute=step_keys, known_state=known_state, tags=parent.tags
    )
    run = _create_reexecution_run(
        instance, job, parent, plan, parent.run_config, run_id, event_id, extra_tags or {}
    )
    return job, run


def _create_reexecution_run(
    instance: DagsterInstance,
    job: JobDefinition,
    parent: Any,
    plan: Any,
    run_config: Any,
    run_id: str | None,
    event_id: str | None,
    set_tags: dict[str, str],
) -> Any:
    """A Dagster re-execution of ``parent`` (retry from failure, a Wait's continuation): the parent's
    ConnectFlow tags but its inbox event, then ``event_id`` and ``set_tags``; parent and root linked."""
    tags = {k: v for k, v in parent.tags.items() if k.startswith("connectflow/") and k != TAG_EVENT}
    if event_id:
        tags[TAG_EVENT] = event_id
    tags |= set_tags
    remote_origin, code_origin = job_origins(job.name)
    return instance.create_run_for_job(
        job_def=job,
        run_id=run_id or str(uuid.uuid4()),
        execution_plan=plan,
        run_config=run_config,
        tags=tags,
        root_run_id=parent.root_run_id or parent.run_id,
        parent_run_id=parent.run_id,
        remote_job_origin=remote_origin,
        job_code_origin=code_origin,
    )


def _create_continuation(
    instance: DagsterInstance,
    target: RunTarget,
    parent_run_id: str,
    resume_node: str,
    payload: Any,
    run_id: str | None,
    event_id: str | None,
    runtime: Runtime | None,
    extra_tags: dict[str, str] | None,
):  # type: ignore[no-untyped-def]
    """A waiting execution's continuation: Dagster's re-execution of the parent's (pinned) job from
    the Wait's step and every step after it; the steps before it are not run again, their outputs
    are loaded from the parent run (chain) by the IO manager. The Wait gets ``payload`` through run
    config (``resume_node``/``resume_json``), so a re-execution of it from the Dagster UI resumes
    the same way."""
    parent = instance.get_run_by_id(parent_run_id)
    if parent is None:
        raise NotFound(f"execution '{parent_run_id}' not found")
    job = compile_workflow(target.workflow, version=target.version_number, runtime=runtime)
    steps = descendants(target.workflow, resume_node)
    known_state = KnownExecutionState.build_for_reexecution(instance, parent)
    run_config: dict[str, Any] = copy.deepcopy(dict(parent.run_config))
    resources: dict[str, Any] = run_config.setdefault("resources", {})
    config: dict[str, Any] = resources.setdefault(TRIGGER_RESOURCE, {}).setdefault("config", {})
    config["resume_node"] = resume_node
    config["resume_json"] = json.dumps(payload if payload is not None else {}, default=str)
    plan = create_execution_plan(
        job, run_config, step_keys_to_execute=steps, known_state=known_state, tags=parent.tags
    )
    run = _create_reexecution_run(
        instance,
        job,
        parent,
        plan,
        run_config,
        run_id,
        event_id,
        {TAG_RESUMED: resume_node, **(extra_tags or {})},
    )
    return job, run


# ---- reading history -------------------------------------------------------------------------------


@dataclass
class ItemStatus:
    """One item of a node that runs per item (a Dagster mapped step ``<node>[<index>]``)."""

    index: int
    mapping_key: str
    status: str
    output: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0
    on_error: str | None = None  # it failed and, by the node's on_error, the item went on


@dataclass
class NodeStatus:
    node_id: str
    name: str
    status: str  # pending | running | success | failed | skipped | retrying
    variable: str | None = None
    output: Any = None
    error: str | None = None
    stack: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0
    # A node inside a loop (docs/items.md): one entry per item in item order, and counts by status
    # (``total``: the loop's item count); None for a node that runs once.
    items: list[ItemStatus] | None = None
    items_summary: dict[str, int] | None = None
    on_error: str | None = None  # "continue" / "error_output": it failed and the run went on


def mapped_status(statuses: list[str]) -> str:
    """The status of a node from its items' statuses (failed > retrying > running > success > skipped)."""
    for status in ("failed", "retrying", "running", "pending"):
        if status in statuses:
            return status
    if "success" in statuses:
        return "success"
    return "skipped" if statuses else "pending"


@dataclass
class Execution:
    id: str
    workflow_id: str | None
    job_name: str
    status: str
    version: str | None
    trigger: str | None
    owner_id: str | None
    event_id: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    nodes: list[NodeStatus] = field(default_factory=list)
    error: str | None = None
    failed_node: str | None = None
    context: dict[str, Any] | None = None
    # The continuation runs of a waiting execution (waits.py), in order; their nodes are merged in.
    continuations: list[str] = field(default_factory=list)
    # While a Wait waits for a call: the URL that resumes it (what ``{{ execution.resume_url }}`` gave).
    resume_url: str | None = None
    # Sub-workflows (dispatch/calls.py): the run whose node called this one, and the runs this
    # one's Execute Workflow nodes started ({"node_id", "execution_id"}).
    caller_id: str | None = None
    children: list[dict[str, str]] = field(default_factory=list)
    # An error workflow's run: the failed run it reports (dispatch/error_workflow.py).
    failed_execution_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


def _summary(instance: DagsterInstance, record: Any) -> Execution:
    run = record.dagster_run
    tags = run.tags
    start, end = record.start_time, record.end_time
    return Execution(
        id=run.run_id,
        workflow_id=tags.get(TAG_WORKFLOW),
        job_name=run.job_name,
        # A run stopped by its timeout is *failed*; Dagster records it canceled until the worker
        # reports the failure a moment later (runctl.finish_time_out).
        status="failed"
        if TAG_TIMED_OUT in tags and run.status == DagsterRunStatus.CANCELED
        else run_status_name(run.status),
        version=tags.get(TAG_VERSION),
        trigger=tags.get(TAG_TRIGGER),
        owner_id=tags.get(TAG_OWNER),
        event_id=tags.get(TAG_EVENT),
        started_at=_iso(start),
        finished_at=_iso(end),
        duration_ms=round((end - start) * 1000, 1) if start and end else None,
        caller_id=tags.get(TAG_CALLER_RUN),
        children=child_runs(tags),
        failed_execution_id=tags.get(TAG_FAILED_RUN),
    )


def child_runs(tags: Any) -> list[dict[str, str]]:
    """The ``connectflow/child_runs`` tag as ``[{"node_id", "execution_id"}]``."""
    out = []
    for pair in (tags.get(TAG_CHILD_RUNS) or "").split(","):
        node_id, sep, run_id = pair.partition("=")
        if sep:
            out.append({"node_id": node_id, "execution_id": run_id})
    return out


def list_executions(
    instance: DagsterInstance,
    *,
    owner_id: str | None = None,
    workflow_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    with_nodes: bool = False,
) -> list[Execution]:
    """Newest first. ``owner_id`` scopes to one user; ``status`` is a ConnectFlow status name."""
    tags = {}
    if owner_id:
        tags[TAG_OWNER] = owner_id
    if workflow_id:
        tags[TAG_WORKFLOW] = workflow_id
    run_ids: list[str] | None = None
    if status == "waiting":  # not a Dagster status: the executions with a Wait waiting (waits.py)
        run_ids = _waiting_execution_ids(owner_id, workflow_id)
        if not run_ids:
            return []
    statuses = [s for s, name in RUN_STATUSES.items() if name == status] if status and not run_ids else []
    if status and not statuses and not run_ids:
        raise ValueError(
            f"unknown status '{status}' (use one of: {', '.join(sorted(set(RUN_STATUSES.values())))})"
        )
    records = instance.get_run_records(
        filters=RunsFilter(tags=tags or None, statuses=statuses or None, run_ids=run_ids),
        limit=limit,
        cursor=cursor,
    )
    # A continuation run is part of its first run's execution (waits.py): listed once, as that one.
    out = [
        _summary(instance, r)
        for r in records
        if TAG_WORKFLOW in r.dagster_run.tags and TAG_RESUMED not in r.dagster_run.tags
    ]
    if with_nodes:
        for ex in out:
            _fill_nodes(instance, ex)
    _follow_waits(instance, out, with_nodes=with_nodes)
    if status:  # a run that succeeded at a Wait reads "waiting", not "success"
        out = [e for e in out if e.status == status]
    return out


def _waiting_execution_ids(owner_id: str | None, workflow_id: str | None) -> list[str]:
    from sqlalchemy import select

    from connectflow_dagster import waits
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import Wait

    query = select(Wait.execution_id).where(Wait.status == waits.WAITING).distinct()
    if owner_id:
        query = query.where(Wait.owner_id == owner_id)
    if workflow_id:
        query = query.where(Wait.workflow_id == workflow_id)
    with session_scope() as session:
        return list(session.scalars(query))


def count_executions(
    instance: DagsterInstance, *, owner_id: str, workflow_id: str | None = None, status: str | None = None
) -> int:
    if status == "waiting":
        return len(_waiting_execution_ids(owner_id, workflow_id))
    tags = {TAG_OWNER: owner_id}
    if workflow_id:
        tags[TAG_WORKFLOW] = workflow_id
    statuses = [s for s, name in RUN_STATUSES.items() if name == status] if status else None
    return instance.get_runs_count(RunsFilter(tags=tags, statuses=statuses))


def get_execution(
    instance: DagsterInstance, run_id: str, *, owner_id: str | None = None, session: Session | None = None
) -> Execution:
    """One execution with per-node status, output, error and timings, and the final context.

    ``session`` (a request's own) is used to read the inbox for an execution that has no run yet."""
    records = instance.get_run_records(filters=RunsFilter(run_ids=[run_id]), limit=1)
    if not records:
        if session is not None:
            waiting = _from_inbox(session, run_id, owner_id)
        else:
            from connectflow_dagster.store.db import session_scope

            with session_scope() as own:
                waiting = _from_inbox(own, run_id, owner_id)
        if waiting is not None:
            return waiting
    if not records or TAG_WORKFLOW not in records[0].dagster_run.tags:
        raise NotFound(f"execution '{run_id}' not found")
    if owner_id is not None and records[0].dagster_run.tags.get(TAG_OWNER) != owner_id:
        raise NotFound(f"execution '{run_id}' not found")
    execution = _summary(instance, records[0])
    _fill_nodes(instance, execution, records[0].dagster_run)
    _follow_waits(instance, [execution], with_nodes=True)
    return execution


def _follow_waits(instance: DagsterInstance, executions: list[Execution], *, with_nodes: bool) -> None:
    """Executions that waited (waits.py) read as one logical execution: ``waiting`` while a Wait
    waits, its Wait node ``waiting``; once resumed, each continuation run's status, nodes, context
    and end are merged in (``continuations`` lists their ids; each is also readable by its own id)."""
    if not executions:
        return
    from connectflow_dagster import waits
    from connectflow_dagster.store.db import session_scope

    ids = [e.id for e in executions]
    with session_scope() as session:
        rows = waits.of_executions(session, ids)
    if not rows:
        return
    by_execution: dict[str, list[Any]] = {}
    for row in rows:
        by_execution.setdefault(row.execution_id, []).append(row)
    for execution in executions:
        chain = by_execution.get(execution.id)
        if not chain:
            continue
        runs: dict[str, Execution] = {execution.id: execution}
        for wait in chain:  # in the order they were recorded
            if wait.status == waits.RESUMED and wait.continuation_id:
                execution.continuations.append(wait.continuation_id)
                records = instance.get_run_records(
                    filters=RunsFilter(run_ids=[wait.continuation_id]), limit=1
                )
                if not records:  # resumed; its run is not made yet
                    execution.status, execution.finished_at, execution.duration_ms = "queued", None, None
                    continue
                part = _summary(instance, records[0])
                if with_nodes:
                    _fill_nodes(instance, part, records[0].dagster_run)
                    _merge_part(execution, part)
                execution.status, execution.finished_at = part.status, part.finished_at
                execution.error = part.error or execution.error
                execution.failed_node = part.failed_node or execution.failed_node
                runs[part.id] = part
        for wait in chain:
            if (
                wait.status == waits.CANCELED
                and wait.run_id in runs
                and runs[wait.run_id].status == "success"
            ):
                execution.status = "canceled"  # canceled while it waited
                for node in execution.nodes:
                    if node.node_id == wait.node_id:
                        node.status = "not_run"
            if wait.status == waits.WAITING and wait.run_id in runs and runs[wait.run_id].status == "success":
                execution.status, execution.finished_at, execution.duration_ms = "waiting", None, None
                if wait.webhook:
                    execution.resume_url = waits.resume_url(execution.id)
                for node in execution.nodes:
                    if node.node_id == wait.node_id:
                        node.status, node.finished_at = "waiting", None
        if execution.finished_at and execution.started_at:
            start = dt.datetime.fromisoformat(execution.started_at)
            end = dt.datetime.fromisoformat(execution.finished_at)
            execution.duration_ms = round((end - start).total_seconds() * 1000, 1)


def _merge_part(execution: Execution, part: Execution) -> None:
    """A continuation's nodes that ran (or were skipped) in it replace the earlier run's."""
    ran = {n.node_id: n for n in part.nodes if n.started_at or n.finished_at}
    execution.nodes = [ran.pop(n.node_id, n) for n in execution.nodes] + list(ran.values())
    execution.context = {**(execution.context or {}), **(part.context or {})}


_snapshots: OrderedDict[str, Any] = OrderedDict()


def _job_snapshot(instance: DagsterInstance, snapshot_id: str) -> Any:
    """A job snapshot by id, read and deserialised once per process: ids are content hashes, so a
    snapshot never changes (reading it per execution cost the gateway a query and a deserialisation
    of the whole job for every answer after a run)."""
    with _prepared_lock:
        if snapshot_id in _snapshots:
            _snapshots.move_to_end(snapshot_id)
            return _snapshots[snapshot_id]
    snapshot = instance.get_job_snapshot(snapshot_id)
    with _prepared_lock:
        _snapshots[snapshot_id] = snapshot
        while len(_snapshots) > _PREPARED_SIZE:
            _snapshots.popitem(last=False)
    return snapshot


_INBOX_STATUS = {"pending": "queued", "claimed": "queued", "canceled": "canceled", "failed": "failed"}


def _from_inbox(session: Session, event_id: str, owner_id: str | None) -> Execution | None:
    """An execution whose run does not exist (yet): its event is waiting for a worker, or was
    canceled — or given up — before a run was made. None when there is no such event."""
    from connectflow_dagster.compiler import job_name
    from connectflow_dagster.store.models import TriggerEvent, WorkflowVersion
    from connectflow_dagster.store.workflows import version_spec

    event = session.get(TriggerEvent, event_id)
    if event is None or (owner_id is not None and event.owner_id != owner_id):
        return None
    status = _INBOX_STATUS.get(event.status)
    if status is None:  # done / submitted: its run exists, or was deleted from Dagster
        return None
    version = session.get(WorkflowVersion, event.version_id)
    nodes = version_spec(version).nodes if version is not None else []
    finished = event.finished_at
    initial = "pending" if status == "queued" else "not_run"
    return Execution(
        id=event.id,
        workflow_id=event.workflow_id,
        job_name=job_name(event.workflow_id),
        status=status,
        version=str(version.number) if version is not None else None,
        trigger=event.trigger_node_id,
        owner_id=event.owner_id,
        event_id=event.id,
        started_at=None,
        finished_at=(finished if finished.tzinfo else finished.replace(tzinfo=dt.UTC)).isoformat()
        if finished is not None
        else None,
        duration_ms=None,
        nodes=[NodeStatus(node_id=n.id, name=n.name, status=initial) for n in nodes],
        error=event.error if status == "failed" else None,
        context=None if status == "queued" else {},
    )


def _fill_nodes(instance: DagsterInstance, execution: Execution, run: Any = None) -> None:
    run = run if run is not None else instance.get_run_by_id(execution.id)
    assert run is not None
    snapshot = _job_snapshot(instance, run.job_snapshot_id) if run.job_snapshot_id else None
    nodes: dict[str, NodeStatus] = {}
    order: list[str] = []
    loop_of: dict[str, str] = {}  # node id → the loop it runs per item of (op tag)
    if snapshot is not None:
        for invocation in snapshot.dep_structure_snapshot.node_invocation_snaps:
            node_def = snapshot.get_node_def_snap(invocation.node_def_name)
            nodes[invocation.node_name] = NodeStatus(
                node_id=invocation.node_name,
                name=node_def.description or invocation.node_name,
                status="pending",
            )
            order.append(invocation.node_name)
            loop = (getattr(node_def, "tags", None) or {}).get(TAG_LOOP)
            if loop:
                loop_of[invocation.node_name] = loop
                nodes[invocation.node_name].items = []
    context: dict[str, Any] = {}
    produced: set[str] = set()  # steps whose output arrived (statuses.output_counts)
    item_counts: dict[str, int] = {}  # loop id → its number of items (batches)
    items: dict[str, dict[str, ItemStatus]] = {}  # node id → mapping key → item
    for entry in instance.all_logs(execution.id):
        event = entry.dagster_event
        if event is None:
            continue
        key = event.step_key
        data: Any = event.event_specific_data
        if key is None:
            if event.event_type == DagsterEventType.RUN_FAILURE and not execution.error:
                error = getattr(data, "error", None)
                execution.error = entry.message or (error.message if error else None)
            continue
        node_id, mapping_key = split_step_key(key)
        if mapping_key is not None:
            node = nodes.setdefault(node_id, NodeStatus(node_id=node_id, name=node_id, status="pending"))
            item = items.setdefault(node_id, {}).setdefault(
                mapping_key,
                ItemStatus(
                    index=int(mapping_key) if mapping_key.isdigit() else -1,
                    mapping_key=mapping_key,
                    status="pending",
                ),
            )
            _apply_item_event(item, event, entry.timestamp, key in produced or _counts(event, produced, key))
            node.variable = node.variable or _variable_of(event)
            if event.event_type == DagsterEventType.STEP_FAILURE:
                execution.failed_node = execution.failed_node or node_id
                node.error = node.error or (f"{item.error} (item {item.index})" if item.error else None)
            continue
        node = nodes.setdefault(key, NodeStatus(node_id=key, name=key, status="pending"))
        etype = event.event_type
        if etype == DagsterEventType.STEP_OUTPUT and "items_count" in (data.metadata or {}):
            item_counts[key] = int(data.metadata["items_count"].value)
        if etype == DagsterEventType.STEP_OUTPUT and output_counts(event):
            produced.add(key)
        node.status = node_status(etype, produced_output=key in produced) or node.status
        if etype == DagsterEventType.STEP_START:
            node.started_at = node.started_at or entry.timestamp
            node.attempts += 1
        elif etype == DagsterEventType.STEP_RESTARTED:
            node.attempts += 1
        elif etype == DagsterEventType.STEP_UP_FOR_RETRY:
            err = getattr(data, "error", None)
            node.error = err.message.strip() if err else None
        elif etype == DagsterEventType.STEP_OUTPUT:
            meta = data.metadata
            if "output" in meta:
                value = meta["output"].value
                if "output_wrapped" in meta and isinstance(value, dict):
                    value = value.get("value")
                node.output = value
            if "variable" in meta:
                node.variable = meta["variable"].value
                context[node.variable] = node.output
            if "on_error" in meta:
                node.on_error = meta["on_error"].value
                node.error = meta["error"].value if "error" in meta else None
        elif etype == DagsterEventType.STEP_SUCCESS:
            if node.on_error is None:
                node.error = None
            node.finished_at = entry.timestamp
        elif etype == DagsterEventType.STEP_FAILURE:
            node.finished_at = entry.timestamp
            node.error = step_failure_message(data)
            err = getattr(data, "error", None)
            if err is not None:
                chain = err
                stack = []
                while chain is not None:
                    stack.append("".join(chain.stack) + chain.message)
                    chain = chain.cause
                node.stack = "\n".join(stack)
            execution.failed_node = execution.failed_node or key
        elif etype == DagsterEventType.STEP_SKIPPED:
            node.finished_at = entry.timestamp
        if node.started_at and node.finished_at:
            node.duration_ms = round((node.finished_at - node.started_at) * 1000, 2)
    for node_id, by_key in items.items():
        node = nodes[node_id]
        node.items = sorted(by_key.values(), key=lambda i: (i.index, i.mapping_key))
    for node_id, node in nodes.items():
        if node.items is None:
            continue
        if execution.status in ("success", "failed", "canceled"):
            for item in node.items:
                if item.status in ("pending", "running", "retrying"):
                    item.status = "not_run"
        counts: dict[str, int] = {}
        for item in node.items:
            counts[item.status] = counts.get(item.status, 0) + 1
        continued = sum(1 for item in node.items if item.on_error)
        if continued:
            counts["on_error"] = continued  # failed, and went on as the node's on_error says
        counts["total"] = item_counts.get(loop_of.get(node_id, ""), len(node.items))
        node.items_summary = counts
        if node.items:
            node.status = mapped_status([i.status for i in node.items])
            starts = [i.started_at for i in node.items if i.started_at]
            ends = [i.finished_at for i in node.items if i.finished_at]
            node.started_at = min(starts) if starts else None
            node.finished_at = max(ends) if ends and len(ends) == len(node.items) else None
            node.attempts = max(i.attempts for i in node.items)  # the most any item took
            if node.started_at and node.finished_at:
                node.duration_ms = round((node.finished_at - node.started_at) * 1000, 2)
    if execution.status in ("success", "failed", "canceled"):
        for node in nodes.values():
            if node.status in ("pending", "running"):
                node.status = "skipped" if execution.status == "success" else "not_run"
    failed = nodes.get(execution.failed_node or "")
    if failed is not None and failed.error:
        error = failed.error
        execution.error = error if error.startswith("node '") else f"node '{failed.node_id}': {error}"
    timed_out = run.tags.get(TAG_TIMED_OUT)
    if timed_out:  # settings.timeout_seconds stopped it: say so, not "interrupted"
        execution.error = timed_out
        stopped = [n for n in run.tags.get(TAG_TIMED_OUT_NODES, "").split(",") if n in nodes]
        for node_id in stopped:
            if nodes[node_id].status in ("failed", "running", "pending", "not_run"):
                nodes[node_id].status = "failed"
                nodes[node_id].error = timed_out.split(";")[0]
        execution.failed_node = stopped[0] if stopped else execution.failed_node
    # Execution order (what ran first comes first); nodes that never started keep graph order.
    position = {k: i for i, k in enumerate(order)}
    execution.nodes = sorted(
        nodes.values(),
        key=lambda n: (n.started_at or n.finished_at or float("inf"), position.get(n.node_id, len(position))),
    )
    execution.context = context


def _counts(event: Any, produced: set[str], key: str) -> bool:
    if event.event_type == DagsterEventType.STEP_OUTPUT and output_counts(event):
        produced.add(key)
        return True
    return False


def _variable_of(event: Any) -> str | None:
    if event.event_type != DagsterEventType.STEP_OUTPUT:
        return None
    meta = event.event_specific_data.metadata or {}
    return meta["variable"].value if "variable" in meta else None


def _apply_item_event(item: ItemStatus, event: Any, at: float, produced: bool) -> None:
    """One step event of a mapped step, on its item (the statuses of statuses.py)."""
    etype, data = event.event_type, event.event_specific_data
    item.status = node_status(etype, produced_output=produced) or item.status
    if etype == DagsterEventType.STEP_START:
        item.started_at = item.started_at or at
        item.attempts += 1
    elif etype == DagsterEventType.STEP_RESTARTED:
        item.attempts += 1
    elif etype == DagsterEventType.STEP_UP_FOR_RETRY:
        err = getattr(data, "error", None)
        item.error = err.message.strip() if err else None
    elif etype == DagsterEventType.STEP_OUTPUT:
        meta = data.metadata or {}
        if "output" in meta:
            value = meta["output"].value
            if "output_wrapped" in meta and isinstance(value, dict):
                value = value.get("value")
            item.output = value
        if "on_error" in meta:
            item.on_error = meta["on_error"].value
            item.error = meta["error"].value if "error" in meta else None
    elif etype == DagsterEventType.STEP_SUCCESS:
        item.error = item.error if item.on_error else None
        item.finished_at = at
    elif etype in (DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED):
        item.finished_at = at
        if etype == DagsterEventType.STEP_FAILURE:
            item.error = step_failure_message(data)
    if item.started_at and item.finished_at:
        item.duration_ms = round((item.finished_at - item.started_at) * 1000, 2)
