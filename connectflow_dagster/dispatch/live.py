"""Live run events: a run's Dagster event log read as node status changes, incrementally.

``RunEventReader.poll()`` returns what happened since the last poll (by event-log cursor): each node
going ``running``, ``success``, ``failed``, ``skipped`` or ``retrying``, the run starting and the run's
end. A node inside a loop changes per item: its events carry ``item`` (the item's index), and a
loop's ``success`` carries ``items`` (how many items its nodes run for; docs/items.md). The gateway streams these as server-sent events; the editor patches node status from them.
Every status comes from ``connectflow_dagster/statuses.py``, the translation the executions read
model uses too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterEventType, DagsterInstance

from connectflow_dagster.statuses import (
    NODE_EVENTS,
    RUN_END,
    node_status,
    output_counts,
    run_status_name,
    split_step_key,
    step_failure_message,
)

_OF_INTEREST = {DagsterEventType.RUN_START, *RUN_END, *NODE_EVENTS}


@dataclass(frozen=True)
class LiveEvent:
    """One change: ``kind`` is ``run`` (started), ``node`` (status change) or ``end`` (run finished)."""

    kind: str
    data: dict[str, Any]


@dataclass
class RunEventReader:
    """Reads one run's event log forward from a cursor."""

    instance: DagsterInstance
    run_id: str
    cursor: str | None = None
    finished: bool = False
    _with_output: set[str] = field(default_factory=set)
    _items: dict[str, int] = field(default_factory=dict)

    def poll(self) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        while True:
            conn = self.instance.get_records_for_run(
                self.run_id, cursor=self.cursor, of_type=_OF_INTEREST, limit=500
            )
            for record in conn.records:
                change = self._translate(record.event_log_entry)
                if change is not None:
                    out.append(change)
            self.cursor = conn.cursor
            if not conn.has_more:
                return out

    def _translate(self, entry: Any) -> LiveEvent | None:
        event = entry.dagster_event
        if event is None:
            return None
        etype, step, at = event.event_type, event.step_key, entry.timestamp
        if etype == DagsterEventType.RUN_START:
            return LiveEvent("run", {"status": "running", "at": at})
        if etype in RUN_END:
            self.finished = True
            data: dict[str, Any] = {"status": RUN_END[etype], "at": at}
            if etype == DagsterEventType.RUN_FAILURE and entry.message:
                data["error"] = entry.message
            return LiveEvent("end", data)
        if step is None:
            return None
        if etype == DagsterEventType.STEP_OUTPUT:
            if output_counts(event):
                self._with_output.add(step)
            metadata = getattr(event.event_specific_data, "metadata", None) or {}
            if "items_count" in metadata:
                self._items[step] = int(metadata["items_count"].value)
            return None
        status = node_status(etype, produced_output=step in self._with_output)
        if status is None:
            return None
        node_id, mapping_key = split_step_key(step)
        data = {"node_id": node_id, "status": status, "at": at}
        if mapping_key is not None:  # a mapped step: one item of a node inside a loop
            data["item"] = int(mapping_key) if mapping_key.isdigit() else mapping_key
        elif step in self._items and etype == DagsterEventType.STEP_SUCCESS:
            data["items"] = self._items[step]  # a loop: how many items its nodes run for
        if etype == DagsterEventType.STEP_FAILURE:
            message = step_failure_message(event.event_specific_data)
            if message:
                data["error"] = message
        return LiveEvent("node", data)


def run_status(instance: DagsterInstance, run_id: str) -> str | None:
    """The ConnectFlow status name of a run, or None when the run does not exist (yet)."""
    run = instance.get_run_by_id(run_id)
    return run_status_name(run.status) if run is not None else None
