"""Logic: Set (every typeVersion), If (v1 and v2 conditions), Merge, No Op."""

from __future__ import annotations

import json
from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable, is_expression
from connectflow_dagster.interop.n8n.mappers.base import (
    IDENTITY,
    PASSTHROUGH,
    ExportContext,
    MapContext,
    Mapped,
    View,
    exporter,
    importer,
    opaque,
    overlay,
)

# ---- Set ---------------------------------------------------------------------------------------


def _nest(fields: dict[str, Any], name: str, value: Any, dot: bool) -> None:
    if not dot or "." not in name:
        fields[name] = value
        return
    parts = name.split(".")
    target = fields
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
    target[parts[-1]] = value


def _typed(ctx: MapContext, value: Any, kind: str, field: str) -> Any:
    """A Set value of n8n type ``kind`` (string/number/boolean/array/object) as ConnectFlow sets it."""
    if not is_expression(value):
        try:
            if kind == "number":
                number = float(value)
                return int(number) if number.is_integer() else number
            if kind == "boolean":
                return value if isinstance(value, bool) else str(value).strip().lower() == "true"
            if kind in ("array", "object") and isinstance(value, str):
                return json.loads(value)
        except (TypeError, ValueError):
            raise Untranslatable(f"{field}: '{value}' is not a {kind}") from None
        return ctx.expr(value, field)
    translated = ctx.expr(value, field)
    if kind == "string" and isinstance(translated, str) and _lone(translated):
        inner = translated.strip()[2:-2].strip()
        return "{{ (" + inner + ") | js_string }}"
    if (
        kind in ("number", "boolean", "array", "object")
        and isinstance(translated, str)
        and not _lone(translated)
    ):
        ctx.approximate(f"{field}: text converted to {kind} by n8n is kept as text")
    return translated


def _lone(template: Any) -> bool:
    if not isinstance(template, str):
        return False
    t = template.strip()
    return t.startswith("{{") and t.endswith("}}") and t.count("{{") == 1


@importer("n8n-nodes-base.set")
def set_node(ctx: MapContext) -> Mapped:
    fields: dict[str, Any] = {}
    dot = ctx.get("options", "dotNotation", default=True) is not False
    names: list[str] = []
    if ctx.version >= 3 and ctx.get("mode", default="manual") == "raw":
        from connectflow_dagster.interop.n8n.mappers.http import json_param

        value = json_param(ctx, ctx.get("jsonOutput", default="{}"), "jsonOutput")
        if not isinstance(value, dict):
            raise Untranslatable("Set in JSON mode with an output that is not a JSON object literal")
        include_other = bool(ctx.get("includeOtherFields", default=ctx.version < 3.3))
        include = ctx.get("include", default="all")
        names.extend(value)
        fields = value
    elif ctx.version >= 3.3 or ctx.get("assignments") is not None:
        for i, a in enumerate(ctx.get("assignments", "assignments", default=[]) or []):
            name = str(a.get("name", ""))
            names.append(name)
            _nest(
                fields,
                name,
                _typed(ctx, a.get("value"), a.get("type", "string"), f"assignments.assignments.{i}.value"),
                dot,
            )
        include_other = bool(ctx.get("includeOtherFields", default=False))
        include = ctx.get("include", default="all")
    elif ctx.version >= 3:
        for i, v in enumerate(ctx.get("fields", "values", default=[]) or []):
            name, kind = str(v.get("name", "")), str(v.get("type", "stringValue"))
            names.append(name)
            value = v.get(kind, "")
            _nest(
                fields, name, _typed(ctx, value, kind.removesuffix("Value"), f"fields.values.{i}.{kind}"), dot
            )
        include = ctx.get("include", default="all")
        include_other = include != "none"
    else:
        values = ctx.get("values", default={}) or {}
        for kind in ("string", "number", "boolean"):
            for i, v in enumerate(values.get(kind, []) or []):
                name = str(v.get("name", "propertyName"))
                names.append(name)
                default = {"string": "", "number": 0, "boolean": False}[kind]
                _nest(
                    fields, name, _typed(ctx, v.get("value", default), kind, f"values.{kind}.{i}.value"), dot
                )
        include_other = not ctx.get("keepOnlySet", default=False)
        include = "all"
    view: View = IDENTITY
    if include_other:
        if include not in ("all", None):
            ctx.approximate(f"'include {include}' input fields: ConnectFlow's Set outputs only its fields")
            view = opaque("the Set node's selection of input fields is not carried over")
        else:
            # the item is the input plus these fields: later references to other fields read the input
            view = overlay([n.split(".")[0] if dot else n for n in names])
            ctx.approximate("the input's other fields are read from the input node, not copied")
    return Mapped("set", {"fields": fields}, view)


