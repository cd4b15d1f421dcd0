"""Trigger ingest over HTTP: Stripe, Google Form and generic webhooks, and the triggers' secrets.

Every ingest route answers only after the event is committed to the trigger inbox (``202`` with the
execution id; ``200`` with the original id for a redelivery, which starts nothing). Rejections store
and run nothing: unknown/deleted/inactive workflow 404, body over the limit 413, wrong content type
415, missing or bad signature/secret 401, malformed body 400.

The handlers are ``async`` and do their (short) database work inline: measured in
``bench/ingest.py``, handing each accept to the thread pool cost more than the write itself
(docs/decisions.md, "Trigger ingest").
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from connectflow_dagster.dispatch import keys
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.dispatch.ingest import TriggerTarget, accept, resolve
from connectflow_dagster.nodes.triggers import google_form, stripe, webhook
from connectflow_dagster.store.db import get_engine
from gateway.deps import CurrentUser, SessionDep
from gateway.limits import JSONRefused, parse_untrusted_json

router = APIRouter(tags=["triggers"])  # the ingest routes: gateway.app.ROUTERS matches them first
settings_router = APIRouter(tags=["triggers"])  # trigger URLs and secrets, for the workflow's owner

SECRET_HEADER = "x-connectflow-secret"  # noqa: S105 — a header name, not a secret
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# ---- shared by the ingest routes -----------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The raw body, refusing (413) anything over the configured limit before reading it all."""
    limit = get_dispatch_settings().max_body_bytes
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


MAX_HEADER_CHARS = {
    "idempotency-key": 200,
    "stripe-signature": 4096,
    SECRET_HEADER: 1024,
    "authorization": 4096,
}


