"""Luma: generate an image with the Dream Machine API, waiting until it is done.

``POST /generations/image`` creates a generation (state ``queued``), ``GET /generations/{id}`` is polled
until ``completed`` (the image URL is ``assets.image``) or ``failed``. Once a generation exists, a
transient error while polling (429, 5xx, a timeout) is waited out rather than failing the node: a
retry would start — and pay for — a second generation. Waiting longer than ``timeout_seconds`` fails
the node without a retry for the same reason; the message names the generation to look up.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.transport import normalize_base_url, raise_for_status, send

CREDENTIAL_TYPE = "luma_api"
LUMA_BASE_URL = "https://api.lumalabs.ai/dream-machine/v1"
REQUEST_TIMEOUT = 30.0


class LumaCredentialFields(CredentialFields):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    api_key: SecretStr = Field(
        min_length=1, description="A Luma API key (lumalabs.ai/dream-machine/api/keys)."
    )
    base_url: str | None = Field(
        default=None, description=f"Empty for {LUMA_BASE_URL}; another root only for proxies and tests."
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return normalize_base_url(value)

    def url(self, path: str) -> str:
        return f"{self.base_url or LUMA_BASE_URL}{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key.get_secret_value()}", "Accept": "application/json"}


class LumaParams(Params):
    prompt: str = Field(min_length=1, max_length=5000, description="What to draw; may be a template.")
    model: Literal["photon-1", "photon-flash-1"] = Field(
        default="photon-1", description="photon-1 (quality) or photon-flash-1 (faster, cheaper)."
    )
    aspect_ratio: Literal["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"] = Field(
        default="16:9", description="Shape of the image."
    )
    timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="Give up when the image is not ready after this long (also bounds each request).",
    )
    poll_interval_seconds: float = Field(
        default=3.0, ge=0, le=60, description="Seconds between status checks."
    )


class LumaOutput(BaseModel):
    image_url: str = Field(description="URL of the generated image.")
    prompt: str = Field(description="The prompt sent.")
    generation_id: str = Field(description="Luma's id of the generation.")


def execute(params: LumaParams, ctx: NodeContext[LumaCredentialFields]) -> LumaOutput:
    """Create the generation and poll it until it completes, fails or the deadline passes."""
    creds = ctx.auth
    deadline = time.monotonic() + params.timeout_seconds
    response = send(
        ctx.http,
        "POST",
        creds.url("/generations/image"),
        what="Luma (creating the generation)",
        json={"prompt": params.prompt, "model": params.model, "aspect_ratio": params.aspect_ratio},
        headers={**creds.headers(), "Idempotency-Key": ctx.idempotency_key},
        timeout=min(REQUEST_TIMEOUT, params.timeout_seconds),
    )
    raise_for_status(response, "Luma (creating the generation)")
    generation = response.json()
    generation_id = str(generation.get("id") or "")
    if not generation_id:
        raise NodeExecutionError(f"Luma answered without a generation id: {response.text[:200]}")
    while True:
        state = generation.get("state")
        if state == "completed":
            image = (generation.get("assets") or {}).get("image")
            if not image:
                raise NonRetriableNodeError(f"Luma generation {generation_id} completed without an image")
            return LumaOutput(image_url=image, prompt=params.prompt, generation_id=generation_id)
        if state == "failed":
            raise NonRetriableNodeError(
                f"Luma generation {generation_id} failed: {generation.get('failure_reason') or 'no reason given'}"
            )
        if time.monotonic() >= deadline:
            raise NonRetriableNodeError(
                f"Luma generation {generation_id} was still '{state}' after {params.timeout_seconds:g} s "
                "(field 'params.timeout_seconds'); it may still finish in your Luma account"
            )
        time.sleep(min(params.poll_interval_seconds, max(0.0, deadline - time.monotonic())))
        generation = _poll(ctx, generation_id, generation, deadline)


def _poll(
    ctx: NodeContext[LumaCredentialFields], generation_id: str, last: dict[str, Any], deadline: float
) -> dict[str, Any]:
    """The generation's current state; on a transient error, the last state seen (polling goes on)."""
    what = f"Luma (checking generation {generation_id})"
    creds = ctx.auth
    try:
        response = send(
            ctx.http,
            "GET",
            creds.url(f"/generations/{generation_id}"),
            what=what,
            headers=creds.headers(),
            timeout=max(0.1, min(REQUEST_TIMEOUT, deadline - time.monotonic())),
        )
        raise_for_status(response, what)
    except NonRetriableNodeError:
        raise
    except NodeExecutionError as exc:
        ctx.log.warning(f"{exc}; still waiting")
        return last
    return response.json()


def check_credential(creds: LumaCredentialFields, http: httpx.Client) -> str:
    """List one generation: needs a valid key, creates nothing."""
    response = send(
        http,
        "GET",
        creds.url("/generations"),
        what="Luma API",
        params={"limit": 1},
        headers=creds.headers(),
        timeout=20,
    )
    raise_for_status(response, "Luma API")
    return "Luma accepted the API key"


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="Luma API",
    fields=LumaCredentialFields,
    test=check_credential,
)

node = NodeType(
    type="luma.generate_image",
    display_name="Luma image",
    group="action",
    description="Generates an image from a prompt with Luma Dream Machine and returns its URL.",
    params=LumaParams,
    output=LumaOutput,
    execute=execute,
    credential=credential,
    icon="image",
)
