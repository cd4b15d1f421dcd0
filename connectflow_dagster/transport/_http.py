"""The one HTTP transport every node and credential test uses.

``new_http_client()`` builds the httpx client (timeouts, redirects, no cookie jar, URL secrets
redacted from httpx's log) on ``PolicyTransport``: an ``httpx.HTTPTransport`` whose connection pool
dials through ``PinnedNetworkBackend``. That backend resolves the host once, checks every address
against the network policy and connects to the checked address; httpcore then starts TLS with the
URL's host name (SNI and certificate checks unchanged) and sends the URL's ``Host``. Because the check
sits where sockets are opened, every redirect hop, every retry and every new pooled connection is
checked, and a 307/308 to a refused target fails before a byte of its body is sent.

``send`` / ``raise_for_status`` / ``retry_after_seconds`` classify failures the same way for every
node: 429, 5xx, timeouts and resets are retriable (honouring ``Retry-After``), other 4xx are not.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
import typing
import zlib
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from connectflow_dagster.errors import (
    NetworkPolicyError,
    NodeExecutionError,
    NonRetriableNodeError,
    ServiceUnreachable,
)
from connectflow_dagster.runctl import current_deadline
from connectflow_dagster.transport._policy import (
    NetworkPolicy,
    Resolver,
    SystemResolver,
    current_policy,
    pinned_addresses,
)
from connectflow_dagster.transport._redaction import install_url_secret_filter

DEFAULT_TIMEOUT = 30.0
# Largest response body a node reads (as sent, before decompression): a server streaming without
# end, or a huge answer to a token or next-page request, fails the node instead of the worker's memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class _CappedStream(httpx.SyncByteStream):
    """The response body, refused once more than ``limit`` bytes have arrived."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int, host: str) -> None:
        self.inner, self.limit, self.host = inner, limit, host

    decompress: typing.Any = None  # a zlib decompressor: the body is gzip/deflate, counted decoded

    def _too_large(self) -> NonRetriableNodeError:
        return NonRetriableNodeError(
            f"the response from {self.host} is larger than {self.limit} bytes; stopped reading it"
        )

    def _inflate(self, chunk: bytes, seen: int) -> bytes:
        try:
            return bytes(self.decompress.decompress(chunk, self.limit - seen + 1))
        except zlib.error:
            if seen or self.decompress.unused_data or not self.raw_deflate_fallback:
                raise
            # "deflate" without the zlib header (some servers send it raw), as httpx accepts it.
            self.raw_deflate_fallback = False
            self.decompress = zlib.decompressobj(-15)
            return bytes(self.decompress.decompress(chunk, self.limit + 1))

    raw_deflate_fallback = False

    def __iter__(self) -> typing.Iterator[bytes]:
        seen = 0
        for chunk in self.inner:
            if self.decompress is not None:
                try:
                    # At most what is left of the limit (+1 to notice going past it): a small
                    # compressed chunk cannot inflate to gigabytes in memory.
                    chunk = self._inflate(chunk, seen)
                except zlib.error as exc:
                    raise NonRetriableNodeError(f"the response from {self.host} is not valid {exc}") from None
                if self.decompress.unconsumed_tail:
                    raise self._too_large()
            seen += len(chunk)
            if seen > self.limit:
                raise self._too_large()
            yield chunk

    def close(self) -> None:
        self.inner.close()


class PinnedNetworkBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows, and to exactly
    the address it checked (no second DNS lookup between check and connect)."""

    def __init__(
        self,
        resolver: Resolver | None = None,
        policy: Callable[[], NetworkPolicy] = current_policy,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.resolver = resolver or SystemResolver()
        self.policy = policy
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve and check ``host`` once, then connect to the first checked address that answers."""
        try:
            addresses = pinned_addresses(host, port, policy=self.policy(), resolver=self.resolver)
        except NetworkPolicyError:
            raise
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Unix sockets are local by definition: refused."""
        raise NetworkPolicyError("blocked by the network policy: unix sockets are not reachable from nodes")

    def sleep(self, seconds: float) -> None:
        """Delegate (httpcore's connect retries)."""
        self.inner.sleep(seconds)


class PolicyTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` dialling through ``PinnedNetworkBackend``; environment proxies are not
    used (a proxy would make the checked address the proxy's, not the target's)."""

    def __init__(
        self,
        resolver: Resolver | None = None,
        policy: Callable[[], NetworkPolicy] = current_policy,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx does not expose the pool's network backend: rebuild the pool with ours (same
        # settings as httpx's defaults). Pinned by the test suite through tests/security.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend(resolver, policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        capped = _CappedStream(response.stream, MAX_RESPONSE_BYTES, request.url.host)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            # Decoded here (and the header removed, so httpx does not decode again): the limit
            # applies to what the body inflates to, not only to what was sent (a gzip bomb).
            capped.decompress = zlib.decompressobj(wbits=47 if encoding == "deflate" else 31)
            capped.raw_deflate_fallback = encoding == "deflate"
            del response.headers["content-encoding"]
            if "content-length" in response.headers:
                del response.headers["content-length"]
        response.stream = capped
        return response


def new_http_client(
    transport: httpx.BaseTransport | None = None,
    *,
    resolver: Resolver | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> httpx.Client:
    """The httpx client for executors and credential tests: policy-checked and pinned connections,
    redirects followed (each hop checked), no cookie jar shared between runs (cookies are refused, so
    one workflow never sends another's session). ``transport`` replaces the network entirely (tests)."""
    install_url_secret_filter()
    return httpx.Client(
        transport=transport if transport is not None else PolicyTransport(resolver),
        event_hooks={"request": [bound_by_deadline]},
        timeout=timeout,
        follow_redirects=True,
        trust_env=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


def bound_by_deadline(request: httpx.Request) -> None:
    """Cap the request's timeouts at what is left until the run's deadline (``runctl``): a node
    waiting on a slow server returns when the workflow's ``timeout_seconds`` is reached."""
    deadline = current_deadline()
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise NonRetriableNodeError("the workflow's time limit (settings.timeout_seconds) was reached")
    timeouts = dict(request.extensions.get("timeout") or {})
    for phase in ("connect", "read", "write", "pool"):
        value = timeouts.get(phase)
        timeouts[phase] = left if value is None else min(value, left)
    request.extensions["timeout"] = timeouts


def normalize_base_url(value: str | None) -> str | None:
    """An optional API root from a credential: empty → None (the service's default), else an
    http(s) URL without a trailing slash."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or HTTP-date form), if present and sane."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        try:
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


def send(http: httpx.Client, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
    """Send one request through ``http``; transport failures become ``ServiceUnreachable``
    (retriable), a refused destination ``NetworkPolicyError`` (not retriable)."""
    try:
        return http.request(method, url, **kwargs)
    except httpx.InvalidURL as exc:
        raise NonRetriableNodeError(f"{what}: invalid URL: {exc}") from None
    except httpx.TimeoutException as exc:
        raise ServiceUnreachable(f"{what}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise ServiceUnreachable(f"{what}: connection failed: {exc}") from None
