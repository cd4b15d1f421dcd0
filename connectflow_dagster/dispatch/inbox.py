"""The trigger inbox: every accepted trigger event is a durable row before anyone answers 2xx.

Life of an event (``cf_trigger_inbox.status``)::

    pending ──claim──► claimed ──complete──► done        (its run finished: success or failure)
       ▲                  │
       └── lease expired ─┤──fail(retry)──► pending     (worker died / could not start the run)
                          └──fail(final)──► failed      (attempts exhausted, or nothing to run)
    pending ──sensor──► submitted                       (handed to Dagster's run coordinator)
    pending / claimed ──cancel──► canceled              (canceled before its run started)

Every execution is an event: webhooks, API keys, schedules, the editor's and the API's Execute, the
Python API and ``connectflow run``, and retry from failure (an event with ``parent_run_id``: its run
re-executes the parent's failed steps on the parent's pinned version). Whoever commits an event
sends an ``INBOX`` notification (``dispatch.notify``) so an idle worker wakes at once.

The row id is the Dagster run id of the event's execution. ``dedup_key`` is unique per workflow, so a
redelivery returns the original id and creates nothing. Claims are leases: a worker renews its lease
while it runs the event; when a worker dies the lease expires and another worker claims the event
again (``attempts`` counts claims, capped by ``max_attempts``).

PostgreSQL claims with ``SELECT … FOR UPDATE SKIP LOCKED``; SQLite with one short ``UPDATE … WHERE
id = (SELECT …) RETURNING`` statement, which SQLite executes atomically under its write lock.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectflow_dagster.dispatch import notify
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import TriggerEvent

PENDING, CLAIMED, DONE, FAILED, SUBMITTED = "pending", "claimed", "done", "failed", "submitted"
CANCELED = "canceled"
TERMINAL = frozenset({DONE, FAILED, SUBMITTED, CANCELED})

_inbox: Table = TriggerEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Accepted:
    """The answer to an accepted trigger: its execution id, and whether this call created it."""

    execution_id: str
    created: bool


@dataclass(frozen=True)
class ClaimedEvent:
    """An event a worker (or the sensor) now holds a lease on."""

    id: str
    workflow_id: str
    owner_id: str
    version_id: int
    trigger_node_id: str
    payload: Any
    attempts: int
    claimed_by: str
    parent_run_id: str | None = None
    dedup_key: str | None = None  # ``resume:<wait id>:…``: a continuation of a waiting execution (waits.py)
    run_tags: dict[str, str] | None = None  # extra tags of its run (a sub-workflow's caller …)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dialect_name(executor: Session | Connection) -> str:
    if isinstance(executor, Connection):
        return executor.dialect.name
    return executor.get_bind().dialect.name


# Built once per dialect and executed with parameters, so SQLAlchemy neither rebuilds nor re-keys the
# statement per event (docs/decisions.md, "Ingest hot path").
_ACCEPT = {
    name: dialect_insert(_inbox)
    .on_conflict_do_nothing(index_elements=["workflow_id", "dedup_key"])
    .returning(_inbox.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_EXISTING = select(_inbox.c.id).where(
    _inbox.c.workflow_id == bindparam("workflow_id"), _inbox.c.dedup_key == bindparam("dedup_key")
)


def accept_event(
    executor: Session | Connection,
    *,
    workflow_id: str,
    owner_id: str,
    version_id: int,
    trigger_node_id: str,
    payload: Any,
    dedup_key: str | None = None,
    parent_run_id: str | None = None,
    available_at: dt.datetime | None = None,
    event_id: str | None = None,
    run_tags: dict[str, str] | None = None,
    claimed_by: str | None = None,
    lease_seconds: float | None = None,
) -> Accepted:
    """Store an event with ``executor`` (the caller commits) unless its dedup key is already there.

    Without a dedup key every call is a new event. With one, a second call returns the first
    event's id and ``created=False``; concurrent duplicates are resolved by the unique constraint.
    ``available_at`` delays the event (a Wait's continuation: not before its resume time).
    ``run_tags`` are added to its run's tags. ``claimed_by`` stores it already claimed by that worker
    (a sub-workflow its caller's worker executes at once: no other worker can take it first).
    """
    event_id = event_id or str(uuid.uuid4())
    now = _now()
    values = {
        "id": event_id,
        "workflow_id": workflow_id,
        "owner_id": owner_id,
        "version_id": version_id,
        "trigger_node_id": trigger_node_id,
        "dedup_key": dedup_key or f"id:{event_id}",
        "payload": json.dumps(payload, separators=(",", ":"), default=str),
        "status": PENDING if claimed_by is None else CLAIMED,
        "attempts": 0 if claimed_by is None else 1,
        "claimed_by": claimed_by,
        "lease_expires_at": None
        if claimed_by is None
        else now
        + dt.timedelta(
            seconds=lease_seconds if lease_seconds is not None else get_dispatch_settings().lease_seconds
        ),
        "available_at": available_at or now,
        "created_at": now,
        "parent_run_id": parent_run_id,
        "run_tags": json.dumps(run_tags, separators=(",", ":")) if run_tags else None,
    }
    dialect = _dialect_name(executor)
    statement = _ACCEPT["postgresql" if dialect == "postgresql" else "sqlite"]
    inserted = executor.execute(statement, values).scalar()
    if inserted is not None:
        return Accepted(inserted, True)
    existing = executor.execute(_EXISTING, {"workflow_id": workflow_id, "dedup_key": dedup_key}).scalar_one()
    return Accepted(existing, False)


def enqueue(
    workflow_id: str,
    owner_id: str,
    version_id: int,
    trigger_node_id: str,
    payload: Any,
    dedup_key: str | None = None,
    *,
    parent_run_id: str | None = None,
    run_tags: dict[str, str] | None = None,
    session: Session | None = None,
) -> tuple[str, bool]:
    """Accept an event, commit it and wake an idle worker; returns ``(execution_id, created)``.

    This is what the editor's and the API's "Execute", retry and the Python API call. With
    ``session`` (a request's own) the event is committed in it: one connection per request, so
    concurrent requests cannot exhaust the pool waiting for a second one.
    """
    kwargs: dict[str, Any] = dict(
        workflow_id=workflow_id,
        owner_id=owner_id,
        version_id=version_id,
        trigger_node_id=trigger_node_id,
        payload=payload,
        dedup_key=dedup_key,
        parent_run_id=parent_run_id,
        run_tags=run_tags,
    )
    if session is not None:
        accepted = accept_event(session, **kwargs)
        session.commit()
    else:
        with session_scope() as own:
            accepted = accept_event(own, **kwargs)
    if accepted.created:
        notify.publish(notify.INBOX)
    return accepted.execution_id, accepted.created


def _claimable(now: dt.datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(_inbox.c.status == PENDING, _inbox.c.available_at <= now),
        and_(_inbox.c.status == CLAIMED, _inbox.c.lease_expires_at < now),
    )


def has_claimable_event(session: Session) -> bool:
    """A cheap read a worker makes before it takes the write lock to claim."""
    now = _now()
    return session.execute(select(_inbox.c.id).where(_claimable(now)).limit(1)).first() is not None


def next_due(session: Session) -> dt.datetime | None:
    """When the next not-yet-claimable event becomes claimable: a pending event delayed for retry,
    or a claim whose lease runs out (its worker may have died). None when there is none."""
    pending = session.execute(
        select(func.min(_inbox.c.available_at)).where(_inbox.c.status == PENDING)
    ).scalar()
    leased = session.execute(
        select(func.min(_inbox.c.lease_expires_at)).where(_inbox.c.status == CLAIMED)
    ).scalar()
    times = [_aware(t) for t in (pending, leased) if t is not None]
    return min(times) if times else None


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for what was stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def claim_next_event(
    session: Session, worker_id: str, *, lease_seconds: float | None = None, status: str = CLAIMED
) -> ClaimedEvent | None:
    """Lease the oldest claimable event to ``worker_id`` (committed at once), or None.

    Claimable: pending and due, or claimed under a lease that expired (its worker died). Each claim
    counts as an attempt.
    """
    now = _now()
    candidate = (
        select(_inbox.c.id)
        .where(_claimable(now))
        .order_by(_inbox.c.available_at, _inbox.c.created_at)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    return _claim(session, candidate.scalar_subquery(), now, worker_id, lease_seconds, status)


def claim_event(
    session: Session, event_id: str, worker_id: str, *, lease_seconds: float | None = None
) -> ClaimedEvent | None:
    """Lease one given event to ``worker_id`` if it is claimable now (the Python API executing the
    event it just enqueued), or None (another worker holds it, or it is finished)."""
    return _claim(session, event_id, _now(), worker_id, lease_seconds, CLAIMED)


def _claim(
    session: Session,
    which: Any,
    now: dt.datetime,
    worker_id: str,
    lease_seconds: float | None,
    status: str,
) -> ClaimedEvent | None:
    lease = lease_seconds if lease_seconds is not None else get_dispatch_settings().lease_seconds
    statement = (
        update(_inbox)
        .where(_inbox.c.id == which)
        .where(_claimable(now))
        .values(
            status=status,
            claimed_by=worker_id,
            attempts=_inbox.c.attempts + 1,
            lease_expires_at=now + dt.timedelta(seconds=lease),
        )
        .returning(
            _inbox.c.id,
            _inbox.c.workflow_id,
            _inbox.c.owner_id,
            _inbox.c.version_id,
            _inbox.c.trigger_node_id,
            _inbox.c.payload,
            _inbox.c.attempts,
            _inbox.c.parent_run_id,
            _inbox.c.dedup_key,
            _inbox.c.run_tags,
        )
    )
    row = session.execute(statement).first()
    session.commit()
    if row is None:
        return None
    return ClaimedEvent(
        id=row.id,
        workflow_id=row.workflow_id,
        owner_id=row.owner_id,
        version_id=row.version_id,
        trigger_node_id=row.trigger_node_id,
        payload=json.loads(row.payload),
        attempts=row.attempts,
        claimed_by=worker_id,
        parent_run_id=row.parent_run_id,
        dedup_key=row.dedup_key,
        run_tags=json.loads(row.run_tags) if row.run_tags else None,
    )


def enqueue_claimed(
    session: Session,
    worker_id: str,
    *,
    workflow_id: str,
    owner_id: str,
    version_id: int,
    trigger_node_id: str,
    payload: Any,
    dedup_key: str | None = None,
    run_tags: dict[str, str] | None = None,
    lease_seconds: float | None = None,
) -> ClaimedEvent | None:
    """Store an event already claimed by ``worker_id`` (committed) and return it, to be executed by
    that worker now; None when ``dedup_key`` was already there (nothing is created)."""
    accepted = accept_event(
        session,
        workflow_id=workflow_id,
        owner_id=owner_id,
        version_id=version_id,
        trigger_node_id=trigger_node_id,
        payload=payload,
        dedup_key=dedup_key,
        run_tags=run_tags,
        claimed_by=worker_id,
        lease_seconds=lease_seconds,
    )
    session.commit()
    if not accepted.created:
        return None
    return ClaimedEvent(
        id=accepted.execution_id,
        workflow_id=workflow_id,
        owner_id=owner_id,
        version_id=version_id,
        trigger_node_id=trigger_node_id,
        payload=json.loads(json.dumps(payload, default=str)),
        attempts=1,
        claimed_by=worker_id,
        dedup_key=dedup_key,
        run_tags=run_tags,
    )


def renew_lease(
    session: Session, event_id: str, worker_id: str, *, lease_seconds: float | None = None
) -> bool:
    """Extend the lease; False when this worker no longer holds the event."""
    lease = lease_seconds if lease_seconds is not None else get_dispatch_settings().lease_seconds
    result = session.execute(
        update(_inbox)
        .where(_inbox.c.id == event_id, _inbox.c.claimed_by == worker_id, _inbox.c.status == CLAIMED)
        .values(lease_expires_at=_now() + dt.timedelta(seconds=lease))
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(session: Session, event_id: str, worker_id: str, **values: Any) -> bool:
    result = session.execute(
        update(_inbox)
        .where(_inbox.c.id == event_id, _inbox.c.claimed_by == worker_id, _inbox.c.status == CLAIMED)
        .values(**values)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete_event(session: Session, event_id: str, worker_id: str, *, status: str = DONE) -> bool:
    """Mark the event's execution finished (its run reached a terminal state)."""
    return _finish(session, event_id, worker_id, status=status, lease_expires_at=None, finished_at=_now())


def fail_event(
    session: Session, event_id: str, worker_id: str, error: str, *, retry: bool, attempts: int
) -> str:
    """Record a failure to execute; back to pending while attempts remain (and ``retry``), else failed.

    Returns the new status.
    """
    settings = get_dispatch_settings()
    if retry and attempts < settings.max_attempts:
        # Back in the queue after a delay: every idle worker recomputes when to look again.
        _finish(
            session,
            event_id,
            worker_id,
            status=PENDING,
            error=error,
            claimed_by=None,
            lease_expires_at=None,
            available_at=_now() + dt.timedelta(seconds=settings.retry_delay_seconds * attempts),
        )
        notify.publish(notify.INBOX)
        return PENDING
    _finish(
        session, event_id, worker_id, status=FAILED, error=error, lease_expires_at=None, finished_at=_now()
    )
    return FAILED


def cancel_event(session: Session, event_id: str, *, error: str | None = None) -> bool:
    """Mark a pending (or claimed, not yet running) event canceled, committed; False when it is not
    pending or claimed any more. A worker that already claimed it sees the cancel before it runs."""
    result = session.execute(
        update(_inbox)
        .where(_inbox.c.id == event_id, _inbox.c.status.in_((PENDING, CLAIMED)))
        .values(status=CANCELED, lease_expires_at=None, finished_at=_now(), error=error)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_event(session: Session, event_id: str) -> TriggerEvent | None:
    return session.get(TriggerEvent, event_id)


def status_counts(session: Session) -> dict[str, int]:
    """How many events are in each status (for benches, tests and ``connectflow worker --status``)."""
    rows = session.execute(select(_inbox.c.status, func.count()).group_by(_inbox.c.status))
    return {status: count for status, count in rows}
