"""Messages: Send Email (SMTP), Gmail, Discord, Slack."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable
from connectflow_dagster.interop.n8n.mappers.base import (
    ExportContext,
    MapContext,
    Mapped,
    exporter,
    importer,
    opaque,
    renamed,
)

EMAIL_VIEW = renamed("ConnectFlow's e-mail output has success, message_id and to", messageId="message_id")


def _attribution(ctx: MapContext, options: dict[str, Any]) -> None:
    if options.get("appendAttribution", ctx.version >= 2.1):
        ctx.approximate("n8n's 'sent automatically with n8n' footer is not added")


@importer("n8n-nodes-base.emailSend")
def email_send(ctx: MapContext) -> Mapped:
    options = ctx.get("options", default={}) or {}
    fmt = ctx.get("emailFormat", default="html" if ctx.version < 2.1 else "text")
    if ctx.version < 2:
        fmt = "both"
    params: dict[str, Any] = {
        "from_email": ctx.expr(ctx.get("fromEmail", default=""), "fromEmail"),
        "to": ctx.expr(ctx.get("toEmail", default=""), "toEmail"),
        "subject": ctx.expr(ctx.get("subject", default=""), "subject"),
    }
    for key in ("ccEmail", "bccEmail"):
        value = ctx.get(key) or options.get(key)
        if value:
            params[key[:-5] if key != "bccEmail" else "bcc"] = ctx.expr(value, key)
    if fmt in ("text", "both"):
        params["text"] = ctx.expr(ctx.get("text", default=""), "text")
    if fmt in ("html", "both"):
        params["html"] = ctx.expr(ctx.get("html", default=""), "html")
    if options.get("replyTo"):
        params["reply_to"] = ctx.expr(options["replyTo"], "options.replyTo")
    _attribution(ctx, options)
    ctx.ignore_options(options, {"appendAttribution", "replyTo", "ccEmail", "bccEmail"})
    if ctx.get("operation", default="send") != "send":
        raise Untranslatable(f"Send Email operation '{ctx.get('operation')}' is not supported")
    return Mapped("email.smtp", params, EMAIL_VIEW, credential_type="smtp")


@exporter("email.smtp", view=EMAIL_VIEW)
def email_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    p = node.params
    to = p.get("to", "")
    out: dict[str, Any] = {
        "fromEmail": ectx.expression(p.get("from_email", "")),
        "toEmail": ectx.expression(", ".join(to) if isinstance(to, list) else to),
        "subject": ectx.expression(p.get("subject", "")),
        "emailFormat": "both" if p.get("text") and p.get("html") else "html" if p.get("html") else "text",
        "options": {"appendAttribution": False},
    }
    if p.get("text"):
        out["text"] = ectx.expression(p["text"])
    if p.get("html"):
        out["html"] = ectx.expression(p["html"])
    return "n8n-nodes-base.emailSend", 2.1, out


@importer("n8n-nodes-base.gmail")
def gmail(ctx: MapContext) -> Mapped:
    if ctx.get("resource", default="message") != "message" or ctx.get("operation", default="send") != "send":
        raise Untranslatable(
            f"Gmail {ctx.get('resource', default='message')}/{ctx.get('operation', default='send')}: "
            "only sending a message is supported"
        )
    options = ctx.get("options", default={}) or {}
    params: dict[str, Any] = {
        "to": ctx.expr(ctx.get("sendTo", default=""), "sendTo"),
        "subject": ctx.expr(ctx.get("subject", default=""), "subject"),
    }
    body = ctx.expr(ctx.get("message", default=""), "message")
    params["html" if ctx.get("emailType", default="html") == "html" else "text"] = body
    for src, dst in (
        ("ccList", "cc"),
        ("bccList", "bcc"),
        ("senderName", "from_name"),
        ("replyTo", "reply_to"),
    ):
        if options.get(src):
            params[dst] = ctx.expr(options[src], f"options.{src}")
    _attribution(ctx, options)
    ctx.approximate("sends through Gmail SMTP with an app password (n8n used Google OAuth)")
    ctx.ignore_options(options, {"ccList", "bccList", "senderName", "replyTo", "appendAttribution"})
    return Mapped("email.gmail", params, EMAIL_VIEW, credential_type="gmail")


@exporter("email.gmail", view=EMAIL_VIEW)
def gmail_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    p = node.params
    to = p.get("to", "")
    html = bool(p.get("html"))
    return (
        "n8n-nodes-base.gmail",
        2.1,
        {
            "sendTo": ectx.expression(", ".join(to) if isinstance(to, list) else to),
            "subject": ectx.expression(p.get("subject", "")),
            "emailType": "html" if html else "text",
            "message": ectx.expression(p.get("html") if html else p.get("text", "")),
            "options": {"appendAttribution": False},
        },
    )


DISCORD_VIEW = renamed(
    "ConnectFlow's Discord output has message_content, message_id, channel_id, timestamp",
    content="message_content",
    id="message_id",
    channel_id="channel_id",
    timestamp="timestamp",
)


@importer("n8n-nodes-base.discord")
def discord(ctx: MapContext) -> Mapped:
    options = ctx.get("options", default={}) or {}
    if ctx.version >= 2:
        if (
            ctx.get("resource", default="message") != "message"
            or ctx.get("operation", default="send") != "send"
        ):
            raise Untranslatable("only sending a Discord message is supported")
        auth = ctx.get("authentication", default="botToken")
        if auth != "webhook":
            ctx.approximate(f"posts through a channel webhook (n8n used {auth} and a channel id)")
        content = ctx.get("content", default="")
    else:
        content = ctx.get("text", default="")
    params: dict[str, Any] = {"content": ctx.expr(content, "content")}
    for src, dst in (("username", "username"), ("avatar_url", "avatar_url"), ("tts", "tts")):
        if options.get(src) not in (None, ""):
            params[dst] = ctx.expr(options[src], f"options.{src}")
    if ctx.get("embeds") or ctx.get("files"):
        ctx.approximate("embeds and files are not carried over")
    ctx.ignore_options(options, {"username", "avatar_url", "tts"})
    return Mapped("discord.send", params, DISCORD_VIEW, credential_type="discord_webhook")


@exporter("discord.send", view=DISCORD_VIEW)
def discord_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    p = node.params
    options = {k: ectx.expression(p[k]) for k in ("username", "avatar_url", "tts") if p.get(k)}
    return (
        "n8n-nodes-base.discord",
        2,
        {"authentication": "webhook", "content": ectx.expression(p.get("content", "")), "options": options},
    )


@importer("n8n-nodes-base.slack")
def slack(ctx: MapContext) -> Mapped:
    if ctx.get("resource", default="message") != "message" or ctx.get("operation", default="post") != "post":
        raise Untranslatable("only posting a Slack message is supported")
    ctx.approximate("posts through an incoming webhook, whose channel is fixed (n8n chose a channel)")
    params: dict[str, Any] = {"text": ctx.expr(ctx.get("text", default=""), "text")}
    return Mapped("slack.send", params, opaque("Slack's answer differs"), credential_type="slack_webhook")


@exporter("slack.send")
def slack_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    return (
        "n8n-nodes-base.slack",
        2.2,
        {"select": "channel", "text": ectx.expression(node.params.get("text", "")), "otherOptions": {}},
    )
