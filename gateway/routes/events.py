"""``GET /api/executions/{id}/events``: a run's node status changes as server-sent events.

Read from the Dagster event log (``connectflow_dagster.dispatch.live``)::

    event: queued   data: {"execution_id": …}              accepted, not started yet
    event: run      data: {"status": "running", "at": …}   the run started
    event: node     data: {"node_id": …, "status": "running" | "success" | "failed" | "skipped"
                           | "retrying", "at": …, "error"?: …}
    event: end      data: {"status": "success" | "failed" | "canceled", "error"?: …}   then the stream closes

The stream sleeps until the worker executing the run notifies a change (``dispatch.notify``,
``RUN_PROGRESS`` / ``RUN_END``), then reads the event log from its cursor; a slow safety poll covers
a lost notification.

Only the execution's owner may listen; anyone else gets 404, as for the execution itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from connectflow_dagster.dispatch import inbox, notify
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.dispatch.live import RunEventReader
from connectflow_dagster.instance import get_instance
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.tags import TAG_OWNER
from gateway.deps import CurrentUser, SessionDep

router = APIRouter(tags=["executions"])

KEEPALIVE_SECONDS = 15.0


def _sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _owner_of(session: Session, execution_id: str) -> str | None:
    run = get_instance().get_run_by_id(execution_id)
    if run is not None:
        return run.tags.get(TAG_OWNER)
    event = inbox.get_event(session, execution_id)
    return event.owner_id if event is not None else None


async def _stream(request: Request, execution_id: str) -> AsyncIterator[bytes]:
    instance = get_instance()
    reader = RunEventReader(instance, execution_id)
    safety = get_dispatch_settings().safety_poll_seconds
    watcher = request.app.state.run_watcher
    # Subscribed before the first read, so a change between a read and the wait is never missed.
    subscription = watcher.subscribe(execution_id, (notify.RUN_PROGRESS, notify.RUN_END))
    run_seen = False
    last_sent = time.monotonic()
    try:
        while True:
            if not run_seen:
                run_seen = await asyncio.to_thread(instance.get_run_by_id, execution_id) is not None
                if not run_seen:
                    status, error = await asyncio.to_thread(_event_state, execution_id)
                    if status == inbox.FAILED:  # given up before any run could be made
                        yield _sse("end", {"status": "failed", "error": error})
                        return
                    if status == inbox.CANCELED:  # canceled before a worker started it
                        yield _sse("end", {"status": "canceled"})
                        return
            if run_seen:
                for change in await asyncio.to_thread(reader.poll):
                    yield _sse(change.kind, change.data)
                    last_sent = time.monotonic()
                if reader.finished:
                    return
            if await request.is_disconnected():
                return
            if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                yield b": keep-alive\n\n"
                last_sent = time.monotonic()
            # Woken by the worker's progress / end notifications; the safety poll covers a lost one.
            await subscription.wait_async(min(safety, KEEPALIVE_SECONDS - (time.monotonic() - last_sent)))
    finally:
        watcher.unsubscribe(subscription)


def _event_state(execution_id: str) -> tuple[str | None, str | None]:
    with session_scope() as session:
        event = inbox.get_event(session, execution_id)
        return (event.status, event.error) if event is not None else (None, None)


@router.get("/api/executions/{execution_id}/events", summary="Stream an execution's node status changes")
async def execution_events(
    execution_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> StreamingResponse:
    owner = await asyncio.to_thread(_owner_of, session, execution_id)
    if owner is None or owner != user.id:
        raise HTTPException(404, f"execution '{execution_id}' not found")
    # The stream may last minutes: give the request's connection back to the pool now.
    await asyncio.to_thread(session.close)

    async def body() -> AsyncIterator[bytes]:
        yield _sse("queued", {"execution_id": execution_id})
        async for chunk in _stream(request, execution_id):
            yield chunk

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
