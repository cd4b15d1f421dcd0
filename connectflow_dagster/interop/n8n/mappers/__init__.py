"""Per-family n8n ↔ ConnectFlow node mappings; importing this package registers them all.

To map another n8n node type: add a function decorated with ``@importer("n8n-nodes-base.x")`` (and
an ``@exporter("cf.type")`` for the way back) to the family module it belongs to, or a new module
listed below. ``base.py`` describes the contract.
"""

from connectflow_dagster.interop.n8n.mappers import ai, code, flow, http, logic, messaging, triggers
from connectflow_dagster.interop.n8n.mappers.base import EXPORT_VIEWS, EXPORTERS, IMPORTERS

__all__ = [
    "EXPORTERS",
    "EXPORT_VIEWS",
    "IMPORTERS",
    "ai",
    "code",
    "flow",
    "http",
    "logic",
    "messaging",
    "triggers",
]
