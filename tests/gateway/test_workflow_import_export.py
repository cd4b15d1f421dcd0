"""``POST /api/workflows/import`` (n8n JSON) and ``GET /api/workflows/{id}/export?format=n8n|connectflow``:
owner-scoped, round-trips, hostile input answered with a clear 4xx and nothing saved."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

N8N = Path(__file__).resolve().parents[1] / "fixtures" / "n8n"
FIXTURE = json.loads((N8N / "webhook_http_set.json").read_text())


def _essentials(doc: dict) -> tuple:
    nodes = sorted(
        (n["name"], n["type"], tuple(n["position"]), json.dumps(n["parameters"], sort_keys=True))
        for n in doc["nodes"]
    )
    return nodes, doc["connections"]


def test_import_saves_the_workflow_for_its_owner_with_a_report_and_exports_it_back(gateway):
    ada, bob = gateway.user(), gateway.user()
    response = ada.post("/api/workflows/import?name=Orders%20from%20n8n", json=FIXTURE)
    assert response.status_code == 201, response.text
    [imported] = response.json()["workflows"]
    assert imported["name"] == "Orders from n8n" and imported["version"] == 1
    summary = imported["report"]["summary"]
    assert (summary["exact"], summary["unsupported"], summary["expressions_translated"]) == (3, 0, 2)
    wf = ada.get(f"/api/workflows/{imported['id']}").json()
    assert [n["type"] for n in wf["spec"]["nodes"]] == ["trigger.webhook", "http.request", "set"]
    assert wf["runnable"] is True
    # only the owner has it
    assert imported["id"] not in [w["id"] for w in bob.get("/api/workflows").json()["data"]]
    assert bob.get(f"/api/workflows/{imported['id']}/export?format=n8n").status_code == 404

    exported = ada.get(f"/api/workflows/{imported['id']}/export?format=n8n")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert _essentials(exported.json()) == _essentials(FIXTURE)
    own = ada.get(f"/api/workflows/{imported['id']}/export?format=connectflow").json()
    assert own["id"] == imported["id"] and [n["id"] for n in own["nodes"]] == [
        "webhook",
        "fetch_order",
        "message",
    ]
    # the product's own format saves back unchanged (same content: no new version)
    again = ada.put(f"/api/workflows/{imported['id']}", json={k: v for k, v in own.items() if k != "id"})
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 1


def test_an_array_of_workflows_imports_each_and_credentials_are_flagged(gateway):
    ada = gateway.user()
    docs = [
        json.loads((N8N / f).read_text()) for f in ("schedule_if_discord.json", "stripe_openai_email.json")
    ]
    response = ada.post("/api/workflows/import", json=docs)
    assert response.status_code == 201, response.text
    workflows = response.json()["workflows"]
    assert [w["name"] for w in workflows] == [d["name"] for d in docs]
    flagged = [
        n["credential"]["expected_type"]
        for w in workflows
        for n in w["report"]["nodes"]
        if n.get("credential")
    ]
    assert flagged == ["discord_webhook", "openai_api", "smtp"]
    wf = ada.get(f"/api/workflows/{workflows[0]['id']}").json()
    assert wf["runnable"] is False
    assert any("credential" in p["message"] for p in wf["problems"])


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, ""),
        (json.dumps(FIXTURE).encode(), {"content-type": "text/plain"}, 415, "application/json"),
        (b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400, ""),
        (json.dumps({"nodes": [{"name": f"n{i}", "type": "x"} for i in range(10_000)], "connections": {}}).encode(),
         {"content-type": "application/json"}, 422, "at most 500"),
        (json.dumps([FIXTURE] * 101).encode(), {"content-type": "application/json"}, 422, "at most 100"),
        (json.dumps([FIXTURE] * 3).encode()[:-5], {"content-type": "application/json"}, 400, ""),
        (json.dumps({"nodes": [], "edges": []}).encode(), {"content-type": "application/json"}, 422, "ConnectFlow workflow"),
        (json.dumps({"name": "x" * 2_000_000}).encode(), {"content-type": "application/json"}, 413, ""),
        (json.dumps("just a string").encode(), {"content-type": "application/json"}, 422, "expected an object"),
    ],
    ids=["malformed", "content-type", "deep", "10k-nodes", "101-workflows", "truncated", "connectflow-doc", "huge", "string"],
)  # fmt: skip
def test_hostile_imports_get_a_clear_4xx_and_save_nothing(gateway, body, headers, status, message):
    ada = gateway.user()
    response = ada.post("/api/workflows/import", content=body, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert message in response.text
    assert ada.get("/api/workflows").json()["count"] == 0


def test_concurrent_imports_each_get_their_own_workflow(gateway):
    ada = gateway.user()
    results: list[int] = []
    ids: list[str] = []

    def run() -> None:
        response = ada.post("/api/workflows/import", json=FIXTURE)
        results.append(response.status_code)
        if response.status_code == 201:
            ids.append(response.json()["workflows"][0]["id"])

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4 and len(set(ids)) == 4
    assert ada.get("/api/workflows").json()["count"] == 4


def test_export_refuses_an_unknown_format(gateway):
    ada = gateway.user()
    [imported] = ada.post("/api/workflows/import", json=FIXTURE).json()["workflows"]
    assert ada.get(f"/api/workflows/{imported['id']}/export?format=zapier").status_code == 422
