"""The workflow editor: palette, canvas, node settings, Save, Execute and live run status.

Layout: a toolbar (name, unsaved-changes mark, Save, Execute with optional JSON input, run status),
then palette | canvas | settings. Save writes a new version through the API; validation problems
it reports are shown on the offending nodes. Execute saves first when there are unsaved changes,
starts a run, and follows its events, patching each node's status onto the canvas.
"""

from __future__ import annotations

import asyncio
import html as _html
import json
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient, ValidationFailed
from ui.components.canvas import Canvas
from ui.components.draft import WorkflowDraft
from ui.components.node_settings import NodeSettings, own_secret_kind
from ui.components.note_settings import NoteSettings
from ui.components.palette import Palette
from ui.components.status import RunStatus
from ui.theme import html, page_shell

__all__ = ["EditorPage", "UnsavedChangesGuard", "page"]


class UnsavedChangesGuard(JSComponent):
    """Asks the browser to confirm leaving the page while ``dirty``."""

    dirty = param.Boolean(default=False)

    _esm = """
export function render({ model, el }) {
  el.style.display = "none";
  const guard = (e) => { if (model.dirty) { e.preventDefault(); e.returnValue = ""; return ""; } };
  window.addEventListener("beforeunload", guard);
  model.on("remove", () => window.removeEventListener("beforeunload", guard));
}
"""


