"""AI chat: OpenAI and Anthropic message nodes (langchain package and the legacy OpenAI node), and a
Basic LLM Chain whose chat model is an OpenAI or Anthropic chat-model sub-node."""

from __future__ import annotations

from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable
from connectflow_dagster.interop.n8n.mappers.base import (
    IDENTITY,
    ExportContext,
    MapContext,
    Mapped,
    exporter,
    importer,
    renamed,
)

OPENAI_V1_VIEW = renamed("ConnectFlow's chat output has text, model and usage", **{"message.content": "text"})
OPENAI_V2_VIEW = renamed(
    "ConnectFlow's chat output has text, model and usage", **{"output.0.content.0.text": "text"}
)
ANTHROPIC_VIEW = renamed("ConnectFlow's chat output has text, model and usage", **{"content.0.text": "text"})
LEGACY_OPENAI_VIEW = renamed(
    "ConnectFlow's chat output has text, model and usage", **{"message.content": "text"}
)


def _model(value: Any) -> Any:
    return value.get("value", "") if isinstance(value, dict) else value


def _messages(ctx: MapContext, messages: list[dict[str, Any]], field: str) -> dict[str, Any]:
    system, user = [], []
    for i, m in enumerate(messages):
        role = m.get("role", "user")
        content = ctx.expr(m.get("content", ""), f"{field}.{i}.content")
        if role == "system":
            system.append(content)
        elif role == "user":
            user.append(content)
        else:
            raise Untranslatable(f"{field}.{i}: an '{role}' message in the conversation (one prompt only)")
    if len(user) != 1 or len(system) > 1 or not all(isinstance(x, str) for x in [*user, *system]):
        raise Untranslatable(
            f"{field}: {len(user)} user and {len(system)} system messages (one of each fits)"
        )
    params: dict[str, Any] = {"prompt": user[0]}
    if system:
        params["system_prompt"] = system[0]
    return params


def _options(ctx: MapContext, params: dict[str, Any], options: dict[str, Any], tokens_key: str) -> None:
    if options.get("temperature") is not None:
        params["temperature"] = ctx.expr(options["temperature"], "options.temperature")
    if options.get(tokens_key) is not None:
        params["max_tokens"] = ctx.expr(options[tokens_key], f"options.{tokens_key}")
    ctx.ignore_options(options, {"temperature", tokens_key, "system"})


@importer("@n8n/n8n-nodes-langchain.openAi")
def openai(ctx: MapContext) -> Mapped:
    if ctx.get("resource", default="text") != "text" or ctx.get(
        "operation", default="message" if ctx.version < 2 else "response"
    ) not in ("message", "response"):
        raise Untranslatable("only the OpenAI text message operation maps to a chat call")
    if ctx.get("simplify", default=True) is False:
        raise Untranslatable("the unsimplified OpenAI response has no ConnectFlow equivalent")
    if ctx.version >= 2:
        values = ctx.get("responses", "values", default=[]) or []
        params = _messages(ctx, values, "responses.values")
        view = OPENAI_V2_VIEW
    else:
        params = _messages(ctx, ctx.get("messages", "values", default=[]) or [], "messages.values")
        view = OPENAI_V1_VIEW
    params["model"] = ctx.expr(_model(ctx.get("modelId", default="gpt-4o-mini")), "modelId")
    _options(ctx, params, ctx.get("options", default={}) or {}, "maxTokens")
    if ctx.get("jsonOutput"):
        ctx.approximate("JSON output mode: the reply is kept as text")
    return Mapped("ai.openai", params, view, credential_type="openai_api")


@importer("n8n-nodes-base.openAi")
def legacy_openai(ctx: MapContext) -> Mapped:
    if ctx.get("resource", default="text") != "chat":
        raise Untranslatable("only the legacy OpenAI chat completion maps to a chat call")
    params = _messages(ctx, ctx.get("prompt", "messages", default=[]) or [], "prompt.messages")
    params["model"] = ctx.expr(_model(ctx.get("chatModel", default="gpt-3.5-turbo")), "chatModel")
    _options(ctx, params, ctx.get("options", default={}) or {}, "maxTokens")
    ctx.approximate("the output has the reply as text (n8n: the completion's choices)")
    return Mapped("ai.openai", params, LEGACY_OPENAI_VIEW, credential_type="openai_api")


