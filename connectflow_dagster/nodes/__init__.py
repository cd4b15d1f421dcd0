"""The node catalogue: one module (or folder) per node type, registered in pyproject.toml.

Adding a node = one module here (params model, output model, ``execute``, optional credential type)
plus one line under ``[project.entry-points."connectflow.nodes"]``.
"""

from connectflow_dagster.nodes.base import (
    Branch,
    CredentialFields,
    CredentialType,
    NodeContext,
    NodeType,
    Params,
)

__all__ = ["Branch", "CredentialFields", "CredentialType", "NodeContext", "NodeType", "Params"]
