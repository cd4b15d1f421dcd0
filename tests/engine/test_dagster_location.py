"""The Dagster code location: lazy jobs per workflow, `dagster definitions validate`, and the UI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def _save(cf, name="Stripe to Slack", wid=None):
    from connectflow_dagster import spec
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import save_workflow

    wf = spec.parse_workflow(
        {
            "id": wid,
            "name": name,
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "When clicked"},
                {"id": "shape", "type": "set", "name": "Shape the message", "params": {"fields": {"a": 1}}},
            ],
            "edges": [{"source": "start", "target": "shape"}],
        }
    )
    with session_scope() as s:
        return save_workflow(s, cf.new_user(), wf)


def test_repository_lists_saved_workflows_and_builds_jobs_lazily(cf):
    import importlib

    from connectflow_dagster import definitions

    saved = _save(cf)
    repo = importlib.reload(definitions).connectflow
    name = f"wf_{saved.workflow.id}__v1"
    assert name in {j.name for j in repo.get_all_jobs()}
    job = repo.get_job(name)
    ops = {n.name: n.definition for n in job.graph.nodes}
    assert set(ops) == {"start", "shape"}
    assert ops["shape"].description == "Shape the message"
    assert ops["shape"].name == f"{name}__shape"  # op names are unique per version, aliased to node ids
    assert job.description == "Stripe to Slack (version 1)"


def _env(cf) -> dict[str, str]:
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home)}
    env.pop("DAGSTER_HOME", None)
    return env


def test_dagster_definitions_validate_passes(cf):
    _save(cf)
    cf.instance  # noqa: B018  (prepares DAGSTER_HOME)
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**_env(cf), "DAGSTER_HOME": str(cf.home / "dagster")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


JOB_QUERY = """query($sel: PipelineSelector!) { pipelineOrError(params: $sel) {
  __typename ... on Pipeline { name description solids { name definition { description } } } } }"""
RUNS_QUERY = (
    """query { runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }"""
)
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "connectflow") { __typename } }"""


@pytest.mark.timeout(240)
def test_runs_and_jobs_are_visible_in_the_dagster_ui_and_new_workflows_appear_after_reload(cf):
    first = _save(cf, "First flow")
    ex = cf.run({"id": first.workflow.id, **first.version.spec}, owner_id=first.workflow.owner_id)
    port = _free_port()
    env = {**_env(cf), "DAGSTER_HOME": str(cf.home / "dagster")}
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "dagster-webserver exited"
            assert time.monotonic() < deadline, "dagster-webserver did not start"
            time.sleep(0.5)  # polling a subprocess that has no readiness signal
        sel = {
            "repositoryLocationName": "connectflow",
            "repositoryName": "connectflow",
            "pipelineName": f"wf_{first.workflow.id}__v1",
        }
        job = _graphql(url, JOB_QUERY, {"sel": sel})["pipelineOrError"]
        assert job["__typename"] == "Pipeline"
        assert {s["name"]: s["definition"]["description"] for s in job["solids"]} == {
            "start": "When clicked",
            "shape": "Shape the message",
        }
        runs = _graphql(url, RUNS_QUERY)["runsOrError"]["results"]
        [run] = [r for r in runs if r["runId"] == ex.id]
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert run["status"] == "SUCCESS" and tags["connectflow/workflow_id"] == first.workflow.id

        second = _save(cf, "Saved after start-up")
        sel2 = {**sel, "pipelineName": f"wf_{second.workflow.id}__v1"}
        assert (
            _graphql(url, JOB_QUERY, {"sel": sel2})["pipelineOrError"]["__typename"]
            == "PipelineNotFoundError"
        )
        _graphql(url, RELOAD)
        assert _graphql(url, JOB_QUERY, {"sel": sel2})["pipelineOrError"]["__typename"] == "Pipeline"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


