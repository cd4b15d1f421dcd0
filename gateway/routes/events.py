"""``GET /api/executions/{id}/events``: a run's node status changes as server-sent events.

Read from the Dagster event log (``connectflow_dagster.dispatch.live``)::

    event: queued   data: {"execution_id": …}              accepted, not started yet
    event: run      data: {"status": "running", "at": …}   the run started
    event: node     data: {"node_id": …, "status": "running" | "success" | "failed" | "skipped"
                           | "retrying", "at": …, "error"?: …}
    event: end      data: {"status": "success" | "failed" | "canceled" | "waiting", "error"?: …}
                                                           then the stream closes

An execution that waited (Wait node) streams as one: its continuation runs' events follow the first
run's; one waiting now ends with its Wait node ``waiting`` and ``end`` ``waiting``.

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
    current = execution_id  # the run being read: the execution's first, then each continuation
    reader = RunEventReader(instance, current)
    safety = get_dispatch_settings().safety_poll_seconds
    watcher = request.app.state.run_watcher
    # Subscribed before the first read, so a change between a read and the wait is never missed.
    subscription = watcher.subscribe(current, (notify.RUN_PROGRESS, notify.RUN_END))
    run_seen = switched = False
    pending_end = None
    last_sent = time.monotonic()
    try:
        while True:
            if not run_seen:
                run_seen = await asyncio.to_thread(instance.get_run_by_id, current) is not None
                if not run_seen:
                    status, error = await asyncio.to_thread(_event_state, current)
                    if status == inbox.FAILED:  # given up before any run could be made
                        yield _sse("end", {"status": "failed", "error": error})
                        return
                    if status == inbox.CANCELED:  # canceled before a worker started it
                        yield _sse("end", {"status": "canceled"})
                        return
            if run_seen:
                for change in await asyncio.to_thread(reader.poll):
                    if change.kind == "end" and change.data.get("status") == "success":
                        # A run that ended at a Wait: the execution goes on in a continuation run.
                        after = await asyncio.to_thread(_after_success, execution_id, current)
                        if after is not None and after[0] == "waiting":
                            yield _sse("node", {"node_id": after[1], "status": "waiting", "at": time.time()})
                            if not after[2]:  # resumed by a call, or not soon: the stream ends here
                                yield _sse("end", {"status": "waiting"})
                                return
                            pending_end = change  # a timer resumes it soon: follow on
                            break
                        if after is not None:  # resumed: follow the continuation
                            current, run_seen = after[1], False
                            reader = RunEventReader(instance, current)
                            switched = True
                            break
                    yield _sse(change.kind, change.data)
                    last_sent = time.monotonic()
                if switched:  # look for the continuation's run at once
                    switched = False
                    continue
                if pending_end is not None:  # waiting for a timer: look again when woken
                    after = await asyncio.to_thread(_after_success, execution_id, current)
                    if after is not None and after[0] == "continued":
                        current, run_seen, pending_end = after[1], False, None
                        reader = RunEventReader(instance, current)
                        continue
                    if after is None:  # canceled while it waited
                        yield _sse("end", {"status": "canceled"})
                        return
                elif reader.finished:
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


FOLLOW_TIMED_WAITS_SECONDS = 300.0  # a timed Wait resuming sooner than this is followed live


def _after_success(execution_id: str, run_id: str) -> tuple[str, str, bool] | None:
    """After ``run_id`` of the execution succeeded: ("waiting", wait node, follow on?) when a Wait
    suspended it (followed when a timer resumes it within ``FOLLOW_TIMED_WAITS_SECONDS``),
    ("continued", continuation run id, True) once resumed, None when the execution is over."""
    import datetime as dt

    from connectflow_dagster import waits

    with session_scope() as session:
        rows = [w for w in waits.of_executions(session, [execution_id]) if w.run_id == run_id]
    for wait in rows:
        if wait.status == waits.RESUMED and wait.continuation_id:
            return ("continued", wait.continuation_id, True)
    now = dt.datetime.now(dt.UTC)
    for wait in rows:
        if wait.status == waits.WAITING:
            due = wait.resume_at
            if due is not None and due.tzinfo is None:
                due = due.replace(tzinfo=dt.UTC)
            soon = due is not None and (due - now).total_seconds() <= FOLLOW_TIMED_WAITS_SECONDS
            return ("waiting", wait.node_id, soon)
    return None


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
