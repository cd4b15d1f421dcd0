""" "Listen for test event": while a workflow's owner listens, its trigger test URLs accept one call.

``listen`` opens listening until a deadline (``CONNECTFLOW_LISTEN_SECONDS``, default 120);
``take`` is what a call of a test URL does: one conditional update that ends listening and records
the execution the call starts, so exactly one call wins (others, and calls outside listening, get
404). The test URL runs the workflow's current saved version, also when the workflow is inactive.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, update
from sqlalchemy.orm import Session

from connectflow_dagster.store.models import Workflow
from connectflow_dagster.store.workflows import get_workflow


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def listen(session: Session, owner_id: str, workflow_id: str, seconds: float) -> Workflow:
    """Open listening for ``seconds`` (the caller commits); clears the last test execution."""
    wf = get_workflow(session, owner_id, workflow_id)
    wf.listening_until = _now() + dt.timedelta(seconds=seconds)
    wf.test_execution_id = None
    session.flush()
    return wf


def stop(session: Session, owner_id: str, workflow_id: str) -> Workflow:
    wf = get_workflow(session, owner_id, workflow_id)
    wf.listening_until = None
    session.flush()
    return wf


def is_listening(wf: Workflow) -> bool:
    until = wf.listening_until
    if until is None:
        return False
    until = until if until.tzinfo is not None else until.replace(tzinfo=dt.UTC)
    return until > _now()


def take(connection: Connection, workflow_id: str, execution_id: str) -> bool:
    """End listening for the call that starts ``execution_id``; False when nobody is listening (or
    another call took it first). Committed."""
    result = connection.execute(
        update(Workflow)
        .where(
            Workflow.id == workflow_id,
            Workflow.deleted_at.is_(None),
            Workflow.listening_until.is_not(None),
            Workflow.listening_until > _now(),
        )
        .values(listening_until=None, test_execution_id=execution_id)
    )
    connection.commit()
    return bool(result.rowcount)
