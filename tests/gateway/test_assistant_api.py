"""The assistant through the real API against a local OpenAI-compatible server that answers with
scripted model outputs (tests/conftest.py LocalHTTPServer)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LocalHTTPServer

KEY = "sk-assistant-test"

GOOD = {
    "name": "API status to Slack",
    "nodes": [
        {
            "id": "every_morning",
            "type": "trigger.schedule",
            "name": "Every morning",
            "params": {"cron": "0 9 * * *"},
        },
        {
            "id": "fetch",
            "type": "http.request",
            "name": "Fetch status",
            "params": {"method": "GET", "url": "https://api.example.com/status"},
        },
        {
            "id": "post",
            "type": "slack.send",
            "name": "Post to Slack",
            "params": {"text": "{{ fetch_status.status }}"},
        },
    ],
    "edges": [{"source": "every_morning", "target": "fetch"}, {"source": "fetch", "target": "post"}],
}
DANGLING = {**GOOD, "edges": [*GOOD["edges"], {"source": "post", "target": "nowhere"}]}


class ScriptedLLM:
    """``/v1/chat/completions``: answers each request with the next scripted (status, content)."""

    def __init__(self, server: LocalHTTPServer) -> None:
        self.server = server
        self.script: deque[tuple[int, str]] = deque()
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server.route("POST", "/v1/chat/completions", self._reply)

    @property
    def base(self) -> str:
        return f"{self.server.url}/v1"

    def say(self, *contents: str | dict[str, Any], status: int = 200) -> None:
        for c in contents:
            self.script.append((status, c if isinstance(c, str) else json.dumps(c)))

    def _reply(self, request: Any) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return 401, {}, {"error": {"message": "bad key", "type": "invalid_request_error"}}
        body = request.json()
        with self._lock:
            self.bodies.append(body)
            status, content = self.script.popleft() if self.script else (200, "no more script")
        if status != 200:
            return status, {}, {"error": {"message": content, "type": "server_error"}}
        return (
            200,
            {},
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1763640000,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            },
        )


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLM]:
    from connectflow_dagster.config import get_settings

    with LocalHTTPServer() as server:
        fake = ScriptedLLM(server)
        monkeypatch.setenv("CONNECTFLOW_ASSISTANT_MODEL", "openai/gen-model")
        monkeypatch.setenv("CONNECTFLOW_ASSISTANT_API_BASE", fake.base)
        monkeypatch.setenv("CONNECTFLOW_ASSISTANT_API_KEY", KEY)
        get_settings.cache_clear()
        yield fake
        get_settings.cache_clear()


def _generate(user: Any, text: str, **extra: Any) -> dict[str, Any]:
    response = user.post("/api/assistant/generate", json={"request": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_good_workflow_first_attempt_with_structured_output(gateway: Any, llm: ScriptedLLM) -> None:
    llm.say(GOOD)
    answer = _generate(gateway.user(), "Every morning post our API status to Slack")
    assert answer["valid"] is True and answer["repairs"] == 0 and answer["source"] == "model"
    assert [n["type"] for n in answer["workflow"]["nodes"]] == [
        "trigger.schedule",
        "http.request",
        "slack.send",
    ]
    assert answer["credentials_needed"][0]["credential_type"] == "slack_webhook"
    assert answer["tokens"] == 150 and answer["model"]
    sent = llm.bodies[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert "nodes" in sent["response_format"]["json_schema"]["schema"]["properties"]
    assert "slack.send" in sent["messages"][0]["content"]  # the node catalogue


def test_broken_json_then_repaired(gateway: Any, llm: ScriptedLLM) -> None:
    llm.say('{"name": "oops", "nodes": [', GOOD)
    answer = _generate(gateway.user(), "Every morning post our API status to Slack")
    assert answer["valid"] is True and answer["repairs"] == 1
    repair_prompt = llm.bodies[1]["messages"][-1]["content"]
    assert "not valid JSON" in repair_prompt


def test_dangling_edge_is_fed_back_and_repaired(gateway: Any, llm: ScriptedLLM) -> None:
    llm.say(DANGLING, GOOD)
    answer = _generate(gateway.user(), "Every morning post our API status to Slack")
    assert answer["valid"] is True and answer["repairs"] == 1
    repair_prompt = llm.bodies[1]["messages"][-1]["content"]
    assert "nowhere" in repair_prompt  # the validator's exact problem names the dangling target


def test_still_invalid_after_repairs_is_a_draft_with_its_problems(
    gateway: Any, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_ASSISTANT_MAX_REPAIRS", "1")
    get_settings.cache_clear()
    llm.say(DANGLING, DANGLING)
    answer = _generate(gateway.user(), "Every morning post our API status to Slack")
    assert answer["valid"] is False and answer["repairs"] == 1
    assert any("nowhere" in p for p in answer["problems"])
    assert len(llm.bodies) == 2


def test_provider_500_falls_back_to_the_fallback_provider(
    gateway: Any, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectflow_dagster.config import get_settings

    with LocalHTTPServer() as server2:
        fallback = ScriptedLLM(server2)
        monkeypatch.setenv("CONNECTFLOW_ASSISTANT_FALLBACK_MODEL", "openai/fallback-model")
        monkeypatch.setenv("CONNECTFLOW_ASSISTANT_FALLBACK_API_BASE", fallback.base)
        get_settings.cache_clear()
        llm.say("provider exploded", status=500)
        fallback.say(GOOD)
        answer = _generate(gateway.user(), "Every morning post our API status to Slack")
    assert answer["valid"] is True
    assert llm.bodies and fallback.bodies[0]["model"] == "fallback-model"


def test_every_provider_failing_gives_a_clear_message_and_the_template(
    gateway: Any, llm: ScriptedLLM
) -> None:
    llm.say("down", status=500)
    answer = _generate(gateway.user(), "Every morning fetch our status API and post it to Slack")
    assert "model call failed" in answer["message"] and KEY not in json.dumps(answer)
    assert answer["source"] == "template" and answer["workflow"] is not None


def test_question_is_answered_without_a_workflow(gateway: Any, llm: ScriptedLLM) -> None:
    llm.say("Credentials are stored encrypted and picked per node.")
    answer = _generate(gateway.user(), "How are credentials stored?")
    assert answer["intent"] == "question"
    assert answer["workflow"] is None
    assert answer["message"] == "Credentials are stored encrypted and picked per node."
    assert "response_format" not in llm.bodies[0]


def test_without_a_model_generate_answers_with_a_template(gateway: Any) -> None:
    answer = _generate(gateway.user(), "post google form responses to discord")
    assert answer["source"] == "template" and answer["valid"] is True
    assert "CONNECTFLOW_ASSISTANT_MODEL" in answer["message"]


def test_conversation_history_is_kept_titled_and_isolated_per_user(gateway: Any, llm: ScriptedLLM) -> None:
    ada, eve = gateway.user(), gateway.user()
    created = ada.post("/api/assistant/conversations", json={})
    assert created.status_code == 201
    cid = created.json()["id"]
    llm.say(GOOD)
    sent = ada.post(
        f"/api/assistant/conversations/{cid}/messages",
        json={"content": "Every morning post our API status to Slack"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["conversation"]["title"] == "Every morning post our API status to Slack"
    detail = ada.get(f"/api/assistant/conversations/{cid}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    meta = detail["messages"][1]["meta"]
    assert meta["workflow"]["name"] == "API status to Slack"
    assert meta["tokens"] == 150 and meta["repairs"] == 0 and meta["model"] and "latency_ms" in meta
    assert [c["id"] for c in ada.get("/api/assistant/conversations").json()["data"]] == [cid]

    assert eve.get("/api/assistant/conversations").json()["count"] == 0
    assert eve.get(f"/api/assistant/conversations/{cid}").status_code == 404
    assert eve.post(f"/api/assistant/conversations/{cid}/messages", json={"content": "hi"}).status_code == 404
    assert eve.delete(f"/api/assistant/conversations/{cid}").status_code == 404
    assert len(llm.bodies) == 1  # nothing reached the model for eve
    assert ada.delete(f"/api/assistant/conversations/{cid}").status_code == 204
    assert ada.get(f"/api/assistant/conversations/{cid}").status_code == 404


def test_generation_log_is_kept_per_owner(gateway: Any, llm: ScriptedLLM) -> None:
    from sqlalchemy.orm import Session

    from connectflow_dagster.assistant import history
    from connectflow_dagster.store.db import get_engine

    ada = gateway.user()
    llm.say(DANGLING, GOOD)
    _generate(ada, "Every morning post our API status to Slack")
    with Session(get_engine()) as session:
        rows = history.generations(session, ada.id or "")
        other = history.generations(session, "someone-else")
    assert [(r.purpose, r.status) for r in reversed(rows)] == [("generate", "invalid"), ("repair", "ok")]
    assert rows[0].model and rows[0].tokens == 150 and other == []


@pytest.mark.parametrize(
    "body",
    [
        {"request": "x" * 8001},
        {"request": ""},
        {"request": 42},
        {"nope": "x"},
        {"request": "add slack", "current": "not an object"},
        {"request": "nul \u0000 byte"},
    ],
)
def test_hostile_generate_bodies_are_422(gateway: Any, body: dict[str, Any]) -> None:
    assert gateway.user().post("/api/assistant/generate", json=body).status_code == 422


def test_malformed_json_and_anonymous_are_refused(gateway: Any) -> None:
    user = gateway.user()
    bad = user.post(
        "/api/assistant/generate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    assert gateway.anonymous().get("/api/assistant/conversations").status_code == 401
    assert user.get("/api/assistant/conversations/does-not-exist").status_code == 404


def test_templates_listing(gateway: Any) -> None:
    user = gateway.user()
    listed = user.get("/api/assistant/templates").json()
    assert listed["count"] >= 10
    ranked = user.get("/api/assistant/templates", params={"q": "stripe payment summary gmail"}).json()
    assert ranked["data"][0]["key"] == "stripe_ai_summary_gmail"
    one = user.get("/api/assistant/templates/form_to_discord").json()
    assert one["workflow"]["nodes"][0]["type"] == "trigger.google_form"
    assert user.get("/api/assistant/templates/nope").status_code == 404


def test_change_request_in_a_conversation_returns_a_diff(gateway: Any, llm: ScriptedLLM) -> None:
    ada = gateway.user()
    cid = ada.post("/api/assistant/conversations", json={}).json()["id"]
    llm.say(GOOD)
    ada.post(
        f"/api/assistant/conversations/{cid}/messages",
        json={"content": "Every morning post our API status to Slack"},
    )
    changed = {
        **GOOD,
        "nodes": [
            *GOOD["nodes"],
            {
                "id": "mail",
                "type": "email.smtp",
                "name": "E-mail it",
                "params": {"to": ["ops@example.com"], "text": "{{ fetch_status.status }}"},
            },
        ],
        "edges": [*GOOD["edges"], {"source": "post", "target": "mail"}],
    }
    llm.say(changed)
    sent = ada.post(
        f"/api/assistant/conversations/{cid}/messages",
        json={"content": "add an e-mail after the Slack message"},
    )
    answer = sent.json()["answer"]
    assert answer["intent"] == "change_request" and answer["valid"] is True
    assert [n["id"] for n in answer["diff"]["added_nodes"]] == ["mail"]
    assert answer["diff"]["added_edges"] == [{"source": "post", "target": "mail", "source_handle": None}]
    assert answer["diff"]["removed_nodes"] == [] and answer["diff"]["changed_nodes"] == []
    assert "every_morning" in llm.bodies[1]["messages"][1]["content"]  # the current workflow was sent
    assert {c["node_id"] for c in answer["credentials_needed"]} == {"post", "mail"}


def test_an_endpoint_the_network_policy_refuses_is_not_called(
    gateway: Any, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectflow_dagster.config import get_settings

    monkeypatch.setenv("CONNECTFLOW_NETWORK_ALLOW", "")
    get_settings.cache_clear()
    answer = _generate(gateway.user(), "Every morning fetch our status API and post it to Slack")
    assert "refused" in answer["message"] and answer["source"] == "template"
    assert llm.bodies == []


def test_generate_with_the_users_own_ai_credential(gateway: Any) -> None:
    with LocalHTTPServer() as server:
        fake = ScriptedLLM(server)
        ada, eve = gateway.user(), gateway.user()
        created = ada.post(
            "/api/credentials",
            json={"name": "My OpenAI", "type": "openai_api", "data": {"api_key": KEY, "base_url": fake.base}},
        )
        assert created.status_code == 201, created.text
        cred = created.json()["id"]
        fake.say(GOOD)
        body = {
            "request": "Every morning post our API status to Slack",
            "credential_id": cred,
            "model": "my-model",
        }
        answer = _generate(ada, body["request"], credential_id=cred, model="my-model")
        assert answer["valid"] is True and answer["source"] == "model"
        assert fake.bodies[0]["model"] == "my-model"
        assert eve.post("/api/assistant/generate", json=body).status_code == 404
        slack = ada.post(
            "/api/credentials",
            json={
                "name": "hook",
                "type": "slack_webhook",
                "data": {"webhook_url": "https://hooks.slack.com/services/T/B/x"},
            },
        )
        assert slack.status_code == 201, slack.text
        bad = {**body, "credential_id": slack.json()["id"]}
        assert ada.post("/api/assistant/generate", json=bad).status_code == 422
        assert len(fake.bodies) == 1


def test_anthropic_credential_generates_through_a_forced_tool_call(gateway: Any) -> None:
    """Against an Anthropic-compatible server: litellm turns the workflow schema into a forced tool
    (``json_tool_call``) and the tool's input is the workflow."""
    seen: list[dict[str, Any]] = []

    def messages(request: Any) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("x-api-key") != KEY:
            return 401, {}, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
        body = request.json()
        seen.append(body)
        tool = body["tools"][0]["name"]
        return 200, {}, {
            "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": GOOD}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 120, "output_tokens": 80},
        }  # fmt: skip

    with LocalHTTPServer() as server:
        server.route("POST", "/v1/messages", messages)
        ada = gateway.user()
        created = ada.post(
            "/api/credentials",
            json={
                "name": "Claude",
                "type": "anthropic_api",
                "data": {"api_key": KEY, "base_url": server.url},
            },
        )
        assert created.status_code == 201, created.text
        answer = _generate(
            ada, "Every morning post our API status to Slack", credential_id=created.json()["id"]
        )
    assert answer["valid"] is True and answer["source"] == "model" and answer["tokens"] == 200
    assert seen[0]["tool_choice"]["type"] == "tool"
    assert "nodes" in seen[0]["tools"][0]["input_schema"]["properties"]


