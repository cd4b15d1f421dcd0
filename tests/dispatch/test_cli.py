"""``connectflow worker`` is registered, reports the inbox, and runs events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from click.testing import CliRunner

from connectflow_dagster.cli import main
from connectflow_dagster.dispatch import inbox
from connectflow_dagster.execution import get_execution
from tests.dispatch.conftest import manual_set_workflow, save, wait_for


def test_worker_status_counts_the_inbox(cf, empty_inbox):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
    result = CliRunner().invoke(main, ["worker", "--status"])
    assert result.exit_code == 0, result.output
    assert '"pending": 1' in result.output


def test_connectflow_worker_runs_accepted_events_and_stops_on_sigterm(cf, empty_inbox):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Grace"})
    cf.instance  # noqa: B018 — storage exists before the worker starts
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from connectflow_dagster.cli import main; main()",
            "worker",
            "--processes",
            "2",
        ],
        env=os.environ.copy(),
    )
    try:
        wait_for(
            lambda: (r := cf.instance.get_run_by_id(event_id)) is not None and r.is_finished,
            timeout=90,
            what="the worker to run the event",
        )
        assert get_execution(cf.instance, event_id).context["greet"] == {"message": "hello Grace"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_the_openapi_document_builds_without_warnings(cf):
    from gateway.app import create_app

    paths = create_app().openapi()["paths"]
    for path in (
        "/api/trigger",
        "/api/webhooks/stripe/{workflow_id}",
        "/api/workflows/{workflow_id}/api-keys",
        "/api/executions/{execution_id}/events",
    ):
        assert path in paths
