"""trigger secrets (cf_trigger_secrets): per-trigger signing / shared secrets, never in node params

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cf_trigger_secrets",
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "node_id"),
    )


def downgrade() -> None:
    op.drop_table("cf_trigger_secrets")
