"""Merge: continues once its inputs have finished, tolerating a branch that was skipped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params


class MergeParams(Params):
    pass


class MergeOutput(BaseModel):
    merged_from: list[str]


def execute(params: MergeParams, ctx: NodeContext) -> dict[str, Any]:
    return {"merged_from": list(ctx.upstream_node_ids)}


node = NodeType(
    type="merge",
    display_name="Merge",
    group="logic",
    description="Joins branches: runs when its inputs are done; a skipped branch is not waited for.",
    params=MergeParams,
    output=MergeOutput,
    execute=execute,
    icon="merge",
)
