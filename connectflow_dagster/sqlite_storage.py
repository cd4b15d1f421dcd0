"""SQLite Dagster storage tuned for the embedded default.

Stock Dagster SQLite keeps one event-log database per run and opens a new engine per event. This
uses the consolidated event log (one database), WAL and ``synchronous=NORMAL``. Measurements that
drove it: docs/decisions.md.
"""

from __future__ import annotations

import os

from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage


class TunedSqliteStorage(DagsterSqliteStorage):
    def __init__(self, base_dir: str):
        os.makedirs(base_dir, exist_ok=True)
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(os.path.join(base_dir, "history"))
        self._event_log_storage = ConsolidatedSqliteEventLogStorage(os.path.join(base_dir, "event_logs"))
        self._schedule_storage = SqliteScheduleStorage.from_local(os.path.join(base_dir, "schedules"))
        self._inst_data = None
        super(DagsterSqliteStorage, self).__init__()
