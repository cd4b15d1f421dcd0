"""What one execution costs a warm worker: CPU and wall time per inbox event, optionally profiled.

    .venv/bin/python bench/worker_cost.py [--shape peer3|branch9] [--events 200] [--profile prof.txt]

One ``Worker`` in this process drains events enqueued in the inbox beforehand (claim, create the
Dagster run, execute it, complete the event — exactly a worker's loop), for the workflows of
bench/peer.py, calling the peer's mock API (../shared/peer/mock_api.py, its own process, so its CPU is
not counted). CPU per execution is this process's CPU time (every thread) over the drain divided by
the events: the figure the cheaper-runs work optimises, and much less sensitive to other load on the
machine than wall time. ``--profile`` records the drain with py-spy (raw stacks; summarise with
bench/profile_top.py). Uses CONNECTFLOW_HOME / CONNECTFLOW_DATABASE_URL if set, else a fresh
temporary SQLite home. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import free_port, fresh_home
from peer import BIN, PEER, cf_workflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=["peer3", "branch9"], default="peer3")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--profile", type=Path, help="write py-spy raw stacks of the drain here")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the drain here (pstats)")
    args = parser.parse_args()

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    os.environ.setdefault("CONNECTFLOW_NETWORK_ALLOW", f"127.0.0.1:{port},127.0.0.1")
    mock = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "mock_api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=PEER,
        start_new_session=True,
    )
    profiler: subprocess.Popen | None = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{api}/echo", json={})
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        home = fresh_home()
        from connectflow_dagster import spec
        from connectflow_dagster.config import get_settings
        from connectflow_dagster.dispatch import inbox
        from connectflow_dagster.dispatch.worker import Worker
        from connectflow_dagster.store.db import session_scope
        from connectflow_dagster.store.workflows import local_user, save_workflow

        doc = cf_workflow(args.shape, api) | {"id": f"cost_{args.shape}"}
        with session_scope() as session:
            owner = local_user(session)
            saved = save_workflow(session, owner.id, spec.parse_workflow(doc))
            wid, vid, owner_id = saved.workflow.id, saved.version.id, owner.id

        def enqueue(n: int, start: int) -> None:
            for i in range(start, start + n):
                inbox.enqueue(wid, owner_id, vid, "webhook", {"body": {"orderId": f"o-{i}"}})

        worker = Worker()
        worker.warm_up()
        enqueue(10, 0)
        while worker.run_one() is not None:  # warm-up: compile, first connections, first run
            pass
        enqueue(args.events, 10)
        if args.profile:
            profiler = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--nonblocking",
                    "--gil",
                    "--format",
                    "raw",
                    "-r",
                    str(args.rate),
                    "-o",
                    str(args.profile),
                    "--pid",
                    str(os.getpid()),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaches
        walls = []
        cprof = None
        if args.cprofile:
            import cProfile

            cprof = cProfile.Profile()
            cprof.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while True:
            t0 = time.perf_counter()
            outcome = worker.run_one()
            if outcome is None:
                break
            walls.append((time.perf_counter() - t0) * 1000)
            if outcome.status != inbox.DONE:
                raise RuntimeError(f"event {outcome.event_id}: {outcome.status}")
        cpu = (time.process_time() - cpu0) * 1000 / len(walls)
        wall = (time.perf_counter() - wall0) * 1000 / len(walls)
        if cprof is not None:
            cprof.disable()
            cprof.dump_stats(str(args.cprofile))
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        os.killpg(mock.pid, signal.SIGTERM)
        mock.wait(timeout=30)

    storage = "postgresql" if get_settings().uses_postgres else "sqlite"
    print(f"worker cost: {len(walls)} events of {args.shape} drained by one warm worker, {storage} at {home}")
    print(
        f"  per execution: CPU {cpu:6.1f} ms   wall {wall:6.1f} ms   (p50 {statistics.median(walls):6.1f} ms);"
        f" load {os.getloadavg()[0]:.2f}"
    )
    print(
        json.dumps(
            {
                "shape": args.shape,
                "events": len(walls),
                "cpu_ms_per_execution": round(cpu, 2),
                "wall_ms_per_execution": round(wall, 2),
                "wall_p50_ms": round(statistics.median(walls), 2),
                "storage": storage,
            }
        )
    )


if __name__ == "__main__":
    main()
