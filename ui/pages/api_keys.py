"""API keys: per workflow, create (the full key is shown once), list by public prefix, revoke.

Backed by ``/api/workflows/{id}/api-keys``: POST answers the only copy of the full key (``key``);
GET lists ``{id, name, prefix, created_at, last_used_at, revoked_at}``; DELETE revokes. A key starts
its workflow through the API trigger: ``POST /api/trigger`` with ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import html as _html
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import html, page_shell

__all__ = ["ApiKeysPage", "page"]


def _when(value: Any) -> str:
    return str(value)[:16].replace("T", " ") if value else "—"


class ApiKeysPage(Viewer):
    workflows = param.List(default=[])
    workflow_id = param.String(default=None, allow_None=True)
    keys = param.List(default=[])
    new_key = param.String(default="", doc="The key just created (shown once).")
    message = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._workflow = pn.widgets.Select(
            name="Workflow", options={}, width=320, css_classes=["cf-key-workflow"]
        )
        self._workflow.param.watch(lambda e: setattr(self, "workflow_id", e.new), "value")
        self._name = pn.widgets.TextInput(
            name="Key name", placeholder="e.g. CRM integration", width=260, css_classes=["cf-key-name"]
        )
        self._create = pn.widgets.Button(
            name="Create API key",
            button_type="primary",
            margin=(24, 10, 10, 10),
            css_classes=["cf-create-key"],
        )
        self._create.on_click(self._on_create)
        self._message = html("", css_classes=["cf-message"])
        self._shown = html("", css_classes=["cf-new-key"])
        self._endpoint = html("", css_classes=["cf-api-endpoint"])
        self._list = pn.Column(sizing_mode="stretch_width", css_classes=["cf-key-list"])

    async def load(self) -> None:
        try:
            self.workflows = await self.client.list_workflows()
        except ApiError as exc:
            self.message = exc.message
            return
        self._endpoint.object = (
            "<div class='cf-hint'>Endpoint: <code>POST "
            f"{_html.escape(self.client.base_url)}/api/trigger</code> with <code>Authorization: Bearer "
            "&lt;key&gt;</code> and a JSON body (the workflow needs an <i>API call</i> trigger).</div>"
        )
        options = {w.get("name") or w["id"]: w["id"] for w in self.workflows}
        self._workflow.options = options
        if not options:
            self._list[:] = [html("<div class='cf-empty'>Create a workflow first.</div>")]
        elif self.workflow_id in options.values():
            self._workflow.value = self.workflow_id
            await self._load_keys()
        else:
            self._workflow.value = next(iter(options.values()))

    @param.depends("workflow_id", watch=True)
    async def _load_keys(self) -> None:
        self.new_key = ""  # shown once: not again after switching workflows
        if not self.workflow_id:
            return
        try:
            self.keys = await self.client.list_api_keys(self.workflow_id)
        except ApiError as exc:
            self.message = exc.message
        self._render()

    async def _on_create(self, _event: Any = None) -> None:
        if not self.workflow_id:
            self.message = "Choose a workflow."
            return
        name = (self._name.value_input or self._name.value or "").strip()
        try:
            created = await self.client.create_api_key(self.workflow_id, name)
        except ApiError as exc:
            self.message = f"Not created: {exc.message}"
            return
        self._name.value = ""
        self.keys = await self.client.list_api_keys(self.workflow_id)
        self.new_key = str(created["key"])
        self.message = "Copy the key now: it is shown only once."

    async def revoke(self, key_id: str) -> None:
        if not self.workflow_id:
            return
        try:
            await self.client.revoke_api_key(self.workflow_id, key_id)
        except ApiError as exc:
            self.message = f"Not revoked: {exc.message}"
            return
        self.new_key = ""
        self.message = "Key revoked: calls with it are refused from now on."
        self.keys = await self.client.list_api_keys(self.workflow_id)

    @param.depends("message", watch=True)
    def _show_message(self) -> None:
        self._message.object = (
            f"<div class='cf-hint'>{_html.escape(self.message)}</div>" if self.message else ""
        )

    @param.depends("new_key", watch=True)
    def _show_key(self) -> None:
        self._shown.object = (
            "<div class='cf-card'><b>New key</b> (store it now: only its prefix is kept)"
            f"<pre class='cf-copy cf-key-value'>{_html.escape(self.new_key)}</pre></div>"
            if self.new_key
            else ""
        )

    def _row(self, key: dict[str, Any]) -> Any:
        esc = _html.escape
        revoked = bool(key.get("revoked_at"))
        info = html(
            f"<div class='cf-key' data-prefix='{esc(str(key['prefix']))}'>"
            f"<b>{esc(str(key.get('name') or 'API key'))}</b> <code>{esc(str(key['prefix']))}…</code> "
            f"<span class='cf-badge {'cf-badge-canceled' if revoked else 'cf-badge-success'} cf-key-state'>"
            f"{'revoked' if revoked else 'active'}</span><div class='cf-hint'>created "
            f"{esc(_when(key.get('created_at')))} · last used {esc(_when(key.get('last_used_at')))}"
            f"{' · revoked ' + esc(_when(key.get('revoked_at'))) if revoked else ''}</div></div>",
            width=560,
        )
        parts: list[Any] = [info, pn.layout.HSpacer()]
        if not revoked:
            button = pn.widgets.Button(
                name="Revoke", button_type="danger", button_style="outline", css_classes=["cf-revoke-key"]
            )
            key_id = str(key["id"])

            async def on_revoke(_e: Any) -> None:
                await self.revoke(key_id)

            button.on_click(on_revoke)
            parts.append(button)
        return pn.Row(
            *parts,
            sizing_mode="stretch_width",
            css_classes=["cf-key-row"],
            styles={"border-bottom": "1px solid #e2e8f0", "background": "#fff"},
        )

    @param.depends("keys", watch=True)
    def _render(self) -> None:
        if not self.keys:
            self._list[:] = [html("<div class='cf-empty'>No API keys for this workflow.</div>")]
            return
        self._list[:] = [self._row(k) for k in self.keys]

    def __panel__(self) -> Any:
        return pn.Column(
            html(
                "<h2 style='margin:6px 0'>API keys</h2><div class='cf-hint'>A key starts one workflow "
                "through its API trigger. Only a hash is stored, so a key is shown once.</div>"
            ),
            self._endpoint,
            self._message,
            pn.Row(self._workflow, self._name, self._create),
            self._shown,
            self._list,
            sizing_mode="stretch_width",
            max_width=900,
            margin=(10, 24),
        )


def page() -> Any:
    from ui.session import client_for_session

    args = pn.state.session_args or {}
    workflow = args["workflow"][0].decode() if args.get("workflow") else None
    view = ApiKeysPage(client_for_session(), workflow_id=workflow)
    pn.state.onload(view.load)
    return page_shell("api-keys", view)
