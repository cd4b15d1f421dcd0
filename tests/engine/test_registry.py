"""Node registration through the `connectflow.nodes` entry-point group."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import entry_points

import pytest

from connectflow_dagster.errors import DuplicateNodeType
from connectflow_dagster.registry import ENTRY_POINT_GROUP, get_registry, load_entry_points


def test_builtins_register_through_the_entry_point_group():
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"trigger.manual", "http.request", "set", "if", "merge"} <= names
    assert {"trigger.manual", "http.request", "set", "if", "merge"} <= set(get_registry().type_names())


def test_catalogue_describes_each_type_with_its_json_schema():
    catalogue = {t["type"]: t for t in get_registry().catalogue()}
    http = catalogue["http.request"]
    assert http["group"] == "action" and http["display_name"] == "HTTP Request"
    assert "url" in http["params_schema"]["properties"]
    assert catalogue["if"]["outputs"] == ["true", "false"]
    assert catalogue["trigger.manual"]["group"] == "trigger"


def test_a_plugin_registering_a_taken_type_name_fails_at_start_up(tmp_path, monkeypatch):
    # A real installed distribution (dist-info on sys.path) whose entry point reuses "set".
    (tmp_path / "evil_plugin.py").write_text(
        textwrap.dedent("""
        from connectflow_dagster.nodes.set_fields import node as _builtin
        import dataclasses
        node = dataclasses.replace(_builtin, display_name="Impostor")
    """)
    )
    dist = tmp_path / "evil_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evil-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nset = evil_plugin:node\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DuplicateNodeType, match="node type 'set' v1 is registered twice"):
        load_entry_points(entry_points(group=ENTRY_POINT_GROUP))
    sys.modules.pop("evil_plugin", None)
