"""HTTP Request: any method, URL, headers, query and body, through the shared transport.

401/403 and other 4xx fail at once; 429, 5xx, timeouts and connection resets are retriable (the
node's retry settings decide how often), honouring ``Retry-After`` (``connectflow_dagster.transport``).
The URL often comes from trigger data: the transport's network policy refuses internal addresses.

- **Authentication** with a stored credential (``nodes/http_auth.py``): header, bearer, basic,
  query parameter, OAuth2 client credentials (token cached, fetched again once on a 401). The
  credential is sent only to the origin of ``url``: a redirect or next-page link elsewhere fails.
- **Body** ``body_type``: ``json``; ``form`` (urlencoded); ``multipart`` (``body`` fields plus
  ``files`` from text or base64); ``raw`` (text with ``content_type``).
- **Pagination** (``pagination.mode``): ``next_url`` (a field of the response, or the ``Link``
  header), ``page`` (an incrementing query parameter), ``cursor`` (a response field sent back as a
  query parameter); each page's items (``items_path``) are collected into ``data``, up to
  ``max_pages``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, model_validator

from connectflow_dagster.errors import NonRetriableNodeError, Problem
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.http_auth import AUTH_TYPES, Authentication, Authenticator, check_same_origin
from connectflow_dagster.transport import raise_for_status, send

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_COLLECTED_ITEMS = 100_000
MAX_PAGINATED_BYTES = 64 * 1024 * 1024  # all pages together
MAX_REDIRECTS = 5


class MultipartFile(Params):
    field: str = Field(min_length=1, max_length=256, description="Form field name.")
    filename: str = Field(default="file", max_length=256)
    content_type: str = Field(default="application/octet-stream", max_length=256)
    text: str | None = Field(default=None, description="The file's content as text (UTF-8).")
    base64: str | None = Field(default=None, description="The file's content, base64-encoded.")

    @model_validator(mode="after")
    def _one_content(self) -> MultipartFile:
        if (self.text is None) == (self.base64 is None):
            raise ValueError("give the file's content as either 'text' or 'base64'")
        return self

    def content(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        try:
            return base64.b64decode(self.base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise NonRetriableNodeError(f"file '{self.field}': 'base64' is not valid base64") from None


class Pagination(Params):
    mode: Literal["off", "next_url", "page", "cursor"] = Field(
        default="off",
        description="next_url: follow a next-page URL; page: increment a query parameter; cursor: send "
        "back a cursor from each response.",
    )
    items_path: str = Field(
        default="",
        max_length=256,
        description="Dotted path of the list of items in each response (e.g. 'data'); empty: the "
        "response itself.",
    )
    next_url_path: str = Field(
        default="",
        max_length=256,
        description="next_url: dotted path of the next page's URL in the response; empty: the Link header.",
    )
    page_param: str = Field(default="page", min_length=1, max_length=256)
    page_start: int = Field(default=1, ge=0)
    cursor_path: str = Field(
        default="", max_length=256, description="cursor: dotted path of the next cursor in the response."
    )
    cursor_param: str = Field(default="cursor", min_length=1, max_length=256)
    max_pages: int = Field(default=10, ge=1, le=1000, description="Stop after this many pages.")

    @model_validator(mode="after")
    def _cursor_path(self) -> Pagination:
        if self.mode == "cursor" and not self.cursor_path:
            raise ValueError("cursor pagination needs 'cursor_path'")
        return self


class HttpRequestParams(Params):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1, description="Absolute http(s) URL; may be a template.")
    authentication: Authentication = Field(
        default="none", description="A stored credential of the matching type (credential_id)."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    body: Any = Field(default=None, description="JSON value, form fields or raw text (see body_type).")
    body_type: Literal["json", "form", "multipart", "raw"] = "json"
    content_type: str = Field(default="", max_length=256, description="raw: the body's Content-Type.")
    files: list[MultipartFile] = Field(default_factory=list, max_length=100, description="multipart: files.")
    pagination: Pagination = Field(default_factory=Pagination)
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds.")
    fail_on_error_status: bool = Field(default=True, description="Fail the node on a 4xx/5xx response.")


class HttpRequestOutput(BaseModel):
    status: int
    headers: dict[str, str]
    data: Any
    pages: int | None = Field(default=None, description="With pagination: how many pages were read.")
    more: bool | None = Field(default=None, description="With pagination: max_pages stopped it early.")


def _body_kwargs(params: HttpRequestParams) -> dict[str, Any]:
    if params.method in ("GET", "HEAD"):
        return {}
    if params.body_type == "multipart":
        fields = params.body if isinstance(params.body, dict) else {}
        if params.body is not None and not isinstance(params.body, dict):
            raise NonRetriableNodeError("multipart: 'body' must be an object of form fields")
        parts: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
            (k, (None, v if isinstance(v, str) else json.dumps(v))) for k, v in fields.items()
        ]
        parts.extend((f.field, (f.filename, f.content(), f.content_type)) for f in params.files)
        return {"files": parts} if parts else {}
    if params.body is None:
        return {}
    if params.body_type == "json":
        return {"json": params.body}
    if params.body_type == "form":
        if not isinstance(params.body, dict):
            raise NonRetriableNodeError("form: 'body' must be an object of form fields")
        return {"data": {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.body.items()}}
    content = params.body if isinstance(params.body, str) else json.dumps(params.body)
    return {"content": content.encode()}


def _dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``links.next``, ``data.0.id``) or None."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _parse(response: httpx.Response) -> Any:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise NonRetriableNodeError(f"response is larger than {MAX_RESPONSE_BYTES} bytes")
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            return response.text
    return response.text


class _Requester:
    """Sends the node's requests: credential, same-origin redirects, one token refresh on 401."""

    def __init__(self, params: HttpRequestParams, ctx: NodeContext[Any], origin: httpx.URL) -> None:
        self.params, self.ctx, self.origin = params, ctx, origin
        self.auth = Authenticator(params.authentication, ctx)
        self.auth.load()
        self.body = _body_kwargs(params)
        self.headers = dict(params.headers)
        has_type = any(k.lower() == "content-type" for k in self.headers)
        if params.body_type == "raw" and params.content_type and not has_type:
            self.headers["Content-Type"] = params.content_type

    def request(self, url: httpx.URL, query: dict[str, Any]) -> httpx.Response:
        response = self._send(url, query)
        if response.status_code == 401 and self.auth.refreshable:
            self.auth.refresh()
            response = self._send(url, query)
        return response

    def _send(self, url: httpx.URL, query: dict[str, Any]) -> httpx.Response:
        p = self.params
        what = f"{p.method} {p.url}"
        if p.authentication == "none":
            target = url.copy_merge_params(query) if query else url
            return send(
                self.ctx.http,
                p.method,
                str(target),
                what=what,
                headers=self.headers,
                timeout=p.timeout,
                **self.body,
            )
        # With a credential, redirects are followed here, and only within the origin.
        headers, extra = self.auth.apply(dict(self.headers), {})
        for _ in range(MAX_REDIRECTS + 1):
            check_same_origin(self.origin, url)
            merged = {**query, **extra}
            target = url.copy_merge_params(merged) if merged else url
            response = send(
                self.ctx.http,
                p.method,
                str(target),
                what=what,
                headers=headers,
                timeout=p.timeout,
                follow_redirects=False,
                **self.body,
            )
            if not response.is_redirect:
                return response
            url = url.join(response.headers["location"])
            query = {}
        raise NonRetriableNodeError(f"{what}: more than {MAX_REDIRECTS} redirects")


