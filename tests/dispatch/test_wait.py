"""Wait node: a long wait holds no worker; a continuation run resumes it (timer or resume URL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.dispatch.conftest import manual_set_workflow, save, wait_for

pytestmark = pytest.mark.usefixtures("backend")


class WorkerThread:
    """One real ``Worker`` on one thread: the only executor of runs in these tests."""

    def __init__(self, instance: Any) -> None:
        from connectflow_dagster.dispatch.worker import Worker

        self.worker = Worker(instance=instance)
        self.thread = threading.Thread(target=self.worker.run_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.fixture
def one_worker(empty_inbox):
    workers: list[WorkerThread] = []

    def start() -> WorkerThread:
        workers.append(WorkerThread(empty_inbox.instance))
        return workers[-1]

    yield start
    for w in workers:
        if w.thread.is_alive():
            w.stop()


def webhook_wait_workflow() -> dict[str, Any]:
    """Manual → Set (the resume URL, as an e-mail node would send it) → Wait (webhook) → Set."""
    return {
        "name": "Approval",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            {
                "id": "ask",
                "type": "set",
                "name": "Ask",
                "params": {"fields": {"url": "{{ execution.resume_url }}", "who": "{{ trigger.who }}"}},
            },
            {"id": "pause", "type": "wait", "name": "Wait", "params": {"resume": "webhook"}},
            {
                "id": "after",
                "type": "set",
                "name": "After",
                "params": {"fields": {"answer": "{{ wait.body.answer }} for {{ ask.who }}"}},
            },
        ],
        "edges": [
            {"source": "start", "target": "ask"},
            {"source": "ask", "target": "pause"},
            {"source": "pause", "target": "after"},
        ],
    }


def execution(cf, execution_id: str):  # type: ignore[no-untyped-def]
    from connectflow_dagster.execution import get_execution

    return get_execution(cf.instance, execution_id)


def status_is(cf, execution_id: str, *wanted: str):  # type: ignore[no-untyped-def]
    from connectflow_dagster.errors import NotFound

    def check():  # type: ignore[no-untyped-def]
        try:
            ex = execution(cf, execution_id)
        except NotFound:
            return None
        return ex if ex.status in wanted else None

    return check


def test_a_long_wait_frees_the_worker_and_resumes_after_a_worker_restart(cf, live_gateway, one_worker):
    owner = live_gateway.user()
    wid, _ = save(webhook_wait_workflow(), owner.user_id)
    other, _ = save(manual_set_workflow(), owner.user_id)
    worker = one_worker()  # ONE worker thread

    first = owner.post(f"/api/workflows/{wid}/execute", json={"input": {"who": "Ada"}}).json()["execution_id"]
    waiting = wait_for(status_is(cf, first, "waiting", "failed"), what="the execution to wait")
    assert waiting.status == "waiting", waiting.error
    assert {n.node_id: n.status for n in waiting.nodes}["pause"] == "waiting"
    shown = owner.get(f"/api/executions/{first}").json()
    assert shown["status"] == "waiting" and shown["resume_url"].endswith(waiting.context["ask"]["url"][-80:])
    streamed = sse_events(owner, f"/api/executions/{first}/events")
    assert streamed[-2:] == [
        ("node", {"node_id": "pause", "status": "waiting", "at": streamed[-2][1]["at"]}),
        ("end", {"status": "waiting"}),
    ]

    # The one worker is free: another run executes while the first waits.
    second = owner.post(f"/api/workflows/{other}/execute", json={"input": {"name": "Bob"}}).json()
    done = wait_for(status_is(cf, second["execution_id"], "success", "failed"), what="the second run")
    assert done.status == "success" and done.context["greet"] == {"message": "hello Bob"}

    worker.stop()  # no worker at all now
    url = waiting.context["ask"]["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    client = live_gateway.client()
    assert client.post("/" + path[:-4] + "0000", json={}).status_code == 404  # wrong signature
    resumed = client.post("/" + path + "?via=mail", json={"answer": "yes"})
    assert resumed.status_code == 202, resumed.text
    assert client.post("/" + path, json={"answer": "again"}).status_code == 404  # single use

    one_worker()  # a new worker picks the continuation up
    final = wait_for(status_is(cf, first, "success", "failed"), what="the continuation to finish")
    assert final.status == "success", final.error
    assert final.context["after"] == {"answer": "yes for Ada"}
    assert (
        final.context["wait"]["query"] == {"via": "mail"} and final.context["wait"]["resumed_by"] == "webhook"
    )
    assert {n.node_id: n.status for n in final.nodes} == {
        "start": "success",
        "ask": "success",
        "pause": "success",
        "after": "success",
    }
    [continuation] = final.continuations
    assert owner.get(f"/api/executions/{first}").json()["continuations"] == [continuation]
    run = cf.instance.get_run_by_id(continuation)
    assert run.parent_run_id == first and run.root_run_id == first  # linked in the Dagster UI
    assert run.job_name == cf.instance.get_run_by_id(first).job_name  # the same versioned job
    # Listed once, as the first run's execution.
    listed = owner.get(f"/api/executions?workflow_id={wid}").json()["data"]
    assert [e["id"] for e in listed] == [first] and listed[0]["status"] == "success"


def test_a_timed_wait_resumes_by_itself_and_a_merge_after_it_runs_once(
    cf, live_gateway, one_worker, monkeypatch
):
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_WAIT_SLEEP_SECONDS", "0")  # every wait suspends its run
    get_settings.cache_clear()
    owner = live_gateway.user()
    workflow = {
        "name": "Timed",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {"id": "pause", "type": "wait", "name": "Wait", "params": {"amount": 1, "unit": "seconds"}},
            {"id": "side", "type": "set", "name": "Side", "params": {"fields": {"x": "1"}}},
            {"id": "join", "type": "merge", "name": "Join"},
        ],
        "edges": [
            {"source": "start", "target": "pause"},
            {"source": "start", "target": "side"},
            {"source": "pause", "target": "join"},
            {"source": "side", "target": "join"},
        ],
    }
    wid, _ = save(workflow, owner.user_id)
    one_worker()
    first = owner.post(f"/api/workflows/{wid}/execute", json={}).json()["execution_id"]
    # The live stream follows the execution into its continuation: one end, after the Merge ran.
    events = sse_events(owner, f"/api/executions/{first}/events")
    ends = [data for kind, data in events if kind == "end"]
    assert ends == [{"status": "success", "at": ends[0]["at"]}], events
    assert ("node", "join", "success") in [(k, d.get("node_id"), d.get("status")) for k, d in events]
    final = wait_for(status_is(cf, first, "success", "failed"), what="the timed wait to resume")
    assert final.status == "success", final.error
    assert final.context["wait"]["resumed_by"] == "timer"
    assert final.context["side"] == {"x": "1"}  # loaded from the first run in the continuation
    [continuation] = final.continuations
    # The Merge did not run in the first run with the side branch alone: it ran once, in the continuation.
    from dagster import DagsterEventType

    def starts(run_id: str) -> list[str]:
        return [e.step_key for e in cf.instance.all_logs(run_id, of_type={DagsterEventType.STEP_START})]

    assert not _produced(cf, first, "join") and _produced(cf, continuation, "join")
    assert sorted(starts(continuation)) == ["join", "pause"]  # the steps before the Wait are not re-run
    assert {n.node_id: n.status for n in final.nodes}["join"] == "success"


def sse_events(client, path: str) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    """Every server-sent event of ``path`` until the stream closes (after its ``end``)."""
    import json

    events: list[tuple[str, dict]] = []
    kind = ""
    with client.stream("GET", path, timeout=120) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


def _produced(cf, run_id: str, step: str) -> bool:  # type: ignore[no-untyped-def]
    from dagster import DagsterEventType

    return any(
        e.step_key == step for e in cf.instance.all_logs(run_id, of_type={DagsterEventType.STEP_OUTPUT})
    )


def test_resume_urls_refuse_strangers_huge_bodies_and_resume_once_under_concurrency(
    cf, live_gateway, one_worker
):
    from connectflow_dagster import waits

    owner, stranger = live_gateway.user(), live_gateway.user()
    wid, _ = save(webhook_wait_workflow(), owner.user_id)
    theirs, _ = save(webhook_wait_workflow(), stranger.user_id)
    one_worker()
    mine = owner.post(f"/api/workflows/{wid}/execute", json={"input": {"who": "A"}}).json()["execution_id"]
    other = stranger.post(f"/api/workflows/{theirs}/execute", json={"input": {"who": "B"}}).json()
    wait_for(status_is(cf, mine, "waiting"), what="mine to wait")
    wait_for(status_is(cf, other["execution_id"], "waiting"), what="theirs to wait")
    client = live_gateway.client()
    base = waits.RESUME_PATH
    listed = owner.get("/api/executions?status=waiting").json()
    assert [e["id"] for e in listed["data"]] == [mine] and listed["count"] == 1
    assert owner.get("/api/executions?status=success").json()["data"] == []
    # Another execution's signature, an unknown execution, a malformed one: all 404, nothing resumed.
    assert client.post(f"{base}/{mine}/{waits.signature(other['execution_id'])}").status_code == 404
    assert client.post(f"{base}/nope/{waits.signature('nope')}").status_code == 404
    assert client.post(f"{base}/{mine}/{'x' * 500}").status_code == 404
    # The other user cannot read or cancel my execution either.
    assert stranger.get(f"/api/executions/{mine}").status_code == 404
    huge = client.post(
        f"{base}/{mine}/{waits.signature(mine)}",
        content=b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert execution(cf, mine).status == "waiting"

    url = f"{base}/{mine}/{waits.signature(mine)}"
    barrier = threading.Barrier(8)

    def call(_: int) -> int:
        with live_gateway.client() as c:
            barrier.wait()
            return c.post(url, json={"answer": "race"}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(call, range(8)))
    assert codes.count(202) == 1 and codes.count(404) == 7, codes
    final = wait_for(status_is(cf, mine, "success", "failed"), what="the one continuation")
    assert final.status == "success" and len(final.continuations) == 1
    assert final.context["after"] == {"answer": "race for A"}
    assert execution(cf, other["execution_id"]).status == "waiting"  # untouched

    # Canceling a waiting execution: only by its owner; its resume URL is dead after.
    theirs_id = other["execution_id"]
    assert owner.post(f"/api/executions/{theirs_id}/cancel").status_code == 404
    canceled = stranger.post(f"/api/executions/{theirs_id}/cancel")
    assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
    assert execution(cf, theirs_id).status == "canceled"
    assert client.post(f"{base}/{theirs_id}/{waits.signature(theirs_id)}", json={}).status_code == 404


from tests.engine.test_cli import cli  # noqa: E402,F401 — the CLI as a user runs it (subprocess)


def test_the_wait_for_webhook_example_runs_with_the_cli_and_resumes(cf, cli):  # noqa: F811
    import json
    from urllib.parse import urlsplit

    from fastapi.testclient import TestClient

    from connectflow_dagster.dispatch.worker import Worker
    from gateway.app import create_app

    started = cli("run", "examples/wait_for_webhook.json", "--json")
    assert started.returncode == 0, started.stderr
    waiting = json.loads(started.stdout)
    assert waiting["status"] == "waiting"
    url = waiting["context"]["request"]["approve_url"]
    shown = cli("executions", waiting["id"])
    assert "waiting" in shown.stdout and "pause" in shown.stdout

    with TestClient(create_app()) as client:
        answer = client.post(urlsplit(url).path, json={"decision": "approved"})
        assert answer.status_code == 202, answer.text
    Worker(instance=cf.instance).run_one()  # what a running worker does with the continuation
    final = execution(cf, waiting["id"])
    assert final.status == "success", final.error
    assert final.context["record_the_decision"] == {"order": "A-1042", "decision": "approved"}


def test_the_sensor_path_submits_a_continuation_like_the_worker_creates_it(cf, empty_inbox, monkeypatch):
    from dagster import DagsterRunStatus, build_sensor_context

    from connectflow_dagster import waits
    from connectflow_dagster.dispatch import inbox
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.dagster_defs import inbox_sensor
    from connectflow_dagster.dispatch.worker import Worker
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.tags import TAG_RESUMED

    owner = cf.new_user()
    wid, vid = save(webhook_wait_workflow(), owner)
    first, _ = inbox.enqueue(wid, owner, vid, "start", {"who": "Ada"})
    Worker(instance=cf.instance).run_one()
    assert execution(cf, first).status == "waiting"
    with session_scope() as session:
        wait = waits.pending_webhook_wait(session, first)
        continuation = waits.resume(session, wait, {"body": {"answer": "ok"}, "method": "POST"})

    monkeypatch.setenv("CONNECTFLOW_DISPATCH", "sensor")
    get_dispatch_settings.cache_clear()
    with build_sensor_context(instance=cf.instance) as context:
        result = inbox_sensor().evaluate_tick(context)
    assert continuation in result.skip_message
    run = cf.instance.get_run_by_id(continuation)
    assert run.status == DagsterRunStatus.QUEUED  # handed to the run coordinator / launcher
    assert run.parent_run_id == first and run.root_run_id == first
    assert sorted(run.step_keys_to_execute) == ["after", "pause"]
    assert run.tags[TAG_RESUMED] == "pause"
    config = run.run_config["resources"]["cf_trigger"]["config"]
    assert config["resume_node"] == "pause" and '"answer": "ok"' in config["resume_json"]
    assert run.job_name == cf.instance.get_run_by_id(first).job_name


def test_a_webhook_wait_with_a_time_limit_resumes_by_itself_and_its_url_is_dead_after(
    cf, live_gateway, one_worker
):
    from connectflow_dagster import waits

    owner = live_gateway.user()
    workflow = webhook_wait_workflow()
    workflow["nodes"][2]["params"] = {"resume": "webhook", "limit_seconds": 1}
    workflow["nodes"][3]["params"] = {"fields": {"answer": "{{ wait.timed_out }}"}}
    wid, _ = save(workflow, owner.user_id)
    one_worker()
    first = owner.post(f"/api/workflows/{wid}/execute", json={"input": {"who": "A"}}).json()["execution_id"]
    client = live_gateway.client()
    url = f"{waits.RESUME_PATH}/{first}/{waits.signature(first)}"
    assert client.head(url).status_code == 405  # a link checker's HEAD never resumes it
    final = wait_for(status_is(cf, first, "success", "failed"), what="the time limit to resume it")
    assert final.status == "success", final.error
    assert final.context["wait"]["resumed_by"] == "timer" and final.context["after"] == {"answer": True}
    assert client.post(url, json={}).status_code == 404


def test_a_loop_after_a_wait_runs_its_items_in_the_continuation(cf, live_gateway, one_worker, monkeypatch):
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_WAIT_SLEEP_SECONDS", "0")  # the wait suspends its run
    get_settings.cache_clear()
    owner = live_gateway.user()
    workflow = {
        "name": "Wait then loop",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {"id": "pause", "type": "wait", "name": "Wait", "params": {"amount": 1, "unit": "seconds"}},
            {"id": "each", "type": "loop", "name": "Each", "params": {"items": [1, 2, 3]}},
            {"id": "double", "type": "set", "name": "Double", "params": {"fields": {"v": "{{ item * 2 }}"}}},
            {"id": "collect", "type": "aggregate", "name": "Collect", "params": {"value": "{{ double.v }}"}},
        ],
        "edges": [
            {"source": "start", "target": "pause"},
            {"source": "pause", "target": "each"},
            {"source": "each", "target": "double"},
            {"source": "double", "target": "collect"},
        ],
    }
    wid, _ = save(workflow, owner.user_id)
    one_worker()
    first = owner.post(f"/api/workflows/{wid}/execute", json={}).json()["execution_id"]
    final = wait_for(status_is(cf, first, "success", "failed"), what="the wait to resume and the loop to run")
    assert final.status == "success", final.error
    assert final.context["collect"] == {"data": [2, 4, 6], "count": 3}
    [continuation] = final.continuations
    assert _produced(cf, continuation, "double[2]") and not _produced(cf, first, "each")
