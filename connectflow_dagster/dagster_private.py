"""Every private Dagster name ConnectFlow uses, in one module.

Dagster's private modules (``dagster._…``) carry no compatibility promise: a minor release may move or
change any of them. Importing them from this one module alone means an upgrade is checked here, by
running the tests named below, instead of by a search through the tree. Nothing else in the repository
imports ``dagster._…`` (``tests/test_architecture.py`` enforces it); ``dagster.yaml`` names two private
modules as configuration (the run coordinator and the no-op compute log manager), which Dagster's
own documentation does too.

Checked against dagster 1.13.27 (``pyproject.toml`` pins ``dagster>=1.13,<1.14``). On an upgrade, run
``tests/engine`` and ``tests/dispatch``: they exercise every name below.

What each group is for, and why no public API does it:

- **Executing a run in this process** (``InMemoryJob``, ``execute_run``, ``execute_run_iterator``,
  ``create_execution_plan``, ``KnownExecutionState``): a warm worker executes a run it created against
  the shared instance, in its own process, with the job it already compiled (the iterator form lets
  it send a progress notification as each node starts and ends). Dagster's public ``execute_job`` needs a
  ``ReconstructableJob`` (it re-imports the code location) and cannot execute an existing run id;
  ``KnownExecutionState`` selects the steps of a retry from failure.
- **Run origins** (``ReconstructableRepository``, ``LoadableTargetOrigin``, the ``…Origin`` classes):
  a run ConnectFlow creates is stamped with the code location's origin so the Dagster UI can
  re-execute it and a run launcher can start it; only the private constructors produce them.
- **The threaded executor** (``Executor`` internals: ``ExecutionPlan``, the plan and orchestration
  contexts, ``dagster_event_sequence_for_step``, ``trigger_step_hooks``, …): Dagster has no threaded
  executor; ``executor.py`` reuses Dagster's own plan orchestration and hands "execute this step" to
  a thread pool, which needs the same internals ``inner_plan_execution_iterator`` uses.
- **Tuned SQLite storage** (``DagsterStorage``, the SQLite storages, ``ConfigurableClass``): the
  storage ``dagster.yaml`` names is a ``ConfigurableClass`` composed of Dagster's own SQLite storages
  with pooled connections; the base classes are only importable from private modules.
- **Cheaper runs** (``job_execution_iterator``, ``PlanOrchestrationContextManager``,
  ``orchestration_context_event_generator``: the body of ``execute_run`` with a plan prepared once per
  job; ``ASSET_EVENTS``/``ASSET_CHECK_EVENTS``, ``EventLogEntry``, ``SqlEventLogStorageTable``: the
  event-log rows a step's batch writes; ``PostgresEventLogStorage``/``PostgresRunStorage``/
  ``PostgresScheduleStorage`` are dagster-postgres' own, public there): ``execution.py``,
  ``event_batching.py``, ``postgres_storage.py``; docs/decisions.md "Cheaper runs".
- **Console logging** (``coerce_valid_log_level``, ``create_console_logger``): the run's console
  logger uses Dagster's formatter so log lines look like every other Dagster log line.
- **Scheduler state** (``InstigatorType``): reading the sensor's state from the instance (tests).
- **Collecting mapped steps** (``DynamicCollectDependencyDefinition``): an Aggregate collects a loop's
  items; the graph is built with ``GraphDefinition`` dependencies (compiler.py), and the public
  ``.collect()`` exists only in the ``@graph``/``@job`` composition functions (docs/items.md).
"""

from __future__ import annotations

from dagster._core.definitions.dependency import DynamicCollectDependencyDefinition
from dagster._core.definitions.executor_definition import get_retries_config
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.execution.api import (
    ExecuteRunWithPlanIterable,
    create_execution_plan,
    execute_run,
    execute_run_iterator,
    job_execution_iterator,
)
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import (
    PlanExecutionContextManager,
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.execution.plan.execute_plan import _trigger_hook as trigger_step_hooks
from dagster._core.execution.plan.execute_plan import dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.execution.retries import RetryMode
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import coerce_valid_log_level
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster._utils.log import create_console_logger

__all__ = [
    "ASSET_CHECK_EVENTS",
    "ASSET_EVENTS",
    "ConfigurableClass",
    "ConfigurableClassData",
    "ConsolidatedSqliteEventLogStorage",
    "DagsterSqliteStorage",
    "DagsterStorage",
    "DynamicCollectDependencyDefinition",
    "EngineEventData",
    "EventLogEntry",
    "ExecuteRunWithPlanIterable",
    "ExecutionPlan",
    "InMemoryJob",
    "InstanceConcurrencyContext",
    "InstigatorType",
    "KnownExecutionState",
    "LoadableTargetOrigin",
    "ManagedGrpcPythonEnvCodeLocationOrigin",
    "PlanExecutionContext",
    "PlanExecutionContextManager",
    "PlanOrchestrationContext",
    "PlanOrchestrationContextManager",
    "ReconstructableRepository",
    "RemoteJobOrigin",
    "RemoteRepositoryOrigin",
    "RetryMode",
    "SqlEventLogStorageTable",
    "SqliteRunStorage",
    "SqliteScheduleStorage",
    "coerce_valid_log_level",
    "create_console_logger",
    "create_execution_plan",
    "dagster_event_sequence_for_step",
    "execute_run",
    "execute_run_iterator",
    "get_retries_config",
    "job_execution_iterator",
    "orchestration_context_event_generator",
    "skip_unconfigured_yaml_log_handlers",
    "trigger_step_hooks",
]


def skip_unconfigured_yaml_log_handlers() -> None:
    """Stop every run start from calling ``logging.config.dictConfig`` when ``dagster.yaml``
    configures no ``python_logs`` handlers (ours configures none).

    Dagster's ``get_yaml_python_handlers`` (1.13.27) calls ``dictConfig`` at each run start even with
    an empty handler config. ``dictConfig`` holds logging's module lock and then takes every
    handler's lock; a thread of *another run in the same process* emitting an event holds its
    handler's lock and needs the module lock (``isEnabledFor`` after the caches were cleared) — a
    deadlock, hit by sub-workflows (a child run starts inside a caller's step while the caller's other
    steps log; tests/dispatch/test_subworkflows.py, parallel calls on PostgreSQL). With no handler
    configured ``dictConfig`` yields no handlers, so returning none is the same result without the
    lock inversion (and without closing every handler of the process per run). Installed once by
    ``dispatch/worker.py``. The method is on the public ``DagsterInstance`` class; the patch is here
    because it depends on that private behaviour.
    """
    from dagster import DagsterInstance

    original = DagsterInstance.get_yaml_python_handlers
    if getattr(original, "_connectflow_patched", False):
        return

    def get_yaml_python_handlers(self: DagsterInstance):  # type: ignore[no-untyped-def]
        if not self.get_python_log_dagster_handler_config():
            return []
        return original(self)

    get_yaml_python_handlers._connectflow_patched = True  # type: ignore[attr-defined]
    DagsterInstance.get_yaml_python_handlers = get_yaml_python_handlers  # type: ignore[method-assign,assignment]
