"""Cost of a mapped step (one item of a loop) against a plain op, in-process, on the configured storage.

    .venv/bin/python bench/items.py [--runs 5] [--small 10] [--large 40]

Two workflows of the same shape, run as Dagster runs (create + execute + events stored) like
bench/engine.py: *mapped*: Manual → Loop Over Items (N items) → Set per item → Aggregate; *plain*:
Manual → N Set nodes side by side → Merge. Both run on the threaded executor with 8 steps at a time
(the loop's concurrency is 8). The per-step cost is the slope between N = small and N = large, so the
fixed per-run cost cancels out. The last line is one JSON object (docs/decisions.md, "Items").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import fresh_home

START = {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"}
SET = {"type": "set", "params": {"fields": {"value": "{{ trigger.n }}"}}}


def mapped(n: int) -> dict:
    return {
        "id": f"bench_items_mapped{n}",
        "name": f"bench mapped {n}",
        "nodes": [
            START,
            {
                "id": "each",
                "type": "loop",
                "name": "Each",
                "params": {"items": list(range(n)), "concurrency": 8},
            },
            {"id": "work", "name": "Work", **SET},
            {"id": "collect", "type": "aggregate", "name": "Collect"},
        ],
        "edges": [
            {"source": "start", "target": "each"},
            {"source": "each", "target": "work"},
            {"source": "work", "target": "collect"},
        ],
    }


def plain(n: int) -> dict:
    nodes = [START] + [{"id": f"w{i}", "name": f"Work {i}", **SET} for i in range(n)]
    nodes.append({"id": "join", "type": "merge", "name": "Join"})
    edges = [{"source": "start", "target": f"w{i}"} for i in range(n)]
    edges += [{"source": f"w{i}", "target": "join"} for i in range(n)]
    return {"id": f"bench_items_plain{n}", "name": f"bench plain {n}", "nodes": nodes, "edges": edges}


def measure(document: dict, runs: int) -> float:
    from connectflow_dagster import spec
    from connectflow_dagster.dispatch.worker import run_in_process
    from connectflow_dagster.execution import RunTarget
    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import local_user, save_workflow

    wf = spec.parse_workflow(document)
    with session_scope() as s:
        owner = local_user(s)
        saved = save_workflow(s, owner.id, wf)
        target = RunTarget(saved.spec(), saved.version.id, saved.version.number, owner.id)
    instance = get_instance()
    run_in_process(target, instance=instance, payload={"n": 0})  # warm-up: compile, plan, connections
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        run_id = run_in_process(target, instance=instance, payload={"n": i})
        samples.append((time.perf_counter() - t0) * 1000)
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.is_success, run_id
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=40)
    args = parser.parse_args()
    home = fresh_home()
    print(f"items bench: {args.runs} runs each, N = {args.small} and {args.large}, home {home}")
    results = {}
    for name, build in (("mapped", mapped), ("plain", plain)):
        small, large = measure(build(args.small), args.runs), measure(build(args.large), args.runs)
        per_step = (large - small) / (args.large - args.small)
        results[name] = (small, large, per_step)
        print(
            f"  {name:6}  N={args.small}: p50 {small:7.1f} ms   N={args.large}: p50 {large:7.1f} ms"
            f"   per step {per_step:6.2f} ms"
        )
    ratio = results["mapped"][2] / results["plain"][2] if results["plain"][2] > 0 else float("inf")
    print(f"  a mapped step costs {ratio:.2f}× a plain op")
    print(
        json.dumps(
            {
                "mapped_small_ms": round(results["mapped"][0], 1),
                "mapped_large_ms": round(results["mapped"][1], 1),
                "mapped_per_item_ms": round(results["mapped"][2], 2),
                "plain_small_ms": round(results["plain"][0], 1),
                "plain_large_ms": round(results["plain"][1], 1),
                "plain_per_op_ms": round(results["plain"][2], 2),
                "mapped_to_plain_ratio": round(ratio, 2),
                "small": args.small,
                "large": args.large,
                "runs": args.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
