"""A threaded Dagster executor: independent ops of one run execute at the same time, in one process.

Dagster's in-process executor runs ready steps one after another, and there is no threaded executor
(DESIGN.md); its multiprocess executor costs a process per step (a 3-op chain took 9 s). Workflow
nodes mostly wait on I/O (HTTP, SMTP, LLM calls), so threads are the right unit: five parallel 200 ms
HTTP nodes take ~200 ms instead of ~1 s (``bench/fanout.py``).

The orchestration is Dagster's own ``ActiveExecution`` (dependencies, fan-in skips, retries with
``RetryPolicy``, concurrency pools); only "execute this step" is handed to a thread pool. Each step's
events are stored by the thread that produces them (the storages pool their connections) and passed
back to the orchestrating thread, which updates the plan state and yields them as the in-process
executor does.
"""

from __future__ import annotations

import itertools
import os
import queue
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagster import DagsterEvent, Executor, Field, Permissive, executor

from connectflow_dagster.dagster_private import (
    EngineEventData,
    ExecuteRunWithPlanIterable,
    ExecutionPlan,
    InstanceConcurrencyContext,
    PlanExecutionContext,
    PlanExecutionContextManager,
    PlanOrchestrationContext,
    RetryMode,
    dagster_event_sequence_for_step,
    get_retries_config,
    trigger_step_hooks,
)
from connectflow_dagster.tags import TAG_LOOP

DEFAULT_MAX_CONCURRENT = 8

_EVENT, _DONE, _ERROR = 0, 1, 2


def _run_step(step_context: Any, token: int, events: queue.Queue) -> None:
    try:
        for event in dagster_event_sequence_for_step(step_context):
            events.put((_EVENT, token, event))
    except BaseException:
        events.put((_ERROR, token, sys.exc_info()[1]))
        return
    events.put((_DONE, token, None))


def _run_inline(
    job_context: PlanExecutionContext, active_execution: Any, step: Any
) -> Iterator[DagsterEvent]:
    """One step in the orchestrating thread: the body of Dagster's ``inner_plan_execution_iterator``."""
    step_context = job_context.for_step(step, active_execution.get_known_state())
    step_events: list[DagsterEvent] = []
    for event in dagster_event_sequence_for_step(step_context):
        step_events.append(event)
        yield event
        active_execution.handle_event(event)
    active_execution.verify_complete(job_context, step.key)
    for event in active_execution.plan_events_iterator(job_context):
        step_events.append(event)
        yield event
    yield from trigger_step_hooks(step_context, step_events)


def tag_limits(loop_concurrency: Mapping[str, int]) -> list[dict[str, Any]]:
    """Dagster's run-scoped tag concurrency limits for loops: at most ``limit`` steps tagged
    ``connectflow/loop=<loop id>`` (the loop's mapped steps, all items and nodes together) in flight."""
    return [{"key": TAG_LOOP, "value": loop, "limit": int(limit)} for loop, limit in loop_concurrency.items()]


def threaded_plan_iterator(
    job_context: PlanExecutionContext,
    execution_plan: ExecutionPlan,
    max_concurrent: int,
    loop_concurrency: Mapping[str, int] | None = None,
) -> Iterator[DagsterEvent]:
    """Like Dagster's ``inner_plan_execution_iterator``, but up to ``max_concurrent`` steps at once
    (and each loop's mapped steps up to its own limit, ``loop_concurrency``: loop id → limit)."""
    with (
        InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency,
        execution_plan.start(
            retry_mode=job_context.retry_mode,
            tag_concurrency_limits=tag_limits(loop_concurrency or {}) or None,
            instance_concurrency_context=concurrency,
            step_dependency_config=job_context.step_dependency_config,
        ) as active_execution,
        ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="cf-step") as pool,
    ):
        events: queue.Queue = queue.Queue()
        # One entry per submitted attempt: a step up for retry without delay is resubmitted by
        # ActiveExecution before its first attempt's thread has reported that it finished.
        running: dict[int, tuple[str, Any, list[DagsterEvent]]] = {}
        tokens = itertools.count()
        interrupted = False
        while (not interrupted and not active_execution.is_complete) or running:
            if not interrupted and active_execution.check_for_interrupts():
                interrupted = True
                active_execution.mark_interrupted()
            if not interrupted:
                steps = active_execution.get_steps_to_execute(limit=max(0, max_concurrent - len(running)))
                yield from active_execution.concurrency_event_iterator(job_context)
                if len(steps) == 1 and not running:
                    # Nothing else is running or ready, so nothing can become ready while this step
                    # runs: execute it here, as Dagster's in-process executor does. Handing it to a
                    # thread would only add a GIL hand-off per event (a chain never runs two steps
                    # at once; docs/decisions.md "threaded executor: steps alone run inline").
                    yield from _run_inline(job_context, active_execution, steps[0])
                    continue
                for step in steps:
                    step_context = job_context.for_step(step, active_execution.get_known_state())
                    token = next(tokens)
                    running[token] = (step.key, step_context, [])
                    pool.submit(_run_step, step_context, token, events)
            if not running:
                if not interrupted and not active_execution.is_complete:
                    active_execution.sleep_til_ready()
                continue
            kind, token, payload = events.get()
            step_key, step_context, step_events = running[token]
            if kind == _EVENT:
                if not isinstance(payload, DagsterEvent):  # only _run_step puts events here
                    raise TypeError(f"expected a DagsterEvent from step {step_key}, got {type(payload)}")
                event = payload
                step_events.append(event)
                yield event
                active_execution.handle_event(event)
                continue
            del running[token]
            if kind == _ERROR:
                raise payload
            if all(key != step_key for key, _, _ in running.values()):
                active_execution.verify_complete(job_context, step_key)
            for event in active_execution.plan_events_iterator(job_context):
                step_events.append(event)
                yield event
            yield from trigger_step_hooks(step_context, step_events)


class ThreadedExecutor(Executor):
    """Executes the ready steps of a run on a thread pool inside the run's process."""

    def __init__(
        self,
        retries: RetryMode,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        loop_concurrency: Mapping[str, int] | None = None,
    ):
        self._retries = retries
        self.max_concurrent = max_concurrent
        self.loop_concurrency = dict(loop_concurrency or {})

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        step_keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps on up to {self.max_concurrent} threads in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
        )
        limit, loops = self.max_concurrent, self.loop_concurrency

        def iterator(
            job_context: PlanExecutionContext, execution_plan: ExecutionPlan, **_: Any
        ) -> Iterator[DagsterEvent]:
            return threaded_plan_iterator(job_context, execution_plan, limit, loops)

        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=iterator,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                ),
            )
        )


@executor(
    name="connectflow_threaded",
    config_schema={
        "retries": get_retries_config(),
        "max_concurrent": Field(
            int,
            is_required=False,
            default_value=DEFAULT_MAX_CONCURRENT,
            description="Most steps running at the same time in this run.",
        ),
        "loop_concurrency": Field(
            Permissive(),
            is_required=False,
            default_value={},
            description="Loop node id → most of its items in progress at once (compiler.py).",
        ),
    },
)
def threaded_executor(init_context) -> ThreadedExecutor:  # type: ignore[no-untyped-def]
    """Runs independent ops of a run concurrently on threads, in the run's own process."""
    config = init_context.executor_config
    return ThreadedExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        max_concurrent=max(1, int(config.get("max_concurrent", DEFAULT_MAX_CONCURRENT))),
        loop_concurrency={str(k): max(1, int(v)) for k, v in (config.get("loop_concurrency") or {}).items()},
    )
