"""The Dagster code location with many workflows and versions: listing, a full (re)load, one job.

    .venv/bin/python bench/location.py [--workflows 300] [--versions 3] [--webserver]

Saves ``--workflows`` workflows (manual trigger → Set → HTTP request) with ``--versions`` versions
each into a fresh temporary home (SQLite unless CONNECTFLOW_DATABASE_URL is set) and measures, in
two cases — only current versions listed (no runs yet) and every version listed (each version has
an execution) — what the code location costs:

- ``list_s``: building the repository (the listing query and the schedules), what a launched run's
  process pays besides its own job;
- ``one_job_s``: compiling one version's job on demand (a launched run's own job);
- ``all_jobs_s``: compiling every listed job, what Dagster's snapshot of a (re)load asks for;
- with ``--webserver``: ``reload_s``, the median wall time of the Dagster UI's own
  ``reloadRepositoryLocation`` mutation against a real ``dagster-webserver`` (a new code server
  process that imports the module and snapshots every listed job).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "connectflow") {
  __typename ... on WorkspaceLocationEntry { loadStatus } } }"""
JOBS = """query { repositoryOrError(repositorySelector: {repositoryLocationName: "connectflow",
  repositoryName: "connectflow"}) { ... on Repository { jobs { name } } } }"""


def workflow(i: int, version: int) -> dict:
    return {
        "id": f"bench{i:05d}",
        "name": f"Bench workflow {i}",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start"},
            {
                "id": "shape",
                "type": "set",
                "name": "Shape",
                "params": {"fields": {"v": f"{version} {{{{ start.x }}}}"}},
            },
            {"id": "send", "type": "http.request", "name": "Send", "params": {"url": "http://127.0.0.1:9/"}},
        ],
        "edges": [{"source": "start", "target": "shape"}, {"source": "shape", "target": "send"}],
    }


def populate(workflows: int, versions: int) -> list[tuple[str, str, int]]:
    """Save every version; returns (workflow id, owner id, version id) of each."""
    from connectflow_dagster import spec
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.workflows import local_user, save_workflow

    saved = []
    with session_scope() as session:
        owner = local_user(session).id
        for i in range(workflows):
            for v in range(1, versions + 1):
                result = save_workflow(session, owner, spec.parse_workflow(workflow(i, v)))
                saved.append((result.workflow.id, owner, result.version.id))
    return saved


def give_every_version_a_run(saved: list[tuple[str, str, int]]) -> None:
    """An inbox event per version: what makes an older version listed."""
    from connectflow_dagster.dispatch import inbox
    from connectflow_dagster.store.db import session_scope

    with session_scope() as session:
        for wid, owner, vid in saved:
            inbox.accept_event(
                session,
                workflow_id=wid,
                owner_id=owner,
                version_id=vid,
                trigger_node_id="start",
                payload={},
                dedup_key=f"bench:{vid}",
            )


def measure_in_process() -> dict[str, float | int]:
    from connectflow_dagster import compiler, definitions

    compiler._cache.clear()
    t0 = time.perf_counter()
    data = definitions.build_repository_data()
    t1 = time.perf_counter()
    name = next(iter(data._listed))
    data.get_job(name)
    t2 = time.perf_counter()
    compiler._cache.clear()
    fresh = definitions.build_repository_data()
    t3 = time.perf_counter()
    jobs = fresh.get_all_jobs()
    t4 = time.perf_counter()
    return {
        "listed": len(data._listed),
        "list_s": round(t1 - t0, 3),
        "one_job_s": round(t2 - t1, 3),
        "all_jobs_s": round(t4 - t3, 3),
        "jobs": len(jobs),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_webserver(reloads: int) -> dict[str, float | int]:
    import httpx

    from connectflow_dagster.instance import prepare_dagster_home

    prepare_dagster_home()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    proc = subprocess.Popen(
        [str(bin_dir / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        started = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 600:
                raise SystemExit("dagster-webserver did not start")
            time.sleep(0.2)
        ready = time.perf_counter() - started
        times = []
        for _ in range(reloads):
            t0 = time.perf_counter()
            body = httpx.post(f"{url}/graphql", json={"query": RELOAD}, timeout=600).json()
            times.append(time.perf_counter() - t0)
            assert body["data"]["reloadRepositoryLocation"]["loadStatus"] == "LOADED", body
        jobs = httpx.post(f"{url}/graphql", json={"query": JOBS}, timeout=600).json()
        count = len(jobs["data"]["repositoryOrError"]["jobs"])
        return {
            "webserver_ready_s": round(ready, 2),
            "reload_s": round(statistics.median(times), 2),
            "ui_jobs": count,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the webserver and its code server
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument(
        "--webserver", action="store_true", help="also time reloads in a real dagster-webserver"
    )
    parser.add_argument("--reloads", type=int, default=3)
    parser.add_argument("--only-every", action="store_true", help="skip the current-versions-only case")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cf-bench-location-"))
    os.environ.setdefault("CONNECTFLOW_HOME", str(home))
    os.environ.pop("DAGSTER_HOME", None)

    saved = populate(args.workflows, args.versions)
    result: dict[str, object] = {"workflows": args.workflows, "versions": args.versions}
    current_only: dict[str, float | int] = {}
    if not args.only_every:
        current_only = measure_in_process()
        if args.webserver:
            current_only |= measure_webserver(args.reloads)
        print("current versions only:", current_only, flush=True)
    give_every_version_a_run(saved)
    every = measure_in_process()
    if args.webserver:
        every |= measure_webserver(args.reloads)
    print("every version has a run:", every)
    result |= {"current_only": current_only, "every_version_run": every}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
