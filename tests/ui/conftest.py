"""Fixtures for the UI tests: the real gateway with the UI mounted, served on a free loopback port, and
Chromium.

The gateway is ``gateway.app.create_app(mount_ui=True)`` (what ``connectflow serve`` runs) under
uvicorn in a thread of the test process, against the isolated ``CONNECTFLOW_HOME`` of the ``cf``
fixture, with a warm worker (``connectflow_dagster.dispatch.worker.Worker``, as ``connectflow worker``
runs it) on another thread: trigger events accepted into the inbox (webhooks, ``POST /api/trigger``)
run the way they do in production, and so do the editor's Execute runs (every run goes through the
inbox).

Chromium is Debian's (``shutil.which("chromium")``); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveGateway:
    """The gateway app served by uvicorn on 127.0.0.1:<free port>."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:  # uvicorn's start-up flag has no event to wait on
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def worker(cf: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """One warm worker claiming inbox events on a thread (woken by the inbox notification)."""
    from connectflow_dagster.dispatch.config import get_dispatch_settings
    from connectflow_dagster.dispatch.worker import Worker

    get_dispatch_settings.cache_clear()
    worker = Worker(instance=cf.instance)
    thread = threading.Thread(target=worker.run_forever, name="cf-worker", daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=60)
    get_dispatch_settings.cache_clear()


@pytest.fixture
def live_gateway(cf: Any, worker: Any) -> Iterator[LiveGateway]:
    from gateway.app import create_app

    with LiveGateway(create_app(mount_ui=True)) as server:
        yield server


@pytest.fixture
def browser_page() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is not installed (make system-deps) and CI=true")
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def sign_up(live_gateway: LiveGateway, browser_page: Any) -> Any:
    """``sign_up(email, name)``: create an account through the sign-up page, as a new user does."""
    import re

    from playwright.sync_api import expect

    def sign_up(email: str, name: str = "Ada Lovelace") -> None:
        page = browser_page
        page.goto(f"{live_gateway.url}/ui/sign-up")
        page.locator(".cf-auth-name input").fill(name)
        page.locator(".cf-auth-email input").fill(email)
        page.locator(".cf-auth-password input").fill("correct horse battery staple")
        page.locator(".cf-auth-submit button").click()
        page.wait_for_url(re.compile(r"/ui/workflows$"))
        expect(page.locator(".cf-user")).to_contain_text(name)

    return sign_up
