"""Engine overhead: chains of 3 and 10 Set nodes run as Dagster runs, in-process, on the configured storage.

    .venv/bin/python bench/engine.py [--runs 30] [--home DIR]

Uses CONNECTFLOW_HOME / CONNECTFLOW_DATABASE_URL like the product (default: a fresh temporary home on
SQLite). Prints the median wall time of a whole run (create run + execute + events stored) per chain,
the per-node cost (slope between the chains) and the fixed per-run cost, next to the budget in
DESIGN.md. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_PER_NODE_MS = 10.0
STOCK_PER_OP_MS = "20–35"


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
    chain3, chain10 = statistics.median(c3), statistics.median(c10)
    per_node = (chain10 - chain3) / 7
    overhead = chain3 - 3 * per_node - per_node  # the trigger node is a node too
    print(
        f"  chain of 3 Set nodes (+ trigger):  p50 {chain3:7.1f} ms   p90 {statistics.quantiles(c3, n=10)[-1]:7.1f} ms"
    )
    print(
        f"  chain of 10 Set nodes (+ trigger): p50 {chain10:7.1f} ms   p90 {statistics.quantiles(c10, n=10)[-1]:7.1f} ms"
    )
    verdict = "within" if per_node <= BUDGET_PER_NODE_MS else "OVER"
    print(
        f"  per node: {per_node:6.1f} ms   budget ≤ {BUDGET_PER_NODE_MS:.0f} ms ({verdict});"
        f" stock Dagster on SQLite measured {STOCK_PER_OP_MS} ms per op"
    )
    print(f"  per run (fixed):  {overhead:6.1f} ms")
    print(
        json.dumps(
            {
                "chain3_ms": round(chain3, 1),
                "chain10_ms": round(chain10, 1),
                "per_node_ms": round(per_node, 2),
                "run_overhead_ms": round(overhead, 1),
                "storage": storage.lower(),
                "runs": args.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
