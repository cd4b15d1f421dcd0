"""Aggregate: collects the items of a loop back into one list, in item order (Dagster collect).

Items whose path ended before the aggregate (an If inside the loop sending them to an unconnected
branch) are left out. ``value`` is rendered once per item, against that item's context.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectflow_dagster.errors import NonRetriableNodeError, TemplateError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.templates import render_value


class AggregateParams(Params):
    value: Any = Field(
        default=None,
        description="What to collect from each item: a template over the item's context, e.g. "
        "{{ fetch_item.data.name }} or {{ item }}; empty: the output of the last node each item went through.",
    )


class AggregateOutput(BaseModel):
    data: list[Any]
    count: int


def execute(params: AggregateParams, ctx: NodeContext) -> dict[str, Any]:
    collected: list[Any] = []
    empty = params.value is None or params.value == ""
    for entry in ctx.items:
        if empty:
            collected.append(entry.output)
            continue
        try:
            collected.append(
                render_value(params.value, entry.context, node_id=ctx.node_id, field="params.value")
            )
        except TemplateError as exc:
            raise NonRetriableNodeError(f"item {entry.index}: {exc}") from None
    return {"data": collected, "count": len(collected)}


node = NodeType(
    type="aggregate",
    display_name="Aggregate",
    group="logic",
    description="Collects the items of a loop back into one list, in their original order.",
    params=AggregateParams,
    output=AggregateOutput,
    execute=execute,
    icon="list",
    items="collect",
    deferred_params=("value",),
)
