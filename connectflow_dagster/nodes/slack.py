"""Slack: post a message (text and optional Block Kit blocks) through an incoming webhook.

The webhook URL is the credential's secret. Slack answers ``200 ok`` on success and a short error
code as text otherwise (``invalid_payload``, ``no_service``, ``channel_is_archived`` …), 429 with
``Retry-After`` when rate limited.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.nodes.incoming_webhook import IncomingWebhookFields
from connectflow_dagster.transport import raise_for_status, send

CREDENTIAL_TYPE = "slack_webhook"
MAX_BLOCKS = 50  # Slack's limit per message
# What Slack answers to an empty payload on a *valid* webhook (used by the credential test).
_VALID_HOOK_REPLIES = {"no_text", "invalid_payload", "missing_text_or_fallback_or_attachments"}


class SlackWebhookFields(IncomingWebhookFields):
    webhook_url: SecretStr = Field(
        description="The incoming webhook URL (https://hooks.slack.com/services/…) from your Slack app."
    )


class SlackParams(Params):
    text: str = Field(
        default="",
        description="Message text (mrkdwn), also the notification fallback when blocks are given; "
        "may be a template.",
    )
    blocks: list[dict[str, Any]] | None = Field(
        default=None,
        validate_default=True,
        description=f"Block Kit blocks (at most {MAX_BLOCKS}): a list, or its JSON text from a template.",
    )
    timeout: float = Field(default=30.0, gt=0, le=300, description="Seconds to wait for Slack.")

    @field_validator("blocks", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"is not valid JSON: {exc}") from None
        return value

    @field_validator("blocks")
    @classmethod
    def _needs_content(cls, value: list[dict[str, Any]] | None, info: ValidationInfo) -> Any:
        if value is not None and len(value) > MAX_BLOCKS:
            raise ValueError(f"Slack accepts at most {MAX_BLOCKS} blocks per message (got {len(value)})")
        if not value and not str(info.data.get("text", "")).strip():
            raise ValueError("give a text or blocks (fields 'text' / 'blocks')")
        return value or None


class SlackOutput(BaseModel):
    ok: bool = Field(description="True once Slack accepted the message.")


def execute(params: SlackParams, ctx: NodeContext[SlackWebhookFields]) -> SlackOutput:
    """Post the message; Slack's error codes (404/410: the hook is gone) fail at once."""
    creds = ctx.auth
    payload: dict[str, Any] = {"text": params.text}
    if params.blocks:
        payload["blocks"] = params.blocks
    response = send(
        ctx.http,
        "POST",
        creds.webhook_url.get_secret_value(),
        what="Slack webhook",
        json=payload,
        headers={"Idempotency-Key": ctx.idempotency_key},
        timeout=params.timeout,
    )
    if response.status_code in (404, 410):
        raise NonRetriableNodeError(
            f"Slack refused the webhook (HTTP {response.status_code}: {response.text[:100]}): it was removed, "
            "its channel archived, or the URL is wrong; check the credential"
        )
    raise_for_status(response, "Slack webhook")
    return SlackOutput(ok=True)


def check_credential(creds: SlackWebhookFields, http: httpx.Client) -> str:
    """An empty payload posts nothing: a live webhook answers 400 ``no_text``, a dead one 403/404."""
    response = send(
        http, "POST", creds.webhook_url.get_secret_value(), what="Slack webhook", json={}, timeout=20
    )
    if response.status_code == 400 and response.text.strip() in _VALID_HOOK_REPLIES:
        return "the Slack webhook is live"
    raise_for_status(response, "Slack webhook")
    return "the Slack webhook is live"


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="Slack incoming webhook",
    fields=SlackWebhookFields,
    test=check_credential,
)

node = NodeType(
    type="slack.send",
    display_name="Slack",
    group="action",
    description="Posts a message (text and optional Block Kit blocks) to Slack through an incoming webhook.",
    params=SlackParams,
    output=SlackOutput,
    execute=execute,
    credential=credential,
    icon="slack",
)
