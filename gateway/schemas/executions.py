"""Executions: Dagster runs of workflows, read from Dagster run storage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ItemStatusPublic(BaseModel):
    """One item of a node inside a loop: a Dagster mapped step ``<node>[<mapping_key>]``."""

    index: int = Field(description="The item's 0-based index in the loop's list (batch index with batches).")
    mapping_key: str = Field(description="Dagster's mapping key of the step (the index as text).")
    status: str
    output: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0
    on_error: str | None = None


class NodeStatusPublic(BaseModel):
    node_id: str
    name: str
    status: str = Field(description="pending | running | success | failed | skipped | retrying | not_run")
    variable: str | None = None
    output: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    attempts: int = 0
    on_error: str | None = Field(
        default=None,
        description="'continue' or 'error_output' when the node failed and its on_error let the run go on "
        "(error holds the message, output the error object).",
    )
    items: list[ItemStatusPublic] | None = Field(
        default=None,
        description="A node inside a loop (runs once per item): each item's status, output and error, "
        "in item order; status is then the worst of them (failed > retrying > running > success).",
    )
    items_summary: dict[str, int] | None = Field(
        default=None,
        description="Items by status, plus 'total' (the loop's item count) and 'on_error' (items that "
        "failed and went on), e.g. {'success': 3, 'failed': 1, 'total': 5}.",
    )


class ExecutionSummary(BaseModel):
    id: str
    workflow_id: str | None
    workflow_name: str | None = None
    status: str
    version: str | None
    trigger: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    parent_id: str | None = Field(default=None, description="The execution this one retried.")
    dagster_url: str = Field(description="This run in the Dagster UI.")


class ChildExecution(BaseModel):
    node_id: str = Field(description="The Execute Workflow node that started it.")
    execution_id: str


class ExecutionPublic(ExecutionSummary):
    resume_url: str | None = Field(
        default=None, description="While a Wait waits for a call: the URL that resumes it (keep it private)."
    )
    continuations: list[str] = Field(
        default_factory=list,
        description="Runs that continued this execution after a Wait (their nodes are merged in here).",
    )
    caller_id: str | None = Field(
        default=None, description="A sub-workflow's execution: the execution whose node called it."
    )
    children: list[ChildExecution] = Field(
        default_factory=list, description="Executions this one's Execute Workflow nodes started."
    )
    failed_execution_id: str | None = Field(
        default=None, description="An error workflow's execution: the failed execution it reports."
    )
    nodes: list[NodeStatusPublic]
    error: str | None = None
    failed_node: str | None = None
    context: dict[str, Any] | None = None


class ExecutionsPublic(BaseModel):
    data: list[ExecutionSummary]
    count: int
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page.")


class ExecutionAccepted(BaseModel):
    execution_id: str
    status: str
