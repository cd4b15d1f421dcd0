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

Every execution comes through here: triggers, schedules, the editor's and the API's Execute, retry
from failure (an event with ``parent_run_id``) and the Python API / ``connectflow run`` without a
gateway (``run_in_process``: enqueue, then ``Worker.execute_event`` in this process).

Waiting costs nothing: an idle worker sleeps on an ``INBOX`` notification (``dispatch.notify``) and
looks again after the safety poll, or when the next delayed event or expiring lease is due. While a
run executes, a guard thread renews the lease and watches for ``CANCEL``: a run the gateway marked
*canceling* is interrupted the way Dagster interrupts a run worker (``DagsterExecutionInterruptedError``
in the executing thread), so Dagster records it canceled. When an event's run ends the worker sends
``RUN_END`` (and ``RUN_PROGRESS`` as nodes start and end) for after-run webhooks and live events.
"""

from __future__ import annotations

import datetime as dt
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

from dagster import (
    DagsterEventType,
    DagsterExecutionInterruptedError,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from connectflow_dagster import runctl, waits
from connectflow_dagster.compiler import Runtime
from connectflow_dagster.dagster_private import skip_unconfigured_yaml_log_handlers
from connectflow_dagster.dispatch import error_workflow, inbox, notify
from connectflow_dagster.dispatch.config import get_dispatch_settings
from connectflow_dagster.execution import RunTarget, create_run, iterate_created_run
from connectflow_dagster.instance import get_instance
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import version_by_id, version_spec
from connectflow_dagster.tags import TAG_ATTEMPT, TAG_EVENT, TAG_WORKER, TAG_WORKER_LOST

log = logging.getLogger("connectflow.worker")

# Runs may execute concurrently in this process (a sub-workflow inside a caller's step): no per-run
# logging.config.dictConfig, which deadlocks against another run's logging (dagster_private.py).
skip_unconfigured_yaml_log_handlers()

MAX_RUNTIME_TAG = "dagster/max_runtime"  # dagster._core.storage.tags.MAX_RUNTIME_SECONDS_TAG


_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
# Events that change what the live view shows: each sends RUN_PROGRESS.
_PROGRESS = {
    DagsterEventType.RUN_START,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.STEP_RESTARTED,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
}


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


class _RunGuard(threading.Thread):
    """While a run executes: renews the event's lease, interrupts the run when the gateway marked it
    canceling (woken by a ``CANCEL`` notification, checked again at every renewal), and times it out
    at its deadline (``settings.timeout_seconds``; ``runctl.time_out``)."""

    def __init__(self, worker: Worker, event_id: str, run_id: str, control: runctl.RunControl):
        super().__init__(name=f"guard-{event_id[:8]}", daemon=True)
        self.worker, self.event_id, self.run_id = worker, event_id, run_id
        self.control = control
        self.stopped = threading.Event()
        self.executing = True  # cleared (under ``lock``) the moment the run returns
        self.lock = threading.Lock()
        self.interrupted = False

    def stop(self) -> None:
        with self.lock:
            self.executing = False
        self.stopped.set()
        self.worker.cancel_listener().interrupt()

    def run(self) -> None:
        period = self.worker.lease_seconds / 3
        listener = self.worker.cancel_listener()
        next_renewal = time.monotonic() + period
        deadline = self.control.deadline
        while not self.stopped.is_set():
            wake = next_renewal if deadline is None else min(next_renewal, deadline)
            notes = listener.wait(max(0.0, wake - time.monotonic()))
            if self.stopped.is_set():
                return
            if deadline is not None and time.monotonic() >= deadline:
                self._interrupt(timeout=True)
                deadline = None
            asked = any(n.payload == self.run_id for n in notes)
            due = time.monotonic() >= next_renewal
            if due:
                next_renewal = time.monotonic() + period
                if not self._renew():
                    return
            if asked or due:
                self._interrupt_if_canceling()

    def _renew(self) -> bool:
        try:
            with session_scope() as session:
                if not inbox.renew_lease(
                    session, self.event_id, self.worker.worker_id, lease_seconds=self.worker.lease_seconds
                ):
                    log.warning("lost the lease on event %s", self.event_id)
                    return False
        except Exception:  # the database may be briefly unavailable; try again next period
            log.exception("could not renew the lease on event %s", self.event_id)
        return True

    def _interrupt_if_canceling(self) -> None:
        try:
            run = self.worker.instance.get_run_by_id(self.run_id)
        except Exception:
            log.exception("could not read the status of run %s", self.run_id)
            return
        if run is None or run.status != DagsterRunStatus.CANCELING:
            return
        if self._interrupt(timeout=False):
            log.info("run %s: canceled from the API, interrupting it", self.run_id)

    def _interrupt(self, *, timeout: bool) -> bool:
        """Stop the run's running nodes (or the run's thread between nodes), once."""
        with self.lock:
            if not self.executing or self.interrupted:
                return False
            self.interrupted = True
            if timeout:
                try:
                    stopped = runctl.time_out(self.worker.instance, self.control)
                except Exception:  # storage unavailable: still stop the run
                    log.exception("run %s: could not record the timeout", self.run_id)
                    stopped = self.control.stop(runctl.timeout_message(self.control), timed_out=True)
                if stopped:
                    log.info("run %s: %s", self.run_id, self.control.stop_reason)
                return stopped
            return self.control.stop("canceled from the API")


class _StopFlag(threading.Event):
    """``Worker.stop``: setting it also wakes the worker if it is waiting for work."""

    def __init__(self, on_set: Any) -> None:
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


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
        self.safety_poll = settings.safety_poll_seconds
        self._listeners_lock = threading.Lock()
        self._inbox_listener: notify.Listener | None = None
        self._cancel_listener: notify.Listener | None = None
        self.stop = _StopFlag(self._wake)
        self.idle = threading.Event()  # set while the worker sleeps, waiting for work

    def _wake(self) -> None:
        listener = self._inbox_listener
        if listener is not None:
            listener.interrupt()

    def inbox_listener(self) -> notify.Listener:
        with self._listeners_lock:
            if self._inbox_listener is None:
                self._inbox_listener = notify.listen(notify.INBOX)
            return self._inbox_listener

    def cancel_listener(self) -> notify.Listener:
        with self._listeners_lock:
            if self._cancel_listener is None:
                self._cancel_listener = notify.listen(notify.CANCEL)
            return self._cancel_listener

    def close(self) -> None:
        """Stop listening for notifications (the worker is done)."""
        with self._listeners_lock:
            for listener in (self._inbox_listener, self._cancel_listener):
                if listener is not None:
                    listener.close()
            self._inbox_listener = self._cancel_listener = None

    def warm_up(self) -> None:
        """Import and open everything a run needs before the first event arrives."""
        from connectflow_dagster.registry import get_registry

        get_registry()
        with session_scope() as session:
            inbox.has_claimable_event(session)
        self.instance.get_runs_count(RunsFilter(tags={TAG_EVENT: "warm-up"}))
        self.inbox_listener()
        self.cancel_listener()

    def run_forever(self) -> None:
        """Claim and execute events until ``stop`` is set; sleep on notifications in between."""
        listener = self.inbox_listener()  # listening before the first look: nothing slips between
        log.info("worker %s ready", self.worker_id)
        try:
            while not self.stop.is_set():
                try:
                    if self.run_one() is None and not self.stop.is_set():
                        timeout = self.idle_timeout()
                        self.idle.set()  # tests wait for this before they enqueue
                        listener.wait(timeout)
                        self.idle.clear()
                except Exception:  # a worker outlives any one failure (the inbox keeps the event)
                    self.idle.clear()
                    log.exception("worker %s: unexpected error; looking again shortly", self.worker_id)
                    self.stop.wait(self.safety_poll)
        finally:
            self.close()
        log.info("worker %s stopped", self.worker_id)

    def idle_timeout(self) -> float:
        """How long to sleep when there is nothing to claim: until a notification, the next delayed
        event or expiring lease, or the safety poll, whichever comes first."""
        try:
            with session_scope() as session:
                due = inbox.next_due(session)
        except Exception:  # the database is unavailable: look again after the safety poll
            log.exception("could not read the inbox")
            return self.safety_poll
        if due is None:
            return self.safety_poll
        wait = (due - dt.datetime.now(dt.UTC)).total_seconds()
        return min(self.safety_poll, max(0.0, wait) + 0.01)

    def run_one(self) -> Outcome | None:
        """Claim and execute one event; None when there was nothing to claim."""
        with session_scope() as session:
            if not inbox.has_claimable_event(session):
                return None
            event = inbox.claim_next_event(session, self.worker_id, lease_seconds=self.lease_seconds)
        if event is None:
            return None
        return self._handle(event)

    def execute_event(self, event_id: str, timeout: float | None = None) -> Outcome:
        """Execute the given event here, now — or, if another worker already holds it, wait until it
        finished. What the Python API and ``connectflow run`` use without a running worker."""
        with notify.listen(notify.RUN_END) as ended:  # listening before the claim: no missed end
            with session_scope() as session:
                event = inbox.claim_event(session, event_id, self.worker_id, lease_seconds=self.lease_seconds)
            if event is not None:
                return self._handle(event)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                with session_scope() as session:
                    row = inbox.get_event(session, event_id)
                    status = row.status if row is not None else None
                if status is None:
                    raise LookupError(f"no inbox event {event_id}")
                if status in inbox.TERMINAL and status != inbox.SUBMITTED:
                    return Outcome(event_id, event_id, status)
                if status == inbox.SUBMITTED:
                    run = self.instance.get_run_by_id(event_id)
                    if run is not None and run.is_finished:
                        return Outcome(event_id, event_id, status)
                left = (
                    self.safety_poll
                    if deadline is None
                    else min(self.safety_poll, deadline - time.monotonic())
                )
                if left <= 0:
                    raise TimeoutError(f"event {event_id} did not finish in time")
                ended.wait(left)

    def execute_claimed(self, event: inbox.ClaimedEvent) -> Outcome:
        """Execute an event this worker holds (a sub-workflow its caller enqueued claimed)."""
        return self._handle(event)

    def _handle(self, event: inbox.ClaimedEvent) -> Outcome:
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
            if status != inbox.PENDING:
                notify.publish(notify.RUN_END, event.id)
            return Outcome(event.id, None, status)

    def execute(self, event: inbox.ClaimedEvent) -> Outcome:
        """Create the event's run (or the next attempt of it) and execute it in this thread."""
        settings = get_dispatch_settings()
        # A first claim cannot have a run yet (the run is created after the claim): skip the tag query.
        previous = (
            self.instance.get_runs(RunsFilter(tags={TAG_EVENT: event.id})) if event.attempts > 1 else []
        )
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
            for run in previous[:1]:  # the latest attempt, just reported failed above
                self._report_failure(run.run_id)
            notify.publish(notify.RUN_END, event.id)
            return Outcome(event.id, None, status)

        parent_run_id, resume_node = event.parent_run_id, None
        wait_id = waits.wait_id_of(event.dedup_key)
        if wait_id is not None:  # the continuation of a waiting execution
            with session_scope() as session:
                wait = waits.claim_for_continuation(session, wait_id, event.id)
                resumed = (wait.run_id, wait.node_id) if wait is not None else None
            if resumed is None:  # resumed by its URL first (this was the timer), or canceled
                with session_scope() as session:
                    inbox.complete_event(session, event.id, self.worker_id, status=inbox.CANCELED)
                return Outcome(event.id, None, inbox.CANCELED)
            parent_run_id, resume_node = resumed
        with session_scope() as session:
            version = version_by_id(session, event.version_id)
            target = RunTarget(version_spec(version), version.id, version.number, event.owner_id)
        run_id = attempt_run_id(event.id, event.attempts if previous else 1)
        extra = {**(event.run_tags or {}), TAG_WORKER: self.worker_id}
        timeout = target.workflow.settings.timeout_seconds
        if timeout is not None:
            # Dagster's own run-timeout tag: shown in its UI, and enforced by its run monitoring for
            # runs a launcher started (the sensor path); a worker enforces it itself (_RunGuard).
            extra[MAX_RUNTIME_TAG] = f"{timeout:g}"
        if previous and resume_node is None:
            extra.update(
                {
                    "dagster/parent_run_id": previous[0].run_id,
                    "dagster/root_run_id": event.id,
                    TAG_ATTEMPT: str(event.attempts),
                }
            )
        job, run = create_run(
            self.instance,
            target,
            trigger_node_id=event.trigger_node_id,
            payload=event.payload,
            run_id=run_id,
            event_id=event.id,
            runtime=self.runtime,
            parent_run_id=parent_run_id,
            resume_node=resume_node,
            extra_tags=extra,  # in the run's own tags: no second write
        )
        with session_scope() as session:
            current = inbox.get_event(session, event.id)
            canceled = current is not None and current.status == inbox.CANCELED
        if canceled:  # canceled while the run was being created: it never starts
            fresh = self.instance.get_run_by_id(run_id)
            if fresh is not None and not fresh.is_finished:
                self.instance.report_run_canceled(
                    fresh, message="Canceled from the ConnectFlow API before it started."
                )
            notify.publish_many(notify.RUN_END, (event.id, run_id))
            return Outcome(event.id, run_id, inbox.CANCELED)
        self._run(event.id, run_id, job, target.workflow.settings.timeout_seconds)
        return self._complete(event, run_id)

    def _run(self, event_id: str, run_id: str, job: Any, timeout_seconds: float | None = None) -> None:
        """Execute the created run to its end in this thread, sending progress notifications; stop
        it at ``timeout_seconds`` (then it ends failed, saying so)."""
        run = self.instance.get_run_by_id(run_id)
        if run is None or run.status not in (DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING):
            return  # canceled (or otherwise finished) before it started
        control = runctl.register(run_id, timeout_seconds, orchestrator=threading.get_ident())
        guard = _RunGuard(self, event_id, run_id, control)
        guard.start()
        # A continuation run (waits.py) also notifies its execution's id: the live view follows it.
        keys = tuple(dict.fromkeys((event_id, run_id, run.root_run_id or run_id)))
        try:
            try:
                for dagster_event in iterate_created_run(self.instance, job, run):
                    if dagster_event.event_type in _PROGRESS:
                        notify.publish_many(notify.RUN_PROGRESS, keys)
                guard.stop()
            except DagsterExecutionInterruptedError:
                # Delivered just after the run returned (it was stopped at the very end): nothing to do.
                log.info("run %s was stopped", run_id)
            finally:
                guard.stop()
            if control.timed_out:
                runctl.finish_time_out(self.instance, control)
        finally:
            runctl.unregister(run_id)

    def _report_failure(self, run_id: str) -> None:
        """Queue the failed run's error workflow, if its workflow names one (error_workflow.py)."""
        try:
            error_workflow.report_failure(self.instance, run_id)
        except Exception:  # the run's own outcome is recorded regardless
            log.exception("run %s: could not queue its error workflow", run_id)

    def _complete(self, event: inbox.ClaimedEvent, run_id: str) -> Outcome:
        run = self.instance.get_run_by_id(run_id)
        succeeded = run is not None and run.status == DagsterRunStatus.SUCCESS
        if run is not None and run.status == DagsterRunStatus.FAILURE:
            self._report_failure(run_id)  # before completing: a redelivery reports it (once) again
        with session_scope() as session:
            # Waits that suspended this run: their timed continuations join the inbox (waits.py),
            # committed with the event's completion (one transaction: neither is lost without the other).
            queued = waits.finalize_run(session, run_id, succeeded)
            inbox.complete_event(session, event.id, self.worker_id)
        if queued:
            notify.publish(notify.INBOX)
        root = run.root_run_id if run is not None and run.root_run_id else run_id
        notify.publish_many(notify.RUN_END, tuple(dict.fromkeys((event.id, run_id, root))))
        return Outcome(event.id, run_id, inbox.DONE)


