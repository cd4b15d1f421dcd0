"""Security headers on every gateway response (issue 11, finding 8).

The Content-Security-Policy fits the Panel/Bokeh editor, which is served from this origin: its
pages use inline scripts and styles, Bokeh compiles some code at run time and Panel loads its
components' modules from ``blob:`` URLs, which its module shim fetches (``'unsafe-inline'``, ``blob:``,
``'unsafe-eval'``), talk to the gateway over HTTP and a same-origin websocket, and draw images from
``data:``/``blob:`` URLs. What the policy still stops: loading scripts, styles, frames or forms from
anywhere else, and any other site framing a ConnectFlow page (``frame-ancestors 'none'``, plus
``X-Frame-Options: DENY`` for older browsers). The API docs page (Swagger UI, which FastAPI loads
from jsDelivr) is the one page allowed that CDN; the Dagster UI under ``/dagster/`` keeps its own CSP.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BASE = {
    "default-src": "'self'",
    "script-src": "'self' 'unsafe-inline' 'unsafe-eval' blob:",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self' blob: data:",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_DOCS_CDN = "https://cdn.jsdelivr.net"


def _policy(overrides: dict[str, str]) -> bytes:
    merged = {**_BASE, **overrides}
    return "; ".join(f"{k} {v}" for k, v in merged.items()).encode()


CONTENT_SECURITY_POLICY = _policy({})
DOCS_CONTENT_SECURITY_POLICY = _policy(
    {
        "script-src": f"'self' 'unsafe-inline' {_DOCS_CDN}",
        "style-src": f"'self' 'unsafe-inline' {_DOCS_CDN}",
        "img-src": "'self' data: https://fastapi.tiangolo.com",
    }
)
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP response (and nothing else)."""

    def __init__(self, app: ASGIApp, docs_path: str = "/api/docs") -> None:
        self.app, self.docs_path = app, docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        # The Dagster UI (admin-only proxy) sets its own nonce-based CSP and frames nothing of ours.
        dagster = path == "/dagster" or path.startswith("/dagster/")
        csp = DOCS_CONTENT_SECURITY_POLICY if path == self.docs_path else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k, v)
                    for k, v in _COMMON
                    if k not in present and not (dagster and k == b"x-frame-options")
                ]
                if b"content-security-policy" not in present and not dagster:
                    extra.append((b"content-security-policy", csp))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
