"""What the incoming-webhook nodes (Discord, Slack) share: the credential and log redaction.

The credential is the webhook URL itself (it carries the token), validated as an http(s) URL.

Keep webhook tokens out of httpx's request log.

httpx logs every request at INFO as ``HTTP Request: POST <full URL> …``. A Discord or Slack incoming
webhook URL carries its token in the path, so the URL itself is a secret: this filter on the
``httpx`` logger replaces the token part of such paths with ``***`` before any handler sees the
record. The webhook nodes install it when they are imported (idempotent).
"""

from __future__ import annotations

import logging
import re

from pydantic import ConfigDict, SecretStr, field_validator

from connectflow_dagster.nodes.base import CredentialFields

_TOKEN_PATHS = (
    re.compile(r"(/webhooks/[^/\s?#]+/)[^/\s?#\"']+"),  # Discord: /api[/v10]/webhooks/{id}/{token}
    re.compile(r"(/services/[^/\s?#]+/[^/\s?#]+/)[^/\s?#\"']+"),  # Slack: /services/T…/B…/{secret}
)


def redact_webhook_tokens(text: str) -> str:
    """``…/webhooks/123/abc?wait=true`` → ``…/webhooks/123/***?wait=true`` (and Slack's form)."""
    for pattern in _TOKEN_PATHS:
        text = pattern.sub(r"\1***", text)
    return text


class WebhookTokenFilter(logging.Filter):
    """Rewrites a record's message and arguments with webhook tokens redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_webhook_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, int | float) or arg is None:
        return arg
    text = str(arg)
    redacted = redact_webhook_tokens(text)
    return arg if redacted == text else redacted


def install_webhook_log_filter(logger_name: str = "httpx") -> None:
    """Add the filter to ``logger_name`` once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, WebhookTokenFilter) for f in logger.filters):
        logger.addFilter(WebhookTokenFilter())


class IncomingWebhookFields(CredentialFields):
    """A credential that is an incoming-webhook URL; subclasses describe where to find it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    webhook_url: SecretStr

    @field_validator("webhook_url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value
