"""What the e-mail nodes share: the params model, the message builder and delivery through aiosmtplib.

Certificates are always verified. A server with a private CA is trusted by pointing the credential's
``ca_bundle`` (or ``CONNECTFLOW_SMTP_CA_FILE``) at its PEM file; verification is never switched off.
The Message-ID is derived from the run and node (``ctx.idempotency_key``), so a retried delivery
carries the same Message-ID and receivers can recognise the duplicate.

The TCP connection is opened through the network policy (``transport.connect_pinned``): the server's
name is resolved and checked once, aiosmtplib gets the socket connected to that address, and TLS
still verifies the certificate against the server's name.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError, ServiceUnreachable
from connectflow_dagster.nodes.base import NodeContext, Params
from connectflow_dagster.transport import connect_pinned

Connect = Callable[[str, int, float | None], socket.socket]

Security = Literal["ssl", "starttls", "none"]
CA_FILE_ENV = "CONNECTFLOW_SMTP_CA_FILE"
DEFAULT_PORTS: dict[str, int] = {"ssl": 465, "starttls": 587, "none": 25}
T = TypeVar("T")


def split_addresses(value: Any) -> Any:
    """``"a@x.com, b@y.com"`` (what a template renders) → ``["a@x.com", "b@y.com"]``."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").replace("\n", ",").split(",")
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return value


def check_address(value: str) -> str:
    name, address = parseaddr(value)
    if not address or "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError(f"'{value}' is not an e-mail address")
    return formataddr((name, address)) if name else address


