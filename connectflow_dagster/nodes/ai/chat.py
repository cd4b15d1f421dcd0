"""One chat completion through litellm: what every LLM node shares.

A provider is a row of ``Provider`` (see ``providers.py``); ``chat_node_type(provider)`` turns it into a
``NodeType`` with its own credential type. litellm is imported lazily (it takes seconds) with
``LITELLM_LOCAL_MODEL_COST_MAP=True`` so nothing is fetched at import, and every call passes
``api_key`` / ``api_base`` explicitly and turns litellm's own retries off: the node's retry settings
decide (401/403 and bad requests fail at once; 429, 5xx, timeouts and resets are retriable, honouring
``Retry-After``).

litellm makes its own HTTP calls, so every call hands it a client built on the node's shared,
policy-checked httpx client (``ctx.http``): an ``openai.OpenAI`` for the providers litellm sends
through the OpenAI SDK, litellm's ``HTTPHandler`` for those it sends itself (``Provider.client``; a
client of the wrong kind is silently ignored by litellm, so tests/security checks every provider).
The endpoint is also checked before the call, so a refused ``api_base`` fails with the policy's own
message rather than litellm's wrapping of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator

from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.transport import (
    NetworkPolicyError,
    pinned_addresses,
    raise_for_status,
    retry_after_seconds,
    send,
)

AuthStyle = Literal["bearer", "anthropic", "google"]
# How litellm sends a provider's requests: through the OpenAI SDK or its own HTTP handler.
ClientKind = Literal["openai_sdk", "litellm_http"]
MAX_DETAIL_CHARS = 300


class LLMCredentialFields(CredentialFields):
    """An LLM provider's API key and, optionally, another endpoint (a proxy or a compatible server)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    api_key: SecretStr = Field(min_length=1, description="The provider's API key.")
    base_url: str | None = Field(
        default=None,
        description="API root to use instead of the provider's own (see the credential type's "
        "description for the default); for proxies and compatible servers.",
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class ChatParams(Params):
    """Shared by every LLM node; each provider's subclass only changes the default ``model``."""

    model: str = Field(min_length=1, description="Model name as the provider spells it.")
    system_prompt: str = Field(
        default="", description="Instructions for the model (the system message); may be a template."
    )
    prompt: str = Field(min_length=1, description="The user message; may be a template.")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature; empty for the provider's default."
    )
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000, description="Most tokens the reply may use.")
    timeout: float = Field(default=120.0, gt=0, le=600, description="Seconds to wait for the reply.")


class Usage(BaseModel):
    prompt_tokens: int = Field(default=0, description="Tokens in the messages sent.")
    completion_tokens: int = Field(default=0, description="Tokens in the reply.")
    total_tokens: int = Field(default=0, description="Both together.")


class ChatOutput(BaseModel):
    text: str = Field(description="The model's reply.")
    model: str = Field(description="The model that answered, as the provider reports it.")
    usage: Usage = Field(description="Token counts reported by the provider.")


