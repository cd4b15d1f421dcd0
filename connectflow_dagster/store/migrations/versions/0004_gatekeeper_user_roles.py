"""user roles (cf_users.role): owner | admin | member; the first account becomes the owner

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The password-less account `connectflow run` used before accounts were real; never the owner.
_LOCAL_USER_EMAIL = "local@connectflow.invalid"


def upgrade() -> None:
    with op.batch_alter_table("cf_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="member"))
    # An existing installation: its earliest signed-up account is the owner (and so an administrator).
    op.execute(
        sa.text(
            "UPDATE cf_users SET role = 'owner' WHERE id = ("
            " SELECT id FROM cf_users WHERE email != :local ORDER BY created_at, id LIMIT 1)"
        ).bindparams(local=_LOCAL_USER_EMAIL)
    )
    op.create_index(
        "ux_cf_users_one_owner",
        "cf_users",
        ["role"],
        unique=True,
        sqlite_where=sa.text("role = 'owner'"),
        postgresql_where=sa.text("role = 'owner'"),
    )


def downgrade() -> None:
    op.drop_index("ux_cf_users_one_owner", table_name="cf_users")
    with op.batch_alter_table("cf_users", schema=None) as batch_op:
        batch_op.drop_column("role")
