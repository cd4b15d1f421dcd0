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
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every ConnectFlow setting, one object, in sections (engine, every surface, gateway, dispatch).

    ``env`` = ``production`` refuses embedded secrets. Each field is the environment variable
    ``CONNECTFLOW_<FIELD>`` (e.g. ``max_body_bytes`` ← ``CONNECTFLOW_MAX_BODY_BYTES``).
    """

    model_config = SettingsConfigDict(env_prefix="CONNECTFLOW_", extra="ignore")

    home: Path = Field(default=Path(".connectflow"), description="Data directory of the embedded default.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; PostgreSQL in production.")
    env: str = Field(default="development", description="development | production")
    secret_key: SecretStr | None = Field(
        default=None, description="Credential encryption key(s), comma-separated."
    )
    trigger_key: SecretStr | None = Field(
        default=None,
        description="Server key for API-key and token hashes and trigger secrets; default: a random key "
        "kept in $CONNECTFLOW_HOME/trigger.key (mode 0600).",
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

    # ---- items: loops over lists (nodes/loop.py) -------------------------------------------------------
    items_max: int = Field(
        default=10_000,
        gt=0,
        description="Most items one loop (or filter) accepts; a longer list fails the node with a clear "
        "error. A loop's `max_items` param may lower it, never raise it.",
    )
    items_concurrency: int = Field(
        default=4, ge=1, description="Items a loop processes at the same time when its node does not say."
    )
    items_max_concurrency: int = Field(
        default=32, ge=1, description="Upper bound of a loop's `concurrency` param (threads of one run)."
    )

    # ---- code nodes -----------------------------------------------------------------------------------------
    code_memory_mb: int = Field(
        default=128, ge=8, le=4096, description="Memory limit of one JavaScript or Python code node run."
    )
    code_max_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Largest time limit a code node may set (its default: 10 s)."
    )
    python_code: Literal["on", "off"] = Field(
        default="off",
        description="Allow the Python code node (for trusted authors only: it runs arbitrary Python in a "
        "resource-limited child process, not a security sandbox).",
    )

    # ---- every surface ---------------------------------------------------------------------------------
    max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest request body (trigger ingest and API): larger gets 413."
    )
    log_level: str = Field(
        default="WARNING",
        description="Console log level of runs and of worker processes (the event log keeps everything).",
    )

    # ---- gateway: sign-in, cookies, accounts, OAuth providers -------------------------------------------
    session_days: int = Field(default=14, gt=0, description="How long a sign-in lasts.")
    cookie_secure: bool | None = Field(
        default=None, description="Secure cookies; default: when the request or public URL is https."
    )
    sign_in_attempts: int = Field(default=10, gt=0, description="Failed sign-ins allowed per window.")
    sign_in_window_seconds: int = Field(default=300, gt=0)
    signup: Literal["open", "invite", "closed"] = Field(
        default="invite",
        description="Who may create an account once the first one (the owner) exists: anyone (open), "
        "holders of an administrator's invitation (invite), nobody (closed).",
    )
    sign_up_attempts: int = Field(
        default=10, gt=0, description="Sign-up attempts allowed per client address."
    )
    sign_up_window_seconds: int = Field(default=3600, gt=0)
    invitation_days: int = Field(default=7, gt=0, description="How long an invitation link stays usable.")

    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_oauth_url: str = Field(
        default="https://github.com/login/oauth", description="Authorize/token endpoints' base."
    )
    github_api_url: str = "https://api.github.com"

    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"

    # ---- dispatch: how accepted trigger events become runs ----------------------------------------------
    dispatch: Literal["worker", "sensor"] = Field(
        default="worker",
        description="worker: warm `connectflow worker` processes run events in-process (default); "
        "sensor: a Dagster sensor submits them to the instance's run coordinator and launcher.",
    )
    lease_seconds: float = Field(
        default=30.0, gt=0, description="A claimed event returns to the queue if its worker stops renewing."
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Executions of one event, counting retries after a worker died."
    )
    retry_delay_seconds: float = Field(default=1.0, ge=0, description="Wait before retrying a crashed event.")
    listen_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="How long 'Listen for test event' keeps a test URL open."
    )
    wait_sleep_seconds: float = Field(
        default=5.0,
        ge=0,
        description="A Wait node this short (or shorter) sleeps in its run; a longer one suspends the run "
        "and a continuation run resumes it (no worker is held).",
    )
    safety_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Idle workers, after-run webhooks and live-event streams wake on notifications; "
        "they also look again after this long in case a notification was lost.",
    )
    notifications: bool = Field(
        default=True,
        description="Send wake-up notifications (LISTEN/NOTIFY on PostgreSQL, a local channel under "
        "CONNECTFLOW_HOME on SQLite). Off: everything still runs, found by the safety poll.",
    )
    sensor_batch: int = Field(default=50, ge=1, description="Events the sensor submits per evaluation.")
    # ---- AI assistant (connectflow_dagster/assistant) ----
    assistant_model: str = Field(
        default="",
        description="litellm model the assistant generates workflows with, e.g. 'openai/gpt-4o-mini'; "
        "empty: no generation (template matching only).",
    )
    assistant_classifier_model: str = Field(
        default="", description="litellm model that classifies requests; empty: the rules-based classifier."
    )
    assistant_api_base: str = Field(default="", description="API root for the assistant's models (optional).")
    assistant_api_key: SecretStr | None = Field(
        default=None, description="API key for the assistant's models."
    )
    assistant_fallback_model: str = Field(
        default="", description="litellm model tried when the main one fails (provider error or timeout)."
    )
    assistant_fallback_api_base: str = Field(default="", description="API root of the fallback model.")
    assistant_fallback_api_key: SecretStr | None = Field(default=None, description="API key of the fallback.")
    assistant_max_repairs: int = Field(
        default=2, ge=0, le=5, description="Rounds that feed validation problems back to the model."
    )
    assistant_timeout_seconds: float = Field(
        default=90.0, gt=0, le=600, description="Seconds one model call may take before the fallback."
    )

    @property
    def oauth_providers(self) -> list[str]:
        """Providers whose client id and secret are both configured."""
        out = []
        if self.github_client_id and self.github_client_secret:
            out.append("github")
        if self.google_client_id and self.google_client_secret:
            out.append("google")
        return out

    @property
    def home_dir(self) -> Path:
        """``CONNECTFLOW_HOME``, created (or tightened) to 0700: it holds keys, the SQLite database and
        run files, which only the account running ConnectFlow may read."""
        return private_dir(self.home.expanduser().resolve())

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
        if os.environ.get("DAGSTER_HOME"):
            path = Path(os.environ["DAGSTER_HOME"])
            path.mkdir(parents=True, exist_ok=True)
            return path
        return private_dir(self.home_dir / "dagster")

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


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700), created if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError:  # not ours to change (a shared mount): leave it, the files inside are 0600
        pass
    return path


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
