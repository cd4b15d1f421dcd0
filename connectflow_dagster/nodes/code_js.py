"""Code (JavaScript): n8n-style code over the node's input items, in the QuickJS sandbox.

The code sees ``$input`` (the items of the node before it), ``items``, ``$json``, ``$('Node name')``
and ``$node`` (earlier nodes' outputs) and returns items (``[{json: {...}}]`` or plain objects; ``console.log`` goes to the run's event
log), run
once for all items or once for each item (``connectflow_dagster.sandbox.n8n``). The node's output is
the list of returned JSON objects. No file, network or process access; memory and time are limited
(``CONNECTFLOW_CODE_MEMORY_MB``, ``timeout_seconds``), and a stopped run leaves nothing behind: each
run gets a fresh runtime.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.inputs import input_of, items_view
from connectflow_dagster.sandbox import js, n8n

DEFAULT_CODE = """// $input.all() holds the items of the node before this one; return items.
return $input.all().map(item => ({ json: { ...item.json, processed: true } }));
"""


class JsCodeParams(Params):
    code: str = Field(
        default=DEFAULT_CODE,
        min_length=1,
        max_length=js.MAX_CODE_CHARS,
        description="JavaScript (the body of an async function): return items or plain objects.",
        json_schema_extra={"format": "code", "language": "javascript"},
    )
    mode: Literal["all_items", "each_item"] = Field(
        default="all_items",
        description="Run once for all items ($input.all()) or once for each item ($json, $input.item).",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=3600, description="Time limit of one run.")


def code_inputs(ctx: NodeContext[Any]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(this node's input items, earlier nodes' items by name) from the run's context.

    The input is the output of the latest upstream node that delivered (the one edge into a code node
    in the usual case; right after a loop, the current item or batch). Earlier nodes are known by their
    display name and, where it differs, their variable name. A node's items are its output, or the
    part its type names (``item_field``: an HTTP Request's response body, as in n8n).
    """
    nodes: dict[str, list[dict[str, Any]]] = {}
    by_variable: dict[str, list[dict[str, Any]]] = {}
    for node_id, (name, variable, type_name) in ctx.workflow_nodes.items():
        if node_id == ctx.node_id or variable not in ctx.context:
            continue
        items = n8n.to_items(items_view(type_name, ctx.context[variable]))
        nodes[name] = items
        by_variable.setdefault(variable, items)
    for variable, items in by_variable.items():
        nodes.setdefault(variable, items)
    return n8n.to_items(input_of(ctx, as_items=True)), nodes


def execute(params: JsCodeParams, ctx: NodeContext[None]) -> list[dict[str, Any]]:
    settings = get_settings()
    timeout = min(params.timeout_seconds, settings.code_max_timeout_seconds)
    input_items, nodes = code_inputs(ctx)
    logs: list[str] = []
    try:
        return n8n.run_code(
            params.code,
            mode="all" if params.mode == "all_items" else "each",
            input_items=input_items,
            nodes=nodes,
            meta={
                "workflow_id": ctx.workflow_id,
                "workflow_name": ctx.workflow_name,
                "execution_id": ctx.run_id,
            },
            timeout=timeout,
            memory=settings.code_memory_mb * 1024 * 1024,
            logs=logs,
        )
    except js.JsError as exc:
        raise NonRetriableNodeError(f"JavaScript: {exc}") from None
    finally:
        for line in logs:  # console.log output: the run's event log (Dagster UI), secrets scrubbed
            ctx.log.info(ctx.scrub(f"console.{line}"))


node = NodeType(
    type="code.js",
    display_name="Code (JavaScript)",
    group="logic",
    description="Runs JavaScript over the input items in a sandbox (n8n-style $input, $json, $('Node')).",
    params=JsCodeParams,
    execute=execute,
    icon="code",
    raw_params=frozenset({"code"}),
)
