"""Flow: Filter, Switch (v3 rules), Wait, Respond to Webhook, Split Out → Loop and Aggregate.

n8n runs a node once per incoming item. Split Out turns one item's list into items; ConnectFlow's
Loop does the same with Dagster dynamic mapping (the nodes after it run once per item, ``{{ item }}``
is the current one) until an Aggregate collects them: so a Split Out maps to a Loop whose items
are the field it splits, and ``$json`` after it reads ``item``.
"""

from __future__ import annotations

import re
from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable
from connectflow_dagster.interop.n8n.mappers.base import (
    PASSTHROUGH,
    ExportContext,
    MapContext,
    Mapped,
    View,
    exporter,
    importer,
    renamed,
)
from connectflow_dagster.interop.n8n.mappers.logic import conditions_of

ITEM = View(kind="item")  # after a Loop: the current item


@importer("n8n-nodes-base.filter")
def filter_node(ctx: MapContext) -> Mapped:
    conditions, combine = conditions_of(ctx)
    if not conditions:
        raise Untranslatable("a Filter without conditions")
    if (ctx.get("options", default={}) or {}).get("looseTypeValidation"):
        ctx.approximate("loose type validation: values are compared as given")
    # one item in, kept or dropped: an If whose false branch leads nowhere (the run stops there)
    return Mapped("if", {"conditions": conditions, "combine": combine}, PASSTHROUGH, ("true",))


@importer("n8n-nodes-base.switch")
def switch(ctx: MapContext) -> Mapped:
    if ctx.get("mode", default="rules") != "rules":
        raise Untranslatable("Switch in expression mode (the output number is computed)")
    if ctx.version < 3:
        return _switch_v1(ctx)
    options = ctx.get("options", default={}) or {}
    fallback = options.get("fallbackOutput", "none")
    if fallback not in ("none", "extra"):
        raise Untranslatable("a fallback that reuses a rule's output")
    if options.get("ignoreCase"):
        ctx.approximate("comparisons are case-sensitive in ConnectFlow")
    rules: list[dict[str, Any]] = []
    for i, rule in enumerate(ctx.get("rules", "values", default=[]) or []):
        sub = MapContext(
            node={"parameters": rule}, translate=ctx.translate, approximations=ctx.approximations
        )
        conditions, combine = conditions_of(sub)
        if not conditions:
            raise Untranslatable(f"rule {i} has no conditions")
        rules.append({"output": str(i), "conditions": conditions, "combine": combine})
    if not rules:
        raise Untranslatable("a Switch without rules")
    outputs = tuple(r["output"] for r in rules) + (("fallback",) if fallback == "extra" else ())
    params = {"mode": "rules", "rules": rules, "all_matches": bool(options.get("allMatchingOutputs"))}
    return Mapped("switch", params, PASSTHROUGH, outputs)


def _switch_v1(ctx: MapContext) -> Mapped:
    """Switch v1/v2: one value compared by each rule; v1 rules name an output number (several rules
    may share one: they become one rule with "or"), v2 rules each have their own output."""
    from connectflow_dagster.interop.n8n.mappers.logic import V1_OPS

    left = ctx.expr(ctx.get("value1", default=""), "value1")
    by_output: dict[int, list[dict[str, Any]]] = {}
    for i, rule in enumerate(ctx.get("rules", "rules", default=[]) or []):
        operation = rule.get("operation", "equal")
        operator = V1_OPS.get(operation) or {"after": "gt", "before": "lt"}.get(operation)
        if operator is None:
            raise Untranslatable(f"rule {i}: comparison '{operation}' has no ConnectFlow operator")
        right = ctx.expr(rule.get("value2", ""), f"rules.rules.{i}.value2")
        output = int(rule.get("output", 0) or 0) if ctx.version < 2 else i
        by_output.setdefault(output, []).append({"left": left, "operator": operator, "right": right})
    if not by_output:
        raise Untranslatable("a Switch without rules")
    fallback = ctx.get("fallbackOutput", default=-1)
    if ctx.version >= 2:
        fallback = (ctx.get("options", default={}) or {}).get("fallbackOutput", fallback)
    fallback = (
        int(fallback) if isinstance(fallback, int | str) and str(fallback).lstrip("-").isdigit() else -1
    )
    if fallback in by_output:
        raise Untranslatable("a fallback that reuses a rule's output")
    rules = [
        {"output": str(index), "conditions": conditions, "combine": "or"}
        for index, conditions in sorted(by_output.items())
    ]
    count = max([*by_output, fallback, 3 if ctx.version < 2 else 0]) + 1
    outputs = tuple(
        "fallback" if i == fallback else str(i) if i in by_output else f"unused_{i}" for i in range(count)
    )
    return Mapped("switch", {"mode": "rules", "rules": rules, "all_matches": False}, PASSTHROUGH, outputs)


