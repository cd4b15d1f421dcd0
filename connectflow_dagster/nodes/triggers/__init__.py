"""Trigger nodes: webhook, Stripe, Google Form, API key and schedule.

Each module holds the node type (params, output, executor) and the pure functions the gateway uses to
turn an incoming request into the trigger's context (``parse_*``), so the format of a trigger's
context lives next to its node. Secrets are never params: see ``connectflow_dagster.store.keys``.
The executors return the event stored in the inbox, which ingest already shaped and validated.
"""

from __future__ import annotations

from typing import Any

from connectflow_dagster.nodes.base import NodeContext


def passthrough(params: Any, ctx: NodeContext) -> Any:
    """The trigger's output is the event accepted at ingest (its context entry)."""
    return ctx.trigger_input if ctx.trigger_input is not None else {}
