"""Event-log writes batched per step phase: one transaction for a step's body, not one per event.

Dagster stores every event the moment it is logged, each in its own transaction: about six per op
(STEP_START, STEP_INPUT, LOADED_INPUT, STEP_OUTPUT, HANDLED_OUTPUT, STEP_SUCCESS) and a handful per
run. ``BatchedEventWrites`` is a mixin for Dagster's SQL event-log storages (SQLite and PostgreSQL,
``connectflow_dagster.sqlite_storage`` / ``connectflow_dagster.instance``) that keeps Dagster's
schema, rows and serialisation but commits them in fewer transactions:

- a step's STEP_START (and STEP_RESTARTED) is committed at once, so live status shows the node
  running while it runs;
- the events a step logs after that (inputs, outputs, its own log lines) are held in memory and
  committed together with the event that ends the step (STEP_SUCCESS, STEP_FAILURE,
  STEP_UP_FOR_RETRY, STEP_SKIPPED), in one transaction, before that event returns to the executor
  — so no downstream step starts, and no reader sees the step finished, before its events are stored;
- every run-level event (RUN_START, engine events, RUN_SUCCESS/FAILURE/CANCELED, …) first commits
  whatever the run still holds, in the same transaction: run storage learns that a run ended only
  after every event of the run is in the event log;
- asset and asset-check events are never held (they need their row id for Dagster's asset indexes).

What "acknowledged" means: an event is durable once the call that committed it returned. A held
event belongs to a step that has not finished; if the process dies mid-step, that step's held
events (never shown to anyone, the step never ended) are lost with the step itself, exactly as the
step's work is, and the worker-lost recovery fails the run and starts a new attempt
(``connectflow_dagster.dispatch.worker``). STEP_START and everything up to the previous step's end
are already committed. Measured effect: docs/decisions.md ("Event-log writes batched per step").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dagster import DagsterEventType

from connectflow_dagster.dagster_private import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    EventLogEntry,
    SqlEventLogStorageTable,
)

# Events after which a step's held events are committed, with them, before the call returns.
STEP_END = frozenset(
    {
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_UP_FOR_RETRY,
        DagsterEventType.STEP_SKIPPED,
    }
)
# Events committed at once (after anything held for the step): the node is now running.
STEP_BEGIN = frozenset({DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED})
_NEVER_HELD = frozenset(ASSET_EVENTS) | frozenset(ASSET_CHECK_EVENTS)


class BatchedEventWrites:
    """Mixin for a ``SqlEventLogStorage``: see the module docstring. Put it first in the bases."""

    _held: dict[str, dict[str, list[EventLogEntry]]]
    _held_lock: threading.Lock

    def _held_state(self) -> tuple[dict[str, dict[str, list[EventLogEntry]]], threading.Lock]:
        try:
            return self._held, self._held_lock
        except AttributeError:  # storages are built by Dagster's own constructors: set up lazily
            self._held, self._held_lock = {}, threading.Lock()
            return self._held, self._held_lock

    def store_event(self, event: EventLogEntry) -> None:  # type: ignore[override]
        held, lock = self._held_state()
        dagster_event = event.dagster_event
        event_type = dagster_event.event_type if dagster_event is not None else None
        step_key = (dagster_event.step_key if dagster_event is not None else None) or event.step_key
        if event_type in _NEVER_HELD:
            self._commit(self._take(event.run_id, None))
            super().store_event(event)  # type: ignore[misc]
            return
        if step_key is None:
            # A run-level event: commit everything the run holds, then this event, in one transaction.
            self._commit([*self._take(event.run_id, None), event])
            return
        if event_type in STEP_BEGIN or event_type in STEP_END:
            self._commit([*self._take(event.run_id, step_key), event])
            return
        with lock:
            held.setdefault(event.run_id, {}).setdefault(step_key, []).append(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Dagster's own batch path (asset events): commit what the runs hold first, keep order."""
        for run_id in {e.run_id for e in events}:
            self._commit(self._take(run_id, None))
        super().store_event_batch(events)  # type: ignore[misc]

    def flush_held_events(self, run_id: str | None = None) -> None:
        """Commit every held event (of one run, or of all runs)."""
        held, lock = self._held_state()
        with lock:
            run_ids = [run_id] if run_id is not None else list(held)
        for rid in run_ids:
            self._commit(self._take(rid, None))

    def _take(self, run_id: str, step_key: str | None) -> list[EventLogEntry]:
        """Remove and return what is held for one step, or for the whole run (``step_key`` None)."""
        held, lock = self._held_state()
        with lock:
            steps = held.get(run_id)
            if not steps:
                return []
            if step_key is not None:
                events = steps.pop(step_key, [])
            else:
                events = [e for step_events in steps.values() for e in step_events]
                steps.clear()
            if not steps:
                held.pop(run_id, None)
            return events

    def _commit(self, events: list[EventLogEntry]) -> None:
        if not events:
            return
        if len(events) == 1 and events[0].dagster_event_type in _NEVER_HELD:
            super().store_event(events[0])  # type: ignore[misc]
            return
        rows = [self._event_to_row(e) for e in events]  # type: ignore[attr-defined]
        with self._batch_transaction() as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)

    def _batch_transaction(self) -> Any:
        """A connection inside one transaction (each backend says how)."""
        raise NotImplementedError

    def delete_events(self, run_id: str) -> None:
        held, lock = self._held_state()
        with lock:
            held.pop(run_id, None)
        super().delete_events(run_id)  # type: ignore[misc]


