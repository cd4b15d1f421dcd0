"""Bases shared by every resource's schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """A request body: only declared fields (no owner, id or timestamps can be smuggled in)."""

    model_config = ConfigDict(extra="forbid")


class ProblemPublic(BaseModel):
    """One problem with a workflow, naming the node and field to fix."""

    message: str
    node_id: str | None = None
    field: str | None = None


class Message(BaseModel):
    detail: str
