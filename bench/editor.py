"""Editor benchmark: open a 100-node workflow in the browser, and save it.

Measures, in headless Chromium (Debian's ``chromium``):

- ``open_100_nodes_ms``: from navigation to ``/ui/editor?id=…`` until the canvas shows all 100 nodes
  (budget ≤ 1,500 ms), median of several opens;
- ``save_ms``: from clicking Save (after an edit) until the editor shows the new version, median.

By default it starts the gateway (``gateway.app.create_app``, UI mounted) on a free loopback port
with a throw-away ``CONNECTFLOW_HOME``; ``--url`` measures a gateway that is already running.
Prints readable figures, then one JSON object as the last line.

    .venv/bin/python bench/editor.py [--runs 5] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NODES = 100


def hundred_node_workflow(name: str) -> dict[str, Any]:
    """A manual trigger and 99 Set nodes in a chain, laid out on a grid."""
    nodes = [
        {"id": "start", "type": "trigger.manual", "name": "Start", "position": {"x": 0, "y": 0}, "params": {}}
    ]
    edges = []
    for i in range(1, NODES):
        nodes.append(
            {
                "id": f"set_{i}",
                "type": "set",
                "name": f"Step {i}",
                "position": {"x": 240.0 * (i % 10), "y": 140.0 * (i // 10)},
                "params": {"fields": {"step": i}},
            }
        )
        edges.append({"source": nodes[i - 1]["id"], "target": f"set_{i}"})
    return {"name": name, "nodes": nodes, "edges": edges}


def start_gateway() -> tuple[str, Any]:
    """The gateway with the UI, in a thread, on an isolated CONNECTFLOW_HOME."""
    home = tempfile.mkdtemp(prefix="cf-bench-editor-")
    os.environ["CONNECTFLOW_HOME"] = home
    os.environ.pop("CONNECTFLOW_DATABASE_URL", None)
    os.environ.pop("DAGSTER_HOME", None)
    import uvicorn

    from gateway.app import create_app

    app = create_app(mount_ui=True)  # what `connectflow serve` runs
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(home, ignore_errors=True)

    return f"http://127.0.0.1:{port}", stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="a running gateway (default: start one here)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    stop = None
    base = args.url.rstrip("/") if args.url else None
    if base is None:
        base, stop = start_gateway()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1500, "height": 900})
            api = context.request  # shares the browser's cookies
            email = f"bench-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(16)
            signed = api.post(
                f"{base}/api/auth/sign-up/email", data={"email": email, "password": password, "name": "Bench"}
            )
            assert signed.ok, signed.text()
            signed = api.post(f"{base}/api/auth/sign-in/email", data={"email": email, "password": password})
            assert signed.ok, signed.text()
            created = api.post(
                f"{base}/api/workflows",
                data={"name": "Bench 100 nodes", "nodes": [], "edges": []},
                headers=_csrf(context),
            )
            assert created.ok, created.text()
            workflow_id = created.json()["id"]
            body = hundred_node_workflow("Bench 100 nodes")
            saved = api.put(f"{base}/api/workflows/{workflow_id}", data=body, headers=_csrf(context))
            assert saved.ok, saved.text()

            page = context.new_page()
            page.set_default_timeout(60_000)
            nodes = page.locator(".cf-canvas .react-flow__node")
            # One warm-up open (first import of the page's code, browser caches), then measured opens.
            opens = []
            for run in range(args.runs + 1):
                start = time.perf_counter()
                page.goto(f"{base}/ui/editor?id={workflow_id}", wait_until="commit")
                nodes.nth(NODES - 1).wait_for(state="attached")
                elapsed = (time.perf_counter() - start) * 1000
                count = nodes.count()
                assert count == NODES, f"canvas shows {count} nodes, expected {NODES}"
                if run:
                    opens.append(elapsed)

            saves = []
            name = page.locator(".cf-workflow-name input")
            for run in range(args.runs):
                name.fill(f"Bench 100 nodes #{run}")
                page.locator(".cf-unsaved").wait_for()
                start = time.perf_counter()
                page.locator(".cf-save button").click()
                page.locator(".cf-saved").wait_for()
                saves.append((time.perf_counter() - start) * 1000)
            browser.close()
    finally:
        if stop is not None:
            stop()

    open_ms = statistics.median(opens)
    save_ms = statistics.median(saves)
    print(f"editor: open a {NODES}-node workflow until every node is on the canvas")
    print(
        f"  median {open_ms:8.0f} ms   (runs: {', '.join(f'{v:.0f}' for v in opens)} ms; budget ≤ 1500 ms)"
        f"   {'OK' if open_ms <= 1500 else 'OVER BUDGET'}"
    )
    print(f"editor: save (click Save → new version shown), {NODES} nodes")
    print(f"  median {save_ms:8.0f} ms   (runs: {', '.join(f'{v:.0f}' for v in saves)} ms)")
    print(json.dumps({"open_100_nodes_ms": round(open_ms, 1), "save_ms": round(save_ms, 1)}))


def _csrf(context: Any) -> dict[str, str]:
    """The session's CSRF token (``cf_csrf`` cookie) as the ``X-CSRF-Token`` header unsafe calls need."""
    token = next(c["value"] for c in context.cookies() if c["name"] == "cf_csrf")
    return {"X-CSRF-Token": token}


if __name__ == "__main__":
    main()
