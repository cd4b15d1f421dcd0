"""Waiting executions: a Wait node suspends its run, a continuation run resumes it later.

A long wait holds no worker (docs/decisions.md, "Wait: continuation runs"):

1. the Wait op records a ``cf_waits`` row (``record``) and ends without output; the nodes after it are
   skipped and the run ends (Dagster: success). The execution reads as ``waiting``.
2. when that run has ended, whoever recorded its end (the worker, or the sensor's reconciliation)
   calls ``finalize_run``: a run that succeeded gets, for each time-limited wait, a continuation
   event in the trigger inbox that becomes claimable at ``resume_at`` (the inbox's ``available_at``);
   a run that did not succeed has its waits canceled.
3. the execution's **resume URL** (``resume_url``; ``{{ execution.resume_url }}`` in templates, so a
   node *before* the Wait can send it) resumes its webhook wait: ``resume`` marks the wait resumed
   (one conditional update: a second or concurrent call finds nothing, 404) and queues a continuation
   event whose payload is the call (body, query, headers, method).
4. a worker executes a continuation event like any other (``claim_for_continuation`` first: the
   wait must still be waiting, or have been resumed by this very event): a Dagster re-execution of the
   same versioned job from the Wait's step (``execution.create_continuation``), parent and root run
   ids set, upstream outputs loaded from the parent run by the IO manager.

The resume URL is ``/api/webhook-waiting/<execution id>/<signature>``: the signature is a keyed hash
of the execution id under the server key, so it is unguessable, needs no storage, and is the same
for every wait of one execution (like n8n's ``$execution.resumeUrl``); a wait is resumed once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import threading
import uuid
from collections import OrderedDict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectflow_dagster.store.models import TriggerEvent, Wait

WAITING, RESUMED, CANCELED = "waiting", "resumed", "canceled"
RESUME_PREFIX = "resume:"
RESUME_PATH = "/api/webhook-waiting"
_SIGNATURE_PURPOSE = "connectflow:resume-url"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# ---- the resume URL --------------------------------------------------------------------------------------


def signature(execution_id: str) -> str:
    """The resume URL's secret part for ``execution_id`` (128 bits of a keyed hash)."""
    from connectflow_dagster.store.keys import keyed_hash

    return keyed_hash(execution_id, _SIGNATURE_PURPOSE)[:32]


def signature_matches(execution_id: str, presented: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    return hmac.compare_digest(signature(execution_id).encode(), presented.encode("utf-8", "surrogatepass"))


def resume_url(execution_id: str, base_url: str | None = None) -> str:
    """Where a caller resumes ``execution_id``'s webhook wait (``CONNECTFLOW_PUBLIC_URL`` as base)."""
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    base = base_url or settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}{RESUME_PATH}/{execution_id}/{signature(execution_id)}"


# ---- suspending (inside the run) -------------------------------------------------------------------------

# Waits that suspended in a run of this process: run id -> node ids. A node downstream of a Wait (a
# Merge fed by the Wait and by another branch) must not run with the other branch alone while the
# Wait is suspended; the threaded executor runs every step of a run in one process, after its
# upstream steps ended, so this is known when such a node starts.
_suspended: OrderedDict[str, set[str]] = OrderedDict()
_suspended_lock = threading.Lock()


def mark_suspended(run_id: str, node_id: str) -> None:
    with _suspended_lock:
        _suspended.setdefault(run_id, set()).add(node_id)
        _suspended.move_to_end(run_id)
        while len(_suspended) > 1024:
            _suspended.popitem(last=False)


def suspended_in(run_id: str) -> set[str]:
    with _suspended_lock:
        return set(_suspended.get(run_id, ()))


def record(
    session: Session,
    *,
    execution_id: str,
    run_id: str,
    workflow_id: str,
    owner_id: str,
    version_id: int,
    node_id: str,
    webhook: bool,
    resume_at: dt.datetime | None,
) -> str:
    """Record that ``node_id`` suspended ``run_id`` (idempotent per run and node: a retried op writes
    the same row). The caller commits."""
    wait_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow:wait:{run_id}:{node_id}"))
    if session.get(Wait, wait_id) is None:
        session.add(
            Wait(
                id=wait_id,
                execution_id=execution_id,
                run_id=run_id,
                workflow_id=workflow_id,
                owner_id=owner_id,
                version_id=version_id,
                node_id=node_id,
                webhook=webhook,
                resume_at=resume_at,
                status=WAITING,
            )
        )
        session.flush()
    return wait_id


# ---- after the run ended ---------------------------------------------------------------------------------


