"""dagster-postgres storage whose event log commits a step's events in one transaction.

Dagster's own PostgreSQL run, event-log and schedule storages and schema, with the event log
extended by ``connectflow_dagster.event_batching.BatchedEventWrites``. Connection pooling is set up
by ``connectflow_dagster.instance.ConnectFlowStorage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from sqlalchemy import Connection

from connectflow_dagster.event_batching import BatchedEventWrites, SchemaChecksOnce


class BatchedPostgresEventLogStorage(BatchedEventWrites, PostgresEventLogStorage):
    """PostgreSQL event log; a step's events are one multi-row INSERT in one transaction."""

    @contextmanager
    def _batch_transaction(self) -> Iterator[Connection]:
        with self._connect() as conn:
            # the engine is AUTOCOMMIT; this one statement group must commit as a whole
            conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                yield conn


class SchemaCheckedPostgresRunStorage(SchemaChecksOnce, PostgresRunStorage):
    """PostgreSQL run storage that asks for its columns once per process, not once per run event."""


class BatchedPostgresStorage(DagsterPostgresStorage):
    """``DagsterPostgresStorage`` with the batched event log (same tables, same run/schedule storage)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True):
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = None
        self._run_storage = SchemaCheckedPostgresRunStorage(postgres_url, should_autocreate_tables)
        self._event_log_storage = BatchedPostgresEventLogStorage(postgres_url, should_autocreate_tables)
        self._schedule_storage = PostgresScheduleStorage(postgres_url, should_autocreate_tables)
        super(DagsterPostgresStorage, self).__init__()
