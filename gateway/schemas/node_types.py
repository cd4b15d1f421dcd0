"""The node catalogue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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


class NodeTypesPublic(BaseModel):
    data: list[NodeTypePublic]
    count: int


class HealthPublic(BaseModel):
    status: str
    version: str
    database: str
    migrations: str
    dagster_storage: str
