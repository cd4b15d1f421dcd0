"""Triggers: manual, webhook, schedule / cron, Stripe."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable
from connectflow_dagster.interop.n8n.mappers.base import (
    IDENTITY,
    ExportContext,
    MapContext,
    Mapped,
    View,
    exporter,
    importer,
    opaque,
    renamed,
)


@importer("n8n-nodes-base.manualTrigger", "n8n-nodes-base.start")
def manual(ctx: MapContext) -> Mapped:
    return Mapped("trigger.manual", {}, IDENTITY)


@exporter("trigger.manual")
def manual_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.manualTrigger", 1, {}


WEBHOOK_VIEW = renamed(
    "ConnectFlow's webhook output has body, query, headers, method and path",
    body="body",
    query="query",
    headers="headers",
)


@importer("n8n-nodes-base.webhook")
def webhook(ctx: MapContext) -> Mapped:
    method = ctx.get("httpMethod", default="GET")
    if method != "POST":
        ctx.approximate(f"n8n listened for {method}; ConnectFlow's webhook trigger takes POST")
    mode = ctx.get("responseMode", default="onReceived")
    params: dict[str, Any] = {"path": _path(ctx.get("path", default=""))}
    if mode == "lastNode":
        params["response_mode"] = "after_run"
        if ctx.get("responseData", default="firstEntryJson") != "firstEntryJson":
            ctx.approximate("answers with the last node's output, not n8n's responseData choice")
    elif mode == "responseNode":
        params["response_mode"] = "respond_node"
    else:
        ctx.approximate("answers 202 with the execution id at once (n8n: 200 'Workflow was started')")
    if ctx.get("authentication", default="none") not in ("none", None):
        ctx.approximate("n8n's webhook authentication is replaced by the trigger's shared secret")
    ctx.ignore_options(ctx.get("options"), set())
    return Mapped("trigger.webhook", params, WEBHOOK_VIEW)


def _path(path: Any) -> str:
    text = str(path or "").strip("/")
    return "".join(c if c.isalnum() or c in "_-./" else "-" for c in text)[:200]


@exporter("trigger.webhook", view=WEBHOOK_VIEW)
def webhook_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    params = node.params
    out: dict[str, Any] = {"httpMethod": "POST", "path": params.get("path") or node.id, "options": {}}
    out["responseMode"] = "lastNode" if params.get("response_mode") == "after_run" else "onReceived"
    return "n8n-nodes-base.webhook", 2, out


SCHEDULE_VIEW = opaque("a schedule's n8n output (timestamp, readable date …) differs from ConnectFlow's")


@importer("n8n-nodes-base.scheduleTrigger")
def schedule(ctx: MapContext) -> Mapped:
    rules = ctx.get("rule", "interval", default=[{}]) or [{}]
    if len(rules) > 1:
        ctx.approximate(f"only the first of {len(rules)} schedule rules is kept")
    cron = _cron_of(rules[0] if isinstance(rules[0], dict) else {}, ctx)
    return Mapped("trigger.schedule", {"cron": cron, "timezone": _timezone(ctx)}, SCHEDULE_VIEW)


def _timezone(ctx: MapContext) -> str:
    tz = ctx.settings.get("timezone")
    return tz if isinstance(tz, str) and tz and tz != "DEFAULT" else "UTC"


def _cron_of(rule: dict[str, Any], ctx: MapContext) -> str:
    field = rule.get("field", "days")
    minute = int(rule.get("triggerAtMinute", 0) or 0)
    hour = int(rule.get("triggerAtHour", 0) or 0)
    if field == "cronExpression":
        parts = str(rule.get("expression", "")).split()
        if len(parts) == 6:  # n8n allows a leading seconds field
            if parts[0] not in ("0", "*"):
                ctx.approximate(f"the seconds field '{parts[0]}' is dropped (ConnectFlow cron has minutes)")
            parts = parts[1:]
        if len(parts) != 5:
            raise Untranslatable(f"cron expression '{rule.get('expression')}' is not five fields")
        return " ".join(parts)
    if field == "seconds":
        ctx.approximate("runs every minute (ConnectFlow schedules have minute resolution)")
        return "* * * * *"
    if field == "minutes":
        n = int(rule.get("minutesInterval", 5) or 5)
        return f"*/{n} * * * *" if n > 1 else "* * * * *"
    if field == "hours":
        n = int(rule.get("hoursInterval", 1) or 1)
        return f"{minute} */{n} * * *" if n > 1 else f"{minute} * * * *"
    if field == "days":
        n = int(rule.get("daysInterval", 1) or 1)
        if n > 1:
            ctx.approximate(f"every {n} days is read as days of the month divisible by {n}")
        return f"{minute} {hour} {'*/' + str(n) if n > 1 else '*'} * *"
    if field == "weeks":
        days = rule.get("triggerAtDay") or [0]
        if int(rule.get("weeksInterval", 1) or 1) > 1:
            ctx.approximate("an interval of several weeks is read as every week")
        return f"{minute} {hour} * * {','.join(str(d) for d in days)}"
    if field == "months":
        day = int(rule.get("triggerAtDayOfMonth", 1) or 1)
        n = int(rule.get("monthsInterval", 1) or 1)
        return f"{minute} {hour} {day} {'*/' + str(n) if n > 1 else '*'} *"
    raise Untranslatable(f"schedule rule '{field}' has no cron equivalent")


@importer("n8n-nodes-base.cron")
def legacy_cron(ctx: MapContext) -> Mapped:
    items = ctx.get("triggerTimes", "item", default=[]) or []
    if not items:
        raise Untranslatable("the Cron node has no trigger time")
    if len(items) > 1:
        ctx.approximate(f"only the first of {len(items)} trigger times is kept")
    item = items[0]
    mode = item.get("mode", "everyDay")
    minute, hour = int(item.get("minute", 0) or 0), int(item.get("hour", 0) or 0)
    cron = {
        "everyMinute": "* * * * *",
        "everyHour": f"{minute} * * * *",
        "everyDay": f"{minute} {hour} * * *",
        "everyWeek": f"{minute} {hour} * * {item.get('weekday', 1)}",
        "everyMonth": f"{minute} {hour} {item.get('dayOfMonth', 1)} * *",
    }.get(mode)
    if mode == "everyX":
        value, unit = int(item.get("value", 2) or 2), item.get("unit", "hours")
        cron = f"*/{value} * * * *" if unit == "minutes" else f"0 */{value} * * *"
    if mode == "custom":
        parts = str(item.get("cronExpression", "")).split()
        cron = " ".join(parts[1:] if len(parts) == 6 else parts)
    if not cron or len(cron.split()) != 5:
        raise Untranslatable(f"Cron mode '{mode}' has no five-field cron equivalent")
    return Mapped("trigger.schedule", {"cron": cron, "timezone": _timezone(ctx)}, SCHEDULE_VIEW)


@exporter("trigger.schedule", view=SCHEDULE_VIEW)
def schedule_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    cron = node.params.get("cron", "0 * * * *")
    return (
        "n8n-nodes-base.scheduleTrigger",
        1.2,
        {"rule": {"interval": [{"field": "cronExpression", "expression": cron}]}},
    )


# n8n's Stripe trigger outputs the Stripe event; ConnectFlow keeps it whole under ``raw``.
STRIPE_VIEW = View(kind="prefix", prefix=("raw",))


@importer("n8n-nodes-base.stripeTrigger")
def stripe(ctx: MapContext) -> Mapped:
    events = [e for e in (ctx.get("events", default=[]) or []) if isinstance(e, str)]
    ctx.approximate(
        "set the Stripe signing secret on the trigger and add its URL in Stripe "
        "(n8n registered the endpoint through the Stripe API credential)"
    )
    return Mapped("trigger.stripe", {"event_types": [] if "*" in events else events}, STRIPE_VIEW)


@exporter("trigger.stripe", view=STRIPE_VIEW)
def stripe_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return "n8n-nodes-base.stripeTrigger", 1, {"events": node.params.get("event_types") or ["*"]}
