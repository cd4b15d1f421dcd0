"""The quickstart notebook runs top to bottom in a real kernel against a local HTTP server."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT


@pytest.mark.timeout(300)
def test_quickstart_notebook_executes(cf, http_server, monkeypatch):
    http_server.route(
        "GET",
        "/orders/A-1042",
        lambda req: (200, {}, {"id": "A-1042", "amount": 4200, "currency": "eur", "customer": "Ada"}),
    )
    monkeypatch.setenv("QUICKSTART_API_URL", http_server.url)
    monkeypatch.setenv("CONNECTFLOW_HOME", str(cf.home))
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
        env=dict(os.environ),
    )
    client.execute()
    outputs = "\n".join(
        o.get("text", "") + json.dumps(o.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "field 'params.timeout'" in outputs and "cycle" in outputs
    assert "success" in outputs
    assert "Big order A-1042 from Ada: 42.0 EUR" in outputs
    assert [r.path for r in http_server.requests] == ["/orders/A-1042"]
