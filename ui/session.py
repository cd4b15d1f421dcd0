"""The browser's session with the gateway: how a page talks to the API as the signed-in user.

Pages and the sign-in gate (``ui.app``) both need a ``GatewayClient`` that carries the browser's own
cookies to the gateway app in this process; it lives here, below both, so pages never import the
module that mounts them.
"""

from __future__ import annotations

import secrets
from typing import Any

import panel as pn

from ui._asgi_transport import StreamingASGITransport
from ui.api_client import GatewayClient
from ui.session_binding import SessionBinding

__all__ = [
    "BINDING",
    "BOKEH_SECRET_KEY",
    "SESSION_COOKIE",
    "bind_gateway",
    "client_for_request",
    "client_for_session",
    "gateway_app",
    "request_cookies",
]

_state: dict[str, Any] = {"app": None}

SESSION_COOKIE = "cf_session"  # the gateway's httpOnly sign-in cookie: never put into a page
# One key per process signs the Bokeh sessions of every mount: sessions live in this process only.
BOKEH_SECRET_KEY = secrets.token_bytes(32)
BINDING = SessionBinding(BOKEH_SECRET_KEY)
"""Binds each Bokeh session to the browser that created it (``ui.session_binding``)."""


def bind_gateway(app: Any) -> None:
    """Remember the gateway ASGI app the pages call (in process); ``ui.app.mount`` calls it."""
    _state["app"] = app


def gateway_app() -> Any:
    """The gateway ASGI app bound by ``bind_gateway`` (None before the UI is mounted)."""
    return _state["app"]


def client_for_session() -> GatewayClient:
    """A gateway client acting as the browser of the current Panel session.

    The browser's ``cf_session`` cookie is not in the session's Bokeh token (nor in the page): it is
    the one the gateway kept for this session when the page was requested (``ui.session_binding``).
    """
    headers = pn.state.headers or {}
    host = headers.get("Host") or headers.get("host") or "localhost"
    scheme = headers.get("X-Forwarded-Proto") or headers.get("x-forwarded-proto") or "http"
    cookies = {k: v for k, v in (pn.state.cookies or {}).items() if k != SESSION_COOKIE}
    document = pn.state.curdoc
    context = document.session_context if document is not None else None
    token = BINDING.cookie_for(document, context.id if context is not None else None)
    if token:
        cookies[SESSION_COOKIE] = token
    return GatewayClient(
        transport=StreamingASGITransport(_state["app"]),
        base_url=f"{scheme}://{host}",
        cookies=cookies,
        origin=f"{scheme}://{host}",
    )


def request_cookies(scope: dict[str, Any]) -> dict[str, str]:
    """The cookies of an ASGI request or websocket ``scope``."""
    cookies = {}
    for name, value in scope.get("headers", []):
        if name.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            if "=" in part:
                key, _, val = part.strip().partition("=")
                cookies[key] = val
    return cookies


def client_for_request(app: Any, scope: dict[str, Any]) -> GatewayClient:
    """A gateway client acting as the browser that sent the ASGI request ``scope`` (before a page exists)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    cookies = request_cookies(scope)
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    return GatewayClient(
        transport=StreamingASGITransport(app),
        base_url=f"{scheme}://{host}",
        cookies=cookies,
        origin=f"{scheme}://{host}",
    )
