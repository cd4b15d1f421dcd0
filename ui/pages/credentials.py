"""Credentials: create one per type with that type's form, test it, delete it.

Secrets are write-only: the form sends them once; the list shows names, types and dates only,
because the API never returns a secret.
"""

from __future__ import annotations

import html as _html
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.components.schema_form import SchemaForm
from ui.theme import html, page_shell

__all__ = ["CredentialsPage", "page"]


class CredentialsPage(Viewer):
    credentials = param.List(default=[])
    types = param.List(default=[], doc="Credential types: type, display_name, schema, testable.")
    selected_type = param.String(default=None, allow_None=True)
    message = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self.form: SchemaForm | None = None
        self._type = pn.widgets.Select(name="Type", options={}, width=260, css_classes=["cf-credential-type"])
        self._type.param.watch(lambda e: setattr(self, "selected_type", e.new), "value")
        self._name = pn.widgets.TextInput(
            name="Name", placeholder="e.g. Production Stripe", width=260, css_classes=["cf-credential-name"]
        )
        self._form_holder = pn.Column(sizing_mode="stretch_width")
        self._create = pn.widgets.Button(
            name="Create credential", button_type="primary", css_classes=["cf-create-credential"]
        )
        self._create.on_click(self._on_create)
        self._message = html("", css_classes=["cf-message"])
        self._list = pn.Column(sizing_mode="stretch_width", css_classes=["cf-credential-list"])

    async def load(self) -> None:
        try:
            self.types = await self.client.credential_types()
            self.credentials = await self.client.list_credentials()
        except ApiError as exc:
            self.message = exc.message
        self._render()  # also when the list is (still) empty

    @param.depends("types", watch=True)
    def _types_changed(self) -> None:
        options = {t.get("display_name") or t["type"]: t["type"] for t in self.types}
        self._type.options = options
        if options and self.selected_type not in options.values():
            self._type.value = next(iter(options.values()))

    @param.depends("selected_type", watch=True)
    def _build_form(self) -> None:
        info = next((t for t in self.types if t["type"] == self.selected_type), None)
        self.form = (
            SchemaForm(schema=(info or {}).get("schema") or {}, template_fields=False) if info else None
        )
        if self.form is None or info is None:
            self._form_holder[:] = []
            return
        note = (
            "Fields marked write-only are encrypted and never shown back."
            if info.get("secret_fields")
            else "This credential type has no secret fields."
        )
        self._form_holder[:] = [
            html(
                f"<div class='cf-hint cf-credential-form-type' data-type='{_html.escape(info['type'])}'>"
                f"{_html.escape(info.get('display_name') or info['type'])} (<code>"
                f"{_html.escape(info['type'])}</code>) · {note}</div>"
            ),
            self.form,
        ]

    async def _on_create(self, _event: Any = None) -> None:
        if not self.form or not self.selected_type:
            self.message = "Choose a credential type."
            return
        if self.form.errors:
            self.message = "Fix the marked fields first."
            return
        name = (self._name.value_input or self._name.value or "").strip() or self.selected_type
        try:
            await self.client.create_credential(name, self.selected_type, dict(self.form.value))
        except ApiError as exc:
            self.message = f"Not created: {exc.message}"
            return
        self.message = f"Credential “{name}” created. Its secrets are stored encrypted and never shown again."
        self._build_form()  # clear the secret fields
        self._name.value = ""
        self.credentials = await self.client.list_credentials()

    async def test(self, credential_id: str) -> None:
        try:
            result = await self.client.test_credential(credential_id)
        except ApiError as exc:
            self.message = f"Test failed: {exc.message}"
            return
        detail = result.get("message") or ""
        self.message = ("Test passed" if result.get("ok") else "Test failed") + (
            f": {detail}" if detail else "."
        )

    async def delete(self, credential_id: str) -> None:
        try:
            await self.client.delete_credential(credential_id)
        except ApiError as exc:
            self.message = f"Not deleted: {exc.message}"
            return
        self.credentials = [c for c in self.credentials if c.get("id") != credential_id]
        self.message = "Credential deleted."

    @param.depends("message", watch=True)
    def _show_message(self) -> None:
        self._message.object = (
            f"<div class='cf-hint'>{_html.escape(self.message)}</div>" if self.message else ""
        )

    @param.depends("credentials", watch=True)
    def _render(self) -> None:
        if not self.credentials:
            self._list[:] = [html("<div class='cf-empty'>No credentials yet.</div>")]
            return
        testable = {t["type"]: bool(t.get("testable")) for t in self.types}
        self._list[:] = [
            self._row(cred, testable.get(str(cred.get("type")), False)) for cred in self.credentials
        ]

    def _row(self, cred: dict[str, Any], testable: bool) -> Any:
        """Name, type, the non-secret values, and which secrets are set (never their values)."""
        cred_id = str(cred["id"])
        esc = _html.escape
        public = " · ".join(
            f"{esc(str(k))}: <code>{esc(str(v))}</code>" for k, v in (cred.get("data") or {}).items()
        )
        secrets = ", ".join(esc(str(name)) for name in cred.get("secret_fields") or [])
        info = html(
            f"<div class='cf-credential' data-credential-id='{esc(cred_id)}'>"
            f"<b class='cf-credential-name-shown'>{esc(str(cred.get('name') or cred_id))}</b> "
            f"<span class='cf-hint'>{esc(str(cred.get('type')))} · created "
            f"{esc(str(cred.get('created_at') or '')[:16].replace('T', ' '))}</span>"
            f"{f'<div class=cf-hint>{public}</div>' if public else ''}"
            f"{f'<div class=cf-hint>secrets set (write-only): {secrets}</div>' if secrets else ''}</div>",
            width=560,
        )
        buttons: list[Any] = []
        if testable:
            test = pn.widgets.Button(name="Test", button_style="outline", css_classes=["cf-test-credential"])

            async def on_test(_e: Any) -> None:
                await self.test(cred_id)

            test.on_click(on_test)
            buttons.append(test)
        delete = pn.widgets.Button(
            name="Delete", button_type="danger", button_style="outline", css_classes=["cf-delete-credential"]
        )

        async def on_delete(_e: Any) -> None:
            await self.delete(cred_id)

        delete.on_click(on_delete)
        buttons.append(delete)
        return pn.Row(
            info,
            pn.layout.HSpacer(),
            *buttons,
            sizing_mode="stretch_width",
            css_classes=["cf-credential-row"],
            styles={"border-bottom": "1px solid #e2e8f0", "background": "#fff"},
        )

    def __panel__(self) -> Any:
        return pn.Column(
            html(
                "<h2 style='margin:6px 0'>Credentials</h2><div class='cf-hint'>Secrets are write-only: "
                "they are encrypted at rest and never shown back.</div>"
            ),
            self._message,
            self._list,
            html("<div class='cf-section'>New credential</div>"),
            pn.Row(self._type, self._name),
            self._form_holder,
            self._create,
            sizing_mode="stretch_width",
            max_width=900,
            margin=(10, 24),
        )


def page() -> Any:
    from ui.session import client_for_session

    view = CredentialsPage(client_for_session())
    pn.state.onload(view.load)
    return page_shell("credentials", view)
