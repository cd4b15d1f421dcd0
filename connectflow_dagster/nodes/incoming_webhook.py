"""What the incoming-webhook nodes (Discord, Slack) share: the credential.

The credential is the webhook URL itself (it carries the token), validated as an http(s) URL. The
token is kept out of httpx's request log by the shared transport (``transport._redaction``).
"""

from __future__ import annotations

from pydantic import ConfigDict, SecretStr, field_validator

from connectflow_dagster.nodes.base import CredentialFields


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
