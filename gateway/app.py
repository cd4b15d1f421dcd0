"""The gateway: one FastAPI app for the editor, notebooks and external callers.

``create_app()`` builds it; ``app`` is the instance ``connectflow serve`` runs. Routers are listed in
``ROUTERS`` (adding a resource is one line there). The Panel UI, when installed, mounts itself with
``mount_ui=True`` (what ``connectflow serve`` does): it registers a ``mount(app)`` function in the
``connectflow.ui`` entry-point group, so the gateway never imports ``ui/`` (the UI sits above the
gateway and talks to it over HTTP).

Start-up checks the credential key (production refuses to start without ``CONNECTFLOW_SECRET_KEY``)
and migrates the app database when it is reachable; an unreachable database does not stop the
gateway, it answers 503 on health and on writes until the database is back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.dispatch.notify import RunWatcher
from connectflow_dagster.registry import NodeRegistry, get_registry
from gateway import errors
from gateway.auth.oauth import OAuthStateMiddleware, build_oauth
from gateway.auth.rate_limit import SignInLimiter
from gateway.deps import TOKEN_SCOPE_EXTRA, required_scope
from gateway.limits import BodySizeLimit
from gateway.responses import SafeJSONResponse
from gateway.routes import (
    api_keys,
    assistant,
    auth,
    credentials,
    dagster_ui,
    events,
    executions,
    health,
    invitations,
    node_types,
    tokens,
    waiting,
    webhooks,
    workflows,
)
from gateway.security_headers import SecurityHeaders
from gateway.settings import GatewaySettings

log = logging.getLogger("gateway")

# The trigger ingest routes come first, built from the triggers' declarations (webhooks.ingest_router):
# routes are matched in order, one by one, and ingest is the hot path (docs/decisions.md, "Ingest hot
# path"). No router below serves a trigger's URL.
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    invitations.router,
    workflows.router,
    credentials.types_router,
    credentials.router,
    executions.router,
    node_types.router,
    webhooks.settings_router,
    waiting.router,  # resume URLs of waiting executions (Wait node)
    api_keys.router,
    tokens.router,
    events.router,
    assistant.router,  # the AI assistant (connectflow_dagster/assistant)
    dagster_ui.router,  # /dagster/: the Dagster UI for administrators (reverse proxy)
]


API_DESCRIPTION = """Workflows, credentials and executions of ConnectFlow on Dagster.

Two ways to authenticate, for every route that needs a user:

* **session** — the editor's sign-in cookie (`POST /api/auth/sign-in/email`). Unsafe requests
  (POST, PUT, PATCH, DELETE) also send `X-CSRF-Token` with the value of the `cf_csrf` cookie.
* **token** — `Authorization: Bearer cf_pat_…`, a personal access token (`POST /api/tokens`, the
  editor's *Tokens* page, or `connectflow login`). No CSRF header. A token acts as its user within its
  scopes: `read` (GET), `write` (create, update, delete), `execute` (execute, retry, cancel); each
  operation names the scope it needs as `x-token-scope`. An expired or revoked token gets 401.
"""


def check_startup() -> None:
    """Refuse to start without a usable credential key; migrate the app database if reachable."""
    from sqlalchemy.exc import OperationalError

    from connectflow_dagster.crypto import get_keyring
    from connectflow_dagster.store.db import get_engine

    get_keyring()  # raises SecretKeyMissing in production without CONNECTFLOW_SECRET_KEY
    try:
        get_engine()
    except OperationalError as exc:
        log.warning("the app database is unreachable at start-up (%s); serving 503 until it is back", exc)


def create_app(*, registry: NodeRegistry | None = None, mount_ui: bool = False) -> FastAPI:
    """A new gateway app. ``registry`` replaces the installed node types (tests); ``mount_ui`` serves
    the installed UI (the Panel editor) from the same process (``ui_mounts()``)."""
    settings = GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(check_startup)
        try:
            yield
        finally:
            app.state.run_watcher.close()
            await dagster_ui.close_upstream(app)

    app = FastAPI(
        title="ConnectFlow API",
        version=_version(),
        description=API_DESCRIPTION,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.gateway_settings = settings
    app.state.registry = registry
    app.state.sign_in_limiter = SignInLimiter(settings.sign_in_attempts, settings.sign_in_window_seconds)
    app.state.sign_up_limiter = SignInLimiter(settings.sign_up_attempts, settings.sign_up_window_seconds)
    app.state.run_watcher = RunWatcher()  # wakes after-run webhooks and live events (dispatch.notify)
    app.state.oauth = build_oauth(settings)
    errors.install(app)
    app.include_router(webhooks.ingest_router(registry or get_registry()))
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(OAuthStateMiddleware, https_only=bool(settings.cookie_secure))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _document_token_scopes(app)
    if mount_ui:
        for mount in ui_mounts():
            mount(app)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, the editor's and the 413's too
    return app


UI_ENTRY_POINT_GROUP = "connectflow.ui"


def ui_mounts() -> list[Callable[[FastAPI], None]]:
    """The installed UIs' ``mount(app)`` functions (``connectflow.ui`` entry points; the editor's is
    ``ui.app:mount``). Empty when no UI is installed: the gateway then serves the API alone."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in entry_points(group=UI_ENTRY_POINT_GROUP)]


def _document_token_scopes(app: FastAPI) -> None:
    """Name, on each operation that needs a user, the token scope it takes (``x-token-scope``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict) and operation.get("security"):
                    scope = required_scope(method, path, declared=operation.get(TOKEN_SCOPE_EXTRA))
                    operation[TOKEN_SCOPE_EXTRA] = scope.value if scope else "none"
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("connectflow-dagster")
    except PackageNotFoundError:
        return "0+unknown"


app = create_app()
