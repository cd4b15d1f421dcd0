"""Run control: which threads execute a run's nodes, its deadline, and stopping it.

A worker registers each run it executes (``register``); the compiled op of every node announces
itself while it executes (``RunControl.node_running``). That is what lets a timeout or a cancel stop a
run's *running nodes* — on whichever thread of the threaded executor they run — instead of only the
thread orchestrating the run:

- ``RunControl.stop`` interrupts every thread executing one of the run's nodes (Dagster's own
  ``DagsterExecutionInterruptedError``, raised in that thread, as Dagster interrupts a run worker);
- a node that starts after the run was stopped is interrupted before it runs;
- the run's deadline (``settings.timeout_seconds``) caps the timeouts of every HTTP request its nodes
  make (``current_deadline``, read by the transport), so a node blocked on a slow server returns at
  the deadline instead of after its own, longer timeout (an exception is only delivered to a thread
  when it runs Python code, never inside a blocking socket call).

``time_out`` is the one way a run times out (called by the worker's guard at the deadline, or by a
node that noticed the deadline passed first): Dagster's convention for ``dagster/max_runtime`` —
the run is marked *canceling* with the reason, its nodes are interrupted, and once it has ended the
worker reports it *failed* with the message (``finish_time_out``).
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterExecutionInterruptedError, DagsterRunStatus

from connectflow_dagster.tags import TAG_TIMED_OUT, TAG_TIMED_OUT_NODES

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("connectflow_deadline", default=None)


def current_deadline() -> float | None:
    """The ``time.monotonic()`` by which the node executing in this thread must be done, or None."""
    return _deadline.get()


def _interrupt(thread_ident: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_ident), ctypes.py_object(DagsterExecutionInterruptedError)
    )


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


@dataclass
class RunControl:
    """One executing run, as this process knows it."""

    run_id: str
    timeout_seconds: float | None = None
    started: float = field(default_factory=time.monotonic)
    orchestrator: int | None = None  # the thread executing the run (interrupted when no node runs)
    stop_reason: str | None = None
    timed_out: bool = False
    nodes: dict[int, str] = field(default_factory=dict)  # thread ident → node id running on it
    children: list[str] = field(default_factory=list)  # runs started by this run's nodes
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def deadline(self) -> float | None:
        return None if self.timeout_seconds is None else self.started + self.timeout_seconds

    def expired(self) -> bool:
        deadline = self.deadline
        return deadline is not None and time.monotonic() >= deadline

    def running_nodes(self) -> list[str]:
        with self._lock:
            return sorted(set(self.nodes.values()))

    @contextmanager
    def node_running(self, node_id: str) -> Iterator[None]:
        """Around a node's executor: interruptible by ``stop``; HTTP bounded by the deadline."""
        me = threading.get_ident()
        with self._lock:
            if self.stop_reason is not None:
                raise DagsterExecutionInterruptedError(f"node '{node_id}' not started: {self.stop_reason}")
            self.nodes[me] = node_id
        outer = _deadline.get()
        deadline = self.deadline
        if outer is not None and (deadline is None or outer < deadline):
            deadline = outer  # a sub-workflow executing inside a node keeps its caller's deadline
        token = _deadline.set(deadline)
        try:
            yield
        finally:
            _deadline.reset(token)
            with self._lock:
                self.nodes.pop(me, None)

    def add_child(self, run_id: str) -> None:
        with self._lock:
            self.children.append(run_id)

    def stop(self, reason: str, *, timed_out: bool = False, spare: int | None = None) -> bool:
        """Interrupt the run's running nodes (all but thread ``spare``); False when it was already
        stopped. With no node running, the orchestrating thread is interrupted instead."""
        with self._lock:
            if self.stop_reason is not None:
                return False
            self.stop_reason = reason
            self.timed_out = timed_out
            threads = [t for t in self.nodes if t != spare]
            if not self.nodes and self.orchestrator is not None and self.orchestrator != spare:
                threads = [self.orchestrator]
            for thread in threads:
                _interrupt(thread)
        return True


_runs: dict[str, RunControl] = {}
_runs_lock = threading.Lock()


def register(run_id: str, timeout_seconds: float | None, orchestrator: int | None = None) -> RunControl:
    """The worker is about to execute ``run_id`` in this process (``orchestrator``: its thread)."""
    control = RunControl(run_id, timeout_seconds, orchestrator=orchestrator)
    with _runs_lock:
        _runs[run_id] = control
    return control


def unregister(run_id: str) -> None:
    with _runs_lock:
        _runs.pop(run_id, None)


def get(run_id: str) -> RunControl | None:
    with _runs_lock:
        return _runs.get(run_id)


def timeout_message(control: RunControl) -> str:
    nodes = control.running_nodes()
    running = (
        f"; node{'s' if len(nodes) > 1 else ''} {', '.join(repr(n) for n in nodes)} "
        f"{'were' if len(nodes) > 1 else 'was'} running"
        if nodes
        else ""
    )
    return (
        f"timed out after {format_seconds(control.timeout_seconds or 0)} (settings.timeout_seconds){running}"
    )


def time_out(instance: Any, control: RunControl, *, spare: int | None = None) -> bool:
    """Stop ``control``'s run because its deadline passed: tag it with the message and the nodes
    that were running, mark it (and the runs its nodes started) canceling, interrupt its nodes.
    False when the run was already stopped."""
    message = timeout_message(control)
    nodes = control.running_nodes()
    if not control.stop(message, timed_out=True, spare=spare):
        return False
    instance.add_run_tags(
        control.run_id, {TAG_TIMED_OUT: message[:1000], TAG_TIMED_OUT_NODES: ",".join(nodes)[:1000]}
    )
    for run_id in [control.run_id, *control.children]:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished and run.status != DagsterRunStatus.CANCELING:
            reason = message if run_id == control.run_id else f"its caller {control.run_id} {message}"
            instance.report_run_canceling(run, message=f"Canceling: {reason}.")
    return True


def finish_time_out(instance: Any, control: RunControl) -> None:
    """After a timed-out run ended: report it failed with the message (Dagster recorded it canceled,
    or failed as "interrupted")."""
    run = instance.get_run_by_id(control.run_id)
    if run is not None and control.stop_reason is not None:
        instance.report_run_failed(run, message=control.stop_reason)
