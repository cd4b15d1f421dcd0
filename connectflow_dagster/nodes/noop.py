"""No Op: passes its input on unchanged (a junction, a placeholder, a place to hang a note)."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params


class NoOpParams(Params):
    pass


def execute(params: NoOpParams, ctx: NodeContext[None]) -> Any:
    """The output of the node before it (the latest upstream that delivered), or null."""
    for node_id in reversed(ctx.upstream_node_ids):
        ref = ctx.workflow_nodes.get(node_id)
        if ref is not None and ref[1] in ctx.context:
            return ctx.context[ref[1]]
    return None


node = NodeType(
    type="noop",
    display_name="No Op",
    group="logic",
    description="Does nothing: its output is its input.",
    params=NoOpParams,
    execute=execute,
    icon="circle",
)
