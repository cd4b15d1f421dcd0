"""``connectflow serve``: the gateway's command, contributed to the engine's ``connectflow`` CLI.

The engine never imports the gateway: ``pyproject.toml`` registers ``serve`` in the ``connectflow.cli``
entry-point group and ``connectflow_dagster.cli`` adds every command of that group to ``main``, the
way a third-party package would add one (docs/architecture.md, "Command line").
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from connectflow_dagster.cli.engine import ACCESS_LOG_ENV


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


WORKERS_ENV = "CONNECTFLOW_GATEWAY_WORKERS"


def uvicorn_logging(*, quiet: bool, access_log: str | None) -> dict[str, Any]:
    """uvicorn's logging config: server messages (warnings only when ``quiet``) on the terminal, and
    the access log on the terminal or, with ``access_log`` (``CONNECTFLOW_ACCESS_LOG``), in that file."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.error"]["level"] = "WARNING" if quiet else "INFO"
    if access_log:
        Path(access_log).parent.mkdir(parents=True, exist_ok=True)
        config["formatters"]["access"]["use_colors"] = False
        config["handlers"]["access"] = {
            "class": "logging.FileHandler",
            "filename": access_log,
            "formatter": "access",
        }
    elif quiet:
        config["loggers"]["uvicorn.access"]["level"] = "WARNING"
    return config


def app_factory():  # type: ignore[no-untyped-def]
    """What each uvicorn worker process builds when ``serve`` runs several (API only, no editor)."""
    from gateway.app import create_app

    return create_app(mount_ui=False)


@click.command()
@click.option("--host", help="Interface to listen on (default: CONNECTFLOW_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: CONNECTFLOW_PORT, 8000).")
@click.option("--no-ui", is_flag=True, help="Serve the API only, without the Panel editor.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    envvar=WORKERS_ENV,
    default=1,
    show_default=True,
    help=f"Gateway processes sharing the port (also {WORKERS_ENV}). More than one serves the API only "
    "(--no-ui): the editor keeps its sessions in its process.",
)
@click.option(
    "--quiet",
    is_flag=True,
    help="Log warnings and errors only (what `connectflow up` uses; it prints the URLs itself).",
)
@click.option(
    "--worker-processes",
    type=click.IntRange(0, 64),
    help="Warm worker processes to start with the gateway (default: one per core; 0: none).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Start no worker: runs wait in the inbox for a `connectflow worker` started elsewhere "
    "(what `connectflow up` does, as it starts the workers itself).",
)
def serve(
    host: str | None,
    port: int | None,
    no_ui: bool,
    workers: int,
    quiet: bool,
    worker_processes: int | None,
    no_worker: bool,
) -> None:
    """Start the gateway (REST API, sign-in and the editor) on CONNECTFLOW_HOST:CONNECTFLOW_PORT,
    and warm workers that execute its runs.

    \b
    Every run (Execute, retry, webhooks, API keys, schedules) is an inbox event executed by a
    worker, so `serve` alone starts `connectflow worker` processes (one per core unless
    --worker-processes N) and stops them when it stops; --no-worker (or --worker-processes 0)
    leaves that to workers started elsewhere.
    One gateway process is the default: it accepts ~1,900 webhooks/s on one core (bench/ingest.py),
    and on a small machine the other cores are the workers'. Several processes (--workers N, API
    only) raise the accept rate on a larger machine; sign-in throttling is then per process.
    """
    from sqlalchemy.exc import OperationalError

    from connectflow_dagster.config import get_settings
    from connectflow_dagster.crypto import SecretKeyMissing, get_keyring
    from gateway.app import ui_mounts

    settings = get_settings()
    with_ui = not no_ui and bool(ui_mounts())
    if workers > 1 and not no_ui:
        _fail(
            "--workers above 1 serves the API only: add --no-ui (run the editor in its own `connectflow serve`)"
        )
    try:
        get_keyring()
    except SecretKeyMissing as exc:
        _fail(str(exc))
    try:
        from connectflow_dagster.store.db import get_engine

        get_engine()
    except OperationalError as exc:
        click.secho(
            f"warning: the database is unreachable ({exc.orig}); the gateway answers 503 until it is back",
            fg="yellow",
            err=True,
        )
    host = host or settings.host
    port = settings.port if port is None else port
    options = dict(
        host=host,
        port=port,
        log_config=uvicorn_logging(quiet=quiet, access_log=os.environ.get(ACCESS_LOG_ENV) or None),
        log_level=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
    )
    plural = f", {workers} processes" if workers > 1 else ""
    if not quiet:
        click.echo(f"ConnectFlow gateway on http://{host}:{port}/  (API docs: /api/docs{plural})")
    worker_supervisor = (
        None if no_worker or worker_processes == 0 else _start_workers(worker_processes, quiet)
    )
    if worker_supervisor is not None:
        # uvicorn re-raises the SIGTERM it handled once it has shut down; with the default handler
        # that would end this process before ``finally`` stops the workers it started.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _run_gateway(options, workers, with_ui)
    finally:
        if worker_supervisor is not None:
            _stop_workers(worker_supervisor)


def _exit_on_sigterm(*_: Any) -> None:
    """SIGTERM ends ``serve`` through ``finally``, so it stops the workers it started."""
    raise SystemExit(0)


def _start_workers(count: int | None, quiet: bool = False) -> subprocess.Popen[bytes]:
    """``connectflow worker`` as a child process (it supervises its own worker processes)."""
    from connectflow_dagster.dispatch.worker import default_process_count

    count = count or default_process_count()
    argv = [sys.executable, "-m", "connectflow_dagster.cli", "worker", "--processes", str(count)]
    proc = subprocess.Popen(argv, env=os.environ.copy(), preexec_fn=_terminate_with_parent)
    if not quiet:
        click.echo(f"started {count} worker process{'es' if count > 1 else ''} (pid {proc.pid})")
    return proc


def _terminate_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when ``serve`` dies, even by SIGKILL, so no worker is
    left orphaned (a supervisor killed hard otherwise leaves warm workers draining the inbox)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_workers(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM: each worker finishes its current run, then stops."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_gateway(options: dict[str, Any], workers: int, with_ui: bool) -> None:
    import uvicorn

    if workers > 1:
        # Worker processes are spawned and import the app themselves; they inherit this environment.
        os.environ[WORKERS_ENV] = str(workers)
        uvicorn.run(
            "gateway.cli:app_factory",
            factory=True,
            workers=workers,
            **options,  # type: ignore[arg-type]
        )
        return
    from gateway.app import create_app

    uvicorn.run(create_app(mount_ui=with_ui), **options)  # type: ignore[arg-type]


COMMANDS = [serve]
