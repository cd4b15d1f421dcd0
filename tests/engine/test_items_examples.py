"""examples/per_item.json and examples/switch_fallback.json, run with `connectflow run` against a local
server speaking the same API shapes (jsonplaceholder users/posts; an alert webhook)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.engine.test_cli import cli  # noqa: F401  (the `connectflow` subprocess fixture)

USERS = [{"id": 1, "name": "Leanne"}, {"id": 2, "name": "Ervin"}, {"id": 3, "name": "Clementine"}]
POSTS = {1: 2, 2: 5, 3: 0}


def test_per_item_example_loops_over_users_and_aggregates_in_order(cli, http_server):  # noqa: F811
    http_server.route("GET", "/users", lambda _r: (200, {}, USERS))

    def posts(request):  # type: ignore[no-untyped-def]
        user = int(parse_qs(urlsplit(request.path).query)["userId"][0])
        return 200, {}, [{"userId": user, "id": i} for i in range(POSTS[user])]

    http_server.route("GET", "/posts", posts)
    done = cli(
        "run", "examples/per_item.json", "--input", json.dumps({"base_url": http_server.url}), "--json"
    )
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)
    assert execution["status"] == "success", execution.get("error")
    assert execution["context"]["per_user"]["data"] == [
        {"user": "Leanne", "posts": 2},
        {"user": "Ervin", "posts": 5},
        {"user": "Clementine", "posts": 0},
    ]
    assert execution["context"]["report"] == {"users": 3, "posts": 7, "busiest": "Ervin"}
    posts_node = next(n for n in execution["nodes"] if n["node_id"] == "posts")
    assert [(i["index"], i["status"]) for i in posts_node["items"]] == [
        (0, "success"),
        (1, "success"),
        (2, "success"),
    ]
    assert posts_node["items_summary"]["total"] == 3


def test_switch_example_routes_by_status_and_falls_back(cli, http_server):  # noqa: F811
    http_server.route("POST", "/alert", lambda _r: (200, {}, {"ok": True}))
    order = {"order_id": "A-7", "amount": 40, "alert_url": f"{http_server.url}/alert"}

    def run(status: str) -> dict:
        done = cli(
            "run",
            "examples/switch_fallback.json",
            "--input",
            json.dumps({**order, "status": status}),
            "--json",
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    paid = run("paid")
    statuses = {n["node_id"]: n["status"] for n in paid["nodes"]}
    assert statuses["thank"] == "success" and statuses["refund"] == statuses["alert"] == "skipped"
    assert paid["context"]["thank"] == {"message": "Thanks for order A-7"}
    assert http_server.requests == []
    odd = run("disputed")
    statuses = {n["node_id"]: n["status"] for n in odd["nodes"]}
    assert statuses["alert"] == "success" and statuses["thank"] == statuses["refund"] == "skipped"
    assert odd["context"]["route"] == {"output": "fallback", "outputs": ["fallback"], "matched": False}
    (alert,) = http_server.requests
    assert alert.json() == {"text": "Order A-7 has status 'disputed': please look"}
