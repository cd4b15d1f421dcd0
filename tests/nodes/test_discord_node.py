"""discord.send against a local server speaking Discord's webhook API."""

from __future__ import annotations

import logging

import httpx

from connectflow_dagster.nodes.discord import credential
from connectflow_dagster.transport import new_http_client
from connectflow_dagster.transport import redact_url_secrets as redact_webhook_tokens


def test_posts_the_templated_message_and_returns_the_created_one(run_action, book, discord):
    cred = book.add("discord_webhook", webhook_url=discord.webhook_url)
    ex, act = run_action(
        "discord.send",
        {
            "content": "New order {{ trigger.order }} from {{ trigger.customer }} @everyone",
            "username": "Shop bot",
            "avatar_url": "https://example.com/bot.png",
        },
        cred,
        payload={"order": 1042, "customer": "Ada"},
    )
    assert ex.status == "success", ex.error
    [request] = discord.requests
    assert request.method == "POST" and request.path.endswith("?wait=true")
    assert request.json() == {
        "content": "New order 1042 from Ada @everyone",
        "tts": False,
        "allowed_mentions": {"parse": ["users", "roles"]},  # @everyone does not ping unless asked
        "username": "Shop bot",
        "avatar_url": "https://example.com/bot.png",
    }
    assert request.headers["content-type"] == "application/json"
    assert len(request.headers["idempotency-key"]) == 40
    assert act.output == {
        "message_content": "New order 1042 from Ada @everyone",
        "message_id": "1300000000000000001",
        "channel_id": discord.channel_id,
        "timestamp": "2025-11-20T12:00:00+00:00",
    }
    assert book.lookups == [(cred, "discord_webhook")]


def test_everyone_mentions_are_opt_in(run_action, book, discord):
    cred = book.add("discord_webhook", webhook_url=discord.webhook_url)
    ex, _ = run_action(
        "discord.send", {"content": "@everyone deploy done", "allow_everyone_mentions": True}, cred
    )
    assert ex.status == "success", ex.error
    assert discord.requests[0].json()["allowed_mentions"] == {"parse": ["users", "roles", "everyone"]}


def test_content_over_2000_characters_is_rejected_before_sending(run_action, book, discord):
    cred = book.add("discord_webhook", webhook_url=discord.webhook_url)
    ex, act = run_action(
        "discord.send",
        {"content": "{{ trigger.text }}"},
        cred,
        payload={"text": "x" * 2001},
        retry={"max_retries": 3, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "field 'params.content'" in act.error
    assert "at most 2000 characters" in act.error and "2001" in act.error
    assert discord.requests == []


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, discord):
    cred = book.add("discord_webhook", webhook_url=discord.webhook_url)
    ex, act = run_action(
        "discord.send", {"content": "Order {{ trigger.order.id }}"}, cred, payload={"total": 1}
    )
    assert ex.status == "failed" and act.attempts == 1
    assert (
        "node 'act'" in ex.error and "field 'params.content'" in ex.error and "variable 'order'" in ex.error
    )
    assert discord.requests == []


def test_a_deleted_webhook_fails_at_once_with_a_hint(run_action, book, discord, http_server):
    cred = book.add("discord_webhook", webhook_url=f"{http_server.url}/api/webhooks/1/gone")
    ex, act = run_action(
        "discord.send", {"content": "hi"}, cred, retry={"max_retries": 3, "delay_seconds": 0}
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "HTTP 404" in act.error and "check the credential" in act.error


def test_the_credential_test_reads_the_webhook_without_posting(discord):
    fields = credential.fields(webhook_url=discord.webhook_url)
    with httpx.Client() as http:
        assert (
            credential.test(fields, http) == f"webhook 'Captain Hook' posts to channel {discord.channel_id}"
        )
    assert discord.requests == []
    assert discord.token not in repr(fields)


def test_webhook_tokens_are_redacted_from_httpx_request_logs(caplog, discord):
    caplog.set_level(logging.INFO, logger="httpx")
    with new_http_client() as http:  # the shared transport's clients redact (nothing at import)
        http.get(discord.webhook_url)
    assert discord.token not in caplog.text
    assert f"/api/webhooks/{discord.webhook_id}/***" in caplog.text
    assert redact_webhook_tokens("https://discord.com/api/v10/webhooks/12/tok-en?wait=true") == (
        "https://discord.com/api/v10/webhooks/12/***?wait=true"
    )
    assert redact_webhook_tokens('POST https://hooks.slack.com/services/T1/B2/s3cr3t "HTTP/1.1 200"') == (
        'POST https://hooks.slack.com/services/T1/B2/*** "HTTP/1.1 200"'
    )
