"""The settings panel of the selected node, generated from its params schema.

Shows: name and variable name; one field per param (``SchemaForm`` over the node type's JSON
Schema); a credential picker listing only credentials of the type the node declares; the context
variables its templates can use (outputs of the nodes upstream of it); the node's validation problems;
the node's result in the last run (status and error); and, on trigger nodes, how to call it.

How to call a trigger is generic: the node type's ``ingress`` declaration in the catalogue
(``GET /api/node-types``; ``connectflow_dagster/nodes/ingress.py``) gives the URL template, the secret
kind and what the panel shows (labels, hint, a generated script, a link to the API keys). For a
trigger with its own secret (``auth`` ``shared`` or ``signing``) the URL, whether the secret is set and
any script come from ``GET /api/workflows/{id}/triggers/{node_id}`` once the workflow is saved; before
that the URL is computed from the template. No trigger type is named here.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.components.draft import WorkflowDraft
from ui.components.schema_form import SchemaForm
from ui.theme import html, status_badge

__all__ = ["NodeSettings", "credential_options", "own_secret_kind", "trigger_url"]

# Secret kinds a trigger keeps at /api/workflows/{id}/triggers/{node_id}/secret: "shared" is generated
# by the gateway (shown once); "signing" is the secret the sender (e.g. Stripe) shows the user.
OWN_SECRET_KINDS = ("shared", "signing")


ON_ERROR_OPTIONS = {
    "Stop the workflow": "stop",
    "Continue (the error is the output)": "continue",
    "Use the error output": "error_output",
}


def own_secret_kind(type_info: dict[str, Any]) -> str | None:
    """``shared`` or ``signing`` when the node type's trigger keeps its own secret, else None."""
    auth = (type_info.get("ingress") or {}).get("auth")
    return auth if auth in OWN_SECRET_KINDS else None


def trigger_url(
    base_url: str, workflow_id: str, node: dict[str, Any], type_info: dict[str, Any]
) -> str | None:
    """Where a trigger is called, from its declared URL template (the gateway's answer wins once saved)."""
    ingress = type_info.get("ingress")
    if not ingress:
        return None
    url = base_url.rstrip("/") + str(ingress["url"]).replace("{workflow_id}", workflow_id)
    if ingress.get("subpath_param"):
        sub = str((node.get("params") or {}).get(ingress["subpath_param"]) or "").strip("/")
        if sub:
            url += f"/{sub}"
    return url


