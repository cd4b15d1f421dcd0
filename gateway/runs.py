"""Starting, retrying and cancelling executions from the gateway.

``start_execution`` is the one place an API "execute" becomes a run. Until the trigger inbox and warm
workers (``connectflow_dagster.dispatch``) take over, it creates the Dagster run here (so its id is
real the moment the API answers) and executes it on a small thread pool of this process.

Cancelling: a queued run is marked canceled and never starts; a run executing on this process's pool
is marked *canceling* and interrupted the way Dagster interrupts a run worker (an
``DagsterExecutionInterruptedError`` raised in the executing thread), so Dagster records it as
canceled; a run executing elsewhere is handed to the instance's run launcher to terminate.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dagster import DagsterExecutionInterruptedError, DagsterInstance, DagsterRunStatus

from connectflow_dagster.compiler import compile_workflow
from connectflow_dagster.dagster_private import (
    InMemoryJob,
    KnownExecutionState,
    create_execution_plan,
    execute_run,
)
from connectflow_dagster.errors import ConnectFlowError, NotFound
from connectflow_dagster.execution import RunTarget, create_run, job_origins
from connectflow_dagster.tags import TAG_OWNER, TAG_VERSION, TAG_VERSION_ID

log = logging.getLogger(__name__)


class Conflict(ConnectFlowError):
    """The execution is not in a state that allows this (409)."""


class BackgroundRuns:
    """A small pool executing runs in this process; tests ``wait()`` on a run instead of sleeping."""

    def __init__(self, max_workers: int = 2) -> None:
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._threads: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, run_id: str, instance: DagsterInstance, job: Any) -> None:
        def execute() -> None:
            with self._lock:
                self._threads[run_id] = threading.get_ident()
            try:
                run = instance.get_run_by_id(run_id)  # fresh: it may have been canceled while queued
                if run is not None:
                    execute_run(InMemoryJob(job), run, instance)
            except DagsterExecutionInterruptedError:
                log.info("execution %s was canceled", run_id)
            except Exception:
                log.exception("execution %s crashed outside its ops", run_id)
            finally:
                with self._lock:
                    self._threads.pop(run_id, None)

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="cf-run")
            future = self._pool.submit(execute)
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            self._futures[run_id] = future

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Block until the run submitted as ``run_id`` has finished executing here (no-op if unknown)."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            future.result(timeout=timeout)

    def interrupt(self, run_id: str) -> bool:
        """Raise DagsterExecutionInterruptedError in the thread executing ``run_id``, if it is ours."""
        with self._lock:
            ident = self._threads.get(run_id)
            if ident is None:
                return False
            hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(DagsterExecutionInterruptedError)
            )
        return hit == 1

    def shutdown(self) -> None:
        """Wait for the runs executing here to finish (the gateway is stopping)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)


def start_execution(
    instance: DagsterInstance,
    runs: BackgroundRuns,
    target: RunTarget,
    *,
    trigger_node_id: str | None = None,
    payload: Any = None,
) -> str:
    """Start ``target`` as a Dagster run; returns the execution (run) id at once.

    When ``connectflow_dagster.dispatch.inbox.enqueue`` exists, this is the function to point at it.
    """
    job, run = create_run(instance, target, trigger_node_id=trigger_node_id, payload=payload)
    runs.submit(run.run_id, instance, job)
    return run.run_id


def retry_from_failure(
    instance: DagsterInstance, runs: BackgroundRuns, run_id: str, owner_id: str, workflow_spec: Any
) -> str:
    """A new run of the same pinned version that re-executes the failed steps and what follows them,
    reusing the parent's outputs for the steps that succeeded (Dagster's "re-execute from failure")."""
    parent = instance.get_run_by_id(run_id)
    if parent is None or parent.tags.get(TAG_OWNER) != owner_id:
        raise NotFound(f"execution '{run_id}' not found")
    if parent.status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        raise Conflict(
            f"only a failed or canceled execution can be retried (this one is {parent.status.value.lower()})"
        )
    number = parent.tags.get(TAG_VERSION, "")
    job = compile_workflow(workflow_spec, version=int(number) if number.isdigit() else None)
    step_keys, known_state = KnownExecutionState.build_resume_retry_reexecution(instance, parent)
    plan = create_execution_plan(
        job, parent.run_config, step_keys_to_execute=step_keys, known_state=known_state, tags=parent.tags
    )
    remote_origin, code_origin = job_origins(job.name)
    run = instance.create_run_for_job(
        job_def=job,
        execution_plan=plan,
        run_config=parent.run_config,
        tags={k: v for k, v in parent.tags.items() if k.startswith("connectflow/")},
        root_run_id=parent.root_run_id or parent.run_id,
        parent_run_id=parent.run_id,
        remote_job_origin=remote_origin,
        job_code_origin=code_origin,
    )
    runs.submit(run.run_id, instance, job)
    return run.run_id


def pinned_version_id(instance: DagsterInstance, run_id: str, owner_id: str) -> int:
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(TAG_OWNER) != owner_id or TAG_VERSION_ID not in run.tags:
        raise NotFound(f"execution '{run_id}' not found")
    return int(run.tags[TAG_VERSION_ID])


def cancel_execution(instance: DagsterInstance, runs: BackgroundRuns, run_id: str, owner_id: str) -> str:
    """Cancel a queued or running execution; returns its status name afterwards."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(TAG_OWNER) != owner_id:
        raise NotFound(f"execution '{run_id}' not found")
    if run.is_finished:
        raise Conflict(f"the execution has already finished ({run.status.value.lower()})")
    if run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
        instance.report_run_canceled(run, message="Canceled from the ConnectFlow API before it started.")
        return "canceled"
    if run.status != DagsterRunStatus.CANCELING:
        instance.report_run_canceling(run, message="Cancel requested from the ConnectFlow API.")
    if not runs.interrupt(run_id):
        try:
            instance.run_launcher.terminate(run_id)
        except Exception as exc:  # a launcher that cannot terminate: the run is left canceling
            log.warning("could not terminate run %s: %s", run_id, exc)
    return "canceling"
