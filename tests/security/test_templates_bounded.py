"""Finding 3: template limits could be bypassed (arithmetic, constant folding, sequence and string
multiplication, a lone ``{{ expression }}`` skipping the output cap). A runaway template now fails its
node with a clear error, and the gateway keeps answering."""

from __future__ import annotations

import pytest

from tests.security.conftest import create_workflow, execute, finished


def _workflow(template: str) -> dict:
    return {
        "name": "runaway template",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {"id": "calc", "type": "set", "name": "Calc", "params": {"fields": {"value": template}}},
        ],
        "edges": [{"source": "start", "target": "calc"}],
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 9**(9**7) % 7 }}", "larger than 4096 bits"),  # folded at compile time by Jinja before
        ("total: {{ 9**(9**7) % 7 }}", "larger than 4096 bits"),
        ("{{ [1]*(3*10**5) }}", "limited to 10000 items"),
        ("{{ 'x' * 2000000 }}", "larger than 1048576 characters"),  # a lone expression skipped the cap
        ("{{ 'ab' | center(999999999) }}", "larger than 1048576 characters"),
        ("{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}", "longer than 2 s"),
    ],
)
def test_runaway_template_fails_its_node_and_the_gateway_keeps_answering(live, template, message):
    alice = live.user()
    workflow_id = create_workflow(alice, _workflow(template))
    execution = finished(alice, execute(alice, workflow_id))
    assert execution["status"] == "failed"
    calc = next(n for n in execution["nodes"] if n["node_id"] == "calc")
    assert "template refused" in calc["error"] and message in calc["error"], calc["error"]
    assert calc["output"] is None  # nothing oversized was stored
    assert live.healthy()


def test_ordinary_arithmetic_still_works(live):
    alice = live.user()
    workflow_id = create_workflow(alice, _workflow("{{ 2 ** 64 + trigger.n * 3 }}"))
    execution = finished(alice, execute(alice, workflow_id, {"n": 5}))
    assert execution["status"] == "success", execution
    calc = next(n for n in execution["nodes"] if n["node_id"] == "calc")
    assert calc["output"] == {"value": 2**64 + 15}
