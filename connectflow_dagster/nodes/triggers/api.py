"""API trigger: ``POST /api/trigger`` with ``Authorization: Bearer cf_sk_…``.

The key names the workflow (keys are scoped to one); the JSON body becomes the context entry as-is
(``api = <payload>``); an ``Idempotency-Key`` header makes retries of the same call start one run.
Keys are managed at ``/api/workflows/{id}/api-keys``.
"""

from __future__ import annotations

from pydantic import Field

from connectflow_dagster.nodes.base import NodeType, Params
from connectflow_dagster.nodes.ingress import Ingress, TriggerPanel, idempotency_key
from connectflow_dagster.nodes.triggers import passthrough


class ApiTriggerParams(Params):
    description: str = Field(default="", description="What callers should send (shown to key holders).")


ingress = Ingress(
    url="/api/trigger",
    body="json",
    auth="api_key",  # the key names the workflow: the URL carries no workflow id
    context=lambda event, params: event.body,
    dedup_key=idempotency_key(max_length=200),
    panel=TriggerPanel(
        url_label="API endpoint",
        method_shown=True,
        hint="Callers send JSON with `Authorization: Bearer <API key>` (and optionally `Idempotency-Key`).",
        api_keys_link=True,
    ),
)

node = NodeType(
    type="trigger.api",
    display_name="API call",
    group="trigger",
    description="Starts the workflow when a program POSTs JSON to /api/trigger with one of its API keys.",
    params=ApiTriggerParams,
    execute=passthrough,
    icon="key",
    ingress=ingress,
)
