"""Retry semantics of every HTTP-based integration node, each against its own fake service.

A rejected key (401/403, or the service's equivalent) fails at once after one request; a rate limit
(with Retry-After where the service sends one), a server error and a timeout are retried per the
node's retry settings and then succeed. The e-mail nodes' equivalents are in test_email_nodes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from node_runs import RETRY_TWICE, retry_events

Reply = tuple[int, dict[str, str], Any]


@dataclass(frozen=True)
class Case:
    node_type: str
    fake: str  # fixture name
    params: dict[str, Any]
    credential: Callable[[Any, Any, bool], tuple[str, dict[str, Any]]]  # (book, fake, bad key?) → type, data
    rate_limited: Reply
    server_error: Reply
    timeout: dict[str, Any] = field(
        default_factory=lambda: {"timeout": 2.0}
    )  # seconds; localhost answers in ms
    server_error_says: str = ""  # what the retried attempt's error quotes (default: the HTTP status)

    @property
    def sends_retry_after(self) -> bool:
        return any(k.lower() == "retry-after" for k in self.rate_limited[1])


def _llm(provider: str, base_attr: str):  # type: ignore[no-untyped-def]
    def credential(book, fake, bad):  # type: ignore[no-untyped-def]
        return f"{provider}_api", {
            "api_key": "sk-wrong" if bad else fake.api_key,
            "base_url": getattr(fake, base_attr),
        }

    return credential


OPENAI_429: Reply = (
    429,
    {"Retry-After": "1"},
    {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini",
            "type": "requests",
            "code": "rate_limit_exceeded",
        }
    },
)
OPENAI_500: Reply = (500, {}, {"error": {"message": "The server had an error", "type": "server_error"}})
CHAT = {"prompt": "hi"}

CASES = {
    "discord": Case(
        "discord.send",
        "discord",
        {"content": "hi"},
        lambda book, fake, bad: (
            "discord_webhook",
            {"webhook_url": fake.bad_token_url if bad else fake.webhook_url},
        ),
        (
            429,
            {"Retry-After": "1"},
            {"message": "You are being rate limited.", "retry_after": 1.0, "global": False},
        ),
        (503, {"Content-Type": "text/plain"}, "upstream connect error"),
    ),
    "slack": Case(
        "slack.send",
        "slack",
        {"text": "hi"},
        lambda book, fake, bad: (
            "slack_webhook",
            {"webhook_url": fake.bad_token_url if bad else fake.webhook_url},
        ),
        (429, {"Retry-After": "1", "Content-Type": "text/plain"}, "rate_limited"),
        (500, {"Content-Type": "text/plain"}, "rollup_error"),
    ),
    "instagram": Case(
        "instagram.publish",
        "instagram",
        {"image_url": "https://cdn.example.com/a.jpg"},
        lambda book, fake, bad: (
            "instagram_graph",
            {
                "access_token": "EAAwrong" if bad else fake.access_token,
                "account_id": fake.account_id,
                "base_url": fake.base_url,
            },
        ),
        # The Graph API throttles with HTTP 400 and code 4, without Retry-After.
        (
            400,
            {},
            {
                "error": {
                    "message": "(#4) Application request limit reached",
                    "type": "OAuthException",
                    "is_transient": True,
                    "code": 4,
                }
            },
        ),
        (
            500,
            {},
            {
                "error": {
                    "message": "An unknown error has occurred.",
                    "type": "OAuthException",
                    "code": 1,
                    "is_transient": True,
                }
            },
        ),
    ),
    "luma": Case(
        "luma.generate_image",
        "luma",
        {"prompt": "a mug", "poll_interval_seconds": 0},
        lambda book, fake, bad: (
            "luma_api",
            {"api_key": "luma-wrong" if bad else fake.api_key, "base_url": fake.base_url},
        ),
        (429, {"Retry-After": "1"}, {"detail": "Rate limit exceeded"}),
        (502, {}, {"detail": "Bad gateway"}),
        timeout={"timeout_seconds": 2.0},
    ),
    "openai": Case("ai.openai", "fake_llm", CHAT, _llm("openai", "openai_base"), OPENAI_429, OPENAI_500),
    "deepseek": Case(
        "ai.deepseek", "fake_llm", CHAT, _llm("deepseek", "openai_base"), OPENAI_429, OPENAI_500
    ),
    "perplexity": Case(
        "ai.perplexity", "fake_llm", CHAT, _llm("perplexity", "openai_base"), OPENAI_429, OPENAI_500
    ),
    "anthropic": Case(
        "ai.anthropic",
        "fake_llm",
        CHAT,
        _llm("anthropic", "anthropic_base"),
        (
            429,
            {"retry-after": "1"},
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "Number of requests has exceeded your rate limit",
                },
            },
        ),
        (529, {}, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        server_error_says="Overloaded",
    ),
    "gemini": Case(
        "ai.gemini",
        "fake_llm",
        CHAT,
        _llm("gemini", "gemini_base"),
        (
            429,
            {"Retry-After": "1"},
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted",
                    "status": "RESOURCE_EXHAUSTED",
                }
            },
        ),
        (503, {}, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
        server_error_says="The model is overloaded",  # litellm reports Gemini's 503 as a 500
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request):  # type: ignore[no-untyped-def]
    case = CASES[request.param]
    return case, request.getfixturevalue(case.fake)


def _run(run_action, book, case, fake, *, bad=False, params=None):  # type: ignore[no-untyped-def]
    credential_type, data = case.credential(book, fake, bad)
    return run_action(
        case.node_type,
        {**case.params, **(params or {})},
        book.add(credential_type, **data),
        retry=RETRY_TWICE,
    )


def test_a_rejected_key_fails_at_once_after_one_request(run_action, book, case):
    case, fake = case
    ex, act = _run(run_action, book, case, fake, bad=True)
    assert ex.status == "failed" and act.attempts == 1
    assert len(fake.requests) == 1
    assert "credential" in act.error


def test_a_rate_limit_is_retried_honouring_retry_after(cf, run_action, book, case):
    case, fake = case
    fake.fail_next(*case.rate_limited)
    ex, act = _run(run_action, book, case, fake)
    assert ex.status == "success", ex.error
    assert act.attempts == 2 and len(fake.requests) == 2
    [retry] = retry_events(cf.instance, ex.id, "act")
    if case.sends_retry_after:
        assert retry.seconds_to_wait == 1  # the server's Retry-After, not the node's 0 s delay


def test_a_server_error_is_retried_then_succeeds(cf, run_action, book, case):
    case, fake = case
    fake.fail_next(*case.server_error)
    ex, act = _run(run_action, book, case, fake)
    assert ex.status == "success", ex.error
    assert act.attempts == 2 and len(fake.requests) == 2
    [retry] = retry_events(cf.instance, ex.id, "act")
    assert (case.server_error_says or f"HTTP {case.server_error[0]}") in retry.error


def test_a_timeout_is_retried_then_succeeds(cf, run_action, book, case):
    case, fake = case
    fake.hang_next()
    ex, act = _run(run_action, book, case, fake, params=case.timeout)
    assert ex.status == "success", ex.error
    assert act.attempts == 2 and len(fake.requests) == 2
    [retry] = retry_events(cf.instance, ex.id, "act")
    assert "timed out" in retry.error or "did not answer within 2 s" in retry.error
