"""The Python API and CLI without a token: a named local account, never a password-less stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import connectflow_dagster as cf_api
from connectflow_dagster import authoring
from connectflow_dagster.errors import NotFound
from connectflow_dagster.identity import IdentityError, save_login
from tests.conftest import ROOT

CLI = [str(Path(sys.executable).parent / "connectflow")]


def _greeter(name: str = "Greet") -> cf_api.WorkflowBuilder:
    wf = cf_api.WorkflowBuilder(name)
    start = wf.add("trigger.manual", "Start", variable_name="trigger")
    greet = wf.add("set", "Greeting", fields={"text": "Hello {{ trigger.name }}"})
    wf.connect(start, greet)
    return wf


def _owner_workflows(user_id: str) -> list[str]:
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import list_workflows

    with session_scope() as session:
        rows, _ = list_workflows(session, user_id)
        return [w.name for w in rows]


def test_without_any_account_the_error_says_how_to_choose(cf):
    with pytest.raises(IdentityError) as err:
        cf_api.run(_greeter(), {"name": "Ada"})
    message = str(err.value)
    assert "connectflow create-user" in message and "connectflow login" in message
    assert "CONNECTFLOW_USER" in message


def test_the_only_account_is_used_and_owns_the_workflow(cf):
    ada = cf.new_user("ada@example.com")
    wf = _greeter()
    execution = cf_api.run(wf, {"name": "Ada"})
    assert execution.status == "success" and execution.context["greeting"]["text"] == "Hello Ada"
    assert _owner_workflows(ada) == ["Greet"]
    # The builder keeps the id it was saved under: running again versions the same workflow.
    assert wf.id is not None
    again = cf_api.run(wf, {"name": "Bob"})
    assert again.workflow_id == wf.id and _owner_workflows(ada) == ["Greet"]
    assert [w.id for w in cf_api.workflows()] == [wf.id]
    assert cf_api.workflows()[0].url.endswith(f"/ui/editor?id={wf.id}")
    assert cf_api.whoami() == "ada@example.com (local)"


def _email(user_id: str) -> str:
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.models import User

    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.email


@pytest.mark.usefixtures("backend")
def test_several_accounts_need_a_choice_and_each_sees_only_its_own(cf, monkeypatch):
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import save_workflow

    ada, bob = cf.new_user(), cf.new_user()
    with pytest.raises(IdentityError) as err:
        cf_api.workflows()
    assert "several accounts" in str(err.value) and "CONNECTFLOW_USER" in str(err.value)

    monkeypatch.setenv("CONNECTFLOW_USER", _email(ada))
    ran = cf_api.run(_greeter("Ada's"), {"name": "Ada"})
    assert ran.status == "success" and _owner_workflows(ada) == ["Ada's"]

    # A workflow made in the editor (saved for Bob) loads and runs from Python as Bob, not as Ada.
    with session_scope() as session:
        bob_workflow_id = save_workflow(session, bob, _greeter("Bob's editor workflow").build()).workflow.id
    with pytest.raises(NotFound):
        cf_api.load(bob_workflow_id)
    assert ran.id in {e.id for e in cf_api.executions()}

    cf_api.connect(user=_email(bob))
    loaded = cf_api.load(bob_workflow_id)
    assert loaded.id == bob_workflow_id and loaded.name == "Bob's editor workflow"
    bobs = cf_api.run(loaded, {"name": "Bob"})
    assert bobs.workflow_id == bob_workflow_id and bobs.context["greeting"]["text"] == "Hello Bob"
    ids = {e.id for e in cf_api.executions()}
    assert bobs.id in ids and ran.id not in ids
    with pytest.raises(NotFound):
        # (``cf.execution`` is shadowed by the ``connectflow_dagster.execution`` module once imported.)
        authoring.execution(ran.id)  # Ada's execution is not Bob's


def test_unknown_local_user_is_named(cf, monkeypatch):
    cf.new_user("someone@example.com")
    monkeypatch.setenv("CONNECTFLOW_USER", "nobody@example.com")
    with pytest.raises(IdentityError, match=r"no account with the e-mail 'nobody@example\.com'"):
        cf_api.workflows()


def test_a_login_file_others_can_read_is_refused(cf):
    path = save_login("http://127.0.0.1:9", "cf_pat_000000000000_x")
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    os.chmod(path, 0o644)
    with pytest.raises(IdentityError, match="readable by other users"):
        cf_api.workflows()


def test_cli_create_user_then_run_as_that_account(cf):
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home)}
    env.pop("DAGSTER_HOME", None)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=180, cwd=ROOT
        )

    refused = cli("run", "examples/branching.json")
    assert refused.returncode == 1 and "connectflow create-user" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli("create-user", "grace@example.com", stdin="short\n").returncode == 1
    made = cli("create-user", "grace@example.com", "--name", "Grace", stdin="correct horse battery\n")
    assert made.returncode == 0, made.stderr
    done = cli("run", "examples/branching.json", "--json")
    assert done.returncode == 0, done.stderr
    assert cli("whoami").stdout.strip() == "grace@example.com (local)"
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.users import authenticate

    with session_scope() as session:
        grace = authenticate(session, "grace@example.com", "correct horse battery")
        assert grace is not None  # a real account: the same password signs in to the editor
        grace_id = grace.id
    assert _owner_workflows(grace_id) == [json.loads((ROOT / "examples/branching.json").read_text())["name"]]
