"""Notifications instead of polling (DESIGN.md decision 14), on SQLite and PostgreSQL.

With the safety poll set to an hour, only a notification can wake an idle worker, an after-run
webhook or a live-events stream within the tests' timeouts; with notifications off and a short
safety poll, nothing is lost either.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from connectflow_dagster.dispatch import inbox, notify
from connectflow_dagster.dispatch.config import get_dispatch_settings
from tests.dispatch.conftest import finished_execution, manual_set_workflow, save, wait_for
from tests.dispatch.test_webhook import hook_workflow

AN_HOUR = "3600"


def _configure(monkeypatch: pytest.MonkeyPatch, *, safety_poll: str, notifications: bool = True) -> None:
    monkeypatch.setenv("CONNECTFLOW_SAFETY_POLL_SECONDS", safety_poll)
    monkeypatch.setenv("CONNECTFLOW_NOTIFICATIONS", "true" if notifications else "false")
    get_dispatch_settings.cache_clear()


@pytest.fixture
def idle_worker(empty_inbox):
    """A real worker on a thread, already asleep waiting for work when the test gets it."""
    from connectflow_dagster.dispatch.worker import Worker

    worker = Worker(instance=empty_inbox.instance)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    assert worker.idle.wait(120), "the worker never went idle"
    yield worker
    worker.stop.set()  # wakes it: stopping does not wait for the safety poll either
    thread.join(timeout=60)
    assert not thread.is_alive()


@pytest.fixture
def slow_safety_poll(monkeypatch):
    _configure(monkeypatch, safety_poll=AN_HOUR)


def test_an_idle_worker_is_woken_by_an_enqueue(cf, backend, slow_safety_poll, idle_worker):
    owner = cf.new_user()
    wid, vid = save(manual_set_workflow(), owner)
    event_id, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
    execution = finished_execution(cf, event_id, timeout=120)
    assert execution.status == "success" and execution.context["greet"] == {"message": "hello Ada"}
    # …and it went back to sleep, and is woken again by the next one.
    assert wait_for(idle_worker.idle.is_set, timeout=60, what="the worker to sleep again")
    second, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Lin"})
    assert finished_execution(cf, second, timeout=120).context["greet"] == {"message": "hello Lin"}


def test_a_missed_notification_is_caught_by_the_safety_poll(cf, backend, monkeypatch, empty_inbox):
    _configure(monkeypatch, safety_poll="0.2", notifications=False)
    from connectflow_dagster.dispatch.worker import Worker

    worker = Worker(instance=cf.instance)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        assert worker.idle.wait(120)
        owner = cf.new_user()
        wid, vid = save(manual_set_workflow(), owner)
        event_id, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Grace"})  # sends nothing
        execution = finished_execution(cf, event_id, timeout=120)
        assert execution.context["greet"] == {"message": "hello Grace"}
    finally:
        worker.stop.set()
        thread.join(timeout=60)


def test_an_after_run_webhook_answers_when_the_run_ends(
    cf, backend, slow_safety_poll, live_gateway, idle_worker
):
    owner = live_gateway.user()
    wid, _ = save(
        hook_workflow(response_mode="after_run", response_node="reply", response_timeout_seconds=120),
        owner.user_id,
    )
    response = live_gateway.client().post(f"/api/webhooks/{wid}/orders", json={"orderId": "N-1"})
    # Not 202 (the timeout's fallback): the worker's run-end notification woke the request.
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"message": "order N-1 received"}


def test_live_events_follow_the_run_on_notifications(
    cf, backend, slow_safety_poll, live_gateway, idle_worker
):
    owner = live_gateway.user()
    wid, vid = save(manual_set_workflow(), owner.user_id)
    event_id, _ = inbox.enqueue(wid, owner.user_id, vid, "start", {"name": "Ada"})
    events = []
    with owner.stream("GET", f"/api/executions/{event_id}/events", timeout=120) as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: ") :])))
    assert events[0][0] == "queued" and events[-1] == ("end", events[-1][1])
    assert events[-1][1]["status"] == "success"
    assert ("node", "greet", "success") in {(k, d.get("node_id"), d.get("status")) for k, d in events}


def test_a_pending_event_canceled_ends_its_live_stream(cf, backend, slow_safety_poll, live_gateway):
    owner = live_gateway.user()  # no worker: the event stays pending until canceled
    wid, vid = save(manual_set_workflow(), owner.user_id)
    event_id, _ = inbox.enqueue(wid, owner.user_id, vid, "start", {"name": "Ada"})
    opened = threading.Event()
    result: list[tuple[str | None, dict]] = []

    def listen() -> None:
        with owner.stream("GET", f"/api/executions/{event_id}/events", timeout=120) as stream:
            kind = None
            for line in stream.iter_lines():
                opened.set()
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    result.append((kind, json.loads(line[len("data: ") :])))

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert opened.wait(60)
    canceled = owner.post(f"/api/executions/{event_id}/cancel")
    assert canceled.json() == {"execution_id": event_id, "status": "canceled"}
    reader.join(timeout=60)
    assert not reader.is_alive(), "the stream did not end on the cancel"
    assert result[-1] == ("end", {"status": "canceled"})
    assert owner.get(f"/api/executions/{event_id}").json()["status"] == "canceled"


def test_a_listener_on_a_dead_process_is_cleaned_up(cf):
    """SQLite's local channel: a socket left behind by a killed process is removed by the next send."""
    directory = notify.notify_dir() / notify.INBOX
    directory.mkdir(parents=True, exist_ok=True)
    stale = directory / "999999-dead.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(stale))
    sock.close()  # bound and gone, as when a process is killed: the file stays
    with notify.listen(notify.INBOX) as listener:
        notify.publish(notify.INBOX, "hello")
        assert [n.payload for n in listener.wait(30)] == ["hello"]
    assert not stale.exists()
    assert list(directory.glob("*.sock")) == []  # a closed listener removes its own socket


def test_a_worker_in_a_process_with_many_open_files_still_wakes(cf, backend, slow_safety_poll, empty_inbox):
    """A busy gateway holds more than 1024 descriptors; select(2) refused them and killed the worker."""
    import os
    import resource

    from connectflow_dagster.dispatch.worker import Worker

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open-files limit ({soft}) is too low to reach descriptor 1024")
    padding = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        worker = Worker(instance=empty_inbox.instance)  # its notification sockets land above 1024
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        assert worker.idle.wait(120), "the worker never went idle"
        owner = cf.new_user()
        wid, vid = save(manual_set_workflow(), owner)
        event_id, _ = inbox.enqueue(wid, owner, vid, "start", {"name": "Ada"})
        assert finished_execution(cf, event_id, timeout=120).status == "success"
        assert thread.is_alive()
        worker.stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        for fd in padding:
            os.close(fd)
