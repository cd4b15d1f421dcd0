"""notebooks/02_assistant.ipynb runs top to bottom in a real kernel without a model configured."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.conftest import ROOT


def test_assistant_notebook_runs_without_a_model(tmp_path: Path) -> None:
    nb = nbformat.read(ROOT / "notebooks" / "02_assistant.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTFLOW_ASSISTANT")}
    env["CONNECTFLOW_HOME"] = str(tmp_path / "home")
    client.execute(env=env)
    outputs = "\n".join(
        o.get("text", "") + json.dumps(o.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "20 templates" in outputs
    assert "Stripe payment → AI summary → Gmail" in outputs
    assert "workflow_request" in outputs and "template valid" in outputs
    assert "CONNECTFLOW_ASSISTANT_MODEL" in outputs
    assert "n8n-nodes-base.scheduleTrigger" in outputs
