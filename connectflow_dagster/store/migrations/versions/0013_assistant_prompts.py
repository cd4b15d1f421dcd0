"""assistant: administrators' versions of the named prompts (with their history)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 03:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cf_assistant_prompts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "author_id",
            sa.String(length=32),
            sa.ForeignKey("cf_users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version"),
    )
    op.create_index("ix_cf_assistant_prompts_name", "cf_assistant_prompts", ["name"])


def downgrade() -> None:
    op.drop_table("cf_assistant_prompts")