def _checked(response: httpx.Response, params: HttpRequestParams) -> httpx.Response:
    if params.fail_on_error_status:
        raise_for_status(response, f"{params.method} {params.url}")
    return response


def execute(params: HttpRequestParams, ctx: NodeContext[Any]) -> HttpRequestOutput:
    """Send the request (and the following pages); the response's JSON or text is ``data``."""
    if not params.url.startswith(("http://", "https://")):
        raise NonRetriableNodeError(f"url must start with http:// or https:// (got {params.url!r})")
    try:
        url = httpx.URL(params.url)
    except httpx.InvalidURL as exc:
        raise NonRetriableNodeError(f"invalid URL: {exc}") from None
    requester = _Requester(params, ctx, url)
    # httpx *replaces* a URL's query string with ``params`` (even an empty dict): merge instead, so
    # ``…/q?a=1`` keeps ``a=1`` and the Query field adds to it.
    query = dict(params.query)
    paging = params.pagination
    if paging.mode == "off":
        response = _checked(requester.request(url, query), params)
        return HttpRequestOutput(
            status=response.status_code, headers=dict(response.headers), data=_parse(response)
        )
    return _paginate(params, requester, url, query)


def _paginate(
    params: HttpRequestParams, requester: _Requester, url: httpx.URL, query: dict[str, Any]
) -> HttpRequestOutput:
    paging = params.pagination
    collected: list[Any] = []
    seen_urls: set[str] = set()
    page_number = paging.page_start
    pages = 0
    more = False
    response: httpx.Response | None = None
    total_bytes = 0
    while True:
        if paging.mode == "page":
            query = {**query, paging.page_param: page_number}
        seen_urls.add(str(url.copy_merge_params(query) if query else url))
        response = _checked(requester.request(url, query), params)
        pages += 1
        total_bytes += len(response.content)
        if total_bytes > MAX_PAGINATED_BYTES:
            raise NonRetriableNodeError(
                f"pagination read more than {MAX_PAGINATED_BYTES} bytes after {pages} pages; "
                "lower max_pages or ask for smaller pages"
            )
        data = _parse(response)
        items = _dig(data, paging.items_path)
        if items is None:
            items = []
        page_items = items if isinstance(items, list) else [items]
        collected.extend(page_items)
        if len(collected) > MAX_COLLECTED_ITEMS:
            raise NonRetriableNodeError(f"pagination collected more than {MAX_COLLECTED_ITEMS} items")
        # What the next page is; None: this was the last one.
        next_url: httpx.URL | None = None
        if paging.mode == "next_url":
            link = (
                _dig(data, paging.next_url_path)
                if paging.next_url_path
                else response.links.get("next", {}).get("url")
            )
            if isinstance(link, str) and link:
                next_url = url.join(link)
                query = {}  # the next URL carries its own query string
                if str(next_url) in seen_urls:
                    next_url = None  # a server pointing back at a page already read
        elif paging.mode == "page":
            if page_items:
                page_number += 1
                next_url = url
        elif paging.mode == "cursor":
            cursor = _dig(data, paging.cursor_path)
            if cursor not in (None, "", False):
                query = {**query, paging.cursor_param: cursor}
                next_url = url
        if next_url is None:
            break
        if pages >= paging.max_pages:
            more = True
            break
        url = next_url
    return HttpRequestOutput(
        status=response.status_code, headers=dict(response.headers), data=collected, pages=pages, more=more
    )


class _HttpRequestNodeType(NodeType):
    def check_params(self, node: Any) -> list[Problem]:
        problems = super().check_params(node)
        kind = node.params.get("authentication", "none")
        if isinstance(kind, str) and kind in AUTH_TYPES and not node.credential_id:
            problems.append(
                Problem(
                    f"choose a '{AUTH_TYPES[kind].display_name}' credential",
                    node_id=node.id,
                    field="credential_id",
                )
            )
        return problems


node = _HttpRequestNodeType(
    type="http.request",
    display_name="HTTP Request",
    group="action",
    description="Calls any HTTP API (with a stored credential, paginated) and returns its status, "
    "headers and parsed body.",
    params=HttpRequestParams,
    output=HttpRequestOutput,
    execute=execute,
    icon="globe",
    credential_options=tuple(AUTH_TYPES.values()),
    item_field="data",  # code nodes see the response body as the items, as n8n's HTTP node outputs it
)