@importer("n8n-nodes-base.wait")
def wait(ctx: MapContext) -> Mapped:
    resume = ctx.get("resume", default="timeInterval")
    params: dict[str, Any]
    if resume == "timeInterval":
        unit = ctx.get("unit", default="hours" if ctx.version >= 1.1 else "seconds")
        params = {
            "resume": "after_interval",
            "amount": ctx.expr(ctx.get("amount", default=1), "amount"),
            "unit": unit,
        }
    elif resume == "specificTime":
        params = {"resume": "at_time", "at": ctx.expr(ctx.get("dateTime", default=""), "dateTime")}
    elif resume == "webhook":
        params = {"resume": "webhook"}
        ctx.approximate("resumes on ConnectFlow's resume URL ($execution.resumeUrl differs)")
        if ctx.get("limitWaitTime"):
            ctx.approximate("the wait-time limit is not carried over")
    else:
        raise Untranslatable(f"Wait until '{resume}' is not supported")
    return Mapped("wait", params, PASSTHROUGH)


@importer("n8n-nodes-base.respondToWebhook")
def respond(ctx: MapContext) -> Mapped:
    respond_with = ctx.get("respondWith", default="firstIncomingItem")
    options = ctx.get("options", default={}) or {}
    params: dict[str, Any] = {}
    if respond_with == "firstIncomingItem":
        params = {"respond_with": "json", "body": ctx.expr("={{ $json }}", "respondWith")}
    elif respond_with == "json":
        from connectflow_dagster.interop.n8n.mappers.http import json_param

        params = {
            "respond_with": "json",
            "body": json_param(ctx, ctx.get("responseBody", default="{}"), "responseBody"),
        }
    elif respond_with == "text":
        params = {
            "respond_with": "text",
            "body": ctx.expr(ctx.get("responseBody", default=""), "responseBody"),
        }
    elif respond_with == "noData":
        params = {"respond_with": "no_data"}
    else:
        raise Untranslatable(f"responding with '{respond_with}' is not supported")
    if options.get("responseCode"):
        params["status_code"] = options["responseCode"]
    headers = ((options.get("responseHeaders") or {}).get("entries")) or []
    if headers:
        params["headers"] = {
            str(h.get("name")): ctx.expr(h.get("value", ""), f"options.responseHeaders.{i}")
            for i, h in enumerate(headers)
        }
    return Mapped("respond", params, PASSTHROUGH)


@importer("n8n-nodes-base.splitOut")
def split_out(ctx: MapContext) -> Mapped:
    field = ctx.get("fieldToSplitOut", default="")
    if not isinstance(field, str) or not field.strip() or "," in field or field.startswith("="):
        raise Untranslatable("Split Out of several or computed fields")
    if ctx.get("include", default="noOtherFields") != "noOtherFields":
        ctx.approximate("other fields of the item are not copied into each split item")
    ctx.approximate("each item is the list element itself (n8n wraps a non-object element as {field: value})")
    path = ".".join(f"[{p}]" if p.isdigit() else p for p in field.strip().split("."))
    items = ctx.expr("={{ $json." + path.replace(".[", "[") + " }}", "fieldToSplitOut")
    return Mapped("loop", {"items": items}, ITEM)


@importer("n8n-nodes-base.splitInBatches")
def loop_over_items(ctx: MapContext) -> Mapped:
    """Loop Over Items v3 (the importer rewires its "done" output through an Aggregate)."""
    if ctx.version < 3:
        raise Untranslatable("Split In Batches before v3 (loops by re-running itself)")
    size = ctx.get("batchSize", default=1)
    if size != 1:
        ctx.approximate(f"batches of {size} become single items (each item's nodes run as in n8n)")
    ctx.approximate("loops over the list the node before it outputs (n8n: over its items)")
    if ctx.input_items is None:
        raise Untranslatable("the items to loop over are not known")
    items = ctx.input_items()
    # n8n output 0 is "done" (rewired to the Aggregate), output 1 "loop": the Loop's own output
    return Mapped("loop", {"items": items}, ITEM, ("done", "main"))


