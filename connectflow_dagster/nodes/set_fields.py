"""Set: named fields whose values are templates over the context."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import NodeContext, NodeType, Params


class SetParams(Params):
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Field name → value; values may be templates."
    )
    convert: Literal["keep", "string", "number", "boolean", "json"] = Field(
        default="keep", description="Convert every value to this type."
    )


def _convert(name: str, value: Any, to: str) -> Any:
    try:
        if to == "string":
            return value if isinstance(value, str) else json.dumps(value, default=str)
        if to == "number":
            number = float(value)
            return int(number) if number.is_integer() else number
        if to == "boolean":
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if to == "json":
            return json.loads(value) if isinstance(value, str) else value
    except (TypeError, ValueError) as exc:
        raise NonRetriableNodeError(f"field '{name}': cannot convert {value!r} to {to}: {exc}") from None
    return value


def execute(params: SetParams, ctx: NodeContext) -> dict[str, Any]:
    return {name: _convert(name, value, params.convert) for name, value in params.fields.items()}


node = NodeType(
    type="set",
    display_name="Set",
    group="logic",
    description="Adds named fields computed from templates over earlier nodes' outputs.",
    params=SetParams,
    execute=execute,
    icon="pencil",
)
