"""runpath: an inbox event may be a re-execution (retry from failure) of an earlier run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cf_trigger_inbox") as batch:
        batch.add_column(sa.Column("parent_run_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cf_trigger_inbox") as batch:
        batch.drop_column("parent_run_id")