@exporter("set")
def set_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    fields = node.params.get("fields") or {}
    if any(_lone(v) for v in fields.values() if isinstance(v, str)) or any(
        isinstance(v, dict | list) for v in fields.values()
    ):
        # a lone template keeps its type: JSON mode with an object literal keeps it in n8n too
        from connectflow_dagster.interop.n8n.mappers.http import js_literal

        converted = ectx.expression(fields)
        return (
            "n8n-nodes-base.set",
            3.4,
            {"mode": "raw", "jsonOutput": "={{ " + js_literal(converted) + " }}", "options": {}},
        )
    assignments = []
    for i, (name, value) in enumerate((node.params.get("fields") or {}).items()):
        kind = (
            "boolean"
            if isinstance(value, bool)
            else "number"
            if isinstance(value, int | float)
            else "object"
            if isinstance(value, dict)
            else "array"
            if isinstance(value, list)
            else "string"
        )
        assignments.append({"id": f"a{i}", "name": name, "value": ectx.expression(value), "type": kind})
    return "n8n-nodes-base.set", 3.4, {"assignments": {"assignments": assignments}, "options": {}}


# ---- If ----------------------------------------------------------------------------------------

_V2_OPS = {
    "equals": "equals",
    "notEquals": "not_equals",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "contains": "contains",
    "notContains": "not_contains",
    "startsWith": "starts_with",
    "endsWith": "ends_with",
    "regex": "matches",
    "empty": "is_empty",
    "notEmpty": "is_not_empty",
    "true": "is_true",
    "false": "is_false",
    "after": "gt",
    "before": "lt",
    "afterOrEquals": "gte",
    "beforeOrEquals": "lte",
}
V1_OPS = {
    "equal": "equals",
    "notEqual": "not_equals",
    "larger": "gt",
    "largerEqual": "gte",
    "smaller": "lt",
    "smallerEqual": "lte",
    "contains": "contains",
    "notContains": "not_contains",
    "startsWith": "starts_with",
    "endsWith": "ends_with",
    "regex": "matches",
    "isEmpty": "is_empty",
    "isNotEmpty": "is_not_empty",
}


def conditions_of(
    ctx: MapContext, where: tuple[str, ...] = ("conditions",)
) -> tuple[list[dict[str, Any]], str]:
    """(ConnectFlow conditions, "and"/"or") from an If/Filter node's v1 or v2 conditions."""
    raw = ctx.get(*where, default={}) or {}
    out: list[dict[str, Any]] = []
    if isinstance(raw.get("conditions"), list):  # v2: filter-style conditions
        options = raw.get("options") or {}
        if options.get("caseSensitive") is False:
            ctx.approximate("comparisons are case-sensitive in ConnectFlow")
        for i, c in enumerate(raw["conditions"]):
            op = c.get("operator") or {}
            operation, typ = op.get("operation", "equals"), op.get("type", "string")
            if typ == "boolean" and operation in ("equals", "notEquals"):
                mapped = "equals" if operation == "equals" else "not_equals"
            elif operation in ("exists", "notExists"):
                raise Untranslatable(f"condition '{operation}' needs JavaScript")
            elif operation not in _V2_OPS or operation.startswith("length"):
                raise Untranslatable(f"condition '{typ}: {operation}' has no ConnectFlow operator")
            else:
                mapped = _V2_OPS[operation]
            if typ == "dateTime":
                ctx.approximate("date comparisons compare the values as given (no date parsing)")
            cond: dict[str, Any] = {
                "left": ctx.expr(c.get("leftValue", ""), f"conditions.{i}.leftValue"),
                "operator": mapped,
            }
            if not op.get("singleValue") and mapped not in (
                "is_empty",
                "is_not_empty",
                "is_true",
                "is_false",
            ):
                cond["right"] = ctx.expr(c.get("rightValue", ""), f"conditions.{i}.rightValue")
            out.append(cond)
        return out, "or" if raw.get("combinator") == "or" else "and"
    for kind in ("string", "number", "boolean", "dateTime"):
        for i, c in enumerate(raw.get(kind, []) or []):
            operation = c.get("operation", "equal" if kind != "dateTime" else "after")
            found = V1_OPS.get(operation) or {"after": "gt", "before": "lt"}.get(operation)
            if found is None:
                raise Untranslatable(f"condition '{kind}: {operation}' has no ConnectFlow operator")
            mapped = found
            cond = {
                "left": ctx.expr(c.get("value1", ""), f"conditions.{kind}.{i}.value1"),
                "operator": mapped,
            }
            if mapped not in ("is_empty", "is_not_empty"):
                cond["right"] = ctx.expr(c.get("value2", ""), f"conditions.{kind}.{i}.value2")
            out.append(cond)
    combine = ctx.get("combineOperation", default="all")
    return out, "or" if combine == "any" else "and"


