"""Wait: pause the execution for a time, until a time, or until its resume URL is called.

A wait longer than ``CONNECTFLOW_WAIT_SLEEP_SECONDS`` (default 5 s) holds no worker: the node
suspends the run (``Suspend``), the run ends, and a continuation run resumes from this node later
(``connectflow_dagster/waits.py``; docs/decisions.md "Wait: continuation runs"). A shorter time wait
simply sleeps in the run.

- ``after_interval``: ``amount`` × ``unit`` from now;
- ``at_time``: an ISO 8601 date-time (``2026-12-24T18:00:00+01:00``; without an offset: UTC);
- ``webhook``: until the execution's resume URL is called — ``{{ execution.resume_url }}`` in any
  node's params, e.g. an e-mail *before* the Wait; the call's body, query, headers and method become
  this node's output. ``limit_seconds`` resumes it anyway after that long (``timed_out: true``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params, Suspend

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_WAIT_SECONDS = 366 * 86400


class WaitParams(Params):
    resume: Literal["after_interval", "at_time", "webhook"] = Field(
        default="after_interval",
        description="Resume after an interval, at a time, or on a call of the resume URL.",
    )
    amount: float = Field(
        default=1.0, ge=0, le=MAX_WAIT_SECONDS, description="after_interval: how many units."
    )
    unit: Literal["seconds", "minutes", "hours", "days"] = "seconds"
    at: str | None = Field(
        default=None, max_length=64, description="at_time: ISO 8601 date-time (UTC without offset)."
    )
    limit_seconds: float | None = Field(
        default=None, gt=0, le=MAX_WAIT_SECONDS, description="webhook: resume anyway after this long."
    )

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: str | None) -> str | None:
        if value is not None and "{" not in value:
            parse_time(value)
        return value


class WaitOutput(BaseModel):
    resumed_by: Literal["timer", "webhook"]
    resumed_at: str
    timed_out: bool = False
    body: Any = None
    query: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    method: str | None = None


def parse_time(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO 8601 date-time (e.g. 2026-12-24T18:00:00+01:00)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sleep_threshold() -> float:
    from connectflow_dagster.config import get_settings

    return get_settings().wait_sleep_seconds


def execute(params: WaitParams, ctx: NodeContext) -> WaitOutput:
    if ctx.resume is not None:  # a continuation run resuming this node
        data = ctx.resume if isinstance(ctx.resume, dict) else {}
        if data.get("resumed") == "timer":
            return WaitOutput(
                resumed_by="timer", resumed_at=_now().isoformat(), timed_out=params.resume == "webhook"
            )
        return WaitOutput(
            resumed_by="webhook",
            resumed_at=_now().isoformat(),
            body=data.get("body"),
            query=data.get("query") or {},
            headers=data.get("headers") or {},
            method=data.get("method"),
        )
    now = _now()
    if params.resume == "webhook":
        limit = now + dt.timedelta(seconds=params.limit_seconds) if params.limit_seconds else None
        raise Suspend(resume_at=limit, webhook=True)
    if params.resume == "at_time":
        if not params.at:
            raise ValueError("at_time needs 'at' (an ISO 8601 date-time)")
        until = parse_time(params.at)
    else:
        until = now + dt.timedelta(seconds=params.amount * UNITS[params.unit])
    seconds = (until - now).total_seconds()
    if seconds <= sleep_threshold():
        if seconds > 0:
            time.sleep(seconds)
        return WaitOutput(resumed_by="timer", resumed_at=_now().isoformat())
    raise Suspend(resume_at=until)


node = NodeType(
    type="wait",
    display_name="Wait",
    group="logic",
    description="Pause for a time, until a time, or until the execution's resume URL is called; "
    "a long wait holds no worker.",
    params=WaitParams,
    output=WaitOutput,
    execute=execute,
    icon="hourglass",
    suspends=True,
)
