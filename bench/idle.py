"""Idle CPU of `connectflow up`'s gateway + workers with no traffic (budget: ≤ 1 % of a core).

    .venv/bin/python bench/idle.py [--seconds 30] [--workers 2] [--connectflow PATH]

Starts `connectflow up --no-dagster-ui --no-daemon --workers N` in a fresh home on a free port, waits
until the gateway answers and every worker is ready, lets it settle, then reads utime + stime of every
process `up` started (from /proc/<pid>/stat) at the start and the end of the window. `--connectflow`
measures another checkout's command (e.g. the release before notifications). PostgreSQL: set
CONNECTFLOW_DATABASE_URL. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/<pid>/task/*/children)."""
    out: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                out.append(child)
                stack.append(child)
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat(5)


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settle", type=float, default=10.0, help="Seconds to wait after start-up.")
    parser.add_argument("--connectflow", default=str(Path(sys.executable).parent / "connectflow"))
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="cf-idle-")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CONNECTFLOW_HOME": home, "CONNECTFLOW_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env.pop("DAGSTER_HOME", None)
    log = open(Path(home) / "up.log", "w")  # noqa: SIM115 — closed in finally
    up = subprocess.Popen(
        [args.connectflow, "up", "--no-dagster-ui", "--no-daemon", "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:  # a bench, not a test: polling for readiness is fine here
            assert up.poll() is None, f"connectflow up exited ({Path(home, 'up.log').read_text()[-2000:]})"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not answer"
            time.sleep(0.5)
        while Path(home, "up.log").read_text().count(" ready") < args.workers:
            assert time.monotonic() < deadline, "the workers did not get ready"
            time.sleep(0.5)
        time.sleep(args.settle)
        pids = descendants(up.pid)
        commands = {pid: command_of(pid) for pid in pids}
        before = {pid: cpu_seconds(pid) for pid in pids}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - t0
        after = {pid: cpu_seconds(pid) for pid in pids}
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        log.close()
    per_process = {pid: (after[pid] - before[pid]) / elapsed * 100 for pid in pids}
    total = sum(per_process.values())
    storage = "PostgreSQL" if os.environ.get("CONNECTFLOW_DATABASE_URL") else "SQLite"
    print(f"idle CPU of connectflow up (gateway + {args.workers} workers, {storage}) over {elapsed:.0f} s:")
    for pid, pct in sorted(per_process.items(), key=lambda kv: -kv[1]):
        print(f"  {pct:6.2f} % of a core   pid {pid:<7} {commands[pid][:90]}")
    print(f"  total {total:.2f} % of a core (budget ≤ 1 %)")
    print(
        json.dumps(
            {
                "idle_cpu_pct": round(total, 2),
                "seconds": round(elapsed, 1),
                "workers": args.workers,
                "storage": storage.lower(),
            }
        )
    )


if __name__ == "__main__":
    main()
