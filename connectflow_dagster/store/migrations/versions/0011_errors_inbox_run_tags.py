"""errors: extra run tags per inbox event (sub-workflow and error-workflow links)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cf_trigger_inbox") as batch:
        batch.add_column(sa.Column("run_tags", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cf_trigger_inbox") as batch:
        batch.drop_column("run_tags")
