"""Which trigger an incoming request is for, and the one call that accepts it into the inbox.

The gateway's trigger routes do HTTP (size limit, content type, authentication, parsing); this module
finds the live workflow version and its trigger node, and stores the event. A workflow that does not
exist, is deleted or inactive, or has no (enabled) trigger of the requested kind is "not found".

The hot path (``resolve`` + ``accept``) is SQLAlchemy Core on a plain ``Connection``: one indexed
read of the workflow, its current version's hash and its trigger secrets, then one insert and the
commit. Nothing about a workflow is cached across requests except the parsed spec of an immutable
version (keyed by content hash), so a deleted or deactivated workflow, a new version or a changed
secret takes effect on the very next request, in every process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Table, and_, bindparam, select
from sqlalchemy.orm import Session

from connectflow_dagster import spec
from connectflow_dagster.dispatch import inbox, notify
from connectflow_dagster.registry import get_registry
from connectflow_dagster.store.keys import StoredSecret
from connectflow_dagster.store.models import TriggerSecret, Workflow, WorkflowVersion


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
_PARSED_CACHE_SIZE = 512


def _parsed_by_hash(
    connection: Connection, workflow_id: str, version_id: int, content_hash: str, trigger_type: str
) -> tuple[spec.Workflow, list[tuple[spec.Node, BaseModel]]]:
    """Versions are immutable, so their parsed spec and trigger params are cached by content hash; the
    stored document is read only on a miss."""
    key = (workflow_id, content_hash, trigger_type)
    with _cache_lock:
        cached = _parsed_cache.get(key)
        if cached is not None:
            _parsed_cache.move_to_end(key)
            return cached
    document = connection.execute(_VERSION_SPEC, {"version_id": version_id}).scalar_one()
    workflow = spec.Workflow.model_validate({**document, "id": workflow_id})
    value = (workflow, trigger_nodes(workflow, trigger_type))
    with _cache_lock:
        _parsed_cache[key] = value
        while len(_parsed_cache) > _PARSED_CACHE_SIZE:
            _parsed_cache.popitem(last=False)
    return value


_workflows: Table = Workflow.__table__  # type: ignore[assignment]
_versions: Table = WorkflowVersion.__table__  # type: ignore[assignment]
_secrets: Table = TriggerSecret.__table__  # type: ignore[assignment]

# Built once: a statement object reused with bound parameters skips SQLAlchemy's per-call cache-key
# generation and compilation (measured in bench/ingest.py, docs/decisions.md "Ingest hot path").
_LIVE_TRIGGER = (
    select(
        _workflows.c.owner_id,
        _workflows.c.active,
        _versions.c.id,
        _versions.c.content_hash,
        _secrets.c.node_id,
        _secrets.c.kind,
        _secrets.c.value,
    )
    .select_from(
        _workflows.join(_versions, _versions.c.id == _workflows.c.current_version_id).outerjoin(
            _secrets, _secrets.c.workflow_id == _workflows.c.id
        )
    )
    .where(and_(_workflows.c.id == bindparam("workflow_id"), _workflows.c.deleted_at.is_(None)))
)
_VERSION_SPEC = select(_versions.c.spec).where(_versions.c.id == bindparam("version_id"))


def resolve(
    connection: Connection,
    workflow_id: str,
    trigger_type: str,
    *,
    path: str | None = None,
    path_param: str = "path",
    owner_id: str | None = None,
    require_active: bool = True,
    method: str | None = None,
) -> tuple[TriggerTarget, StoredSecret | None] | None:
    """The trigger that should receive this request and its secret (or None), or None (→ 404).

    One query reads the live workflow, its current version's id and hash, and its trigger secrets;
    the version's parsed spec comes from the cache. For a trigger with a sub-path (webhooks) ``path``
    picks the node whose ``params.<path_param>`` equals it; a node with an empty one catches any path
    no other node of that type claims. With ``method``, a node whose params list ``methods`` answers
    only those (a webhook's GET and POST may be two nodes on one path).
    """
    rows = connection.execute(_LIVE_TRIGGER, {"workflow_id": workflow_id}).all()
    if not rows:
        return None
    wf_owner, active, version_id, content_hash = rows[0][:4]
    if (owner_id is not None and wf_owner != owner_id) or (require_active and not active):
        return None
    workflow, candidates = _parsed_by_hash(connection, workflow_id, version_id, content_hash, trigger_type)
    if method is not None:  # a trigger whose params list its HTTP methods (webhook) takes only those
        candidates = [(n, p) for n, p in candidates if method in (getattr(p, "methods", None) or (method,))]
    if path is not None:
        exact = [(n, p) for n, p in candidates if getattr(p, path_param, "").strip("/") == path.strip("/")]
        candidates = exact or [(n, p) for n, p in candidates if not getattr(p, path_param, "")]
    if not candidates:
        return None
    node, params = candidates[0]
    secret = next(
        (StoredSecret(workflow_id, r.node_id, r.kind, r.value) for r in rows if r.node_id == node.id), None
    )
    return TriggerTarget(workflow_id, wf_owner, version_id, workflow, node, params), secret


def find_trigger(
    session: Session,
    workflow_id: str,
    trigger_type: str,
    *,
    path: str | None = None,
    owner_id: str | None = None,
    require_active: bool = True,
) -> TriggerTarget | None:
    """``resolve`` in ``session``'s transaction, without the secret."""
    found = resolve(
        session.connection(),
        workflow_id,
        trigger_type,
        path=path,
        owner_id=owner_id,
        require_active=require_active,
    )
    return found[0] if found is not None else None


def accept(
    connection: Session | Connection,
    target: TriggerTarget,
    payload: Any,
    *,
    dedup_key: str | None = None,
    event_id: str | None = None,
) -> inbox.Accepted:
    """Store the event for ``target`` and commit; the caller answers 2xx only after this returns.

    Takes an ORM session or, on the webhook hot path, a plain Core connection. A new event wakes an
    idle worker (``dispatch.notify``)."""
    accepted = inbox.accept_event(
        connection,
        workflow_id=target.workflow_id,
        owner_id=target.owner_id,
        version_id=target.version_id,
        trigger_node_id=target.node.id,
        payload=payload,
        dedup_key=dedup_key,
        event_id=event_id,
    )
    connection.commit()
    if accepted.created:
        notify.publish(notify.INBOX, connection=connection if isinstance(connection, Connection) else None)
    return accepted
