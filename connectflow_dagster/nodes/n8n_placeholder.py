"""Placeholders for imported n8n nodes that have no ConnectFlow equivalent (``n8n.unsupported``).

An n8n import never drops a node: one without a mapping becomes a placeholder that keeps its n8n type
and type version (params) and its n8n parameters (``meta["n8n"]["parameters"]``, never rendered as
templates: n8n expressions are not ConnectFlow templates), so an export gives it back unchanged; it shows as "not supported" on the
canvas, and fails with a clear message if a run reaches it. A trigger without an equivalent becomes
``n8n.unsupported_trigger``, so the workflow still has its entry point and still validates.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params

# n8n nodes can have several outputs (Switch, Compare Datasets …): the placeholder offers as many
# handles so no connection of the original is lost; ``main`` is n8n's output 0.
OUTPUTS = ("main", *(f"output_{i}" for i in range(1, 8)))


class PlaceholderParams(Params):
    n8n_type: str = Field(description="The n8n node type, e.g. 'n8n-nodes-base.googleSheets'.")
    n8n_type_version: float = Field(default=1, description="The n8n node's typeVersion.")
    reason: str = Field(default="", description="Why it has no ConnectFlow equivalent.")


def execute(params: PlaceholderParams, ctx: NodeContext) -> Any:
    why = f": {params.reason}" if params.reason else ""
    raise NonRetriableNodeError(
        f"not supported: the n8n node type '{params.n8n_type}' (v{params.n8n_type_version:g}) has no "
        f"ConnectFlow equivalent{why}. Replace this node, or disable it to run the rest."
    )


node = NodeType(
    type="n8n.unsupported",
    display_name="n8n node (not supported)",
    group="action",
    description="An imported n8n node without a ConnectFlow equivalent: kept, shown, fails if run.",
    params=PlaceholderParams,
    execute=execute,
    outputs=OUTPUTS,
    icon="alert-triangle",
)

trigger_node = NodeType(
    type="n8n.unsupported_trigger",
    display_name="n8n trigger (not supported)",
    group="trigger",
    description="An imported n8n trigger without a ConnectFlow equivalent: kept, shown, never fires.",
    params=PlaceholderParams,
    execute=execute,
    icon="alert-triangle",
)