def bounded_header(request: Request, name: str) -> str | None:
    """A header ConnectFlow reads, refused (400) when longer than ``MAX_HEADER_CHARS`` allows."""
    value = request.headers.get(name)
    if value is not None and len(value) > MAX_HEADER_CHARS[name]:
        raise HTTPException(400, f"the {name} header is longer than {MAX_HEADER_CHARS[name]} characters")
    return value


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header: 1–200 characters, or 400."""
    value = bounded_header(request, "idempotency-key")
    if value is not None and not value.strip():
        raise HTTPException(400, "Idempotency-Key must be 1–200 characters")
    return value


def bearer_or_header(request: Request) -> str | None:
    """A presented shared secret: ``Authorization: Bearer …`` or the ``X-ConnectFlow-Secret`` header."""
    auth = bounded_header(request, "authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return bounded_header(request, SECRET_HEADER)


def accepted_response(execution_id: str, created: bool) -> JSONResponse:
    body = {"execution_id": execution_id, "status": "accepted" if created else "duplicate"}
    return JSONResponse(body, status_code=202 if created else 200)


def _target(
    workflow_id: str, trigger_type: str, path: str | None = None
) -> tuple[TriggerTarget, keys.StoredSecret | None]:
    """The trigger and its secret (or None): one Core query, the connection returned at once (it is
    never held across an ``await``)."""
    with get_engine().connect() as connection:
        found = resolve(connection, workflow_id, trigger_type, path=path)
    if found is None:
        raise HTTPException(404, f"no active {trigger_type} trigger for workflow '{workflow_id}'")
    return found


def _check_shared_secret(row: keys.StoredSecret | None, request: Request, *, required: bool) -> None:
    if row is None:
        if required:
            raise HTTPException(401, "this trigger has no secret yet: generate one in the trigger's settings")
        return
    presented = bearer_or_header(request)
    if not presented or not keys.shared_secret_matches(row, presented):
        raise HTTPException(401, "missing or wrong trigger secret")


def _accept(target: TriggerTarget, payload: Any, dedup_key: str | None) -> tuple[str, bool]:
    """Insert the event and commit (Core); the caller answers 2xx only after this returns."""
    with get_engine().connect() as connection:
        accepted = accept(connection, target, payload, dedup_key=dedup_key)
    return accepted.execution_id, accepted.created


# ---- Stripe ------------------------------------------------------------------------------------------


@router.post("/api/webhooks/stripe/{workflow_id}", status_code=202, summary="Receive a Stripe event")
async def stripe_webhook(workflow_id: str, request: Request) -> Response:
    target, row = _target(workflow_id, "trigger.stripe")
    body = await read_body(request)
    require_json(request)
    secret = keys.signing_secret(row) if row is not None else None
    if secret is None:  # unsigned events would be forgeable by anyone who knows the URL
        raise HTTPException(
            401, "this Stripe trigger has no signing secret yet: set it in the trigger's settings first"
        )
    signature = bounded_header(request, "stripe-signature")
    if not stripe.verify_signature(secret, body, signature):
        raise HTTPException(401, "invalid Stripe-Signature")
    try:
        context = stripe.event_context(parse_json(body))
    except stripe.StripeEventInvalid as exc:
        raise HTTPException(400, str(exc)) from None
    if not stripe.wanted(target.params, context["event_type"]):  # type: ignore[arg-type]
        return JSONResponse({"status": "ignored", "event_type": context["event_type"]}, status_code=200)
    return accepted_response(*_accept(target, context, f"stripe:{context['event_id']}"))


# ---- Google Form -------------------------------------------------------------------------------------


@router.post("/api/webhooks/google-form/{workflow_id}", status_code=202, summary="Receive a form response")
async def google_form_webhook(workflow_id: str, request: Request) -> Response:
    target, row = _target(workflow_id, "trigger.google_form")
    body = await read_body(request)
    require_json(request)
    _check_shared_secret(row, request, required=True)
    try:
        context = google_form.event_context(parse_json(body))
    except google_form.FormResponseInvalid as exc:
        raise HTTPException(400, str(exc)) from None
    wanted_form = target.params.form_id  # type: ignore[attr-defined]
    if wanted_form and context["form_id"] != wanted_form:
        raise HTTPException(400, f"responses of form '{context['form_id']}' are not accepted here")
    return accepted_response(*_accept(target, context, f"form:{context['response_id']}"))


# ---- generic webhook ---------------------------------------------------------------------------------


async def _parse_webhook_body(request: Request, body: bytes) -> Any:
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


async def _wait_for_result(
    request: Request, execution_id: str, params: webhook.WebhookParams
) -> Response | None:
    """The run's result once it finished, or None when it takes longer than the timeout.

    Woken by the worker's ``RUN_END`` notification (``dispatch.notify``), not by polling run storage;
    the safety poll re-reads in case a notification was lost."""
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.notify import RUN_END
    from connectflow_dagster.execution import get_execution
    from connectflow_dagster.instance import get_instance

    instance = get_instance()
    terminal = {"success", "failed", "canceled"}
    deadline = time.monotonic() + params.response_timeout_seconds
    safety = get_dispatch_settings().safety_poll_seconds
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
    if params.response_node:
        node = next((n for n in execution.nodes if n.node_id == params.response_node), None)
        data = node.output if node is not None else None
    else:
        data = context
    return JSONResponse({"execution_id": execution_id, "status": "success", "data": data}, status_code=200)


async def _webhook(workflow_id: str, path: str, request: Request) -> Response:
    target, row = _target(workflow_id, "trigger.webhook", path=path)
    body = await read_body(request)
    _check_shared_secret(row, request, required=False)
    parsed = await _parse_webhook_body(request, body)
    context = webhook.event_context(
        body=parsed,
        query=dict(request.query_params),
        headers=dict(request.headers),
        method=request.method,
        path=path,
    )
    idempotency = idempotency_key(request)
    execution_id, created = _accept(target, context, f"idem:{idempotency}" if idempotency else None)
    params: webhook.WebhookParams = target.params  # type: ignore[assignment]
    if params.response_mode == "after_run":
        result = await _wait_for_result(request, execution_id, params)
        if result is not None:
            return result
    return accepted_response(execution_id, created)


@router.post("/api/webhooks/{workflow_id}/{path:path}", summary="Receive a webhook")
async def webhook_with_path(workflow_id: str, path: str, request: Request) -> Response:
    return await _webhook(workflow_id, path, request)


@router.post("/api/webhooks/{workflow_id}", include_in_schema=False)
async def webhook_without_path(workflow_id: str, request: Request) -> Response:
    return await _webhook(workflow_id, "", request)


# ---- trigger settings: URLs and secrets (owner only) -------------------------------------------------

_SECRET_KINDS = {"trigger.stripe": "signing", "trigger.google_form": "shared", "trigger.webhook": "shared"}


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


def _owned_trigger(session: Any, user_id: str, workflow_id: str, node_id: str) -> TriggerTarget:
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
    if node.type not in _SECRET_KINDS:
        raise HTTPException(404, f"node '{node_id}' is not a webhook, Stripe or Google Form trigger")
    return TriggerTarget(wf.id, wf.owner_id, version.id, workflow, node, None)  # type: ignore[arg-type]


def trigger_url(request: Request, target: TriggerTarget) -> str:
    from connectflow_dagster.config import get_settings

    base = (get_settings().public_url or str(request.base_url)).rstrip("/")
    if target.node.type == "trigger.stripe":
        return f"{base}/api/webhooks/stripe/{target.workflow_id}"
    if target.node.type == "trigger.google_form":
        return f"{base}/api/webhooks/google-form/{target.workflow_id}"
    path = str(target.node.params.get("path", "")).strip("/")
    return f"{base}/api/webhooks/{target.workflow_id}" + (f"/{path}" if path else "")


def _info(
    request: Request, target: TriggerTarget, configured: bool, secret: str | None = None
) -> TriggerInfo:
    url = trigger_url(request, target)
    script = None
    if target.node.type == "trigger.google_form":
        script = google_form.apps_script(url, secret or "PASTE-THE-SECRET-SHOWN-WHEN-YOU-GENERATED-IT")
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
    workflow_id: str, node_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> TriggerInfo:
    """The trigger's URL, whether its secret is set and (forms) the Apps Script to paste."""
    target = _owned_trigger(session, user.id, workflow_id, node_id)
    configured = keys.get_trigger_secret(session, workflow_id, node_id) is not None
    return _info(request, target, configured)


