"""``/api/workflows``: create, list, get, save (immutable versions), rename, delete, restore, limits."""

from __future__ import annotations

from tests.gateway.conftest import manual_workflow


def test_create_without_a_name_gets_a_readable_one(gateway):
    ada = gateway.user()
    created = ada.post("/api/workflows", json={})
    assert created.status_code == 201
    body = created.json()
    assert len(body["name"].split()) == 2 and body["name"].istitle()
    assert body["version"] == 1
    # An empty workflow is saved as a draft and says what stops it from running.
    assert body["problems"] == [
        {"message": "a workflow needs at least one trigger node", "node_id": None, "field": None}
    ]
    refused = ada.post(f"/api/workflows/{body['id']}/execute", json={})
    assert refused.status_code == 422 and refused.json()["problems"][0]["message"].startswith(
        "a workflow needs"
    )


def test_list_is_paginated_and_searchable(gateway):
    ada = gateway.user()
    for name in ("Stripe to Discord", "Daily digest", "Stripe refunds"):
        assert ada.post("/api/workflows", json=manual_workflow(name=name)).status_code == 201
    page = ada.get("/api/workflows?limit=2").json()
    assert page["count"] == 3 and len(page["data"]) == 2
    rest = ada.get("/api/workflows?limit=2&offset=2").json()
    assert len(rest["data"]) == 1
    assert {w["name"] for w in page["data"] + rest["data"]} == {
        "Stripe to Discord",
        "Daily digest",
        "Stripe refunds",
    }
    found = ada.get("/api/workflows?search=stripe").json()
    assert found["count"] == 2 and {w["name"] for w in found["data"]} == {
        "Stripe to Discord",
        "Stripe refunds",
    }
    assert ada.get("/api/workflows?limit=0").status_code == 422


def test_save_makes_a_new_immutable_version_and_restore_brings_an_old_one_back(gateway):
    ada = gateway.user()
    wf = ada.post("/api/workflows", json=manual_workflow()).json()
    v1_spec = wf["spec"]
    changed = manual_workflow()
    changed["nodes"][-1]["params"]["fields"]["text"] = "changed {{ start.order_id }}"
    saved = ada.put(f"/api/workflows/{wf['id']}", json={**changed, "id": wf["id"]})
    assert (
        saved.status_code == 200 and saved.json()["version"] == 2 and saved.json()["version_created"] is True
    )
    again = ada.put(f"/api/workflows/{wf['id']}", json=changed).json()
    assert again["version"] == 2 and again["version_created"] is False  # same content, same version
    versions = ada.get(f"/api/workflows/{wf['id']}/versions").json()
    assert [(v["number"], v["current"]) for v in versions["data"]] == [(2, True), (1, False)]
    assert ada.get(f"/api/workflows/{wf['id']}/versions/1").json()["spec"]["nodes"] == v1_spec["nodes"]
    restored = ada.post(f"/api/workflows/{wf['id']}/versions/1/restore").json()
    assert restored["version"] == 1 and restored["spec"]["nodes"] == v1_spec["nodes"]
    assert ada.get(f"/api/workflows/{wf['id']}/versions/9").status_code == 404


def test_rename_and_delete(gateway):
    ada = gateway.user()
    wf = ada.post("/api/workflows", json=manual_workflow()).json()
    renamed = ada.patch(f"/api/workflows/{wf['id']}", json={"name": "Renamed"})
    assert renamed.json()["name"] == "Renamed" and renamed.json()["spec"]["name"] == "Renamed"
    assert ada.patch(f"/api/workflows/{wf['id']}", json={"name": ""}).json()["detail"][0]["loc"] == [
        "body",
        "name",
    ]
    assert ada.delete(f"/api/workflows/{wf['id']}").status_code == 204
    assert ada.get(f"/api/workflows/{wf['id']}").status_code == 404
    assert ada.get("/api/workflows").json()["count"] == 0