class EmailParams(Params):
    to: list[str] = Field(
        min_length=1,
        description="Recipients: a list, or one text with addresses separated by commas; may be templates.",
    )
    cc: list[str] = Field(default_factory=list, description="Copy recipients (same forms as 'to').")
    bcc: list[str] = Field(
        default_factory=list, description="Blind-copy recipients: delivered to, never shown in headers."
    )
    subject: str = Field(default="", max_length=998, description="Subject line; may be a template.")
    text: str = Field(default="", description="Plain-text body; may be a template.")
    html: str = Field(
        default="",
        validate_default=True,
        description="HTML body; sent alongside the text body (or alone); may be a template.",
    )
    from_name: str = Field(default="", max_length=200, description="Display name shown for the sender.")
    reply_to: str = Field(default="", description="Address replies should go to; empty for the sender.")
    timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds to wait for the mail server.")

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_addresses(value)

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _check_each(cls, value: list[str]) -> list[str]:
        return [check_address(v) for v in value]

    @field_validator("reply_to")
    @classmethod
    def _check_reply_to(cls, value: str) -> str:
        return check_address(value) if value.strip() else ""

    @field_validator("subject", "from_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A header is one line: an LLM-written subject with line breaks is joined, not rejected.
        return " ".join(value.split())

    @field_validator("html")
    @classmethod
    def _needs_a_body(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip() and not str(info.data.get("text", "")).strip():
            raise ValueError("give a text or an HTML body (fields 'text' / 'html')")
        return value


class EmailOutput(BaseModel):
    success: bool = Field(description="True once the server accepted the message.")
    message_id: str = Field(description="The Message-ID header sent (stable across retries).")
    to: list[str] = Field(description="The 'to' recipients.")


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to deliver; built from a credential inside the executor, never stored."""

    host: str
    port: int
    security: Security
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None

    @property
    def label(self) -> str:
        return f"SMTP server {self.host}:{self.port}"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying TLS context; ``ca_file`` (or $CONNECTFLOW_SMTP_CA_FILE) replaces the system CAs."""
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    if ca_file and not Path(ca_file).is_file():
        raise NonRetriableNodeError(
            f"the CA bundle '{ca_file}' does not exist (credential field 'ca_bundle')"
        )
    return ssl.create_default_context(cafile=ca_file)


def build_message(params: EmailParams, sender: str, message_id: str) -> EmailMessage:
    """The MIME message: text and/or HTML (multipart/alternative when both), no Bcc header."""
    message = EmailMessage()
    message["From"] = formataddr((params.from_name, sender)) if params.from_name else sender
    message["To"] = ", ".join(params.to)
    if params.cc:
        message["Cc"] = ", ".join(params.cc)
    if params.reply_to:
        message["Reply-To"] = params.reply_to
    message["Subject"] = params.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if params.text.strip():
        message.set_content(params.text)
        if params.html.strip():
            message.add_alternative(params.html, subtype="html")
    else:
        message.set_content(params.html, subtype="html")
    return message


def message_id_for(ctx: NodeContext, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "connectflow.invalid"
    return f"<{ctx.idempotency_key}@{domain}>"


async def open_socket(server: SmtpServer, timeout: float, connect: Connect) -> socket.socket:
    """A socket connected to a policy-checked address of the server (``NetworkPolicyError`` when
    refused, ``ServiceUnreachable`` when nothing answers)."""
    try:
        return await asyncio.to_thread(connect, server.host, server.port, timeout)
    except OSError as exc:
        raise ServiceUnreachable(f"could not reach the {server.label}: {exc}") from None


async def deliver(server: SmtpServer, params: EmailParams, sender: str, ctx: NodeContext[Any]) -> EmailOutput:
    """Send the message built from ``params``; returns ``{success, message_id, to}``."""
    import aiosmtplib

    message_id = message_id_for(ctx, sender)
    message = build_message(params, sender, message_id)
    recipients = [parseaddr(a)[1] for a in (*params.to, *params.cc, *params.bcc)]
    sock = await open_socket(server, params.timeout, ctx.connect_tcp)
    try:
        await aiosmtplib.send(
            message,
            sender=parseaddr(sender)[1],
            recipients=recipients,
            hostname=server.host,  # with ``sock``: the name TLS verifies, not where to connect
            sock=sock,
            username=server.username or None,
            password=server.password or None,
            use_tls=server.security == "ssl",
            start_tls=server.security == "starttls",
            tls_context=tls_context(server.ca_file) if server.security != "none" else None,
            timeout=params.timeout,
            local_hostname=socket.gethostname(),
        )
    except aiosmtplib.SMTPException as exc:
        raise smtp_error(server, exc, params.timeout) from None
    except ssl.SSLError as exc:
        raise _tls_error(server, exc) from None
    except OSError as exc:
        raise ServiceUnreachable(f"could not reach the {server.label}: {exc}") from None
    finally:
        sock.close()
    return EmailOutput(success=True, message_id=message_id, to=params.to)


def smtp_error(server: SmtpServer, exc: Exception, timeout: float) -> NodeExecutionError:
    """Map an aiosmtplib error: 5xx replies and rejected logins fail at once; 4xx, timeouts retry."""
    import aiosmtplib

    where = server.label
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return NonRetriableNodeError(
            f"the {where} rejected the username or password ({exc.code} {exc.message}): check the credential"
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
        temporary = all(400 <= r.code < 500 for r in exc.recipients)
        cls = NodeExecutionError if temporary else NonRetriableNodeError
        return cls(f"the {where} refused recipients: {refused}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return ServiceUnreachable(f"the {where} did not answer within {timeout:g} s")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"the {where} answered {exc.code} {exc.message}"
        return NodeExecutionError(text) if 400 <= exc.code < 500 else NonRetriableNodeError(text)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return NonRetriableNodeError(
            f"the {where} does not support what the credential asks for: {exc.message}"
        )
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLError):
        return _tls_error(server, cause)
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return ServiceUnreachable(f"could not talk to the {where}: {exc}")
    return NodeExecutionError(f"the {where} failed: {type(exc).__name__}: {exc}")


def _tls_error(server: SmtpServer, exc: ssl.SSLError) -> NonRetriableNodeError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NonRetriableNodeError(
            f"TLS with the {server.label} failed: certificate verify failed ({exc.verify_message}); "
            "if the server uses a private CA, set the credential's 'ca_bundle'"
        )
    return NonRetriableNodeError(f"TLS with the {server.label} failed: {exc.reason or exc}")


async def check_login(server: SmtpServer, timeout: float = 20.0, connect: Connect = connect_pinned) -> str:
    """Connect, negotiate TLS and sign in, without sending anything (a credential's ``test``)."""
    import aiosmtplib

    sock = await open_socket(server, timeout, connect)
    client = aiosmtplib.SMTP(
        hostname=server.host,
        sock=sock,
        use_tls=server.security == "ssl",
        start_tls=server.security == "starttls",
        tls_context=tls_context(server.ca_file) if server.security != "none" else None,
        timeout=timeout,
        local_hostname=socket.gethostname(),
    )
    try:
        await client.connect()
        if server.username:
            await client.login(server.username, server.password)
        await client.quit()
    except aiosmtplib.SMTPException as exc:
        raise smtp_error(server, exc, timeout) from None
    except ssl.SSLError as exc:
        raise _tls_error(server, exc) from None
    except OSError as exc:
        raise ServiceUnreachable(f"could not reach the {server.label}: {exc}") from None
    finally:
        sock.close()
    return f"signed in to the {server.label}" if server.username else f"connected to the {server.label}"


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from sync code, even when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, name="connectflow-smtp-check")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
