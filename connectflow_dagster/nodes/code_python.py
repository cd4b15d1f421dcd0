"""Code (Python): n8n-style Python over the input items in a limited child process.

For trusted authors only, and off unless the operator sets ``CONNECTFLOW_PYTHON_CODE=on``: the child
process has limits (CPU, memory, time, file size), no inherited descriptors and no secrets in its
environment, but it is not a security sandbox (``connectflow_dagster.sandbox.python``). While off, a
workflow holding the node reports a problem on save and the node refuses to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import NonRetriableNodeError, Problem
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.code_js import code_inputs
from connectflow_dagster.sandbox import n8n, python

DEFAULT_CODE = """# _input.all() holds the items of the node before this one; return items.
return [{"json": {**item["json"], "processed": True}} for item in _input.all()]
"""
TURNED_OFF = (
    "the Python code node is turned off on this server: it runs arbitrary Python for trusted authors, "
    "and an operator enables it with CONNECTFLOW_PYTHON_CODE=on"
)


class PythonCodeParams(Params):
    code: str = Field(
        default=DEFAULT_CODE,
        min_length=1,
        max_length=python.MAX_CODE_CHARS,
        description="Python (the body of a function): return items or plain dicts.",
        json_schema_extra={"format": "code", "language": "python"},
    )
    mode: Literal["all_items", "each_item"] = Field(
        default="all_items",
        description="Run once for all items (_input.all()) or once for each item (_json, _input.item).",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=3600, description="Time limit of one run.")


def enabled() -> bool:
    return get_settings().python_code == "on"


def execute(params: PythonCodeParams, ctx: NodeContext[None]) -> list[dict[str, Any]]:
    if not enabled():
        raise NonRetriableNodeError(TURNED_OFF)
    settings = get_settings()
    input_items, nodes = code_inputs(ctx)
    try:
        result = python.run(
            params.code,
            mode="all" if params.mode == "all_items" else "each",
            input_items=input_items,
            nodes=nodes,
            timeout=min(params.timeout_seconds, settings.code_max_timeout_seconds),
            memory=settings.code_memory_mb * 1024 * 1024,
        )
        return n8n.from_items(result)
    except (python.PythonCodeError, n8n.ItemsError) as exc:
        raise NonRetriableNodeError(f"Python: {exc}") from None


@dataclass(frozen=True)
class _PythonCodeNodeType(NodeType):
    def check_params(self, node: Any) -> list[Problem]:
        problems = super().check_params(node)
        if not enabled():
            problems.append(Problem(TURNED_OFF, node_id=node.id, field="type"))
        return problems

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["enabled"] = enabled()
        if not described["enabled"]:
            described["description"] += " Turned off on this server (CONNECTFLOW_PYTHON_CODE=on enables it)."
        return described


node = _PythonCodeNodeType(
    type="code.python",
    display_name="Code (Python)",
    group="logic",
    description="Runs Python over the input items in a resource-limited process (operator-enabled).",
    params=PythonCodeParams,
    execute=execute,
    icon="code",
    raw_params=frozenset({"code"}),
)
