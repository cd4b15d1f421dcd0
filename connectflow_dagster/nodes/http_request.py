"""HTTP Request: any method, URL, headers, query and body, through the shared transport.

401/403 and other 4xx fail at once; 429, 5xx, timeouts and connection resets are retriable (the
node's retry settings decide how often), honouring ``Retry-After`` (``connectflow_dagster.transport``).
The URL often comes from trigger data: the transport's network policy refuses internal addresses.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.transport import raise_for_status, send

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


def execute(params: HttpRequestParams, ctx: NodeContext[None]) -> HttpRequestOutput:
    """Send the request; the response's JSON (by content type) or text is ``data``."""
    if not params.url.startswith(("http://", "https://")):
        raise NonRetriableNodeError(f"url must start with http:// or https:// (got {params.url!r})")
    try:
        url = httpx.URL(params.url)
    except httpx.InvalidURL as exc:
        raise NonRetriableNodeError(f"invalid URL: {exc}") from None
    # httpx *replaces* a URL's query string with ``params`` (even an empty dict): merge instead, so
    # ``…/q?a=1`` keeps ``a=1`` and the Query field adds to it.
    if params.query:
        url = url.copy_merge_params(params.query)
    kwargs: dict[str, Any] = {"headers": params.headers, "timeout": params.timeout}
    if params.body is not None and params.method not in ("GET", "HEAD"):
        if params.body_type == "json":
            kwargs["json"] = params.body
        elif params.body_type == "form":
            kwargs["data"] = params.body
        else:
            kwargs["content"] = (
                params.body if isinstance(params.body, str | bytes) else json.dumps(params.body)
            )
    response = send(ctx.http, params.method, str(url), what=f"{params.method} {params.url}", **kwargs)
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
    return HttpRequestOutput(status=response.status_code, headers=dict(response.headers), data=data)


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
