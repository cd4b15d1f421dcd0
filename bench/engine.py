"""Engine overhead: chains of 3 and 10 Set nodes run as Dagster runs, in-process, on the configured storage.

    .venv/bin/python bench/engine.py [--runs 30] [--home DIR]

Uses CONNECTFLOW_HOME / CONNECTFLOW_DATABASE_URL like the product (default: a fresh temporary home on
SQLite). Prints the median wall time of a whole run (create run + execute + events stored) per chain,
the per-node cost (slope between the chains) and the fixed per-run cost, next to the budget in
DESIGN.md, and — in the same run — Dagster's own in-memory floor: the same chains as no-op ops run
with ``execute_in_process`` on an ephemeral instance (no storage, default console logging). The
budget is a ratio: per node ≤ 1.5× the floor's per op. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_FLOOR_RATIO = 1.5


def chain(n: int, wid: str) -> dict:
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}]
    edges = []
    for i in range(n):
        nodes.append(
            {
                "id": f"s{i}",
                "type": "set",
                "name": f"Set {i}",
                "params": {"fields": {"value": f"{{{{ trigger.n }}}}-{i}"}},
            }
        )
        edges.append({"source": nodes[-2]["id"], "target": f"s{i}"})
    return {"id": wid, "name": f"bench chain {n}", "nodes": nodes, "edges": edges}


def measure(n: int, runs: int) -> list[float]:
    from connectflow_dagster import spec
    from connectflow_dagster.dispatch.worker import run_in_process
    from connectflow_dagster.execution import RunTarget
    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import local_user, save_workflow

    wf = spec.parse_workflow(chain(n, f"bench_chain{n}"))
    with session_scope() as s:
        owner = local_user(s)
        saved = save_workflow(s, owner.id, wf)
        target = RunTarget(saved.spec(), saved.version.id, saved.version.number, owner.id)
    instance = get_instance()
    for _ in range(3):  # warm-up: compile, import, first storage connections
        run_in_process(target, instance=instance, payload={"n": 0})
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        run_id = run_in_process(target, instance=instance, payload={"n": i})
        samples.append((time.perf_counter() - t0) * 1000)
        assert instance.get_run_by_id(run_id).is_success
    return samples


def dagster_floor(n: int, runs: int, quiet: bool = False) -> list[float]:
    """Dagster alone: a chain of ``n + 1`` no-op ops (like the trigger + n nodes), in memory.

    ``quiet``: the console logger at WARNING instead of Dagster's default DEBUG (a stricter floor:
    ConnectFlow's own console logger is quiet by default too).
    """
    from dagster import DagsterInstance, In, job, op

    @op
    def first() -> int:
        return 0

    @op(ins={"x": In(int)})
    def step(x: int) -> int:
        return x + 1

    @job(name=f"floor_chain{n}")
    def chain_job() -> None:
        value = first()
        for i in range(n):
            value = step.alias(f"s{i}")(value)

    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}} if quiet else None
    samples = []
    # Dagster's default console logger (DEBUG, colored) stays on; its lines go to /dev/null so that a
    # terminal or pipe does not time the reader.
    with (
        DagsterInstance.ephemeral() as instance,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
    ):
        for i in range(runs + 3):
            t0 = time.perf_counter()
            result = chain_job.execute_in_process(instance=instance, run_config=config)
            if i >= 3:  # the first runs pay for imports and first-time caches
                samples.append((time.perf_counter() - t0) * 1000)
            assert result.success
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--home", help="CONNECTFLOW_HOME (default: a fresh temporary directory)")
    args = parser.parse_args()
    if args.home or "CONNECTFLOW_HOME" not in os.environ:
        os.environ["CONNECTFLOW_HOME"] = args.home or tempfile.mkdtemp(prefix="cf-bench-")
    os.environ.pop("DAGSTER_HOME", None)
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    storage = "PostgreSQL" if settings.uses_postgres else "SQLite"
    print(f"engine bench: {args.runs} runs per chain, in-process, {storage} storage at {settings.home_dir}")
    c3 = measure(3, args.runs)
    c10 = measure(10, args.runs)
    f3 = dagster_floor(3, args.runs)
    f10 = dagster_floor(10, args.runs)
    chain3, chain10 = statistics.median(c3), statistics.median(c10)
    per_node = (chain10 - chain3) / 7
    overhead = chain3 - 3 * per_node - per_node  # the trigger node is a node too
    floor3, floor10 = statistics.median(f3), statistics.median(f10)
    floor_per_op = (floor10 - floor3) / 7
    floor_run = floor3 - 4 * floor_per_op
    floor_ratio = per_node / floor_per_op if floor_per_op > 0 else float("inf")
    q3, q10 = (
        statistics.median(dagster_floor(3, args.runs, quiet=True)),
        statistics.median(dagster_floor(10, args.runs, quiet=True)),
    )
    quiet_per_op = (q10 - q3) / 7
    quiet_ratio = per_node / quiet_per_op if quiet_per_op > 0 else float("inf")
    print(
        f"  chain of 3 Set nodes (+ trigger):  p50 {chain3:7.1f} ms   p90 {statistics.quantiles(c3, n=10)[-1]:7.1f} ms"
    )
    print(
        f"  chain of 10 Set nodes (+ trigger): p50 {chain10:7.1f} ms   p90 {statistics.quantiles(c10, n=10)[-1]:7.1f} ms"
    )
    print(
        f"  Dagster floor (no-op ops, execute_in_process, ephemeral instance): chain 3 p50 {floor3:6.1f} ms,"
        f" chain 10 p50 {floor10:6.1f} ms"
    )
    verdict = "within" if floor_ratio <= BUDGET_FLOOR_RATIO else "OVER"
    print(
        f"  per node: {per_node:6.2f} ms   Dagster floor per op {floor_per_op:6.2f} ms   ratio {floor_ratio:4.2f}"
        f"   budget ≤ {BUDGET_FLOOR_RATIO}× ({verdict})"
    )
    print(f"  per run (fixed):  {overhead:6.1f} ms   Dagster floor per run {floor_run:6.1f} ms")
    print(
        f"  stricter floor (console logger at WARNING): per op {quiet_per_op:6.2f} ms, ratio {quiet_ratio:4.2f}"
    )
    print(
        json.dumps(
            {
                "chain3_ms": round(chain3, 1),
                "chain10_ms": round(chain10, 1),
                "per_node_ms": round(per_node, 2),
                "run_overhead_ms": round(overhead, 1),
                "floor_chain3_ms": round(floor3, 1),
                "floor_chain10_ms": round(floor10, 1),
                "floor_per_op_ms": round(floor_per_op, 2),
                "floor_run_ms": round(floor_run, 1),
                "per_node_floor_ratio": round(floor_ratio, 2),
                "quiet_floor_per_op_ms": round(quiet_per_op, 2),
                "per_node_quiet_floor_ratio": round(quiet_ratio, 2),
                "storage": storage.lower(),
                "runs": args.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
