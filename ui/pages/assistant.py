"""The assistant page: describe a workflow, get the proposed workflow with its explanation and the
credentials to pick, and open it in the editor ("Use this workflow" saves it as a new workflow).

Backed by ``/api/assistant/generate`` and ``/api/workflows``. Without a model configured on the server
the answer is the closest template, and the page shows the server's message saying so.
"""

from __future__ import annotations

import html as _html
import json
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import html, page_shell

__all__ = ["AssistantPage", "page"]


class AssistantPage(Viewer):
    answer = param.Dict(default=None, allow_None=True)
    message = param.String(default="")
    saved_url = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._request = pn.widgets.TextAreaInput(
            name="Describe the workflow you want",
            placeholder="e.g. When a Stripe payment succeeds, summarise it with AI and e-mail it to me",
            height=90,
            sizing_mode="stretch_width",
            css_classes=["cf-assistant-request"],
        )
        self._ask = pn.widgets.Button(name="Ask", button_type="primary", css_classes=["cf-assistant-ask"])
        self._ask.on_click(self._on_ask)
        self._use = pn.widgets.Button(
            name="Use this workflow", button_type="success", visible=False, css_classes=["cf-assistant-use"]
        )
        self._use.on_click(self._on_use)
        self._message = html("", css_classes=["cf-message"])
        self._result = html("", css_classes=["cf-assistant-answer"])

    async def _on_ask(self, _event: Any = None) -> None:
        text = (self._request.value_input or self._request.value or "").strip()
        if not text:
            self.message = "Describe the workflow first."
            self._render()
            return
        self._ask.loading = True
        try:
            self.answer = await self.client.request(
                "POST", "/api/assistant/generate", json_body={"request": text}
            )
            self.message = str(self.answer.get("message") or "")
        except ApiError as exc:
            self.answer, self.message = None, exc.message
        finally:
            self._ask.loading = False
        self.saved_url = ""
        self._render()

    async def _on_use(self, _event: Any = None) -> None:
        workflow = (self.answer or {}).get("workflow")
        if not workflow:
            return
        try:
            created = await self.client.create_workflow(
                workflow.get("name") or "Assistant workflow", workflow.get("nodes"), workflow.get("edges")
            )
        except ApiError as exc:
            self.message = f"Not saved: {exc.message}"
            self._render()
            return
        self.saved_url = f"/ui/editor?id={created['id']}"
        self.message = "Saved. Open it in the editor to pick credentials and run it."
        self._render()

    def _render(self) -> None:
        self._message.object = (
            f"<div class='cf-message'>{_html.escape(self.message)}</div>" if self.message else ""
        )
        answer = self.answer or {}
        parts = []
        if answer.get("explanation"):
            parts.append(f"<pre class='cf-assistant-explanation'>{_html.escape(answer['explanation'])}</pre>")
        for problem in answer.get("problems") or []:
            parts.append(f"<div class='cf-problem'>{_html.escape(problem)}</div>")
        if self.saved_url:
            parts.append(
                f"<a class='cf-assistant-open' href='{_html.escape(self.saved_url)}'>Open in the editor</a>"
            )
        if answer.get("workflow"):
            parts.append(
                "<details><summary>Workflow JSON</summary><pre>"
                + _html.escape(json.dumps(answer["workflow"], indent=2))
                + "</pre></details>"
            )
        self._result.object = "".join(parts)
        self._use.visible = bool(answer.get("workflow")) and not self.saved_url

    def __panel__(self) -> Any:
        return pn.Column(
            html("<h2>Assistant</h2>"),
            self._request,
            pn.Row(self._ask, self._use),
            self._message,
            self._result,
            sizing_mode="stretch_width",
        )


def page() -> Any:
    from ui.session import client_for_session

    return page_shell("assistant", AssistantPage(client_for_session()))
