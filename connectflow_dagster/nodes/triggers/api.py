"""API trigger: ``POST /api/trigger`` with ``Authorization: Bearer cf_sk_…``.

The key names the workflow (keys are scoped to one); the JSON body becomes the context entry as-is
(``api = <payload>``); an ``Idempotency-Key`` header makes retries of the same call start one run.
Keys are managed at ``/api/workflows/{id}/api-keys``.
"""

from __future__ import annotations

from pydantic import Field

from connectflow_dagster.nodes.base import NodeType, Params
from connectflow_dagster.nodes.triggers import passthrough


class ApiTriggerParams(Params):
    description: str = Field(default="", description="What callers should send (shown to key holders).")


node = NodeType(
    type="trigger.api",
    display_name="API call",
    group="trigger",
    description="Starts the workflow when a program POSTs JSON to /api/trigger with one of its API keys.",
    params=ApiTriggerParams,
    execute=passthrough,
    icon="key",
)
