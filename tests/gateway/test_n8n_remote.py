"""``cf.import_n8n`` / ``cf.export`` as a token user: through the gateway's REST API (a real uvicorn
gateway), so the imported workflow is in that user's editor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import connectflow_dagster as cf_api
from connectflow_dagster.errors import WorkflowInvalid
from connectflow_dagster.remote import RemoteError
from tests.gateway.test_remote_identity import Browser
from tests.ui.conftest import LiveGateway, worker  # noqa: F401  (the worker fixture)

FIXTURE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "n8n" / "webhook_http_set.json").read_text()
)


@pytest.fixture
def live(cf: Any, worker: Any) -> Iterator[LiveGateway]:  # noqa: F811
    from gateway.app import create_app

    with LiveGateway(create_app()) as server:
        yield server


def test_python_api_imports_and_exports_through_the_gateway(live):
    ada = Browser(live.url, "n8n-remote@example.com")
    cf_api.connect(url=live.url, token=ada.token(scopes=["read", "write"]))
    try:
        [imported] = cf_api.import_n8n(FIXTURE, name="From n8n")
        assert imported["name"] == "From n8n" and imported["url"].endswith(f"/ui/editor?id={imported['id']}")
        assert imported["report"]["summary"]["exact"] == 3
        assert [w["id"] for w in ada.call("GET", "/api/workflows").json()["data"]] == [imported["id"]]
        exported = cf_api.export(imported["id"], format="n8n")
        assert [n["name"] for n in exported["nodes"]] == ["Webhook", "Fetch order", "Message"]
        assert exported["connections"] == FIXTURE["connections"]
        with pytest.raises((RemoteError, WorkflowInvalid)) as refused:
            cf_api.import_n8n({"nodes": "nope"})
        assert "'nodes' must be a list" in str(refused.value)
    finally:
        cf_api.connect()
