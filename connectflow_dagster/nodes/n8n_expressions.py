"""n8n expressions evaluated as JavaScript (``n8n.expressions``), for imported workflows.

The n8n importer translates an expression to a template when the translation is exact; one that
needs JavaScript (a ternary, ``??``, ``.map(x => …)``, ``Math.round`` …) is evaluated by this node,
inserted just before the node that uses it: it rebuilds n8n's data model from the run's context
(each earlier node's output seen *as n8n's item*, through the view its mapper declared: an HTTP
Request's ``data`` is n8n's ``$json``), evaluates every expression in the QuickJS sandbox with
``$json``, ``$input``, ``$('Node')``, ``$node``, ``$items``, ``$workflow``, ``$execution``
(``connectflow_dagster.sandbox.n8n``), and outputs ``{key: value}``; the node after it reads
``{{ <this>.e0 }}``. Its params are not templates (``raw_params``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.n8n_dates import PRELUDE as DATES_PRELUDE
from connectflow_dagster.sandbox import js, n8n

MAX_EXPRESSIONS = 200


class Source(Params):
    """How to see one ConnectFlow node's output as the n8n item it stands for."""

    variable: str = Field(description="The node's variable name in the run's context.")
    kind: str = Field(default="identity", description="identity | prefix | renamed | passthrough | overlay")
    prefix: list[str | int] = Field(default_factory=list)
    renames: list[list[list[str | int]]] = Field(default_factory=list, description="[[n8n path, cf path], …]")
    input: str | None = Field(
        default=None, description="passthrough / overlay: the n8n node it reads through."
    )
    inputs: list[str] = Field(
        default_factory=list, description="combine: the n8n nodes whose items it merges."
    )


class ExpressionsParams(Params):
    expressions: dict[str, str] = Field(
        default_factory=dict, max_length=MAX_EXPRESSIONS, description="Key → n8n JavaScript expression."
    )
    input: str | None = Field(default=None, description="The n8n name of the node whose item is $json.")
    sources: dict[str, Source] = Field(default_factory=dict, description="n8n node name → how to read it.")
    timezone: str = Field(default="UTC", description="$now and $today are in this timezone.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


def _get(value: Any, path: list[str | int]) -> Any:
    for part in path:
        if isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _put(target: dict[str, Any], path: list[str | int], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(str(part), {})
    target[str(path[-1])] = value


def n8n_json(name: str, sources: dict[str, Source], context: dict[str, Any], depth: int = 0) -> Any:
    """Node ``name``'s output as n8n's item JSON (None: it did not run)."""
    source = sources.get(name)
    if source is None or depth > 50:
        return None
    if source.kind == "combine":  # n8n's Merge "combine": input 1's fields, then input 2's (it wins)
        merged: dict[str, Any] = {}
        for name_in in source.inputs:
            value = n8n_json(name_in, sources, context, depth + 1)
            merged.update(value if isinstance(value, dict) else {})
        return merged
    if source.kind == "passthrough":
        return n8n_json(source.input, sources, context, depth + 1) if source.input else None
    if source.variable not in context:
        return None
    output = context[source.variable]
    if source.kind == "prefix":
        return _get(output, source.prefix)
    if source.kind == "renamed":
        item: dict[str, Any] = {}
        for n8n_path, cf_path in source.renames:
            value = _get(output, cf_path)
            if value is not None and n8n_path:
                _put(item, n8n_path, value)
        return item
    if source.kind == "overlay" and source.input:
        base = n8n_json(source.input, sources, context, depth + 1)
        return {**(base if isinstance(base, dict) else {}), **(output if isinstance(output, dict) else {})}
    return output


def execute(params: ExpressionsParams, ctx: NodeContext) -> dict[str, Any]:
    context = dict(ctx.context)
    nodes: dict[str, list[dict[str, Any]]] = {}
    for name in params.sources:
        value = n8n_json(name, params.sources, context)
        if value is not None:
            nodes[name] = n8n.to_items(value)
    input_items = nodes.get(params.input, []) if params.input else []
    data = n8n.globals_for(
        input_items,
        nodes,
        {
            "workflow_id": ctx.workflow_id,
            "workflow_name": getattr(ctx, "workflow_name", "") or "",
            "execution_id": ctx.run_id,
        },
    )
    now = dt.datetime.now(dt.UTC)
    try:
        zone = ZoneInfo(params.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise NonRetriableNodeError(f"unknown timezone '{params.timezone}'") from None
    offset = now.astimezone(zone).utcoffset() or dt.timedelta(0)
    data.update(
        __cf_now_ms=int(now.timestamp() * 1000),
        __cf_offset_min=int(offset.total_seconds() // 60),
        __cf_utc=params.timezone in ("UTC", "Etc/UTC"),
    )
    prelude = n8n.PRELUDE + "\n" + DATES_PRELUDE + "\n__cf_set_index(0);"
    out: dict[str, Any] = {}
    for key, source in params.expressions.items():
        try:
            # n8n evaluates a parameter for the current item: index 0 of this (single) run
            out[key] = js.evaluate(
                source,
                data,
                prelude=prelude,
                expression=True,
                timeout=params.timeout_seconds,
            )
        except js.JsError as exc:
            raise NonRetriableNodeError(f"n8n expression {key} `{source[:200]}`: {exc}") from None
    return out


node = NodeType(
    type="n8n.expressions",
    display_name="n8n expressions (JavaScript)",
    group="logic",
    description="Evaluates imported n8n expressions as JavaScript for the node after it.",
    params=ExpressionsParams,
    execute=execute,
    icon="code",
    raw_params=frozenset({"expressions", "sources", "input"}),
)
