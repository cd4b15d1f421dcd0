"""``POST /api/trigger``: start a workflow from a program with an API key (``Authorization: Bearer cf_sk_…``).

The key names the workflow (each key is scoped to one); the JSON body becomes the API trigger's
context entry; ``Idempotency-Key`` makes retries of one call start a single run. Answers 202 with the
execution id once the event is committed to the inbox (200 with the same id for a repeated
``Idempotency-Key``); 401 for a missing, unknown or revoked key, 404 when the key's workflow is gone
or has no API trigger, 413/415/400 for a body that is too large, not JSON, or malformed.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request, Response

from connectflow_dagster.dispatch import keys
from connectflow_dagster.dispatch.ingest import accept, find_trigger
from connectflow_dagster.store.db import session_scope
from gateway.routes.webhooks import accepted_response, idempotency_key, parse_json, read_body, require_json

router = APIRouter(tags=["triggers"])


@router.post("/api/trigger", status_code=202, summary="Start a workflow with an API key")
async def api_trigger(request: Request) -> Response:
    auth = request.headers.get("authorization", "")
    presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not presented:
        raise HTTPException(
            401, "send Authorization: Bearer <API key>", headers={"WWW-Authenticate": "Bearer"}
        )
    body = await read_body(request)
    require_json(request)
    with session_scope() as session:
        key = keys.verify_api_key(session, presented)
        if key is None:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        target = find_trigger(session, key.workflow_id, "trigger.api", owner_id=key.owner_id)
        if target is None:
            raise HTTPException(404, f"workflow '{key.workflow_id}' has no active API trigger")
        payload = parse_json(body)
        idempotency = idempotency_key(request)
        key.last_used_at = dt.datetime.now(dt.UTC)
        accepted = accept(session, target, payload, dedup_key=f"idem:{idempotency}" if idempotency else None)
    return accepted_response(accepted.execution_id, accepted.created)
