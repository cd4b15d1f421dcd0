"""App database tables (SQLAlchemy 2). Runs and events are *not* here: they live in Dagster storage.

Every table is prefixed ``cf_`` because in PostgreSQL the app and Dagster share one database, and
Dagster owns names such as ``runs``, ``jobs`` and ``alembic_version``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "cf_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # owner | admin | member (``store.users.ROLES``). Exactly one owner: the first account created.
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # At most one owner, even when two first sign-ups race (partial unique index, both backends).
        Index(
            "ux_cf_users_one_owner",
            "role",
            unique=True,
            sqlite_where=text("role = 'owner'"),
            postgresql_where=text("role = 'owner'"),
        ),
    )


class OAuthAccount(Base):
    __tablename__ = "cf_oauth_accounts"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthSession(Base):
    """A signed-in browser session; only a hash of the cookie token is stored."""

    __tablename__ = "cf_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Workflow(Base):
    __tablename__ = "cf_workflows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "Listen for test event" (store/listening.py): the test URL accepts one call until then; the
    # execution it started.
    listening_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    test_execution_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class WorkflowVersion(Base):
    """An immutable saved version: a run is pinned to one, so editing never changes a queued run."""

    __tablename__ = "cf_workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "content_hash"),
        UniqueConstraint("workflow_id", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("cf_workflows.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Credential(Base):
    """Secrets encrypted at rest (authenticated encryption); ``key_id`` names the key used."""

    __tablename__ = "cf_credentials"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """An API trigger key: shown once, stored as a keyed hash, scoped to one workflow."""

    __tablename__ = "cf_api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("cf_workflows.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PersonalAccessToken(Base):
    """A user's token for the management API (``Authorization: Bearer cf_pat_…``): shown once, stored
    as a keyed hash, limited to ``scopes`` (comma-separated ``read``, ``write``, ``execute``)."""

    __tablename__ = "cf_personal_access_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TriggerEvent(Base):
    """The trigger inbox: an accepted event, durably stored before any 2xx, run exactly once.

    ``id`` is also the Dagster run id of its execution. ``dedup_key`` is unique per workflow, so a
    redelivery finds the original row instead of starting a second run.
    """

    __tablename__ = "cf_trigger_inbox"
    __table_args__ = (
        UniqueConstraint("workflow_id", "dedup_key"),
        Index("ix_cf_trigger_inbox_claimable", "status", "available_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(64), index=True)
    owner_id: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int] = mapped_column(Integer)
    trigger_node_id: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # see dispatch/inbox.py
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    available_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set for a re-execution ("retry from failure"): the run whose failed steps this event re-runs.
    parent_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Extra Dagster tags of the event's run (JSON object): a sub-workflow's link to its caller, an
    # error workflow's to the failed run.
    run_tags: Mapped[str | None] = mapped_column(Text, nullable=True)


class TriggerSecret(Base):
    """The secret of one trigger node: encrypted (``kind='signing'``) or keyed-hashed (``'shared'``)."""

    __tablename__ = "cf_trigger_secrets"

    workflow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invitation(Base):
    """An administrator's invitation to sign up (``CONNECTFLOW_SIGNUP=invite``): a random token in a
    link, shown once; only its SHA-256 is stored. Bound to one e-mail address, used once, expires."""

    __tablename__ = "cf_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    created_by: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Wait(Base):
    """A Wait node that suspended its run (``connectflow_dagster/waits.py``): the run ended without the
    Wait's output, and a *continuation run* (a Dagster re-execution of the same versioned job from the
    Wait's step) resumes it when ``resume_at`` comes or the execution's resume URL is called.

    ``execution_id`` is the logical execution (the first run's id, what the caller holds and what the
    resume URL names); ``run_id`` the run that suspended (the continuation's parent). ``status``:
    ``waiting`` → ``resumed`` (``continuation_id`` set, once: a conditional update) or ``canceled``
    (the run that suspended did not succeed, or the execution was canceled)."""

    __tablename__ = "cf_waits"
    __table_args__ = (Index("ix_cf_waits_execution_status", "execution_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    workflow_id: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    webhook: Mapped[bool] = mapped_column(Boolean, default=False)
    resume_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    continuation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookResponse(Base):
    """What a Respond to Webhook node answered for an execution (``connectflow_dagster/responses.py``):
    the gateway, holding the webhook caller's connection, answers with it as soon as it is written.
    The first Respond node of an execution wins."""

    __tablename__ = "cf_webhook_responses"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AssistantConversation(Base):
    """A conversation with the AI assistant (``connectflow_dagster.assistant``); titled from its first
    message."""

    __tablename__ = "cf_assistant_conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="New conversation")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AssistantMessage(Base):
    """One message: ``role`` user | assistant; ``meta`` holds the answer's workflow, model, tokens,
    latency, repairs, credits."""

    __tablename__ = "cf_assistant_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("cf_assistant_conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AssistantGeneration(Base):
    """The generation log: every model call the assistant made (prompt, result, model, time, status)."""

    __tablename__ = "cf_assistant_generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("cf_users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("cf_assistant_conversations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AssistantPrompt(Base):
    """An administrator's version of a named assistant prompt; the highest ``version`` is in effect
    (none: the package's ``assistant/prompts/<name>.md``). Rows are never changed: they are the history."""

    __tablename__ = "cf_assistant_prompts"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("cf_users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
