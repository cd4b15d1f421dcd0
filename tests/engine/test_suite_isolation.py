"""The test suite never touches a running instance's home, ports or Dagster UI (issue 9, item 8).

Before: every workflow save in the suite POSTed a code-location reload to the default Dagster UI URL
(http://127.0.0.1:3000), so `make test` next to `make up` restarted the user's code server every few
seconds. Now a reload goes only to the Dagster UI socket of the saving process's own home.
"""

from __future__ import annotations

import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.conftest import ROOT


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def test_a_save_reloads_only_the_dagster_ui_of_its_own_home(cf, http_server, monkeypatch):
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dagster_ui import prepare_socket_directory, request_reload

    # A Dagster UI at an explicit URL (what every test used to hit on port 3000) ...
    monkeypatch.setenv("CONNECTFLOW_DAGSTER_UI_URL", http_server.url)
    get_settings.cache_clear()
    # ... and one on this home's socket, the way `connectflow up` runs it.
    received: list[tuple[str, bytes]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            arrived.set()

    path = get_settings().dagster_socket
    prepare_socket_directory(path)
    server = _UnixHTTPServer(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        request_reload(wait=True)
        assert arrived.wait(30)
    finally:
        server.shutdown()
        server.server_close()
    [(target, body)] = received
    assert target == "/dagster/graphql" and b"reloadRepositoryLocation" in body
    assert http_server.requests == []


def test_without_a_home_of_its_own_a_test_still_never_uses_the_default_home():
    home = Path(os.environ["CONNECTFLOW_HOME"]).resolve()
    assert home != (ROOT / ".connectflow").resolve()
    assert "DAGSTER_HOME" not in os.environ or not Path(os.environ["DAGSTER_HOME"]).is_relative_to(ROOT)


def test_request_reload_without_a_running_dagster_ui_contacts_nothing(cf, http_server, monkeypatch):
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dagster_ui import request_reload

    monkeypatch.setenv("CONNECTFLOW_DAGSTER_UI_URL", http_server.url)
    get_settings.cache_clear()
    assert not get_settings().dagster_socket.exists()
    request_reload(wait=True)
    assert http_server.requests == []
