"""``PUT /api/workflows/{id}`` creates a workflow under an id nobody uses (what ``cf.save`` of a builder
with an id does through the API); someone else's id stays 404 and is never taken over."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import manual_workflow


def test_put_creates_under_an_unused_id_and_never_takes_over(gateway):
    ada, bob = gateway.user(), gateway.user()
    created = ada.put("/api/workflows/orders_notifier", json=manual_workflow(name="Orders"))
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["id"] == "orders_notifier" and body["version"] == 1 and body["version_created"] is True
    assert [w["id"] for w in ada.get("/api/workflows").json()["data"]] == ["orders_notifier"]
    again = ada.put("/api/workflows/orders_notifier", json=manual_workflow(name="Orders")).json()
    assert again["version"] == 1 and again["version_created"] is False

    taken = bob.put("/api/workflows/orders_notifier", json=manual_workflow(name="Mine now"))
    assert taken.status_code == 404
    assert ada.get("/api/workflows/orders_notifier").json()["name"] == "Orders"
    assert bob.get("/api/workflows").json()["count"] == 0


@pytest.mark.parametrize("bad_id", ["has-dash", "x" * 65, "dot.dot", "semi;colon"])
def test_put_refuses_ids_outside_the_id_pattern(gateway, bad_id):
    ada = gateway.user()
    response = ada.put(f"/api/workflows/{bad_id}", json=manual_workflow())
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "workflow_id"]
    assert ada.get("/api/workflows").json()["count"] == 0
