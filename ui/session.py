"""The browser's session with the gateway: how a page talks to the API as the signed-in user.

Pages and the sign-in gate (``ui.app``) both need a ``GatewayClient`` that carries the browser's own
cookies to the gateway app in this process; it lives here, below both, so pages never import the
module that mounts them.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from ui._asgi_transport import StreamingASGITransport
from ui.api_client import GatewayClient

__all__ = ["bind_gateway", "client_for_request", "client_for_session", "gateway_app"]

_state: dict[str, Any] = {"app": None}


def bind_gateway(app: Any) -> None:
    """Remember the gateway ASGI app the pages call (in process); ``ui.app.mount`` calls it."""
    _state["app"] = app


def gateway_app() -> Any:
    """The gateway ASGI app bound by ``bind_gateway`` (None before the UI is mounted)."""
    return _state["app"]


def client_for_session() -> GatewayClient:
    """A gateway client acting as the browser of the current Panel session."""
    headers = pn.state.headers or {}
    host = headers.get("Host") or headers.get("host") or "localhost"
    scheme = headers.get("X-Forwarded-Proto") or headers.get("x-forwarded-proto") or "http"
    return GatewayClient(
        transport=StreamingASGITransport(_state["app"]),
        base_url=f"{scheme}://{host}",
        cookies=dict(pn.state.cookies or {}),
        origin=f"{scheme}://{host}",
    )


def client_for_request(app: Any, scope: dict[str, Any]) -> GatewayClient:
    """A gateway client acting as the browser that sent the ASGI request ``scope`` (before a page exists)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
        if "=" in part:
            name, _, value = part.strip().partition("=")
            cookies[name] = value
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    return GatewayClient(
        transport=StreamingASGITransport(app),
        base_url=f"{scheme}://{host}",
        cookies=cookies,
        origin=f"{scheme}://{host}",
    )
