"""Alembic environment: migrations run on the connection handed in by ``store.db.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from connectflow_dagster.store.db import VERSION_TABLE
from connectflow_dagster.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run_with(conn)
        return
    _run_with(connection)


def _run_with(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
