"""Assistant history: conversations (titled from the first message), their messages and the
generation log, always scoped to their owner (another user's conversation is "not found")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from connectflow_dagster.assistant.pipeline import Answer
from connectflow_dagster.store.models import AssistantConversation, AssistantGeneration, AssistantMessage

MAX_TITLE = 80
MAX_LOG_CHARS = 100_000


class ConversationNotFound(LookupError):
    pass


def title_for(message: str) -> str:
    words = " ".join(message.split())
    return words if len(words) <= MAX_TITLE else words[: MAX_TITLE - 1].rsplit(" ", 1)[0] + "…"


def list_conversations(session: Session, owner_id: str) -> list[AssistantConversation]:
    return list(
        session.scalars(
            select(AssistantConversation)
            .where(AssistantConversation.owner_id == owner_id)
            .order_by(AssistantConversation.updated_at.desc())
        )
    )


def create_conversation(session: Session, owner_id: str, title: str | None = None) -> AssistantConversation:
    row = AssistantConversation(owner_id=owner_id, title=title_for(title) if title else "New conversation")
    session.add(row)
    session.flush()
    return row


def get_conversation(session: Session, owner_id: str, conversation_id: str) -> AssistantConversation:
    row = session.get(AssistantConversation, conversation_id)
    if row is None or row.owner_id != owner_id:
        raise ConversationNotFound(conversation_id)
    return row


def delete_conversation(session: Session, owner_id: str, conversation_id: str) -> None:
    row = get_conversation(session, owner_id, conversation_id)
    session.execute(delete(AssistantMessage).where(AssistantMessage.conversation_id == row.id))
    session.execute(
        update(AssistantGeneration)
        .where(AssistantGeneration.conversation_id == row.id)
        .values(conversation_id=None)
    )
    session.execute(delete(AssistantConversation).where(AssistantConversation.id == row.id))
    session.flush()


def messages(session: Session, conversation_id: str) -> list[AssistantMessage]:
    return list(
        session.scalars(
            select(AssistantMessage)
            .where(AssistantMessage.conversation_id == conversation_id)
            .order_by(AssistantMessage.id)
        )
    )


def current_workflow(session: Session, conversation_id: str) -> dict[str, Any] | None:
    """The last workflow the assistant proposed in this conversation (what a change request edits)."""
    for message in reversed(messages(session, conversation_id)):
        if message.role == "assistant" and (message.meta or {}).get("workflow"):
            return dict(message.meta["workflow"])
    return None


def record(
    session: Session,
    owner_id: str,
    conversation: AssistantConversation | None,
    request: str,
    answer: Answer,
    credits: int,
) -> AssistantMessage | None:
    """Store the exchange (when in a conversation) and every model call in the generation log."""
    for g in answer.generations:
        session.add(
            AssistantGeneration(
                owner_id=owner_id,
                conversation_id=conversation.id if conversation else None,
                purpose=g.purpose,
                prompt=g.prompt[:MAX_LOG_CHARS],
                result=g.result[:MAX_LOG_CHARS],
                model=g.model[:200],
                status=g.status,
                latency_ms=g.latency_ms,
                tokens=g.tokens,
            )
        )
    if conversation is None:
        session.flush()
        return None
    if not messages(session, conversation.id) and conversation.title == "New conversation":
        conversation.title = title_for(request)
    session.add(AssistantMessage(conversation_id=conversation.id, role="user", content=request, meta={}))
    meta = {**answer.to_dict(), "credits": credits}
    meta.pop("message")
    reply = AssistantMessage(
        conversation_id=conversation.id, role="assistant", content=answer.message, meta=meta
    )
    session.add(reply)
    conversation.updated_at = reply.created_at = _now()
    session.flush()
    return reply


def generations(session: Session, owner_id: str, limit: int = 100) -> list[AssistantGeneration]:
    return list(
        session.scalars(
            select(AssistantGeneration)
            .where(AssistantGeneration.owner_id == owner_id)
            .order_by(AssistantGeneration.id.desc())
            .limit(limit)
        )
    )


def _now() -> Any:
    from connectflow_dagster.store.models import utcnow

    return utcnow()


# ---- credits ------------------------------------------------------------------------------------------

CreditHook = Callable[[str, str], int]
"""``hook(owner_id, kind) -> credits charged``; raises ``CreditsExhausted`` to refuse."""


class CreditsExhausted(Exception):
    """The billing hook refused the interaction (no credits left)."""


def _no_billing(owner_id: str, kind: str) -> int:
    return 0


_credit_hook: CreditHook = _no_billing


def set_credit_hook(hook: CreditHook | None) -> None:
    """Install the billing issue's check/charge hook (``None``: billing off, a no-op)."""
    global _credit_hook
    _credit_hook = hook or _no_billing


def charge(owner_id: str, kind: str) -> int:
    """Check and charge one interaction; called once per interaction, before any model call."""
    return _credit_hook(owner_id, kind)


# ---- prompts (administrators' edits, with their history) ---------------------------------------------

MAX_PROMPT_CHARS = 50_000


def prompt_overrides(session: Session) -> dict[str, str]:
    """The prompts administrators edited: name → the latest version's body."""
    from connectflow_dagster.store.models import AssistantPrompt

    out: dict[str, str] = {}
    for row in session.scalars(
        select(AssistantPrompt).order_by(AssistantPrompt.name, AssistantPrompt.version)
    ):
        out[row.name] = row.body
    return out


def prompt_history(session: Session, name: str) -> list[Any]:
    from connectflow_dagster.store.models import AssistantPrompt

    return list(
        session.scalars(
            select(AssistantPrompt)
            .where(AssistantPrompt.name == name)
            .order_by(AssistantPrompt.version.desc())
        )
    )


def save_prompt(session: Session, name: str, body: str, author_id: str) -> Any:
    """A new version of prompt ``name`` (in effect for the next interaction)."""
    from connectflow_dagster.assistant.library import PROMPT_NAMES
    from connectflow_dagster.store.models import AssistantPrompt

    if name not in PROMPT_NAMES:
        raise KeyError(name)
    latest = prompt_history(session, name)
    row = AssistantPrompt(
        name=name, body=body, version=(latest[0].version + 1) if latest else 1, author_id=author_id
    )
    session.add(row)
    session.flush()
    return row
