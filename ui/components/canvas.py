"""The workflow canvas: panel-reactflow showing a ``WorkflowDraft``, with run status patched in.

The graph is built once when a workflow opens. After that every change is incremental: the user's
drags, connections and deletions arrive as ReactFlow events and are applied to the draft; run status
and validation problems are patched onto single nodes (``patch_node_data`` for the data,
``patch_node_props`` for the class the CSS colours), never by re-sending the graph.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.viewable import Viewer
from panel_reactflow import NodeType, ReactFlow

from ui.components.draft import WorkflowDraft, edge_key, node_outputs

__all__ = [
    "DROP_TYPE",
    "ERROR_HANDLE",
    "STATUSES",
    "Canvas",
    "flow_edge",
    "flow_node",
    "flow_type",
    "node_class",
    "node_type_specs",
]

DROP_TYPE = "application/x-connectflow-node"
STATUSES = ("idle", "queued", "running", "success", "failed", "skipped", "retrying", "not_run", "waiting")

CANVAS_CSS = """
.react-flow__node.cf-node {
  min-width: 170px; border-radius: 10px; background: #fff; border: 1.5px solid #cbd5e1;
  box-shadow: 0 1px 3px rgba(15,23,42,.08); font-family: system-ui, sans-serif; font-size: 13px;
  padding: 2px 6px 8px 6px; color: #0f172a;
}
.react-flow__node.cf-node.selected { box-shadow: 0 0 0 3px rgba(99,102,241,.35); border-color: #6366f1; }
.react-flow__node.cf-node::before {
  display: block; font-size: 10px; letter-spacing: .04em; text-transform: uppercase; color: #64748b;
  margin: 4px 0 0 8px;
}
.react-flow__node.cf-group-trigger::before { content: "⚡ trigger"; color: #b45309; }
.react-flow__node.cf-group-action::before { content: "▶ action"; color: #2563eb; }
.react-flow__node.cf-group-logic::before { content: "◆ logic"; color: #7c3aed; }
.react-flow__node.cf-node::after {
  position: absolute; top: -10px; right: -8px; border-radius: 9px; padding: 1px 8px; font-size: 11px;
  font-weight: 600; color: #fff;
}
.react-flow__node.cf-status-queued::after { content: "queued"; background: #94a3b8; }
.react-flow__node.cf-status-running { border-color: #3b82f6; }
.react-flow__node.cf-status-running::after { content: "running…"; background: #3b82f6; }
.react-flow__node.cf-status-retrying { border-color: #f59e0b; }
.react-flow__node.cf-status-retrying::after { content: "retrying"; background: #f59e0b; }
.react-flow__node.cf-status-waiting { border-color: #8b5cf6; border-style: dashed; }
.react-flow__node.cf-status-waiting::after { content: "⏸ waiting"; background: #8b5cf6; }
.react-flow__node.cf-status-success { border-color: #16a34a; background: #f0fdf4; }
.react-flow__node.cf-status-success::after { content: "✓ success"; background: #16a34a; }
.react-flow__node.cf-status-failed { border-color: #dc2626; background: #fef2f2; }
.react-flow__node.cf-status-failed::after { content: "✕ failed"; background: #dc2626; }
.react-flow__node.cf-status-skipped { border-style: dashed; opacity: .75; }
.react-flow__node.cf-status-skipped::after { content: "skipped"; background: #64748b; }
.react-flow__node.cf-status-not_run { opacity: .6; }
.react-flow__node.cf-invalid { border-color: #f97316; border-width: 2px; }
.react-flow__node.cf-unsupported { border: 2px dashed #dc2626; background: #fef2f2; }
.react-flow__node.cf-unsupported::before { content: "✖ not supported (n8n)"; color: #dc2626; }
.react-flow__node.cf-invalid.cf-status-idle::after { content: "⚠ fix settings"; background: #f97316; }
.react-flow__node.cf-note {
  border-radius: 6px; border: 1px solid rgba(15,23,42,.12); box-shadow: 0 2px 6px rgba(15,23,42,.10);
  font-family: system-ui, sans-serif; font-size: 13px; color: #1f2937; padding: 4px 8px; overflow: auto;
}
.react-flow__node.cf-note.selected { box-shadow: 0 0 0 3px rgba(99,102,241,.35); }
.react-flow__node.cf-note-yellow { background: #fef9c3; }
.react-flow__node.cf-note-blue { background: #dbeafe; }
.react-flow__node.cf-note-green { background: #dcfce7; }
.react-flow__node.cf-note-pink { background: #fce7f3; }
.react-flow__node.cf-note-purple { background: #ede9fe; }
.react-flow__node.cf-note-gray { background: #f1f5f9; }
.react-flow__handle { width: 10px; height: 10px; background: #64748b; }
.react-flow__handle:hover { background: #6366f1; }
"""


ERROR_HANDLE = "error"
NOTE_TYPE = "cf-note"  # the ReactFlow type of a sticky note: no handles, never a node of the workflow
NOTE_PREFIX = "note:"  # canvas ids of notes (a workflow node id never holds ':')


def note_canvas_id(note_id: str) -> str:
    return NOTE_PREFIX + note_id


def note_id_of(canvas_id: str | None) -> str | None:
    """The note id of a canvas id, or None when it is a workflow node's."""
    if canvas_id and canvas_id.startswith(NOTE_PREFIX):
        return canvas_id[len(NOTE_PREFIX) :]
    return None


def note_style(note: dict[str, Any]) -> dict[str, Any]:
    size = note.get("size") or {}
    return {"width": f"{float(size.get('width', 240))}px", "height": f"{float(size.get('height', 160))}px"}


def flow_note(note: dict[str, Any], view: Any) -> dict[str, Any]:
    """A ReactFlow node dict for a sticky note (its Markdown drawn by ``view``)."""
    return {
        "id": note_canvas_id(note["id"]),
        "type": NOTE_TYPE,
        "label": "",
        "position": dict(note.get("position") or {"x": 0.0, "y": 0.0}),
        "data": {"note": True},
        "className": f"cf-note cf-note-{note.get('color') or 'yellow'}",
        "style": note_style(note),
        "connectable": False,
        "view": view,
    }


ERROR_VARIANT = "+error"  # the ReactFlow type of a node whose on_error is error_output


def node_type_specs(catalogue: dict[str, dict[str, Any]]) -> dict[str, NodeType]:
    """One ReactFlow node type per registered node type: triggers have no input handle. Every
    action and logic type also has an ``<type>+error`` variant with an extra ``error`` output
    handle, the type of a node whose ``on_error`` is ``error_output``."""
    specs = {}
    for name, info in catalogue.items():
        outputs = info.get("outputs") or ["main"]
        trigger = info.get("group") == "trigger"
        specs[name] = NodeType(
            type=name,
            label=info.get("display_name") or name,
            inputs=[] if trigger else [{"id": "in", "label": "input"}],
            outputs=[{"id": o, "label": o} for o in outputs] if len(outputs) > 1 else ["main"],
        )
        if not trigger:
            specs[name + ERROR_VARIANT] = NodeType(
                type=name + ERROR_VARIANT,
                label=info.get("display_name") or name,
                inputs=[{"id": "in", "label": "input"}],
                outputs=[{"id": o, "label": o} for o in (*outputs, ERROR_HANDLE)],
            )
    specs[NOTE_TYPE] = NodeType(type=NOTE_TYPE, label="Note", inputs=[], outputs=[])
    return specs


OUTPUTS_VARIANT = "@"  # <type>@<handle>|<handle>…: a node whose outputs come from its params (Switch)


def flow_type(node: dict[str, Any], info: dict[str, Any] | None = None) -> str:
    """The ReactFlow type of a spec node: its node type, or the variant with an error output; for a
    type whose outputs come from the params (``info["outputs_from"]``: Switch) the variant with this
    node's own handles, ``switch@paid|refunded|fallback`` (``Canvas`` registers it on the fly)."""
    name = node["type"]
    if info is not None and info.get("outputs_from"):
        name += OUTPUTS_VARIANT + "|".join(node_outputs(info, node.get("params")))
    return name + (ERROR_VARIANT if node.get("on_error") == "error_output" else "")


def variant_spec(type_name: str, info: dict[str, Any]) -> NodeType:
    """The ReactFlow node type of a per-node variant ``flow_type`` made (handles in its name)."""
    base, error = type_name, False
    if base.endswith(ERROR_VARIANT):
        base, error = base[: -len(ERROR_VARIANT)], True
    _, _, handles = base.partition(OUTPUTS_VARIANT)
    outputs = [h for h in handles.split("|") if h] + ([ERROR_HANDLE] if error else [])
    return NodeType(
        type=type_name,
        label=info.get("display_name") or type_name,
        inputs=[{"id": "in", "label": "input"}],
        outputs=[{"id": o, "label": o} for o in outputs] or ["main"],
    )


# Placeholders of imported n8n nodes without an equivalent (docs/n8n.md): shown as "not supported".
UNSUPPORTED_TYPES = frozenset({"n8n.unsupported", "n8n.unsupported_trigger"})


def node_class(group: str | None, status: str = "idle", invalid: bool = False, node_type: str = "") -> str:
    """The CSS classes of a canvas node: its group, run status and validity."""
    classes = ["cf-node", f"cf-group-{group or 'action'}", f"cf-status-{status}"]
    if invalid:
        classes.append("cf-invalid")
    if node_type in UNSUPPORTED_TYPES:
        classes.append("cf-unsupported")
    return " ".join(classes)


def flow_node(node: dict[str, Any], group: str | None, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ReactFlow node dict for a spec node (status data starts idle)."""
    return {
        "id": node["id"],
        "type": flow_type(node, info),
        "label": node["name"],
        "position": dict(node.get("position") or {"x": 0.0, "y": 0.0}),
        "data": {"status": "idle"},
        "className": node_class(group, node_type=str(node.get("type", ""))),
    }


def flow_edge(edge: dict[str, Any], multi_output: bool = False) -> dict[str, Any]:
    out = {
        "id": edge_key(edge),
        "source": edge["source"],
        "target": edge["target"],
        "sourceHandle": edge.get("source_handle") or "main",
        "targetHandle": "in",
    }
    if (multi_output and edge.get("source_handle")) or edge.get("source_handle") == ERROR_HANDLE:
        out["label"] = edge["source_handle"]
    if edge.get("source_handle") == ERROR_HANDLE:
        out["style"] = {"stroke": "#dc2626"}
    return out


class Canvas(Viewer):
    """Shows ``draft`` on a ReactFlow canvas and keeps the two in step."""

    draft = param.ClassSelector(class_=WorkflowDraft)
    selected_node = param.String(default=None, allow_None=True, doc="Id of the selected node.")
    selected_note = param.String(default=None, allow_None=True, doc="Id of the selected sticky note.")
    statuses = param.Dict(default={}, doc="Node id → run status currently shown.")
    invalid_nodes = param.List(default=[], doc="Ids of nodes with validation problems.")
    message = param.String(default="", doc="Why the last connection was refused, if it was.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        catalogue = self.draft.catalogue
        self._specs = node_type_specs(catalogue)
        self._types: dict[str, str] = {}  # node id → its ReactFlow type (variants: Switch, error)
        self._labels: dict[str, str] = {}  # node id → per-item progress shown after its name
        nodes = []
        for n in self.draft.nodes:
            info = catalogue.get(n["type"], {})
            nodes.append(flow_node(n, info.get("group"), info))
            self._types[n["id"]] = self._register(nodes[-1]["type"], info)
        self._note_views: dict[str, pn.pane.Markdown] = {}
        for note in self.draft.notes:
            nodes.append(flow_note(note, self._note_view(note)))
        self.flow = ReactFlow(
            nodes=nodes,
            edges=[self._flow_edge(e) for e in self.draft.edges],
            node_types=dict(self._specs),
            drop_types=[DROP_TYPE],
            editor_mode="side",
            default_node_editor=_no_editor,
            default_edge_options={"type": "smoothstep", "markerEnd": {"type": "arrowclosed"}},
            stylesheets=[CANVAS_CSS],
            sizing_mode="stretch_both",
            min_height=420,
            max_zoom=1.2,
            min_zoom=0.1,
            validate_on_add=False,
            css_classes=["cf-canvas"],
        )
        self.flow.on("drop", self._on_drop)
        self.flow.on("node_moved", self._on_moved)
        self.flow.on("node_deleted", self._on_node_deleted)
        self.flow.on("edge_added", self._on_edge_added)
        self.flow.on("edge_deleted", self._on_edge_deleted)
        self.flow.on("selection_changed", self._on_selection)
        # onlychanged=False: update_node edits a node in place, so the new list equals the old one.
        self.draft.param.watch(self._on_nodes_changed, "nodes", onlychanged=False)

    def _group(self, node_id: str) -> str | None:
        return self.draft.type_info(node_id).get("group")

    def _register(self, type_name: str, info: dict[str, Any]) -> str:
        """Make sure the canvas knows ReactFlow type ``type_name`` (a per-node variant is added)."""
        if type_name not in self._specs:
            self._specs[type_name] = variant_spec(type_name, info)
            if hasattr(self, "flow"):
                self.flow.node_types = dict(self._specs)
        return type_name

    def _retype(self, node_id: str) -> None:
        """Give a node the ReactFlow type its outputs need now (its rules or on_error changed);
        connections from handles it no longer has are removed, in the draft and on the canvas."""
        node = self.draft.node(node_id)
        info = self.draft.type_info(node_id)
        wanted = self._register(flow_type(node, info), info)
        if self._types.get(node_id) == wanted:
            return
        self._types[node_id] = wanted
        handles = set(self.draft.outputs(node_id)) | (
            {ERROR_HANDLE} if node.get("on_error") == "error_output" else set()
        )
        gone = [
            edge_key(e)
            for e in self.draft.edges
            if e["source"] == node_id and e.get("source_handle") and e["source_handle"] not in handles
        ]
        if gone:
            self.draft.disconnect(gone)
            self.flow.remove_edge(gone)
        self.flow.patch_node_props(node_id, {"type": wanted})

    def _on_nodes_changed(self, _event: Any) -> None:
        for node in self.draft.nodes:
            if node["id"] in self._types and self.draft.type_info(node["id"]).get("outputs_from"):
                self._retype(node["id"])

    def _flow_edge(self, edge: dict[str, Any]) -> dict[str, Any]:
        try:
            outputs = self.draft.outputs(edge["source"])
        except KeyError:
            outputs = ["main"]
        return flow_edge(edge, multi_output=len(outputs) > 1)

    # ---- user actions ------------------------------------------------------------------------------

    def add_node(self, type_name: str, position: dict[str, float] | None = None) -> str:
        """Add a node of ``type_name`` to the draft and the canvas; returns its id."""
        node = self.draft.add_node(type_name, position or self.draft.next_position())
        info = self.draft.type_info(node["id"])
        flow = flow_node(node, info.get("group"), info)
        self._types[node["id"]] = self._register(flow["type"], info)
        self.flow.add_node(flow)
        return node["id"]

    def remove_node(self, node_id: str) -> None:
        self.flow.remove_node(node_id)
        self.draft.remove_nodes([node_id])
        if self.selected_node == node_id:
            self.selected_node = None

    def rename_node(self, node_id: str, name: str) -> None:
        progress = self._labels.get(node_id)
        self.flow.patch_node_props(node_id, {"label": f"{name} · {progress}" if progress else name})

    def set_on_error(self, node_id: str, mode: str) -> None:
        """Show (``error_output``) or hide the node's ``error`` handle; leaving ``error_output``
        removes the connections that left from it, in the draft and on the canvas."""
        if mode != "error_output":
            gone = [
                edge_key(e)
                for e in self.draft.edges
                if e["source"] == node_id and e.get("source_handle") == ERROR_HANDLE
            ]
            if gone:
                self.draft.disconnect(gone)
                self.flow.remove_edge(gone)
        self._retype(node_id)

    # ---- sticky notes ------------------------------------------------------------------------------

    def _note_view(self, note: dict[str, Any]) -> pn.pane.Markdown:
        view = pn.pane.Markdown(
            note.get("text") or "*Double-click to select, then write in the side panel.*",
            sizing_mode="stretch_both",
            margin=0,
            disable_math=True,
            # Notes arrive in imported n8n files from anywhere: their HTML is shown as text, never
            # rendered (an <img onerror=…> would run as the signed-in user; the CSP allows inline
            # handlers for Panel), and markdown-it links no javascript: URLs.
            renderer_options={"html": False},
            css_classes=["cf-note-text"],
        )
        self._note_views[note["id"]] = view
        return view

    def add_note(self, position: dict[str, float] | None = None, text: str = "") -> str:
        """Add a sticky note to the draft and the canvas; returns its id."""
        if position is None:  # above the graph, right of the notes already there
            xs = [float(n["position"]["x"]) for n in self.draft.nodes] or [0.0]
            ys = [float(n["position"]["y"]) for n in self.draft.nodes] or [200.0]
            rights = [
                float(n["position"]["x"]) + float((n.get("size") or {}).get("width", 240)) + 20.0
                for n in self.draft.notes
            ]
            position = {"x": max([min(xs), *rights]), "y": min(ys) - 200.0}
        note = self.draft.add_note(position, text)
        self.flow.add_node(flow_note(note, self._note_view(note)))
        return str(note["id"])

    def update_note(self, note_id: str, **changes: Any) -> None:
        """Change a note in the draft and redraw it (text, color, size) without re-sending the graph."""
        self.draft.update_note(note_id, **changes)
        note = self.draft.note(note_id)
        if "text" in changes and note_id in self._note_views:
            self._note_views[note_id].object = note["text"] or " "
        if "color" in changes:
            self.flow.patch_node_props(
                note_canvas_id(note_id), {"className": f"cf-note cf-note-{note.get('color') or 'yellow'}"}
            )
        if "size" in changes:
            self.flow.patch_node_props(note_canvas_id(note_id), {"style": note_style(note)})

    def remove_note(self, note_id: str) -> None:
        self.flow.remove_node(note_canvas_id(note_id))
        self.draft.remove_note(note_id)
        self._note_views.pop(note_id, None)
        if self.selected_note == note_id:
            self.selected_note = None

    def _on_drop(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        type_name = data.get("type") if isinstance(data, dict) else str(data)
        if type_name in self.draft.catalogue:
            self.add_node(type_name, event.get("position"))

    def _on_moved(self, event: dict[str, Any]) -> None:
        node_id, position = event.get("node_id"), event.get("position")
        note_id = note_id_of(node_id)
        if note_id is not None:
            if position and any(n["id"] == note_id for n in self.draft.notes):
                self.draft.update_note(
                    note_id, position={"x": float(position.get("x", 0.0)), "y": float(position.get("y", 0.0))}
                )
            return
        if node_id and position and any(n["id"] == node_id for n in self.draft.nodes):
            self.draft.move_node(node_id, position)

    def _on_node_deleted(self, event: dict[str, Any]) -> None:
        node_id = event.get("node_id")
        note_id = note_id_of(node_id)
        if note_id is not None:
            self.draft.remove_note(note_id)
            self._note_views.pop(note_id, None)
            if self.selected_note == note_id:
                self.selected_note = None
            return
        if node_id:
            self.draft.remove_nodes([node_id])
            if self.selected_node == node_id:
                self.selected_node = None

    def _on_edge_added(self, event: dict[str, Any]) -> None:
        edge = event.get("edge") or {}
        source, target = edge.get("source"), edge.get("target")
        if any(edge_key(e) == edge.get("id") for e in self.draft.edges):
            return  # added by us (or already known)
        handle = edge.get("sourceHandle")
        refused = self.draft.connect(source, target, handle if handle != "main" else None)
        self.flow.remove_edge(edge.get("id"))
        if refused:
            self.message = refused
            return
        self.message = ""
        added = self.draft.edges[-1]
        self.flow.add_edge(self._flow_edge(added))

    def _on_edge_deleted(self, event: dict[str, Any]) -> None:
        ids = list(event.get("edge_ids") or [])
        if event.get("edge_id"):
            ids.append(event["edge_id"])
        self.draft.disconnect(ids)

    def _on_selection(self, event: dict[str, Any]) -> None:
        selected = event.get("nodes") or []
        notes = [note_id_of(n) for n in selected if note_id_of(n) is not None]
        nodes = [n for n in selected if note_id_of(n) is None]
        self.selected_note = notes[0] if notes and not nodes else None
        self.selected_node = nodes[0] if nodes else None

    # ---- status and problems (patched, never re-rendered) ------------------------------------------

    def _restyle(self, node_id: str) -> None:
        status = self.statuses.get(node_id, "idle")
        self.flow.patch_node_props(
            node_id,
            {
                "className": node_class(
                    self._group(node_id),
                    status,
                    node_id in self.invalid_nodes,
                    str(self.draft.node(node_id).get("type", "")),
                )
            },
        )

    def set_status(self, node_id: str, status: str, error: str | None = None) -> None:
        """Show a node's run status (``running``, ``success``, ``failed``, ``skipped``…)."""
        if not any(n["id"] == node_id for n in self.draft.nodes):
            return
        if self.statuses.get(node_id) == status and error is None:
            return
        self.statuses = {**self.statuses, node_id: status}
        patch: dict[str, Any] = {"status": status}
        if error is not None:
            patch["error"] = error
        self.flow.patch_node_data(node_id, patch)
        self._restyle(node_id)

    def reset_statuses(self, status: str = "idle") -> None:
        for node in self.draft.nodes:
            self.set_status(node["id"], status)
            if self._labels.pop(node["id"], None) is not None:
                self.flow.patch_node_props(node["id"], {"label": node["name"]})

    def set_items(self, node_id: str, summary: dict[str, int]) -> None:
        """Show a node's per-item progress after its name: ``3/5 items`` (succeeded of the loop's
        items), ``· 1 failed`` when items failed (docs/items.md)."""
        if not any(n["id"] == node_id for n in self.draft.nodes):
            return
        total = max(int(summary.get("total") or 0), sum(v for k, v in summary.items() if k != "total"))
        text = f"{int(summary.get('success') or 0)}/{total} items"
        if summary.get("failed"):
            text += f" · {summary['failed']} failed"
        if self._labels.get(node_id) == text:
            return
        self._labels[node_id] = text
        self.flow.patch_node_props(node_id, {"label": f"{self.draft.node(node_id)['name']} · {text}"})
        self.flow.patch_node_data(node_id, {"items": dict(summary)})

    def show_problems(self, problems: list[dict[str, Any]]) -> None:
        """Mark the nodes named in ``problems`` (and clear the mark on the others)."""
        known = {n["id"] for n in self.draft.nodes}
        invalid = sorted({p["node_id"] for p in problems if p.get("node_id") in known})
        previous = set(self.invalid_nodes)
        self.invalid_nodes = invalid
        for node_id in previous ^ set(invalid):
            if node_id in known:
                self._restyle(node_id)

    def __panel__(self) -> Any:
        return self.flow


def _no_editor(*args: Any, **kwargs: Any) -> None:
    """Node settings live in the editor's side panel (NodeSettings), not inside the canvas."""
    return None
