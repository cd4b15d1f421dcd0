"""SMTP: send an e-mail through any server (implicit TLS, STARTTLS or plain), via aiosmtplib."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ConfigDict, Field, SecretStr

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType
from connectflow_dagster.nodes.email.sender import (
    DEFAULT_PORTS,
    EmailOutput,
    EmailParams,
    Security,
    SmtpServer,
    check_address,
    check_login,
    deliver,
    run_blocking,
)

CREDENTIAL_TYPE = "smtp"


class SmtpCredentialFields(CredentialFields):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    host: str = Field(min_length=1, description="Mail server host name, e.g. smtp.example.com.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Empty for the usual port: 465 (SSL), 587 (STARTTLS), 25."
    )
    security: Security = Field(
        default="starttls",
        description="'ssl': TLS from the first byte (port 465); 'starttls': upgrade after connecting "
        "(port 587); 'none': no encryption (only for servers on a trusted network).",
    )
    username: str = Field(default="", description="Login name; empty when the server needs no login.")
    password: SecretStr = Field(default=SecretStr(""), description="Login password.")
    ca_bundle: str | None = Field(
        default=None,
        description="Path of a PEM CA bundle to trust instead of the system's (servers with a private CA).",
    )

    def server(self) -> SmtpServer:
        return SmtpServer(
            host=self.host,
            port=self.port or DEFAULT_PORTS[self.security],
            security=self.security,
            username=self.username,
            password=self.password.get_secret_value(),
            ca_file=self.ca_bundle,
        )


class SmtpParams(EmailParams):
    from_email: str = Field(
        default="",
        description="Sender address; empty to use the credential's username when that is an address.",
    )


def execute(params: SmtpParams, ctx: NodeContext[SmtpCredentialFields]) -> Any:
    """Deliver through the credential's server; the sender defaults to its username."""
    creds = ctx.auth
    sender = params.from_email.strip() or (creds.username if "@" in creds.username else "")
    if not sender:
        raise NonRetriableNodeError(
            "field 'params.from_email': give the sender address (the credential's username is not one)"
        )
    try:
        sender = check_address(sender)
    except ValueError as exc:
        raise NonRetriableNodeError(f"field 'params.from_email': {exc}") from None
    return deliver(creds.server(), params, sender, ctx)


def check_credential(creds: SmtpCredentialFields, http: httpx.Client) -> str:
    """Sign in (or just connect, without a username) without sending."""
    return run_blocking(check_login(creds.server()))


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="SMTP account",
    fields=SmtpCredentialFields,
    test=check_credential,
)

node = NodeType(
    type="email.smtp",
    display_name="Send e-mail (SMTP)",
    group="action",
    description="Sends an e-mail (text and/or HTML, to/cc/bcc) through any SMTP server.",
    params=SmtpParams,
    output=EmailOutput,
    execute=execute,
    credential=credential,
    icon="mail",
)