@dataclass(frozen=True)
class Provider:
    """One LLM provider: names, litellm prefix, defaults, and how to check a key."""

    key: str  # node type ``ai.<key>``, credential type ``<key>_api``
    display_name: str
    litellm_prefix: str
    default_model: str
    default_base_url: str  # what litellm uses when the credential has no base_url
    auth: AuthStyle
    probe_path: str  # a cheap request that needs a valid key (the credential test)
    client: ClientKind = "litellm_http"
    probe_body: Mapping[str, Any] | None = field(default=None)

    @property
    def node_type_name(self) -> str:
        return f"ai.{self.key}"

    @property
    def credential_type_name(self) -> str:
        return f"{self.key}_api"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        if self.auth == "anthropic":
            return {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
        if self.auth == "google":
            return {"x-goog-api-key": api_key}
        return {"Authorization": f"Bearer {api_key}"}

    def litellm_client(self, http: httpx.Client, api_key: str, api_base: str | None) -> Any:
        """The ``client=`` for litellm that sends this provider's requests through ``http``."""
        if self.client == "openai_sdk":
            import openai

            return openai.OpenAI(
                api_key=api_key,
                base_url=api_base or self.default_base_url,
                http_client=http,  # type: ignore[arg-type]  # openai types its own httpx fork
                max_retries=0,
            )
        from litellm.llms.custom_httpx.http_handler import HTTPHandler

        return HTTPHandler(client=http)


def import_litellm() -> ModuleType:
    """litellm, imported on first use with the local cost map (no download at import)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Provider List" banners on stdout
    return litellm


def check_endpoint(url: str, ctx: NodeContext[Any]) -> None:
    """Refuse an endpoint the network policy refuses, before litellm wraps the error."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pinned_addresses(parts.hostname or "", port, resolver=ctx.resolver)
    except NetworkPolicyError:
        raise
    except (OSError, ValueError):
        return  # unresolvable: litellm's call reports it as a connection error (retriable)


def complete_chat(
    provider: Provider, params: ChatParams, ctx: NodeContext[LLMCredentialFields]
) -> ChatOutput:
    """Send the system and user prompt to ``provider`` and return ``{text, model, usage}``."""
    creds = ctx.auth
    check_endpoint(creds.base_url or provider.default_base_url, ctx)
    litellm = import_litellm()
    model = params.model.strip().removeprefix(f"{provider.litellm_prefix}/")
    messages = [{"role": "system", "content": params.system_prompt}] if params.system_prompt.strip() else []
    messages.append({"role": "user", "content": params.prompt})
    kwargs: dict[str, Any] = {
        "model": f"{provider.litellm_prefix}/{model}",
        "messages": messages,
        "max_tokens": params.max_tokens,
        "api_key": creds.api_key.get_secret_value(),
        "api_base": creds.base_url,
        "timeout": params.timeout,
        "max_retries": 0,  # the SDK's own retries would hide 429s from the node's retry settings
        "num_retries": 0,
        "client": provider.litellm_client(ctx.http, creds.api_key.get_secret_value(), creds.base_url),
    }
    if params.temperature is not None:
        kwargs["temperature"] = params.temperature
    try:
        response = litellm.completion(**kwargs)
    except Exception as exc:
        policy = _policy_refusal(exc)
        if policy is not None:
            raise policy from None
        raise _node_error(litellm, provider, params, exc) from None
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    usage = getattr(response, "usage", None)
    return ChatOutput(
        text=text,
        model=(response.model or model).removeprefix(f"{provider.litellm_prefix}/"),
        usage=Usage(
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            total_tokens=getattr(usage, "total_tokens", 0) or 0,
        ),
    )


def _policy_refusal(exc: BaseException) -> NetworkPolicyError | None:
    """The network policy's refusal inside litellm's wrapping (a redirect to a refused address)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, NetworkPolicyError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _node_error(litellm: ModuleType, provider: Provider, params: ChatParams, exc: Exception) -> Exception:
    """Map a litellm exception to a retriable or non-retriable node error with a readable message."""
    name = provider.display_name
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    full = " ".join(str(getattr(exc, "message", None) or exc).split())
    detail = full[:MAX_DETAIL_CHARS]
    if status in (401, 403) or "API_KEY_INVALID" in full:  # Gemini answers a bad key with 400
        # The provider's body can echo part of the key: leave it out.
        return NonRetriableNodeError(
            f"{name} rejected the API key (HTTP {status or 400}): check the '{provider.credential_type_name}' "
            "credential"
        )
    if isinstance(exc, litellm.Timeout) or status == 408:
        return NodeExecutionError(f"{name} did not answer within {params.timeout:g} s")
    if isinstance(exc, litellm.APIConnectionError):
        return NodeExecutionError(f"could not reach {name}: {detail}")
    if status is not None and (status == 429 or status >= 500):
        return NodeExecutionError(f"{name} answered HTTP {status}: {detail}", retry_after=_retry_after(exc))
    if status is not None and 400 <= status < 500:
        return NonRetriableNodeError(f"{name} refused the request (HTTP {status}): {detail}")
    return NodeExecutionError(f"{name} call failed ({type(exc).__name__}): {detail}")


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    return retry_after_seconds(httpx.Response(429, headers=dict(headers)))


def credential_test(provider: Provider):  # type: ignore[no-untyped-def]
    """The connectivity check of ``provider``'s credential type: one cheap authenticated request."""

    def test(creds: LLMCredentialFields, http: httpx.Client) -> str:
        url = (creds.base_url or provider.default_base_url) + provider.probe_path
        headers = provider.auth_headers(creds.api_key.get_secret_value())
        method = "POST" if provider.probe_body is not None else "GET"
        response = send(
            http,
            method,
            url,
            what=f"{provider.display_name} API",
            headers=headers,
            json=provider.probe_body,
            timeout=20,
        )
        raise_for_status(response, f"{provider.display_name} API")
        return f"{provider.display_name} accepted the API key"

    return test


def chat_node_type(provider: Provider) -> NodeType:
    """The node type ``ai.<provider>``: its params (with the provider's default model) and credential."""
    params_model = create_model(
        f"{provider.display_name.replace(' ', '')}ChatParams",
        __base__=ChatParams,
        __module__=__name__,
        model=(
            str,
            Field(
                default=provider.default_model,
                min_length=1,
                description=f"{provider.display_name} model name, e.g. '{provider.default_model}'.",
            ),
        ),
    )
    credential = CredentialType(
        type=provider.credential_type_name,
        display_name=f"{provider.display_name} API",
        fields=LLMCredentialFields,
        test=credential_test(provider),
    )

    def execute(params: ChatParams, ctx: NodeContext[LLMCredentialFields]) -> ChatOutput:
        return complete_chat(provider, params, ctx)

    return NodeType(
        type=provider.node_type_name,
        display_name=provider.display_name,
        group="action",
        description=f"Asks a {provider.display_name} model (system + user prompt) and returns its reply "
        f"and token usage. Default endpoint: {provider.default_base_url}.",
        params=params_model,
        output=ChatOutput,
        execute=execute,
        credential=credential,
        icon="sparkles",
    )
