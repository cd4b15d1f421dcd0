"""instagram.publish against a local server speaking the Instagram Graph API (content publishing)."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from connectflow_dagster.errors import WorkflowInvalid
from connectflow_dagster.nodes.instagram import credential


def _cred(book, instagram, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "access_token": instagram.access_token,
        "account_id": instagram.account_id,
        "base_url": instagram.base_url,
        **overrides,
    }
    return book.add("instagram_graph", **data)


def test_creates_a_container_then_publishes_it(run_action, book, instagram, http_server):
    ex, act = run_action(
        "instagram.publish",
        {"image_url": "{{ trigger.image }}", "caption": "New drop: {{ trigger.name }} #shop"},
        _cred(book, instagram),
        payload={"image": "https://cdn.example.com/p/42.jpg", "name": "Blue mug"},
    )
    assert ex.status == "success", ex.error
    create, publish = [r for r in http_server.requests if r.method == "POST"]
    root = f"/v23.0/{instagram.account_id}"
    assert create.path == f"{root}/media" and publish.path == f"{root}/media_publish"
    assert parse_qs(create.body.decode()) == {
        "image_url": ["https://cdn.example.com/p/42.jpg"],
        "caption": ["New drop: Blue mug #shop"],
    }
    assert create.headers["authorization"] == f"Bearer {instagram.access_token}"
    assert instagram.access_token not in create.path + publish.path  # the token never travels in a URL
    [creation_id] = instagram.containers
    assert parse_qs(publish.body.decode()) == {"creation_id": [creation_id]}
    assert instagram.published == [creation_id]
    assert act.output == {"success": True, "creation_id": creation_id, "post_id": "18000000000000001"}


def test_a_graph_error_on_publish_fails_with_its_message(run_action, book, instagram):
    instagram.containers.clear()
    ex, act = run_action(
        "instagram.publish",
        {"image_url": "https://cdn.example.com/a.jpg"},
        _cred(book, instagram),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    assert ex.status == "success", ex.error  # sanity: normal path works with retries configured
    instagram.fail_next(
        400,
        {},
        {
            "error": {
                "message": "(#100) Only photo or video can be accepted as media type.",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2207052,
            }
        },
    )
    ex, act = run_action(
        "instagram.publish",
        {"image_url": "https://cdn.example.com/a.pdf"},
        _cred(book, instagram),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "Only photo or video" in act.error and "(HTTP 400, code 100, subcode 2207052)" in act.error


def test_image_url_must_be_http_when_saved_and_when_rendered(run_action, book, instagram):
    with pytest.raises(WorkflowInvalid, match=r"node 'act', field 'params.image_url'.*http"):
        run_action("instagram.publish", {"image_url": "file:///etc/passwd"}, _cred(book, instagram))
    ex, act = run_action(
        "instagram.publish",
        {"image_url": "{{ trigger.url }}"},
        _cred(book, instagram),
        payload={"url": "file:///etc/passwd"},
    )
    assert ex.status == "failed" and "field 'params.image_url'" in act.error
    assert instagram.requests == []


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, instagram):
    ex, _ = run_action(
        "instagram.publish",
        {"image_url": "https://x.test/a.jpg", "caption": "{{ product.name }}"},
        _cred(book, instagram),
    )
    assert ex.status == "failed"
    assert (
        "node 'act'" in ex.error and "field 'params.caption'" in ex.error and "variable 'product'" in ex.error
    )


def test_the_credential_test_reads_the_account(instagram):
    fields = credential.fields(
        access_token=instagram.access_token, account_id=instagram.account_id, base_url=instagram.base_url
    )
    with httpx.Client() as http:
        assert credential.test(fields, http) == "connected to Instagram account @connectflow_shop"
    assert instagram.access_token not in repr(fields)
