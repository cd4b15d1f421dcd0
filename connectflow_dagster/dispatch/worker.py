"""Warm workers: claim inbox events and execute each as a Dagster run, in this process.

A worker imports Dagster, the node catalogue and the storages once and keeps compiled jobs cached by
version, so an event costs only its run (DESIGN.md: the launcher path spends a fresh process per
run). Each event becomes a run created exactly as a launched run would be (code-location origin, same
job, tags and run config — ``connectflow_dagster.execution.create_run``) with run id = event id, so
the Dagster UI shows it under the workflow's job and can re-execute it.

Crash safety: the worker holds a lease on the event and renews it while the run executes. If the
worker dies, the lease expires and another worker claims the event; it finds the unfinished run,
marks it failed with the reason (``connectflow/worker_lost`` tag) and starts a new attempt in the same
Dagster run group (``dagster/root_run_id`` = event id), up to ``max_attempts``. A run that finished
(success or a node failure) is never run again: redelivery only re-runs work that was lost.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from connectflow_dagster.compiler import Runtime
from connectflow_dagster.dagster_private import InMemoryJob, execute_run
from connectflow_dagster.dispatch import inbox
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.execution import RunTarget, create_run
from connectflow_dagster.instance import get_instance
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import version_by_id, version_spec
from connectflow_dagster.tags import TAG_ATTEMPT, TAG_EVENT, TAG_WORKER, TAG_WORKER_LOST

log = logging.getLogger("connectflow.worker")


_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def attempt_run_id(event_id: str, attempt: int) -> str:
    """The run id of an attempt: the event id first, then one derived from it (never two at once)."""
    if attempt <= 1:
        return event_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow:{event_id}:{attempt}"))


@dataclass
class Outcome:
    event_id: str
    run_id: str | None
    status: str  # inbox status after handling


class _LeaseKeeper(threading.Thread):
    """Renews the lease on an event while its run executes."""

    def __init__(self, event_id: str, worker_id: str, lease_seconds: float):
        super().__init__(name=f"lease-{event_id[:8]}", daemon=True)
        self.event_id, self.worker_id, self.lease = event_id, worker_id, lease_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease / 3):
            try:
                with session_scope() as session:
                    if not inbox.renew_lease(
                        session, self.event_id, self.worker_id, lease_seconds=self.lease
                    ):
                        log.warning("lost the lease on event %s", self.event_id)
                        return
            except Exception:  # the database may be briefly unavailable; try again next period
                log.exception("could not renew the lease on event %s", self.event_id)


class Worker:
    """One warm worker: ``run_forever()`` claims and executes events until ``stop`` is set."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        instance: DagsterInstance | None = None,
        runtime: Runtime | None = None,
        lease_seconds: float | None = None,
    ):
        settings = get_dispatch_settings()
        self.worker_id = worker_id or new_worker_id()
        self.instance = instance or get_instance()
        self.runtime = runtime
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.idle_poll = settings.worker_idle_poll_seconds
        self.stop = threading.Event()

    def warm_up(self) -> None:
        """Import and open everything a run needs before the first event arrives."""
        from connectflow_dagster.registry import get_registry

        get_registry()
        with session_scope() as session:
            inbox.has_claimable_event(session)
        self.instance.get_runs_count(RunsFilter(tags={TAG_EVENT: "warm-up"}))

    def run_forever(self) -> None:
        log.info("worker %s ready", self.worker_id)
        while not self.stop.is_set():
            if self.run_one() is None:
                self.stop.wait(self.idle_poll)
        log.info("worker %s stopped", self.worker_id)

    def run_one(self) -> Outcome | None:
        """Claim and execute one event; None when there was nothing to claim."""
        with session_scope() as session:
            if not inbox.has_claimable_event(session):
                return None
            event = inbox.claim_next_event(session, self.worker_id, lease_seconds=self.lease_seconds)
        if event is None:
            return None
        try:
            return self.execute(event)
        except Exception as exc:
            log.exception("event %s: could not execute", event.id)
            with session_scope() as session:
                status = inbox.fail_event(
                    session,
                    event.id,
                    self.worker_id,
                    f"{type(exc).__name__}: {exc}",
                    retry=True,
                    attempts=event.attempts,
                )
            return Outcome(event.id, None, status)

    def execute(self, event: inbox.ClaimedEvent) -> Outcome:
        settings = get_dispatch_settings()
        previous = self.instance.get_runs(RunsFilter(tags={TAG_EVENT: event.id}))
        for run in previous:
            if run.status in _FINISHED and TAG_WORKER_LOST not in run.tags:
                # The run finished but its worker died before recording it: nothing to re-run.
                return self._complete(event, run.run_id)
        for run in previous:
            if run.status not in _FINISHED:
                reason = (
                    f"worker {run.tags.get(TAG_WORKER, '?')} stopped while running this execution "
                    f"(its lease on event {event.id} expired); "
                    + (
                        f"retrying as attempt {event.attempts} of {settings.max_attempts}"
                        if event.attempts <= settings.max_attempts
                        else "no attempts left"
                    )
                )
                self.instance.add_run_tags(run.run_id, {TAG_WORKER_LOST: "true"})
                self.instance.report_run_failed(run, message=reason)
                log.warning("event %s: %s", event.id, reason)
        if event.attempts > settings.max_attempts:
            with session_scope() as session:
                status = inbox.fail_event(
                    session,
                    event.id,
                    self.worker_id,
                    f"gave up after {settings.max_attempts} attempts (workers stopped while running it)",
                    retry=False,
                    attempts=event.attempts,
                )
            return Outcome(event.id, None, status)

        with session_scope() as session:
            version = version_by_id(session, event.version_id)
            target = RunTarget(version_spec(version), version.id, version.number, event.owner_id)
        run_id = attempt_run_id(event.id, event.attempts if previous else 1)
        job, run = create_run(
            self.instance,
            target,
            trigger_node_id=event.trigger_node_id,
            payload=event.payload,
            run_id=run_id,
            event_id=event.id,
            runtime=self.runtime,
        )
        extra = {TAG_WORKER: self.worker_id}
        if previous:
            extra.update(
                {
                    "dagster/parent_run_id": previous[0].run_id,
                    "dagster/root_run_id": event.id,
                    TAG_ATTEMPT: str(event.attempts),
                }
            )
        self.instance.add_run_tags(run_id, extra)
        keeper = _LeaseKeeper(event.id, self.worker_id, self.lease_seconds)
        keeper.start()
        try:
            execute_run(InMemoryJob(job), self.instance.get_run_by_id(run_id) or run, self.instance)
        finally:
            keeper.stopped.set()
        return self._complete(event, run_id)

    def _complete(self, event: inbox.ClaimedEvent, run_id: str) -> Outcome:
        with session_scope() as session:
            inbox.complete_event(session, event.id, self.worker_id)
        return Outcome(event.id, run_id, inbox.DONE)


