"""The workflow being edited: spec-shaped nodes and edges, and whether they differ from the saved version.

Every editor component reads and changes the workflow through this one object, so the canvas, the
settings panel and Save never disagree. Its ``to_spec()`` is exactly the body ``PUT /api/workflows``
takes (the same shape as ``connectflow_dagster.spec.Workflow``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import param

__all__ = ["WorkflowDraft", "edge_key", "node_outputs"]


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "node"
    return f"n_{slug}" if slug[0].isdigit() else slug


def node_outputs(info: dict[str, Any], params: dict[str, Any] | None) -> list[str]:
    """The output handles of one node: its type's ``outputs``, or, for a type whose outputs depend on
    its params (Switch: ``outputs_from`` in ``GET /api/node-types``), one per entry of the list param
    (the entry's ``key`` field, or its index), then the fixed ones (``fallback``). The engine's
    ``OutputsFrom.handles`` computes the same from the same description."""
    spec = info.get("outputs_from")
    if not spec:
        return list(info.get("outputs") or ["main"])
    entries = (params or {}).get(spec.get("param", ""))
    names: list[str] = []
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            name = entry.get(spec.get("key", "")) if isinstance(entry, dict) else None
            names.append(str(name) if isinstance(name, str | int) and str(name) else str(i))
    return [*names, *(spec.get("then") or [])]


def edge_key(edge: dict[str, Any]) -> str:
    """A stable id for an edge (also the canvas edge id)."""
    return f"{edge['source']}__{edge.get('source_handle') or 'main'}__{edge['target']}"


class WorkflowDraft(param.Parameterized):
    """A workflow under edit. ``dirty`` is True from the first change until ``mark_saved``."""

    workflow_id = param.String(default=None, allow_None=True)
    title = param.String(default="Untitled workflow", doc="The workflow's name.")
    nodes = param.List(default=[], doc="Spec-shaped node dicts, in insertion order.")
    edges = param.List(default=[], doc="Spec-shaped edge dicts.")
    settings = param.Dict(default={})
    notes = param.List(default=[], doc="Sticky notes: {id, text, position, size, color} (never run).")
    kept = param.Dict(default={}, doc="Workflow fields the editor does not edit (meta): saved as loaded.")
    version = param.Integer(default=None, allow_None=True, doc="Saved version number being edited.")
    dirty = param.Boolean(default=False)
    catalogue = param.Dict(default={}, doc="Node type name → its /api/node-types entry.")

    # ---- loading and saving ---------------------------------------------------------------------

    def load(self, workflow: dict[str, Any]) -> None:
        """Replace the draft with a saved workflow (as the API returns it)."""
        spec = workflow.get("spec") if isinstance(workflow.get("spec"), dict) else workflow
        self.param.update(
            workflow_id=workflow.get("id") or spec.get("id"),
            title=workflow.get("name") or spec.get("name") or "Untitled workflow",
            nodes=copy.deepcopy(spec.get("nodes") or []),
            edges=copy.deepcopy(spec.get("edges") or []),
            settings=copy.deepcopy(spec.get("settings") or {}),
            notes=copy.deepcopy(spec.get("notes") or []),
            kept={k: copy.deepcopy(spec[k]) for k in ("meta",) if spec.get(k)},
            version=_version_number(workflow),
            dirty=False,
        )

    def to_spec(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.title,
            "nodes": copy.deepcopy(self.nodes),
            "edges": copy.deepcopy(self.edges),
        }
        if self.workflow_id:
            body["id"] = self.workflow_id
        if self.settings:
            body["settings"] = copy.deepcopy(self.settings)
        if self.notes:
            body["notes"] = copy.deepcopy(self.notes)
        body.update(copy.deepcopy(self.kept))
        return body

    def mark_saved(self, saved: dict[str, Any] | None = None) -> None:
        version = _version_number(saved or {})
        self.param.update(dirty=False, version=version if version is not None else self.version)

    # ---- queries -----------------------------------------------------------------------------------

    def node(self, node_id: str) -> dict[str, Any]:
        for node in self.nodes:
            if node["id"] == node_id:
                return node
        raise KeyError(node_id)

    def type_info(self, node_id: str) -> dict[str, Any]:
        return self.catalogue.get(self.node(node_id)["type"], {})

    def outputs(self, node_id: str) -> list[str]:
        """The output handles of one node (per node for a Switch: one per rule, then fallback)."""
        return node_outputs(self.type_info(node_id), self.node(node_id).get("params"))

    def loop_of(self, node_id: str) -> str | None:
        """The loop whose items ``node_id`` runs once for each (None: it runs once per run), as
        the engine's ``spec.item_scopes`` decides: the nearest loop upstream not closed by an
        aggregate on the way."""
        seen: set[str] = set()
        frontier = [e["source"] for e in self.edges if e["target"] == node_id]
        while frontier:
            current = frontier.pop(0)
            if current in seen:
                continue
            seen.add(current)
            try:
                role = self.type_info(current).get("items")
            except KeyError:
                continue
            if role == "split":
                return current
            if role == "collect":
                continue
            frontier.extend(e["source"] for e in self.edges if e["target"] == current)
        return None

    def is_trigger(self, node_id: str) -> bool:
        return self.type_info(node_id).get("group") == "trigger"

    def ancestors(self, node_id: str) -> list[str]:
        """Every node upstream of ``node_id``, nearest first (their outputs are in its context)."""
        seen: list[str] = []
        frontier = [node_id]
        while frontier:
            current = frontier.pop(0)
            for edge in self.edges:
                if edge["target"] == current and edge["source"] not in seen and edge["source"] != node_id:
                    seen.append(edge["source"])
                    frontier.append(edge["source"])
        return seen

    def context_variables(self, node_id: str) -> list[dict[str, str]]:
        """The template variables a node can use: each upstream node's ``variable_name``; inside a
        loop also ``item`` and ``item_index`` (docs/items.md)."""
        out = []
        loop = self.loop_of(node_id) if node_id in {n["id"] for n in self.nodes} else None
        if loop is not None:
            name = self.node(loop)["name"]
            out.append({"variable": "item", "node": f"the current item of {name}", "node_id": loop})
            out.append({"variable": "item_index", "node": f"its index in {name}", "node_id": loop})
        for ancestor in self.ancestors(node_id):
            node = self.node(ancestor)
            if self.type_info(ancestor).get("items") != "collect" and self.loop_of(ancestor) not in (
                None,
                loop,
            ):
                continue  # a node inside a loop this node is not in: its outputs are per item
            out.append(
                {
                    "variable": node.get("variable_name") or _slug(node["name"]),
                    "node": node["name"],
                    "node_id": ancestor,
                }
            )
        return out

    # ---- changes -----------------------------------------------------------------------------------

    def _changed(self, **updates: Any) -> None:
        self.param.update(dirty=True, **updates)

    def add_node(self, type_name: str, position: dict[str, float] | None = None) -> dict[str, Any]:
        """Add a node of ``type_name`` with a unique id, name and variable name; returns it."""
        info = self.catalogue.get(type_name, {})
        base_name = info.get("display_name") or type_name
        names = {n["name"] for n in self.nodes}
        ids = {n["id"] for n in self.nodes}
        variables = {n.get("variable_name") for n in self.nodes}
        name, i = base_name, 1
        while name in names:
            i += 1
            name = f"{base_name} {i}"
        id_base = _slug(type_name.replace(".", "_"))[:58]
        node_id, i = id_base, 1
        while node_id in ids:
            i += 1
            node_id = f"{id_base}_{i}"
        var_base = _slug(base_name)[:58]
        variable, i = var_base, 1
        while variable in variables:
            i += 1
            variable = f"{var_base}_{i}"
        node = {
            "id": node_id,
            "type": type_name,
            "type_version": int(info.get("version") or 1),
            "name": name,
            "variable_name": variable,
            "position": {
                "x": float((position or {}).get("x", 0.0)),
                "y": float((position or {}).get("y", 0.0)),
            },
            "params": {},
        }
        self._changed(nodes=[*self.nodes, node])
        return node

    def next_position(self) -> dict[str, float]:
        """Where a node added by click goes: to the right of the right-most node."""
        if not self.nodes:
            return {"x": 0.0, "y": 0.0}
        right = max(self.nodes, key=lambda n: n["position"]["x"])
        return {"x": right["position"]["x"] + 260.0, "y": right["position"]["y"]}

    def remove_nodes(self, node_ids: list[str]) -> None:
        gone = set(node_ids)
        if not gone & {n["id"] for n in self.nodes}:
            return
        self._changed(
            nodes=[n for n in self.nodes if n["id"] not in gone],
            edges=[e for e in self.edges if e["source"] not in gone and e["target"] not in gone],
        )

    def move_node(self, node_id: str, position: dict[str, float]) -> None:
        node = self.node(node_id)
        new = {"x": float(position.get("x", 0.0)), "y": float(position.get("y", 0.0))}
        if node.get("position") == new:
            return
        node["position"] = new
        self._changed(nodes=list(self.nodes))

    def update_node(self, node_id: str, **changes: Any) -> None:
        """Change fields of one node (``name``, ``variable_name``, ``params``, ``credential_id``…)."""
        node = self.node(node_id)
        changed = False
        for key, value in changes.items():
            if value is None and key in ("credential_id", "retry", "on_error"):
                if key in node:
                    node.pop(key)
                    changed = True
                continue
            if node.get(key) != value:
                node[key] = copy.deepcopy(value)
                changed = True
        if changed:
            self._changed(nodes=list(self.nodes))

    def connect(self, source: str, target: str, source_handle: str | None = None) -> str | None:
        """Add an edge; returns why it was refused (or None when added)."""
        if source == target:
            return "a node cannot connect to itself"
        known = {n["id"] for n in self.nodes}
        if source not in known or target not in known:
            return "both ends must be nodes of this workflow"
        if self.is_trigger(target):
            return "a trigger cannot have incoming connections"
        outputs = self.outputs(source)
        handle = source_handle if source_handle and len(outputs) > 1 else None
        if len(outputs) > 1 and handle not in outputs:
            handle = outputs[0]
        if source_handle == "error" and self.node(source).get("on_error") == "error_output":
            handle = "error"  # the node's error output (on_error: error_output)
        edge = {"source": source, "target": target}
        if handle:
            edge["source_handle"] = handle
        if any(edge_key(e) == edge_key(edge) for e in self.edges):
            return "these nodes are already connected"
        if source == target or source in self._descendants(target):
            return "this connection would make a cycle"
        self._changed(edges=[*self.edges, edge])
        return None

    def _descendants(self, node_id: str) -> set[str]:
        seen, stack = {node_id}, [node_id]
        while stack:
            current = stack.pop()
            for e in self.edges:
                if e["source"] == current and e["target"] not in seen:
                    seen.add(e["target"])
                    stack.append(e["target"])
        return seen

    def disconnect(self, keys: list[str]) -> None:
        gone = set(keys)
        remaining = [e for e in self.edges if edge_key(e) not in gone]
        if len(remaining) != len(self.edges):
            self._changed(edges=remaining)

    # ---- sticky notes ------------------------------------------------------------------------------

    NOTE_COLORS = ("yellow", "blue", "green", "pink", "purple", "gray")

    def note(self, note_id: str) -> dict[str, Any]:
        for note in self.notes:
            if note["id"] == note_id:
                return note
        raise KeyError(note_id)

    def add_note(self, position: dict[str, float] | None = None, text: str = "") -> dict[str, Any]:
        """Add a sticky note with a unique id; returns it."""
        ids = {n["id"] for n in self.notes}
        i = len(self.notes) + 1
        while f"note_{i}" in ids:
            i += 1
        note = {
            "id": f"note_{i}",
            "text": text,
            "position": {
                "x": float((position or {}).get("x", 0.0)),
                "y": float((position or {}).get("y", 0.0)),
            },
            "size": {"width": 240.0, "height": 160.0},
            "color": "yellow",
        }
        self._changed(notes=[*self.notes, note])
        return note

    def update_note(self, note_id: str, **changes: Any) -> None:
        """Change a note's ``text``, ``color``, ``position`` or ``size``."""
        note = self.note(note_id)
        changed = False
        for key, value in changes.items():
            if key not in ("text", "color", "position", "size") or note.get(key) == value:
                continue
            note[key] = copy.deepcopy(value)
            changed = True
        if changed:
            self._changed(notes=list(self.notes))

    def remove_note(self, note_id: str) -> None:
        remaining = [n for n in self.notes if n["id"] != note_id]
        if len(remaining) != len(self.notes):
            self._changed(notes=remaining)

    def rename(self, name: str) -> None:
        if name and name != self.title:
            self._changed(title=name)


def _version_number(body: dict[str, Any]) -> int | None:
    for key in ("version", "version_number", "current_version"):
        value = body.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, dict) and isinstance(value.get("number"), int):
            return value["number"]
    return None
