"""``connectflow run``, ``connectflow executions`` and ``connectflow up``."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from connectflow_dagster.errors import ConnectFlowError, WorkflowInvalid

ACCESS_LOG_ENV = "CONNECTFLOW_ACCESS_LOG"
"""Where ``connectflow serve`` writes its access log (a file; ``up`` sets it under the home)."""

PROJECT_ROOT = Path(__file__).resolve().parents[2]

_STATUS_MARK = {
    "success": "✓",
    "failed": "✗",
    "skipped": "–",
    "running": "…",
    "pending": " ",
    "retrying": "↻",
    "not_run": " ",
}


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _read_json_arg(value: str, what: str) -> Any:
    """A JSON literal, or @path to a JSON file."""
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            _fail(f"{what}: file not found: {path}")
        text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def load_workflow_file(path: Path):  # type: ignore[no-untyped-def]
    """Parse and validate a workflow JSON file, exiting with a clear message when it is wrong."""
    from connectflow_dagster import spec

    if not path.is_file():
        _fail(f"workflow file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        _fail(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except UnicodeDecodeError:
        _fail(f"{path} is not a text file")
    if _looks_like_n8n(data):
        _fail(f"{path} is an n8n workflow: import it first with `connectflow import {path}`")
    try:
        return spec.ensure_valid(spec.parse_workflow(data))
    except WorkflowInvalid as exc:
        _fail(f"{path}: {exc}")


def _looks_like_n8n(data: Any) -> bool:
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and "connections" in first and "edges" not in first


def print_execution(execution: Any) -> None:
    colour = {"success": "green", "failed": "red"}.get(execution.status, "yellow")
    click.secho(f"execution {execution.id}: {execution.status}", fg=colour, bold=True)
    click.echo(
        f"  workflow {execution.workflow_id} v{execution.version}, trigger {execution.trigger}, "
        f"{execution.duration_ms or 0:.0f} ms"
    )
    for node in execution.nodes:
        mark = _STATUS_MARK.get(node.status, "?")
        timing = f" {node.duration_ms:.0f} ms" if node.duration_ms is not None else ""
        click.echo(f"  {mark} {node.node_id:<20} {node.status:<8}{timing}  {node.name}")
        if node.error:
            click.secho(f"      {node.error}", fg="red")
    if execution.error and execution.status != "success":
        click.secho(f"  error: {execution.error}", fg="red")
    if execution.status == "waiting":
        how = f": {execution.resume_url}" if getattr(execution, "resume_url", None) else ""
        click.echo(
            "  waiting: a running worker (`connectflow serve` or `connectflow worker`) continues it when its\n"
            f"  time comes or when its resume URL is called{how}"
        )


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--input", "input_", help="Trigger input: a JSON literal or @file.json.")
@click.option("--trigger", help="Node id of the trigger to fire (default: the first trigger).")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON.")
@click.option(
    "--with",
    "with_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Save this workflow first (a sub-workflow FILE calls, its error workflow); repeatable.",
)
def run(
    file: Path, input_: str | None, trigger: str | None, as_json: bool, with_files: tuple[Path, ...]
) -> None:
    """Save (or reuse) the workflow in FILE as your user and execute it as a Dagster run.

    Logged in (`connectflow login`, or CONNECTFLOW_TOKEN): through the gateway, so it is in your
    editor. Otherwise on this home's database as the local account (CONNECTFLOW_USER); then a
    failed run's error workflow is executed here too."""
    from connectflow_dagster import authoring

    others = [load_workflow_file(path) for path in with_files]
    workflow = load_workflow_file(file)
    payload = _read_json_arg(input_, "--input") if input_ is not None else None
    try:
        for other in others:
            authoring.save(other)
        execution = authoring.run(workflow, payload, trigger=trigger)
    except ConnectFlowError as exc:
        _fail(str(exc))
    if execution.status == "failed" and not as_json:
        report = authoring.error_workflow_execution(execution.id)
        if report is not None:
            click.secho(
                f"error workflow {report.workflow_id}: execution {report.id} {report.status}", fg="yellow"
            )
    if as_json:
        click.echo(json.dumps(execution.to_dict(), indent=2, default=str))
    else:
        print_execution(execution)
        if execution.context is not None:
            click.echo("context:")
            click.echo(json.dumps(execution.context, indent=2, default=str))
    sys.exit(0 if execution.status in ("success", "waiting") else 1)