@importer("@n8n/n8n-nodes-langchain.anthropic")
def anthropic(ctx: MapContext) -> Mapped:
    if ctx.get("resource", default="text") != "text" or ctx.get("operation", default="message") != "message":
        raise Untranslatable("only the Anthropic text message operation maps to a chat call")
    if ctx.get("simplify", default=True) is False:
        raise Untranslatable("the unsimplified Anthropic response has no ConnectFlow equivalent")
    options = ctx.get("options", default={}) or {}
    params = _messages(ctx, ctx.get("messages", "values", default=[]) or [], "messages.values")
    if options.get("system"):
        params["system_prompt"] = ctx.expr(options["system"], "options.system")
    params["model"] = ctx.expr(_model(ctx.get("modelId", default="claude-sonnet-4-5")), "modelId")
    _options(ctx, params, options, "maxTokens")
    return Mapped("ai.anthropic", params, ANTHROPIC_VIEW, credential_type="anthropic_api")


_CHAT_MODELS = {
    "@n8n/n8n-nodes-langchain.lmChatOpenAi": ("ai.openai", "openai_api", "maxTokens", "gpt-4o-mini"),
    "@n8n/n8n-nodes-langchain.lmChatAnthropic": (
        "ai.anthropic",
        "anthropic_api",
        "maxTokensToSample",
        "claude-sonnet-4-5",
    ),
}


@importer("@n8n/n8n-nodes-langchain.chainLlm")
def chain_llm(ctx: MapContext) -> Mapped:
    models = ctx.subnodes.get("ai_languageModel", [])
    if len(models) != 1 or models[0].get("type") not in _CHAT_MODELS:
        kinds = ", ".join(str(m.get("type")) for m in models) or "none"
        raise Untranslatable(
            f"a Basic LLM Chain maps when its model is one OpenAI or Anthropic chat model (here: {kinds})"
        )
    if set(ctx.subnodes) - {"ai_languageModel"}:
        raise Untranslatable(
            f"sub-nodes {sorted(set(ctx.subnodes) - {'ai_languageModel'})} have no equivalent"
        )
    model = models[0]
    cf_type, credential, tokens_key, default_model = _CHAT_MODELS[model["type"]]
    if ctx.get("promptType", default="auto") == "auto":
        prompt = "={{ $json.chatInput }}"
    else:
        prompt = ctx.get("text", default="")
    params: dict[str, Any] = {"prompt": ctx.expr(prompt, "text")}
    messages = ctx.get("messages", "messageValues", default=[]) or []
    for i, m in enumerate(messages):
        if (
            m.get("type", "SystemMessagePromptTemplate") != "SystemMessagePromptTemplate"
            or "system_prompt" in params
        ):
            raise Untranslatable("chain messages other than one system message")
        params["system_prompt"] = ctx.expr(m.get("message", ""), f"messages.messageValues.{i}.message")
    if ctx.get("hasOutputParser"):
        raise Untranslatable("an output parser has no equivalent")
    model_params = model.get("parameters") or {}
    params["model"] = ctx.expr(_model(model_params.get("model", default_model)) or default_model, "model")
    _options(ctx, params, model_params.get("options") or {}, tokens_key)
    ctx.folded.append(str(model.get("name")))
    return Mapped(cf_type, params, IDENTITY, credential_type=credential)


@exporter("ai.openai", view=OPENAI_V1_VIEW)
@exporter("ai.anthropic", view=ANTHROPIC_VIEW)
def chat_out(node: Any, ectx: ExportContext) -> tuple[str, float, dict[str, Any]]:
    p = node.params
    messages = []
    if p.get("system_prompt"):
        messages.append({"role": "system", "content": ectx.expression(p["system_prompt"])})
    messages.append({"content": ectx.expression(p.get("prompt", ""))})
    options: dict[str, Any] = {}
    if p.get("temperature") is not None:
        options["temperature"] = p["temperature"]
    if p.get("max_tokens"):
        options["maxTokens"] = p["max_tokens"]
    if node.type == "ai.anthropic":
        system = [m for m in messages if m.get("role") == "system"]
        if system:
            options["system"] = system[0]["content"]
        messages = [m for m in messages if m.get("role") != "system"]
        return (
            "@n8n/n8n-nodes-langchain.anthropic",
            1,
            {
                "modelId": {"__rl": True, "value": p.get("model", ""), "mode": "id"},
                "messages": {"values": messages},
                "options": options,
            },
        )
    return (
        "@n8n/n8n-nodes-langchain.openAi",
        1.8,
        {
            "modelId": {"__rl": True, "value": p.get("model", ""), "mode": "id"},
            "messages": {"values": messages},
            "options": options,
        },
    )