def _text(text: str) -> str:
    """A declared panel text as HTML: escaped, `backticks` as code."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", _html.escape(text))


def credential_options(
    credentials: list[dict[str, Any]], credential_type: str | list[str] | None
) -> dict[str, str | None]:
    """Select options (label → id) for the credentials of ``credential_type`` (or of any of a list:
    the HTTP Request's, whose ``authentication`` param says which one it uses)."""
    options: dict[str, str | None] = {"— choose a credential —": None}
    allowed = [credential_type] if isinstance(credential_type, str) else list(credential_type or [])
    for cred in credentials:
        if allowed and cred.get("type") not in allowed:
            continue
        options[f"{cred.get('name') or cred['id']} ({cred.get('type')})"] = cred["id"]
    return options


class NodeSettings(Viewer):
    """Edit one node of ``draft``; every change is written to the draft at once."""

    draft = param.ClassSelector(class_=WorkflowDraft)
    node_id = param.String(default=None, allow_None=True)
    credentials = param.List(default=[], doc="The user's credentials (id, name, type).")
    problems = param.List(default=[], doc="Validation problems of the whole workflow.")
    trigger_info = param.Dict(default={}, doc="Node id → the gateway's trigger settings (url, secret…).")
    run_results = param.Dict(default={}, doc="Node id → {status, error} in the run last shown.")
    listen_state = param.Dict(default={}, doc="The gateway's 'listen for test event' state (test URLs).")
    base_url = param.String(default="", doc="The gateway's address as the browser reaches it.")
    manage_keys_url = param.String(default="/ui/api-keys")

    def __init__(
        self,
        on_rename: Callable[[str, str], None] | None = None,
        on_delete: Callable[[str], None] | None = None,
        on_generate_secret: Callable[[str], Any] | None = None,
        on_set_secret: Callable[[str, str], Any] | None = None,
        on_error_mode: Callable[[str, str], None] | None = None,
        on_listen: Callable[[], Any] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self._on_listen = on_listen
        self._on_error_mode = on_error_mode
        self._on_rename = on_rename
        self._on_delete = on_delete
        self._on_generate_secret = on_generate_secret
        self._on_set_secret = on_set_secret
        self.form: SchemaForm | None = None
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["cf-node-settings"])
        self._rebuild()

    @param.depends("node_id", "credentials", watch=True)
    def _rebuild(self) -> None:
        if not self.node_id or not any(n["id"] == self.node_id for n in self.draft.nodes):
            self.form = None
            self._layout[:] = [
                html(
                    "<div class='cf-panel-title'>Settings</div><div class='cf-hint'>Select a node to edit "
                    "its settings.</div>",
                    sizing_mode="stretch_width",
                )
            ]
            return
        node = self.draft.node(self.node_id)
        info = self.draft.type_info(self.node_id)
        node_id = self.node_id
        header = html(
            f"<div class='cf-panel-title'>{_html.escape(info.get('display_name') or node['type'])}</div>"
            f"<div class='cf-hint'>{_html.escape(info.get('description') or '')}</div>"
            f"<div class='cf-node-id'>id <code>{_html.escape(node_id)}</code></div>",
            sizing_mode="stretch_width",
        )
        name = pn.widgets.TextInput(
            name="Name", value=node["name"], sizing_mode="stretch_width", css_classes=["cf-field-node-name"]
        )
        variable = pn.widgets.TextInput(
            name="Variable name (key of its output in the context)",
            value=node.get("variable_name", ""),
            sizing_mode="stretch_width",
            css_classes=["cf-field-variable-name"],
        )
        name.param.watch(lambda e: self._set_name(node_id, e.new), "value_input")
        variable.param.watch(
            lambda e: e.new and self.draft.update_node(node_id, variable_name=e.new), "value_input"
        )
        self.form = SchemaForm(schema=info.get("params_schema") or {}, value=dict(node.get("params") or {}))
        self.form.param.watch(lambda e: self.draft.update_node(node_id, params=e.new), "value")
        self.form.param.watch(self._show_form_errors, "errors")
        self._form_errors = html("", sizing_mode="stretch_width", css_classes=["cf-form-errors"])
        self._run_pane = html(self._run_html(), sizing_mode="stretch_width", css_classes=["cf-node-run"])
        parts: list[Any] = [header, self._run_pane, name, variable]
        credential_type = info.get("credential_type")
        choices = info.get("credential_types") or ([credential_type] if credential_type else [])
        if choices:
            options = credential_options(self.credentials, choices)
            picker = pn.widgets.Select(
                name=f"Credential ({credential_type or 'optional: one of ' + ', '.join(choices)})",
                options=options,
                value=node.get("credential_id") if node.get("credential_id") in options.values() else None,
                sizing_mode="stretch_width",
                css_classes=["cf-field-credential"],
            )
            picker.param.watch(lambda e: self.draft.update_node(node_id, credential_id=e.new), "value")
            parts += [
                picker,
                html(
                    "<div class='cf-hint'>Only credentials of this type are listed; "
                    "add one on the <a href='/ui/credentials' target='_blank'>"
                    "Credentials</a> page.</div>",
                    sizing_mode="stretch_width",
                ),
            ]
        parts += [
            html("<div class='cf-section'>Parameters</div>", sizing_mode="stretch_width"),
            self.form,
            self._form_errors,
        ]
        parts.append(
            html(self._variables_html(node_id), sizing_mode="stretch_width", css_classes=["cf-context-vars"])
        )
        self._problems_pane = html(
            self._problems_html(), sizing_mode="stretch_width", css_classes=["cf-node-problems"]
        )
        parts.append(self._problems_pane)
        if info.get("group") != "trigger":
            parts += self._failure_widgets(node)
        if info.get("group") == "trigger":
            self._trigger_pane = html(
                self._trigger_html(node), sizing_mode="stretch_width", css_classes=["cf-trigger-info"]
            )
            parts.append(self._trigger_pane)
            parts += self._secret_widgets(node, info)
            parts += self._listen_widgets(info)
        delete = pn.widgets.Button(
            name="Delete node", button_type="danger", button_style="outline", css_classes=["cf-delete-node"]
        )
        delete.on_click(lambda _e: self._on_delete and self._on_delete(node_id))
        parts.append(delete)
        self._layout[:] = parts

    def _failure_widgets(self, node: dict[str, Any]) -> list[Any]:
        """Retries (count, delay, backoff) and what happens once they are exhausted (``on_error``)."""
        node_id = node["id"]
        retry = dict(node.get("retry") or {})
        retries = pn.widgets.IntInput(
            name="Retries",
            value=int(retry.get("max_retries", 0)),
            start=0,
            end=10,
            width=90,
            css_classes=["cf-field-retries"],
        )
        delay = pn.widgets.FloatInput(
            name="Delay (s)",
            value=float(retry.get("delay_seconds", 1.0)),
            start=0,
            end=3600,
            width=90,
            css_classes=["cf-field-retry-delay"],
        )
        backoff = pn.widgets.Select(
            name="Backoff",
            options=["exponential", "constant"],
            value=retry.get("backoff", "exponential"),
            width=120,
            css_classes=["cf-field-retry-backoff"],
        )
        on_error = pn.widgets.Select(
            name="On error (after the retries)",
            options=ON_ERROR_OPTIONS,
            value=node.get("on_error") or "stop",
            sizing_mode="stretch_width",
            css_classes=["cf-field-on-error"],
        )

        def set_retry(_e: Any) -> None:
            count = int(retries.value or 0)
            self.draft.update_node(
                node_id,
                retry={
                    "max_retries": count,
                    "delay_seconds": float(delay.value or 0),
                    "backoff": backoff.value,
                }
                if count
                else None,
            )

        def set_on_error(event: Any) -> None:
            self.draft.update_node(node_id, on_error=None if event.new == "stop" else event.new)
            if self._on_error_mode is not None:
                self._on_error_mode(node_id, event.new)

        for widget in (retries, delay, backoff):
            widget.param.watch(set_retry, "value")
        on_error.param.watch(set_on_error, "value")
        return [
            html("<div class='cf-section'>When it fails</div>", sizing_mode="stretch_width"),
            pn.Row(retries, delay, backoff, sizing_mode="stretch_width"),
            on_error,
            html(
                "<div class='cf-hint'>Retries run first (HTTP 429 and 5xx, timeouts, resets). Then: "
                '<b>stop</b> fails the run; <b>continue</b> makes <code>{"error": {"message": …}}</code> '
                "this node's output; <b>error output</b> sends it along the node's <code>error</code> "
                "handle instead.</div>",
                sizing_mode="stretch_width",
            ),
        ]

    def _set_name(self, node_id: str, name: str) -> None:
        if not name.strip():
            return
        self.draft.update_node(node_id, name=name)
        if self._on_rename is not None:
            self._on_rename(node_id, name)

    def _show_form_errors(self, event: Any) -> None:
        self._form_errors.object = "".join(
            f"<div class='cf-error'>{_html.escape(k)}: {_html.escape(v)}</div>" for k, v in event.new.items()
        )

    def _variables_html(self, node_id: str) -> str:
        variables = self.draft.context_variables(node_id)
        if not variables:
            body = (
                "<div class='cf-hint'>Connect nodes before this one to use their output here, "
                "e.g. <code>{{ trigger.body }}</code>.</div>"
            )
        else:
            body = "".join(
                f"<div class='cf-var'><code>{{{{ {_html.escape(v['variable'])} }}}}</code>"
                f"<span> {'' if v['variable'] in ('item', 'item_index') else 'output of '}"
                f"{_html.escape(v['node'])}</span></div>"
                for v in variables
            )
        return (
            "<div class='cf-section'>Context variables</div>"
            "<div class='cf-hint'>Any text field may use templates over earlier outputs, "
            "e.g. <code>{{ http_request.data.id }}</code>.</div>" + body
        )

    @param.depends("problems", watch=True)
    def _refresh_problems(self) -> None:
        if self.node_id and hasattr(self, "_problems_pane"):
            self._problems_pane.object = self._problems_html()

    def _problems_html(self) -> str:
        mine = [p for p in self.problems if p.get("node_id") == self.node_id]
        if not mine:
            return ""
        items = "".join(
            f"<li><b>{_html.escape(p.get('field') or '')}</b> {_html.escape(p.get('message', ''))}</li>"
            for p in mine
        )
        return f"<div class='cf-problems'><div class='cf-section'>Problems</div><ul>{items}</ul></div>"

    @param.depends("run_results", watch=True)
    def _refresh_run(self) -> None:
        if self.node_id and hasattr(self, "_run_pane"):
            self._run_pane.object = self._run_html()

    def _run_html(self) -> str:
        result = self.run_results.get(self.node_id or "")
        if not result:
            return ""
        error = (
            f"<div class='cf-error cf-node-run-error'>{_html.escape(result['error'])}</div>"
            if result.get("error")
            else ""
        )
        return f"<div class='cf-section'>Last run</div><div>{status_badge(result.get('status'))}</div>{error}"

    def _listen_widgets(self, info: dict[str, Any]) -> list[Any]:
        """n8n's "Listen for test event": the test URL takes one call, also while inactive."""
        if not (info.get("ingress") or {}).get("test_url"):
            return []
        button = pn.widgets.Button(
            name="Listen for test event", button_style="outline", css_classes=["cf-listen"]
        )

        async def listen(_e: Any) -> None:
            if self._on_listen is not None:
                await self._on_listen()

        button.on_click(listen)
        return [button]

    @param.depends("trigger_info", "listen_state", watch=True)
    def _refresh_trigger(self) -> None:
        if (
            self.node_id
            and hasattr(self, "_trigger_pane")
            and any(n["id"] == self.node_id for n in self.draft.nodes)
        ):
            self._trigger_pane.object = self._trigger_html(self.draft.node(self.node_id))

    def _secret_widgets(self, node: dict[str, Any], info: dict[str, Any]) -> list[Any]:
        """Generate a shared secret, or paste the sender's signing secret, as the trigger declares."""
        kind = own_secret_kind(info)
        panel = (info.get("ingress") or {}).get("panel") or {}
        node_id = node["id"]
        if kind == "shared":
            button = pn.widgets.Button(
                name="Generate secret", button_style="outline", css_classes=["cf-generate-secret"]
            )

            async def generate(_e: Any) -> None:
                if self._on_generate_secret is not None:
                    await self._on_generate_secret(node_id)

            button.on_click(generate)
            return [button]
        if kind == "signing":
            secret = pn.widgets.PasswordInput(
                name=panel.get("paste_label") or "Signing secret",
                placeholder=panel.get("paste_placeholder") or "",
                sizing_mode="stretch_width",
                css_classes=["cf-signing-secret", "cf-stripe-secret"],
            )
            button = pn.widgets.Button(
                name="Save signing secret", button_style="outline", css_classes=["cf-set-secret"]
            )

            async def save(_e: Any) -> None:
                value = (secret.value_input or secret.value or "").strip()
                if value and self._on_set_secret is not None:
                    await self._on_set_secret(node_id, value)
                    secret.value = ""

            button.on_click(save)
            return [secret, button]
        return []

    def _trigger_html(self, node: dict[str, Any]) -> str:
        rows = ["<div class='cf-section'>How to call it</div>"]
        workflow_id = self.draft.workflow_id
        if not workflow_id or self.draft.version is None:
            return rows[0] + "<div class='cf-hint'>Save the workflow first.</div>"
        type_info = self.draft.type_info(node["id"])
        ingress = type_info.get("ingress")
        if not ingress:
            rows.append("<div class='cf-hint'>Runs on its own (e.g. on its schedule) once saved.</div>")
            return "".join(rows)
        panel = ingress.get("panel") or {}
        info = self.trigger_info.get(node["id"]) or {}
        url = info.get("url") or trigger_url(self.base_url, workflow_id, node, type_info) or ""
        esc = _html.escape
        shown = f"{ingress['methods'][0]} {url}" if panel.get("method_shown") else url
        rows.append(
            f"<div>{esc(panel.get('url_label') or 'URL')}</div>"
            f"<pre class='cf-copy cf-trigger-url'>{esc(shown)}</pre>"
        )
        if own_secret_kind(type_info):
            if info.get("error"):
                rows.append(f"<div class='cf-hint'>{esc(info['error'])}</div>")
            elif info:
                state = "set" if info.get("secret_configured") else "not set"
                rows.append(f"<div class='cf-hint cf-secret-state'>Secret: <b>{state}</b></div>")
            if info.get("secret"):
                rows.append(
                    "<div>New secret (shown only now: copy it)</div>"
                    f"<pre class='cf-copy cf-trigger-secret'>{esc(info['secret'])}</pre>"
                )
        if ingress.get("test_url"):
            test = next(
                (u["url"] for u in self.listen_state.get("test_urls", []) if u.get("node_id") == node["id"]),
                url.replace("/api/webhooks", "/api/webhook-test", 1),
            )
            state = (
                f"Listening for a test event until {esc(str(self.listen_state.get('listening_until')))}"
                if self.listen_state.get("listening")
                else "Not listening: press “Listen for test event”, then call the test URL once"
            )
            rows.append(
                "<div>Test URL (runs the saved version, also while inactive)</div>"
                f"<pre class='cf-copy cf-test-url'>{esc(test)}</pre>"
                f"<div class='cf-hint cf-listen-state'>{state}</div>"
            )
        hint = _text(panel.get("hint") or "")
        if panel.get("api_keys_link"):
            hint += (
                f" <a href='{esc(self.manage_keys_url)}?workflow={esc(workflow_id)}' target='_blank' "
                "class='cf-manage-keys'>Create or revoke this workflow's API keys</a> (a key is shown "
                "once)."
            )
        if hint:
            rows.append(f"<div class='cf-hint'>{hint.strip()}</div>")
        if info.get("apps_script"):
            rows.append(
                f"<div>{esc(panel.get('script_label') or 'Script')}</div>"
                f"<pre class='cf-copy cf-apps-script'>{esc(info['apps_script'])}</pre>"
            )
        return "".join(rows)

    def __panel__(self) -> Any:
        return self._layout