def finalize_run(session: Session, run_id: str, succeeded: bool) -> list[str]:
    """Called once ``run_id`` ended: queue the time-limited waits' continuation events (or cancel the
    waits when the run did not succeed). Idempotent (dedup keys); returns the events queued. The
    caller commits."""
    from connectflow_dagster.dispatch import inbox

    waits = list(session.scalars(select(Wait).where(Wait.run_id == run_id, Wait.status == WAITING)))
    if not succeeded:
        for wait in waits:
            wait.status, wait.finished_at = CANCELED, _now()
        session.flush()
        return []
    queued = []
    for wait in waits:
        if wait.resume_at is None:
            continue
        accepted = inbox.accept_event(
            session,
            workflow_id=wait.workflow_id,
            owner_id=wait.owner_id,
            version_id=wait.version_id,
            trigger_node_id=wait.node_id,
            payload={"resumed": "timer", "resume_at": _aware(wait.resume_at).isoformat()},  # type: ignore[union-attr]
            dedup_key=f"{RESUME_PREFIX}{wait.id}:timer",
            parent_run_id=wait.run_id,
            available_at=_aware(wait.resume_at),
        )
        if accepted.created:
            queued.append(accepted.execution_id)
    return queued


def wait_id_of(dedup_key: str | None) -> str | None:
    """The wait a continuation event resumes (its dedup key is ``resume:<wait id>:<how>``), else None."""
    if not dedup_key or not dedup_key.startswith(RESUME_PREFIX):
        return None
    return dedup_key[len(RESUME_PREFIX) :].rsplit(":", 1)[0]


def claim_for_continuation(session: Session, wait_id: str, event_id: str) -> Wait | None:
    """The wait ``event_id`` continues, marked resumed by it; None when it was resumed by another
    event (the resume URL beat the timer) or canceled. Committed."""
    result = session.execute(
        update(Wait)
        .where(Wait.id == wait_id, Wait.status == WAITING)
        .values(status=RESUMED, continuation_id=event_id, finished_at=_now())
    )
    session.commit()
    wait = session.get(Wait, wait_id)
    if wait is None:
        return None
    if result.rowcount or wait.continuation_id == event_id:  # type: ignore[attr-defined]
        return wait
    return None


# ---- resuming by URL -------------------------------------------------------------------------------------


def pending_webhook_wait(session: Session, execution_id: str) -> Wait | None:
    """The execution's oldest webhook wait still waiting, once the run that suspended has ended."""
    return session.scalar(
        select(Wait)
        .where(Wait.execution_id == execution_id, Wait.status == WAITING, Wait.webhook.is_(True))
        .order_by(Wait.created_at)
        .limit(1)
    )


def resume(session: Session, wait: Wait, payload: Any) -> str | None:
    """Resume ``wait`` with ``payload`` (the call); the continuation's event id, or None when another
    call (or the timer) resumed it first. Committed; wakes a worker."""
    from connectflow_dagster.dispatch import inbox, notify

    event_id = str(uuid.uuid4())
    result = session.execute(
        update(Wait)
        .where(Wait.id == wait.id, Wait.status == WAITING)
        .values(status=RESUMED, continuation_id=event_id, finished_at=_now())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        return None
    inbox.accept_event(
        session,
        workflow_id=wait.workflow_id,
        owner_id=wait.owner_id,
        version_id=wait.version_id,
        trigger_node_id=wait.node_id,
        payload=payload,
        dedup_key=f"{RESUME_PREFIX}{wait.id}:webhook",
        parent_run_id=wait.run_id,
        event_id=event_id,
    )
    # The timer event of a wait with a time limit, if any, starts nothing now (its claim finds the
    # wait resumed); cancel it so it does not linger as pending.
    session.execute(
        update(TriggerEvent)
        .where(
            TriggerEvent.dedup_key == f"{RESUME_PREFIX}{wait.id}:timer",
            TriggerEvent.workflow_id == wait.workflow_id,
            TriggerEvent.status == inbox.PENDING,
        )
        .values(status=inbox.CANCELED, finished_at=_now(), error="resumed by its resume URL first")
    )
    session.commit()
    notify.publish(notify.INBOX)
    return event_id


# ---- reading ---------------------------------------------------------------------------------------------


def of_executions(session: Session, execution_ids: list[str]) -> list[Wait]:
    """Every wait of these (logical) executions, oldest first; detached from the session."""
    rows = list(
        session.scalars(
            select(Wait).where(Wait.execution_id.in_(execution_ids)).order_by(Wait.created_at, Wait.id)
        )
    )
    session.expunge_all()
    return rows


def cancel_execution(session: Session, execution_id: str) -> int:
    """Cancel the execution's waits (its resume URL answers 404 after); returns how many. Committed."""
    result = session.execute(
        update(Wait)
        .where(Wait.execution_id == execution_id, Wait.status == WAITING)
        .values(status=CANCELED, finished_at=_now())
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
