"""Switch (outputs per rule, fallback) and Filter (keep matching items), in real Dagster runs."""

from __future__ import annotations

import pytest

from connectflow_dagster import spec
from connectflow_dagster.errors import WorkflowInvalid
from connectflow_dagster.registry import get_registry

START = {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}


def switch_workflow(params: dict) -> dict:
    """start → route (switch: paid | refunded | fallback) → one Set per output."""
    return {
        "name": "switch",
        "nodes": [
            START,
            {"id": "route", "type": "switch", "name": "Route", "params": params},
            {"id": "paid", "type": "set", "name": "Paid", "params": {"fields": {"v": "paid"}}},
            {"id": "refunded", "type": "set", "name": "Refunded", "params": {"fields": {"v": "refunded"}}},
            {"id": "other", "type": "set", "name": "Other", "params": {"fields": {"v": "other"}}},
        ],
        "edges": [
            {"source": "start", "target": "route"},
            {"source": "route", "target": "paid", "source_handle": "paid"},
            {"source": "route", "target": "refunded", "source_handle": "refunded"},
            {"source": "route", "target": "other", "source_handle": "fallback"},
        ],
    }


RULES = {
    "rules": [
        {
            "output": "paid",
            "conditions": [{"left": "{{ trigger.status }}", "operator": "equals", "right": "paid"}],
        },
        {
            "output": "refunded",
            "conditions": [{"left": "{{ trigger.amount }}", "operator": "lt", "right": 0}],
        },
    ]
}
BY_VALUE = {
    "mode": "value",
    "value": "{{ trigger.status }}",
    "rules": [{"output": "paid", "equals": "paid"}, {"output": "refunded", "equals": "refunded"}],
}


def ran(execution) -> set[str]:
    return {n.node_id for n in execution.nodes if n.status == "success"} - {"start", "route"}


@pytest.mark.parametrize("params", [RULES, BY_VALUE], ids=["rules", "value"])
def test_switch_takes_the_matching_output_or_the_fallback(cf, params):
    paid = cf.run(switch_workflow(params), {"status": "paid", "amount": 5})
    assert paid.status == "success", paid.error
    assert ran(paid) == {"paid"}
    assert paid.context["route"] == {"output": "paid", "outputs": ["paid"], "matched": True}
    other = cf.run(switch_workflow(params), {"status": "open", "amount": 5})
    assert ran(other) == {"other"}
    assert other.context["route"] == {"output": "fallback", "outputs": ["fallback"], "matched": False}


def test_switch_can_continue_on_every_matching_output(cf):
    params = {**RULES, "all_matches": True}
    both = cf.run(switch_workflow(params), {"status": "paid", "amount": -1})
    assert ran(both) == {"paid", "refunded"}
    first_only = cf.run(switch_workflow(RULES), {"status": "paid", "amount": -1})
    assert ran(first_only) == {"paid"}


def _problems(wf: dict) -> list[str]:
    with pytest.raises(WorkflowInvalid) as caught:
        spec.ensure_valid(spec.parse_workflow(wf))
    return [f"{p.node_id} {p.field}: {p.message}" for p in caught.value.problems]


def test_switch_edges_are_checked_against_the_nodes_own_rules():
    wf = switch_workflow(RULES)
    wf["edges"][1]["source_handle"] = "shipped"
    assert _problems(wf) == [
        "route edges.1.source_handle: output 'shipped' does not exist (outputs: paid, refunded, fallback)"
    ]
    unnamed = switch_workflow({"rules": [{**r, "output": ""} for r in RULES["rules"]]})
    unnamed["edges"][1]["source_handle"], unnamed["edges"][2]["source_handle"] = "0", "1"
    spec.ensure_valid(spec.parse_workflow(unnamed))  # unnamed rules are outputs 0, 1, …


def test_switch_output_names_must_be_unique_and_not_fallback():
    for rules, message in [
        ([{"output": "a", "equals": 1}, {"output": "a", "equals": 2}], "same output name: a"),
        ([{"output": "fallback", "equals": 1}], "'fallback' is the output taken when no rule matches"),
    ]:
        wf = switch_workflow({"mode": "value", "value": 1, "rules": rules})
        wf["edges"] = wf["edges"][:1]
        assert any(message in p for p in _problems(wf))