def run_in_process(
    target: RunTarget,
    *,
    trigger_node_id: str | None = None,
    payload: Any = None,
    runtime: Runtime | None = None,
    instance: DagsterInstance | None = None,
    then_error_workflow: bool = False,
) -> str:
    """Execute ``target`` through the inbox, in this process, to its end; returns the execution id.

    The one path, without a gateway or worker running (a notebook, ``connectflow run``): the event
    is enqueued exactly as the API's Execute does, then this process executes it with the same
    worker code (if a running worker claims it first, this waits for that worker to finish it).
    ``then_error_workflow``: when the run failed and queued its error workflow, execute that too."""
    from connectflow_dagster.compiler import compile_workflow
    from connectflow_dagster.execution import default_trigger

    # A workflow that cannot run is refused here, with its problems (WorkflowInvalid), before anything
    # is enqueued: the API's Execute refuses it the same way (422).
    compile_workflow(target.workflow, version=target.version_number, runtime=runtime)
    trigger_node_id = trigger_node_id or default_trigger(target.workflow)
    event_id, _ = inbox.enqueue(
        target.workflow.id or "",
        target.owner_id,
        target.version_id,
        trigger_node_id,
        payload if payload is not None else {},
    )
    worker = Worker(instance=instance, runtime=runtime)
    try:
        outcome = worker.execute_event(event_id)
        if then_error_workflow and outcome.run_id:
            # Without a running worker nobody else would: the error workflow the failure queued.
            with session_scope() as session:
                report = error_workflow.report_event_id(session, outcome.run_id)
            if report is not None:
                worker.execute_event(report)
    finally:
        worker.close()
    return outcome.run_id or event_id


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
    stopping, wake = threading.Event(), threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()
        wake.set()

    # Sleep until a child exits (SIGCHLD) or we are told to stop: no polling while all is well.
    signal.signal(signal.SIGCHLD, lambda *_: wake.set())
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = start_worker_processes(count)
    log.info("started %d worker processes: %s", count, ", ".join(str(p.pid) for p in procs))
    started = [time.monotonic()] * count
    quick_deaths = 0  # consecutive workers that died soon after starting: back off, do not spin
    while not stopping.is_set():
        wake.wait(60)  # the timeout only guards against a lost signal
        wake.clear()
        if stopping.is_set():
            break
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                log.warning("worker pid %s exited with %s; starting a new one", proc.pid, proc.returncode)
                quick_deaths = quick_deaths + 1 if time.monotonic() - started[i] < 10 else 0
                if quick_deaths > 1 and stopping.wait(min(30.0, 2.0**quick_deaths)):
                    break
                procs[i] = start_worker_processes(1)[0]
                started[i] = time.monotonic()
    stop_worker_processes(procs)
    return 0


def configure_logging() -> None:
    """Worker logs at ``Settings.log_level`` (CONNECTFLOW_LOG_LEVEL); migration chatter stays quiet."""
    from connectflow_dagster.config import get_settings

    logging.basicConfig(level=get_settings().log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


if __name__ == "__main__":
    configure_logging()
    run_worker()