class EditorPage(Viewer):
    """One workflow open for editing."""

    workflow_id = param.String(default=None, allow_None=True)
    message = param.String(default="")
    problems = param.List(default=[])
    saving = param.Boolean(default=False)
    running = param.Boolean(default=False)
    run_input = param.String(default="", doc="Optional JSON input for Execute.")
    active = param.Boolean(default=True, doc="Whether the workflow's production triggers accept calls.")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self.draft = WorkflowDraft()
        self.canvas: Canvas | None = None
        self.palette: Palette | None = None
        self.settings: NodeSettings | None = None
        self.run_status = RunStatus(
            on_node=self._on_node_status, on_items=self._on_node_items, loop_of=self._loop_of
        )
        self.guard = UnsavedChangesGuard()
        self._follow_task: asyncio.Task[None] | None = None
        self._layout = pn.Column(
            html("<div class='cf-hint' style='padding:20px'>Loading workflow…</div>"),
            sizing_mode="stretch_both",
        )
        self.draft.param.watch(lambda e: setattr(self.guard, "dirty", e.new), "dirty")

    # ---- loading -----------------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the catalogue, the workflow and the user's credentials, then build the editor."""
        if not self.workflow_id:
            self._layout[:] = [
                html(
                    "<div class='cf-empty'>No workflow chosen. Open one from "
                    "<a href='/ui/workflows'>Workflows</a>.</div>"
                )
            ]
            return
        try:
            node_types, workflow = await asyncio.gather(
                self.client.node_types(), self.client.get_workflow(self.workflow_id)
            )
        except ApiError as exc:
            self._layout[:] = [
                html(
                    f"<div class='cf-empty cf-error'>Could not open the workflow: "
                    f"{_html.escape(exc.message)}</div>"
                )
            ]
            return
        catalogue = {}
        for t in node_types:  # newest version of each type wins
            if t["type"] not in catalogue or int(t.get("version", 1)) >= int(
                catalogue[t["type"]].get("version", 1)
            ):
                catalogue[t["type"]] = t
        self.draft.catalogue = catalogue
        self.draft.load(workflow)
        self.active = bool(workflow.get("active", True))
        self.build()
        await self.refresh_side_data()

    async def refresh_side_data(self) -> None:
        """The user's credentials, for the nodes' credential pickers."""
        try:
            credentials = await self.client.list_credentials()
        except ApiError:
            credentials = []
        if self.settings is not None:
            self.settings.credentials = credentials

    async def load_trigger_info(self, node_id: str | None) -> None:
        """The gateway's settings of a saved trigger with its own secret (URL, secret state, script)."""
        if self.settings is None or not node_id or not self.workflow_id:
            return
        try:
            type_info = self.draft.type_info(node_id)
        except KeyError:
            return
        if own_secret_kind(type_info) is None or self.draft.version is None:
            return
        try:
            info = await self.client.trigger_info(self.workflow_id, node_id)
        except ApiError as exc:
            info = {
                "error": "Save the workflow to activate this trigger." if exc.status == 404 else exc.message
            }
        self.settings.trigger_info = {**self.settings.trigger_info, node_id: info}

    async def generate_trigger_secret(self, node_id: str) -> None:
        try:
            info = await self.client.generate_trigger_secret(self.workflow_id, node_id)
        except ApiError as exc:
            self.message = f"No secret generated: {exc.message}"
            return
        if self.settings is not None:
            self.settings.trigger_info = {**self.settings.trigger_info, node_id: info}
        self.message = "New trigger secret generated: copy it now, it is shown only once."

    async def set_trigger_secret(self, node_id: str, secret: str) -> None:
        try:
            info = await self.client.set_trigger_secret(self.workflow_id, node_id, secret)
        except ApiError as exc:
            self.message = f"Secret not saved: {exc.message}"
            return
        if self.settings is not None:
            self.settings.trigger_info = {**self.settings.trigger_info, node_id: info}
        self.message = "Trigger secret saved."

    async def _on_select(self, event: Any) -> None:
        if self.settings is not None:
            self.settings.node_id = event.new
        await self.load_trigger_info(event.new)

    def build(self) -> None:
        """Create the components for the loaded draft (once per page)."""
        self.canvas = Canvas(draft=self.draft)
        self.palette = Palette(catalogue=list(self.draft.catalogue.values()), on_pick=self.add_node)
        self.settings = NodeSettings(
            draft=self.draft,
            on_rename=self.canvas.rename_node,
            on_delete=self.canvas.remove_node,
            on_error_mode=self.canvas.set_on_error,
            on_generate_secret=self.generate_trigger_secret,
            on_set_secret=self.set_trigger_secret,
            on_listen=self.listen,
            base_url=self.client.base_url,
        )
        self.canvas.param.watch(self._on_select, "selected_node")
        self.note_settings = NoteSettings(draft=self.draft, canvas=self.canvas)
        self.canvas.param.watch(lambda e: setattr(self.note_settings, "note_id", e.new), "selected_note")
        self._add_note = pn.widgets.Button(name="+ Note", css_classes=["cf-add-note"])
        self._add_note.on_click(lambda _e: self.add_note())
        self.canvas.param.watch(lambda e: e.new and setattr(self, "message", e.new), "message")

        self._name = pn.widgets.TextInput(value=self.draft.title, width=300, css_classes=["cf-workflow-name"])
        self._name.param.watch(lambda e: self.draft.rename(e.new.strip()), "value_input")
        self._dirty = html("", width=150, css_classes=["cf-dirty"], margin=(14, 6))
        self._save = pn.widgets.Button(name="Save", button_type="primary", css_classes=["cf-save"])
        self._save.on_click(self._on_save)
        self._execute = pn.widgets.Button(name="▶ Execute", button_type="success", css_classes=["cf-execute"])
        self._execute.on_click(self._on_execute)
        self._active = pn.widgets.Switch(
            value=self.active, width=40, margin=(16, 4), css_classes=["cf-active"]
        )
        self._active.param.watch(self._on_active, "value")
        self._active_label = html(self._active_text(), margin=(14, 6), css_classes=["cf-active-label"])
        self._input = pn.widgets.TextAreaInput.from_param(
            self.param.run_input,
            name="",
            placeholder='Manual input (optional JSON), e.g. {"name": "Ada"}',
            rows=1,
            auto_grow=True,
            max_rows=6,
            width=300,
            css_classes=["cf-run-input"],
        )
        self._input.param.watch(lambda e: setattr(self, "run_input", e.new), "value_input")
        self._message = html("", css_classes=["cf-editor-message"])
        self._problems = html("", css_classes=["cf-problem-list"])
        self.draft.param.watch(self._show_dirty, ["dirty", "version"])
        self._show_dirty()
        toolbar = pn.Row(
            self._name,
            self._dirty,
            pn.layout.HSpacer(),
            self._add_note,
            self._active,
            self._active_label,
            self._input,
            self._execute,
            self._save,
            sizing_mode="stretch_width",
            styles={"background": "#fff", "border-bottom": "1px solid #e2e8f0"},
            css_classes=["cf-toolbar"],
        )
        status_row = pn.Row(self.run_status, self._message, sizing_mode="stretch_width", min_height=30)
        body = pn.Row(
            self.palette,
            pn.Column(
                self.canvas,
                sizing_mode="stretch_both",
                min_height=520,
                styles={"background": "#fff", "border": "1px solid #e2e8f0", "border-radius": "10px"},
            ),
            pn.Column(
                self.settings,
                self.note_settings,
                self._problems,
                width=340,
                scroll=True,
                css_classes=["cf-sidebar"],
            ),
            sizing_mode="stretch_both",
        )
        self._layout[:] = [toolbar, status_row, body, self.guard]
        self._render_message()
        self._render_problems()

    # ---- actions -----------------------------------------------------------------------------------

    def add_note(self) -> None:
        """Add a sticky note and select it, so its text can be written in the side panel."""
        if self.canvas is not None:
            self.canvas.selected_note = self.canvas.add_note()

    def add_node(self, type_name: str) -> None:
        if self.canvas is not None:
            node_id = self.canvas.add_node(type_name)
            self.canvas.selected_node = node_id

    async def save(self) -> bool:
        """Save the draft as a new version; returns whether it was saved."""
        self.saving = True
        try:
            saved = await self.client.save_workflow(self.workflow_id, self.draft.to_spec())
        except ValidationFailed as exc:
            self.set_problems(exc.problems or [{"message": exc.message, "node_id": None, "field": None}])
            self.message = "Not saved: fix the problems marked on the nodes."
            return False
        except ApiError as exc:
            self.message = f"Not saved: {exc.message}"
            return False
        finally:
            self.saving = False
        self.draft.mark_saved(saved if isinstance(saved, dict) else None)
        problems = (saved or {}).get("problems") if isinstance(saved, dict) else None
        self.set_problems(problems or [])
        version = self.draft.version
        self.message = f"Saved{f' as version {version}' if version else ''}."
        if self.settings is not None:  # a trigger's URL follows its saved params (the webhook path)
            self.settings.trigger_info = {}
            await self.load_trigger_info(self.settings.node_id)
        return True

    def _active_text(self) -> str:
        return "Active" if self.active else "Inactive"

    async def set_active(self, active: bool) -> None:
        """Activate or deactivate the saved workflow (its production trigger URLs and schedules)."""
        if not self.workflow_id or active == self.active:
            return
        try:
            saved = await self.client.set_workflow_active(self.workflow_id, active)
        except ApiError as exc:
            self.message = f"Could not {'activate' if active else 'deactivate'}: {exc.message}"
            if hasattr(self, "_active"):
                self._active.value = self.active
            return
        self.active = bool(saved.get("active", active))
        if hasattr(self, "_active_label"):
            self._active_label.object = self._active_text()
        self.message = (
            "Active: production trigger URLs and schedules are live."
            if self.active
            else "Inactive: production trigger URLs answer 404 and schedules stop; the test URL still works."
        )

    async def listen(self, poll_seconds: float = 1.0) -> str | None:
        """ "Listen for test event": save if needed, open listening, wait for the one test call and
        follow the execution it started live, as Execute does; returns its id (None: none came)."""
        if (self.draft.dirty or self.draft.version is None) and not await self.save():
            return None
        try:
            state = await self.client.listen(self.workflow_id)
        except ApiError as exc:
            self.message = f"Could not listen: {exc.message}"
            return None
        if self.settings is not None:
            self.settings.listen_state = state
        self.message = "Listening for a test event: call the test URL once."
        while state.get("listening") and not state.get("execution_id"):
            await asyncio.sleep(poll_seconds)  # the UI's own refresh, not a test's synchronisation
            try:
                state = await self.client.listen_state(self.workflow_id)
            except ApiError as exc:
                self.message = f"Stopped listening: {exc.message}"
                return None
        if self.settings is not None:
            self.settings.listen_state = state
        execution_id = state.get("execution_id")
        if not execution_id:
            self.message = "No test event arrived while listening."
            return None
        self.message = f"Test event received: execution {execution_id}."
        if self.canvas is not None:
            self.canvas.reset_statuses("queued")
        self.running = True
        self._follow_task = asyncio.ensure_future(self._follow(str(execution_id)))
        return str(execution_id)

    async def _on_active(self, event: Any) -> None:
        await self.set_active(bool(event.new))

    async def _on_save(self, _event: Any = None) -> None:
        await self.save()

    async def execute(self) -> str | None:
        """Save if needed, start a run, and follow it; returns the execution id."""
        payload: Any = None
        text = (self._input.value_input if hasattr(self, "_input") else self.run_input) or self.run_input
        if text.strip():
            try:
                payload = json.loads(text)
            except ValueError as exc:
                self.message = f"The manual input is not valid JSON: {exc}"
                return None
        if (self.draft.dirty or self.draft.version is None) and not await self.save():
            return None
        try:
            started = await self.client.execute_workflow(self.workflow_id, payload)
        except ValidationFailed as exc:
            self.set_problems(exc.problems)
            self.message = f"Cannot execute: {exc.message}"
            return None
        except ApiError as exc:
            self.message = f"Cannot execute: {exc.message}"
            return None
        execution_id = str(started["execution_id"])
        self.message = ""
        if self.canvas is not None:
            self.canvas.reset_statuses("queued")
        if self.settings is not None:
            self.settings.run_results = {}
        self.running = True
        self._follow_task = asyncio.ensure_future(self._follow(execution_id))
        return execution_id

    async def _follow(self, execution_id: str) -> None:
        try:
            await self.run_status.follow(self.client, execution_id)
        finally:
            self.running = False

    async def _on_execute(self, _event: Any = None) -> None:
        await self.execute()

    def _on_node_status(self, node_id: str, status: str, error: str | None) -> None:
        if self.canvas is not None:
            self.canvas.set_status(node_id, status, error)
        if self.settings is not None:
            previous = self.settings.run_results.get(node_id) or {}
            self.settings.run_results = {
                **self.settings.run_results,
                node_id: {
                    "status": status,
                    "error": error or (previous.get("error") if status == "failed" else None),
                },
            }

    def _on_node_items(self, node_id: str, summary: dict[str, int]) -> None:
        if self.canvas is not None:
            self.canvas.set_items(node_id, summary)

    def _loop_of(self, node_id: str) -> str | None:
        try:
            return self.draft.loop_of(node_id)
        except KeyError:
            return None

    def set_problems(self, problems: list[dict[str, Any]]) -> None:
        self.problems = list(problems)
        if self.canvas is not None:
            self.canvas.show_problems(self.problems)
        if self.settings is not None:
            self.settings.problems = self.problems

    # ---- rendering ---------------------------------------------------------------------------------

    def _show_dirty(self, *_: Any) -> None:
        version = f"v{self.draft.version}" if self.draft.version else "never saved"
        mark = (
            "<span class='cf-unsaved' style='color:#c2410c'>● Unsaved changes</span>"
            if self.draft.dirty
            else f"<span class='cf-saved cf-hint'>{version}</span>"
        )
        self._dirty.object = mark

    @param.depends("message", watch=True)
    def _render_message(self) -> None:
        if hasattr(self, "_message"):
            self._message.object = (
                f"<div class='cf-hint' style='padding-top:4px'>{_html.escape(self.message)}</div>"
                if self.message
                else ""
            )

    @param.depends("problems", watch=True)
    def _render_problems(self) -> None:
        if not hasattr(self, "_problems"):
            return
        if not self.problems:
            self._problems.object = ""
            return
        names = {n["id"]: n["name"] for n in self.draft.nodes}
        items = "".join(
            f"<li>{('<b>' + _html.escape(names.get(p['node_id'], p['node_id'])) + '</b> ') if p.get('node_id') else ''}"
            f"{_html.escape(p.get('field') or '')} {_html.escape(p.get('message') or '')}</li>"
            for p in self.problems
        )
        self._problems.object = (
            f"<div class='cf-problems'><div class='cf-section'>Problems</div><ul>{items}</ul></div>"
        )

    @param.depends("saving", "running", watch=True)
    def _busy(self) -> None:
        if hasattr(self, "_save"):
            self._save.disabled = self.saving
            self._execute.disabled = self.running or self.saving
            self._execute.name = "Running…" if self.running else "▶ Execute"

    def __panel__(self) -> Any:
        return self._layout


def page() -> Any:
    from ui.session import client_for_session

    workflow_id = None
    args = pn.state.session_args or {}
    if args.get("id"):
        workflow_id = args["id"][0].decode()
    view = EditorPage(client_for_session(), workflow_id=workflow_id)
    pn.state.onload(view.load)
    return page_shell("workflows", view, _model_preloader())


def _model_preloader() -> pn.Column:
    """Hidden instances of the custom models the editor builds after loading.

    Bokeh registers a custom model's type in the browser with the first document that contains it;
    the editor's components are created once the workflow has loaded, so their types ship here.
    """
    from panel_reactflow import ReactFlow

    from ui.components.palette import PaletteItems

    return pn.Column(
        ReactFlow(visible=False),
        PaletteItems(visible=False),
        UnsavedChangesGuard(visible=False),
        visible=False,
    )