def test_node_types_describe_switch_outputs_from_its_rules():
    described = get_registry().get("switch").describe()
    assert described["outputs"] == ["fallback"]
    assert described["outputs_from"] == {"param": "rules", "key": "output", "then": ["fallback"]}


def filter_workflow(conditions: list, items: str = "{{ trigger.orders }}") -> dict:
    return {
        "name": "filter",
        "nodes": [
            START,
            {
                "id": "keep",
                "type": "filter",
                "name": "Paid orders",
                "params": {"items": items, "conditions": conditions},
            },
        ],
        "edges": [{"source": "start", "target": "keep"}],
    }


ORDERS = {"orders": [{"id": 1, "status": "paid"}, {"id": 2, "status": "open"}, {"id": 3, "status": "paid"}]}


def test_filter_keeps_matching_items_and_counts_the_discarded(cf):
    paid = [{"left": "{{ item.status }}", "operator": "equals", "right": "paid"}]
    ex = cf.run(filter_workflow(paid), ORDERS)
    assert ex.status == "success", ex.error
    assert ex.context["paid_orders"] == {
        "data": [{"id": 1, "status": "paid"}, {"id": 3, "status": "paid"}],
        "kept": 2,
        "discarded": 1,
    }
    first = [{"left": "{{ item_index }}", "operator": "lt", "right": 1}]
    assert cf.run(filter_workflow(first), ORDERS).context["paid_orders"]["kept"] == 1


def test_filter_refuses_a_value_that_is_not_a_list(cf):
    ex = cf.run(
        filter_workflow([{"left": "{{ item }}", "operator": "is_true"}], items="trigger.orders"),
        {"orders": "x"},
    )
    assert ex.status == "failed"
    assert "items: 'trigger.orders' is a string, not a list" in ex.error


def test_filter_bad_comparison_names_the_item(cf):
    gt = [{"left": "{{ item.id }}", "operator": "gt", "right": "many"}]
    ex = cf.run(filter_workflow(gt), ORDERS)
    assert ex.status == "failed" and "item 0: condition #1 (gt): cannot compare 1 with 'many'" in ex.error


def test_filter_items_may_be_any_template_or_a_literal_list(cf):
    paid = [{"left": "{{ item.status }}", "operator": "equals", "right": "paid"}]
    ex = cf.run(
        filter_workflow(paid, items="{{ trigger.orders | rejectattr('id', 'equalto', 1) | list }}"), ORDERS
    )
    assert ex.context["paid_orders"] == {"data": [{"id": 3, "status": "paid"}], "kept": 1, "discarded": 1}
    literal = filter_workflow([{"left": "{{ item }}", "operator": "gt", "right": 1}])
    literal["nodes"][1]["params"]["items"] = [1, 2, 3]
    assert cf.run(literal).context["paid_orders"] == {"data": [2, 3], "kept": 2, "discarded": 1}


def test_hostile_switch_rules_are_refused_on_save():
    too_many = switch_workflow({"mode": "value", "value": 1, "rules": [{"equals": i} for i in range(65)]})
    too_many["edges"] = too_many["edges"][:1]
    assert any("at most 64 items" in p for p in _problems(too_many))
    odd = switch_workflow({"mode": "value", "value": 1, "rules": [{"output": "a|b<script>", "equals": 1}]})
    odd["edges"] = odd["edges"][:1]
    assert any("rules.0.output" in p and "pattern" in p for p in _problems(odd))


def test_a_catastrophic_pattern_fails_the_node_instead_of_holding_the_worker(cf):
    """ReDoS: "^(a|aa)+$" against 40 a's and a "!" backtracks for hours; the matches operator stops it
    at its time limit and names the reason. An ordinary pattern still matches."""
    evil = [{"left": "{{ item.s }}", "operator": "matches", "right": "^(a|aa)+$"}]
    ex = cf.run(filter_workflow(evil, items="trigger.rows"), {"rows": [{"s": "a" * 40 + "!"}]})
    assert ex.status == "failed"
    assert "took longer than 1 s to match and was stopped" in ex.error, ex.error
    fine = [{"left": "{{ item.s }}", "operator": "matches", "right": "^a+b$"}]
    ex = cf.run(filter_workflow(fine, items="trigger.rows"), {"rows": [{"s": "aab"}, {"s": "x"}]})
    assert ex.status == "success" and ex.context["paid_orders"]["kept"] == 1
