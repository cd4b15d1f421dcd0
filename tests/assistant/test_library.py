"""The assistant's template library and rules: every template is a real, compiling workflow; retrieval
finds the right one; without a model the assistant answers with a template draft and says why."""

from __future__ import annotations

import pytest

from connectflow_dagster.assistant import library, pipeline
from connectflow_dagster.assistant.llm import ModelConfig


@pytest.mark.parametrize("tpl", library.templates(), ids=lambda t: t.key)
def test_every_template_validates_and_compiles(tpl: library.Template) -> None:
    workflow, problems, needed = pipeline.check(tpl.workflow, pipeline.get_registry())
    assert workflow is not None
    assert problems == []
    assert tpl.name and tpl.description and tpl.category and tpl.integrations
    assert tpl.complexity in ("simple", "medium", "complex")
    assert {c["node_id"] for c in needed} <= {n["id"] for n in tpl.workflow["nodes"]}


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("Every morning fetch our status API and post it to Slack", "schedule_http_slack"),
        (
            "when a Stripe payment succeeds, summarise it with GPT and e-mail it via Gmail",
            "stripe_ai_summary_gmail",
        ),
        ("post new google form answers to our discord channel", "form_to_discord"),
        ("publish an instagram post daily with an image from luma", "instagram_luma_post"),
        ("alert discord when my website is down", "uptime_check"),
    ],
)
def test_retrieval_ranks_the_fitting_template_first(request_text: str, expected: str) -> None:
    matches = library.match_templates(request_text)
    assert matches and matches[0].template.key == expected


def test_unrelated_request_matches_nothing() -> None:
    assert library.match_templates("zzzz qqqq") == []


def test_without_a_model_the_answer_is_a_template_draft_and_says_a_key_is_needed() -> None:
    answer = pipeline.assist(
        "Send a Slack message every morning with our API status", ModelConfig(generator=None)
    )
    assert answer.intent == "workflow_request"
    assert answer.source == "template"
    assert answer.valid and answer.workflow is not None
    assert [n["type"] for n in answer.workflow["nodes"]] == ["trigger.schedule", "http.request", "slack.send"]
    assert answer.credentials_needed == [
        {
            "node_id": "slack",
            "node_name": "Post to Slack",
            "credential_type": "slack_webhook",
            "display_name": "Slack incoming webhook",
        }
    ]
    assert "CONNECTFLOW_ASSISTANT_MODEL" in answer.message
    assert "Post to Slack" in answer.explanation


def test_rules_classifier() -> None:
    assert pipeline.classify_by_rules("How do credentials work?", False).intent == "question"
    assert (
        pipeline.classify_by_rules("when a stripe payment comes in email me", False).intent
        == "workflow_request"
    )
    change = pipeline.classify_by_rules("add a Slack message after the summary", True)
    assert change.intent == "change_request"
    assert change.entities["services"] == ["slack"]
    assert (
        pipeline.classify_by_rules("run this at 0 9 * * 1-5 and ping slack", False).entities["schedule"]
        == "0 9 * * 1-5"
    )


@pytest.mark.parametrize("bad", ["", "   ", "x" * (pipeline.MAX_REQUEST_CHARS + 1)])
def test_empty_or_huge_request_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        pipeline.assist(bad, ModelConfig(generator=None))
