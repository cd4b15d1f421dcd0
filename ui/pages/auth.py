"""Sign in / sign up: e-mail and password against the gateway's auth API, plus social buttons.

The form posts from the browser (``fetch``) so the gateway's session cookie is set on the browser
itself; the Panel session never sees the password after the request.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.theme import UI_CSS, html

__all__ = ["AuthForm", "sign_in_page", "sign_up_page"]

PROVIDER_LABELS = {"github": "Continue with GitHub", "google": "Continue with Google"}

_SUBMIT_JS = """
const body = {email: (email.value_input ?? email.value ?? '').trim(), password: password.value_input ?? password.value};
if (mode === 'sign-up') {
  body.name = (name.value_input ?? name.value ?? '').trim() || body.email.split('@')[0];
  const invitation = new URLSearchParams(window.location.search).get('invitation');
  if (invitation) { body.invitation = invitation; }
}
if (!body.email || !body.password) { message.text = '<div class="cf-error">Enter your e-mail and password.</div>'; return; }
message.text = '<div class="cf-hint">Working…</div>';
fetch('/api/auth/' + mode + '/email', {method: 'POST', credentials: 'same-origin',
  headers: {'Content-Type': 'application/json', 'Accept': 'application/json'}, body: JSON.stringify(body)})
  .then(async (r) => {
    if (r.ok && mode === 'sign-up') {
      // Sign-up answers the same whether or not the address had an account: now sign in with it.
      r = await fetch('/api/auth/sign-in/email', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify({email: body.email, password: body.password})});
    }
    if (r.ok) {
      const next = new URLSearchParams(window.location.search).get('next');
      window.location.href = (next && next.startsWith('/') && !next.startsWith('//')) ? next : '/ui/workflows';
      return;
    }
    let detail = 'HTTP ' + r.status;
    try { const j = await r.json(); const d = j.detail ?? j.message ?? j.error;
          detail = typeof d === 'string' ? d : (Array.isArray(d) ? d.map(e => (e.loc || []).slice(-1)[0] + ': ' + e.msg).join('; ') : JSON.stringify(d)); } catch (e) {}
    const el = document.createElement('div'); el.textContent = detail;
    message.text = '<div class="cf-error cf-auth-error">' + el.innerHTML + '</div>';
  })
  .catch((e) => { message.text = '<div class="cf-error">Could not reach the server.</div>'; });
"""


class AuthForm(Viewer):
    """The sign-in or sign-up card."""

    mode = param.Selector(default="sign-in", objects=["sign-in", "sign-up"])
    providers = param.List(default=[], doc="Configured social providers (github, google).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        signing_up = self.mode == "sign-up"
        self.name_input = pn.widgets.TextInput(
            name="Name",
            placeholder="Ada Lovelace",
            sizing_mode="stretch_width",
            css_classes=["cf-auth-name"],
            visible=signing_up,
        )
        self.email = pn.widgets.TextInput(
            name="E-mail",
            placeholder="you@example.com",
            sizing_mode="stretch_width",
            css_classes=["cf-auth-email"],
        )
        self.password = pn.widgets.PasswordInput(
            name="Password", sizing_mode="stretch_width", css_classes=["cf-auth-password"]
        )
        self.message = html("", css_classes=["cf-auth-message"])
        self.submit = pn.widgets.Button(
            name="Create account" if signing_up else "Sign in",
            button_type="primary",
            sizing_mode="stretch_width",
            css_classes=["cf-auth-submit"],
        )
        self.submit.js_on_click(
            args={
                "email": self.email,
                "password": self.password,
                "name": self.name_input,
                "message": self.message,
                "mode": self.mode,
            },
            code=_SUBMIT_JS,
        )

    def __panel__(self) -> Any:
        signing_up = self.mode == "sign-up"
        title = "Create your account" if signing_up else "Sign in to ConnectFlow"
        switch = (
            "Already have an account? <a href='/ui/sign-in' class='cf-switch'>Sign in</a>"
            if signing_up
            else "New here? <a href='/ui/sign-up' class='cf-switch'>Create an account</a>"
        )
        social = [
            html(
                f"<a class='cf-social cf-social-{p}' href='/api/auth/sign-in/{p}'>"
                f"{PROVIDER_LABELS.get(p, 'Continue with ' + p.title())}</a>",
                stylesheets=[
                    ".cf-social{display:block;text-align:center;border:1px solid #cbd5e1;"
                    "border-radius:8px;padding:8px;color:#0f172a;margin:4px 0}"
                ],
            )
            for p in self.providers
        ]
        return pn.Column(
            html(
                f"<div style='text-align:center'><div class='cf-brand' style='color:#1e1b4b;font-size:22px'>"
                f"⚡ ConnectFlow</div><h2 style='margin:8px 0 4px;font-size:18px'>{title}</h2></div>"
            ),
            self.name_input,
            self.email,
            self.password,
            self.submit,
            self.message,
            *([html("<div class='cf-hint' style='text-align:center'>or</div>"), *social] if social else []),
            html(f"<div class='cf-hint' style='text-align:center'>{switch}</div>"),
            width=380,
            styles={
                "background": "#fff",
                "border": "1px solid #e2e8f0",
                "border-radius": "14px",
                "padding": "18px",
                "margin": "60px auto",
            },
            stylesheets=[UI_CSS],
            css_classes=["cf-auth-card"],
        )


def _page(mode: str) -> Any:
    from ui.session import client_for_session

    form = AuthForm(mode=mode)
    layout = pn.Column(
        pn.Row(pn.layout.HSpacer(), form, pn.layout.HSpacer(), sizing_mode="stretch_width"),
        sizing_mode="stretch_both",
    )

    async def load_providers() -> None:
        client = client_for_session()
        try:
            providers = await client.auth_providers()
        finally:
            await client.aclose()
        if providers:
            form.providers = providers
            layout[0][1] = form.__panel__()

    pn.state.onload(load_providers)
    return layout


def sign_in_page() -> Any:
    return _page("sign-in")


def sign_up_page() -> Any:
    return _page("sign-up")
