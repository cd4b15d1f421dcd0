"""No Op: passes its input on unchanged (a junction, a placeholder, a place to hang a note)."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.inputs import input_of


class NoOpParams(Params):
    pass


def execute(params: NoOpParams, ctx: NodeContext[None]) -> Any:
    """The output of the node before it (the latest upstream that delivered; right after a loop, the
    current item), or null."""
    return input_of(ctx)


node = NodeType(
    type="noop",
    display_name="No Op",
    group="logic",
    description="Does nothing: its output is its input.",
    params=NoOpParams,
    execute=execute,
    icon="circle",
)
