"""``connectflow assist`` with no model configured: the template draft, saved, and as n8n JSON."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from connectflow_dagster.cli import main


def test_assist_prints_the_template_draft_and_saves_it(cf: Any) -> None:
    from connectflow_dagster import authoring

    made = CliRunner().invoke(
        main, ["create-user", "ada@example.com"], input="correct horse battery\ncorrect horse battery\n"
    )
    assert made.exit_code == 0, made.output
    result = CliRunner().invoke(main, ["assist", "post google form responses to discord", "--save", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["source"] == "template" and answer["valid"] is True
    assert "CONNECTFLOW_ASSISTANT_MODEL" in answer["message"]
    saved = answer["saved"]
    assert [w.id for w in authoring.workflows()] == [saved["id"]]
    assert authoring.load(saved["id"]).build().nodes[1].type == "discord.send"


def test_assist_exports_n8n(cf: Any) -> None:
    result = CliRunner().invoke(
        main, ["assist", "every morning fetch an API and post it to slack", "--format", "n8n"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output[result.output.index("{") :])
    assert {n["type"] for n in document["nodes"]} >= {
        "n8n-nodes-base.scheduleTrigger",
        "n8n-nodes-base.httpRequest",
    }


def test_assist_refuses_an_empty_request(cf: Any) -> None:
    result = CliRunner().invoke(main, ["assist", "   "])
    assert result.exit_code == 1 and "empty" in result.output
