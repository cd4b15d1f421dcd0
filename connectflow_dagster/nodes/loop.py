"""Loop Over Items: the nodes after it run once per item (or per batch), as Dagster mapped steps.

n8n's Split Out and Loop Over Items in one node. The list comes from ``items`` (a template, a path
or a literal list); each item becomes a ``DynamicOutput`` of the loop's op, so every node after the
loop is a mapped step per item in the Dagster UI, with its own status, output and retries, until an
Aggregate collects the items back into one list (docs/items.md). Inside the loop, templates see
``{{ item }}`` (the current item, or the batch as a list) and ``{{ item_index }}`` (0-based).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params, Split
from connectflow_dagster.nodes.items import items_limit, resolve_items


class LoopParams(Params):
    items: Any = Field(
        description="The list to loop over: a template ({{ fetch_orders.data }}), a path into the "
        "context (fetch_orders.data.orders; suits long lists) or a JSON list."
    )
    batch_size: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="1: the next nodes run once per item. N: once per batch of N items ({{ item }} is "
        "then the list of the batch's items).",
    )
    concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Items in progress at the same time (default CONNECTFLOW_ITEMS_CONCURRENCY, at most "
        "CONNECTFLOW_ITEMS_MAX_CONCURRENCY). 1 processes them one after another.",
    )
    max_items: int | None = Field(
        default=None,
        ge=1,
        description="Fail when the list is longer than this (at most CONNECTFLOW_ITEMS_MAX).",
    )


class LoopOutput(BaseModel):
    count: int
    batches: int
    batch_size: int


def execute(params: LoopParams, ctx: NodeContext) -> Split:
    values = resolve_items(
        params.items, ctx.context, limit=items_limit(params.max_items), node_id=ctx.node_id
    )
    size = params.batch_size
    batches = values if size == 1 else [values[i : i + size] for i in range(0, len(values), size)]
    return Split(items=batches, output={"count": len(values), "batches": len(batches), "batch_size": size})


node = NodeType(
    type="loop",
    display_name="Loop Over Items",
    group="logic",
    description="Runs the next nodes once per item of a list (or per batch), concurrently up to a bound; "
    "an Aggregate collects the results. Templates after it see {{ item }} and {{ item_index }}.",
    params=LoopParams,
    output=LoopOutput,
    execute=execute,
    icon="repeat",
    items="split",
    deferred_params=("items",),
)
