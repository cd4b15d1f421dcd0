"""Every endpoint that takes an object id answers 404 to another user (not 403, not the object), and
leaves the object as it was. Request bodies cannot assign owner, id or timestamps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import manual_workflow

# (method, path, body); {wf}, {cred}, {ex} are the first user's objects.
ID_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/workflows/{wf}", None),
    ("PUT", "/api/workflows/{wf}", manual_workflow(name="Taken over")),
    ("PATCH", "/api/workflows/{wf}", {"name": "Taken over"}),
    ("DELETE", "/api/workflows/{wf}", None),
    ("GET", "/api/workflows/{wf}/versions", None),
    ("GET", "/api/workflows/{wf}/versions/1", None),
    ("POST", "/api/workflows/{wf}/versions/1/restore", None),
    ("POST", "/api/workflows/{wf}/execute", {"input": {"order_id": "X"}}),
    ("GET", "/api/workflows/{wf}/export?format=n8n", None),
    ("GET", "/api/workflows/{wf}/export?format=connectflow", None),
    ("GET", "/api/credentials/{cred}", None),
    ("PATCH", "/api/credentials/{cred}", {"name": "Taken over", "data": {"api_key": "attacker"}}),
    ("DELETE", "/api/credentials/{cred}", None),
    ("POST", "/api/credentials/{cred}/test", None),
    ("GET", "/api/executions/{ex}", None),
    ("POST", "/api/executions/{ex}/retry", None),
    ("POST", "/api/executions/{ex}/cancel", None),
    ("GET", "/api/executions?workflow_id={wf}", None),
    ("GET", "/api/executions?cursor={ex}", None),
]


@pytest.fixture
def owned(gateway):
    """The first user with a failed execution (so retry would be allowed for its owner)."""
    alice = gateway.user()
    wf = alice.post("/api/workflows", json=manual_workflow("http://127.0.0.1:9/unreachable")).json()
    cred = alice.post(
        "/api/credentials",
        json={
            "name": "Mine",
            "type": "ping_api",
            "data": {"base_url": "http://127.0.0.1:9", "api_key": "k-123456"},
        },
    ).json()
    ex = alice.post(f"/api/workflows/{wf['id']}/execute", json={}).json()["execution_id"]
    gateway.wait(ex)
    assert alice.get(f"/api/executions/{ex}").json()["status"] == "failed"
    return alice, {"wf": wf["id"], "cred": cred["id"], "ex": ex}


@pytest.mark.parametrize(
    ("method", "path", "body"), ID_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ID_ENDPOINTS]
)
def test_another_user_gets_404(gateway, owned, method, path, body):
    alice, ids = owned
    bob = gateway.user()
    url = path.format(**ids)
    response = bob.request(method, url, json=body) if body is not None else bob.request(method, url)
    assert response.status_code == 404, response.text
    assert set(response.json()) == {"detail"} and "not found" in response.json()["detail"]
    assert "Order summary" not in response.text and "Mine" not in response.text
    # Alice's objects are untouched.
    wf = alice.get(f"/api/workflows/{ids['wf']}")
    assert wf.status_code == 200 and wf.json()["name"] == "Order summary" and wf.json()["version"] == 1
    cred = alice.get(f"/api/credentials/{ids['cred']}")
    assert cred.status_code == 200 and cred.json()["name"] == "Mine"
    assert alice.get("/api/executions").json()["count"] == 1


def test_unknown_ids_are_404_for_the_owner_too(gateway):
    alice = gateway.user()
    for path in ("/api/workflows/nope", "/api/credentials/nope", "/api/executions/nope"):
        assert alice.get(path).status_code == 404


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/workflows", {"owner_id": "someone"}),
        ("/api/workflows", {"id": "chosen_id"}),
        ("/api/workflows", {"created_at": "2020-01-01T00:00:00Z"}),
        ("/api/credentials", {"owner_id": "someone"}),
        ("/api/credentials", {"id": "chosen"}),
        ("/api/credentials", {"key_id": "k"}),
        ("/api/auth/sign-up/email", {"id": "chosen"}),
    ],
)
def test_bodies_accept_only_declared_fields(gateway, path, extra):
    alice = gateway.user()
    base = {
        "/api/workflows": manual_workflow(),
        "/api/credentials": {
            "name": "c",
            "type": "ping_api",
            "data": {"base_url": "http://x", "api_key": "k"},
        },
        "/api/auth/sign-up/email": {"email": "new-user@example.com", "password": "long enough pw"},
    }[path]
    response = alice.post(path, json={**base, **extra})
    assert response.status_code == 422
    field = next(iter(extra))
    assert any(err["loc"][-1] == field for err in response.json()["detail"]), response.json()


def test_update_bodies_cannot_assign_owner_either(gateway):
    alice, bob = gateway.user(), gateway.user()
    wf = alice.post("/api/workflows", json=manual_workflow()).json()
    cred = alice.post(
        "/api/credentials",
        json={"name": "c", "type": "ping_api", "data": {"base_url": "http://x", "api_key": "k"}},
    ).json()
    assert (
        alice.patch(f"/api/workflows/{wf['id']}", json={"name": "n", "owner_id": bob.id}).status_code == 422
    )
    assert alice.patch(f"/api/credentials/{cred['id']}", json={"owner_id": bob.id}).status_code == 422
    assert (
        alice.put(f"/api/workflows/{wf['id']}", json={**manual_workflow(), "id": "other"}).status_code == 422
    )
    assert bob.get("/api/workflows").json()["count"] == 0