class SchemaChecksOnce:
    """Mixin for Dagster's SQL run storage: answer its schema and snapshot checks once per process.

    ``SqlRunStorage`` asks the database whether the ``runs`` table has the ``start_time`` /
    ``end_time`` / ``backfill_id`` columns on every run-record read, every run event and every new run
    (a ``PRAGMA table_info`` on SQLite, a catalog query on PostgreSQL): seven per run of a 3-node
    workflow. Every ConnectFlow process migrates (or finds migrated) storage before it executes a
    run, and columns are never dropped while it runs, so a positive answer holds for the life of the
    process. Negative answers are not cached (a migration may add the column later).

    Creating a run also asks whether its job snapshot and execution-plan snapshot are stored. Both
    are content-addressed (the id is a hash of the snapshot) and never change, so once one is known
    to be stored it stays known (until ``wipe``).
    """

    _schema_answers: dict[str, bool]
    _stored_snapshots: set[str]

    def _snapshots(self) -> set[str]:
        try:
            return self._stored_snapshots
        except AttributeError:
            self._stored_snapshots = set()
            return self._stored_snapshots

    def has_job_snapshot(self, job_snapshot_id: str) -> bool:
        if job_snapshot_id in self._snapshots():
            return True
        found = super().has_job_snapshot(job_snapshot_id)  # type: ignore[misc]
        if found:
            self._snapshots().add(job_snapshot_id)
        return found

    def has_execution_plan_snapshot(self, execution_plan_snapshot_id: str) -> bool:
        if execution_plan_snapshot_id in self._snapshots():
            return True
        found = super().has_execution_plan_snapshot(execution_plan_snapshot_id)  # type: ignore[misc]
        if found:
            self._snapshots().add(execution_plan_snapshot_id)
        return found

    def wipe(self) -> None:
        self._snapshots().clear()
        super().wipe()  # type: ignore[misc]

    def _answered(self, key: str, ask: Any) -> bool:
        try:
            answers = self._schema_answers
        except AttributeError:
            answers = self._schema_answers = {}
        if answers.get(key):
            return True
        answer = bool(ask())
        if answer:
            answers[key] = True
        return answer

    def has_run_stats_index_cols(self) -> bool:
        return self._answered("run_stats", super().has_run_stats_index_cols)  # type: ignore[misc]

    def has_backfill_id_column(self) -> bool:
        return self._answered("backfill_id", super().has_backfill_id_column)  # type: ignore[misc]

    def has_bulk_actions_selector_cols(self) -> bool:
        return self._answered("bulk_selector", super().has_bulk_actions_selector_cols)  # type: ignore[misc]

    def has_bulk_action_job_name_column(self) -> bool:
        return self._answered("bulk_job_name", super().has_bulk_action_job_name_column)  # type: ignore[misc]

    def has_built_index(self, migration_name: str) -> bool:
        return self._answered(
            f"index:{migration_name}",
            lambda: super(SchemaChecksOnce, self).has_built_index(migration_name),  # type: ignore[misc]
        )
