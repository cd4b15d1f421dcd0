"""slack.send against a local server speaking Slack's incoming-webhook API."""

from __future__ import annotations

import json

import httpx

from connectflow_dagster.nodes.slack import credential


def test_posts_templated_text_and_blocks(run_action, book, slack):
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Order {{ trigger.order }}* paid"}}]
    ex, act = run_action(
        "slack.send",
        {"text": "Order {{ trigger.order }} paid", "blocks": blocks},
        cred,
        payload={"order": 1042},
    )
    assert ex.status == "success", ex.error
    [request] = slack.requests
    assert request.json() == {
        "text": "Order 1042 paid",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Order 1042* paid"}}],
    }
    assert len(request.headers["idempotency-key"]) == 40
    assert act.output == {"ok": True}


def test_blocks_may_come_as_json_text_from_a_template(run_action, book, slack):
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    blocks = [{"type": "divider"}]
    ex, _ = run_action(
        "slack.send", {"blocks": "{{ trigger.blocks | json }}"}, cred, payload={"blocks": blocks}
    )
    assert ex.status == "success", ex.error
    assert slack.requests[0].json() == {"text": "", "blocks": blocks}


def test_a_message_needs_text_or_blocks(run_action, book, slack):
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    ex, act = run_action("slack.send", {"text": "{{ trigger.text }}"}, cred, payload={"text": "  "})
    assert (
        ex.status == "failed"
        and "field 'params.blocks'" in act.error
        and "give a text or blocks" in act.error
    )
    assert slack.requests == []


def test_invalid_block_json_names_the_field(run_action, book, slack):
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    ex, act = run_action(
        "slack.send", {"text": "x", "blocks": "{{ trigger.raw }}"}, cred, payload={"raw": "[{oops"}
    )
    assert ex.status == "failed" and "field 'params.blocks'" in act.error and "not valid JSON" in act.error


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, slack):
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    ex, _ = run_action("slack.send", {"text": "{{ order.total }}"}, cred)
    assert ex.status == "failed"
    assert "node 'act'" in ex.error and "field 'params.text'" in ex.error and "variable 'order'" in ex.error


def test_an_archived_channel_fails_at_once(run_action, book, slack):
    slack.fail_next(410, {"Content-Type": "text/plain"}, "channel_is_archived")
    cred = book.add("slack_webhook", webhook_url=slack.webhook_url)
    ex, act = run_action("slack.send", {"text": "x"}, cred, retry={"max_retries": 3, "delay_seconds": 0})
    assert ex.status == "failed" and act.attempts == 1 and "channel_is_archived" in act.error


def test_the_credential_test_posts_an_empty_payload_that_slack_refuses(slack):
    with httpx.Client() as http:
        assert (
            credential.test(credential.fields(webhook_url=slack.webhook_url), http)
            == "the Slack webhook is live"
        )
    assert json.loads(slack.requests[0].body) == {}
