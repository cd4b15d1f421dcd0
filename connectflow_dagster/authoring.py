"""Build, validate, save, run and inspect workflows from Python (notebooks, scripts).

    >>> import connectflow_dagster as cf
    >>> wf = cf.WorkflowBuilder("Greet")
    >>> start = wf.add("trigger.manual", "Start", variable_name="trigger")
    >>> greet = wf.add("set", "Greeting", fields={"text": "Hello {{ trigger.name }}"})
    >>> wf.connect(start, greet)
    >>> execution = cf.run(wf, {"name": "Ada"})
    >>> execution.context["greeting"]["text"]
    'Hello Ada'

Workflows saved here belong to the local user (the CLI's owner) unless ``owner_id`` is given.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from connectflow_dagster import spec
from connectflow_dagster.errors import Problem
from connectflow_dagster.execution import Execution, RunTarget, get_execution, list_executions
from connectflow_dagster.instance import get_instance
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import SavedVersion, local_user, save_workflow

_X_STEP, _Y_STEP = 240.0, 140.0


class WorkflowBuilder:
    """Assemble a workflow node by node; ``build()`` returns the validated-ready ``spec.Workflow``."""

    def __init__(self, name: str, *, id: str | None = None):
        self.name = name
        self.id = id
        self._nodes: list[spec.Node] = []
        self._edges: list[spec.Edge] = []

    def add(
        self,
        type: str,
        name: str,
        *,
        id: str | None = None,
        variable_name: str = "",
        credential_id: str | None = None,
        retry: dict[str, Any] | None = None,
        type_version: int = 1,
        **params: Any,
    ) -> str:
        """Add a node; keyword arguments are its params. Returns the node id."""
        node_id = id or self._unique_id(name)
        column = len(self._nodes)
        self._nodes.append(
            spec.Node(
                id=node_id,
                type=type,
                type_version=type_version,
                name=name,
                variable_name=variable_name,
                position=spec.Position(x=column * _X_STEP, y=0),
                params=params,
                credential_id=credential_id,
                retry=spec.RetrySettings(**retry) if retry else None,
            )
        )
        return node_id

    def connect(self, source: str, target: str, *, branch: str | None = None) -> WorkflowBuilder:
        """Connect two nodes; ``branch`` picks an output of a branching node (``"true"``/``"false"``)."""
        self._edges.append(spec.Edge(source=source, target=target, source_handle=branch))
        if branch == "false":
            node = next(n for n in self._nodes if n.id == target)
            node.position.y = _Y_STEP
        return self

    def chain(self, *node_ids: str) -> WorkflowBuilder:
        """Connect each node to the next."""
        for a, b in itertools.pairwise(node_ids):
            self.connect(a, b)
        return self

    def build(self) -> spec.Workflow:
        return spec.Workflow(id=self.id, name=self.name, nodes=list(self._nodes), edges=list(self._edges))

    def _unique_id(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "node"
        taken = {n.id for n in self._nodes}
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        return candidate


def _as_workflow(workflow: spec.Workflow | WorkflowBuilder | dict[str, Any]) -> spec.Workflow:
    if isinstance(workflow, WorkflowBuilder):
        return workflow.build()
    if isinstance(workflow, dict):
        return spec.parse_workflow(workflow)
    return workflow


def validate(workflow: spec.Workflow | WorkflowBuilder | dict[str, Any]) -> list[Problem]:
    """Every problem with the workflow (empty list: it can run)."""
    return spec.validate(_as_workflow(workflow))


def save(
    workflow: spec.Workflow | WorkflowBuilder | dict[str, Any], *, owner_id: str | None = None
) -> SavedVersion:
    """Validate and save; identical content reuses the existing version."""
    wf = spec.ensure_valid(_as_workflow(workflow))
    with session_scope() as session:
        owner = owner_id or local_user(session).id
        return save_workflow(session, owner, wf)


def run(
    workflow: spec.Workflow | WorkflowBuilder | dict[str, Any],
    input: Any = None,
    *,
    trigger: str | None = None,
    owner_id: str | None = None,
) -> Execution:
    """Save the workflow, execute it as a Dagster run, and return the finished execution.

    The run takes the one path every run takes — an inbox event executed by worker code — here in
    this process (``dispatch.worker.run_in_process``), so no gateway or worker needs to be running."""
    saved = save(workflow, owner_id=owner_id)
    target = RunTarget(saved.spec(), saved.version.id, saved.version.number, saved.workflow.owner_id)
    from connectflow_dagster.dispatch.worker import run_in_process

    instance = get_instance()
    run_id = run_in_process(target, trigger_node_id=trigger, payload=input, instance=instance)
    return get_execution(instance, run_id)


def execution(execution_id: str) -> Execution:
    """One execution, with per-node status, output and error, read from Dagster."""
    return get_execution(get_instance(), execution_id)


def executions(
    workflow_id: str | None = None, *, status: str | None = None, limit: int = 20
) -> list[Execution]:
    """Recent executions, newest first, from Dagster run storage."""
    return list_executions(get_instance(), workflow_id=workflow_id, status=status, limit=limit)
