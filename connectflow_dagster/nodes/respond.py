"""Respond to Webhook: answer the webhook caller now, from any point of the workflow; the run goes on.

Works with a webhook trigger whose ``response_mode`` is ``respond_node`` (the caller's connection is
held until a Respond node runs; ``connectflow_dagster/responses.py``). ``status_code``, ``headers``
and ``body`` may be templates. ``respond_with``: ``json`` (the body as JSON), ``text`` (the body as
text, ``text/plain`` unless a ``Content-Type`` header says otherwise) or ``no_data`` (empty body).
The first Respond node of an execution answers; a later one records ``sent: false``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
# Framing and connection headers belong to the server, never to a workflow.
FORBIDDEN_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te", "host"}
)
MAX_HEADERS = 50
MAX_HEADER_VALUE = 4096


class RespondParams(Params):
    respond_with: Literal["json", "text", "no_data"] = Field(
        default="json", description="The body as JSON, as text, or no body."
    )
    status_code: int = Field(default=200, ge=100, le=599, description="HTTP status code of the answer.")
    headers: dict[str, Any] = Field(default_factory=dict, description="Extra response headers (templates).")
    body: Any = Field(default=None, description="json: any JSON value; text: a string (templates).")


class RespondOutput(BaseModel):
    sent: bool
    status_code: int
    headers: dict[str, str]
    body: Any = None


def _checked_headers(headers: dict[str, Any]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise NonRetriableNodeError(f"at most {MAX_HEADERS} response headers")
    out: dict[str, str] = {}
    for name, value in headers.items():
        value = value if isinstance(value, str) else json.dumps(value, default=str)
        if not _TOKEN.match(name):
            raise NonRetriableNodeError(f"'{name[:100]}' is not a valid header name")
        if name.lower() in FORBIDDEN_HEADERS or name.lower().startswith("proxy-"):
            raise NonRetriableNodeError(f"the '{name}' header is set by the server, not by a workflow")
        if len(value) > MAX_HEADER_VALUE or any(c in value for c in "\r\n\0"):
            raise NonRetriableNodeError(
                f"header '{name}': at most {MAX_HEADER_VALUE} characters, no line breaks"
            )
        out[name] = value
    return out


def execute(params: RespondParams, ctx: NodeContext) -> RespondOutput:
    from connectflow_dagster import responses
    from connectflow_dagster.config import get_settings

    headers = _checked_headers(params.headers)
    lower = {k.lower() for k in headers}
    if params.respond_with == "json":
        text = json.dumps(params.body, default=str, ensure_ascii=False)
        if "content-type" not in lower:
            headers["Content-Type"] = "application/json"
    elif params.respond_with == "text":
        text = params.body if isinstance(params.body, str) else json.dumps(params.body, default=str)
        if "content-type" not in lower:
            headers["Content-Type"] = "text/plain; charset=utf-8"
    else:
        text = ""
    limit = get_settings().max_body_bytes
    if len(text.encode()) > limit:
        raise NonRetriableNodeError(f"the response body is larger than {limit} bytes")
    sent = responses.record(
        ctx.execution_id or ctx.run_id, ctx.node_id, responses.Answer(params.status_code, headers, text)
    )
    if not sent:
        ctx.log.info("an earlier Respond to Webhook node already answered this execution")
    return RespondOutput(sent=sent, status_code=params.status_code, headers=headers, body=params.body)


node = NodeType(
    type="respond",
    display_name="Respond to Webhook",
    group="logic",
    description="Answers the waiting webhook caller now with a status, headers and body; the run goes on "
    "(webhook trigger with response mode 'respond_node').",
    params=RespondParams,
    output=RespondOutput,
    execute=execute,
    icon="reply",
    responds=True,
)
