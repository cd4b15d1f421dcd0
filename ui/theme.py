"""Look and shell shared by every page: CSS, the top navigation bar, small HTML helpers.

Panel renders each component in its own shadow root, so page CSS is handed to components through
``stylesheets`` (``html()`` does that for HTML blocks) as well as ``global_css`` for the light DOM.
"""

from __future__ import annotations

import html as _html
import json
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

__all__ = ["UI_CSS", "Navigator", "html", "json_block", "page_shell", "status_badge"]

UI_CSS = """
:host, body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #0f172a; }
a { color: #4f46e5; text-decoration: none; } a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
pre { background: #f8fafc; border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px 10px;
  white-space: pre-wrap; word-break: break-word; max-height: 360px; overflow: auto; margin: 4px 0 8px; }
.cf-panel-title { font-weight: 650; font-size: 15px; margin: 4px 0 2px; }
.cf-hint { color: #64748b; font-size: 12px; line-height: 1.45; }
.cf-section { font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
  color: #475569; margin: 14px 0 4px; }
.cf-error { color: #b91c1c; font-size: 13px; }
.cf-ok { color: #15803d; font-size: 13px; }
.cf-var { font-size: 12px; margin: 2px 0; } .cf-var span { color: #64748b; }
.cf-node-id { font-size: 11px; color: #94a3b8; margin-top: 4px; }
.cf-problems ul { margin: 4px 0; padding-left: 18px; color: #c2410c; font-size: 12px; }
.cf-badge { display: inline-block; border-radius: 9px; padding: 1px 9px; font-size: 12px; font-weight: 600;
  color: #fff; background: #94a3b8; }
.cf-badge-success { background: #16a34a; } .cf-badge-failed { background: #dc2626; }
.cf-badge-running { background: #3b82f6; } .cf-badge-queued { background: #94a3b8; }
.cf-badge-skipped, .cf-badge-not_run { background: #64748b; } .cf-badge-canceled { background: #78716c; }
.cf-badge-retrying { background: #f59e0b; }
.cf-badge-waiting { background: #8b5cf6; }
table.cf-table { border-collapse: collapse; width: 100%; font-size: 13px; }
table.cf-table th { text-align: left; color: #64748b; font-weight: 600; border-bottom: 1px solid #e2e8f0;
  padding: 8px 10px; }
table.cf-table td { border-bottom: 1px solid #f1f5f9; padding: 8px 10px; vertical-align: top; }
.cf-card { border: 1px solid #e2e8f0; border-radius: 10px; padding: 12px 14px; margin: 8px 0; background: #fff; }
.cf-node-card h4 { margin: 0 0 6px; font-size: 14px; }
.cf-empty { color: #64748b; padding: 24px; text-align: center; border: 1px dashed #cbd5e1; border-radius: 10px; }
.cf-brand { font-weight: 700; font-size: 17px; color: #fff; letter-spacing: .01em; }
.cf-nav { display: flex; gap: 18px; align-items: center; }
.cf-nav a { color: #c7d2fe; font-size: 14px; } .cf-nav a.active { color: #fff; font-weight: 600; }
"""

BODY_CSS = "body { margin: 0; background: #f8fafc; }"

NAV = (
    ("workflows", "Workflows", "/ui/workflows"),
    ("assistant", "Assistant", "/ui/assistant"),
    ("executions", "Executions", "/ui/executions"),
    ("credentials", "Credentials", "/ui/credentials"),
    ("api-keys", "API keys", "/ui/api-keys"),
    ("tokens", "Tokens", "/ui/tokens"),
)


def html(text: str, **params: Any) -> pn.pane.HTML:
    """An HTML block carrying the shared stylesheet."""
    if "width" not in params:
        params.setdefault("sizing_mode", "stretch_width")
    params["stylesheets"] = [UI_CSS, *params.get("stylesheets", [])]
    return pn.pane.HTML(text, **params)


def status_badge(status: str | None) -> str:
    status = status or "unknown"
    return f"<span class='cf-badge cf-badge-{_html.escape(status)}'>{_html.escape(status)}</span>"


TOPBAR_BG = "#1e1b4b"

# The sign-out button sits on the dark top bar: white label and a light border (contrast 15:1 with the
# bar) instead of Bootstrap's "light" outline, whose near-white border came with a dark, unreadable label.
SIGN_OUT_CSS = f"""
.bk-btn, .bk-btn.bk-btn-light {{
  color: #ffffff; background-color: transparent; border: 1px solid #c7d2fe; font-weight: 600;
}}
.bk-btn:hover, .bk-btn:focus-visible {{ color: {TOPBAR_BG}; background-color: #e0e7ff; border-color: #e0e7ff; }}
.bk-btn:focus-visible {{ outline: 2px solid #a5b4fc; outline-offset: 2px; }}
"""

_SIGN_OUT_JS = """
const csrf = (document.cookie.split('; ').find(c => c.startsWith('cf_csrf=')) || '').slice('cf_csrf='.length);
fetch('/api/auth/sign-out', {method: 'POST', credentials: 'same-origin',
                             headers: csrf ? {'X-CSRF-Token': decodeURIComponent(csrf)} : {}})
  .finally(() => { window.location.href = '/ui/sign-in'; });
"""


def _sign_out_button() -> pn.widgets.Button:
    """``POST /api/auth/sign-out`` with the session's CSRF token (``cf_csrf`` cookie), then sign-in."""
    button = pn.widgets.Button(
        name="Sign out",
        button_type="light",
        css_classes=["cf-sign-out"],
        margin=(8, 10),
        stylesheets=[SIGN_OUT_CSS],
    )
    button.js_on_click(code=_SIGN_OUT_JS)
    return button


def page_shell(active: str, *content: Any) -> pn.Column:
    """The app frame: brand, navigation (``active`` highlighted), the signed-in user, then content."""
    links = "".join(
        f"<a href='{href}' class='{'active' if key == active else ''}'>{label}</a>"
        for key, label, href in NAV
    )
    who = html("", width=260, margin=(16, 6), css_classes=["cf-user"])
    bar = pn.Row(
        html(
            f"<div class='cf-nav'><span class='cf-brand'>⚡ ConnectFlow</span>{links}</div>", margin=(12, 16)
        ),
        pn.layout.HSpacer(),
        who,
        _sign_out_button(),
        styles={"background": TOPBAR_BG},
        sizing_mode="stretch_width",
        css_classes=["cf-topbar"],
    )

    async def show_user() -> None:
        from ui.session import client_for_session

        client = client_for_session()
        try:
            user = await client.current_user()
        finally:
            await client.aclose()
        if user:
            who.object = (
                "<div style='text-align:right;color:#c7d2fe;font-size:13px'>"
                f"{_html.escape(str(user.get('name') or user.get('email') or ''))}</div>"
            )

    if pn.state.curdoc is not None:
        pn.state.onload(show_user)
    return pn.Column(bar, *content, sizing_mode="stretch_both", margin=0)


class Navigator(JSComponent):
    """Sends the browser to ``url`` when it is set (a full page load, like following a link)."""

    url = param.String(default="")

    _esm = """
export function render({ model, el }) {
  el.style.display = "none";
  model.on("url", () => { if (model.url) { window.location.href = model.url; } });
}
"""

    def go(self, url: str) -> None:
        self.url = url


def json_block(value: Any, css_class: str = "") -> str:
    """Pretty JSON in a <pre>, escaped."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return f"<pre class='cf-json {css_class}'>{_html.escape(text)}</pre>"
