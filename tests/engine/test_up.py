"""`connectflow up` checks its port first, starts every service on the embedded default, says
"ready" once they answer (URLs first), keeps access logs off the terminal, and Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _up(cf, gateway_port: int, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "CONNECTFLOW_PORT": str(gateway_port)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "connectflow"), "up", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(proc: subprocess.Popen, lines: list[str]) -> None:
    """Leave nothing running when a test fails half-way: Ctrl-C, then kill every started group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
            return
        except subprocess.TimeoutExpired:
            proc.kill()
    for line in lines:
        if line.startswith("started "):
            pid = int(line.split("(pid ")[1].rstrip(")\n"))
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
    proc.communicate()


@pytest.mark.timeout(300)
def test_up_starts_the_services_says_ready_once_they_answer_and_ctrl_c_stops_them(cf):
    from connectflow_dagster.config import get_settings

    gateway_port = _free_port()
    proc = _up(cf, gateway_port, "--workers", "1")
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "ConnectFlow is ready" in line or "exited" in line or line.startswith("error"):
                break
        output = "".join(lines)
        assert "ConnectFlow is ready" in lines[-1], output
        # The ready line comes after the URLs, and they answer by then (no waiting here).
        base = f"http://127.0.0.1:{gateway_port}"
        assert httpx.get(f"{base}/api/health", timeout=10).status_code == 200
        transport = httpx.HTTPTransport(uds=str(get_settings().dagster_socket))
        with httpx.Client(transport=transport, timeout=10) as dagster:
            assert dagster.get("http://dagster/dagster/server_info").status_code == 200
        urls = [line.strip() for line in lines if line.startswith("  ") and "http" in line]
        assert urls[0] == f"editor      {base}/"
        assert urls[1] == f"API docs    {base}/api/docs"
        assert urls[2].startswith(f"Dagster UI  {base}/dagster/")
        assert output.index("answers (") < output.index("editor      ") < output.index("ConnectFlow is ready")
        pids = [int(line.split("(pid ")[1].rstrip(")\n")) for line in lines if line.startswith("started ")]
        labels = [line.split()[1] for line in lines if line.startswith("started ")]
        assert labels == ["gateway", "worker", "dagster-webserver", "dagster-daemon"]
        # Readable: no access log lines on the terminal (they go to a file under the home).
        assert httpx.get(f"{base}/api/health", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output + rest
        assert "stopped." in rest
        assert "GET /api/health" not in output + rest
        assert "GET /api/health" in (cf.home / "logs" / "access.log").read_text()
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        _stop(proc, lines)


@pytest.mark.timeout(120)
def test_a_taken_port_is_one_clear_line_before_anything_starts(cf):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _up(cf, port)
        output, _ = proc.communicate(timeout=100)
    assert proc.returncode == 1
    assert output.splitlines() == [
        f"error: port {port} on 127.0.0.1 (gateway and editor) is already in use; "
        "set CONNECTFLOW_PORT or pass --port to use another one"
    ]
    assert not (cf.home / "logs").exists()  # nothing was started


@pytest.mark.timeout(120)
def test_a_second_up_on_the_same_home_is_refused_before_anything_starts(cf):
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dagster_ui import prepare_socket_directory

    path = get_settings().dagster_socket
    prepare_socket_directory(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as running:
        running.bind(str(path))
        running.listen()
        proc = _up(cf, _free_port())
        output, _ = proc.communicate(timeout=100)
    assert proc.returncode == 1
    assert len(output.splitlines()) == 1
    assert "another `connectflow up` already serves this home's Dagster UI" in output
    assert "CONNECTFLOW_HOME" in output