@click.command()
@click.argument("execution_id", required=False)
@click.option("--workflow", "workflow_id", help="Only this workflow's executions.")
@click.option(
    "--status", type=click.Choice(["success", "failed", "running", "queued", "waiting", "canceled"])
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def executions(
    execution_id: str | None, workflow_id: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """List your executions, or show one with EXECUTION_ID (same user choice as `run`)."""
    from connectflow_dagster import authoring

    try:
        if execution_id:
            execution = authoring.execution(execution_id)
            if as_json:
                click.echo(json.dumps(execution.to_dict(), indent=2, default=str))
            else:
                print_execution(execution)
            return
        rows = authoring.executions(workflow_id, status=status, limit=limit, with_nodes=True)
    except ConnectFlowError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    if not rows:
        click.echo("no executions yet")
        return
    for r in rows:
        colour = {"success": "green", "failed": "red"}.get(r.status, "yellow")
        click.echo(
            f"{r.id}  "
            + click.style(f"{r.status:<8}", fg=colour)
            + f"  {r.workflow_id or '-':<24} v{r.version or '-':<3} {r.started_at or '-':<32} "
            f"{(r.duration_ms or 0):>8.0f} ms"
        )


# ---- up ------------------------------------------------------------------------------------------------


def _workspace_file() -> Path:
    from connectflow_dagster.config import get_settings

    root_file = PROJECT_ROOT / "workspace.yaml"
    if root_file.exists():
        return root_file
    generated = get_settings().dagster_home / "workspace.yaml"
    generated.write_text(
        "load_from:\n  - python_module:\n      module_name: connectflow_dagster.definitions\n"
        "      location_name: connectflow\n"
    )
    return generated


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def dagster_webserver_argv(workspace: str) -> list[str]:
    """dagster-webserver as ``up`` runs it: on this home's unix socket, under ``/dagster``, quiet.

    Nothing but the gateway's admin-only proxy can reach it (``connectflow_dagster.dagster_ui``).
    """
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dagster_ui import PATH_PREFIX

    return [
        sys.executable,
        "-m",
        "connectflow_dagster.dagster_ui",
        "--socket",
        str(get_settings().dagster_socket),
        "-w",
        workspace,
        "--path-prefix",
        PATH_PREFIX,
        "--uvicorn-log-level",
        "warning",
        "--dagster-log-level",
        "warning",
        "--code-server-log-level",
        "warning",
    ]


def up_processes(
    *, with_webserver: bool = True, with_daemon: bool = True, workers: int | None = None
) -> list[tuple[str, list[str]]]:
    """The processes ``connectflow up`` supervises, as (label, argv)."""
    from connectflow_dagster.cli import main

    workspace = str(_workspace_file())
    me = [_bin("connectflow")]
    procs: list[tuple[str, list[str]]] = []
    if "serve" in main.commands:
        # `up` starts the workers itself (below), once: the gateway must not start its own.
        procs.append(("gateway", [*me, "serve", "--quiet", "--no-worker"]))
    if "worker" in main.commands:
        procs.append(("worker", [*me, "worker", *(["--processes", str(workers)] if workers else [])]))
    if with_webserver:
        procs.append(("dagster-webserver", dagster_webserver_argv(workspace)))
    if with_daemon:
        procs.append(
            ("dagster-daemon", [_bin("dagster-daemon"), "run", "-w", workspace, "--log-level", "warning"])
        )
    return procs


def port_problem(host: str, port: int, *, what: str, change: str) -> str | None:
    """A one-line error when ``host:port`` cannot be listened on, else None (nothing is kept bound)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn does: a port in TIME_WAIT is free, one that something listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = (
                "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            )
            return f"port {port} on {host} ({what}) {reason}; {change}"
    return None


def socket_problem(path: Path) -> str | None:
    """A one-line error when another ``up`` serves the Dagster UI on this home's socket; a stale
    socket file (nothing listening) is removed."""
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink(missing_ok=True)
            return None
    return (
        f"another `connectflow up` already serves this home's Dagster UI ({path}); stop it, "
        "or set CONNECTFLOW_HOME to another directory"
    )


def _answers(url: str, *, uds: str | None = None) -> bool:
    transport = httpx.HTTPTransport(uds=uds) if uds else None
    try:
        with httpx.Client(transport=transport, timeout=2) as client:
            return client.get(url).status_code < 500
    except httpx.HTTPError:
        return False


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Gateway port (default: CONNECTFLOW_PORT, 8000).")
@click.option("--no-dagster-ui", is_flag=True, help="Do not start dagster-webserver.")
@click.option(
    "--no-daemon", is_flag=True, help="Do not start dagster-daemon (schedules, sensors, queued runs)."
)
@click.option("--workers", type=int, help="Warm worker processes (default: one per core).")
@click.option(
    "--ready-timeout",
    type=click.IntRange(1, 3600),
    default=300,
    show_default=True,
    help="Seconds to wait for the services to answer.",
)
def up(
    port: int | None, no_dagster_ui: bool, no_daemon: bool, workers: int | None, ready_timeout: int
) -> None:
    """Start everything on this machine: gateway + editor, workers, Dagster UI and daemon. Ctrl-C stops all.

    \b
    Checks its port first, prints the URLs once they answer (then "ready"), and keeps the terminal to
    progress and errors: the gateway's access log goes to CONNECTFLOW_HOME/logs/access.log, Dagster
    logs warnings only. The Dagster UI is served by the gateway at /dagster/, for administrators.
    """
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dagster_ui import PATH_PREFIX, prepare_socket_directory

    if port is not None:
        os.environ["CONNECTFLOW_PORT"] = str(port)
        get_settings.cache_clear()
    settings = get_settings()
    # Before anything starts: a taken port is one clear line, not an error buried 20 s later.
    problem = port_problem(
        settings.host,
        settings.port,
        what="gateway and editor",
        change="set CONNECTFLOW_PORT or pass --port to use another one",
    )
    if problem is None and not no_dagster_ui:
        problem = socket_problem(settings.dagster_socket)
    if problem:
        _fail(problem)

    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.store.db import get_engine

    click.echo(
        f"ConnectFlow home: {settings.home_dir}  (database: "
        f"{'PostgreSQL' if settings.uses_postgres else 'SQLite'})"
    )
    get_engine()  # migrate once, before several processes race to do it
    get_instance()  # creates Dagster storage and DAGSTER_HOME, exported to the children
    if not no_dagster_ui:
        prepare_socket_directory(settings.dagster_socket)
    logs = settings.home_dir / "logs"
    logs.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
        "PYTHONUNBUFFERED": "1",
        ACCESS_LOG_ENV: str(logs / "access.log"),
    }
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    for label, argv in up_processes(
        with_webserver=not no_dagster_ui, with_daemon=not no_daemon, workers=workers
    ):
        children.append((label, subprocess.Popen(argv, env=env, start_new_session=True)))
        click.echo(f"started {label} (pid {children[-1][1].pid})")

    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def exited() -> bool:
        nonlocal stopping
        for label, proc in children:
            if proc.poll() is not None:
                click.secho(
                    f"{label} exited with code {proc.returncode}; stopping everything", fg="red", err=True
                )
                stopping = True
                return True
        return False

    gateway_url = f"http://{settings.host}:{settings.port}"
    base = settings.public_url or gateway_url
    labels = {label for label, _ in children}
    waiting = {}
    if "gateway" in labels:
        waiting["gateway"] = lambda: _answers(f"{gateway_url}/api/health")
    if "dagster-webserver" in labels:
        sock = str(settings.dagster_socket)
        waiting["Dagster UI"] = lambda: _answers(f"http://dagster{PATH_PREFIX}/server_info", uds=sock)
    click.echo("waiting for " + " and ".join(waiting) + " to answer…")
    started, deadline = time.monotonic(), time.monotonic() + ready_timeout
    failed = False
    while waiting and not stopping:
        for name, check in list(waiting.items()):
            if check():
                del waiting[name]
                click.echo(f"  {name} answers ({time.monotonic() - started:.0f} s)")
        if exited():
            failed = True
        elif waiting and time.monotonic() > deadline:
            click.secho(
                f"{' and '.join(waiting)} did not answer within {ready_timeout} s; stopping everything",
                fg="red",
                err=True,
            )
            failed = stopping = True
        elif waiting:
            time.sleep(0.25)  # the children give no readiness signal but their HTTP answer

    if not stopping:
        click.echo("")
        if "gateway" in labels:
            click.echo(f"  editor      {base}/")
            click.echo(f"  API docs    {base}/api/docs")
            if "dagster-webserver" in labels:
                click.echo(f"  Dagster UI  {base}{PATH_PREFIX}/   (administrators: the first account is one)")
        click.secho("ConnectFlow is ready. Press Ctrl-C to stop everything.", fg="green", bold=True)

    while not stopping:
        if exited():
            failed = True
        else:
            time.sleep(0.5)
    _stop_all(children)
    sys.exit(1 if failed else 0)


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, proc in children:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for label, proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"{label} did not stop in time; killing it", err=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    click.echo("stopped.")


COMMANDS = [run, executions, up]
