"""Webhook accept: latency (durably stored in the inbox, 2xx) and the highest sustained accept rate.

    .venv/bin/python bench/ingest.py [--latency-requests 500] [--seconds 4] [--client raw|httpx]
                                     [--gateway-workers N]

Runs the gateway (uvicorn, one process unless ``--gateway-workers``) on 127.0.0.1 against a fresh
SQLite home (or the configured CONNECTFLOW_HOME / CONNECTFLOW_DATABASE_URL), with no workers, and
POSTs the 3-node webhook workflow's trigger. Latency: one request at a time (httpx). Rate: client
processes with several keep-alive connections each, for a fixed time per concurrency level; the best
level is reported. Last line: one JSON object.

The rate's load generator shares the 2 cores with the gateway, so what it costs per request is taken
from the gateway. ``--client raw`` (default) writes a fixed HTTP/1.1 request and reads the status line
and the Content-Length body (~0.1 ms CPU per request); ``--client httpx`` uses ``httpx.AsyncClient``,
which costs 0.6 ms per request with 4 connections, 1.2 ms with 16 and 2.5 ms with 32 per process here
(docs/decisions.md, "Ingest hot path"), i.e. more than the gateway itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BUDGET,
    Gateway,
    new_workflow_id,
    p50,
    percentile,
    save_workflow,
    verdict,
    webhook_http_set,
)


def _load_raw(url: str, connections: int, seconds: float, queue: multiprocessing.Queue) -> None:
    """Keep-alive HTTP/1.1 POSTs over plain sockets; every answer's status is read and counted."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"orderId": "A-1"}).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def main() -> tuple[int, int]:
        ok = failed = 0
        stop_at = time.monotonic() + seconds

        async def one() -> None:
            nonlocal ok, failed
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while time.monotonic() < stop_at:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = None
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if length is None:
                        raise RuntimeError(f"answer without Content-Length: {head!r}")
                    await reader.readexactly(length)
                    if head[9:12] == b"202":
                        ok += 1
                    else:
                        failed += 1
            finally:
                writer.close()

        await asyncio.gather(*(one() for _ in range(connections)))
        return ok, failed

    queue.put(asyncio.run(main()))


def _load_httpx(url: str, connections: int, seconds: float, queue: multiprocessing.Queue) -> None:
    async def main() -> tuple[int, int]:
        ok = failed = 0
        stop_at = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def one() -> None:
                nonlocal ok, failed
                while time.monotonic() < stop_at:
                    response = await client.post(url, json={"orderId": "A-1"})
                    if response.status_code == 202:
                        ok += 1
                    else:
                        failed += 1

            await asyncio.gather(*(one() for _ in range(connections)))
        return ok, failed

    queue.put(asyncio.run(main()))


def accept_rate(
    url: str, processes: int, connections: int, seconds: float, client: str = "raw"
) -> tuple[float, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    load = _load_raw if client == "raw" else _load_httpx
    procs = [
        multiprocessing.Process(target=load, args=(url, connections, seconds, queue))
        for _ in range(processes)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return ok / min(elapsed, seconds + 0.5), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-requests", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=4.0, help="per concurrency level (bounded)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="rate load generator")
    parser.add_argument("--gateway-workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()

    from harness import fresh_home

    home = fresh_home()
    from connectflow_dagster.config import get_settings

    storage = "PostgreSQL" if get_settings().uses_postgres else "SQLite"
    wid = save_workflow(webhook_http_set("http://127.0.0.1:9", new_workflow_id("ingest")))
    gateway = Gateway(workers=args.gateway_workers)
    url = f"{gateway.url}/api/webhooks/{wid}/orders"
    try:
        latencies = []
        with httpx.Client(timeout=30) as client:
            for _ in range(50):  # warm-up
                client.post(url, json={"orderId": "warm"})
            for i in range(min(args.latency_requests, 5000)):
                t0 = time.perf_counter()
                response = client.post(url, json={"orderId": f"A-{i}"})
                latencies.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 202, response.text
        best, best_label, rates = 0.0, "", []
        for processes, connections in ((1, 8), (2, 8), (2, 32)):
            rate, failed = accept_rate(url, processes, connections, min(args.seconds, 10.0), args.client)
            rates.append((processes, connections, rate, failed))
            if rate > best:
                best, best_label = rate, f"{processes} client processes × {connections} connections"
    finally:
        gateway.close()

    a50, a99 = p50(latencies), percentile(latencies, 99)
    print(
        f"ingest bench: gateway ({args.gateway_workers} uvicorn process(es)) on {storage} at {home}; "
        f"webhook → inbox row → 202; rate client: {args.client}"
    )
    print(f"  accept latency, one at a time ({len(latencies)} requests):")
    print(
        f"    p50 {a50:6.2f} ms   budget ≤ {BUDGET['accept_p50_ms']:.0f} ms ({verdict(a50, BUDGET['accept_p50_ms'])})"
    )
    print(
        f"    p99 {a99:6.2f} ms   budget ≤ {BUDGET['accept_p99_ms']:.0f} ms ({verdict(a99, BUDGET['accept_p99_ms'])})"
    )
    print("  sustained accept rate (every answer a 202 after the commit):")
    for processes, connections, rate, failed in rates:
        print(f"    {processes} × {connections:>2} connections: {rate:7.0f} accepted/s  ({failed} non-202)")
    print(
        f"  highest: {best:.0f}/s with {best_label}   budget ≥ {BUDGET['accept_rate_per_s']:.0f}/s "
        f"({verdict(best, BUDGET['accept_rate_per_s'], lower_is_better=False)}); client and server share 2 cores"
    )
    print(
        json.dumps(
            {
                "accept_p50_ms": round(a50, 2),
                "accept_p99_ms": round(a99, 2),
                "accept_rate_per_s": round(best, 1),
                "storage": storage.lower(),
                "client": args.client,
                "gateway_workers": args.gateway_workers,
            }
        )
    )


if __name__ == "__main__":
    main()
