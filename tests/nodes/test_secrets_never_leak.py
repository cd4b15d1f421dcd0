"""A workflow using every integration node, with credentials from the encrypted store: no secret may
appear in the run config, the run tags, the Dagster event log, the logs, or the execution record."""

from __future__ import annotations

import json
import logging
import secrets

from dagster import serialize_value

from connectflow_dagster.execution import get_execution
from connectflow_dagster.store.credentials import create_credential
from connectflow_dagster.store.db import session_scope


def test_no_secret_reaches_run_config_tags_event_log_logs_or_the_execution(
    cf, fake_llm, discord, slack, instagram, luma, smtp_starttls, smtp_ssl, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    owner = cf.new_user()
    wrong_llm_key = "sk-wrong-" + secrets.token_hex(16)
    stored = {  # credential name → (type, data)
        "anthropic": ("anthropic_api", {"api_key": fake_llm.api_key, "base_url": fake_llm.anthropic_base}),
        "openai": ("openai_api", {"api_key": fake_llm.api_key, "base_url": fake_llm.openai_base}),
        "openai_revoked": ("openai_api", {"api_key": wrong_llm_key, "base_url": fake_llm.openai_base}),
        "gemini": ("gemini_api", {"api_key": fake_llm.api_key, "base_url": fake_llm.gemini_base}),
        "deepseek": ("deepseek_api", {"api_key": fake_llm.api_key, "base_url": fake_llm.openai_base}),
        "perplexity": ("perplexity_api", {"api_key": fake_llm.api_key, "base_url": fake_llm.openai_base}),
        "gmail": (
            "gmail",
            {
                "email": smtp_ssl.username,
                "app_password": smtp_ssl.password,
                "host": smtp_ssl.host,
                "port": smtp_ssl.port,
                "ca_bundle": smtp_ssl.ca_file,
            },
        ),
        "smtp": (
            "smtp",
            {
                "host": smtp_starttls.host,
                "port": smtp_starttls.port,
                "security": "starttls",
                "username": smtp_starttls.username,
                "password": smtp_starttls.password,
                "ca_bundle": smtp_starttls.ca_file,
            },
        ),
        "discord": ("discord_webhook", {"webhook_url": discord.webhook_url}),
        "slack": ("slack_webhook", {"webhook_url": slack.webhook_url}),
        "instagram": (
            "instagram_graph",
            {
                "access_token": instagram.access_token,
                "account_id": instagram.account_id,
                "base_url": instagram.base_url,
            },
        ),
        "luma": ("luma_api", {"api_key": luma.api_key, "base_url": luma.base_url}),
    }
    with session_scope() as session:
        ids = {
            name: create_credential(session, owner, name, ctype, data).id
            for name, (ctype, data) in stored.items()
        }
    secret_values = {
        "LLM API key": fake_llm.api_key,
        "revoked LLM API key": wrong_llm_key,
        "Gmail app password": smtp_ssl.password,
        "SMTP password": smtp_starttls.password,
        "Discord webhook URL": discord.webhook_url,
        "Discord webhook token": discord.token,
        "Slack webhook URL": slack.webhook_url,
        "Slack webhook secret": slack.secret,
        "Instagram access token": instagram.access_token,
        "Luma API key": luma.api_key,
    }

    mail = {"to": "ada@example.com", "subject": "Paid", "text": "{{ openai.text }}"}
    actions = [
        ("anthropic", "ai.anthropic", {"prompt": "Summarise {{ trigger.amount }}"}),
        ("openai", "ai.openai", {"prompt": "Summarise {{ trigger.amount }}"}),
        ("openai_revoked", "ai.openai", {"prompt": "Summarise {{ trigger.amount }}"}),  # fails: 401
        ("gemini", "ai.gemini", {"prompt": "Summarise {{ trigger.amount }}"}),
        ("deepseek", "ai.deepseek", {"prompt": "Summarise {{ trigger.amount }}"}),
        ("perplexity", "ai.perplexity", {"prompt": "Summarise {{ trigger.amount }}"}),
        ("discord", "discord.send", {"content": "Paid {{ trigger.amount }}"}),
        ("slack", "slack.send", {"text": "Paid {{ trigger.amount }}"}),
        ("instagram", "instagram.publish", {"image_url": "https://cdn.example.com/a.jpg", "caption": "New"}),
        ("luma", "luma.generate_image", {"prompt": "A receipt", "poll_interval_seconds": 0}),
    ]
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}]
    edges = []
    for name, node_type, params in actions:
        nodes.append(
            {
                "id": name,
                "type": node_type,
                "name": name,
                "variable_name": name,
                "credential_id": ids[name],
                "params": params,
            }
        )
        edges.append({"source": "start", "target": name})
    for name, node_type in (("gmail", "email.gmail"), ("smtp", "email.smtp")):
        nodes.append(
            {
                "id": name,
                "type": node_type,
                "name": name,
                "variable_name": name,
                "credential_id": ids[name],
                "params": mail,
            }
        )
        edges.append({"source": "openai", "target": name})

    ex = cf.run(
        {"name": "every integration", "nodes": nodes, "edges": edges}, {"amount": "99.00 USD"}, owner_id=owner
    )

    statuses = {n.node_id: n.status for n in ex.nodes}
    assert statuses.pop("openai_revoked") == "failed"
    assert set(statuses.values()) == {"success"}, ex.to_dict()
    assert len(smtp_ssl.messages) == len(smtp_starttls.messages) == 1
    assert discord.requests and slack.requests and instagram.published and luma.generations

    run = cf.instance.get_run_by_id(ex.id)
    surfaces = {
        "run config": json.dumps(run.run_config, default=str),
        "run tags": json.dumps(run.tags),
        "event log": "\n".join(serialize_value(entry) for entry in cf.instance.all_logs(ex.id)),
        "execution record": json.dumps(get_execution(cf.instance, ex.id).to_dict(), default=str),
        "execution list": json.dumps(
            get_execution(cf.instance, ex.id, owner_id=owner).to_dict(), default=str
        ),
        "logs": caplog.text,
        "stdout/stderr": "".join(capfd.readouterr()),
    }
    assert "rejected the API key" in surfaces["event log"]  # the failure is recorded, without the key
    leaks = [
        f"{what} in {where}"
        for where, text in surfaces.items()
        for what, value in secret_values.items()
        if value in text
    ]
    assert leaks == []
