"""Workflows and their versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, field_validator

from connectflow_dagster import spec
from gateway.limits import check_untrusted_value
from gateway.schemas.common import ProblemPublic, RequestBody

Name = Field(min_length=1, max_length=200)


class WorkflowCreate(RequestBody):
    """A new workflow; a readable name is generated when none is given."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    nodes: list[spec.Node] = Field(default_factory=list, max_length=spec.MAX_NODES)
    edges: list[spec.Edge] = Field(default_factory=list, max_length=spec.MAX_EDGES)
    settings: spec.WorkflowSettings = Field(default_factory=spec.WorkflowSettings)
    notes: list[spec.StickyNote] = Field(default_factory=list, max_length=spec.MAX_NOTES)
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Data other tools keep with the workflow (n8n import)."
    )

    @field_validator("meta", mode="before")
    @classmethod
    def _meta_depth(cls, value: Any) -> Any:
        if spec.json_depth(value, spec.MAX_PARAMS_DEPTH) > spec.MAX_PARAMS_DEPTH:
            raise ValueError(f"meta is nested deeper than {spec.MAX_PARAMS_DEPTH} levels")
        return value


class WorkflowSave(WorkflowCreate):
    """The whole workflow, saved as a new immutable version. ``id``, if sent, must be the URL's."""

    id: str | None = Field(default=None, pattern=spec.ID_PATTERN)


class WorkflowUpdate(RequestBody):
    """Rename."""

    name: str = Name


class WorkflowSummary(BaseModel):
    id: str
    name: str
    version: int | None = Field(description="Number of the current version.")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class WorkflowPublic(WorkflowSummary):
    spec: dict[str, Any] = Field(description="The workflow document of the current version.")
    problems: list[ProblemPublic] = Field(
        default_factory=list, description="What must be fixed before it can run (empty when valid)."
    )
    version_created: bool | None = Field(
        default=None, description="On save: whether the content differed from every earlier version."
    )
    runnable: bool = Field(default=False, description="True when ``problems`` is empty.")
    dagster_job: str | None = Field(
        default=None,
        description="The current version's job in the Dagster code location (``wf_<id>__v<N>``); "
        "null when the version does not compile, which leaves it out of the location.",
    )


class WorkflowsPublic(BaseModel):
    data: list[WorkflowSummary]
    count: int


class VersionPublic(BaseModel):
    number: int
    content_hash: str
    created_at: dt.datetime
    current: bool


class VersionDetail(VersionPublic):
    spec: dict[str, Any]


class VersionsPublic(BaseModel):
    data: list[VersionPublic]
    count: int


class ExecuteRequest(RequestBody):
    input: Any = Field(default=None, description="JSON handed to the trigger as its input.")

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Any) -> Any:
        check_untrusted_value(value)  # NaN/Infinity, lone surrogates, nesting deeper than 64: 422
        return value

    trigger_node_id: str | None = Field(default=None, description="Which trigger fires (default: the first).")


class ExecutionStarted(BaseModel):
    execution_id: str
    workflow_id: str
    version: int
    status: str


class ImportedWorkflow(BaseModel):
    id: str
    name: str
    version: int
    report: dict[str, Any] = Field(description="What was mapped, approximated, not supported; expressions.")


class ImportedWorkflows(BaseModel):
    workflows: list[ImportedWorkflow]


class TestUrl(BaseModel):
    node_id: str
    type: str
    url: str


class ListenState(BaseModel):
    """ "Listen for test event": whether the workflow's test URLs accept a call now, until when, and
    the execution the last test call started."""

    workflow_id: str
    listening: bool
    listening_until: dt.datetime | None = None
    execution_id: str | None = Field(default=None, description="Started by the last test call.")
    test_urls: list[TestUrl] = Field(default_factory=list)
