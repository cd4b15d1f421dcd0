"""Google Form responses against the running gateway: the per-trigger secret, Apps Script, dedup."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES
from tests.dispatch.conftest import finished_execution, inbox_rows, save

pytestmark = pytest.mark.usefixtures("backend")

RESPONSE = (FIXTURES / "google_forms" / "response.json").read_bytes()


def form_workflow(form_id: str | None = None) -> dict:
    return {
        "name": "Form → note",
        "nodes": [
            {
                "id": "form",
                "type": "trigger.google_form",
                "name": "Google Form",
                "params": {"form_id": form_id},
            },
            {
                "id": "note",
                "type": "set",
                "name": "Note",
                "params": {"fields": {"who": "{{ google_form.responses['Full name'] }}"}},
            },
        ],
        "edges": [{"source": "form", "target": "note"}],
    }


@pytest.fixture
def form(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(form_workflow(), owner.user_id)
    created = owner.post(f"/api/workflows/{wid}/triggers/form/secret")
    assert created.status_code == 201, created.text
    info = created.json()
    return wid, owner, info


def send(
    client, wid: str, secret: str | None, body: bytes = RESPONSE, content_type: str = "application/json"
):
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.post(f"/api/webhooks/google-form/{wid}", content=body, headers=headers)


def test_the_trigger_offers_an_apps_script_with_its_url_and_secret_shown_once(cf, live_gateway, form):
    wid, owner, info = form
    assert info["url"] == f"{live_gateway.url}/api/webhooks/google-form/{wid}"
    assert (
        json.dumps(info["url"]) in info["apps_script"] and json.dumps(info["secret"]) in info["apps_script"]
    )
    assert "function onFormSubmit(e)" in info["apps_script"]
    later = owner.get(f"/api/workflows/{wid}/triggers/form").json()
    assert later["secret_configured"] is True and later["secret"] is None
    assert info["secret"] not in later["apps_script"]


def test_a_response_runs_once_with_the_form_context(cf, live_gateway, worker_thread, form):
    wid, _, info = form
    client = live_gateway.client()
    first = send(client, wid, info["secret"])
    assert first.status_code == 202, first.text
    execution_id = first.json()["execution_id"]
    again = send(client, wid, info["secret"])
    assert again.status_code == 200 and again.json()["execution_id"] == execution_id

    execution = finished_execution(cf, execution_id)
    assert execution.status == "success", execution.error
    body = json.loads(RESPONSE)
    assert execution.context["google_form"] == {
        "form_id": body["formId"],
        "response_id": body["responseId"],
        "timestamp": body["timestamp"],
        "respondent_email": "ada@example.com",
        "responses": body["responses"],
    }
    assert execution.context["note"] == {"who": "Ada Lovelace"}
    assert len(inbox_rows(wid)) == 1
    run = cf.instance.get_run_by_id(execution_id)
    assert info["secret"] not in json.dumps([run.run_config, run.tags])


def test_wrong_or_missing_secret_and_bad_bodies_are_refused(cf, live_gateway, form):
    wid, _, info = form
    client = live_gateway.client()
    assert send(client, wid, None).status_code == 401
    assert send(client, wid, "not-the-secret").status_code == 401
    assert send(client, wid, info["secret"], content_type="text/plain").status_code == 415
    assert send(client, wid, info["secret"], body=b"{oops").status_code == 400
    assert send(client, wid, info["secret"], body=b'{"formId": "f"}').status_code == 400
    assert send(client, "nope", info["secret"]).status_code == 404
    assert inbox_rows(wid) == []


def test_a_form_trigger_without_a_secret_accepts_nothing(cf, live_gateway):
    owner = live_gateway.user()
    wid, _ = save(form_workflow(), owner.user_id)
    assert send(live_gateway.client(), wid, "anything").status_code == 401
    assert inbox_rows(wid) == []


def test_another_user_gets_404_for_the_trigger(cf, live_gateway, form):
    wid, _, _ = form
    other = live_gateway.user()
    assert other.get(f"/api/workflows/{wid}/triggers/form").status_code == 404
    assert other.post(f"/api/workflows/{wid}/triggers/form/secret").status_code == 404
