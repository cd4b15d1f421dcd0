"""``/api/assistant``: the AI assistant's conversations, messages, one-shot generation and templates.

Every conversation belongs to its owner: another user gets 404. Each interaction goes through the
credit hook once (a no-op while billing is off). Model calls run in the threadpool.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.assistant import history, library
from connectflow_dagster.assistant.llm import with_user_credential
from connectflow_dagster.assistant.pipeline import MAX_REQUEST_CHARS, Answer, ModelConfig, assist
from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import CredentialError, NotFound
from connectflow_dagster.spec import MAX_NODES
from connectflow_dagster.store.credentials import decrypt_for_owner, get_credential
from connectflow_dagster.store.db import session_scope
from gateway.deps import AdminUser, CurrentUser, RegistryDep, SessionDep

router = APIRouter(prefix="/api/assistant", tags=["assistant"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it as bad input instead of failing on insert.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class _ModelChoice(_Body):
    credential_id: str | None = Field(
        default=None,
        max_length=64,
        description="One of your AI credentials (OpenAI, Anthropic, …) to generate with instead of the "
        "server's model.",
    )
    model: str | None = Field(default=None, max_length=200, description="Model name with credential_id.")


class MessageCreate(_ModelChoice):
    content: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS, description="What the user writes.")


class GenerateRequest(_ModelChoice):
    request: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    current: dict[str, Any] | None = Field(
        default=None, description="The workflow being edited, for a change request."
    )


class ConversationCreate(_Body):
    title: str | None = Field(default=None, max_length=200)


class ConversationPublic(BaseModel):
    id: str
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime


class MessagePublic(BaseModel):
    id: int
    role: str
    content: str
    meta: dict[str, Any]
    created_at: dt.datetime


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]


class ConversationsPublic(BaseModel):
    data: list[ConversationPublic]
    count: int


class AnswerPublic(BaseModel):
    intent: str
    confidence: float
    entities: dict[str, Any]
    message: str
    workflow: dict[str, Any] | None
    explanation: str
    credentials_needed: list[dict[str, str]]
    problems: list[str]
    valid: bool
    templates: list[dict[str, Any]]
    source: str
    model: str | None
    tokens: int
    latency_ms: int
    repairs: int
    diff: dict[str, Any] | None = None
    credits: int = 0


class ExchangePublic(BaseModel):
    conversation: ConversationPublic
    answer: AnswerPublic


def _conversation(row: Any) -> ConversationPublic:
    return ConversationPublic(
        id=row.id, title=row.title, created_at=row.created_at, updated_at=row.updated_at
    )


def _get(session: Any, user: Any, conversation_id: str) -> Any:
    try:
        return history.get_conversation(session, user.id, conversation_id)
    except history.ConversationNotFound:
        raise HTTPException(404, "conversation not found") from None


def _charge(user_id: str, kind: str) -> int:
    try:
        return history.charge(user_id, kind)
    except history.CreditsExhausted as exc:
        raise HTTPException(402, str(exc) or "no assistant credits left") from None


def _config(user_id: str, choice: _ModelChoice) -> ModelConfig:
    config = ModelConfig.from_settings(get_settings())
    if choice.credential_id is None:
        return config
    try:
        fields = decrypt_for_owner(user_id, choice.credential_id, None)
        with session_scope() as session:
            credential_type = get_credential(session, user_id, choice.credential_id).type
    except (CredentialError, NotFound):
        raise HTTPException(404, "credential not found") from None
    try:
        return with_user_credential(config, credential_type, fields, choice.model)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


async def _run(request: str, current: dict[str, Any] | None, registry: Any, config: ModelConfig) -> Answer:
    if current is not None and len(current.get("nodes") or []) > MAX_NODES:
        raise HTTPException(422, f"the current workflow has more than {MAX_NODES} nodes")
    with session_scope() as session:
        prompts = history.prompt_overrides(session)
    try:
        return await run_in_threadpool(
            assist, request, config, current=current, registry=registry, prompts=prompts
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/conversations", response_model=ConversationsPublic)
def list_conversations(session: SessionDep, user: CurrentUser) -> ConversationsPublic:
    rows = history.list_conversations(session, user.id)
    return ConversationsPublic(data=[_conversation(r) for r in rows], count=len(rows))


@router.post("/conversations", status_code=201, response_model=ConversationPublic)
def create_conversation(
    body: ConversationCreate, session: SessionDep, user: CurrentUser
) -> ConversationPublic:
    row = history.create_conversation(session, user.id, body.title)
    session.commit()
    return _conversation(row)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
def get_conversation(conversation_id: str, session: SessionDep, user: CurrentUser) -> ConversationDetail:
    row = _get(session, user, conversation_id)
    messages = [
        MessagePublic(id=m.id, role=m.role, content=m.content, meta=m.meta or {}, created_at=m.created_at)
        for m in history.messages(session, row.id)
    ]
    return ConversationDetail(**_conversation(row).model_dump(), messages=messages)


@router.delete("/conversations/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: str, session: SessionDep, user: CurrentUser) -> Response:
    _get(session, user, conversation_id)
    history.delete_conversation(session, user.id, conversation_id)
    session.commit()
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/messages", response_model=ExchangePublic)
async def post_message(
    conversation_id: str, body: MessageCreate, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> ExchangePublic:
    """Send a message; the answer (and the workflow it proposes) is stored in the conversation.
    A change request edits the last workflow the assistant proposed here."""
    row = _get(session, user, conversation_id)
    current = history.current_workflow(session, row.id)
    config = _config(user.id, body)
    credits = _charge(user.id, "message")
    answer = await _run(body.content, current, registry, config)
    history.record(session, user.id, row, body.content.strip(), answer, credits)
    session.commit()
    return ExchangePublic(
        conversation=_conversation(row), answer=AnswerPublic(**answer.to_dict(), credits=credits)
    )


@router.post("/generate", response_model=AnswerPublic)
async def generate(
    body: GenerateRequest, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> AnswerPublic:
    """One-shot: a request in, an answer out (kept in the generation log, not in a conversation)."""
    config = _config(user.id, body)
    credits = _charge(user.id, "generate")
    answer = await _run(body.request, body.current, registry, config)
    history.record(session, user.id, None, body.request, answer, credits)
    session.commit()
    return AnswerPublic(**answer.to_dict(), credits=credits)


@router.get("/templates")
def list_templates(user: CurrentUser, q: str | None = None) -> dict[str, Any]:
    """The template library (``q``: ranked by relevance to a request)."""
    if q:
        items = [
            {**m.template.summary(), "score": m.score}
            for m in library.match_templates(q[:MAX_REQUEST_CHARS], limit=20)
        ]
    else:
        items = [t.summary() for t in library.templates()]
    return {"data": items, "count": len(items)}


@router.get("/templates/{key}")
def get_template(key: str, user: CurrentUser) -> dict[str, Any]:
    found = library.template(key)
    if found is None:
        raise HTTPException(404, "template not found")
    return {**found.summary(), "workflow": found.workflow}


class PromptUpdate(_Body):
    body: str = Field(min_length=1, max_length=history.MAX_PROMPT_CHARS)


def _prompt_public(session: Any, name: str) -> dict[str, Any]:
    versions = history.prompt_history(session, name)
    return {
        "name": name,
        "body": versions[0].body if versions else library.prompt(name),
        "version": versions[0].version if versions else 0,
        "source": "database" if versions else "package",
    }


@router.get("/prompts")
def list_prompts(session: SessionDep, admin: AdminUser) -> dict[str, Any]:
    """The named prompts in effect (administrators only; 404 for others)."""
    items = [_prompt_public(session, name) for name in library.PROMPT_NAMES]
    return {"data": items, "count": len(items)}


@router.put("/prompts/{name}")
def update_prompt(name: str, body: PromptUpdate, session: SessionDep, admin: AdminUser) -> dict[str, Any]:
    """Save a new version of a prompt; in effect from the next interaction."""
    try:
        history.save_prompt(session, name, body.body, admin.id)
    except KeyError:
        raise HTTPException(404, "prompt not found") from None
    session.commit()
    return _prompt_public(session, name)


@router.get("/prompts/{name}/history")
def prompt_versions(name: str, session: SessionDep, admin: AdminUser) -> dict[str, Any]:
    if name not in library.PROMPT_NAMES:
        raise HTTPException(404, "prompt not found")
    rows = history.prompt_history(session, name)
    data = [
        {"version": r.version, "body": r.body, "author_id": r.author_id, "created_at": r.created_at}
        for r in rows
    ]
    return {"data": data, "count": len(data)}
