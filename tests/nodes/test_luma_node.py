"""luma.generate_image against a local server speaking Luma's Dream Machine API."""

from __future__ import annotations

import httpx

from connectflow_dagster.nodes.luma import credential


def _cred(book, luma):  # type: ignore[no-untyped-def]
    return book.add("luma_api", api_key=luma.api_key, base_url=luma.base_url)


def test_creates_a_generation_and_polls_until_it_completes(run_action, book, luma, http_server):
    ex, act = run_action(
        "luma.generate_image",
        {
            "prompt": "A blue mug on a desk, {{ trigger.style }}",
            "aspect_ratio": "1:1",
            "poll_interval_seconds": 0,
        },
        _cred(book, luma),
        payload={"style": "studio light"},
    )
    assert ex.status == "success", ex.error
    [create] = luma.requests
    assert create.json() == {
        "prompt": "A blue mug on a desk, studio light",
        "model": "photon-1",
        "aspect_ratio": "1:1",
    }
    assert create.headers["authorization"] == f"Bearer {luma.api_key}"
    [generation_id] = luma.generations
    polls = [r for r in http_server.requests if r.method == "GET"]
    assert [r.path for r in polls] == [
        f"/dream-machine/v1/generations/{generation_id}"
    ] * 3  # 2 pending, done
    assert luma.polls[generation_id] == 3
    assert act.output == {
        "image_url": f"https://storage.cdn-luma.com/images/{generation_id}.jpg",
        "prompt": "A blue mug on a desk, studio light",
        "generation_id": generation_id,
    }


def test_a_failed_generation_fails_the_node_with_luma_s_reason(run_action, book, luma):
    luma.final_state = "failed"
    ex, act = run_action(
        "luma.generate_image",
        {"prompt": "x", "poll_interval_seconds": 0},
        _cred(book, luma),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "failed: Prompt was flagged by moderation" in act.error


def test_a_transient_error_while_polling_is_waited_out_without_a_second_generation(
    run_action, book, luma, http_server
):
    ex, act = run_action(
        "luma.generate_image", {"prompt": "x", "poll_interval_seconds": 0}, _cred(book, luma)
    )
    assert ex.status == "success", ex.error
    generations_before = len(luma.generations)
    original = luma.pending_polls
    luma.pending_polls = 0
    # A generation whose first status check answers 503: polling goes on.
    state = {"failed_once": False}

    def flaky_create(request):  # type: ignore[no-untyped-def]
        reply = luma._create(request)
        generation_id = reply[2]["id"]
        path = f"/dream-machine/v1/generations/{generation_id}"
        good = http_server.routes[("GET", path)]

        def flaky_get(req):  # type: ignore[no-untyped-def]
            if not state["failed_once"]:
                state["failed_once"] = True
                return 503, {}, {"detail": "busy"}
            return good(req)

        http_server.route("GET", path, flaky_get)
        return reply

    http_server.route("POST", "/dream-machine/v1/generations/image", flaky_create)
    ex, act = run_action(
        "luma.generate_image", {"prompt": "y", "poll_interval_seconds": 0}, _cred(book, luma)
    )
    luma.pending_polls = original
    assert ex.status == "success", ex.error
    assert act.attempts == 1 and state["failed_once"]
    assert len(luma.generations) == generations_before + 1


def test_waiting_longer_than_the_timeout_fails_naming_the_generation(run_action, book, luma):
    luma.pending_polls = 10**9  # never completes
    ex, act = run_action(
        "luma.generate_image",
        {"prompt": "x", "poll_interval_seconds": 0.01, "timeout_seconds": 0.3},
        _cred(book, luma),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    [generation_id] = luma.generations
    assert ex.status == "failed" and act.attempts == 1  # a retry would pay for a second generation
    assert generation_id in act.error and "still 'dreaming'" in act.error
    assert "params.timeout_seconds" in act.error


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, luma):
    ex, _ = run_action("luma.generate_image", {"prompt": "{{ brief.text }}"}, _cred(book, luma))
    assert ex.status == "failed"
    assert "node 'act'" in ex.error and "field 'params.prompt'" in ex.error and "variable 'brief'" in ex.error


def test_the_credential_test_lists_generations(luma):
    fields = credential.fields(api_key=luma.api_key, base_url=luma.base_url)
    with httpx.Client() as http:
        assert credential.test(fields, http) == "Luma accepted the API key"
    assert luma.api_key not in repr(fields)
