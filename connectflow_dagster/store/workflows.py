"""Workflows and their immutable versions, always scoped to an owner.

``save_workflow`` writes a new ``WorkflowVersion`` only when the content hash changes, so saving the
same content twice creates nothing. Every read takes the owner: another user's workflow is simply
not found.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectflow_dagster import spec
from connectflow_dagster.errors import NotFound
from connectflow_dagster.store.models import (
    TriggerEvent,
    User,
    Workflow,
    WorkflowVersion,
    new_id,
    utcnow,
)

LOCAL_USER_EMAIL = "local@connectflow.invalid"

_ADJECTIVES = [
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fleet",
    "gentle",
    "hardy",
    "keen",
    "lucid",
    "mellow",
    "nimble",
    "quiet",
    "rapid",
    "steady",
    "tidy",
    "vivid",
    "witty",
]
_NOUNS = [
    "badger",
    "comet",
    "falcon",
    "harbor",
    "lantern",
    "maple",
    "otter",
    "pebble",
    "quartz",
    "river",
    "sparrow",
    "tulip",
    "willow",
    "zephyr",
]


def generated_name() -> str:
    """A readable name for a workflow created without one ("Brisk Falcon")."""
    return f"{random.choice(_ADJECTIVES).title()} {random.choice(_NOUNS).title()}"


@dataclass(frozen=True)
class SavedVersion:
    workflow: Workflow
    version: WorkflowVersion
    created: bool  # False when identical content already existed

    def spec(self) -> spec.Workflow:
        return version_spec(self.version)


def version_spec(version: WorkflowVersion) -> spec.Workflow:
    """The workflow document of a stored version (id filled in)."""
    return spec.Workflow.model_validate({**version.spec, "id": version.workflow_id})


def local_user(session: Session) -> User:
    """The owner of workflows run from the CLI or notebooks without signing in."""
    user = session.scalar(select(User).where(User.email == LOCAL_USER_EMAIL))
    if user is None:
        user = User(email=LOCAL_USER_EMAIL, name="Local user")
        session.add(user)
        session.flush()
    return user


def get_workflow(
    session: Session, owner_id: str, workflow_id: str, *, include_deleted: bool = False
) -> Workflow:
    wf = session.get(Workflow, workflow_id)
    if wf is None or wf.owner_id != owner_id or (wf.deleted_at is not None and not include_deleted):
        raise NotFound(f"workflow '{workflow_id}' not found")
    return wf


def list_workflows(
    session: Session, owner_id: str, *, search: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Workflow], int]:
    query = select(Workflow).where(Workflow.owner_id == owner_id, Workflow.deleted_at.is_(None))
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(func.lower(Workflow.name).like(like), Workflow.id.like(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Workflow.updated_at.desc(), Workflow.id).offset(offset).limit(limit)
    )
    return list(rows), total


def save_workflow(session: Session, owner_id: str, workflow: spec.Workflow) -> SavedVersion:
    """Save (or reuse) ``workflow`` for ``owner_id``; a new id is generated when it has none.

    A workflow id that exists but belongs to someone else is reported as not found, never taken over.
    """
    workflow_id = workflow.id or new_id()
    existing = session.get(Workflow, workflow_id)
    if existing is not None and existing.owner_id != owner_id:
        raise NotFound(f"workflow '{workflow_id}' not found")
    if existing is None:
        existing = Workflow(id=workflow_id, owner_id=owner_id, name=workflow.name)
        session.add(existing)
        session.flush()
    elif existing.deleted_at is not None:
        existing.deleted_at = None
    content_hash = workflow.content_hash()
    version = session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.content_hash == content_hash
        )
    )
    created = False
    if version is None:
        number = (
            session.scalar(
                select(func.max(WorkflowVersion.number)).where(WorkflowVersion.workflow_id == workflow_id)
            )
            or 0
        ) + 1
        version = WorkflowVersion(
            workflow_id=workflow_id, number=number, content_hash=content_hash, spec=workflow.content()
        )
        try:
            with session.begin_nested():  # a savepoint: losing a race must not undo the caller's work
                session.add(version)
        except IntegrityError:  # a concurrent save of the same content (or number) won; use theirs
            return save_workflow(session, owner_id, workflow)
        created = True
    if existing.current_version_id != version.id or existing.name != workflow.name:
        existing.current_version_id = version.id
        existing.name = workflow.name
        existing.updated_at = utcnow()
    session.flush()
    return SavedVersion(existing, version, created)


def current_version(session: Session, wf: Workflow) -> WorkflowVersion:
    if wf.current_version_id is None:
        raise NotFound(f"workflow '{wf.id}' has no saved version")
    version = session.get(WorkflowVersion, wf.current_version_id)
    assert version is not None
    return version


def get_version(session: Session, owner_id: str, workflow_id: str, number: int) -> WorkflowVersion:
    get_workflow(session, owner_id, workflow_id)
    version = session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"workflow '{workflow_id}' has no version {number}")
    return version


def version_by_id(session: Session, version_id: int) -> WorkflowVersion:
    version = session.get(WorkflowVersion, version_id)
    if version is None:
        raise NotFound(f"workflow version {version_id} not found")
    return version


def list_versions(session: Session, owner_id: str, workflow_id: str) -> list[WorkflowVersion]:
    get_workflow(session, owner_id, workflow_id)
    return list(
        session.scalars(
            select(WorkflowVersion)
            .where(WorkflowVersion.workflow_id == workflow_id)
            .order_by(WorkflowVersion.number.desc())
        )
    )


def restore_version(session: Session, owner_id: str, workflow_id: str, number: int) -> SavedVersion:
    """Make an old version current again (as a new save of its content, so history stays linear)."""
    version = get_version(session, owner_id, workflow_id, number)
    return save_workflow(session, owner_id, version_spec(version))


def rename_workflow(session: Session, owner_id: str, workflow_id: str, name: str) -> Workflow:
    wf = get_workflow(session, owner_id, workflow_id)
    wf.name = name
    wf.updated_at = utcnow()
    session.flush()
    return wf


def set_active(session: Session, owner_id: str, workflow_id: str, active: bool) -> Workflow:
    """Activate or deactivate: an inactive workflow's production triggers answer 404 (webhook,
    Stripe, form, API key) and its schedules are left out of the code location; manual executions,
    test URLs and waiting executions' resume URLs keep working."""
    wf = get_workflow(session, owner_id, workflow_id)
    if wf.active != active:
        wf.active = active
        wf.updated_at = utcnow()
    session.flush()
    return wf


