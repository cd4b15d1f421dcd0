"""ConnectFlow on Dagster: workflow automation whose executions are Dagster runs.

The public Python API (for notebooks and scripts)::

    import connectflow_dagster as cf
    wf = cf.WorkflowBuilder("Hello")
    ...
    cf.validate(wf); cf.save(wf); execution = cf.run(wf, {"name": "Ada"})

It acts as a real user: ``connectflow login`` / ``CONNECTFLOW_TOKEN`` (through the gateway) or a local
account (``CONNECTFLOW_USER``); ``cf.connect(...)`` chooses in-process, ``cf.whoami()`` tells.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"

__all__ = [
    "Edge",
    "Execution",
    "Node",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowInvalid",
    "__version__",
    "connect",
    "execution",
    "executions",
    "export",
    "import_n8n",
    "load",
    "run",
    "save",
    "validate",
    "whoami",
    "workflows",
]

_LAZY = {
    "Edge": "connectflow_dagster.spec",
    "Node": "connectflow_dagster.spec",
    "Workflow": "connectflow_dagster.spec",
    "WorkflowInvalid": "connectflow_dagster.errors",
    "Execution": "connectflow_dagster.execution",
    "WorkflowBuilder": "connectflow_dagster.authoring",
    "connect": "connectflow_dagster.identity",
    "execution": "connectflow_dagster.authoring",
    "executions": "connectflow_dagster.authoring",
    "export": "connectflow_dagster.authoring",
    "import_n8n": "connectflow_dagster.authoring",
    "load": "connectflow_dagster.authoring",
    "run": "connectflow_dagster.authoring",
    "save": "connectflow_dagster.authoring",
    "validate": "connectflow_dagster.authoring",
    "whoami": "connectflow_dagster.authoring",
    "workflows": "connectflow_dagster.authoring",
}

if TYPE_CHECKING:
    from connectflow_dagster.authoring import (
        WorkflowBuilder,
        execution,
        executions,
        export,
        import_n8n,
        load,
        run,
        save,
        validate,
        whoami,
        workflows,
    )
    from connectflow_dagster.errors import WorkflowInvalid
    from connectflow_dagster.execution import Execution
    from connectflow_dagster.identity import connect
    from connectflow_dagster.spec import Edge, Node, Workflow


def __getattr__(name: str) -> Any:
    # Lazy, so `import connectflow_dagster` stays cheap for the CLI and Dagster's code server.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'connectflow_dagster' has no attribute {name!r}")
