"""Workflows: list and search the user's workflows; create, rename, delete; open one in the editor;
import n8n workflow JSON (paste or upload) with its import report; download a workflow as n8n JSON or
as ConnectFlow's own format."""

from __future__ import annotations

import html as _html
import json
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import Navigator, html, page_shell

__all__ = ["WorkflowsPage", "filter_workflows", "import_summary", "page"]

MAX_IMPORT_BYTES = 1024 * 1024  # the gateway's request-body limit


def import_summary(imported: dict[str, Any]) -> str:
    """One imported workflow's report as HTML: counts, then what needs attention."""
    report = imported.get("report") or {}
    s = report.get("summary") or {}
    link = f"/ui/editor?id={_html.escape(str(imported.get('id', '')))}"
    lines = [
        f"<b><a class='cf-imported' href='{link}'>{_html.escape(str(imported.get('name', '')))}</a></b>: "
        f"{s.get('exact', 0)} nodes mapped exactly, {s.get('approximated', 0)} approximated, "
        f"{s.get('unsupported', 0)} not supported; expressions: {s.get('expressions_translated', 0)} "
        f"translated, {s.get('expressions_js', 0)} as JavaScript, {s.get('expressions_placeholder', 0)} "
        "left in placeholders."
    ]
    for node in report.get("nodes") or []:
        if node.get("status") in ("approximated", "unsupported") or node.get("credential"):
            notes = "; ".join(str(n) for n in node.get("notes") or [])
            lines.append(
                f"<li>{_html.escape(str(node.get('status')))}: <b>{_html.escape(str(node.get('name')))}</b>"
                f" — {_html.escape(notes)}</li>"
            )
    return lines[0] + (f"<ul>{''.join(lines[1:])}</ul>" if len(lines) > 1 else "")


def filter_workflows(workflows: list[dict[str, Any]], search: str) -> list[dict[str, Any]]:
    """Workflows whose name or id contains ``search`` (case-insensitive), most recently updated first."""
    needle = search.strip().lower()
    found = [
        w
        for w in workflows
        if not needle or needle in (w.get("name") or "").lower() or needle in str(w.get("id", "")).lower()
    ]
    return sorted(found, key=lambda w: str(w.get("updated_at") or w.get("created_at") or ""), reverse=True)


