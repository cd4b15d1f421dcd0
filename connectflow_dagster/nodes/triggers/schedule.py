"""Schedule trigger: a cron expression in a timezone, run by a Dagster schedule.

Each tick puts an event in the trigger inbox (dedup key: the scheduled time, so a repeated tick
starts nothing) and the configured dispatcher runs it like any other trigger. Context:
``{scheduled_time, cron, timezone}``.
"""

from __future__ import annotations

import zoneinfo

from croniter import croniter
from pydantic import BaseModel, Field, field_validator

from connectflow_dagster.nodes.base import NodeType, Params
from connectflow_dagster.nodes.triggers import passthrough


class ScheduleParams(Params):
    cron: str = Field(
        description="Five-field cron expression, e.g. '0 9 * * 1-5'.", examples=["*/15 * * * *"]
    )
    timezone: str = Field(default="UTC", description="IANA timezone the cron expression is read in.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"'{value}' is not a five-field cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{value}'") from None
        return value


class ScheduleOutput(BaseModel):
    scheduled_time: str
    cron: str
    timezone: str


node = NodeType(
    type="trigger.schedule",
    display_name="Schedule",
    group="trigger",
    description="Starts the workflow on a cron schedule (run by Dagster's scheduler).",
    params=ScheduleParams,
    output=ScheduleOutput,
    execute=passthrough,
    icon="clock",
)
