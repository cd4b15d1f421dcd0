"""What flows into a node from the node before it (for nodes that work on "their input": code, No Op)."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.nodes.base import NodeContext
from connectflow_dagster.registry import get_registry


def items_view(type_name: str, output: Any) -> Any:
    """The part of a node's output n8n-style code sees as its items (``NodeType.item_field``)."""
    try:
        field = get_registry().get(type_name).item_field
    except KeyError:
        return output
    if field and isinstance(output, dict) and field in output:
        return output[field]
    return output


def input_of(ctx: NodeContext[Any], *, as_items: bool = False) -> Any:
    """What flows into the node: the output of the latest upstream node that delivered — right after
    a loop, the current item (or batch) rather than the loop's summary — or None. ``as_items``: the
    part of that output code sees as items (``items_view``)."""
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
            output = ctx.context[variable]
            return items_view(type_name, output) if as_items else output
    return None