def run_worker(*, install_signal_handlers: bool = True) -> None:
    """Run one warm worker in this process until SIGTERM/SIGINT (the current run finishes first)."""
    worker = Worker()
    if install_signal_handlers:

        def stop(*_: Any) -> None:
            worker.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    worker.warm_up()
    worker.run_forever()


def default_process_count() -> int:
    return max(1, os.cpu_count() or 1)


def worker_command() -> list[str]:
    """argv of one worker process."""
    return [sys.executable, "-m", "connectflow_dagster.dispatch.worker"]


def start_worker_processes(
    count: int | None = None, *, env: dict[str, str] | None = None
) -> list[subprocess.Popen]:
    """Start ``count`` worker processes (default: one per core) and return them, not waiting."""
    return [
        subprocess.Popen(worker_command(), env=env or os.environ.copy())
        for _ in range(count or default_process_count())
    ]


def stop_worker_processes(procs: Sequence[subprocess.Popen], timeout: float = 30.0) -> None:
    """SIGTERM the workers (each finishes its current run), then SIGKILL any still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_worker_processes(count: int | None = None) -> int:
    """Supervise ``count`` worker processes until SIGTERM/SIGINT; a worker that dies is restarted.

    This is what ``connectflow worker --processes N`` runs (and ``connectflow up`` through it).
    """
    # Migrate and create Dagster storage once, before several processes race to do it.
    from connectflow_dagster.store.db import get_engine

    get_engine()
    get_instance()
    count = count or default_process_count()
    procs = start_worker_processes(count)
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("started %d worker processes: %s", count, ", ".join(str(p.pid) for p in procs))
    while not stopping.wait(0.5):
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                log.warning("worker pid %s exited with %s; starting a new one", proc.pid, proc.returncode)
                procs[i] = start_worker_processes(1)[0]
    stop_worker_processes(procs)
    return 0


def configure_logging() -> None:
    """Worker logs at CONNECTFLOW_LOG_LEVEL (INFO); migration chatter stays quiet."""
    logging.basicConfig(
        level=os.environ.get("CONNECTFLOW_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


if __name__ == "__main__":
    configure_logging()
    run_worker()
