"""Error Trigger: starts an *error workflow* when a run of another workflow fails.

A workflow names its error workflow in ``settings.error_workflow_id`` (same owner; that workflow
needs this trigger). When one of its runs fails — after the nodes' retries, a timeout included — the
worker puts an event in the inbox for the error workflow (``dispatch/error_workflow.py``); this
trigger's output is that report::

    {"execution": {"id", "url", "status", "error": {"message"}, "failed_node": {"id", "name"},
                   "last_node_executed", "trigger", "started_at", "finished_at", "retry_of"},
     "workflow": {"id", "name", "version"}, "time"}

A run started by this trigger never starts an error workflow itself (no loops).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params

ERROR_TRIGGER = "trigger.error"


class ErrorTriggerParams(Params):
    sample: dict[str, Any] = Field(
        default_factory=dict,
        description="Used when you execute this workflow by hand (to build it against a sample report).",
    )


def execute(params: ErrorTriggerParams, ctx: NodeContext) -> Any:
    return ctx.trigger_input if ctx.trigger_input not in (None, {}) else params.sample


node = NodeType(
    type=ERROR_TRIGGER,
    display_name="Error Trigger",
    group="trigger",
    description="Starts this workflow when a run of a workflow that names it as its error workflow "
    "(settings → error workflow) fails: workflow, failed node, message and a link to the execution.",
    params=ErrorTriggerParams,
    execute=execute,
    icon="alert-triangle",
)
