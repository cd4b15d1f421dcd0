"""Workflow spec validation: every problem is named by node and field."""

from __future__ import annotations

import pytest

from connectflow_dagster import spec
from connectflow_dagster.errors import WorkflowInvalid


def wf(nodes, edges=()):
    return spec.parse_workflow({"name": "t", "nodes": list(nodes), "edges": list(edges)})


def manual(id="start"):
    return {"id": id, "type": "trigger.manual", "name": id.title()}


def set_node(id, **fields):
    return {"id": id, "type": "set", "name": id.title(), "params": {"fields": fields}}


def messages(workflow):
    return [str(p) for p in spec.validate(workflow)]


def test_a_valid_workflow_has_no_problems():
    assert spec.validate(wf([manual(), set_node("a", x=1)], [{"source": "start", "target": "a"}])) == []


def test_unknown_type_lists_known_types():
    [problem] = spec.validate(wf([manual(), {"id": "x", "type": "nope", "name": "X"}]))
    assert problem.node_id == "x" and problem.field == "type"
    assert "unknown node type 'nope'" in problem.message
    assert "http.request" in problem.message and "trigger.manual" in problem.message


def test_dangling_edge_duplicate_id_and_missing_trigger_are_named():
    problems = messages(wf([set_node("a"), set_node("a")], [{"source": "a", "target": "ghost"}]))
    assert "node 'a', field 'id': duplicate node id" in problems
    assert any("edge #0 target 'ghost' is not a node" in p for p in problems)
    assert "a workflow needs at least one trigger node" in problems


def test_edge_into_a_trigger_is_refused():
    problems = spec.validate(wf([manual(), set_node("a")], [{"source": "a", "target": "start"}]))
    assert any(p.node_id == "start" and "trigger cannot have incoming edges" in p.message for p in problems)


def test_cycle_names_the_nodes_on_it():
    workflow = wf(
        [manual(), set_node("a"), set_node("b"), set_node("c")],
        [
            {"source": "start", "target": "a"},
            {"source": "a", "target": "b"},
            {"source": "b", "target": "c"},
            {"source": "c", "target": "a"},
        ],
    )
    [cycle] = [p for p in spec.validate(workflow) if p.message.startswith("cycle")]
    assert cycle.message == "cycle: a → b → c → a"


def test_params_failing_the_node_schema_name_node_and_field():
    bad = {
        "id": "req",
        "type": "http.request",
        "name": "Req",
        "params": {"url": "http://x", "timeout": "soon", "method": "FETCH"},
    }
    problems = {
        (p.node_id, p.field)
        for p in spec.validate(wf([manual(), bad], [{"source": "start", "target": "req"}]))
    }
    assert problems == {("req", "params.timeout"), ("req", "params.method")}


def test_a_template_in_a_typed_field_is_checked_at_run_time_not_save_time():
    node = {
        "id": "req",
        "type": "http.request",
        "name": "Req",
        "params": {"url": "{{ trigger.url }}", "timeout": "{{ trigger.timeout }}"},
    }
    assert spec.validate(wf([manual(), node], [{"source": "start", "target": "req"}])) == []


def test_branch_edges_must_name_an_existing_output():
    cond = {
        "id": "check",
        "type": "if",
        "name": "Check",
        "params": {"conditions": [{"left": 1, "operator": "equals", "right": 1}]},
    }
    problems = spec.validate(
        wf(
            [manual(), cond, set_node("a")],
            [{"source": "start", "target": "check"}, {"source": "check", "target": "a"}],
        )
    )
    assert any(p.node_id == "check" and "choose which output" in p.message for p in problems)
    problems = spec.validate(
        wf(
            [manual(), cond, set_node("a")],
            [
                {"source": "start", "target": "check"},
                {"source": "check", "target": "a", "source_handle": "maybe"},
            ],
        )
    )
    assert any("output 'maybe' does not exist (outputs: true, false)" in p.message for p in problems)


def test_structural_errors_are_reported_with_node_and_field():
    with pytest.raises(WorkflowInvalid) as err:
        spec.parse_workflow(
            {
                "nodes": [{"id": "bad id!", "type": "set", "name": "X"}, {"id": "ok", "type": "set"}],
                "unexpected": 1,
            }
        )
    fields = {(p.node_id, p.field) for p in err.value.problems}
    assert ("bad id!", "id") in fields and ("ok", "name") in fields and (None, "unexpected") in fields


def test_duplicate_variable_names_are_refused():
    a, b = set_node("a"), set_node("b")
    b["variable_name"] = "a"
    problems = spec.validate(
        wf([manual(), a, b], [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}])
    )
    assert any(p.field == "variable_name" and "already used by node 'a'" in p.message for p in problems)


def test_variable_name_defaults_from_the_node_name():
    workflow = wf([{"id": "f", "type": "set", "name": "Fetch order!"}])
    assert workflow.nodes[0].variable_name == "fetch_order"


def test_content_hash_ignores_the_id_and_follows_content():
    a = wf([manual(), set_node("a", x=1)])
    b = a.model_copy(update={"id": "other"})
    assert a.content_hash() == b.content_hash()
    c = wf([manual(), set_node("a", x=2)])
    assert a.content_hash() != c.content_hash()


def test_json_schema_is_exported():
    schema = spec.json_schema()
    assert schema["title"] == "Workflow"
    assert {"nodes", "edges", "settings"} <= set(schema["properties"])
