"""Code: the Code node (JavaScript), and the legacy Function and Function Item nodes → ``code.js``."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable
from connectflow_dagster.interop.n8n.mappers.base import (
    ExportContext,
    MapContext,
    Mapped,
    View,
    exporter,
    importer,
)

# code.js outputs the list of returned items' JSON: n8n's (first) item is element 0
CODE_VIEW = View(kind="prefix", prefix=(0,))


def _note_data_model(ctx: MapContext) -> None:
    ctx.approximate(
        "the code reads earlier nodes' ConnectFlow outputs as items (an HTTP Request's is "
        "{status, headers, data}, n8n's is the response body)"
    )


@importer("n8n-nodes-base.code")
def code(ctx: MapContext) -> Mapped:
    language = ctx.get("language", default="javaScript")
    if language != "javaScript":
        raise Untranslatable(
            f"Code in {language}: only JavaScript maps (the Python code node is off by default)"
        )
    each = ctx.get("mode", default="runOnceForAllItems") == "runOnceForEachItem"
    source = ctx.get("jsCode", default="")
    if not isinstance(source, str) or not source.strip():
        raise Untranslatable("a Code node without code")
    _note_data_model(ctx)
    return Mapped("code.js", {"code": source, "mode": "each_item" if each else "all_items"}, CODE_VIEW)


@importer("n8n-nodes-base.function")
def function(ctx: MapContext) -> Mapped:
    source = ctx.get("functionCode", default="")
    if not isinstance(source, str) or not source.strip():
        raise Untranslatable("a Function node without code")
    _note_data_model(ctx)
    ctx.approximate("the legacy Function node runs as a Code node (items, $input, $json are the same)")
    return Mapped("code.js", {"code": source, "mode": "all_items"}, CODE_VIEW)


@importer("n8n-nodes-base.functionItem")
def function_item(ctx: MapContext) -> Mapped:
    source = ctx.get("functionCode", default="")
    if not isinstance(source, str) or not source.strip():
        raise Untranslatable("a Function Item node without code")
    _note_data_model(ctx)
    ctx.approximate("the legacy Function Item node runs once per item with `item` = $json")
    wrapped = "const item = $json;\n" + source
    return Mapped("code.js", {"code": wrapped, "mode": "each_item"}, CODE_VIEW)


@exporter("code.js", view=CODE_VIEW)
def code_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    params: dict[str, Any] = {"jsCode": node.params.get("code", "")}
    if node.params.get("mode") == "each_item":
        params["mode"] = "runOnceForEachItem"
    return "n8n-nodes-base.code", 2, params


@exporter("noop", view=View(kind="passthrough"))
def noop_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.noOp", 1, {}
