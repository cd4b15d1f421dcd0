"""assistant: conversations, messages and the generation log

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cf_assistant_conversations",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "owner_id", sa.String(length=32), sa.ForeignKey("cf_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cf_assistant_conversations_owner_id", "cf_assistant_conversations", ["owner_id"])
    op.create_table(
        "cf_assistant_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(length=32),
            sa.ForeignKey("cf_assistant_conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cf_assistant_messages_conversation_id", "cf_assistant_messages", ["conversation_id"])
    op.create_table(
        "cf_assistant_generations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "owner_id", sa.String(length=32), sa.ForeignKey("cf_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "conversation_id",
            sa.String(length=32),
            sa.ForeignKey("cf_assistant_conversations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cf_assistant_generations_owner_id", "cf_assistant_generations", ["owner_id"])
    op.create_index(
        "ix_cf_assistant_generations_conversation_id", "cf_assistant_generations", ["conversation_id"]
    )


def downgrade() -> None:
    op.drop_table("cf_assistant_generations")
    op.drop_table("cf_assistant_messages")
    op.drop_table("cf_assistant_conversations")
