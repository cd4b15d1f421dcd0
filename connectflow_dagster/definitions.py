"""The Dagster code location: one job per workflow *version*, built lazily, never failing on one.

``workspace.yaml`` loads this module. The repository lists ``wf_<id>__v<N>`` for every live
workflow's current version and for each older version that has an execution (so a run of it can
be re-executed from the Dagster UI after an edit), and resolves any other saved version by name
on demand: a run launched by Dagster (sensor path, UI re-execution) executes the version its job
name says, not whatever is current (docs/decisions.md, "Versioned jobs").

Listing is one query. A job is compiled only when Dagster asks for it: a launched run's process
asks for its own job only; a code-location (re)load asks for every listed job, because Dagster
snapshots them all. A version that does not compile (no trigger, unknown node type, broken
template, anything the compiler raises) is left out and logged, never raised into Dagster's
loader, so one user's draft cannot take the location down; the API shows the same problems
(``compiler.compile_problems``). A workflow saved after start-up appears on the next reload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    DagsterInvariantViolationError,
    JobDefinition,
    RepositoryData,
    ScheduleDefinition,
    SensorDefinition,
    repository,
)

from connectflow_dagster import spec
from connectflow_dagster.compiler import compile_workflow, job_name, parse_job_name, try_compile
from connectflow_dagster.errors import Problem
from connectflow_dagster.execution import REPOSITORY
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.workflows import find_version, location_versions, version_spec

log = logging.getLogger("connectflow.location")


@dataclass(frozen=True)
class ListedVersion:
    """A workflow version the location lists, with its stored document (parsed when compiled)."""

    workflow_id: str
    number: int
    document: dict[str, Any]
    current: bool
    active: bool

    def workflow(self) -> spec.Workflow:
        """The version's workflow document (as ``store.workflows.version_spec``)."""
        return spec.Workflow.model_validate({**self.document, "id": self.workflow_id})


def listed_versions() -> dict[str, ListedVersion]:
    """Job name → version, for what the location lists (``store.workflows.location_versions``)."""
    with session_scope() as session:
        return {
            job_name(wf.id, v.number): ListedVersion(
                wf.id, v.number, v.spec, v.id == wf.current_version_id, wf.active
            )
            for wf, v in location_versions(session)
        }


class WorkflowRepositoryData(RepositoryData):
    """Jobs resolved per version, plus the schedules and the inbox sensor.

    ``get_job`` compiles one version (any saved version by its name, listed or not) and raises if
    it does not compile, which fails that run only. ``get_job_names`` / ``get_all_jobs`` are what a
    (re)load snapshots: they compile every listed version once and leave out, with a log line,
    each one that does not compile.
    """

    def __init__(
        self,
        listed: Mapping[str, ListedVersion],
        schedules: Sequence[ScheduleDefinition] = (),
        sensors: Sequence[SensorDefinition] = (),
    ):
        self._listed = dict(listed)
        self._schedules = list(schedules)
        self._sensors = list(sensors)
        self._jobs: dict[str, JobDefinition] = {}
        self._problems: dict[str, str] = {}
        self._checked = False

    # ---- jobs ------------------------------------------------------------------------------------------

    def get_job(self, job_name: str) -> JobDefinition:
        """The job of one version; compiles only that version."""
        if job_name in self._jobs:
            return self._jobs[job_name]
        entry = self._listed.get(job_name)
        job = compile_workflow(entry.workflow(), version=entry.number) if entry else self._unlisted(job_name)
        self._jobs[job_name] = job
        return job

    def _unlisted(self, name: str) -> JobDefinition:
        # A version saved and replaced without running, or saved after this location loaded: a run
        # created for it still executes exactly it.
        parsed = parse_job_name(name)
        if parsed is not None:
            with session_scope() as session:
                version = find_version(session, *parsed)
                workflow = version_spec(version) if version is not None else None
            if version is not None and workflow is not None:
                return compile_workflow(workflow, version=version.number)
        raise DagsterInvariantViolationError(f"Could not find job {name} in repository")

    def problems(self) -> dict[str, str]:
        """Listed versions left out because they do not compile → why (compiles each listed once)."""
        if not self._checked:
            for name, entry in self._listed.items():
                if name in self._jobs or name in self._problems:
                    continue
                self.check(name, entry)
            self._checked = True
        return dict(self._problems)

    def check(self, name: str, entry: ListedVersion) -> bool:
        """Compile one listed version; keep the job, or record and log why it is left out."""
        if name in self._jobs:
            return True
        if name in self._problems:
            return False
        try:
            job, problems = try_compile(entry.workflow(), version=entry.number)
        except Exception as exc:  # a stored document the current model cannot read
            job, problems = None, [Problem(f"unreadable document: {type(exc).__name__}: {exc}")]
        if job is None:
            self._problems[name] = "; ".join(str(p) for p in problems)
            log.warning(
                "workflow %s version %d is left out of the Dagster code location: %s",
                entry.workflow_id,
                entry.number,
                self._problems[name],
            )
            return False
        self._jobs[name] = job
        return True

    def get_job_names(self) -> Sequence[str]:
        """Names of the listed versions that compile (what the Dagster UI shows)."""
        problems = self.problems()
        return [name for name in self._listed if name not in problems]

    def has_job(self, job_name: str) -> bool:
        """Listed and compiles."""
        return job_name in self._listed and self.check(job_name, self._listed[job_name])

    def get_all_jobs(self) -> Sequence[JobDefinition]:
        """Every listed version that compiles (a reload snapshots them all)."""
        return [self._jobs[name] for name in self.get_job_names()]

    # ---- schedules, sensors, resources ----------------------------------------------------------------

    def with_definitions(
        self, schedules: Sequence[ScheduleDefinition], sensors: Sequence[SensorDefinition]
    ) -> WorkflowRepositoryData:
        """This repository data with its schedules and sensors (jobs already compiled are kept)."""
        self._schedules, self._sensors = list(schedules), list(sensors)
        return self

    def get_all_schedules(self) -> Sequence[ScheduleDefinition]:
        """One per schedule trigger of a current version that compiles."""
        return self._schedules

    def get_all_sensors(self) -> Sequence[SensorDefinition]:
        """The inbox sensor."""
        return self._sensors

    def get_top_level_resources(self) -> Mapping[str, Any]:
        """None: each job carries its own resources."""
        return {}

    def get_env_vars_by_top_level_resource(self) -> Mapping[str, Any]:
        """None: each job carries its own resources."""
        return {}


def build_repository_data() -> WorkflowRepositoryData:
    """What the ``connectflow`` repository holds, read from the store now."""
    from connectflow_dagster.dispatch.dagster_defs import inbox_sensor, workflow_schedules

    listed = listed_versions()
    jobs = WorkflowRepositoryData(listed)  # checks a scheduled version's job (compiles that one only)
    schedules = workflow_schedules(
        [(e.workflow_id, e.number, e.document, e.active) for e in listed.values() if e.current],
        lambda workflow_id, number: jobs.has_job(job_name(workflow_id, number)),
    )
    return jobs.with_definitions(schedules, [inbox_sensor()])


# Dagster documents returning a RepositoryData subclass; its type hints only name lists and dicts.
@repository(name=REPOSITORY, description="ConnectFlow workflows: one job per workflow version.")  # type: ignore[arg-type]
def connectflow() -> RepositoryData:
    return build_repository_data()
