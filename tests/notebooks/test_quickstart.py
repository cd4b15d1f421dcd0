"""The quickstart notebook runs top to bottom in a real kernel against a local HTTP server, as a real
user: through a real gateway (uvicorn + a warm worker, started here) with a personal access token, and
without a server as a named local account."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT
from tests.gateway.conftest import PASSWORD
from tests.ui.conftest import LiveGateway, worker  # noqa: F401  (the worker fixture)


def _execute(env: dict[str, str]) -> str:
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute(env=env)  # the kernel's environment (start_kernel's env), not this process's
    return "\n".join(
        o.get("text", "") + json.dumps(o.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def _assert_the_story(outputs: str, http_server: Any) -> None:
    assert "field 'params.timeout'" in outputs and "cycle" in outputs
    assert "success" in outputs
    assert "Big order A-1042 from Ada: 42.0 EUR" in outputs
    assert "/ui/editor?id=quickstart_orders" in outputs
    assert "Fetch order" in outputs  # cf.load gave the workflow back
    assert [r.path for r in http_server.requests] == ["/orders/A-1042"]


@pytest.mark.timeout(400)
def test_quickstart_notebook_through_the_gateway_with_a_token(cf, http_server, worker):  # noqa: F811
    from gateway.app import create_app

    http_server.route(
        "GET",
        "/orders/A-1042",
        lambda req: (200, {}, {"id": "A-1042", "amount": 4200, "currency": "eur", "customer": "Ada"}),
    )
    with LiveGateway(create_app()) as live, httpx.Client(base_url=live.url, timeout=60) as browser:
        account = {"email": "ada@example.com", "password": PASSWORD}
        assert browser.post("/api/auth/sign-up/email", json=account).status_code == 202
        signed = browser.post("/api/auth/sign-in/email", json=account)
        assert signed.status_code == 200, signed.text
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        token = browser.post("/api/tokens", json={"name": "notebook"}, headers=csrf).json()["token"]
        env = {
            **os.environ,
            "QUICKSTART_API_URL": http_server.url,
            # The kernel has no database of its own to fall back on: everything goes over HTTP.
            "CONNECTFLOW_HOME": str(cf.home.parent / "kernel-home"),
            "CONNECTFLOW_URL": live.url,
            "CONNECTFLOW_TOKEN": token,
        }
        env.pop("CONNECTFLOW_DATABASE_URL", None)
        outputs = _execute(env)
        assert f"ada@example.com at {live.url}" in outputs
        _assert_the_story(outputs, http_server)
        mine = browser.get("/api/workflows").json()["data"]
        assert [(w["id"], w["name"]) for w in mine] == [("quickstart_orders", "Quickstart: order notifier")]
        runs = browser.get("/api/executions", params={"workflow_id": "quickstart_orders"}).json()
        assert runs["count"] == 1 and runs["data"][0]["status"] == "success"


@pytest.mark.timeout(300)
def test_quickstart_notebook_as_a_local_account(cf, http_server):
    http_server.route(
        "GET",
        "/orders/A-1042",
        lambda req: (200, {}, {"id": "A-1042", "amount": 4200, "currency": "eur", "customer": "Ada"}),
    )
    cf.new_user("grace@example.com")
    cf.new_user("linus@example.com")
    env = {
        **os.environ,
        "QUICKSTART_API_URL": http_server.url,
        "CONNECTFLOW_HOME": str(cf.home),
        "CONNECTFLOW_USER": "grace@example.com",
    }
    outputs = _execute(env)
    assert "grace@example.com (local)" in outputs
    _assert_the_story(outputs, http_server)
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import Workflow

    with session_scope() as session:
        owner = session.get(Workflow, "quickstart_orders")
        assert owner is not None
        from connectflow_dagster.store.models import User

        assert session.get(User, owner.owner_id).email == "grace@example.com"
