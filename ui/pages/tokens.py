"""Personal access tokens: list, create (the full token is shown once), revoke.

Backed by ``/api/tokens``: POST answers the only copy of the token (``token``); GET lists
``{id, name, prefix, scopes, state, created_at, expires_at, last_used_at, revoked_at}``; DELETE
revokes. A token acts as its user on the REST API (``Authorization: Bearer cf_pat_…``), in notebooks
(``CONNECTFLOW_TOKEN``) and in the CLI (``connectflow login --token``).
"""

from __future__ import annotations

import html as _html
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import html, page_shell

__all__ = ["TokensPage", "page"]

SCOPES = ("read", "write", "execute")
LIFETIMES = {"30 days": 30, "90 days": 90, "1 year": 365}


def _when(value: Any) -> str:
    return str(value)[:16].replace("T", " ") if value else "—"


class TokensPage(Viewer):
    tokens = param.List(default=[])
    new_token = param.String(default="", doc="The token just created (shown once).")
    message = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._name = pn.widgets.TextInput(
            name="Token name", placeholder="e.g. laptop notebook", width=240, css_classes=["cf-token-name"]
        )
        self._scopes = pn.widgets.CheckBoxGroup(
            name="Scopes",
            options=list(SCOPES),
            value=list(SCOPES),
            inline=True,
            css_classes=["cf-token-scopes"],
        )
        self._lifetime = pn.widgets.Select(
            name="Expires after", options=LIFETIMES, value=90, width=140, css_classes=["cf-token-lifetime"]
        )
        self._create = pn.widgets.Button(
            name="Create token",
            button_type="primary",
            margin=(24, 10, 10, 10),
            css_classes=["cf-create-token"],
        )
        self._create.on_click(self._on_create)
        self._message = html("", css_classes=["cf-message"])
        self._shown = html("", css_classes=["cf-new-token"])
        self._list = pn.Column(sizing_mode="stretch_width", css_classes=["cf-token-list"])

    async def load(self) -> None:
        try:
            self.tokens = await self.client.list_tokens()
        except ApiError as exc:
            self.message = exc.message
        self._render()

    async def _on_create(self, _event: Any = None) -> None:
        name = (self._name.value_input or self._name.value or "").strip()
        scopes = [s for s in SCOPES if s in (self._scopes.value or [])]
        if not scopes:
            self.message = "Choose at least one scope."
            return
        try:
            created = await self.client.create_token(name, scopes, int(self._lifetime.value))
        except ApiError as exc:
            self.message = f"Not created: {exc.message}"
            return
        self._name.value = ""
        self.tokens = await self.client.list_tokens()
        self.new_token = str(created["token"])
        self.message = "Copy the token now: it is shown only once."

    async def revoke(self, token_id: str) -> None:
        try:
            await self.client.revoke_token(token_id)
        except ApiError as exc:
            self.message = f"Not revoked: {exc.message}"
            return
        self.new_token = ""
        self.message = "Token revoked: requests with it are refused from now on."
        self.tokens = await self.client.list_tokens()

    @param.depends("message", watch=True)
    def _show_message(self) -> None:
        self._message.object = (
            f"<div class='cf-hint'>{_html.escape(self.message)}</div>" if self.message else ""
        )

    @param.depends("new_token", watch=True)
    def _show_token(self) -> None:
        esc = _html.escape
        base = esc(self.client.base_url)
        self._shown.object = (
            "<div class='cf-card'><b>New token</b> (store it now: only its prefix is kept)"
            f"<pre class='cf-copy cf-token-value'>{esc(self.new_token)}</pre>"
            "<div class='cf-hint'>Use it as <code>Authorization: Bearer …</code>, or in a notebook / "
            f"the CLI: <code>CONNECTFLOW_URL={base} CONNECTFLOW_TOKEN=…</code>, or "
            f"<code>connectflow login --url {base} --token …</code></div></div>"
            if self.new_token
            else ""
        )

    def _row(self, token: dict[str, Any]) -> Any:
        esc = _html.escape
        state = str(token.get("state") or "active")
        badge = {"active": "cf-badge-success", "expired": "cf-badge-failed"}.get(state, "cf-badge-canceled")
        info = html(
            f"<div class='cf-token' data-prefix='{esc(str(token['prefix']))}'>"
            f"<b>{esc(str(token.get('name') or 'token'))}</b> <code>{esc(str(token['prefix']))}…</code> "
            f"<span class='cf-badge {badge} cf-token-state'>{esc(state)}</span> "
            f"<span class='cf-hint'>{esc(', '.join(token.get('scopes') or []))}</span>"
            f"<div class='cf-hint'>created {esc(_when(token.get('created_at')))} · expires "
            f"{esc(_when(token.get('expires_at')))} · last used {esc(_when(token.get('last_used_at')))}"
            f"{' · revoked ' + esc(_when(token.get('revoked_at'))) if token.get('revoked_at') else ''}"
            "</div></div>",
            width=600,
        )
        parts: list[Any] = [info, pn.layout.HSpacer()]
        if state == "active":
            button = pn.widgets.Button(
                name="Revoke", button_type="danger", button_style="outline", css_classes=["cf-revoke-token"]
            )
            token_id = str(token["id"])

            async def on_revoke(_e: Any) -> None:
                await self.revoke(token_id)

            button.on_click(on_revoke)
            parts.append(button)
        return pn.Row(
            *parts,
            sizing_mode="stretch_width",
            css_classes=["cf-token-row"],
            styles={"border-bottom": "1px solid #e2e8f0", "background": "#fff"},
        )

    @param.depends("tokens", watch=True)
    def _render(self) -> None:
        if not self.tokens:
            self._list[:] = [html("<div class='cf-empty'>No personal access tokens yet.</div>")]
            return
        self._list[:] = [self._row(t) for t in self.tokens]

    def __panel__(self) -> Any:
        return pn.Column(
            html(
                "<h2 style='margin:6px 0'>Personal access tokens</h2><div class='cf-hint'>A token acts "
                "as you on the REST API, in notebooks and in the CLI, within its scopes: <b>read</b> "
                "(view), <b>write</b> (create, change, delete), <b>execute</b> (run, retry, cancel). "
                "Only a hash is stored, so a token is shown once.</div>"
            ),
            self._message,
            pn.Row(self._name, self._lifetime, self._create),
            self._scopes,
            self._shown,
            self._list,
            sizing_mode="stretch_width",
            max_width=900,
            margin=(10, 24),
        )


def page() -> Any:
    from ui.session import client_for_session

    view = TokensPage(client_for_session())
    pn.state.onload(view.load)
    return page_shell("tokens", view)
