"""Settings of trigger ingest and dispatch, read from the environment (``CONNECTFLOW_*``)."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DispatchSettings(BaseSettings):
    """How accepted trigger events become Dagster runs."""

    model_config = SettingsConfigDict(env_prefix="CONNECTFLOW_", extra="ignore")

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
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Largest accepted trigger body.")
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
    trigger_key: str | None = Field(
        default=None,
        description="Server key for API-key hashes and trigger secrets; default: a random key kept "
        "in $CONNECTFLOW_HOME/trigger.key (mode 0600).",
    )


@functools.cache
def get_dispatch_settings() -> DispatchSettings:
    """The dispatch settings of this process (cached; tests call ``cache_clear()``)."""
    return DispatchSettings()
