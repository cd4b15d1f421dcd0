"""Independent branches run concurrently: 5 parallel HTTP nodes (each answered after 200 ms) in one run.

    .venv/bin/python bench/fanout.py [--runs 10]

Manual trigger → 5 HTTP requests to a local API that answers after 200 ms → Merge, executed as a
Dagster run in-process (as a warm worker does) with the threaded executor, on a fresh SQLite home (or
the configured storage). Prints the median wall time of a whole run next to the budget (≤ 400 ms;
one after another it would take ≥ 1,000 ms). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BUDGET, LocalApi, fresh_home, new_workflow_id, p50, save_workflow, verdict

BRANCHES = 5
DELAY = 0.2


def fanout(api_url: str, workflow_id: str) -> dict:
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start"}]
    edges = []
    for i in range(BRANCHES):
        nodes.append(
            {
                "id": f"call{i}",
                "type": "http.request",
                "name": f"Call {i}",
                "params": {"url": f"{api_url}/slow"},
            }
        )
        edges.append({"source": "start", "target": f"call{i}"})
    nodes.append({"id": "join", "type": "merge", "name": "Join"})
    edges += [{"source": f"call{i}", "target": "join"} for i in range(BRANCHES)]
    return {"id": workflow_id, "name": "fan-out 5", "nodes": nodes, "edges": edges}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    home = fresh_home()
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.dispatch.worker import run_in_process
    from connectflow_dagster.execution import RunTarget
    from connectflow_dagster.instance import get_instance
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import get_workflow, local_user, version_by_id, version_spec

    storage = "PostgreSQL" if get_settings().uses_postgres else "SQLite"
    api = LocalApi(slow_seconds=DELAY)
    wid = save_workflow(fanout(api.url, new_workflow_id("fanout")))
    with session_scope() as session:
        owner = local_user(session)
        version = version_by_id(session, get_workflow(session, owner.id, wid).current_version_id)
        target = RunTarget(version_spec(version), version.id, version.number, owner.id)
    instance = get_instance()
    try:
        for _ in range(2):  # warm-up
            run_in_process(target, instance=instance)
        samples = []
        for _ in range(min(args.runs, 100)):
            t0 = time.perf_counter()
            run_id = run_in_process(target, instance=instance)
            samples.append((time.perf_counter() - t0) * 1000)
            assert instance.get_run_by_id(run_id).is_success
    finally:
        api.close()
    median = p50(samples)
    print(
        f"fanout bench: {BRANCHES} parallel HTTP nodes × {DELAY * 1000:.0f} ms, threaded executor, {storage} at {home}"
    )
    print(
        f"  whole run p50 {median:6.1f} ms  (min {min(samples):.1f}, max {max(samples):.1f}; {len(samples)} runs)"
    )
    print(
        f"  budget ≤ {BUDGET['fanout5_ms']:.0f} ms ({verdict(median, BUDGET['fanout5_ms'])}); "
        f"one after another it would be ≥ {BRANCHES * DELAY * 1000:.0f} ms"
    )
    print(json.dumps({"fanout5_ms": round(median, 1), "runs": len(samples), "storage": storage.lower()}))


if __name__ == "__main__":
    main()
