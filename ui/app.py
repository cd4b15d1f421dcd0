"""Serve the Panel pages inside the gateway process: same origin, same sign-in as the API.

``mount(app)`` adds the pages to the gateway's FastAPI app through Panel's FastAPI integration
(``panel.io.fastapi``, bokeh-fastapi). Pages live under ``/ui/``; ``/`` sends the browser to the
workflows list. A small ASGI middleware asks the gateway (``GET`` on its auth session route, in
process) whether the browser is signed in before a page is built, and sends it to the sign-in page
otherwise, so no page is ever rendered for an anonymous visitor.

Each page talks to the gateway through ``GatewayClient`` with the browser's own cookies, over an
in-process transport: every read and write goes through the API's authorisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI
from starlette.responses import JSONResponse, RedirectResponse

from ui import session
from ui.session import BINDING, BOKEH_SECRET_KEY, SESSION_COOKIE, client_for_request, request_cookies

__all__ = ["PAGES", "PUBLIC_PAGES", "mount"]

PUBLIC_PAGES = ("/ui/sign-in", "/ui/sign-up")


def _page_factories() -> dict[str, Callable[[], Any]]:
    from ui.pages import api_keys, assistant, auth, credentials, editor, executions, tokens, workflows

    return {
        "/ui/sign-in": auth.sign_in_page,
        "/ui/sign-up": auth.sign_up_page,
        "/ui/workflows": workflows.page,
        "/ui/editor": editor.page,
        "/ui/executions": executions.page,
        "/ui/credentials": credentials.page,
        "/ui/api-keys": api_keys.page,
        "/ui/tokens": tokens.page,
        "/ui/assistant": assistant.page,
    }


PAGES = (
    "/ui/sign-in",
    "/ui/sign-up",
    "/ui/workflows",
    "/ui/editor",
    "/ui/executions",
    "/ui/credentials",
    "/ui/api-keys",
    "/ui/tokens",
    "/ui/assistant",
)
TITLES = {
    "/ui/sign-in": "Sign in · ConnectFlow",
    "/ui/sign-up": "Sign up · ConnectFlow",
    "/ui/workflows": "Workflows · ConnectFlow",
    "/ui/editor": "Editor · ConnectFlow",
    "/ui/executions": "Executions · ConnectFlow",
    "/ui/credentials": "Credentials · ConnectFlow",
    "/ui/api-keys": "API keys · ConnectFlow",
    "/ui/tokens": "Tokens · ConnectFlow",
    "/ui/assistant": "Assistant · ConnectFlow",
}


def _with_session_id(query: str, session_id: str | None) -> str:
    """``query`` without any ``bokeh_session_id``, plus ``session_id`` when given."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != SESSION_ID_PARAM]
    if session_id is not None:
        pairs.append((SESSION_ID_PARAM, session_id))
    return urlencode(pairs)


def _malformed_session_id(query: str) -> bool:
    """Whether the query names a Bokeh session id that is empty or not printable ASCII."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in ("bokeh-session-id", "bokeh_session_id") and (
            not value or not value.isascii() or not value.isprintable()
        ):
            return True
    return False


class SignInGate:
    """ASGI middleware: UI pages need a signed-in browser; sign-in pages skip for one that is.

    It also binds every editor session to the browser that creates it (``ui.session_binding``): a
    page is served with a session id issued for the browser's ``cf_session`` cookie, and a page
    websocket may open only the sessions issued for the cookie it carries.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "websocket" and path in WEBSOCKETS:
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope.get("method") != "GET" or path not in PAGES:
            await self.app(scope, receive, send)
            return
        if _malformed_session_id(scope.get("query_string", b"").decode("latin-1")):
            # Bokeh raises (a 500) on an empty session id: answer 400 instead (issue 11, finding 6).
            await JSONResponse({"detail": "malformed editor session id"}, status_code=400)(
                scope, receive, send
            )
            return
        client = client_for_request(session.gateway_app() or self.app, scope)
        try:
            user = await client.current_user()
        finally:
            await client.aclose()
        query = _with_session_id(scope.get("query_string", b"").decode("latin-1"), None)
        if user is None and path not in PUBLIC_PAGES:
            target = path + (f"?{query}" if query else "")
            response = RedirectResponse(f"/ui/sign-in?next={quote(target, safe='')}", status_code=303)
            await response(scope, receive, send)
            return
        if user is not None and path in PUBLIC_PAGES:
            await RedirectResponse("/ui/workflows", status_code=303)(scope, receive, send)
            return
        # Bound to the cookie as the browser sends it (also a stale one on the sign-in page: its
        # websocket handshake carries the same); only a signed-in one is handed to the session.
        cookie = request_cookies(scope).get(SESSION_COOKIE)
        requested = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get(SESSION_ID_PARAM)
        session_id = BINDING.session_id_for_page(requested, cookie)
        BINDING.hand_off(session_id, cookie if user is not None else None)
        scope = {**scope, "query_string": _with_session_id(query, session_id).encode("latin-1")}
        await self.app(scope, receive, send)

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Open the page's websocket only for a session issued to the cookie the handshake carries."""
        from bokeh.util.token import get_session_id

        protocols = scope.get("subprotocols") or []
        try:
            session_id = get_session_id(protocols[1]) if len(protocols) == 2 else None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            session_id = None
        if not BINDING.is_bound(session_id, request_cookies(scope).get(SESSION_COOKIE)):
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


WEBSOCKETS = frozenset(f"{path}/ws" for path in PAGES)
SESSION_ID_PARAM = "bokeh_session_id"


def mount(app: FastAPI) -> None:
    """Serve the UI from ``app`` (the gateway): pages under ``/ui/``, ``/`` redirects to them."""
    from panel.io.fastapi import add_applications

    session.bind_gateway(app)
    factories = _page_factories()
    add_applications(
        {path: factories[path] for path in PAGES},
        app=app,
        title=TITLES,
        # Sessions are tied to this process; a per-process key signs their ids and tokens.
        secret_key=BOKEH_SECRET_KEY,
        sign_sessions=True,
        # The Bokeh token is in the page: keep the httpOnly sign-in cookie out of it.
        exclude_cookies=[SESSION_COOKIE],
        exclude_headers=["Cookie"],
    )
    if not any(getattr(r, "path", None) == "/" for r in app.router.routes):

        @app.get("/", include_in_schema=False)
        async def _root() -> RedirectResponse:
            return RedirectResponse("/ui/workflows", status_code=303)

    @app.get("/ui", include_in_schema=False)
    async def _ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/workflows", status_code=303)

    app.add_middleware(SignInGate)
