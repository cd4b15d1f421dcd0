"""wait: what a Respond to Webhook node answered, for the gateway holding the caller's connection

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 02:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cf_webhook_responses",
        sa.Column("execution_id", sa.String(length=64), primary_key=True),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cf_webhook_responses")
