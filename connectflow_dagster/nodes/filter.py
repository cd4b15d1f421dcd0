"""Filter: keeps the items of a list that match conditions (the If node's operators).

The conditions are rendered once per item: ``{{ item.status }}`` is the item's field, ``{{ item_index }}``
its position. The output holds the kept items (``data``) and how many were kept and discarded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from connectflow_dagster.errors import NonRetriableNodeError, TemplateError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.if_branch import Condition, conditions_hold
from connectflow_dagster.nodes.items import items_limit, resolve_items
from connectflow_dagster.templates import render_value


class FilterParams(Params):
    items: Any = Field(
        description="The list to filter: a template ({{ fetch_orders.data }}), a path "
        "(fetch_orders.data.orders) or a JSON list."
    )
    conditions: list[Condition] = Field(
        min_length=1, description="Checked per item; {{ item }} is the item, {{ item_index }} its index."
    )
    combine: Literal["and", "or"] = "and"


class FilterOutput(BaseModel):
    data: list[Any]
    kept: int
    discarded: int


def execute(params: FilterParams, ctx: NodeContext) -> dict[str, Any]:
    values = resolve_items(params.items, ctx.context, limit=items_limit(), node_id=ctx.node_id)
    raw = [c.model_dump() for c in params.conditions]
    kept: list[Any] = []
    for index, value in enumerate(values):
        scope = {**ctx.context, "item": value, "item_index": index}
        try:
            rendered = render_value(raw, scope, node_id=ctx.node_id, field="params.conditions")
            conditions = [Condition.model_validate(c) for c in rendered]
        except TemplateError as exc:
            raise NonRetriableNodeError(f"item {index}: {exc}") from None
        except ValidationError as exc:
            raise NonRetriableNodeError(
                f"item {index}: invalid condition: {exc.errors()[0]['msg']}"
            ) from None
        try:
            keep = conditions_hold(conditions, params.combine)
        except NonRetriableNodeError as exc:
            raise NonRetriableNodeError(f"item {index}: {exc}") from None
        if keep:
            kept.append(value)
    return {"data": kept, "kept": len(kept), "discarded": len(values) - len(kept)}


node = NodeType(
    type="filter",
    display_name="Filter",
    group="logic",
    description="Keeps the items of a list that match conditions ({{ item.… }}); counts the discarded ones.",
    params=FilterParams,
    output=FilterOutput,
    execute=execute,
    icon="filter",
    deferred_params=("items", "conditions"),
)
