"""The Dagster instance every ConnectFlow process shares.

``get_instance()`` points ``DAGSTER_HOME`` at ``$CONNECTFLOW_HOME/dagster`` (unless set), installs the
project's ``dagster.yaml`` there and returns the instance. ``ConnectFlowStorage`` is the storage that
``dagster.yaml`` names: it follows ``CONNECTFLOW_DATABASE_URL`` (PostgreSQL via dagster-postgres) and
otherwise uses SQLite under ``CONNECTFLOW_HOME`` with one consolidated event-log database.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance

from connectflow_dagster.config import get_settings
from connectflow_dagster.dagster_private import ConfigurableClass, ConfigurableClassData, DagsterStorage

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
_lock = threading.Lock()


class ConnectFlowStorage(DagsterStorage, ConfigurableClass):
    """Run, event-log and schedule storage chosen by ``CONNECTFLOW_DATABASE_URL``."""

    def __init__(self, inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        settings = get_settings()
        if settings.uses_postgres:
            from connectflow_dagster.postgres_storage import BatchedPostgresStorage

            self._delegate: Any = BatchedPostgresStorage(settings.resolved_database_url)
            # dagster-postgres opens a new TCP connection per event (~9 ms each, DESIGN.md); pool them
            # the way dagster-webserver does for itself. See docs/decisions.md.
            for storage in (
                self._delegate.run_storage,
                self._delegate.event_log_storage,
                self._delegate.schedule_storage,
            ):
                storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
        else:
            from connectflow_dagster.sqlite_storage import TunedSqliteStorage

            self._delegate = TunedSqliteStorage(str(settings.dagster_home / "storage"))
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Any) -> ConnectFlowStorage:
        return cls(inst_data=inst_data)

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        self._delegate.register_instance(instance)

    @property
    def event_log_storage(self):  # type: ignore[no-untyped-def]
        return self._delegate.event_log_storage

    @property
    def run_storage(self):  # type: ignore[no-untyped-def]
        return self._delegate.run_storage

    @property
    def schedule_storage(self):  # type: ignore[no-untyped-def]
        return self._delegate.schedule_storage

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return self._delegate.event_storage_data

    @property
    def run_storage_data(self) -> ConfigurableClassData | None:
        return self._delegate.run_storage_data

    @property
    def schedule_storage_data(self) -> ConfigurableClassData | None:
        return self._delegate.schedule_storage_data

    def dispose(self) -> None:
        self._delegate.dispose()

    def alembic_version(self):  # type: ignore[no-untyped-def]
        return self._delegate.alembic_version()


def prepare_dagster_home() -> Path:
    """Make ``DAGSTER_HOME`` exist with the project's ``dagster.yaml``; export it for child processes."""
    settings = get_settings()
    home = settings.dagster_home
    target = home / "dagster.yaml"
    managed = "DAGSTER_HOME" not in os.environ or Path(os.environ["DAGSTER_HOME"]) == home
    if PROJECT_DAGSTER_YAML.exists():
        wanted = PROJECT_DAGSTER_YAML.read_text()
        if not target.exists() or (managed and target.read_text() != wanted):
            target.write_text(wanted)
    elif not target.exists():
        target.write_text(
            yaml.safe_dump(
                {
                    "storage": {
                        "custom": {
                            "module": "connectflow_dagster.instance",
                            "class": "ConnectFlowStorage",
                            "config": {},
                        }
                    }
                }
            )
        )
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["CONNECTFLOW_HOME"] = str(settings.home_dir)
    if settings.database_url:
        os.environ["CONNECTFLOW_DATABASE_URL"] = settings.database_url
    return home


_instances: dict[tuple[str, str], DagsterInstance] = {}


def get_instance() -> DagsterInstance:
    """The shared Dagster instance of this process (created once per configuration)."""
    with _lock:
        home = prepare_dagster_home()
        key = (str(home), get_settings().resolved_database_url)
        if key not in _instances:
            _instances[key] = DagsterInstance.get()
        return _instances[key]


def reset_instance() -> None:
    """Dispose of cached instances (tests switch homes and databases)."""
    with _lock:
        for instance in _instances.values():
            instance.dispose()
        _instances.clear()
