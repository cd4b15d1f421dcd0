"""A trigger type that exists only for the tests: one module, registered through one entry point.

``test_trigger_plugin.py`` installs it the way a third-party package would (a ``connectflow.nodes``
entry point) and calls it through the gateway's generic ingest route: no gateway or editor code
knows it. A "ping" carries ``{"id": …, "message": …}``; ``{"quiet": true}`` pings are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectflow_dagster.errors import TriggerEventInvalid
from connectflow_dagster.nodes.base import NodeType, Params
from connectflow_dagster.nodes.ingress import IncomingEvent, Ingress, TriggerPanel
from connectflow_dagster.nodes.triggers import passthrough


class PingParams(Params):
    prefix: str = Field(default="", description="Prepended to every message.")


class PingOutput(BaseModel):
    ping_id: str
    message: str


def context(event: IncomingEvent, params: PingParams) -> dict[str, Any]:
    """The context entry of a ping; ``TriggerEventInvalid`` (400) when it is not one."""
    body = event.body
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("id"), str)
        or not isinstance(body.get("message"), str)
    ):
        raise TriggerEventInvalid("a ping is a JSON object with string 'id' and 'message'")
    return {
        "ping_id": body["id"],
        "message": params.prefix + body["message"],
        "quiet": bool(body.get("quiet")),
    }


node = NodeType(
    type="test.ping",
    display_name="Ping",
    group="trigger",
    description="Starts the workflow when a ping arrives (test-only trigger type).",
    params=PingParams,
    output=PingOutput,
    execute=passthrough,
    ingress=Ingress(
        url="/api/webhooks/ping/{workflow_id}",
        auth="shared",
        auth_required=True,
        context=context,
        ignore=lambda params, ctx: {"ping_id": ctx["ping_id"]} if ctx["quiet"] else None,
        dedup_key=lambda event, ctx: f"ping:{ctx['ping_id']}",
        panel=TriggerPanel(url_label="Ping URL", hint="Send `Authorization: Bearer <secret>`."),
    ),
)
