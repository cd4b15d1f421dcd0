"""SQLite Dagster storage tuned for the embedded default.

Stock Dagster SQLite storage opens a new engine and connection for every event it writes (about six
events per op plus five per run) with the default ``synchronous=FULL``, and keeps one event-log
database per run. This storage keeps Dagster's own schema and classes but:

- uses the consolidated event log (one database for every run);
- reuses pooled connections per storage instead of a new engine per event;
- sets WAL, ``synchronous=NORMAL`` and a busy timeout on every connection (concurrent writers
  wait instead of failing with "database is locked");
- commits a step's events in one transaction and answers the run storage's schema checks once per
  process (``connectflow_dagster.event_batching``).

Measured effect: docs/decisions.md ("Tuned SQLite storage").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event

from connectflow_dagster.dagster_private import (
    ConsolidatedSqliteEventLogStorage,
    DagsterSqliteStorage,
    SqliteRunStorage,
    SqliteScheduleStorage,
)
from connectflow_dagster.event_batching import BatchedEventWrites, SchemaChecksOnce

BUSY_TIMEOUT_MS = 30_000
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def pooled_engine(conn_string: str) -> Engine:
    """One pooled engine per database file per process."""
    with _lock:
        engine = _engines.get(conn_string)
        if engine is None:
            engine = create_engine(
                conn_string,
                pool_size=8,
                max_overflow=16,
                pool_pre_ping=False,
                connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            )
            event.listen(engine, "connect", _pragmas)
            _engines[conn_string] = engine
        return engine


@contextmanager
def _transaction(conn_string: str) -> Iterator[Connection]:
    with pooled_engine(conn_string).connect() as conn, conn.begin():
        yield conn


class PooledEventLogStorage(BatchedEventWrites, ConsolidatedSqliteEventLogStorage):
    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with _transaction(self._conn_string) as conn:
            yield conn

    def _batch_transaction(self):  # type: ignore[no-untyped-def]
        return _transaction(self._conn_string)


class PooledRunStorage(SchemaChecksOnce, SqliteRunStorage):
    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _transaction(self._conn_string) as conn:
            yield conn


class PooledScheduleStorage(SqliteScheduleStorage):
    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _transaction(self._conn_string) as conn:
            yield conn


class TunedSqliteStorage(DagsterSqliteStorage):
    def __init__(self, base_dir: str):
        os.makedirs(base_dir, exist_ok=True)
        self.base_dir = base_dir
        self._run_storage = PooledRunStorage.from_local(os.path.join(base_dir, "history"))
        self._event_log_storage = PooledEventLogStorage(os.path.join(base_dir, "event_logs"))  # type: ignore[assignment]
        self._schedule_storage = PooledScheduleStorage.from_local(os.path.join(base_dir, "schedules"))
        self._inst_data = None
        super(DagsterSqliteStorage, self).__init__()

    def dispose(self) -> None:
        super().dispose()
        with _lock:
            for key in [k for k in _engines if self.base_dir in k]:
                _engines.pop(key).dispose()