LOCATION_STATUS = """query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
REPOSITORY = """query($sel: RepositorySelector!) { repositoryOrError(repositorySelector: $sel) {
  __typename ... on Repository { jobs { name description } schedules { name pipelineName }
  sensors { name } } ... on PythonError { message } } }"""


def _save_raw(owner_id: str, document: dict):
    """Save without the API's checks, as the editor's "create" and an old registry can leave a draft."""
    from connectflow_dagster import spec
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import save_workflow

    with session_scope() as s:
        return save_workflow(s, owner_id, spec.parse_workflow(document))


def _broken_workflows() -> dict[str, dict]:
    start = {"id": "start", "type": "trigger.manual", "name": "Start"}
    return {
        "draft": {"name": "Trigger-less draft", "nodes": [], "edges": []},
        "unknown": {
            "name": "Unknown node type",
            "nodes": [start, {"id": "x", "type": "acme.gone", "name": "Gone"}],
            "edges": [{"source": "start", "target": "x"}],
        },
        "template": {
            "name": "Broken template",
            "nodes": [
                start,
                {"id": "x", "type": "set", "name": "X", "params": {"fields": {"m": "{{ start.name "}}},
            ],
            "edges": [{"source": "start", "target": "x"}],
        },
    }


def test_a_version_that_does_not_compile_is_left_out_and_logged_not_raised(cf, caplog):
    import importlib

    from connectflow_dagster import definitions

    owner = cf.new_user()
    good = _save(cf, "Good flow")
    bad = {key: _save_raw(owner, doc) for key, doc in _broken_workflows().items()}
    repo = importlib.reload(definitions).connectflow
    names = {j.name for j in repo.get_all_jobs()}
    assert f"wf_{good.workflow.id}__v1" in names
    for saved in bad.values():
        assert f"wf_{saved.workflow.id}__v1" not in names
        assert not repo.has_job(f"wf_{saved.workflow.id}__v1")
    left_out = [
        r.getMessage() for r in caplog.records if "left out of the Dagster code location" in r.message
    ]
    assert any(bad["draft"].workflow.id in m and "at least one trigger" in m for m in left_out), left_out
    assert any(bad["unknown"].workflow.id in m and "acme.gone" in m for m in left_out), left_out
    assert any(bad["template"].workflow.id in m and "template syntax error" in m for m in left_out), left_out


@pytest.mark.timeout(300)
@pytest.mark.usefixtures("backend")
def test_drafts_that_do_not_compile_leave_the_location_loaded_in_a_real_webserver(cf, tmp_path):
    from connectflow_dagster.dispatch.dagster_defs import SENSOR_NAME, schedule_name

    owner = cf.new_user()
    good = _save(cf, "Good flow")
    scheduled = _save_raw(
        owner,
        {
            "name": "Every morning",
            "nodes": [
                {"id": "tick", "type": "trigger.schedule", "name": "Tick", "params": {"cron": "0 9 * * *"}},
                {"id": "note", "type": "set", "name": "Note", "params": {"fields": {"a": 1}}},
            ],
            "edges": [{"source": "tick", "target": "note"}],
        },
    )
    bad = {key: _save_raw(owner, doc) for key, doc in _broken_workflows().items()}
    # A scheduled workflow whose current version is broken gets no schedule (nor job).
    broken_schedule = _save_raw(
        owner,
        {
            "name": "Scheduled but broken",
            "nodes": [
                {"id": "tick", "type": "trigger.schedule", "name": "Tick", "params": {"cron": "0 9 * * *"}},
                {"id": "x", "type": "set", "name": "X", "params": {"fields": {"m": "{% if %}"}}},
            ],
            "edges": [{"source": "tick", "target": "x"}],
        },
    )
    from connectflow_dagster.instance import prepare_dagster_home

    prepare_dagster_home()  # exports DAGSTER_HOME / CONNECTFLOW_HOME (and the backend) for the server
    env = dict(os.environ)
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "webserver.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "webserver.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "dagster-webserver did not start"
            time.sleep(0.5)  # polling a subprocess that has no readiness signal
        [entry] = _graphql(url, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        assert entry["name"] == "connectflow" and entry["loadStatus"] == "LOADED"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        sel = {"repositoryLocationName": "connectflow", "repositoryName": "connectflow"}
        repo = _graphql(url, REPOSITORY, {"sel": sel})["repositoryOrError"]
        assert repo["__typename"] == "Repository", repo
        jobs = {j["name"]: j["description"] for j in repo["jobs"]}
        assert jobs[f"wf_{good.workflow.id}__v1"] == "Good flow (version 1)"
        assert f"wf_{scheduled.workflow.id}__v1" in jobs
        for saved in [*bad.values(), broken_schedule]:
            assert f"wf_{saved.workflow.id}__v1" not in jobs
        # The PostgreSQL database is shared by the session's tests: look at this test's workflows only.
        ours = [good, scheduled, *bad.values(), broken_schedule]
        schedules = {
            s["name"]: s["pipelineName"]
            for s in repo["schedules"]
            if any(s["pipelineName"].startswith(f"wf_{saved.workflow.id}__") for saved in ours)
        }
        assert schedules == {schedule_name(scheduled.workflow.id, "tick"): f"wf_{scheduled.workflow.id}__v1"}
        assert [s["name"] for s in repo["sensors"]] == [SENSOR_NAME]
        # Every listed job loads in full (its snapshot), not only its name.
        for name in (f"wf_{good.workflow.id}__v1", f"wf_{scheduled.workflow.id}__v1"):
            job = _graphql(url, JOB_QUERY, {"sel": {**sel, "pipelineName": name}})["pipelineOrError"]
            assert job["__typename"] == "Pipeline", job
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_each_version_is_its_own_job_and_unlisted_versions_resolve_by_name(cf):
    import importlib

    from dagster import DagsterInvariantViolationError

    from connectflow_dagster import definitions

    first = _save(cf, "Orders")
    wid, owner = first.workflow.id, first.workflow.owner_id
    edited = {"id": wid, **first.version.spec}
    edited["nodes"][1]["params"] = {"fields": {"a": 2}}
    second = _save_raw(owner, edited)
    assert second.version.number == 2
    repo = importlib.reload(definitions).connectflow
    # Version 1 never ran: only the current version is listed (a reload snapshots what is listed) …
    assert [j.name for j in repo.get_all_jobs() if j.name.startswith(f"wf_{wid}")] == [f"wf_{wid}__v2"]
    assert not repo.has_job(f"wf_{wid}__v1")
    # … but a run created for it still gets exactly version 1 (the launched process asks by name).
    v1 = repo.get_job(f"wf_{wid}__v1")
    assert v1.description == "Orders (version 1)" and v1.tags["connectflow/version"] == "1"
    assert {n.name: n.definition.name for n in v1.graph.nodes}["shape"] == f"wf_{wid}__v1__shape"
    assert repo.get_job(f"wf_{wid}__v2").tags["connectflow/workflow_name"] == "Orders"
    for missing in (f"wf_{wid}__v3", f"wf_{wid}", "wf_nope__v1", "something_else"):
        with pytest.raises(DagsterInvariantViolationError):
            repo.get_job(missing)
