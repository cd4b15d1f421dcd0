"""``/api/webhook-waiting/{execution_id}/{signature}``: resume a waiting execution (Wait node, webhook).

The URL is the execution's resume URL (``connectflow_dagster/waits.py``; ``{{ execution.resume_url }}``
in templates). No sign-in: whoever holds the URL may call it once per wait, like a webhook URL. The
call's body (JSON, form or none), query, headers (credential headers removed) and method become the
Wait node's output in a continuation run, queued in the trigger inbox and executed by a worker like
every run. Answers: 202 ``{execution_id, continuation_id, status: "resumed"}``; 404 for a wrong
signature, an unknown execution or one not waiting for a call (already resumed, canceled, finished);
409 while the run that is about to wait has not ended yet; 413 for a body over the limit.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from connectflow_dagster import waits
from connectflow_dagster.nodes.triggers.webhook import event_context
from connectflow_dagster.store.db import session_scope
from gateway.routes.webhooks import check_headers, parse_json_or_form, read_body

router = APIRouter(tags=["triggers"])

# Not HEAD: link checkers and mail scanners send it to every URL they see; it must not resume.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_NOT_WAITING = "no execution is waiting for this URL"


def _resume(execution_id: str, payload: dict) -> str:
    from connectflow_dagster.instance import get_instance

    with session_scope() as session:
        wait = waits.pending_webhook_wait(session, execution_id)
        if wait is None:
            raise HTTPException(404, _NOT_WAITING)
        run = get_instance().get_run_by_id(wait.run_id)
        if run is None or not run.is_finished:
            raise HTTPException(409, "the execution is not waiting yet (its run is still ending): try again")
        continuation = waits.resume(session, wait, payload)
    if continuation is None:  # a concurrent call (or the time limit) resumed it first
        raise HTTPException(404, _NOT_WAITING)
    return continuation


@router.api_route(
    waits.RESUME_PATH + "/{execution_id}/{signature}",
    methods=METHODS,
    status_code=202,
    summary="Resume a waiting execution",
)
async def resume_waiting(execution_id: str, signature: str, request: Request) -> JSONResponse:
    """Resume the execution's Wait node (webhook mode) with this call as its output."""
    if len(execution_id) > 64 or len(signature) > 64 or not waits.signature_matches(execution_id, signature):
        raise HTTPException(404, _NOT_WAITING)
    check_headers(request)
    body = await read_body(request)
    parsed = await parse_json_or_form(request, body) if body else None
    payload = event_context(
        body=parsed,
        query=dict(request.query_params),
        headers=dict(request.headers),
        method=request.method,
        path="",
    )
    continuation = await asyncio.to_thread(_resume, execution_id, payload)
    return JSONResponse(
        {"execution_id": execution_id, "continuation_id": continuation, "status": "resumed"}, status_code=202
    )
