"""Switch: routes the run to one output per rule, or to ``fallback`` when no rule matches.

Two modes: ``rules`` (each rule is a list of If conditions) and ``value`` (one value, e.g.
``{{ order.status }}``, compared with each rule's ``equals``). The outputs are per node: one per rule,
named by the rule's ``output`` (default: its number), then ``fallback`` (``NodeType.outputs_from``),
so validation checks each edge's ``source_handle`` against the node's own rules and the editor draws
one handle per rule.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from connectflow_dagster.nodes.base import Branch, NodeContext, NodeType, OutputsFrom, Params
from connectflow_dagster.nodes.if_branch import Condition, conditions_hold

FALLBACK = "fallback"


class Rule(Params):
    output: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_-]{0,40}$",
        description="Name of this rule's output (letters, digits, _ and -); empty: its number (0, 1, …).",
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Mode 'rules': all (or any) must hold."
    )
    combine: Literal["and", "or"] = "and"
    equals: Any = Field(default=None, description="Mode 'value': the value this rule matches.")


class SwitchParams(Params):
    mode: Literal["rules", "value"] = "rules"
    value: Any = Field(default=None, description="Mode 'value': what each rule's `equals` is compared with.")
    rules: list[Rule] = Field(min_length=1, max_length=64)
    all_matches: bool = Field(
        default=False, description="Continue on every matching rule's output, not only the first."
    )

    @model_validator(mode="after")
    def _outputs(self) -> SwitchParams:
        names = [r.output or str(i) for i, r in enumerate(self.rules)]
        if FALLBACK in names:
            raise ValueError(
                f"'{FALLBACK}' is the output taken when no rule matches: name the rule otherwise"
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"two rules have the same output name: {', '.join(duplicates)}")
        if self.mode == "rules":
            empty = [str(i) for i, r in enumerate(self.rules) if not r.conditions]
            if empty:
                raise ValueError(f"mode 'rules': rule {', '.join(empty)} has no conditions")
        return self


class SwitchOutput(BaseModel):
    output: str
    outputs: list[str]
    matched: bool


def _matches(params: SwitchParams, rule: Rule) -> bool:
    if params.mode == "value":
        return params.value == rule.equals or str(params.value) == str(rule.equals)
    return conditions_hold(rule.conditions, rule.combine)


def execute(params: SwitchParams, ctx: NodeContext) -> Branch:
    taken: list[str] = []
    for i, rule in enumerate(params.rules):
        if _matches(params, rule):
            taken.append(rule.output or str(i))
            if not params.all_matches:
                break
    matched = bool(taken)
    outputs = taken or [FALLBACK]
    return Branch(handle=outputs, output={"output": outputs[0], "outputs": outputs, "matched": matched})


node = NodeType(
    type="switch",
    display_name="Switch",
    group="logic",
    description="Routes to one output per rule (conditions, or a value compared with each rule), "
    "or to 'fallback' when none matches.",
    params=SwitchParams,
    output=SwitchOutput,
    execute=execute,
    icon="split",
    outputs=(FALLBACK,),
    outputs_from=OutputsFrom(param="rules", key="output", then=(FALLBACK,)),
)
