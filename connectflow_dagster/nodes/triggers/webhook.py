"""Webhook trigger: a call of ``/api/webhooks/{workflow_id}/{path}`` with one of its ``methods``
(default POST; GET, PUT, PATCH, DELETE, HEAD as configured) and a JSON, form or empty body.

Context: ``{body, query, headers, method, path}`` (credential-bearing headers removed). The caller
gets 202 with the execution id at once, or — with ``response_mode='after_run'`` — the final context
(or one node's output) when the run finishes within ``response_timeout_seconds``, else the 202.
An optional shared secret (``X-ConnectFlow-Secret`` header or ``Authorization: Bearer``) is set
through ``/api/workflows/{id}/triggers/{node}/secret``, never in params.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from connectflow_dagster.errors import Problem
from connectflow_dagster.nodes.base import CredentialType, NodeType, Params
from connectflow_dagster.nodes.http_auth import BASIC_AUTH, HEADER_AUTH
from connectflow_dagster.nodes.ingress import AfterRun, IncomingEvent, Ingress, TriggerPanel, idempotency_key
from connectflow_dagster.nodes.triggers import passthrough

# ``authentication``: the credential type callers must present.
CALLER_AUTH: dict[str, CredentialType[Any]] = {"basic": BASIC_AUTH, "header": HEADER_AUTH}

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

HIDDEN_HEADERS = frozenset(
    {"authorization", "cookie", "x-connectflow-secret", "stripe-signature", "proxy-authorization"}
)


class WebhookParams(Params):
    path: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_\-./]{0,200}$",
        description="The part of the URL after /api/webhooks/{workflow_id}/; empty matches any path.",
    )
    methods: list[Method] = Field(
        default_factory=lambda: list[Method](["POST"]),
        min_length=1,
        max_length=6,
        description="HTTP methods this webhook answers; another method on its URL is 404.",
    )
    authentication: Literal["none", "basic", "header"] = Field(
        default="none",
        description="Besides the optional shared secret: callers send the node's stored credential as "
        "HTTP basic auth or as a header (wrong: 403, missing: 401).",
    )
    response_mode: Literal["immediate", "after_run", "respond_node"] = Field(
        default="immediate",
        description="Answer 202 at once, with the result once the run finishes, or with what a "
        "Respond to Webhook node answers (as soon as it runs).",
    )
    response_node: str | None = Field(
        default=None, description="after_run: answer with this node's output instead of the whole context."
    )
    response_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="after_run / respond_node: answer 202 if it takes longer."
    )


class WebhookOutput(BaseModel):
    body: Any
    query: dict[str, Any]
    headers: dict[str, str]
    method: str
    path: str


def event_context(
    *, body: Any, query: dict[str, Any], headers: dict[str, str], method: str, path: str
) -> dict[str, Any]:
    """The context entry of an accepted webhook call."""
    visible = {k.lower(): v for k, v in headers.items() if k.lower() not in HIDDEN_HEADERS}
    return {"body": body, "query": query, "headers": visible, "method": method, "path": path}


def _context(event: IncomingEvent, params: WebhookParams) -> dict[str, Any]:
    return event_context(
        body=event.body,
        query=dict(event.query),
        headers=dict(event.headers),
        method=event.method,
        path=event.path,
    )


def _after_run(params: WebhookParams) -> AfterRun | None:
    if params.response_mode == "respond_node":
        return AfterRun(timeout_seconds=params.response_timeout_seconds, mode="respond_node")
    if params.response_mode != "after_run":
        return None
    return AfterRun(timeout_seconds=params.response_timeout_seconds, node_id=params.response_node)


ingress = Ingress(
    url="/api/webhooks/{workflow_id}",
    methods=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"),  # each node answers its own ``methods``
    subpath_param="path",
    body="json_or_form",
    auth="shared",  # optional: without one set, anyone with the URL may call it
    context=_context,
    dedup_key=idempotency_key(),
    after_run=_after_run,
    credential_auth=True,
    panel=TriggerPanel(
        url_label="Webhook URL",
        hint="With a secret set, callers send it as `Authorization: Bearer …` or `X-ConnectFlow-Secret`.",
    ),
)


class _WebhookNodeType(NodeType):
    def check_params(self, node: Any) -> list[Problem]:
        problems = super().check_params(node)
        kind = node.params.get("authentication", "none")
        if kind in CALLER_AUTH and not node.credential_id:
            problems.append(
                Problem(
                    f"choose a '{CALLER_AUTH[kind].display_name}' credential",
                    node_id=node.id,
                    field="credential_id",
                )
            )
        return problems


node = _WebhookNodeType(
    type="trigger.webhook",
    display_name="Webhook",
    group="trigger",
    description="Starts the workflow when its URL is called (POST by default; GET, PUT, PATCH, DELETE or "
    "HEAD as configured) with a JSON, form or empty body.",
    params=WebhookParams,
    output=WebhookOutput,
    execute=passthrough,
    icon="webhook",
    ingress=ingress,
    credential_options=tuple(CALLER_AUTH.values()),
)
