"""The Dagster UI (dagster-webserver): where it listens, links into it, and nudges for it.

dagster-webserver shows every user's runs and payloads and has no sign-in of its own, so it listens
on a **unix socket** (``Settings.dagster_socket``, in a directory only this OS user can enter), never
on a TCP port: no workflow node (HTTP Request, LLM ``api_base``, SMTP, …) can address a unix socket,
whatever URL it is given. Browsers reach it only through the gateway's admin-only reverse proxy at
``/dagster/`` (``gateway/routes/dagster_ui.py``), which is why the webserver runs with
``--path-prefix /dagster``.

``python -m connectflow_dagster.dagster_ui --socket PATH [dagster-webserver options]`` starts it:
Dagster's own CLI (instance, workspace, logging, shutdown), with its final ``uvicorn.run`` told to
bind the socket instead of a host and port (the CLI has no socket option; uvicorn has ``uds``).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from connectflow_dagster.config import get_settings
from connectflow_dagster.errors import SocketDirectoryUnsafe
from connectflow_dagster.execution import CODE_LOCATION

log = logging.getLogger(__name__)

PATH_PREFIX = "/dagster"
"""Where the gateway serves the Dagster UI, and the webserver's ``--path-prefix``."""

_RELOAD = """mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) { __typename }
}"""


def run_url(run_id: str) -> str:
    """Where the Dagster UI shows this run: the gateway's ``/dagster/`` unless
    ``CONNECTFLOW_DAGSTER_UI_URL`` names another Dagster UI."""
    settings = get_settings()
    base = settings.dagster_ui_url or f"{(settings.public_url or '').rstrip('/')}{PATH_PREFIX}"
    return f"{base.rstrip('/')}/runs/{run_id}"


def prepare_socket_directory(socket_path: Path) -> None:
    """Create the socket's directory 0700 and make sure nobody else owns or can enter it."""
    directory = socket_path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SocketDirectoryUnsafe(f"{directory} is not a directory owned by this user")
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)


def webserver_client(*, timeout: float = 30) -> httpx.Client:
    """An HTTP client connected to this home's dagster-webserver socket (base URL ``http://dagster``)."""
    transport = httpx.HTTPTransport(uds=str(get_settings().dagster_socket))
    return httpx.Client(transport=transport, base_url="http://dagster", timeout=timeout)


def request_reload(*, wait: bool = False) -> None:
    """Ask this home's dagster-webserver to reload the code location so a saved workflow shows up.

    Best effort: with no webserver running there is nothing to refresh, and the next start loads the
    workflow anyway. Only the socket of *this* ``CONNECTFLOW_HOME`` is ever contacted, so a test
    suite (each test has its own home) never touches a running instance's Dagster UI.
    """
    if not get_settings().dagster_socket.exists():
        return

    def reload() -> None:
        try:
            with webserver_client() as client:
                client.post(
                    f"{PATH_PREFIX}/graphql",
                    json={"query": _RELOAD, "variables": {"name": CODE_LOCATION}},
                )
        except httpx.HTTPError as exc:
            log.debug("dagster-webserver reload skipped: %s", exc)

    if wait:
        reload()
    else:
        threading.Thread(target=reload, name="dagster-reload", daemon=True).start()


def serve_on_socket(socket_path: str, webserver_args: list[str]) -> None:
    """Run dagster-webserver's CLI with ``webserver_args``, listening on ``socket_path`` only."""
    import uvicorn
    from dagster_webserver import cli as webserver_cli

    real_run = uvicorn.run

    def run_on_socket(app: Any, **kwargs: Any) -> None:
        kwargs.pop("host", None)
        kwargs.pop("port", None)
        real_run(app, uds=socket_path, **kwargs)

    uvicorn.run = run_on_socket  # type: ignore[assignment]
    # A host that cannot resolve: should the CLI ever bypass uvicorn.run, it fails instead of
    # listening on a TCP port.
    sys.argv = ["dagster-webserver", *webserver_args, "-h", "unix-socket-only.invalid", "-p", "9"]
    webserver_cli.main()


def main() -> None:
    """``python -m connectflow_dagster.dagster_ui --socket PATH [dagster-webserver options]``."""
    args = sys.argv[1:]
    if "--socket" not in args or args.index("--socket") + 1 >= len(args):
        sys.exit("usage: python -m connectflow_dagster.dagster_ui --socket PATH [dagster-webserver options]")
    at = args.index("--socket")
    socket_path = Path(args[at + 1])
    prepare_socket_directory(socket_path)
    serve_on_socket(str(socket_path), args[:at] + args[at + 2 :])


if __name__ == "__main__":
    main()
