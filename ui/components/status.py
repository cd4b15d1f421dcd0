"""Live run status: follows a run's events and patches each node's status onto the canvas.

Events come from ``GET /api/executions/{id}/events`` (server-sent events). Each node status change
(``running``, ``success``, ``failed``, ``skipped``) is applied as it arrives; when the run ends the
execution detail is read once more, so the canvas ends on the recorded truth (including errors)
even if an event was missed. Without an event stream the detail is polled instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import param
from panel.viewable import Viewer

from ui.api_client import ApiError, GatewayClient
from ui.theme import html, status_badge

__all__ = ["TERMINAL", "RunStatus", "items_status", "parse_event"]

TERMINAL = {"success", "failed", "canceled"}
# Node statuses of an execution detail that the canvas shows under another name.
_DETAIL_STATUS = {"pending": "queued"}


_ITEM_ORDER = ("failed", "retrying", "running", "success", "skipped")


def items_status(statuses: list[str]) -> str:
    """A node's status from its items' (the read model's rule: failed > retrying > running > success)."""
    for status in _ITEM_ORDER:
        if status in statuses:
            return status
    return "queued"


def parse_event(event: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """One live event → (kind, node_id, status, error).

    The gateway's events (``gateway/routes/events.py``, from ``connectflow_dagster.dispatch.live``):
    ``queued`` {execution_id}; ``run`` {status: running}; ``node`` {node_id, status: running | success
    | failed | skipped | retrying, error?, item? (one item of a node inside a loop), items? (a loop's
    item count)}; ``end`` {status: success | failed | canceled, error?}.
    ``kind`` is ``node``, ``run``, ``run_end`` or ``other``.
    """
    name = event.get("event")
    status = event.get("status")
    error = event.get("error")
    if name == "node" and event.get("node_id") and status:
        return "node", str(event["node_id"]), str(status), error
    if name == "end":
        return "run_end", None, str(status) if status else None, error
    if name == "run":
        return "run", None, str(status) if status else None, None
    return "other", None, None, None


class RunStatus(Viewer):
    """The status of one execution, and the calls that show it on the canvas."""

    execution_id = param.String(default=None, allow_None=True)
    status = param.String(default="idle")
    error = param.String(default="")
    node_statuses = param.Dict(default={})
    finished = param.Boolean(default=False)
    events_seen = param.Integer(default=0)

    def __init__(
        self,
        on_node: Callable[[str, str, str | None], None] | None = None,
        on_items: Callable[[str, dict[str, int]], None] | None = None,
        loop_of: Callable[[str], str | None] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self._on_node = on_node
        self._on_items = on_items
        self._loop_of = loop_of or (lambda _node_id: None)
        self._items: dict[str, dict[Any, str]] = {}  # node id → item index → status
        self._totals: dict[str, int] = {}  # loop id → its number of items
        self._pane = html("", css_classes=["cf-run-status"])
        self._render()

    def start(self, execution_id: str) -> None:
        self.param.update(
            execution_id=execution_id,
            status="queued",
            error="",
            node_statuses={},
            finished=False,
            events_seen=0,
        )
        self._items, self._totals = {}, {}

    def apply_event(self, event: dict[str, Any]) -> None:
        """Apply one live event (node status change or run end)."""
        kind, node_id, status, error = parse_event(event)
        self.events_seen += 1
        if kind == "node" and node_id and status and event.get("item") is not None:
            # One item of a node inside a loop: the node shows the items' combined status and count.
            items = self._items.setdefault(node_id, {})
            items[event["item"]] = status
            self._set_node(node_id, items_status(list(items.values())), error)
            self._report_items(node_id)
            if self.status in ("queued", "idle"):
                self.status = "running"
        elif kind == "node" and node_id and status:
            if event.get("items") is not None:  # a loop: how many items its nodes run for
                self._totals[node_id] = int(event["items"])
            self._set_node(node_id, status, error)
            if self.status in ("queued", "idle"):
                self.status = "running"
        elif kind == "run_end":
            self.param.update(status=status or self.status, finished=True, error=error or self.error)
        elif kind == "run" and status:
            self.status = status

    def _report_items(self, node_id: str) -> None:
        if self._on_items is None:
            return
        summary: dict[str, int] = {}
        for status in self._items.get(node_id, {}).values():
            summary[status] = summary.get(status, 0) + 1
        loop = self._loop_of(node_id)
        summary["total"] = max(self._totals.get(loop or "", 0), len(self._items.get(node_id, {})))
        self._on_items(node_id, summary)

    def _set_node(self, node_id: str, status: str, error: str | None = None) -> None:
        self.node_statuses = {**self.node_statuses, node_id: status}
        if self._on_node is not None:
            self._on_node(node_id, status, error)

    def apply_execution(self, execution: dict[str, Any]) -> None:
        """Apply an execution detail (``GET /api/executions/{id}``): every node's recorded status."""
        for node in execution.get("nodes") or []:
            status = _DETAIL_STATUS.get(str(node.get("status")), str(node.get("status")))
            if status and status != "queued":
                self._set_node(node["node_id"], status, node.get("error"))
            if node.get("items_summary") and self._on_items is not None:
                self._on_items(node["node_id"], dict(node["items_summary"]))
        status = execution.get("status") or self.status
        self.param.update(status=status, error=execution.get("error") or "", finished=status in TERMINAL)

    async def follow(self, client: GatewayClient, execution_id: str, poll_interval: float = 0.25) -> None:
        """Follow the run to its end: live events first, then the recorded detail."""
        self.start(execution_id)
        try:
            async for event in client.execution_events(execution_id):
                self.apply_event(event)
                if self.finished:
                    break
        except (ApiError, OSError, ValueError) as exc:
            _ = exc  # no event stream: fall back to polling the recorded detail
        while True:
            try:
                detail = await client.get_execution(execution_id)
            except ApiError as exc:
                self.param.update(status="failed", error=exc.message, finished=True)
                return
            self.apply_execution(detail)
            if self.finished:
                return
            await asyncio.sleep(poll_interval)

    @param.depends("status", "error", "execution_id", watch=True)
    def _render(self) -> None:
        if not self.execution_id:
            self._pane.object = ""
            return
        error = f"<div class='cf-error cf-run-error'>{_esc(self.error)}</div>" if self.error else ""
        self._pane.object = (
            f"<div class='cf-run-line'>Run {status_badge(self.status)} "
            f"<a href='/ui/executions?id={_esc(self.execution_id)}' class='cf-open-execution' target='_blank'>"
            f"open execution</a></div>{error}"
        )

    def __panel__(self) -> Any:
        return self._pane


def _esc(text: str) -> str:
    import html as _h

    return _h.escape(text)
