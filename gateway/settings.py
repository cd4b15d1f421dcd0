"""The gateway's settings are sections of the one ``connectflow_dagster.config.Settings``.

``GatewaySettings`` is that class under the name gateway code has used; new code reads
``get_settings()`` (or ``Settings()`` for a fresh read, as ``create_app`` does).
"""

from __future__ import annotations

from connectflow_dagster.config import Settings

GatewaySettings = Settings

__all__ = ["GatewaySettings"]
