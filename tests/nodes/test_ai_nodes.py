"""The LLM nodes through litellm, against a local server speaking OpenAI's, Anthropic's and Gemini's APIs.

DeepSeek and Perplexity are OpenAI-compatible, so they are pointed at the same /v1/chat/completions.
"""

from __future__ import annotations

import httpx
import pytest

from connectflow_dagster.nodes.ai.providers import PROVIDERS
from connectflow_dagster.registry import get_registry

# node type → (credential base_url attribute of FakeLLM, path the server must see, model the node sends)
ENDPOINTS = {
    "ai.openai": ("openai_base", "/v1/chat/completions", "gpt-4o-mini"),
    "ai.deepseek": ("openai_base", "/v1/chat/completions", "deepseek-chat"),
    "ai.perplexity": ("openai_base", "/v1/chat/completions", "sonar"),
    "ai.anthropic": ("anthropic_base", "/v1/messages", "claude-sonnet-4-5"),
    "ai.gemini": ("gemini_base", "/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"),
}


def _cred(book, fake_llm, node_type, key=None):  # type: ignore[no-untyped-def]
    base_attr = ENDPOINTS[node_type][0]
    return book.add(
        node_type.split(".")[1] + "_api",
        api_key=key or fake_llm.api_key,
        base_url=getattr(fake_llm, base_attr),
    )


PARAMS = {
    "system_prompt": "You summarise payments for {{ trigger.team }}.",
    "prompt": "Summarise: {{ trigger.amount }} {{ trigger.currency }} from {{ trigger.email }}",
    "temperature": 0.2,
    "max_tokens": 200,
}
PAYLOAD = {"team": "finance", "amount": 99, "currency": "USD", "email": "ada@example.com"}


def _sent(node_type: str, body: dict, headers: dict) -> tuple[str, str, int, float, str]:
    """(system prompt, user prompt, max tokens, temperature, key) as the provider's API received them."""
    if node_type == "ai.anthropic":
        [user] = body["messages"]
        system = (
            " ".join(part["text"] for part in body["system"])
            if isinstance(body["system"], list)
            else body["system"]
        )
        text = user["content"] if isinstance(user["content"], str) else user["content"][0]["text"]
        return system, text, body["max_tokens"], body["temperature"], headers["x-api-key"]
    if node_type == "ai.gemini":
        # litellm sends the system prompt as system_instruction, or folds it into the user turn.
        parts = [p["text"] for c in body["contents"] for p in c["parts"]]
        system = " ".join(p["text"] for p in body.get("system_instruction", {}).get("parts", [])) or parts[0]
        config = body["generationConfig"]
        return (
            system,
            parts[-1],
            config["max_output_tokens"],
            config["temperature"],
            headers["x-goog-api-key"],
        )
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    return (
        system["content"],
        user["content"],
        body["max_tokens"],
        body["temperature"],
        headers["authorization"].removeprefix("Bearer "),
    )


@pytest.mark.parametrize("node_type", sorted(ENDPOINTS))
def test_chat_completion_reaches_the_provider_api_and_returns_text_model_usage(
    run_action, book, fake_llm, node_type
):
    ex, act = run_action(node_type, PARAMS, _cred(book, fake_llm, node_type), payload=PAYLOAD)
    assert ex.status == "success", ex.error
    _, path, model = ENDPOINTS[node_type]
    [request] = fake_llm.requests
    assert request.method == "POST" and request.path == path
    body = request.json()
    if node_type != "ai.gemini":
        assert body["model"] == model
    assert _sent(node_type, body, request.headers) == (
        "You summarise payments for finance.",
        "Summarise: 99 USD from ada@example.com",
        200,
        0.2,
        fake_llm.api_key,
    )
    assert act.output == {
        "text": "A summary from the fake model.",
        "model": model,
        "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
    }


def test_the_model_can_be_chosen_with_or_without_the_provider_prefix(run_action, book, fake_llm):
    cred = _cred(book, fake_llm, "ai.openai")
    ex, act = run_action("ai.openai", {"prompt": "hi", "model": "openai/gpt-4.1"}, cred)
    assert ex.status == "success", ex.error
    assert fake_llm.requests[0].json()["model"] == "gpt-4.1" and act.output["model"] == "gpt-4.1"
    body = fake_llm.requests[0].json()
    assert body["messages"] == [{"role": "user", "content": "hi"}]  # no empty system message
    assert "temperature" not in body  # the provider's default unless set


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, fake_llm):
    ex, act = run_action(
        "ai.anthropic",
        {"prompt": "Summarise {{ stripe.raw.data.object.amount }}"},
        _cred(book, fake_llm, "ai.anthropic"),
        payload={"x": 1},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert (
        "node 'act'" in ex.error and "field 'params.prompt'" in ex.error and "variable 'stripe'" in ex.error
    )
    assert fake_llm.requests == []


def test_invalid_params_fail_at_once_naming_the_field(run_action, book, fake_llm):
    ex, act = run_action(
        "ai.openai",
        {"prompt": "x", "temperature": "{{ trigger.t }}"},
        _cred(book, fake_llm, "ai.openai"),
        payload={"t": 7},
        retry={"max_retries": 3, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "field 'params.temperature'" in act.error and fake_llm.requests == []


def test_a_credential_of_another_provider_is_refused(run_action, book, fake_llm):
    cred = _cred(book, fake_llm, "ai.anthropic")
    ex, act = run_action("ai.openai", {"prompt": "x"}, cred)
    assert ex.status == "failed" and "is a 'anthropic_api', not a 'openai_api'" in act.error
    assert fake_llm.requests == []


def test_each_provider_has_its_own_credential_type_and_a_default_model():
    registry = get_registry()
    for provider in PROVIDERS:
        node_type = registry.get(provider.node_type_name)
        assert node_type.credential.type == f"{provider.key}_api"
        schema = node_type.describe()["params_schema"]
        assert schema["properties"]["model"]["default"] == provider.default_model
        assert {"model", "system_prompt", "prompt", "temperature", "max_tokens"} <= set(schema["properties"])
        assert all(p.get("description") for p in schema["properties"].values())
        assert schema["required"] == ["prompt"]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.key)
def test_the_credential_test_makes_one_authenticated_call(fake_llm, http_server, provider):
    credential = get_registry().get(provider.node_type_name).credential
    base = getattr(fake_llm, ENDPOINTS[provider.node_type_name][0])
    with httpx.Client() as http:
        good = credential.fields(api_key=fake_llm.api_key, base_url=base)
        assert credential.test(good, http) == f"{provider.display_name} accepted the API key"
        bad = credential.fields(api_key="sk-wrong", base_url=base)
        with pytest.raises(Exception, match=r"HTTP (400|401)"):
            credential.test(bad, http)
    assert fake_llm.api_key not in repr(good)