class WorkflowsPage(Viewer):
    """The workflows list with its actions."""

    workflows = param.List(default=[])
    search = param.String(default="")
    new_name = param.String(default="")
    message = param.String(default="")
    loading = param.Boolean(default=True)

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self.navigator = Navigator()
        self._search = pn.widgets.TextInput.from_param(
            self.param.search, name="", placeholder="Search workflows…", width=280, css_classes=["cf-search"]
        )
        self._search.param.watch(lambda e: setattr(self, "search", e.new), "value_input")
        self._new_name = pn.widgets.TextInput.from_param(
            self.param.new_name,
            name="",
            placeholder="New workflow name",
            width=260,
            css_classes=["cf-new-name"],
        )
        self._create = pn.widgets.Button(
            name="+ New workflow", button_type="primary", css_classes=["cf-create"]
        )
        self._create.on_click(self._on_create)
        self._message = html("", css_classes=["cf-message"])
        self._paste = pn.widgets.TextAreaInput(
            name="",
            placeholder="Paste n8n workflow JSON here (or choose a file)…",
            height=90,
            sizing_mode="stretch_width",
            css_classes=["cf-import-text"],
        )
        self._upload = pn.widgets.FileInput(accept=".json,application/json", css_classes=["cf-import-file"])
        self._import = pn.widgets.Button(
            name="Import from n8n", button_type="primary", css_classes=["cf-import"]
        )
        self._import.on_click(self._on_import)
        self._report = html("", css_classes=["cf-import-report"])
        self._list = pn.Column(sizing_mode="stretch_width", css_classes=["cf-workflow-list"])

    async def load(self) -> None:
        try:
            self.workflows = await self.client.list_workflows()
        except ApiError as exc:
            self.message = f"Could not load workflows: {exc.message}"
        self.loading = False

    async def _on_create(self, _event: Any = None) -> None:
        name = (self._new_name.value_input or self.new_name or "").strip() or "My workflow"
        try:
            created = await self.client.create_workflow(name)
        except ApiError as exc:
            self.message = f"Could not create the workflow: {exc.message}"
            return
        self.navigator.go(f"/ui/editor?id={created['id']}")

    async def import_text(self, text: str) -> None:
        """Import pasted or uploaded n8n JSON and show what carried over."""
        if len(text.encode()) > MAX_IMPORT_BYTES:
            self.message = "That file is larger than 1 MiB."
            return
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.message = f"That is not JSON: {exc}"
            return
        try:
            imported = await self.client.import_n8n(document)
        except ApiError as exc:
            self.message = f"Could not import: {exc.message}"
            return
        self._report.object = "".join(f"<div class='cf-hint'>{import_summary(w)}</div>" for w in imported)
        self.message = f"Imported {len(imported)} workflow{'s' if len(imported) != 1 else ''} from n8n."
        await self.load()

    async def _on_import(self, _event: Any = None) -> None:
        text = self._paste.value_input or self._paste.value or ""
        if not text.strip() and self._upload.value:
            raw = self._upload.value
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if not text.strip():
            self.message = "Paste n8n workflow JSON or choose a file first."
            return
        await self.import_text(text)

    async def rename(self, workflow_id: str, name: str) -> None:
        name = name.strip()
        if not name:
            return
        try:
            await self.client.rename_workflow(workflow_id, name)
        except ApiError as exc:
            self.message = f"Could not rename: {exc.message}"
            return
        self.message = f"Renamed to “{name}”."
        await self.load()

    async def delete(self, workflow_id: str) -> None:
        try:
            await self.client.delete_workflow(workflow_id)
        except ApiError as exc:
            self.message = f"Could not delete: {exc.message}"
            return
        self.workflows = [w for w in self.workflows if w.get("id") != workflow_id]
        self.message = "Workflow deleted."

    @param.depends("message", watch=True, on_init=True)
    def _show_message(self) -> None:
        if hasattr(self, "_message"):
            self._message.object = (
                f"<div class='cf-hint'>{_html.escape(self.message)}</div>" if self.message else ""
            )

    def _row(self, wf: dict[str, Any]) -> Any:
        wf_id = str(wf.get("id"))
        name = wf.get("name") or wf_id
        version = wf.get("version") or wf.get("current_version") or ""
        if isinstance(version, dict):
            version = version.get("number", "")
        updated = str(wf.get("updated_at") or wf.get("created_at") or "")[:16].replace("T", " ")
        title = html(
            f"<a class='cf-open-workflow' href='/ui/editor?id={_html.escape(wf_id)}' style='font-weight:600;"
            f"font-size:14px'>{_html.escape(name)}</a><div class='cf-hint'>{_html.escape(wf_id)}"
            f"{' · v' + _html.escape(str(version)) if version else ''}"
            f"{' · updated ' + _html.escape(updated) if updated else ''}</div>",
            width=420,
        )
        rename_input = pn.widgets.TextInput(
            value=name, width=220, visible=False, css_classes=["cf-rename-input"]
        )
        rename = pn.widgets.Button(name="Rename", button_style="outline", css_classes=["cf-rename"])
        delete = pn.widgets.Button(
            name="Delete", button_type="danger", button_style="outline", css_classes=["cf-delete"]
        )
        confirm = pn.widgets.Button(
            name="Confirm delete", button_type="danger", visible=False, css_classes=["cf-confirm-delete"]
        )
        executions = html(
            f"<a href='/ui/executions?workflow={_html.escape(wf_id)}'>Executions</a>",
            width=90,
            margin=(14, 10),
        )
        quoted = _html.escape(wf_id)
        downloads = html(
            f"<a class='cf-export-n8n' href='/api/workflows/{quoted}/export?format=n8n' download>n8n JSON</a>"
            f" · <a class='cf-export-own' href='/api/workflows/{quoted}/export?format=connectflow' download>"
            "Backup</a>",
            width=130,
            margin=(14, 10),
        )

        async def on_rename(_e: Any) -> None:
            if not rename_input.visible:
                rename_input.visible = True
                rename.name = "Save name"
                return
            await self.rename(wf_id, rename_input.value_input or rename_input.value)

        async def on_confirm(_e: Any) -> None:
            await self.delete(wf_id)

        rename.on_click(on_rename)
        delete.on_click(lambda _e: setattr(confirm, "visible", True))
        confirm.on_click(on_confirm)
        return pn.Row(
            title,
            pn.layout.HSpacer(),
            rename_input,
            rename,
            executions,
            downloads,
            delete,
            confirm,
            sizing_mode="stretch_width",
            css_classes=["cf-workflow-row"],
            styles={"border-bottom": "1px solid #e2e8f0", "background": "#fff"},
        )

    @param.depends("workflows", "search", "loading", watch=True, on_init=True)
    def _render(self) -> None:
        if not hasattr(self, "_list"):
            return
        if self.loading:
            self._list[:] = [html("<div class='cf-hint'>Loading…</div>")]
            return
        shown = filter_workflows(self.workflows, self.search)
        if not shown:
            text = (
                "No workflow matches your search."
                if self.workflows
                else "No workflows yet. Name one above and press <b>New workflow</b>."
            )
            self._list[:] = [html(f"<div class='cf-empty'>{text}</div>")]
            return
        self._list[:] = [self._row(wf) for wf in shown]

    def __panel__(self) -> Any:
        return pn.Column(
            html("<h2 style='margin:6px 0'>Workflows</h2>"),
            pn.Row(
                self._search, pn.layout.HSpacer(), self._new_name, self._create, sizing_mode="stretch_width"
            ),
            self._message,
            pn.Row(self._paste, pn.Column(self._upload, self._import), sizing_mode="stretch_width"),
            self._report,
            self._list,
            self.navigator,
            sizing_mode="stretch_width",
            max_width=1100,
            margin=(10, 24),
        )


def page() -> Any:
    from ui.session import client_for_session

    client = client_for_session()
    view = WorkflowsPage(client)
    layout = page_shell("workflows", view)
    pn.state.onload(view.load)
    return layout
