"""Webhook → run finished: latency unloaded, sustained executions/s with every event executed once, worker RSS.

    .venv/bin/python bench/e2e.py [--unloaded 40] [--burst 200] [--workers N]

Runs the gateway (uvicorn) and `connectflow worker` processes (default: one per core) on 127.0.0.1
with a local HTTP API, on a fresh SQLite home (or the configured CONNECTFLOW_HOME /
CONNECTFLOW_DATABASE_URL), for the 3-node workflow of tests/fixtures/n8n/webhook_http_set.json.
Unloaded: one webhook at a time, from before the POST to the run's end time in Dagster run storage.
Sustained: a burst of webhooks; executions/s = events / (first POST → last run end); then every
accepted event is checked to have exactly one successful run. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BUDGET,
    Gateway,
    LocalApi,
    fresh_home,
    new_workflow_id,
    p50,
    percentile,
    rss_mb,
    save_workflow,
    webhook_http_set,
)


def run_end_time(instance, run_id: str) -> float | None:  # type: ignore[no-untyped-def]
    from dagster import RunsFilter

    records = instance.get_run_records(filters=RunsFilter(run_ids=[run_id]), limit=1)
    if records and records[0].dagster_run.is_finished:
        return records[0].end_time
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unloaded", type=int, default=40)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    unloaded_n, burst_n = min(args.unloaded, 500), min(args.burst, 2000)

    home = fresh_home()
    from dagster import DagsterRunStatus, RunsFilter

    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dispatch.worker import (
        default_process_count,
        start_worker_processes,
        stop_worker_processes,
    )
    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.tags import TAG_EVENT

    storage = "PostgreSQL" if get_settings().uses_postgres else "SQLite"
    instance = get_instance()
    api = LocalApi()
    wid = save_workflow(webhook_http_set(api.url, new_workflow_id("e2e")))
    workers = args.workers or default_process_count()
    gateway = Gateway()
    procs = start_worker_processes(workers)
    url = f"{gateway.url}/api/webhooks/{wid}/orders"
    try:
        with httpx.Client(timeout=30) as client:

            def send(i: int) -> str:
                response = client.post(url, json={"orderId": f"A-{i}"})
                assert response.status_code == 202, response.text
                return response.json()["execution_id"]

            def wait_end(execution_id: str, deadline: float) -> float:
                while True:
                    end = run_end_time(instance, execution_id)
                    if end is not None:
                        return end
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"execution {execution_id} did not finish")
                    time.sleep(0.002)

            for i in range(5):  # warm-up: first compile and connections in every worker
                wait_end(send(-i - 1), time.monotonic() + 60)
            latencies = []
            for i in range(unloaded_n):
                t0 = time.time()
                execution_id = send(i)
                latencies.append((wait_end(execution_id, time.monotonic() + 60) - t0) * 1000)

            rss_before = [rss_mb(p.pid) for p in procs]
            first = time.time()
            ids = [send(10_000 + i) for i in range(burst_n)]
            accepted_at = time.time()
            deadline = time.monotonic() + 300
            last_end = max(wait_end(i, deadline) for i in ids)
            rss_after = [rss_mb(p.pid) for p in procs]
    finally:
        stop_worker_processes(procs)
        gateway.close()
        api.close()

    lost = duplicated = failed = 0
    for execution_id in ids:
        runs = instance.get_runs(RunsFilter(tags={TAG_EVENT: execution_id}))
        good = [r for r in runs if r.status == DagsterRunStatus.SUCCESS]
        lost += not runs
        failed += bool(runs) and not good
        duplicated += len(good) > 1
    rate = burst_n / (last_end - first)
    e50, e99 = p50(latencies), percentile(latencies, 99)
    worker_rss = max(rss_after + rss_before)

    print(f"e2e bench: gateway + {workers} warm workers on {storage} at {home}; webhook → HTTP → Set")
    print(f"  webhook → run finished, unloaded ({unloaded_n} one at a time):")
    print(f"    p50 {e50:7.1f} ms   p99 {e99:7.1f} ms   (against n8n on this machine: bench/peer.py)")
    print(
        f"  sustained: {burst_n} webhooks accepted in {accepted_at - first:.2f} s, all executed in "
        f"{last_end - first:.2f} s → {rate:.1f} executions/s"
    )
    print(f"  every accepted event executed once: lost {lost}, duplicated {duplicated}, failed runs {failed}")
    print(
        f"  worker RSS: max {worker_rss:.0f} MB (per process: {', '.join(f'{r:.0f}' for r in rss_after)}) "
        f"budget ≤ {BUDGET['worker_rss_mb']:.0f} MB (n8n's on this machine: bench/peer.py)"
    )
    print(
        json.dumps(
            {
                "e2e_p50_ms": round(e50, 1),
                "e2e_p99_ms": round(e99, 1),
                "executions_per_s": round(rate, 2),
                "lost": lost,
                "duplicated": duplicated,
                "worker_rss_mb": round(worker_rss, 1),
                "failed": failed,
                "workers": workers,
                "storage": storage.lower(),
            }
        )
    )


if __name__ == "__main__":
    main()