@settings_router.post(
    "/api/workflows/{workflow_id}/triggers/{node_id}/secret", response_model=TriggerInfo, status_code=201
)
def generate_trigger_secret(
    workflow_id: str, node_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> TriggerInfo:
    """Generate a new shared secret (webhook, Google Form); shown in this answer only."""
    target = _owned_trigger(session, user.id, workflow_id, node_id)
    if _SECRET_KINDS[target.node.type] != "shared":
        raise HTTPException(422, "a Stripe trigger uses the signing secret Stripe shows you: PUT it")
    secret = keys.generate_shared_secret(session, workflow_id, node_id)
    session.commit()
    return _info(request, target, True, secret)


@settings_router.put("/api/workflows/{workflow_id}/triggers/{node_id}/secret", response_model=TriggerInfo)
def set_trigger_secret(
    workflow_id: str,
    node_id: str,
    body: TriggerSecretSet,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> TriggerInfo:
    """Set the secret: Stripe's endpoint signing secret (stored encrypted) or your own shared secret."""
    target = _owned_trigger(session, user.id, workflow_id, node_id)
    if _SECRET_KINDS[target.node.type] == "signing":
        keys.set_signing_secret(session, workflow_id, node_id, body.secret)
    else:
        keys.set_shared_secret(session, workflow_id, node_id, body.secret)
    session.commit()
    return _info(request, target, True)


@settings_router.delete("/api/workflows/{workflow_id}/triggers/{node_id}/secret", status_code=204)
def delete_trigger_secret(workflow_id: str, node_id: str, session: SessionDep, user: CurrentUser) -> Response:
    _owned_trigger(session, user.id, workflow_id, node_id)
    keys.delete_trigger_secret(session, workflow_id, node_id)
    session.commit()
    return Response(status_code=204)