@importer("n8n-nodes-base.if")
def if_node(ctx: MapContext) -> Mapped:
    conditions, combine = conditions_of(ctx)
    if not conditions:
        raise Untranslatable("an If without conditions")
    # n8n's If passes its input items on: ``$json`` after it is its input's.
    return Mapped("if", {"conditions": conditions, "combine": combine}, PASSTHROUGH, ("true", "false"))


_CF_TO_V2 = {
    v: k for k, v in _V2_OPS.items() if k not in ("after", "before", "afterOrEquals", "beforeOrEquals")
}


@exporter("if", view=PASSTHROUGH)
def if_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    conditions = []
    for i, c in enumerate(node.params.get("conditions") or []):
        op = c.get("operator", "equals")
        numeric = op in ("gt", "gte", "lt", "lte") or isinstance(c.get("right"), int | float)
        typ = "boolean" if op in ("is_true", "is_false") else "number" if numeric else "string"
        operator: dict[str, Any] = {"type": typ, "operation": _CF_TO_V2.get(op, "equals")}
        if op in ("is_empty", "is_not_empty", "is_true", "is_false"):
            operator["singleValue"] = True
        conditions.append(
            {
                "id": f"c{i}",
                "leftValue": ectx.expression(c.get("left", "")),
                "rightValue": ectx.expression(c.get("right", "")),
                "operator": operator,
            }
        )
    return (
        "n8n-nodes-base.if",
        2,
        {
            "conditions": {
                "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "loose"},
                "conditions": conditions,
                "combinator": node.params.get("combine", "and"),
            },
            "options": {},
        },
    )


# ---- Merge, No Op ------------------------------------------------------------------------------


@importer("n8n-nodes-base.merge")
def merge(ctx: MapContext) -> Mapped:
    mode = ctx.get("mode", default="append")
    if mode == "chooseBranch":
        which = (
            ctx.get("output", default="input1") if ctx.version < 3 else ctx.get("useDataOfInput", default=1)
        )
        if which in ("input1", 1, "1"):
            view = PASSTHROUGH  # the importer reads the first input's view
        else:
            view = opaque("the Merge node outputs its second input")
        return Mapped("merge", {}, view)
    if mode in ("append", "passThrough", "wait"):
        ctx.approximate(
            "ConnectFlow's Merge waits for both branches and outputs which ran; n8n appends their items"
        )
        return Mapped("merge", {}, opaque("after a Merge, read the branch node by name"))
    combine_by = ctx.get("combineBy", default="combineByFields" if ctx.version >= 3 else "")
    one_to_one = (mode == "combine" and combine_by in ("combineByPosition", "combineAll")) or mode in (
        "mergeByIndex",
        "multiplex",
    )
    if one_to_one:
        options = ctx.get("options", default={}) or {}
        if (
            options.get("clashHandling", {}).get("values", {}).get("resolveClash", "preferInput2")
            != "preferInput2"
        ):
            raise Untranslatable("a Merge whose first input wins clashes")
        ctx.approximate("combines the two inputs' items into one (ConnectFlow: one item per input)")
        return Mapped("merge", {}, View(kind="combine"))
    raise Untranslatable(f"Merge mode '{mode}' ({combine_by or 'by key'}) needs per-item data")


@exporter("merge", view=PASSTHROUGH)
def merge_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.merge", 3, {"mode": "chooseBranch", "useDataOfInput": 1}


@importer("n8n-nodes-base.noOp")
def no_op(ctx: MapContext) -> Mapped:
    from connectflow_dagster.registry import get_registry

    if "noop" in get_registry().type_names():
        return Mapped("noop", {}, PASSTHROUGH)
    # until a No Op type exists: a Set with no fields does nothing, and ``$json`` reads through it
    return Mapped("set", {"fields": {}}, PASSTHROUGH)