def test_concurrent_messages_to_one_conversation_are_all_kept(gateway: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ada = gateway.user()
    cid = ada.post("/api/assistant/conversations", json={}).json()["id"]
    texts = [f"post google form responses to discord #{i}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        codes = list(
            pool.map(
                lambda t: (
                    ada.post(f"/api/assistant/conversations/{cid}/messages", json={"content": t}).status_code
                ),
                texts,
            )
        )
    assert codes == [200] * 6
    stored = ada.get(f"/api/assistant/conversations/{cid}").json()["messages"]
    assert sorted(m["content"] for m in stored if m["role"] == "user") == sorted(texts)
    assert [m["role"] for m in stored].count("assistant") == 6


def test_administrators_edit_prompts_with_history_in_effect_at_once(
    isolated_gateway: Any, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secrets

    from connectflow_dagster.config import get_settings

    admin_email = f"prompt-admin-{secrets.token_hex(4)}@example.com"
    monkeypatch.setenv("CONNECTFLOW_ADMIN_EMAILS", admin_email)
    get_settings.cache_clear()
    gateway = isolated_gateway  # its own database on PostgreSQL: edited prompts stay in this test
    owner = gateway.user(admin_email)
    member = gateway.user()
    listed = owner.get("/api/assistant/prompts").json()
    assert {p["name"] for p in listed["data"]} == {"answer", "change", "classify", "generate", "repair"}
    assert all(p["source"] == "package" for p in listed["data"])
    edited = owner.put("/api/assistant/prompts/answer", json={"body": "Answer like a pirate."})
    assert edited.status_code == 200 and edited.json()["version"] == 1
    owner.put("/api/assistant/prompts/answer", json={"body": "Answer like a poet."})
    versions = owner.get("/api/assistant/prompts/answer/history").json()["data"]
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["body"] == "Answer like a pirate."
    llm.say("Arr.")
    _generate(member, "How are credentials stored?")
    assert llm.bodies[0]["messages"][0]["content"] == "Answer like a poet."
    for method, path in [("GET", "/api/assistant/prompts"), ("PUT", "/api/assistant/prompts/answer"),
                         ("GET", "/api/assistant/prompts/answer/history")]:  # fmt: skip
        assert member.request(method, path, json={"body": "x"}).status_code == 404
    assert owner.put("/api/assistant/prompts/nope", json={"body": "x"}).status_code == 404
    assert owner.put("/api/assistant/prompts/answer", json={"body": "x" * 50_001}).status_code == 422
