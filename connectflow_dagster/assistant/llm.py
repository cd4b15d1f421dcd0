"""The assistant's model calls: one litellm ``Router`` per configuration, with the fallback model as a
router fallback (provider errors, timeouts), never a hand-written retry loop.

Each endpoint is checked against the outbound network policy before a router is built (a refused
``api_base`` fails with the policy's message). litellm sends the request with its own HTTP client here,
not the nodes' pinned ``ctx.http`` client (a router deployment cannot carry one per endpoint), so DNS
pinning does not apply to assistant calls; the policy check does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from connectflow_dagster.config import Settings
from connectflow_dagster.nodes.ai.chat import import_litellm
from connectflow_dagster.transport import NetworkPolicyError, pinned_addresses

PRIMARY = "primary"
FALLBACK = "fallback"


class AssistantModelError(Exception):
    """Every configured model failed (the message says why, without secrets)."""


@dataclass(frozen=True)
class Endpoint:
    model: str
    api_base: str | None = None
    api_key: str | None = None

    def params(self, timeout: float) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "timeout": timeout, "max_retries": 0}
        if self.api_base:
            out["api_base"] = self.api_base
        if self.api_key:
            out["api_key"] = self.api_key
        return out


@dataclass(frozen=True)
class ModelConfig:
    """What the assistant calls: a generator, an optional classifier, an optional fallback."""

    generator: Endpoint | None
    classifier: Endpoint | None = None
    fallback: Endpoint | None = None
    timeout: float = 90.0
    max_repairs: int = 2

    @property
    def configured(self) -> bool:
        return self.generator is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelConfig:
        key = settings.assistant_api_key.get_secret_value() if settings.assistant_api_key else None
        base = settings.assistant_api_base.strip() or None

        def endpoint(model: str, api_base: str | None = base, api_key: str | None = key) -> Endpoint | None:
            return Endpoint(model.strip(), api_base, api_key) if model.strip() else None

        fb_key = (
            settings.assistant_fallback_api_key.get_secret_value()
            if settings.assistant_fallback_api_key
            else key
        )
        return cls(
            generator=endpoint(settings.assistant_model),
            classifier=endpoint(settings.assistant_classifier_model),
            fallback=endpoint(
                settings.assistant_fallback_model,
                settings.assistant_fallback_api_base.strip() or base,
                fb_key,
            ),
            timeout=settings.assistant_timeout_seconds,
            max_repairs=settings.assistant_max_repairs,
        )


def with_user_credential(
    config: ModelConfig, credential_type: str, fields: dict[str, Any], model: str | None = None
) -> ModelConfig:
    """``config`` generating with a user's stored AI credential (``openai_api``, ``anthropic_api``…):
    its key and base URL, the provider's default model unless ``model`` is given. Raises
    ``ValueError`` for a credential type that is not an AI provider's."""
    from dataclasses import replace

    from connectflow_dagster.nodes.ai.providers import PROVIDERS

    provider = next((p for p in PROVIDERS if p.credential_type_name == credential_type), None)
    if provider is None:
        raise ValueError(f"a '{credential_type}' credential is not an AI provider's API key")
    name = (model or provider.default_model).strip().removeprefix(f"{provider.litellm_prefix}/")
    key = fields.get("api_key")
    secret = getattr(key, "get_secret_value", lambda: key)()
    endpoint = Endpoint(f"{provider.litellm_prefix}/{name}", fields.get("base_url") or None, secret)
    return replace(config, generator=endpoint)


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


def _check_policy(endpoint: Endpoint) -> None:
    if not endpoint.api_base:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint.api_base)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pinned_addresses(parts.hostname or "", port)
    except NetworkPolicyError:
        raise
    except (OSError, ValueError):
        return  # unresolvable: the call reports a connection error


def router_for(main: Endpoint, fallback: Endpoint | None, timeout: float) -> Any:
    litellm = import_litellm()
    model_list = [{"model_name": PRIMARY, "litellm_params": main.params(timeout)}]
    kwargs: dict[str, Any] = {"num_retries": 0, "timeout": timeout}
    if fallback is not None:
        model_list.append({"model_name": FALLBACK, "litellm_params": fallback.params(timeout)})
        kwargs["fallbacks"] = [{PRIMARY: [FALLBACK]}]
    return litellm.Router(model_list=model_list, **kwargs)


def complete(
    main: Endpoint,
    fallback: Endpoint | None,
    messages: list[dict[str, str]],
    *,
    timeout: float,
    response_format: dict[str, Any] | None = None,
) -> Reply:
    """One chat completion through the router (main, then the fallback on errors and timeouts)."""
    for endpoint in (main, fallback):
        if endpoint is not None:
            try:
                _check_policy(endpoint)
            except NetworkPolicyError as exc:
                raise AssistantModelError(f"the model endpoint is refused: {exc}") from None
    router = router_for(main, fallback, timeout)
    kwargs: dict[str, Any] = {"model": PRIMARY, "messages": messages}
    if response_format is not None:
        kwargs["response_format"] = response_format
    started = time.monotonic()
    try:
        response = router.completion(**kwargs)
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        detail = " ".join(str(getattr(exc, "message", None) or exc).split())[:300]
        for secret in (main.api_key, fallback.api_key if fallback else None):
            if secret:
                detail = detail.replace(secret, "***")
        where = f" (HTTP {status})" if isinstance(status, int) else ""
        raise AssistantModelError(f"the model call failed{where}: {type(exc).__name__}: {detail}") from None
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    usage = getattr(response, "usage", None)
    return Reply(
        text=text,
        model=str(response.model or main.model),
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        latency_ms=int((time.monotonic() - started) * 1000),
    )
