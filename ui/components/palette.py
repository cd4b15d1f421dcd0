"""The palette: every node type, grouped as triggers, actions and logic; drag onto the canvas or click.

Dragging carries ``{"type": ...}`` under the canvas's drop MIME type, so the drop lands where the
user let go; a click adds the node next to the others. The list is filterable by name.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.custom import JSComponent
from panel.viewable import Viewer

from ui.components.canvas import DROP_TYPE

__all__ = ["GROUPS", "Palette", "palette_groups"]

GROUPS = (("trigger", "Triggers"), ("action", "Actions"), ("logic", "Logic"))


def palette_groups(catalogue: list[dict[str, Any]], search: str = "") -> list[dict[str, Any]]:
    """Node types grouped for the palette, each group sorted by display name; ``search`` filters."""
    needle = search.strip().lower()
    groups = []
    for group, title in GROUPS:
        items = [
            {
                "type": t["type"],
                "label": (t.get("display_name") or t["type"])
                + (" (off)" if t.get("enabled") is False else ""),
                "description": t.get("description", ""),
                "group": group,
            }
            for t in catalogue
            if (t.get("group") or "action") == group
            and (
                not needle
                or needle in (t.get("display_name") or "").lower()
                or needle in t["type"].lower()
                or needle in (t.get("description") or "").lower()
            )
        ]
        # Newest version of each type only.
        seen: dict[str, dict[str, Any]] = {}
        for item in items:
            seen[item["type"]] = item
        if seen:
            groups.append(
                {
                    "group": group,
                    "title": title,
                    "items": sorted(seen.values(), key=lambda i: i["label"].lower()),
                }
            )
    return groups


class PaletteItems(JSComponent):
    """Draggable, clickable items (a tiny JS view: Panel widgets cannot start an HTML5 drag)."""

    groups = param.List(default=[])
    drop_type = param.String(default=DROP_TYPE)

    _esm = """
export function render({ model, el }) {
  const draw = () => {
    el.innerHTML = "";
    for (const group of model.groups) {
      const title = document.createElement("div");
      title.className = "cf-palette-group";
      title.textContent = group.title;
      el.appendChild(title);
      for (const item of group.items) {
        const row = document.createElement("div");
        row.className = `cf-palette-item cf-palette-${group.group}`;
        row.draggable = true;
        row.dataset.type = item.type;
        row.title = item.description || item.label;
        row.setAttribute("role", "button");
        row.innerHTML = `<span class="cf-palette-label"></span><span class="cf-palette-type"></span>`;
        row.querySelector(".cf-palette-label").textContent = item.label;
        row.querySelector(".cf-palette-type").textContent = item.type;
        row.addEventListener("dragstart", (e) => {
          e.dataTransfer.setData(model.drop_type, JSON.stringify({ type: item.type }));
          e.dataTransfer.effectAllowed = "copy";
        });
        row.addEventListener("click", () => model.send_msg({ type: item.type }));
        el.appendChild(row);
      }
    }
  };
  draw();
  model.on("groups", draw);
}
"""

    _stylesheets = [
        """
:host { display: block; }
.cf-palette-group { font: 600 11px system-ui, sans-serif; text-transform: uppercase; letter-spacing: .05em;
  color: #64748b; margin: 12px 4px 6px; }
.cf-palette-item { display: flex; flex-direction: column; gap: 1px; cursor: grab; user-select: none;
  padding: 7px 10px; margin: 4px 0; border: 1px solid #e2e8f0; border-left: 4px solid #94a3b8;
  border-radius: 8px; background: #fff; font: 13px system-ui, sans-serif; color: #0f172a; }
.cf-palette-item:hover { border-color: #6366f1; background: #eef2ff; }
.cf-palette-trigger { border-left-color: #f59e0b; }
.cf-palette-action { border-left-color: #3b82f6; }
.cf-palette-logic { border-left-color: #8b5cf6; }
.cf-palette-type { font-size: 11px; color: #94a3b8; font-family: ui-monospace, monospace; }
"""
    ]

    def __init__(self, on_pick: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self._on_pick = on_pick

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("type") and self._on_pick is not None:
            self._on_pick(msg["type"])


class Palette(Viewer):
    """Node types to add; ``picked`` is set (and the callback called) when one is clicked."""

    catalogue = param.List(default=[], doc="The /api/node-types entries.")
    search = param.String(default="", doc="Filter by name, type or description.")
    picked = param.String(default=None, allow_None=True, doc="Type most recently clicked.")

    def __init__(self, on_pick: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self._callback = on_pick
        self._list = PaletteItems(
            groups=palette_groups(self.catalogue),
            on_pick=self.pick,
            sizing_mode="stretch_width",
            css_classes=["cf-palette"],
        )
        self._search = pn.widgets.TextInput.from_param(
            self.param.search, name="", placeholder="Search nodes…", sizing_mode="stretch_width"
        )
        self._search.param.watch(lambda e: setattr(self, "search", e.new), "value_input")

    @param.depends("search", "catalogue", watch=True)
    def _refilter(self) -> None:
        self._list.groups = palette_groups(self.catalogue, self.search)

    def pick(self, type_name: str) -> None:
        """Add ``type_name`` as if its item were clicked."""
        self.picked = type_name
        if self._callback is not None:
            self._callback(type_name)

    def __panel__(self) -> Any:
        return pn.Column(
            pn.pane.HTML(
                "<div class='cf-panel-title'>Nodes</div><div class='cf-hint'>Drag onto the canvas "
                "or click to add</div>",
                margin=(5, 10, 0, 10),
            ),
            self._search,
            self._list,
            width=230,
            sizing_mode="stretch_height",
            scroll=True,
            css_classes=["cf-sidebar"],
        )
