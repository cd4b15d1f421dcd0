"""What flows into a node from the node before it (for nodes that work on "their input": code, No Op)."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.nodes.base import NodeContext
from connectflow_dagster.registry import get_registry


def input_of(ctx: NodeContext[Any]) -> Any:
    """What flows into the node: the output of the latest upstream node that delivered — right after
    a loop, the current item (or batch) rather than the loop's summary — or None."""
    registry = get_registry()
    for node_id in reversed(ctx.upstream_node_ids):
        ref = ctx.workflow_nodes.get(node_id)
        if ref is None:
            continue
        _, variable, type_name = ref
        try:
            splits = registry.get(type_name).items == "split"
        except KeyError:
            splits = False
        if splits and "item" in ctx.context:
            return ctx.context["item"]
        if variable in ctx.context:
            return ctx.context[variable]
    return None
