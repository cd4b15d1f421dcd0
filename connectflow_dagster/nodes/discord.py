"""Discord: post a message through an incoming webhook.

The webhook URL carries its token, so it is the credential's secret, never a param. ``?wait=true``
makes Discord return the created message. Mentions of @everyone/@here are off unless asked for, so a
templated message built from trigger data cannot ping a whole server.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.nodes.incoming_webhook import IncomingWebhookFields
from connectflow_dagster.transport import raise_for_status, send

CREDENTIAL_TYPE = "discord_webhook"
MAX_CONTENT_CHARS = 2000  # Discord's limit for a message's content


class DiscordWebhookFields(IncomingWebhookFields):
    webhook_url: SecretStr = Field(
        description="The webhook's URL (channel settings → Integrations → Webhooks → Copy Webhook URL)."
    )


class DiscordParams(Params):
    content: str = Field(
        min_length=1, description=f"Message text (at most {MAX_CONTENT_CHARS} characters); may be a template."
    )
    username: str = Field(
        default="", max_length=80, description="Name shown as the author; empty for the webhook's name."
    )
    avatar_url: str = Field(default="", description="Image URL shown as the avatar; empty for the webhook's.")
    tts: bool = Field(default=False, description="Read the message aloud (text-to-speech).")
    allow_everyone_mentions: bool = Field(
        default=False, description="Let @everyone and @here in the text notify everyone."
    )
    timeout: float = Field(default=30.0, gt=0, le=300, description="Seconds to wait for Discord.")

    @field_validator("content")
    @classmethod
    def _fits_discord(cls, value: str) -> str:
        if len(value) > MAX_CONTENT_CHARS:
            raise ValueError(
                f"Discord accepts at most {MAX_CONTENT_CHARS} characters per message; this one has "
                f"{len(value)} (shorten it, e.g. with a template filter like truncate({MAX_CONTENT_CHARS}))"
            )
        return value

    @field_validator("avatar_url")
    @classmethod
    def _check_avatar(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class DiscordOutput(BaseModel):
    message_content: str = Field(description="The content Discord stored.")
    message_id: str | None = Field(default=None, description="Id of the created message.")
    channel_id: str | None = Field(default=None, description="Channel the message was posted to.")
    timestamp: str | None = Field(default=None, description="When Discord created the message (ISO 8601).")


def execute(params: DiscordParams, ctx: NodeContext[DiscordWebhookFields]) -> DiscordOutput:
    """Post the message (``?wait=true``: Discord returns it)."""
    creds = ctx.auth
    payload: dict[str, Any] = {
        "content": params.content,
        "tts": params.tts,
        "allowed_mentions": {
            "parse": ["users", "roles", *(["everyone"] if params.allow_everyone_mentions else [])]
        },
    }
    if params.username:
        payload["username"] = params.username
    if params.avatar_url:
        payload["avatar_url"] = params.avatar_url
    response = send(
        ctx.http,
        "POST",
        creds.webhook_url.get_secret_value(),
        what="Discord webhook",
        params={"wait": "true"},
        json=payload,
        headers={"Idempotency-Key": ctx.idempotency_key},
        timeout=params.timeout,
    )
    if response.status_code == 404:
        raise NonRetriableNodeError(
            "Discord does not know this webhook (HTTP 404): it was deleted or its URL is wrong; check the credential"
        )
    raise_for_status(response, "Discord webhook")
    message = response.json() if response.content else {}
    return DiscordOutput(
        message_content=message.get("content", params.content),
        message_id=message.get("id"),
        channel_id=message.get("channel_id"),
        timestamp=message.get("timestamp"),
    )


def check_credential(creds: DiscordWebhookFields, http: httpx.Client) -> str:
    """GET on a webhook URL returns the webhook (name, channel) without posting anything."""
    response = send(http, "GET", creds.webhook_url.get_secret_value(), what="Discord webhook", timeout=20)
    raise_for_status(response, "Discord webhook")
    hook = response.json()
    return f"webhook '{hook.get('name', '?')}' posts to channel {hook.get('channel_id', '?')}"


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="Discord webhook",
    fields=DiscordWebhookFields,
    test=check_credential,
)

node = NodeType(
    type="discord.send",
    display_name="Discord",
    group="action",
    description="Posts a message to a Discord channel through an incoming webhook.",
    params=DiscordParams,
    output=DiscordOutput,
    execute=execute,
    credential=credential,
    icon="message-circle",
)
