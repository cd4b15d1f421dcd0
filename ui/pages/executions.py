"""Executions: the list (status, workflow, start, duration) and one execution's detail.

The detail shows every node's status, output JSON and error, the run's context, and a link to the
run in the Dagster UI (every execution is a Dagster run).
"""

from __future__ import annotations

import html as _html
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import html, json_block, page_shell, status_badge

__all__ = ["ExecutionDetail", "ExecutionsList", "dagster_run_url", "format_duration", "items_table", "page"]


def format_duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{int(ms // 60_000)} min {int(ms % 60_000 / 1000)} s"


MAX_ITEM_ROWS = 200


def items_table(node: dict[str, Any]) -> str:
    """A node inside a loop: its items (index, status, output or error), first ``MAX_ITEM_ROWS``."""
    items = node.get("items") or []
    summary = node.get("items_summary") or {}
    counts = ", ".join(f"{v} {k}" for k, v in summary.items() if k != "total")
    head = (
        f"<div class='cf-hint cf-items-summary'>{summary.get('total', len(items))} items"
        f"{': ' + _html.escape(counts) if counts else ''}</div>"
    )
    rows = []
    for item in items[:MAX_ITEM_ROWS]:
        detail = (
            f"<div class='cf-error'>{_html.escape(item['error'])}</div>"
            if item.get("error")
            else json_block(item.get("output"), "cf-item-output")
        )
        rows.append(
            f"<tr class='cf-item-row' data-index='{int(item.get('index', -1))}'><td>{int(item.get('index', -1))}</td>"
            f"<td>{status_badge(item.get('status'))}</td><td>{detail}</td></tr>"
        )
    more = (
        f"<div class='cf-hint'>… {len(items) - MAX_ITEM_ROWS} more (GET /api/executions/&lt;id&gt;)</div>"
        if len(items) > MAX_ITEM_ROWS
        else ""
    )
    return (
        f"<div class='cf-section'>Items</div>{head}<table class='cf-items'><tr><th>#</th><th>status</th>"
        f"<th>output</th></tr>{''.join(rows)}</table>{more}"
    )


def dagster_run_url(execution: dict[str, Any]) -> str:
    """The run in the Dagster UI, as the gateway links it (``dagster_url``)."""
    return str(execution["dagster_url"])


class ExecutionsList(Viewer):
    executions = param.List(default=[])
    workflow_id = param.String(default=None, allow_None=True)
    status_filter = param.Selector(
        default="all", objects=["all", "success", "failed", "running", "queued", "waiting", "canceled"]
    )
    message = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._table = html("<div class='cf-hint'>Loading…</div>", css_classes=["cf-executions"])
        self._filter = pn.widgets.Select.from_param(self.param.status_filter, name="Status", width=160)
        self._refresh = pn.widgets.Button(name="Refresh", button_style="outline", margin=(24, 10, 10, 10))
        self._refresh.on_click(self._on_refresh)

    async def _on_refresh(self, _event: Any) -> None:
        await self.load()

    @param.depends("status_filter", watch=True)
    async def load(self) -> None:
        try:
            self.executions = await self.client.list_executions(
                workflow_id=self.workflow_id,
                status=None if self.status_filter == "all" else self.status_filter,
            )
            self.message = ""
        except ApiError as exc:
            self.message = exc.message
        self._render()  # also when the list is (still) empty

    @param.depends("executions", "message", watch=True)
    def _render(self) -> None:
        if self.message:
            self._table.object = f"<div class='cf-error'>{_html.escape(self.message)}</div>"
            return
        if not self.executions:
            self._table.object = (
                "<div class='cf-empty'>No executions yet. Run a workflow from the editor.</div>"
            )
            return
        rows = []
        for ex in self.executions:
            ex_id = _html.escape(str(ex.get("id")))
            wf = _html.escape(str(ex.get("workflow_name") or ex.get("workflow_id") or ""))
            started = _html.escape(str(ex.get("started_at") or "")[:19].replace("T", " "))
            rows.append(
                f"<tr class='cf-execution-row'><td>{status_badge(ex.get('status'))}</td>"
                f"<td><a href='/ui/editor?id={_html.escape(str(ex.get('workflow_id') or ''))}'>{wf}</a>"
                f"{' v' + _html.escape(str(ex.get('version'))) if ex.get('version') else ''}</td>"
                f"<td>{_html.escape(str(ex.get('trigger') or '—'))}</td>"
                f"<td>{started or '—'}</td><td class='cf-duration'>{format_duration(ex.get('duration_ms'))}</td>"
                f"<td><a class='cf-execution-link' href='/ui/executions?id={ex_id}'>details</a> · "
                f"<a href='{_html.escape(dagster_run_url(ex))}' target='_blank'>Dagster</a></td></tr>"
            )
        self._table.object = (
            "<table class='cf-table'><thead><tr><th>Status</th><th>Workflow</th><th>Trigger</th>"
            "<th>Started (UTC)</th><th>Duration</th><th></th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )

    def __panel__(self) -> Any:
        return pn.Column(
            html("<h2 style='margin:6px 0'>Executions</h2>"),
            pn.Row(self._filter, self._refresh),
            self._table,
            sizing_mode="stretch_width",
            max_width=1100,
            margin=(10, 24),
        )


def _execution_link(execution_id: str, text: str) -> str:
    esc = _html.escape(execution_id)
    return f"<a class='cf-related-execution' href='/ui/executions?id={esc}'>{_html.escape(text)} <code>{esc[:8]}</code></a>"


def related_links(ex: dict[str, Any]) -> str:
    """Links to the executions this one is tied to: its caller, the sub-workflows its nodes called,
    the failed execution an error workflow reports."""
    links = []
    if ex.get("caller_id"):
        links.append(_execution_link(ex["caller_id"], "called by execution"))
    for child in ex.get("children") or []:
        links.append(_execution_link(child["execution_id"], f"node {child['node_id']} called execution"))
    if ex.get("failed_execution_id"):
        links.append(_execution_link(ex["failed_execution_id"], "reports the failure of execution"))
    return f"<div class='cf-related' style='margin:6px 0'>{' · '.join(links)}</div>" if links else ""


class ExecutionDetail(Viewer):
    execution_id = param.String()
    execution = param.Dict(default=None, allow_None=True)
    message = param.String(default="")

    def __init__(self, client: GatewayClient, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._body = html("<div class='cf-hint'>Loading…</div>", css_classes=["cf-execution-detail"])

    async def load(self) -> None:
        try:
            self.execution = await self.client.get_execution(self.execution_id)
        except ApiError as exc:
            self.message = exc.message

    @param.depends("execution", "message", watch=True)
    def _render(self) -> None:
        if self.message:
            self._body.object = f"<div class='cf-empty cf-error'>{_html.escape(self.message)}</div>"
            return
        ex = self.execution
        if not ex:
            return
        error = (
            f"<div class='cf-card cf-error cf-execution-error'><b>Error</b>: {_html.escape(ex['error'])}</div>"
            if ex.get("error")
            else ""
        )
        cards = []
        for node in ex.get("nodes") or []:
            node_error = (
                f"<div class='cf-error cf-node-error'>{_html.escape(node['error'])}</div>"
                if node.get("error")
                else ""
            )
            if node.get("items") is not None:
                output = items_table(node)
            else:
                output = (
                    json_block(node.get("output"), "cf-node-output")
                    if node.get("output") is not None
                    else ("<div class='cf-hint'>No output.</div>")
                )
            cards.append(
                f"<div class='cf-card cf-node-card' data-node-id='{_html.escape(node['node_id'])}'>"
                f"<h4>{_html.escape(node.get('name') or node['node_id'])} {status_badge(node.get('status'))}</h4>"
                f"<div class='cf-hint'>id <code>{_html.escape(node['node_id'])}</code>"
                f"{' · variable <code>' + _html.escape(node['variable']) + '</code>' if node.get('variable') else ''}"
                f" · {format_duration(node.get('duration_ms'))}"
                f"{' · attempts ' + str(node['attempts']) if (node.get('attempts') or 0) > 1 else ''}</div>"
                f"{node_error}{'' if node.get('items') is not None else '<div class=cf-section>Output</div>'}"
                f"{output}</div>"
            )
        self._body.object = (
            f"<h2 style='margin:6px 0'>Execution {status_badge(ex.get('status'))}</h2>"
            f"<div class='cf-hint'>id <code>{_html.escape(ex['id'])}</code> · workflow "
            f"<a href='/ui/editor?id={_html.escape(str(ex.get('workflow_id') or ''))}'>"
            f"{_html.escape(str(ex.get('workflow_name') or ex.get('workflow_id') or ''))}</a>"
            f"{' v' + _html.escape(str(ex['version'])) if ex.get('version') else ''} · started "
            f"{_html.escape(str(ex.get('started_at') or '—'))} · {format_duration(ex.get('duration_ms'))}</div>"
            f"<div style='margin:6px 0'><a class='cf-dagster-link' href='{_html.escape(dagster_run_url(ex))}' "
            f"target='_blank'>Open this run in the Dagster UI ↗</a> · <a href='/ui/executions'>All executions</a>"
            f"</div>{related_links(ex)}{error}<div class='cf-section'>Nodes</div>{''.join(cards) or '<div class=cf-hint>No nodes ran.</div>'}"
        )

    def __panel__(self) -> Any:
        return pn.Column(self._body, sizing_mode="stretch_width", max_width=1100, margin=(10, 24))


def page() -> Any:
    from ui.session import client_for_session

    args = pn.state.session_args or {}
    client = client_for_session()
    if args.get("id"):
        view: Any = ExecutionDetail(client, execution_id=args["id"][0].decode())
    else:
        workflow = args["workflow"][0].decode() if args.get("workflow") else None
        view = ExecutionsList(client, workflow_id=workflow)
    pn.state.onload(view.load)
    return page_shell("executions", view)
