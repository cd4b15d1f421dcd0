"""Which trigger an incoming request is for, and the one call that accepts it into the inbox.

The gateway's trigger routes do HTTP (size limit, content type, authentication, parsing); this module
finds the live workflow version and its trigger node, and stores the event. A workflow that does not
exist, is deleted or inactive, or has no (enabled) trigger of the requested kind is "not found".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster import spec
from connectflow_dagster.dispatch import inbox
from connectflow_dagster.registry import get_registry
from connectflow_dagster.store.models import Workflow, WorkflowVersion
from connectflow_dagster.store.workflows import version_spec


@dataclass(frozen=True)
class TriggerTarget:
    """A live trigger node of a workflow's current version."""

    workflow_id: str
    owner_id: str
    version_id: int
    workflow: spec.Workflow
    node: spec.Node
    params: BaseModel


def live_version(session: Session, workflow_id: str) -> tuple[Workflow, WorkflowVersion] | None:
    """The workflow (not deleted) and its current version, in one query."""
    row = session.execute(
        select(Workflow, WorkflowVersion)
        .join(WorkflowVersion, WorkflowVersion.id == Workflow.current_version_id)
        .where(Workflow.id == workflow_id, Workflow.deleted_at.is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def trigger_nodes(workflow: spec.Workflow, trigger_type: str) -> list[tuple[spec.Node, BaseModel]]:
    """Enabled nodes of ``trigger_type`` with their parsed params (nodes with bad params are skipped)."""
    registry = get_registry()
    found: list[tuple[spec.Node, BaseModel]] = []
    for node in workflow.nodes:
        if node.type != trigger_type or node.disabled:
            continue
        node_type = registry.get(node.type, node.type_version)
        try:
            params = node_type.params.model_validate(node.params)
        except ValueError:
            continue
        found.append((node, params))
    return found


_parsed_cache: OrderedDict[tuple[str, str, str], tuple[spec.Workflow, list[tuple[spec.Node, BaseModel]]]] = (
    OrderedDict()
)
_cache_lock = threading.Lock()


def _parsed(
    version: WorkflowVersion, trigger_type: str
) -> tuple[spec.Workflow, list[tuple[spec.Node, BaseModel]]]:
    """Versions are immutable, so their parsed spec and trigger params are cached by content hash."""
    key = (version.workflow_id, version.content_hash, trigger_type)
    with _cache_lock:
        if key in _parsed_cache:
            return _parsed_cache[key]
    workflow = version_spec(version)
    value = (workflow, trigger_nodes(workflow, trigger_type))
    with _cache_lock:
        _parsed_cache[key] = value
        while len(_parsed_cache) > 512:
            _parsed_cache.popitem(last=False)
    return value


def find_trigger(
    session: Session,
    workflow_id: str,
    trigger_type: str,
    *,
    path: str | None = None,
    owner_id: str | None = None,
    require_active: bool = True,
) -> TriggerTarget | None:
    """The trigger of ``trigger_type`` that should receive this request, or None (→ 404).

    For webhooks ``path`` picks the node whose ``params.path`` equals it; a node with an empty path
    catches any path no other webhook node claims.
    """
    live = live_version(session, workflow_id)
    if live is None:
        return None
    wf, version = live
    if (owner_id is not None and wf.owner_id != owner_id) or (require_active and not wf.active):
        return None
    workflow, candidates = _parsed(version, trigger_type)
    if path is not None:
        exact = [(n, p) for n, p in candidates if getattr(p, "path", "").strip("/") == path.strip("/")]
        candidates = exact or [(n, p) for n, p in candidates if not getattr(p, "path", "")]
    if not candidates:
        return None
    node, params = candidates[0]
    return TriggerTarget(wf.id, wf.owner_id, version.id, workflow, node, params)


def accept(
    session: Session, target: TriggerTarget, payload: Any, *, dedup_key: str | None = None
) -> inbox.Accepted:
    """Store the event for ``target`` and commit; the caller answers 2xx only after this returns."""
    accepted = inbox.accept_event(
        session,
        workflow_id=target.workflow_id,
        owner_id=target.owner_id,
        version_id=target.version_id,
        trigger_node_id=target.node.id,
        payload=payload,
        dedup_key=dedup_key,
    )
    session.commit()
    return accepted
