"""The Python API and the CLI as a gateway user: a real uvicorn gateway (+ a warm worker), a real
token, HTTP all the way (``connectflow_dagster.remote``), ``connectflow login``/``logout`` as
subprocesses with their own XDG config directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectflow_dagster as cf_api
from connectflow_dagster import authoring
from connectflow_dagster.errors import NotFound
from connectflow_dagster.remote import RemoteError
from tests.conftest import ROOT
from tests.gateway.conftest import PASSWORD, manual_workflow
from tests.ui.conftest import LiveGateway, worker  # noqa: F401  (the worker fixture)

CLI = [str(Path(sys.executable).parent / "connectflow")]


@pytest.fixture
def live(cf: Any, worker: Any) -> Iterator[LiveGateway]:  # noqa: F811
    from gateway.app import create_app

    with LiveGateway(create_app()) as server:
        yield server


class Browser:
    """A signed-in account on the live gateway (cookie + CSRF), for what the editor does."""

    def __init__(self, base: str, email: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)
        response = self.http.post("/api/auth/sign-up/email", json={"email": email, "password": PASSWORD})
        assert response.status_code == 202, response.text
        response = self.http.post("/api/auth/sign-in/email", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        self.id = response.json()["user"]["id"]
        self.email = email

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers={"X-CSRF-Token": self.csrf}, **kwargs)

    def token(self, **body: Any) -> str:
        created = self.call("POST", "/api/tokens", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["token"])


def _greeter(name: str) -> cf_api.WorkflowBuilder:
    wf = cf_api.WorkflowBuilder(name)
    start = wf.add("trigger.manual", "Start", variable_name="trigger")
    greet = wf.add("set", "Greeting", fields={"text": "Hello {{ trigger.name }}"})
    wf.connect(start, greet)
    return wf


@pytest.mark.usefixtures("backend")
def test_python_api_acts_as_the_token_user_through_rest(live, monkeypatch):
    ada, bob = Browser(live.url, "ada@example.com"), Browser(live.url, "bob@example.com")
    monkeypatch.setenv("CONNECTFLOW_URL", live.url)
    monkeypatch.setenv("CONNECTFLOW_TOKEN", ada.token(name="notebook"))
    assert cf_api.whoami() == f"ada@example.com at {live.url}"

    wf = _greeter("From the notebook")
    execution = cf_api.run(wf, {"name": "Ada"})
    assert execution.status == "success", execution.error
    assert execution.context["greeting"]["text"] == "Hello Ada"
    assert {n.node_id: n.status for n in execution.nodes} == {"start": "success", "greeting": "success"}
    # Saved under Ada: in her editor's list, not in Bob's; the builder remembers the id.
    listed = ada.call("GET", "/api/workflows").json()["data"]
    assert [(w["id"], w["name"]) for w in listed] == [(wf.id, "From the notebook")]
    assert bob.call("GET", "/api/workflows").json()["count"] == 0
    assert bob.call("GET", f"/api/executions/{execution.id}").status_code == 404

    # Running again versions the same workflow; history reads back over REST.
    again = cf_api.run(wf, {"name": "Again"})
    assert again.workflow_id == wf.id
    assert [e.id for e in cf_api.executions(workflow_id=wf.id)] == [again.id, execution.id]
    assert authoring.execution(execution.id).context == execution.context

    # A workflow made in the editor loads and runs from Python; another user's does not.
    made = ada.call("POST", "/api/workflows", json=manual_workflow(name="Made in the editor")).json()
    assert {w.id for w in cf_api.workflows()} == {wf.id, made["id"]}
    loaded = cf_api.load(made["id"])
    assert loaded.name == "Made in the editor"
    ran = cf_api.run(loaded, {"order_id": "A-9"})
    assert ran.status == "success" and ran.context["summary"]["text"] == "order A-9"
    bobs = bob.call("POST", "/api/workflows", json=manual_workflow(name="Bob's")).json()
    with pytest.raises(NotFound):
        cf_api.load(bobs["id"])
    with pytest.raises(NotFound):  # an id that is Bob's is not taken over by a save
        cf_api.save(
            cf_api.WorkflowBuilder.from_workflow(loaded.build().model_copy(update={"id": bobs["id"]}))
        )

    saved = cf_api.save(wf)
    assert saved.url == f"{live.url}/ui/editor?id={wf.id}" and saved.created is False


def test_scopes_and_revocation_reach_the_python_api(live, monkeypatch):
    ada = Browser(live.url, "ada@example.com")
    monkeypatch.setenv("CONNECTFLOW_URL", live.url)
    monkeypatch.setenv("CONNECTFLOW_TOKEN", ada.token(scopes=["read"]))
    with pytest.raises(RemoteError) as err:
        cf_api.run(_greeter("Read only"), {"name": "x"})
    assert err.value.status == 403 and "'write' scope" in str(err.value)
    assert cf_api.workflows() == []

    token = ada.token(scopes=["read", "write", "execute"])
    cf_api.connect(url=live.url, token=token)  # in-process choice wins over the environment
    assert cf_api.run(_greeter("Full"), {"name": "x"}).status == "success"
    [row] = [t for t in ada.call("GET", "/api/tokens").json()["data"] if token.startswith(t["prefix"] + "_")]
    assert ada.call("DELETE", f"/api/tokens/{row['id']}").status_code == 204
    with pytest.raises(RemoteError) as err:
        cf_api.workflows()
    assert err.value.status == 401 and "revoked" in str(err.value)


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=240, cwd=ROOT
    )


@pytest.mark.timeout(900)  # a dozen CLI processes, each importing Dagster
def test_cli_login_run_and_logout_round_trip(live, cf, tmp_path):
    ada = Browser(live.url, "ada@example.com")
    config = tmp_path / "xdg"
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "CONNECTFLOW_HOME": str(tmp_path / "elsewhere")}
    for name in ("CONNECTFLOW_TOKEN", "CONNECTFLOW_URL", "CONNECTFLOW_USER", "DAGSTER_HOME"):
        env.pop(name, None)
    env.pop("CONNECTFLOW_DATABASE_URL", None)  # the CLI needs no database of its own when logged in

    wrong = _cli(env, "login", "--url", live.url, "--email", "ada@example.com", stdin="not the password\n")
    assert wrong.returncode == 1 and "wrong e-mail or password" in wrong.stderr
    login_file = config / "connectflow" / "login.json"
    assert not login_file.exists()

    done = _cli(env, "login", "--url", live.url, "--email", "ada@example.com", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "as ada@example.com" in done.stdout and PASSWORD not in done.stdout + done.stderr
    assert login_file.stat().st_mode & 0o777 == 0o600
    assert login_file.parent.stat().st_mode & 0o777 == 0o700
    saved = json.loads(login_file.read_text())
    assert saved["url"] == live.url and saved["token"].startswith("cf_pat_") and "password" not in saved
    [token] = ada.call("GET", "/api/tokens").json()["data"]
    assert token["prefix"] == saved["prefix"] and token["name"].startswith("connectflow login on ")
    assert token["state"] == "active"
    # Login signed its temporary browser session out again: only the token stays.
    assert _cli(env, "whoami").stdout.strip() == f"ada@example.com at {live.url}"

    ran = _cli(env, "run", "examples/branching.json", "--input", '{"order_id": "Z", "amount": 500}', "--json")
    assert ran.returncode == 0, ran.stderr
    execution = json.loads(ran.stdout)
    assert execution["status"] == "success" and "big_order" in execution["context"]
    names = [w["name"] for w in ada.call("GET", "/api/workflows").json()["data"]]
    assert names == [json.loads((ROOT / "examples" / "branching.json").read_text())["name"]]
    listed = _cli(env, "executions", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (
        row["id"] == execution["id"]
        and {n["node_id"]: n["status"] for n in row["nodes"]}["small"] == "skipped"
    )
    assert execution["id"] in _cli(env, "executions", execution["id"]).stdout

    out = _cli(env, "logout")
    assert out.returncode == 0, out.stderr
    assert not login_file.exists()
    assert ada.call("GET", "/api/tokens").json()["data"][0]["state"] == "revoked"
    after = httpx.get(f"{live.url}/api/auth/me", headers={"Authorization": f"Bearer {saved['token']}"})
    assert after.status_code == 401

    # The environment overrides the (absent) file; `login --token` keeps an existing token.
    other = ada.token(name="ci")
    env_run = _cli({**env, "CONNECTFLOW_TOKEN": other, "CONNECTFLOW_URL": live.url}, "whoami")
    assert env_run.stdout.strip() == f"ada@example.com at {live.url}"
    kept = _cli(env, "login", "--url", live.url, "--token", other)
    assert kept.returncode == 0 and json.loads(login_file.read_text())["token"] == other
    bad = _cli(env, "login", "--url", live.url, "--token", "cf_pat_000000000000_nope")
    assert bad.returncode == 1 and "invalid personal access token" in bad.stderr
