"""Gmail: send an e-mail from a Gmail account through smtp.gmail.com:465 with an app password."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType
from connectflow_dagster.nodes.email.sender import (
    EmailOutput,
    EmailParams,
    SmtpServer,
    check_address,
    check_login,
    deliver,
    run_blocking,
)

CREDENTIAL_TYPE = "gmail"
GMAIL_HOST = "smtp.gmail.com"
GMAIL_PORT = 465


class GmailCredentialFields(CredentialFields):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    email: str = Field(description="The Gmail (or Google Workspace) address that sends.")
    app_password: SecretStr = Field(
        min_length=1,
        description="A Google app password (Google Account → Security → App passwords); spaces are ignored.",
    )
    host: str | None = Field(
        default=None, description=f"Empty for {GMAIL_HOST}; another host only for relays and tests."
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description=f"Empty for {GMAIL_PORT} (implicit TLS)."
    )
    ca_bundle: str | None = Field(
        default=None, description="Path of a PEM CA bundle to trust instead of the system's (relays, tests)."
    )

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return check_address(value.strip())

    @field_validator("app_password")
    @classmethod
    def _strip_spaces(cls, value: SecretStr) -> SecretStr:
        # Google shows app passwords as four groups of four letters.
        return SecretStr("".join(value.get_secret_value().split()))

    def server(self) -> SmtpServer:
        return SmtpServer(
            host=self.host or GMAIL_HOST,
            port=self.port or GMAIL_PORT,
            security="ssl",
            username=self.email,
            password=self.app_password.get_secret_value(),
            ca_file=self.ca_bundle,
        )


class GmailParams(EmailParams):
    """The message; the sender is always the credential's Gmail address."""


def execute(params: GmailParams, ctx: NodeContext[GmailCredentialFields]) -> Any:
    """Deliver through Gmail's SMTP server, from the credential's address."""
    return deliver(ctx.auth.server(), params, ctx.auth.email, ctx)


def check_credential(creds: GmailCredentialFields, http: httpx.Client) -> str:
    """Sign in without sending."""
    return run_blocking(check_login(creds.server()))


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="Gmail (app password)",
    fields=GmailCredentialFields,
    test=check_credential,
)

node = NodeType(
    type="email.gmail",
    display_name="Gmail",
    group="action",
    description="Sends an e-mail (text and/or HTML, to/cc/bcc) from a Gmail account.",
    params=GmailParams,
    output=EmailOutput,
    execute=execute,
    credential=credential,
    icon="mail",
)
