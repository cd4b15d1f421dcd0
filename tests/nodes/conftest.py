"""Fixtures for the integration nodes: fake services on real local servers, credentials, one-node runs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_services import (
    FakeDiscord,
    FakeInstagramGraph,
    FakeLLM,
    FakeLuma,
    FakeSlack,
    SilentServer,
    SmtpServer,
)
from node_runs import NO_RETRY, CredentialBook, action_workflow


@pytest.fixture
def book() -> CredentialBook:
    return CredentialBook()


@pytest.fixture
def run_action(cf, book):  # type: ignore[no-untyped-def]
    """``run_action(type, params, credential_id, payload=None, retry=None)`` → (Execution, node status)."""

    def run(
        node_type: str,
        params: dict[str, Any],
        credential_id: str | None,
        payload: Any = None,
        retry: dict[str, Any] | None = NO_RETRY,
    ):  # type: ignore[no-untyped-def]
        ex = cf.run(action_workflow(node_type, params, credential_id, retry), payload, runtime=book.runtime)
        return ex, next(n for n in ex.nodes if n.node_id == "act")

    return run


# ---- fake services ------------------------------------------------------------------------------------


@pytest.fixture
def fake_llm(http_server) -> Iterator[FakeLLM]:  # type: ignore[no-untyped-def]
    fake = FakeLLM(http_server, "sk-live-" + secrets.token_hex(20))
    yield fake
    fake.release()


@pytest.fixture
def discord(http_server) -> Iterator[FakeDiscord]:  # type: ignore[no-untyped-def]
    fake = FakeDiscord(http_server)
    yield fake
    fake.release()


@pytest.fixture
def slack(http_server) -> Iterator[FakeSlack]:  # type: ignore[no-untyped-def]
    fake = FakeSlack(http_server)
    yield fake
    fake.release()


@pytest.fixture
def instagram(http_server) -> Iterator[FakeInstagramGraph]:  # type: ignore[no-untyped-def]
    fake = FakeInstagramGraph(http_server)
    yield fake
    fake.release()


@pytest.fixture
def luma(http_server) -> Iterator[FakeLuma]:  # type: ignore[no-untyped-def]
    fake = FakeLuma(http_server)
    yield fake
    fake.release()


@pytest.fixture
def smtp_starttls(tmp_path: Path) -> Iterator[SmtpServer]:
    """SMTP with STARTTLS required and AUTH checked (``.username`` / ``.password``)."""
    with SmtpServer(
        tmp_path,
        security="starttls",
        username="mailer@example.com",
        password="smtp-pw-" + secrets.token_hex(8),
    ) as server:
        yield server


@pytest.fixture
def smtp_ssl(tmp_path: Path) -> Iterator[SmtpServer]:
    """SMTP over implicit TLS (as smtp.gmail.com:465) with AUTH checked."""
    with SmtpServer(
        tmp_path, security="ssl", username="shop@gmail.com", password="abcdefghijklmnop"
    ) as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()
