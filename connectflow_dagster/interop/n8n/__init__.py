"""n8n workflow JSON ↔ ConnectFlow workflows (docs/n8n.md).

``import_n8n(data)`` → one ``Imported`` (workflow + report) per workflow in an n8n export;
``export_n8n(workflow)`` → n8n workflow JSON. Mappings per node family live in ``mappers/``.
"""

from connectflow_dagster.interop.n8n.exporter import export_n8n
from connectflow_dagster.interop.n8n.importer import Imported, ImportReport, import_n8n, read_document

__all__ = ["ImportReport", "Imported", "export_n8n", "import_n8n", "read_document"]
