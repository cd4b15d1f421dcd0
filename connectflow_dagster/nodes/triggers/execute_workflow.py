"""Execute Workflow Trigger: the entry point of a sub-workflow.

Another workflow of the same owner calls this one with its *Execute Workflow* node
(``nodes/execute_workflow.py``); this trigger's output is the input that node passed. The caller
receives the output of this workflow's last node (or the node it names).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params

EXECUTE_WORKFLOW_TRIGGER = "trigger.execute_workflow"


class ExecuteWorkflowTriggerParams(Params):
    sample: dict[str, Any] = Field(
        default_factory=dict, description="Used when you execute this workflow by hand."
    )


def execute(params: ExecuteWorkflowTriggerParams, ctx: NodeContext) -> Any:
    return ctx.trigger_input if ctx.trigger_input not in (None, {}) else params.sample


node = NodeType(
    type=EXECUTE_WORKFLOW_TRIGGER,
    display_name="Execute Workflow Trigger",
    group="trigger",
    description="Starts this workflow when another workflow calls it with an Execute Workflow node; "
    "its output is the input the caller passed.",
    params=ExecuteWorkflowTriggerParams,
    execute=execute,
    icon="corner-down-right",
)
