"""One place for every setting, read from the environment (``CONNECTFLOW_*``).

The embedded default needs nothing: data lives under ``CONNECTFLOW_HOME`` (``./.connectflow``) in
SQLite files. Setting ``CONNECTFLOW_DATABASE_URL`` to a PostgreSQL URL moves both the app database and
Dagster's run/event storage there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide configuration. ``env`` = ``production`` refuses embedded secrets."""

    model_config = SettingsConfigDict(env_prefix="CONNECTFLOW_", extra="ignore")

    home: Path = Field(default=Path(".connectflow"), description="Data directory of the embedded default.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; PostgreSQL in production.")
    env: str = Field(default="development", description="development | production")
    secret_key: SecretStr | None = Field(
        default=None, description="Credential encryption key(s), comma-separated."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="Base URL users reach the gateway at.")
    dagster_ui_url: str | None = Field(
        default=None,
        description="Where run links point; default: the gateway's own /dagster/ (admin-only proxy).",
    )
    network_policy: str = Field(
        default="on",
        description="Outbound network policy for nodes and credential tests: 'on' refuses loopback, "
        "private, link-local and other internal addresses; 'off' only for single-user set-ups.",
    )
    network_allow: str = Field(
        default="",
        description="Comma-separated hosts and CIDRs nodes may reach despite the network policy, "
        "e.g. '10.0.0.0/8,smtp.internal'.",
    )
    admin_emails: str = Field(
        default="",
        description="Comma-separated e-mail addresses that are administrators besides the owner.",
    )

    @property
    def home_dir(self) -> Path:
        path = self.home.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_postgres_url(self.database_url)
        return f"sqlite:///{self.home_dir / 'connectflow.db'}"

    @property
    def uses_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def dagster_home(self) -> Path:
        path = Path(os.environ.get("DAGSTER_HOME") or self.home_dir / "dagster")
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def dagster_socket(self) -> Path:
        """The unix socket dagster-webserver listens on: only the gateway's /dagster/ proxy connects.

        Under the home directory; when that path is too long for a socket address (~107 bytes), in a
        per-user, per-home directory under the system temp directory instead.
        """
        path = self.home_dir / "run" / "dagster-ui.sock"
        if len(os.fsencode(path)) <= 100:
            return path
        digest = hashlib.sha256(os.fsencode(self.home_dir)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"connectflow-{os.getuid()}-{digest}" / "dagster-ui.sock"

    @property
    def admin_email_set(self) -> frozenset[str]:
        """``CONNECTFLOW_ADMIN_EMAILS`` as normalised (stripped, lower-case) addresses."""
        return frozenset(e.strip().lower() for e in self.admin_emails.split(",") if e.strip())


def normalize_postgres_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2, which dagster-postgres uses (a bare URL picks psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


@functools.cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
