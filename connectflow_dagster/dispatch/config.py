"""Dispatch's settings are a section of the one ``connectflow_dagster.config.Settings``.

``DispatchSettings`` / ``get_dispatch_settings`` are that class and its cached instance under the
names dispatch code has used (clearing either cache clears both: they are one function).
"""

from __future__ import annotations

from connectflow_dagster.config import Settings, get_settings

DispatchSettings = Settings
get_dispatch_settings = get_settings

__all__ = ["DispatchSettings", "get_dispatch_settings"]
