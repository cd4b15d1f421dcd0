"""wait: Wait nodes that suspended their run, resumed by a continuation run

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cf_waits",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("webhook", sa.Boolean(), nullable=False),
        sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("continuation_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_cf_waits_execution_status", "cf_waits", ["execution_id", "status"])
    op.create_index("ix_cf_waits_run_id", "cf_waits", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_cf_waits_run_id", table_name="cf_waits")
    op.drop_index("ix_cf_waits_execution_status", table_name="cf_waits")
    op.drop_table("cf_waits")
