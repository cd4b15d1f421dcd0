"""``/dagster/``: the Dagster UI, for administrators only, through an authenticated reverse proxy.

dagster-webserver has no sign-in and shows every user's runs, payloads and a GraphQL API that can
launch and delete them (issue 11, finding 1). It listens on a unix socket that only this proxy
connects to (``connectflow_dagster.dagster_ui``); here each request and the GraphQL websocket (the
UI's live subscriptions) are forwarded only for a signed-in administrator (``store.users.is_admin``):

- signed out: a page visit goes to the sign-in page and comes back; anything else is 401;
- signed in but not an administrator: 404, as for another user's object;
- unsafe methods need the gateway's own ``Origin`` (browsers send it with every POST) or the
  ``X-CSRF-Token`` header, and GraphQL over GET with a query is refused (Dagster would run a mutation
  from a link's query string); the session cookie is never forwarded to Dagster.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import posixpath
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.config import get_settings
from connectflow_dagster.dagster_ui import PATH_PREFIX
from connectflow_dagster.store.db import get_engine
from connectflow_dagster.store.models import AuthSession, User
from connectflow_dagster.store.users import is_admin, session_user
from gateway.auth.csrf import CSRF_HEADER, SAFE_METHODS, allowed_origins
from gateway.auth.sessions import SESSION_COOKIE

log = logging.getLogger("gateway.dagster_ui")

router = APIRouter(include_in_schema=False)

# Not forwarded upstream: hop-by-hop headers, our credentials, and what httpx sets itself.
_DROP_REQUEST = frozenset(
    {
        "host",
        "cookie",
        "authorization",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        CSRF_HEADER.lower(),
    }
)
_DROP_RESPONSE = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "trailer", "upgrade", "set-cookie"}
)
_UNAVAILABLE = "the Dagster UI is not running (`connectflow up` starts it)"


def _admin_for_token(token: str | None) -> tuple[User | None, AuthSession | None]:
    """(user, session row) of a ``cf_session`` value, or (None, None)."""
    if not token:
        return None, None
    with Session(get_engine(), expire_on_commit=False) as session:
        found = session_user(session, token)
        session.commit()
        if found is None:
            return None, None
        user, auth_session = found
        session.expunge_all()
        return user, auth_session


def _same_origin(origin: str | None, request_like: Any) -> bool:
    return bool(origin) and origin.rstrip("/") in allowed_origins(request_like)  # type: ignore[union-attr]


def _upstream(request: Request) -> httpx.AsyncClient:
    """One pooled client per app, connected to this home's dagster-webserver socket."""
    client = getattr(request.app.state, "dagster_ui_client", None)
    if client is None:
        transport = httpx.AsyncHTTPTransport(uds=str(get_settings().dagster_socket))
        # Generous reads: some GraphQL queries over many runs take a while; connecting is local.
        timeout = httpx.Timeout(300, connect=10)
        client = httpx.AsyncClient(transport=transport, base_url="http://dagster", timeout=timeout)
        request.app.state.dagster_ui_client = client
    return client


async def close_upstream(app: Any) -> None:
    """Close the proxy's pooled connections (gateway shutdown)."""
    client = getattr(app.state, "dagster_ui_client", None)
    if client is not None:
        await client.aclose()


@router.get(PATH_PREFIX)
async def dagster_root() -> RedirectResponse:
    """``/dagster`` → ``/dagster/``."""
    return RedirectResponse(f"{PATH_PREFIX}/", status_code=307)


@router.api_route(
    PATH_PREFIX + "/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
)
async def dagster_http(path: str, request: Request) -> Response:
    """Forward one request to dagster-webserver, for administrators only."""
    user, auth_session = await run_in_threadpool(_admin_for_token, request.cookies.get(SESSION_COOKIE))
    if user is None or auth_session is None:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/sign-in?next={quote(target, safe='')}", status_code=303)
        raise HTTPException(401, "sign in first")
    if not is_admin(user):
        raise HTTPException(404, "not found")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        token_ok = bool(sent) and hmac.compare_digest(sent.encode(), auth_session.csrf_token.encode())
        if not token_ok and not _same_origin(request.headers.get("origin"), request):
            raise HTTPException(403, f"cross-site request refused (send the {CSRF_HEADER} header)")
    # Dot segments and doubled slashes as the upstream request will have them (httpx removes
    # ``./`` and ``../``): ``/dagster/./graphql?query=mutation…`` is the GraphQL endpoint too.
    upstream_path = posixpath.normpath("/" + path)
    if upstream_path == "/graphql" and request.method == "GET" and request.url.query:
        raise HTTPException(405, "send GraphQL operations with POST")

    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
    upstream = _upstream(request)
    outgoing = upstream.build_request(
        request.method,
        request.url.path,
        params=request.url.query,
        headers=headers,
        content=request.stream() if request.method not in ("GET", "HEAD") else None,
    )
    try:
        answer = await upstream.send(outgoing, stream=True)
    except (httpx.ConnectError, FileNotFoundError):
        raise HTTPException(503, _UNAVAILABLE) from None
    except httpx.HTTPError as exc:
        log.warning("dagster-webserver request failed: %s", exc)
        raise HTTPException(502, "the Dagster UI did not answer") from None
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers={k: v for k, v in answer.headers.items() if k.lower() not in _DROP_RESPONSE},
        background=BackgroundTask(answer.aclose),
    )


@router.websocket(PATH_PREFIX + "/{path:path}")
async def dagster_websocket(path: str, websocket: WebSocket) -> None:
    """Forward a websocket (the UI's GraphQL subscriptions) to dagster-webserver, administrators only."""
    from websockets.asyncio.client import unix_connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    user, _ = await run_in_threadpool(_admin_for_token, websocket.cookies.get(SESSION_COOKIE))
    # A websocket handshake is not subject to CORS: refuse another site's page by its Origin.
    if user is None or not is_admin(user) or not _same_origin(websocket.headers.get("origin"), websocket):
        await websocket.close(code=1008)
        return
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    query = websocket.url.query
    uri = f"ws://dagster{websocket.url.path}" + (f"?{query}" if query else "")
    try:
        upstream = await unix_connect(
            str(get_settings().dagster_socket),
            uri,
            subprotocols=offered or None,  # type: ignore[arg-type]
            max_size=None,
            open_timeout=30,
        )
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        log.warning("dagster-webserver websocket failed: %s", exc)
        await websocket.close(code=1011)
        return
    await websocket.accept(subprotocol=upstream.subprotocol)

    async def browser_to_dagster() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def dagster_to_browser() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in upstream:
                if isinstance(data, str):
                    await websocket.send_text(data)
                else:
                    await websocket.send_bytes(data)

    tasks = [asyncio.create_task(browser_to_dagster()), asyncio.create_task(dagster_to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await upstream.close()
        with contextlib.suppress(Exception):
            await websocket.close()
