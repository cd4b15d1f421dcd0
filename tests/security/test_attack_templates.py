"""Attack run on bounded templates (issue 11, finding 3), through the live gateway and a worker.

``bytes`` has the same growing operations as ``str`` (``*``, ``%``, ``center``/``ljust``/``zfill``,
``replace``, ``join``) and ``'x'.encode()`` makes one, but only ``str`` was measured before the
operation ran: ``{{ 'a'.encode() * 300000000 }}`` allocated 300 MB and ran past the 2 s limit in one
C call before the result check refused it, and a template reducing the oversized bytes to a small
value (``.count(…)``) succeeded. A template nested thousands deep made the save itself fail
(``RecursionError`` out of the syntax check).
"""

from __future__ import annotations

import pytest

from tests.security.conftest import create_workflow, execute, finished


def _workflow(template: str) -> dict:
    return {
        "name": "bytes template",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {"id": "calc", "type": "set", "name": "Calc", "params": {"fields": {"value": template}}},
        ],
        "edges": [{"source": "start", "target": "calc"}],
    }


# Each builds a ~1.5 MB bytes value (over the 1 MiB cap) and reduces it to a small number, so only a
# check made *before* the operation can refuse it (small sizes: the test must not hurt the machine).
@pytest.mark.parametrize(
    "template",
    [
        "{{ ('a'.encode() * 1500000).count('b'.encode()) }}",
        "{{ 'a'.encode().ljust(1500000).count('b'.encode()) }}",
        "{{ 'a'.encode().zfill(1500000).count('b'.encode()) }}",
        "n={{ ('%1500000s'.encode() % 'a'.encode()).count('b'.encode()) }}",
        "{{ ('ab'.encode() * 400000).replace('a'.encode(), 'xyz'.encode()).count('b'.encode()) }}",
        "{{ ('a'.encode() * 900000 + 'a'.encode() * 900000).count('b'.encode()) }}",
    ],
)
def test_bytes_cannot_grow_past_the_template_caps(live, template):
    alice = live.user()
    workflow_id = create_workflow(alice, _workflow(template))
    execution = finished(alice, execute(alice, workflow_id))
    calc = next(n for n in execution["nodes"] if n["node_id"] == "calc")
    assert execution["status"] == "failed", calc
    assert "template refused" in calc["error"] and "larger than 1048576" in calc["error"], calc["error"]
    assert live.healthy()


def test_small_bytes_operations_still_work(live):
    alice = live.user()
    workflow_id = create_workflow(alice, _workflow("{{ ('ab'.encode() * 3).count('a'.encode()) }}"))
    execution = finished(alice, execute(alice, workflow_id))
    assert execution["status"] == "success", execution
    calc = next(n for n in execution["nodes"] if n["node_id"] == "calc")
    assert calc["output"] == {"value": 3}


def test_a_template_nested_thousands_deep_is_a_problem_not_a_500(live):
    alice = live.user()
    deep = "{{ " + "(" * 20000 + "1" + ")" * 20000 + " }}"
    response = alice.post("/api/workflows", json=_workflow(deep))
    assert response.status_code == 201, response.text[:300]
    workflow = alice.get(f"/api/workflows/{response.json()['id']}").json()
    assert workflow["runnable"] is False
    assert any("too deeply nested" in p["message"] for p in workflow["problems"]), workflow["problems"]
    assert live.healthy()
