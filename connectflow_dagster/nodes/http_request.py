"""HTTP Request: any method, URL, headers, query and body, through httpx.

401/403 and other 4xx fail at once; 429, 5xx, timeouts and connection resets are retriable (the
node's retry settings decide how often), honouring ``Retry-After``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params

MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class HttpRequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1, description="Absolute http(s) URL; may be a template.")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    body: Any = Field(default=None, description="JSON value, form fields or raw text (see body_type).")
    body_type: Literal["json", "form", "raw"] = "json"
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds.")
    fail_on_error_status: bool = Field(default=True, description="Fail the node on a 4xx/5xx response.")


class HttpRequestOutput(BaseModel):
    status: int
    headers: dict[str, str]
    data: Any


def normalize_base_url(value: str | None) -> str | None:
    """An optional API root from a credential: empty → None (the service's default), else an
    http(s) URL without a trailing slash."""
    if not value or not value.strip():
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.strip().rstrip("/")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds form), if present and sane."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import datetime as dt

            delta = parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)
            return max(0.0, min(delta.total_seconds(), 3600.0))
        except (TypeError, ValueError):
            return None


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an error response into the right failure: retriable (429/5xx) or not (other 4xx)."""
    status = response.status_code
    if status < 400:
        return
    snippet = response.text[:300] if response.content else ""
    message = f"{what} answered HTTP {status}" + (f": {snippet}" if snippet else "")
    if status == 429 or status >= 500:
        raise NodeExecutionError(message, retry_after=retry_after_seconds(response))
    if status in (401, 403):
        raise NonRetriableNodeError(message + " (check the credential)")
    raise NonRetriableNodeError(message)


def send(ctx: NodeContext, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
    """Send one request through the injected client, mapping transport errors to retriable failures."""
    try:
        return ctx.http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise NodeExecutionError(f"{what}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise NodeExecutionError(f"{what}: connection failed: {exc}") from None


def execute(params: HttpRequestParams, ctx: NodeContext) -> dict[str, Any]:
    if not params.url.startswith(("http://", "https://")):
        raise NonRetriableNodeError(f"url must start with http:// or https:// (got {params.url!r})")
    kwargs: dict[str, Any] = {"headers": params.headers, "params": params.query, "timeout": params.timeout}
    if params.body is not None and params.method not in ("GET", "HEAD"):
        if params.body_type == "json":
            kwargs["json"] = params.body
        elif params.body_type == "form":
            kwargs["data"] = params.body
        else:
            kwargs["content"] = (
                params.body if isinstance(params.body, str | bytes) else json.dumps(params.body)
            )
    response = send(ctx, params.method, params.url, what=f"{params.method} {params.url}", **kwargs)
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise NonRetriableNodeError(f"response is larger than {MAX_RESPONSE_BYTES} bytes")
    if params.fail_on_error_status:
        raise_for_status(response, f"{params.method} {params.url}")
    content_type = response.headers.get("content-type", "")
    data: Any
    if "json" in content_type:
        try:
            data = response.json()
        except ValueError:
            data = response.text
    else:
        data = response.text
    return {"status": response.status_code, "headers": dict(response.headers), "data": data}


node = NodeType(
    type="http.request",
    display_name="HTTP Request",
    group="action",
    description="Calls any HTTP API and returns its status, headers and parsed body.",
    params=HttpRequestParams,
    output=HttpRequestOutput,
    execute=execute,
    icon="globe",
)
