"""Trigger ingest over HTTP, generic over the triggers' declarations, and the triggers' secrets.

No trigger type is named here. Each trigger ``NodeType`` declares its ``ingress``
(``connectflow_dagster/nodes/ingress.py``): URL, secret kind and verification, body format, context,
events to ignore, dedup key, whether to answer after the run. ``ingest_router(registry)`` adds one
route per declared URL, and one handler serves them all, in this order::

    find the live trigger (404) → read the body (413) → JSON-only bodies: content type (415)
    → secret / signature / API key (401) → parse the body (400, 415) → the trigger's context (400)
    → ignored event? (200 "ignored") → dedup key → inbox insert + commit → 202 (200 for a redelivery)
    → ``after_run``: wait for the run's result

Every ingest route answers only after the event is committed to the trigger inbox (``202`` with the
execution id; ``200`` with the original id for a redelivery, which starts nothing). Rejections store
and run nothing: unknown/deleted/inactive workflow 404, body over the limit 413, wrong content type
415, missing or bad signature/secret/key 401, malformed body 400.

The handlers are ``async`` and do their (short) database work inline: measured in
``bench/ingest.py``, handing each accept to the thread pool cost more than the write itself
(docs/decisions.md, "Trigger ingest").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from connectflow_dagster.config import get_settings
from connectflow_dagster.dispatch.ingest import TriggerTarget, accept, find_trigger, resolve
from connectflow_dagster.errors import NodeTypeError
from connectflow_dagster.nodes.base import NodeType
from connectflow_dagster.nodes.ingress import SECRET_HEADER, AfterRun, IncomingEvent, Ingress
from connectflow_dagster.registry import NodeRegistry
from connectflow_dagster.store import keys
from connectflow_dagster.store.db import get_engine, session_scope
from gateway.deps import CurrentUser, RegistryDep, SessionDep
from gateway.limits import JSONRefused, parse_untrusted_json

settings_router = APIRouter(tags=["triggers"])  # trigger URLs and secrets, for the workflow's owner

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# ---- shared by the ingest routes -----------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The raw body, refusing (413) anything over the configured limit before reading it all."""
    limit = get_settings().max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPException(413, f"body is larger than {limit} bytes")
        except ValueError:
            raise HTTPException(400, "invalid Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    kind = media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise HTTPException(415, "send the body as application/json")


def parse_json(body: bytes) -> Any:
    """An untrusted JSON body, or 400: malformed, NaN/Infinity, nested deeper than
    ``gateway.limits.MAX_JSON_DEPTH``, or holding a lone surrogate."""
    try:
        return parse_untrusted_json(body)
    except JSONRefused as exc:
        raise HTTPException(400, str(exc)) from None


# Headers ingest reads, and how long they may be (uvicorn's own limit is far larger).
MAX_HEADER_CHARS = {
    "idempotency-key": 200,
    "stripe-signature": 4096,
    SECRET_HEADER: 1024,
    "authorization": 4096,
}


def check_headers(request: Request) -> None:
    """400 for an over-long header that ingest reads, or a blank ``Idempotency-Key``."""
    for name, limit in MAX_HEADER_CHARS.items():
        value = request.headers.get(name)
        if value is not None and len(value) > limit:
            raise HTTPException(400, f"the {name} header is longer than {limit} characters")
    key = request.headers.get("idempotency-key")
    if key is not None and not key.strip():
        raise HTTPException(400, "Idempotency-Key must be 1–200 characters")


def bearer_or_header(request: Request) -> str | None:
    """A presented shared secret: ``Authorization: Bearer …`` or the ``X-ConnectFlow-Secret`` header."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get(SECRET_HEADER)


def accepted_response(execution_id: str, created: bool) -> JSONResponse:
    body = {"execution_id": execution_id, "status": "accepted" if created else "duplicate"}
    return JSONResponse(body, status_code=202 if created else 200)


def _target(
    workflow_id: str,
    trigger_type: str,
    path: str | None = None,
    path_param: str = "path",
    *,
    test: bool = False,
    method: str | None = None,
) -> tuple[TriggerTarget, keys.StoredSecret | None]:
    """The trigger and its secret (or None): one Core query, the connection returned at once (it is
    never held across an ``await``). ``test``: the test URL, live only while its editor listens
    (also for an inactive workflow)."""
    with get_engine().connect() as connection:
        found = resolve(
            connection,
            workflow_id,
            trigger_type,
            path=path,
            path_param=path_param,
            require_active=not test,
            method=method,
        )
        if found is not None and test and not _listening(connection, workflow_id):
            found = None
    if found is None:
        if test:
            raise HTTPException(404, f"workflow '{workflow_id}' is not listening for a test event")
        raise HTTPException(404, f"no active {trigger_type} trigger for workflow '{workflow_id}'")
    return found


def _listening(connection: Any, workflow_id: str) -> bool:
    from sqlalchemy import select

    from connectflow_dagster.store.listening import is_listening
    from connectflow_dagster.store.models import Workflow

    row = connection.execute(select(Workflow.listening_until).where(Workflow.id == workflow_id)).first()
    return row is not None and is_listening(Workflow(listening_until=row[0]))


def _take_listening(workflow_id: str) -> str:
    """A test URL call: end listening for this call (one wins), returning its execution id."""
    import uuid

    from connectflow_dagster.store.listening import take

    execution_id = str(uuid.uuid4())
    with get_engine().connect() as connection:
        if not take(connection, workflow_id, execution_id):
            raise HTTPException(404, f"workflow '{workflow_id}' is not listening for a test event")
    return execution_id


def _check_shared_secret(row: keys.StoredSecret | None, request: Request, *, required: bool) -> None:
    if row is None:
        if required:
            raise HTTPException(401, "this trigger has no secret yet: generate one in the trigger's settings")
        return
    presented = bearer_or_header(request)
    if not presented or not keys.shared_secret_matches(row, presented):
        raise HTTPException(401, "missing or wrong trigger secret")


def _accept(
    target: TriggerTarget, payload: Any, dedup_key: str | None, event_id: str | None = None
) -> tuple[str, bool]:
    """Insert the event and commit (Core); the caller answers 2xx only after this returns."""
    with get_engine().connect() as connection:
        accepted = accept(connection, target, payload, dedup_key=dedup_key, event_id=event_id)
    return accepted.execution_id, accepted.created


# ---- body formats (Ingress.body) -----------------------------------------------------------------------


async def parse_json_or_form(request: Request, body: bytes) -> Any:
    """``json_or_form``: JSON, a urlencoded or multipart form, or nothing (``{}``); else 415."""
    kind = media_type(request)
    if not body and not kind:
        return {}
    if kind == "application/json" or kind.endswith("+json"):
        return parse_json(body)
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"malformed form body: {exc}") from None
    if kind == "multipart/form-data":
        # The body was already read (and size-checked) from the stream: parse that copy, since a
        # second read of the stream fails with "Stream consumed".
        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            async with Request(request.scope, replay).form() as form:
                return {k: v for k, v in form.items() if isinstance(v, str)}
        except Exception as exc:
            raise HTTPException(400, f"malformed multipart body: {exc}") from None
    raise HTTPException(415, "send JSON (application/json) or a form body")


async def parse_body(fmt: str, request: Request, body: bytes) -> Any:
    """The body parsed as the trigger's declared format (``Ingress.body``)."""
    if fmt == "json_or_form":
        return await parse_json_or_form(request, body)
    return parse_json(body)


# ---- the generic ingest route ---------------------------------------------------------------------------


def _finished(instance: Any, execution_id: str) -> bool:
    """Its run finished, or its event was canceled or given up before a run was made."""
    from connectflow_dagster.dispatch import inbox
    from connectflow_dagster.store.db import session_scope

    run = instance.get_run_by_id(execution_id)
    if run is not None:
        return bool(run.is_finished)
    with session_scope() as session:
        event = inbox.get_event(session, execution_id)
        return event is not None and event.status in (inbox.CANCELED, inbox.FAILED)


async def _wait_for_result(request: Request, execution_id: str, params: AfterRun) -> Response | None:
    """The run's result once it finished, or None when it takes longer than the timeout.

    Woken by the worker's ``RUN_END`` notification (``dispatch.notify``), not by polling run storage;
    the safety poll re-reads in case a notification was lost."""
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dispatch.notify import RUN_END
    from connectflow_dagster.execution import get_execution
    from connectflow_dagster.instance import get_instance

    instance = get_instance()
    terminal = {"success", "failed", "canceled"}
    deadline = time.monotonic() + params.timeout_seconds
    safety = get_settings().safety_poll_seconds
    watcher = request.app.state.run_watcher
    subscription = watcher.subscribe(execution_id, (RUN_END,))  # before the first read: no missed end
    try:
        while True:
            if await asyncio.to_thread(_finished, instance, execution_id):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await subscription.wait_async(min(left, safety))
    finally:
        watcher.unsubscribe(subscription)
    execution = await asyncio.to_thread(get_execution, instance, execution_id)
    if execution.status not in terminal:
        return None
    if execution.status != "success":
        # The caller is anonymous (or holds only the trigger's secret): no node errors, URLs or stack
        # traces; the workflow's owner sees them on the execution's page.
        return JSONResponse(
            {
                "execution_id": execution_id,
                "status": execution.status,
                "error": "the workflow did not finish successfully; its owner can see why on the execution's page",
            },
            status_code=500,
        )
    context = execution.context or {}
    if params.node_id:
        node = next((n for n in execution.nodes if n.node_id == params.node_id), None)
        data = node.output if node is not None else None
    else:
        data = context
    return JSONResponse({"execution_id": execution_id, "status": "success", "data": data}, status_code=200)


def _answer_or_end(instance: Any, execution_id: str) -> tuple[Any, bool]:
    """(the Respond node's answer or None, whether the execution ended without one)."""
    from connectflow_dagster import responses, waits

    with session_scope() as session:
        answer = responses.get(session, execution_id)
        if answer is not None:
            return answer, False
        if not _finished(instance, execution_id):
            return None, False
        # A run that ended at a Wait is not over: a continuation may still respond.
        waiting = any(w.status == waits.WAITING for w in waits.of_executions(session, [execution_id]))
        answer = responses.get(session, execution_id)  # written just before the run ended
    return answer, answer is None and not waiting


# What a workflow answers (Respond to Webhook) is served from the editor's origin: any user can
# make it HTML. It is sandboxed — an opaque origin, no scripts, plugins, forms or frames — so it can
# neither read the visitor's ``cf_csrf`` cookie nor call the API as them, and it sets no cookies (a
# ``Set-Cookie`` for ``cf_session`` would sign the visitor into another account).
WORKFLOW_RESPONSE_CSP = (
    "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
)
_WORKFLOW_HEADERS_DROPPED = frozenset(
    {"set-cookie", "content-security-policy", "content-security-policy-report-only"}
)


def workflow_response_headers(headers: dict[str, str]) -> dict[str, str]:
    """A workflow's response headers as sent: no cookies, and the gateway's sandboxing CSP."""
    kept = {k: v for k, v in headers.items() if k.lower() not in _WORKFLOW_HEADERS_DROPPED}
    return {**kept, "Content-Security-Policy": WORKFLOW_RESPONSE_CSP}


async def _wait_for_answer(request: Request, execution_id: str, params: AfterRun) -> Response | None:
    """``response_mode='respond_node'``: the first Respond to Webhook node's answer as soon as it is
    recorded (woken by ``RUN_PROGRESS``), 500 when the run ends without one, None (→ 202) on timeout."""
    from connectflow_dagster.dispatch.notify import RUN_END, RUN_PROGRESS
    from connectflow_dagster.instance import get_instance

    instance = get_instance()
    deadline = time.monotonic() + params.timeout_seconds
    safety = get_settings().safety_poll_seconds
    watcher = request.app.state.run_watcher
    subscription = watcher.subscribe(execution_id, (RUN_PROGRESS, RUN_END))
    try:
        while True:
            answer, ended = await asyncio.to_thread(_answer_or_end, instance, execution_id)
            if answer is not None:
                return Response(
                    content=answer.body.encode(),
                    status_code=answer.status_code,
                    headers=workflow_response_headers(answer.headers),
                )
            if ended:
                return JSONResponse(
                    {
                        "execution_id": execution_id,
                        "error": "the workflow ended without reaching a Respond to Webhook node",
                    },
                    status_code=500,
                )
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await subscription.wait_async(min(left, safety))
    finally:
        watcher.unsubscribe(subscription)


def _authenticate(
    ingress: Ingress, row: keys.StoredSecret | None, request: Request, event_body: bytes
) -> None:
    """Check the presented secret or signature as the trigger declares (401 when it does not match)."""
    if ingress.auth == "shared":
        _check_shared_secret(row, request, required=ingress.auth_required)
    elif ingress.auth == "signing":
        if row is None:
            if ingress.auth_required:
                raise HTTPException(
                    401, "this trigger has no signing secret yet: set it in the trigger's settings"
                )
            return
        secret = keys.signing_secret(row)
        event = IncomingEvent(None, event_body, _headers(request), {}, request.method)
        if secret is None or ingress.verify is None or not ingress.verify(secret, event):
            raise HTTPException(401, ingress.rejection)


def _authenticate_caller(ingress: Ingress, target: TriggerTarget, request: Request) -> frozenset[str]:
    """A trigger with ``credential_auth``: the caller must present the node's stored credential
    (``authentication`` basic or header; constant-time comparison). Missing: 401; wrong: 403.
    Returns the header names that carried it (kept out of the run's context)."""
    import base64
    import hmac

    from connectflow_dagster.errors import CredentialError
    from connectflow_dagster.store.credentials import decrypt_for_owner

    kind = getattr(target.params, "authentication", "none") if ingress.credential_auth else "none"
    if kind not in ("basic", "header"):
        return frozenset()
    expected_type = "http_basic_auth" if kind == "basic" else "http_header_auth"
    try:
        if not target.node.credential_id:
            raise CredentialError("no credential chosen")
        fields = decrypt_for_owner(target.owner_id, target.node.credential_id, expected_type)
    except CredentialError:
        raise HTTPException(
            500, "this trigger's authentication credential is missing: its owner must fix it"
        ) from None
    if kind == "basic":
        presented = request.headers.get("authorization", "")
        if presented[:6].lower() != "basic ":
            raise HTTPException(
                401, "send HTTP basic auth", headers={"WWW-Authenticate": 'Basic realm="webhook"'}
            )
        try:
            decoded = base64.b64decode(presented[6:].strip(), validate=True)
        except ValueError:
            decoded = b""
        expected = f"{fields.get('username', '')}:{fields.get('password', '')}".encode()
        if not hmac.compare_digest(decoded, expected):
            raise HTTPException(403, "wrong credentials")
        return frozenset({"authorization"})
    name = str(fields.get("name", "")).lower()
    value = request.headers.get(name)
    if value is None:
        raise HTTPException(401, f"send the {fields.get('name', '')} header")
    if not hmac.compare_digest(value.encode(), str(fields.get("value", "")).encode()):
        raise HTTPException(403, "wrong credentials")
    return frozenset({name})


def _headers(request: Request, hidden: frozenset[str] = frozenset()) -> dict[str, str]:
    # Starlette's header names are lower-case
    return {k: v for k, v in request.headers.items() if k not in hidden}


async def _event(
    ingress: Ingress, request: Request, body: bytes, path: str, *, hidden: frozenset[str] = frozenset()
) -> IncomingEvent:
    parsed = await parse_body(ingress.body, request, body)
    return IncomingEvent(
        body=parsed,
        raw_body=body,
        headers=_headers(request, hidden),
        query=dict(request.query_params),
        method=request.method,
        path=path,
    )


async def ingest(
    node_type: NodeType, workflow_id: str, path: str, request: Request, *, test: bool = False
) -> Response:
    """Receive one call of a trigger that a workflow id in the URL names (module docstring's order).

    ``test``: its test URL (``/api/webhook-test/…``): only while the editor listens, one call, on
    the current version even of an inactive workflow (``store/listening.py``)."""
    ingress = node_type.ingress
    assert ingress is not None
    target, row = _target(
        workflow_id,
        node_type.type,
        path=path if ingress.subpath_param else None,
        path_param=ingress.subpath_param or "path",
        test=test,
        method=request.method,
    )
    check_headers(request)
    body = await read_body(request)
    if ingress.body == "json":
        require_json(request)
    _authenticate(ingress, row, request, body)
    hidden = await asyncio.to_thread(_authenticate_caller, ingress, target, request)
    event = await _event(ingress, request, body, path, hidden=hidden)
    context = ingress.context(event, target.params)  # TriggerEventInvalid: 400 (gateway/errors.py)
    if ingress.ignore is not None:
        ignored = ingress.ignore(target.params, context)
        if ignored is not None:
            return JSONResponse({"status": "ignored", **ignored}, status_code=200)
    if test:  # one test event per listening; redelivery keys do not apply
        execution_id, created = _accept(target, context, None, event_id=_take_listening(workflow_id))
    else:
        execution_id, created = _accept(target, context, ingress.dedup_key(event, context))
    after = ingress.after_run(target.params) if ingress.after_run is not None else None
    if after is not None and after.mode == "respond_node":
        answer = await _wait_for_answer(request, execution_id, after)
        if answer is not None:
            return answer
    elif after is not None:
        result = await _wait_for_result(request, execution_id, after)
        if result is not None:
            return result
    return accepted_response(execution_id, created)


async def ingest_with_api_key(node_type: NodeType, request: Request) -> Response:
    """Receive one call of a trigger whose API key names the workflow (``secret='api_key'``)."""
    ingress = node_type.ingress
    assert ingress is not None
    check_headers(request)
    auth = request.headers.get("authorization", "")
    presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not presented:
        raise HTTPException(
            401, "send Authorization: Bearer <API key>", headers={"WWW-Authenticate": "Bearer"}
        )
    body = await read_body(request)
    if ingress.body == "json":
        require_json(request)
    with session_scope() as session:
        key = keys.verify_api_key(session, presented)
        if key is None:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        target = find_trigger(session, key.workflow_id, node_type.type, owner_id=key.owner_id)
        if target is None:
            raise HTTPException(404, f"workflow '{key.workflow_id}' has no active {node_type.type} trigger")
        event = await _event(ingress, request, body, "")
        context = ingress.context(event, target.params)
        dedup_key = ingress.dedup_key(event, context)
        key.last_used_at = dt.datetime.now(dt.UTC)
        accepted = accept(session, target, context, dedup_key=dedup_key)
    return accepted_response(accepted.execution_id, accepted.created)


def _endpoints(
    node_type: NodeType, *, test: bool = False
) -> list[tuple[str, Callable[..., Awaitable[Response]], bool]]:
    """(path, endpoint, in the OpenAPI schema) for one declared trigger URL (``test``: its test URL)."""
    ingress = node_type.ingress
    assert ingress is not None
    if ingress.auth == "api_key":
        if test:
            return []

        async def keyed(request: Request) -> Response:
            return await ingest_with_api_key(node_type, request)

        return [(ingress.url, keyed, True)]
    url = ingress.test_url if test else ingress.url
    if url is None:
        return []

    async def by_workflow(workflow_id: str, request: Request) -> Response:
        return await ingest(node_type, workflow_id, "", request, test=test)

    if not ingress.subpath_param:
        return [(url, by_workflow, True)]

    async def by_workflow_and_path(workflow_id: str, subpath: str, request: Request) -> Response:
        return await ingest(node_type, workflow_id, subpath, request, test=test)

    return [(url + "/{subpath:path}", by_workflow_and_path, True), (url, by_workflow, False)]


def _literal_segments(url: str) -> int:
    return sum(1 for part in url.strip("/").split("/") if not part.startswith("{"))


def ingest_router(registry: NodeRegistry) -> APIRouter:
    """The ingest routes of every trigger in ``registry`` that declares a served URL.

    Routes match in order: a URL with more literal segments comes first and a trailing sub-path
    (catch-all) last, so ``/api/webhooks/stripe/{id}`` is never taken for a webhook with the id
    ``stripe``. Two trigger types declaring the same URL stop start-up (like two types of one name).
    """
    declared: dict[str, str] = {}
    routes: list[tuple[tuple[int, int], str, NodeType]] = []
    for node_type in registry.all():
        ingress = node_type.ingress
        if not node_type.is_trigger or ingress is None or not ingress.served:
            continue
        if ingress.url in declared:
            raise NodeTypeError(
                f"trigger types '{declared[ingress.url]}' and '{node_type.type}' both declare {ingress.url}"
            )
        declared[ingress.url] = node_type.type
        order = (1 if ingress.subpath_param else 0, -_literal_segments(ingress.url))
        routes.append((order, ingress.url, node_type))
    router = APIRouter(tags=["triggers"])
    for test in (False, True):  # production URLs first, then the test URLs (another prefix)
        for _, _, node_type in sorted(routes, key=lambda r: (r[0], r[1])):
            assert node_type.ingress is not None
            for path, endpoint, in_schema in _endpoints(node_type, test=test):
                kind = "test_" if test else ""
                router.add_api_route(
                    path,
                    endpoint,
                    methods=list(node_type.ingress.methods),
                    status_code=202,
                    summary=f"Receive a {node_type.display_name} {'test ' if test else ''}call",
                    description=node_type.description,
                    include_in_schema=in_schema,
                    operation_id=f"ingest_{kind}{node_type.type.replace('.', '_')}"
                    + ("" if in_schema else "_root"),
                )
    return router


# ---- trigger settings: URLs and secrets (owner only) -------------------------------------------------

SECRET_KINDS = ("shared", "signing")  # per-trigger secrets kept in cf_trigger_secrets


class TriggerSecretSet(BaseModel):
    secret: str = Field(min_length=8, max_length=500, description="Stripe: the endpoint's whsec_… secret.")


class TriggerInfo(BaseModel):
    workflow_id: str
    node_id: str
    type: str
    url: str | None
    secret_configured: bool
    secret: str | None = Field(default=None, description="Only in the answer that generated it.")
    apps_script: str | None = Field(default=None, description="Google Form: the script to paste.")


def _owned_trigger(
    session: Any, registry: NodeRegistry, user_id: str, workflow_id: str, node_id: str
) -> tuple[TriggerTarget, Ingress]:
    from connectflow_dagster.dispatch.ingest import live_version
    from connectflow_dagster.store.workflows import version_spec

    live = live_version(session, workflow_id)
    if live is None or live[0].owner_id != user_id:
        raise HTTPException(404, f"workflow '{workflow_id}' not found")
    wf, version = live
    workflow = version_spec(version)
    try:
        node = workflow.node(node_id)
    except KeyError:
        raise HTTPException(404, f"node '{node_id}' not found in workflow '{workflow_id}'") from None
    try:
        ingress = registry.get(node.type, node.type_version).ingress
    except KeyError:
        ingress = None
    if ingress is None or ingress.auth not in SECRET_KINDS:
        raise HTTPException(404, f"node '{node_id}' is not a trigger with its own secret")
    target = TriggerTarget(wf.id, wf.owner_id, version.id, workflow, node, None)  # type: ignore[arg-type]
    return target, ingress


def trigger_url(request: Request, target: TriggerTarget, ingress: Ingress) -> str:
    """The URL callers use: the declared URL under ``CONNECTFLOW_PUBLIC_URL`` (or this request's base)."""
    from connectflow_dagster.config import get_settings

    base = get_settings().public_url or str(request.base_url)
    return ingress.url_for(base, target.workflow_id, target.node.params)


def _info(
    request: Request, target: TriggerTarget, ingress: Ingress, configured: bool, secret: str | None = None
) -> TriggerInfo:
    url = trigger_url(request, target, ingress)
    script = None
    if ingress.panel.script is not None:
        script = ingress.panel.script(url, secret or "PASTE-THE-SECRET-SHOWN-WHEN-YOU-GENERATED-IT")
    return TriggerInfo(
        workflow_id=target.workflow_id,
        node_id=target.node.id,
        type=target.node.type,
        url=url,
        secret_configured=configured,
        secret=secret,
        apps_script=script,
    )


@settings_router.get("/api/workflows/{workflow_id}/triggers/{node_id}", response_model=TriggerInfo)
def get_trigger(
    workflow_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    registry: RegistryDep,
) -> TriggerInfo:
    """The trigger's URL, whether its secret is set and (forms) the Apps Script to paste."""
    target, ingress = _owned_trigger(session, registry, user.id, workflow_id, node_id)
    configured = keys.get_trigger_secret(session, workflow_id, node_id) is not None
    return _info(request, target, ingress, configured)


@settings_router.post(
    "/api/workflows/{workflow_id}/triggers/{node_id}/secret", response_model=TriggerInfo, status_code=201
)
def generate_trigger_secret(
    workflow_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    registry: RegistryDep,
) -> TriggerInfo:
    """Generate a new shared secret (webhook, Google Form); shown in this answer only."""
    target, ingress = _owned_trigger(session, registry, user.id, workflow_id, node_id)
    if ingress.auth != "shared":
        raise HTTPException(422, "this trigger uses the signing secret its sender shows you: PUT it")
    secret = keys.generate_shared_secret(session, workflow_id, node_id)
    session.commit()
    return _info(request, target, ingress, True, secret)


@settings_router.put("/api/workflows/{workflow_id}/triggers/{node_id}/secret", response_model=TriggerInfo)
def set_trigger_secret(
    workflow_id: str,
    node_id: str,
    body: TriggerSecretSet,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    registry: RegistryDep,
) -> TriggerInfo:
    """Set the secret: Stripe's endpoint signing secret (stored encrypted) or your own shared secret."""
    target, ingress = _owned_trigger(session, registry, user.id, workflow_id, node_id)
    if ingress.auth == "signing":
        keys.set_signing_secret(session, workflow_id, node_id, body.secret)
    else:
        keys.set_shared_secret(session, workflow_id, node_id, body.secret)
    session.commit()
    return _info(request, target, ingress, True)


@settings_router.delete("/api/workflows/{workflow_id}/triggers/{node_id}/secret", status_code=204)
def delete_trigger_secret(
    workflow_id: str, node_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> Response:
    """Remove the trigger's secret (a webhook is then open to anyone with its URL)."""
    _owned_trigger(session, registry, user.id, workflow_id, node_id)
    keys.delete_trigger_secret(session, workflow_id, node_id)
    session.commit()
    return Response(status_code=204)
