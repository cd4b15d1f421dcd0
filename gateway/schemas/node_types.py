"""The node catalogue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class NodeTypePublic(BaseModel):
    type: str
    version: int
    display_name: str
    group: str
    description: str
    icon: str
    outputs: list[str]
    params_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    credential_type: str | None
    ingress: dict[str, Any] | None = Field(
        default=None,
        description="Triggers called over HTTP: URL template, secret kind, body format and what the "
        "editor's trigger panel shows (connectflow_dagster/nodes/ingress.py).",
    )


class NodeTypesPublic(BaseModel):
    data: list[NodeTypePublic]
    count: int


class HealthPublic(BaseModel):
    status: str
    version: str
    database: str
    migrations: str
    dagster_storage: str
