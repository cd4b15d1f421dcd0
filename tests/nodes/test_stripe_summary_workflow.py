"""Stripe payment → OpenAI summary → Gmail, from the Stripe fixture to a message on the local SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "payment_intent.succeeded.json"
EVENT = json.loads(FIXTURE.read_text())


def stripe_trigger_input(event: dict) -> dict:
    # The context shape the Stripe trigger node (trigger.stripe, being built in parallel) produces.
    return {
        "event_id": event["id"],
        "event_type": event["type"],
        "created": event["created"],
        "livemode": event["livemode"],
        "raw": event,
    }


def test_a_stripe_payment_is_summarised_by_openai_and_mailed_through_gmail(cf, book, fake_llm, smtp_ssl):
    fake_llm.reply = "Ada Lovelace paid 99.00 USD for the Pro plan (yearly); order 1042."
    openai = book.add("openai_api", api_key=fake_llm.api_key, base_url=fake_llm.openai_base)
    gmail = book.add(
        "gmail",
        email=smtp_ssl.username,
        app_password=smtp_ssl.password,
        host=smtp_ssl.host,
        port=smtp_ssl.port,
        ca_bundle=smtp_ssl.ca_file,
    )
    payment = "{{ stripe.raw.data.object.amount / 100 }} {{ stripe.raw.data.object.currency | upper }}"
    workflow = {
        "name": "Stripe payment → OpenAI summary → Gmail",
        "nodes": [
            # trigger.manual stands in for trigger.stripe (built by another engineer right now): same
            # variable name and the same context shape, so the templates below work unchanged with it.
            {"id": "stripe", "type": "trigger.manual", "name": "Stripe payment", "variable_name": "stripe"},
            {
                "id": "summarise",
                "type": "ai.openai",
                "name": "Summarise",
                "variable_name": "summary",
                "credential_id": openai,
                "params": {
                    "system_prompt": "You write one-paragraph payment summaries for the finance team.",
                    "prompt": f"Summarise this payment: {payment} from {{{{ stripe.raw.data.object.receipt_email }}}} "
                    "for '{{ stripe.raw.data.object.description }}', order "
                    "{{ stripe.raw.data.object.metadata.order_id }}.",
                },
            },
            {
                "id": "mail",
                "type": "email.gmail",
                "name": "Mail finance",
                "variable_name": "mail",
                "credential_id": gmail,
                "params": {
                    "to": "finance@example.com",
                    "subject": f"Payment received: {payment} ({{{{ stripe.event_id }}}})",
                    "text": "{{ summary.text }}\n\nStripe event {{ stripe.event_id }}, live mode: {{ stripe.livemode }}.",
                },
            },
        ],
        "edges": [{"source": "stripe", "target": "summarise"}, {"source": "summarise", "target": "mail"}],
    }

    ex = cf.run(workflow, stripe_trigger_input(EVENT), runtime=book.runtime)

    assert ex.status == "success", ex.error
    [llm_request] = fake_llm.requests
    assert llm_request.path == "/v1/chat/completions"
    assert llm_request.json()["messages"][1]["content"] == (
        "Summarise this payment: 99.0 USD from ada@example.com for 'Pro plan, yearly', order 1042."
    )
    [delivered] = smtp_ssl.messages
    assert delivered.tls and delivered.rcpt_tos == ["finance@example.com"]
    assert delivered.message["From"] == smtp_ssl.username
    assert delivered.message["Subject"] == "Payment received: 99.0 USD (evt_3QbX2mLkdIwHu7ix0k8ZtR4a)"
    assert delivered.body() == (
        "Ada Lovelace paid 99.00 USD for the Pro plan (yearly); order 1042.\n\n"
        "Stripe event evt_3QbX2mLkdIwHu7ix0k8ZtR4a, live mode: False.\n"
    )
    assert ex.context["summary"]["text"] == fake_llm.reply
    assert ex.context["mail"] == {
        "success": True,
        "message_id": delivered.message["Message-ID"],
        "to": ["finance@example.com"],
    }