def test_invalid_bodies_name_the_field(gateway):
    ada = gateway.user()
    bad_node = manual_workflow()
    bad_node["nodes"][0]["id"] = "has spaces"
    response = ada.post("/api/workflows", json=bad_node)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "nodes", 0, "id"]
    wrong_type = ada.post("/api/workflows", json={"name": 5})
    assert wrong_type.json()["detail"][0]["loc"] == ["body", "name"]
    not_json = ada.post("/api/workflows", content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


def test_problems_name_unknown_types_and_credentials_of_others(gateway):
    ada, bob = gateway.user(), gateway.user()
    bobs = bob.post(
        "/api/credentials",
        json={"name": "b", "type": "ping_api", "data": {"base_url": "http://x", "api_key": "kkkk"}},
    ).json()
    wf = manual_workflow()
    wf["nodes"].append({"id": "p", "type": "test.ping", "name": "Ping", "credential_id": bobs["id"]})
    wf["nodes"].append({"id": "u", "type": "no.such", "name": "Unknown"})
    wf["edges"] += [{"source": "start", "target": "p"}, {"source": "start", "target": "u"}]
    problems = ada.post("/api/workflows", json=wf).json()["problems"]
    assert {"message": "credential not found", "node_id": "p", "field": "credential_id"} in problems
    assert any(p["node_id"] == "u" and p["field"] == "type" for p in problems)


def test_oversized_bodies_get_413(gateway):
    ada = gateway.user()
    huge = {"name": "x", "nodes": [], "edges": [], "settings": {}, "padding": "y" * 2_000_000}
    assert ada.post("/api/workflows", json=huge).status_code == 413

    def chunks():
        yield b'{"name": "'
        for _ in range(40):
            yield b"z" * 50_000
        yield b'"}'

    streamed = ada.post("/api/workflows", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert ada.get("/api/workflows").json()["count"] == 0


def test_openapi_docs_are_served(gateway):
    browser = gateway.anonymous()
    assert "swagger" in browser.get("/api/docs").text.lower()
    paths = browser.get("/api/openapi.json").json()["paths"]
    assert {"/api/workflows", "/api/credentials", "/api/executions", "/api/node-types", "/api/health"} <= set(
        paths
    )


def test_a_workflow_says_whether_the_dagster_code_location_lists_it_and_as_which_job(gateway):
    ada, bob = gateway.user(), gateway.user()
    created = ada.post("/api/workflows", json=manual_workflow(name="Orders")).json()
    wid = created["id"]
    assert created["runnable"] is True and created["problems"] == []
    assert created["dagster_job"] == f"wf_{wid}__v1"
    # A broken template is a problem on save: that version is left out of the code location.
    broken = manual_workflow(name="Orders")
    broken["nodes"][-1]["params"]["fields"]["text"] = "order {{ start.order_id "
    saved = ada.put(f"/api/workflows/{wid}", json=broken).json()
    assert saved["version"] == 2 and saved["runnable"] is False and saved["dagster_job"] is None
    [problem] = saved["problems"]
    assert problem["node_id"] == "summary" and problem["field"] == "params.fields.text"
    assert problem["message"].startswith("template syntax error")
    assert ada.get(f"/api/workflows/{wid}").json()["problems"] == saved["problems"]
    # Hostile template source is only parsed, never rendered, when checked.
    hostile = manual_workflow(name="Orders")
    hostile["nodes"][-1]["params"]["fields"]["text"] = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    checked = ada.put(f"/api/workflows/{wid}", json=hostile).json()
    assert checked["runnable"] is True and checked["dagster_job"] == f"wf_{wid}__v3"
    # A trigger-less draft is not runnable and has no job.
    draft = ada.post("/api/workflows", json={}).json()
    assert draft["runnable"] is False and draft["dagster_job"] is None
    assert bob.get(f"/api/workflows/{wid}").status_code == 404
