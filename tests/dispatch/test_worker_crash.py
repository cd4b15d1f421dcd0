"""A worker killed (SIGKILL) in the middle of a burst: every accepted event still runs to a terminal
state exactly once, and the interrupted run is marked failed with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, RunsFilter

from connectflow_dagster.dispatch import inbox
from connectflow_dagster.execution import get_execution
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import TriggerEvent
from connectflow_dagster.tags import TAG_EVENT, TAG_WORKER_LOST
from tests.dispatch.conftest import save, wait_for

pytestmark = pytest.mark.usefixtures("backend")

BURST = 16


def slow_workflow(url: str) -> dict:
    return {
        "name": "slow call",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "call",
                "type": "http.request",
                "name": "Call",
                "params": {"method": "POST", "url": f"{url}/work", "body": {"n": "{{ trigger.n }}"}},
            },
            {"id": "done", "type": "set", "name": "Done", "params": {"fields": {"n": "{{ trigger.n }}"}}},
        ],
        "edges": [{"source": "start", "target": "call"}, {"source": "call", "target": "done"}],
    }


def start_worker(log_dir: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "CONNECTFLOW_LEASE_SECONDS": "2", "CONNECTFLOW_MAX_ATTEMPTS": "3"}
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 — closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "connectflow_dagster.dispatch.worker"], env=env, stdout=log, stderr=log
    )


def rows(workflow_id: str) -> list[TriggerEvent]:
    from sqlalchemy import select

    with session_scope() as session:
        return list(session.scalars(select(TriggerEvent).where(TriggerEvent.workflow_id == workflow_id)))


def test_sigkill_mid_burst_loses_nothing_and_runs_nothing_twice(cf, empty_inbox, http_server, tmp_path):
    def work(_request):
        time.sleep(0.25)  # the work itself: a slow API, so a run is in flight when the worker dies
        return 200, {}, {"ok": True}

    http_server.route("POST", "/work", work)
    owner = cf.new_user()
    wid, vid = save(slow_workflow(http_server.url), owner)
    cf.instance  # storage created before the workers start  # noqa: B018
    victim, survivor = start_worker(tmp_path, "victim"), start_worker(tmp_path, "survivor")
    try:
        accepted = [inbox.enqueue(wid, owner, vid, "start", {"n": i})[0] for i in range(BURST)]

        def victim_mid_run():
            for row in rows(wid):
                if row.status == "claimed" and f":{victim.pid}:" in (row.claimed_by or ""):
                    run = cf.instance.get_run_by_id(row.id)
                    if run is not None and run.status == DagsterRunStatus.STARTED:
                        return row.id
            return None

        killed_event = wait_for(victim_mid_run, timeout=60, what="the victim worker to be running an event")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)

        wait_for(
            lambda: all(r.status in inbox.TERMINAL for r in rows(wid)),
            timeout=120,
            what="every event to reach a terminal state",
        )
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (victim, survivor):
            proc.wait(timeout=60)

    final = rows(wid)
    assert sorted(r.id for r in final) == sorted(accepted)
    assert all(r.status == "done" for r in final), [(r.id, r.status, r.error) for r in final]
    for event_id in accepted:
        runs = cf.instance.get_runs(RunsFilter(tags={TAG_EVENT: event_id}))
        succeeded = [r for r in runs if r.status == DagsterRunStatus.SUCCESS]
        assert len(succeeded) == 1, f"event {event_id}: {[r.status for r in runs]}"
        assert all(r.is_finished for r in runs)
        for lost in (r for r in runs if r.status != DagsterRunStatus.SUCCESS):
            assert lost.tags.get(TAG_WORKER_LOST) == "true"

    runs = cf.instance.get_run_records(RunsFilter(tags={TAG_EVENT: killed_event}))
    assert len(runs) == 2
    by_status = {r.dagster_run.status: r for r in runs}
    lost, retry = by_status[DagsterRunStatus.FAILURE], by_status[DagsterRunStatus.SUCCESS]
    assert lost.dagster_run.run_id == killed_event
    assert retry.dagster_run.tags["dagster/root_run_id"] == killed_event
    assert lost.end_time <= retry.start_time  # never both running at once
    assert "stopped while running this execution" in get_execution(cf.instance, killed_event).error
    assert get_execution(cf.instance, retry.dagster_run.run_id).context["done"] == {
        "n": accepted.index(killed_event)
    }
