"""Database engine, sessions and migrations for the app database.

SQLite (embedded default) gets WAL, ``synchronous=NORMAL`` and a busy timeout so the gateway and
workers can write concurrently; PostgreSQL is used as configured. ``migrate()`` brings the schema to
the Alembic head (version table ``cf_alembic_version``, beside Dagster's own ``alembic_version``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from connectflow_dagster.config import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "cf_alembic_version"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head (idempotent; safe to call at every start)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


_engines: dict[str, Engine] = {}
_current: tuple[object, Engine] | None = None  # (the Settings object it was resolved for, its engine)


def get_engine() -> Engine:
    """The migrated engine of the configured app database (one per URL per process).

    Resolving the URL touches the file system (the home directory is resolved and created), so the
    engine is remembered for the current ``Settings`` object: every request of the ingest path asks
    for it twice (docs/decisions.md, "Ingest hot path"). A new ``Settings`` (``get_settings.cache_clear()``)
    or ``reset_caches()`` resolves again.
    """
    global _current
    settings = get_settings()
    current = _current
    if current is not None and current[0] is settings:
        return current[1]
    url = settings.resolved_database_url
    with _lock:
        if url not in _engines:
            engine = make_engine(url)
            migrate(engine)
            _engines[url] = engine
        _current = (settings, _engines[url])
        return _engines[url]


@functools.cache
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _sessionmaker(get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_caches() -> None:
    """Dispose of every engine (tests switch databases between suites)."""
    global _current
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _current = None
    _sessionmaker.cache_clear()
