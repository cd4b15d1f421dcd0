"""Execute Workflow: call another workflow of the same owner and use its output.

The called workflow starts at its Execute Workflow Trigger with ``input`` (templates allowed) and runs
as its own Dagster run, linked to this one both ways; this node's output is the output of the child's
last node, or of ``output_node``. A failed child fails this node (retries and ``on_error`` apply); a
cycle of calls, a workflow of another user (reported as not found) and one without an Execute
Workflow Trigger are refused. How: ``connectflow_dagster/dispatch/calls.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.spec import ID_PATTERN


class ExecuteWorkflowParams(Params):
    workflow_id: str = Field(
        pattern=ID_PATTERN,
        description="Id of the workflow to call (yours, with an Execute Workflow Trigger).",
    )
    input: Any = Field(
        default_factory=dict,
        description="What the called workflow's trigger outputs; templates over this workflow's context.",
    )
    output_node: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Node of the called workflow whose output is returned (default: its last node).",
    )


def execute(params: ExecuteWorkflowParams, ctx: NodeContext) -> Any:
    from connectflow_dagster.dispatch.calls import call_workflow, child_output

    execution = call_workflow(
        owner_id=ctx.owner_id,
        workflow_id=params.workflow_id,
        payload=params.input,
        caller_run_id=ctx.run_id,
        caller_workflow_id=ctx.workflow_id,
        caller_node_id=ctx.node_id,
        attempt=ctx.attempt,
    )
    ctx.log.info(f"sub-workflow '{params.workflow_id}' finished: execution {execution.id}")
    return child_output(execution, params.output_node)


node = NodeType(
    type="workflow.execute",
    display_name="Execute Workflow",
    group="action",
    description="Calls another of your workflows (it starts at its Execute Workflow Trigger) with an "
    "input and returns its output; the call is its own execution, linked to this one.",
    params=ExecuteWorkflowParams,
    execute=execute,
    icon="git-branch",
)
