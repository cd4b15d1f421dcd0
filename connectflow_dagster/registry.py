"""The node registry: every node type, built-in or third-party, arrives through one entry-point group.

A package registers nodes with ``[project.entry-points."connectflow.nodes"]``; each entry point names
a ``NodeType`` (or a list of them). Two registrations of the same type name and version fail at
start-up with ``DuplicateNodeType`` rather than one silently shadowing the other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from connectflow_dagster.errors import DuplicateNodeType, NodeTypeError
from connectflow_dagster.nodes.base import CredentialType, NodeType

ENTRY_POINT_GROUP = "connectflow.nodes"


class NodeRegistry:
    """Node types by (type name, version), and the credential types they declare."""

    def __init__(
        self, node_types: Iterable[NodeType] = (), *, origin: dict[tuple[str, int], str] | None = None
    ):
        self._types: dict[tuple[str, int], NodeType] = {}
        self._origin: dict[tuple[str, int], str] = {}
        for node_type in node_types:
            self.add(node_type, (origin or {}).get((node_type.type, node_type.version), "<code>"))

    def add(self, node_type: NodeType, origin: str = "<code>") -> None:
        key = (node_type.type, node_type.version)
        if key in self._types:
            raise DuplicateNodeType(
                f"node type '{node_type.type}' v{node_type.version} is registered twice: "
                f"by {self._origin[key]} and by {origin}"
            )
        self._types[key] = node_type
        self._origin[key] = origin

    def get(self, type_name: str, version: int = 1) -> NodeType:
        return self._types[(type_name, version)]

    def type_names(self) -> list[str]:
        return sorted({t for t, _ in self._types})

    def all(self) -> list[NodeType]:
        return [self._types[k] for k in sorted(self._types)]

    def credential_types(self) -> dict[str, CredentialType]:
        found: dict[str, CredentialType] = {}
        for node_type in self.all():
            if node_type.credential is not None:
                found.setdefault(node_type.credential.type, node_type.credential)
            for option in node_type.credential_options:
                found.setdefault(option.type, option)
        return found

    def catalogue(self) -> list[dict[str, Any]]:
        """The catalogue served at ``GET /api/node-types``: each type with its JSON Schema."""
        return [t.describe() for t in self.all()]


def load_entry_points(eps: Iterable[EntryPoint]) -> NodeRegistry:
    registry = NodeRegistry()
    seen: set[tuple[str, str]] = set()
    for ep in eps:
        if (ep.name, ep.value) in seen:  # the same distribution found twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin should say which one it is
            raise NodeTypeError(f"could not load node plugin '{ep.name}' ({ep.value}): {exc}") from exc
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        for item in items:
            if not isinstance(item, NodeType):
                raise NodeTypeError(f"entry point '{ep.name}' ({ep.value}) is not a NodeType")
            dist = getattr(ep, "dist", None)
            registry.add(item, f"{dist.name if dist else '?'}:{ep.value}")
    return registry


@functools.cache
def get_registry() -> NodeRegistry:
    """Every node type installed in this environment (loaded once per process)."""
    return load_entry_points(entry_points(group=ENTRY_POINT_GROUP))
