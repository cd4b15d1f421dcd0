"""wait: "listen for test event" — a workflow's test URL accepts one call while its editor listens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cf_workflows") as batch:
        batch.add_column(sa.Column("listening_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("test_execution_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cf_workflows") as batch:
        batch.drop_column("test_execution_id")
        batch.drop_column("listening_until")