@exporter("loop", view=ITEM)
def loop_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    converted = str(ectx.expression(node.params.get("items", "")))
    found = re.match(r'^=\{\{ \$\("[^"]*"\)\.item\.json\.([A-Za-z0-9_.]+) \}\}$', converted)
    return "n8n-nodes-base.splitOut", 1, {"fieldToSplitOut": found.group(1) if found else converted}


@exporter("aggregate", view=renamed("an Aggregate outputs data and count", data="data"))
def aggregate_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.aggregate", 1, {"aggregate": "aggregateAllItemData", "options": {}}


@importer("n8n-nodes-base.aggregate")
def aggregate(ctx: MapContext) -> Mapped:
    if not ctx.inside_loop:
        raise Untranslatable(
            "an Aggregate of items that ConnectFlow holds as one list (no Split Out before it)"
        )
    mode = ctx.get("aggregate", default="aggregateIndividualFields")
    if mode == "aggregateAllItemData":
        destination = ctx.get("destinationFieldName", default="data") or "data"
        value = ctx.expr("={{ $json }}", "aggregate")
        return Mapped(
            "aggregate",
            {"value": value},
            renamed("an Aggregate outputs data and count", **{destination: "data"}),
        )
    fields = ctx.get("fieldsToAggregate", "fieldToAggregate", default=[]) or []
    if len(fields) != 1:
        raise Untranslatable(f"aggregating {len(fields)} fields at once (one maps to an Aggregate)")
    spec = fields[0]
    name = str(spec.get("fieldToAggregate", ""))
    if not name or name.startswith("="):
        raise Untranslatable("aggregating a computed field")
    output = spec.get("outputFieldName") if spec.get("renameField") else name
    value = ctx.expr("={{ $json." + name + " }}", "fieldsToAggregate")
    return Mapped(
        "aggregate", {"value": value}, renamed("an Aggregate outputs data and count", **{str(output): "data"})
    )


ERROR_VIEW = renamed(
    "ConnectFlow's error report has execution {id, url, error, failed_node, last_node_executed} and workflow",
    **{
        "execution.id": "execution.id",
        "execution.url": "execution.url",
        "execution.error.message": "execution.error.message",
        "execution.lastNodeExecuted": "execution.last_node_executed",
        "workflow.id": "workflow.id",
        "workflow.name": "workflow.name",
    },
)


@importer("n8n-nodes-base.errorTrigger")
def error_trigger(ctx: MapContext) -> Mapped:
    ctx.approximate("name this workflow as the error workflow in the failing workflows' settings")
    return Mapped("trigger.error", {}, ERROR_VIEW)


@exporter("trigger.error", view=ERROR_VIEW)
def error_trigger_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.errorTrigger", 1, {}


@importer("n8n-nodes-base.executeWorkflowTrigger")
def execute_workflow_trigger(ctx: MapContext) -> Mapped:
    return Mapped("trigger.execute_workflow", {}, View())


@exporter("trigger.execute_workflow")
def execute_workflow_trigger_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.executeWorkflowTrigger", 1, {"inputSource": "passthrough"}


@importer("n8n-nodes-base.executeWorkflow")
def execute_workflow(ctx: MapContext) -> Mapped:
    if ctx.get("source", default="database") != "database":
        raise Untranslatable("calling a workflow given as a file, URL or parameter")
    if ctx.get("mode", default="once") == "each":
        ctx.approximate("the sub-workflow is called once with the input (n8n: once per item)")
    target = ctx.get("workflowId", default="")
    target = target.get("value", "") if isinstance(target, dict) else target
    if not isinstance(target, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", target):
        raise Untranslatable("a sub-workflow chosen by an expression")
    ctx.approximate(f"calls workflow '{target}': import the called workflow and set its ConnectFlow id here")
    if ctx.get("workflowInputs"):
        ctx.approximate("the sub-workflow's input mapping is replaced by this node's input item")
    return Mapped(
        "workflow.execute", {"workflow_id": target, "input": ctx.expr("={{ $json }}", "input")}, View()
    )


@exporter("workflow.execute")
def execute_workflow_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return (
        "n8n-nodes-base.executeWorkflow",
        1.1,
        {
            "source": "database",
            "workflowId": {"__rl": True, "value": node.params.get("workflow_id", ""), "mode": "id"},
        },
    )
