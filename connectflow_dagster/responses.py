"""Respond to Webhook: an execution's answer to the webhook caller still waiting on its connection.

The webhook trigger with ``response_mode='respond_node'`` keeps the caller's connection open after
the event is accepted; a ``respond`` node (``nodes/respond.py``), wherever it sits in the workflow,
``record``s its answer (status, headers, body) and sends ``RUN_PROGRESS`` for the execution; the
gateway wakes, reads it (``get``) and answers at once while the run goes on. The first answer of an
execution wins (a later Respond node records nothing). If the run ends without one, the gateway
answers 500 saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from connectflow_dagster.store.models import WebhookResponse


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    body: str


def record(execution_id: str, node_id: str, answer: Answer) -> bool:
    """Store the execution's answer (committed) and wake the gateway; False when one was already
    recorded (the first Respond node wins)."""
    from connectflow_dagster.dispatch import notify
    from connectflow_dagster.store.db import session_scope

    try:
        with session_scope() as session:
            if session.get(WebhookResponse, execution_id) is not None:
                return False
            session.add(
                WebhookResponse(
                    execution_id=execution_id,
                    node_id=node_id,
                    status_code=answer.status_code,
                    headers=answer.headers,
                    body=answer.body,
                )
            )
    except IntegrityError:  # a concurrent Respond node (parallel branch) wrote first
        return False
    notify.publish(notify.RUN_PROGRESS, execution_id)
    return True


def get(session: Any, execution_id: str) -> Answer | None:
    row = session.get(WebhookResponse, execution_id)
    if row is None:
        return None
    return Answer(row.status_code, dict(row.headers or {}), row.body)
