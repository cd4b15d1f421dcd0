"""The side panel of a selected sticky note: its Markdown text, colour and size, and Delete."""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.components.canvas import Canvas
from ui.components.draft import WorkflowDraft

MAX_NOTE_CHARS = 20_000  # connectflow_dagster.spec.MAX_NOTE_CHARS (the API refuses longer text)


class NoteSettings(Viewer):
    """Edits the note ``note_id`` of ``draft`` through ``canvas`` (so the canvas redraws it)."""

    draft = param.ClassSelector(class_=WorkflowDraft)
    canvas = param.ClassSelector(class_=Canvas)
    note_id = param.String(default=None, allow_None=True)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._text = pn.widgets.TextAreaInput(
            name="Note (Markdown)",
            rows=8,
            max_length=MAX_NOTE_CHARS,
            sizing_mode="stretch_width",
            css_classes=["cf-note-editor-text"],
        )
        self._color = pn.widgets.Select(
            name="Colour", options=list(WorkflowDraft.NOTE_COLORS), css_classes=["cf-note-editor-color"]
        )
        self._width = pn.widgets.IntInput(name="Width", start=40, end=4000, step=20, width=100)
        self._height = pn.widgets.IntInput(name="Height", start=40, end=4000, step=20, width=100)
        self._delete = pn.widgets.Button(
            name="Delete note", button_type="danger", css_classes=["cf-note-delete"]
        )
        self._delete.on_click(lambda _e: self._remove())
        self._text.param.watch(lambda e: self._set(text=e.new), "value_input")
        self._color.param.watch(lambda e: self._set(color=e.new), "value")
        self._width.param.watch(lambda e: self._resize(), "value")
        self._height.param.watch(lambda e: self._resize(), "value")
        self._layout = pn.Column(
            pn.pane.HTML("<b>Sticky note</b> — kept with the workflow, never run."),
            self._text,
            self._color,
            pn.Row(self._width, self._height),
            self._delete,
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["cf-note-settings"],
        )
        self._loading = False
        self.param.watch(self._load, "note_id")

    def _load(self, _event: Any = None) -> None:
        if self.note_id is None:
            self._layout.visible = False
            return
        note = self.draft.note(self.note_id)
        self._loading = True
        try:
            self._text.value = note.get("text") or ""
            self._color.value = note.get("color") or "yellow"
            size = note.get("size") or {}
            self._width.value = int(size.get("width", 240))
            self._height.value = int(size.get("height", 160))
        finally:
            self._loading = False
        self._layout.visible = True

    def _set(self, **changes: Any) -> None:
        if not self._loading and self.note_id is not None:
            self.canvas.update_note(self.note_id, **changes)

    def _resize(self) -> None:
        if self._width.value and self._height.value:
            self._set(size={"width": float(self._width.value), "height": float(self._height.value)})

    def _remove(self) -> None:
        if self.note_id is not None:
            self.canvas.remove_note(self.note_id)
            self.note_id = None

    def __panel__(self) -> Any:
        return self._layout
