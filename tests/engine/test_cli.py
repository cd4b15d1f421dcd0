"""`connectflow run` and `connectflow executions`, as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLI = [str(Path(sys.executable).parent / "connectflow")]


CLI_USER = "cli-user@example.com"


@pytest.fixture
def cli(cf):
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.users import get_user_by_email

    with session_scope() as session:  # one account for every test (PostgreSQL: one shared database)
        known = get_user_by_email(session, CLI_USER) is not None
    if not known:
        cf.new_user(CLI_USER)
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "CONNECTFLOW_USER": CLI_USER}
    env.pop("DAGSTER_HOME", None)
    if cf.database_url:
        env["CONNECTFLOW_DATABASE_URL"] = cf.database_url

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=180, cwd=ROOT)

    return call


@pytest.mark.usefixtures("backend")
def test_run_the_branching_example_and_list_it_with_the_skipped_branch(cli):
    done = cli("run", "examples/branching.json", "--json")
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)
    assert execution["status"] == "success"
    listed = cli("executions", "--workflow", "example_branching", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["id"] == execution["id"]]
    nodes = {n["node_id"]: n["status"] for n in row["nodes"]}
    assert nodes["small"] == "skipped" and nodes["big"] == "success" and nodes["done"] == "success"
    shown = cli("executions", execution["id"])
    assert shown.returncode == 0 and "skipped" in shown.stdout and execution["id"] in shown.stdout


def test_run_the_javascript_code_example(cli):
    done = cli("run", "examples/js_code.json", "--json")
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)
    assert execution["status"] == "success"
    assert execution["context"]["report"]["message"] == "3 orders, 310 EUR; big: A-1042, A-1043"


def test_run_with_input_and_a_failing_run_exits_non_zero(cli, tmp_path):
    ok = cli("run", "examples/branching.json", "--input", '{"order_id": "Z", "amount": 1}', "--json")
    assert json.loads(ok.stdout)["context"]["small_order"]["message"] == "Order Z is small: 1"
    broken = tmp_path / "broken.json"
    data = json.loads((ROOT / "examples" / "http_chain.json").read_text())
    data["id"] = "cli_broken"
    broken.write_text(json.dumps(data))
    failed = cli("run", str(broken), "--input", '{"url": "http://127.0.0.1:9/"}')
    assert failed.returncode == 1
    assert "fetch" in failed.stdout and "connection failed" in failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "workflow file not found"),
        ("{not json", "is not valid JSON"),
        ('{"nodes": [{"id": "a", "type": "nope", "name": "A"}]}', "unknown node type 'nope'"),
        (
            '{"nodes": [{"id": "a", "type": "set", "name": "A"}]}',
            "a workflow needs at least one trigger node",
        ),
    ],
)
def test_bad_input_prints_a_clear_message_without_a_traceback(cli, tmp_path, content, expected):
    path = tmp_path / "wf.json"
    if content is not None:
        path.write_text(content)
    result = cli("run", str(path))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_json_is_refused(cli):
    result = cli("run", "examples/branching.json", "--input", "{oops")
    assert result.returncode == 1 and "--input is not valid JSON" in result.stderr


@pytest.mark.usefixtures("backend")
def test_run_the_sub_workflow_example_with_its_called_workflow(cli):
    done = cli("run", "examples/sub_workflow.json", "--with", "examples/sub_workflow_child.json", "--json")
    assert done.returncode == 0, done.stderr
    execution = json.loads(done.stdout)
    assert execution["status"] == "success", execution["error"]
    assert execution["context"]["reply"]["message"] == "Order A-1042: 12 × A-1 = 30.0 EUR (discount)"
    [child] = execution["children"]
    assert child["node_id"] == "quote"
    shown = json.loads(cli("executions", child["execution_id"], "--json").stdout)
    assert shown["workflow_id"] == "example_price_quote" and shown["caller_id"] == execution["id"]
    alone = cli("run", "examples/sub_workflow.json")  # still saved from above: runs without --with
    assert alone.returncode == 0, alone.stderr


def test_run_the_error_workflow_example(cli):
    failed = cli("run", "examples/error_workflow_failing.json", "--with", "examples/error_workflow.json")
    assert failed.returncode == 1
    assert "error workflow example_error_alert: execution" in failed.stdout and "success" in failed.stdout
    listed = json.loads(cli("executions", "--workflow", "example_error_alert", "--json").stdout)
    alert = listed[0]
    assert alert["status"] == "success" and alert["failed_execution_id"]
    shown = json.loads(cli("executions", alert["id"], "--json").stdout)
    text = shown["context"]["alert"]["text"]
    assert text.startswith("Error workflow example: a run that fails failed at 'Ship order': ")
    assert "shipping" in text
    assert shown["context"]["alert"]["link"].endswith(f"/ui/executions?id={alert['failed_execution_id']}")
