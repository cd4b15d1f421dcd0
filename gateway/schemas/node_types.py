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
    outputs: list[str] = Field(
        description="Output handles; with outputs_from, the fixed ones after the per-rule ones."
    )
    outputs_from: dict[str, Any] | None = Field(
        default=None,
        description="Outputs that depend on the node's params (Switch): one per entry of the list param "
        "`param`, named by the entry's `key` field (or its index), then the handles in `then`.",
    )
    items: str | None = Field(
        default=None,
        description="'split': the nodes after it run once per item (Loop Over Items); 'collect': gathers "
        "a loop's items back into one list (Aggregate). docs/items.md.",
    )
    params_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    credential_type: str | None
    credential_types: list[str] = Field(
        default_factory=list,
        description="Every credential type the node can use (the HTTP Request: one per authentication).",
    )
    enabled: bool = Field(
        default=True, description="False: turned off on this server (the Python code node until enabled)."
    )
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