def delete_workflow(session: Session, owner_id: str, workflow_id: str) -> None:
    """Soft-delete: history (runs pinned to versions) stays inspectable; triggers stop accepting."""
    wf = get_workflow(session, owner_id, workflow_id)
    wf.deleted_at = dt.datetime.now(dt.UTC)
    session.flush()


def active_workflows(session: Session) -> list[tuple[Workflow, WorkflowVersion]]:
    """Every live workflow with its current version (for the Dagster code location)."""
    rows = session.execute(
        select(Workflow, WorkflowVersion)
        .join(WorkflowVersion, WorkflowVersion.id == Workflow.current_version_id)
        .where(Workflow.deleted_at.is_(None))
        .order_by(Workflow.id)
    )
    return [(wf, v) for wf, v in rows]


def location_versions(session: Session) -> list[tuple[Workflow, WorkflowVersion]]:
    """The versions the Dagster code location lists: every live workflow's current version, and
    each older version that has an execution (an inbox event), so a run of it can be re-executed
    from the Dagster UI after the workflow was edited. A version saved and replaced without ever
    running is not listed (an editor makes many); it still resolves by name (``find_version``).

    One query; ``EXISTS`` walks the inbox's ``workflow_id`` index.
    """
    has_run = exists().where(
        TriggerEvent.workflow_id == WorkflowVersion.workflow_id,
        TriggerEvent.version_id == WorkflowVersion.id,
    )
    rows = session.execute(
        select(Workflow, WorkflowVersion)
        .join(WorkflowVersion, WorkflowVersion.workflow_id == Workflow.id)
        .where(
            Workflow.deleted_at.is_(None),
            or_(WorkflowVersion.id == Workflow.current_version_id, has_run),
        )
        .order_by(Workflow.id, WorkflowVersion.number)
    )
    return [(wf, v) for wf, v in rows]


def find_version(session: Session, workflow_id: str, number: int) -> WorkflowVersion | None:
    """Version ``number`` of a workflow, any owner, deleted or not (a queued run still executes it)."""
    return session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number
        )
    )
