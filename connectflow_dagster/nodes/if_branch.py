"""If: compares context values and continues on the ``true`` or the ``false`` output only."""

from __future__ import annotations

from typing import Any, Literal

import regex
from pydantic import BaseModel, Field

from connectflow_dagster.errors import NonRetriableNodeError
from connectflow_dagster.nodes.base import Branch, NodeContext, NodeType, Params

# How long one "matches" condition may take on one value.
MATCH_SECONDS = 1.0

Operator = Literal[
    "equals",
    "not_equals",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "is_empty",
    "is_not_empty",
    "is_true",
    "is_false",
]


class Condition(Params):
    left: Any = Field(description="A value or a template, e.g. {{ order.amount }}.")
    operator: Operator = "equals"
    right: Any = None


class IfParams(Params):
    conditions: list[Condition] = Field(min_length=1)
    combine: Literal["and", "or"] = "and"


class IfOutput(BaseModel):
    result: bool
    branch: Literal["true", "false"]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return float(value)


def _holds(cond: Condition) -> bool:
    left, right, op = cond.left, cond.right, cond.operator
    if op == "equals":
        return left == right or (str(left) == str(right))
    if op == "not_equals":
        return not (left == right or str(left) == str(right))
    if op in ("gt", "gte", "lt", "lte"):
        a, b = _number(left), _number(right)
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "contains":
        return str(right) in left if isinstance(left, str) else right in (left or [])
    if op == "not_contains":
        return str(right) not in left if isinstance(left, str) else right not in (left or [])
    if op == "starts_with":
        return str(left).startswith(str(right))
    if op == "ends_with":
        return str(left).endswith(str(right))
    if op == "matches":
        # The ``regex`` engine, for its time limit: a pattern with nested repetition ("(a+)+$") would
        # otherwise hold a worker thread for hours, out of reach of the run's timeout.
        try:
            return regex.search(str(right), str(left), timeout=MATCH_SECONDS) is not None
        except TimeoutError:
            raise ValueError(
                f"the pattern took longer than {MATCH_SECONDS:g} s to match and was stopped "
                "(nested repetition such as (a+)+ backtracks exponentially)"
            ) from None
    if op == "is_empty":
        return left in (None, "", [], {})
    if op == "is_not_empty":
        return left not in (None, "", [], {})
    if op == "is_true":
        return left is True or str(left).lower() == "true"
    return left is False or str(left).lower() == "false"  # is_false


def conditions_hold(conditions: list[Condition], combine: str = "and") -> bool:
    """Whether rendered ``conditions`` hold, combined with ``and`` / ``or`` (If, Filter, Switch)."""
    results = []
    for i, cond in enumerate(conditions):
        try:
            results.append(_holds(cond))
        except (TypeError, ValueError, regex.error) as exc:
            raise NonRetriableNodeError(
                f"condition #{i + 1} ({cond.operator}): cannot compare {cond.left!r} with {cond.right!r}: {exc}"
            ) from None
    return all(results) if combine == "and" else any(results)


def execute(params: IfParams, ctx: NodeContext) -> Branch:
    result = conditions_hold(params.conditions, params.combine)
    branch = "true" if result else "false"
    return Branch(handle=branch, output={"result": result, "branch": branch})


node = NodeType(
    type="if",
    display_name="If",
    group="logic",
    description="Routes the run down the true or the false output; the other branch is skipped.",
    params=IfParams,
    output=IfOutput,
    execute=execute,
    outputs=("true", "false"),
    icon="split",
)
