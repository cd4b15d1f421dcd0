"""`connectflow up` starts every service on the embedded default, prints where to look, and Ctrl-C
stops all of them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, deadline: float) -> None:
    while True:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "connectflow up exited early"
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.5)  # polling servers that give no readiness signal


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(300)
def test_up_starts_the_services_and_ctrl_c_stops_them(cf):
    dagster_port, gateway_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "CONNECTFLOW_HOME": str(cf.home),
        "CONNECTFLOW_DAGSTER_PORT": str(dagster_port),
        "CONNECTFLOW_PORT": str(gateway_port),
        "CONNECTFLOW_WORKERS": "1",
    }
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "connectflow"), "up", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert f"Dagster UI  http://127.0.0.1:{dagster_port}/" in output
        pids = [int(line.split("(pid ")[1].rstrip(")\n")) for line in lines if line.startswith("started ")]
        labels = [line.split()[1] for line in lines if line.startswith("started ")]
        assert "dagster-webserver" in labels and "dagster-daemon" in labels
        deadline = time.monotonic() + 180
        _wait_http(f"http://127.0.0.1:{dagster_port}/server_info", proc, deadline)
        if "gateway" in labels:
            assert f"editor      http://127.0.0.1:{gateway_port}/" in output
            _wait_http(f"http://127.0.0.1:{gateway_port}/api/health", proc, deadline)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output + rest
        assert "stopped." in rest
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
