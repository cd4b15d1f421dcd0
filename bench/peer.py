"""ConnectFlow vs n8n on this machine, side by side: latency, throughput, CPU per execution, idle CPU.

    .venv/bin/python bench/peer.py [--shape peer3|branch9|both] [--quick] [--workers N]

Installs n8n 1.123 with ../shared/peer/install-n8n.sh (cached in ~/.cache/connectflow-peer/n8n, ~5 min
the first time), starts the peer's mock API, n8n (../shared/peer/start-n8n.sh, fresh user folder) and
ConnectFlow as ``connectflow up`` configures it (``connectflow serve`` + ``connectflow worker``, fresh
temporary CONNECTFLOW_HOME, free ports), creates each workflow shape through ConnectFlow's public API
(sign up, create, save), warms both servers, then alternates ../shared/peer/load.py against each,
A B A B: one caller x 100 requests (latency) and 20 callers x 300 (throughput), twice.

CPU per execution is read from /proc/<pid>/stat for every process of each side (the process tree,
children included), idle CPU over 30 s with no traffic. Lost / duplicated: ConnectFlow from run storage
vs accepted requests (every accepted webhook must have exactly one successful run); n8n from its
answers and its execution table. Absolute figures move with the machine; the ratios ConnectFlow / n8n
from alternating runs are what count. The last line is one JSON object (one entry per shape).

Shapes: ``peer3`` is ../shared/peer/webhook_http_set.n8n.json (webhook -> HTTP -> Set, answering after
the run); ``branch9`` is bench/peer_branch.n8n.json (webhook -> HTTP -> Set -> If -> (Set -> HTTP) /
(Set) -> Merge -> Set, half of the calls on each branch). Everything this script starts is stopped on
exit, Ctrl-C or error (each child runs in its own process group).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEER = Path(os.environ.get("CONNECTFLOW_PEER_DIR", ROOT.parent.parent / "shared" / "peer"))
if not PEER.exists():
    PEER = Path("/work/shared/peer")
N8N_DIR = Path(os.environ.get("CONNECTFLOW_N8N_DIR", Path.home() / ".cache" / "connectflow-peer" / "n8n"))
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
BRANCH_N8N = Path(__file__).resolve().parent / "peer_branch.n8n.json"


# ---- processes --------------------------------------------------------------------------------------

_children: list[tuple[str, subprocess.Popen]] = []


def spawn(
    label: str, argv: list[str], *, env: dict[str, str], cwd: Path | None = None, log: Path
) -> subprocess.Popen:
    """Start a child in its own process group (so stopping it stops its own children too)."""
    out = open(log, "ab")  # noqa: SIM115 — kept open for the child's lifetime
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    _children.append((label, proc))
    return proc


def stop_all() -> None:
    """SIGTERM every process group this script started, then SIGKILL what is left after 20 s."""
    while _children:
        batch = list(reversed(_children))
        _children.clear()
        for _, proc in batch:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for label, proc in batch:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {label} did not stop; killing it", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, check: Any, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up in {timeout:.0f} s")
        time.sleep(0.5)


# ---- CPU from /proc ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds of the process and of its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / CLK_TCK


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by ``roots`` and all their descendants (reaped ones through cutime)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                stats[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def tree_rss_mb(roots: list[int]) -> float:
    """Resident memory of ``roots`` and their descendants, in MB."""
    pids, todo = set(), list(roots)
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents.setdefault(st[0], []).append(int(entry))
    while todo:
        pid = todo.pop()
        if pid not in pids:
            pids.add(pid)
            todo.extend(parents.get(pid, []))
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# ---- the two servers --------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    roots: list[int]
    urls: dict[str, str] = field(default_factory=dict)  # shape -> webhook URL
    runs: dict[str, list[dict]] = field(default_factory=dict)  # shape -> load.py results
    cpu: dict[str, float] = field(default_factory=dict)  # shape -> CPU seconds under load
    requests: dict[str, int] = field(default_factory=dict)
    rss_mb: float = 0.0  # highest resident memory of the whole side, sampled after each load run


def cf_workflow(shape: str, api: str) -> dict:
    """The ConnectFlow equivalent of each n8n workflow (response after the run, last node's output)."""
    hook = {
        "id": "webhook",
        "type": "trigger.webhook",
        "name": "Webhook",
        "variable_name": "webhook",
        "params": {"path": "bench", "response_mode": "after_run", "response_timeout_seconds": 120},
    }
    fetch = {
        "id": "fetch",
        "type": "http.request",
        "name": "Fetch",
        "variable_name": "fetch",
        "params": {"method": "POST", "url": f"{api}/echo", "body": {"order": "{{ webhook.body.orderId }}"}},
    }
    if shape == "peer3":
        hook["params"]["response_node"] = "shape"
        nodes = [
            hook,
            fetch,
            {
                "id": "shape",
                "type": "set",
                "name": "Shape",
                "variable_name": "shape",
                "params": {
                    "fields": {"message": "Order {{ webhook.body.orderId }} paid {{ fetch.data.amount }}"}
                },
            },
        ]
        edges = [("webhook", "fetch", None), ("fetch", "shape", None)]
    else:
        hook["params"]["response_node"] = "reply"
        hook["params"]["path"] = "bench-branch"

        def set_node(node_id: str, name: str, fields: dict) -> dict:
            return {
                "id": node_id,
                "type": "set",
                "name": name,
                "variable_name": node_id,
                "params": {"fields": fields},
            }

        nodes = [
            hook,
            fetch,
            set_node(
                "price", "Price", {"order": "{{ webhook.body.orderId }}", "amount": "{{ fetch.data.amount }}"}
            ),
            {
                "id": "even",
                "type": "if",
                "name": "Even?",
                "variable_name": "even",
                "params": {
                    "conditions": [{"left": "{{ price.order }}", "operator": "matches", "right": "[02468]$"}]
                },
            },
            set_node("tag_even", "Tag even", {"order": "{{ price.order }}", "tier": "even"}),
            {
                "id": "notify",
                "type": "http.request",
                "name": "Notify",
                "variable_name": "notify",
                "params": {
                    "method": "POST",
                    "url": f"{api}/echo",
                    "body": {"order": "{{ tag_even.order }}", "tier": "{{ tag_even.tier }}"},
                },
            },
            set_node("tag_odd", "Tag odd", {"order": "{{ price.order }}", "tier": "odd"}),
            {"id": "merge", "type": "merge", "name": "Merge", "variable_name": "merge", "params": {}},
            set_node(
                "reply",
                "Reply",
                {
                    "message": "Order {{ price.order }} ({{ price.amount }}) went "
                    "{{ 'even, notified' if notify is defined and notify.data.ok else 'odd' }}"
                },
            ),
        ]
        edges = [
            ("webhook", "fetch", None),
            ("fetch", "price", None),
            ("price", "even", None),
            ("even", "tag_even", "true"),
            ("even", "tag_odd", "false"),
            ("tag_even", "notify", None),
            ("notify", "merge", None),
            ("tag_odd", "merge", None),
            ("merge", "reply", None),
        ]
    return {
        "name": f"peer bench {shape}",
        "nodes": nodes,
        "edges": [{"source": s, "target": t, **({"source_handle": h} if h else {})} for s, t, h in edges],
    }


def n8n_documents(shape_files: list[Path], api_port: int, target: Path) -> None:
    """Copy the n8n workflows next to a copy of start-n8n.sh, pointing them at this run's mock API."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(PEER / "start-n8n.sh", target / "start-n8n.sh")
    for src in shape_files:
        text = src.read_text().replace("http://127.0.0.1:8999/", f"http://127.0.0.1:{api_port}/")
        (target / src.name).write_text(text)


def create_cf_workflow(base: str, shape: str, api: str, client: httpx.Client) -> str:
    """Create and save the workflow through the public API; returns its webhook URL."""
    doc = cf_workflow(shape, api)
    created = client.post(f"{base}/api/workflows", json={"name": doc["name"]})
    created.raise_for_status()
    wid = created.json()["id"]
    saved = client.put(f"{base}/api/workflows/{wid}", json=doc)
    saved.raise_for_status()
    problems = saved.json().get("problems")
    if problems:
        raise RuntimeError(f"ConnectFlow workflow {shape} has problems: {problems}")
    path = doc["nodes"][0]["params"]["path"]
    return f"{base}/api/webhooks/{wid}/{path}"


def sign_up(base: str) -> httpx.Client:
    """Sign up (the first account owns the instance) and sign in, as a user of the public API does."""
    client = httpx.Client(timeout=60)
    account = {"email": "bench@example.com", "password": "Bench-password-1234567", "name": "Bench"}
    client.post(f"{base}/api/auth/sign-up/email", json=account).raise_for_status()
    response = client.post(
        f"{base}/api/auth/sign-in/email", json={"email": account["email"], "password": account["password"]}
    )
    response.raise_for_status()
    client.headers["X-CSRF-Token"] = response.json().get("csrf_token") or client.cookies.get("cf_csrf", "")
    return client


def load(url: str, n: int, conc: int) -> dict:
    """One ../shared/peer/load.py run (the same client for both servers)."""
    out = subprocess.run(
        [sys.executable, str(PEER / "load.py"), url, str(n), str(conc)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load.py failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measured_load(side: Side, shape: str, n: int, conc: int) -> dict:
    before = tree_cpu(side.roots)
    result = load(side.urls[shape], n, conc)
    side.cpu[shape] = side.cpu.get(shape, 0.0) + tree_cpu(side.roots) - before
    side.requests[shape] = side.requests.get(shape, 0) + n
    side.runs.setdefault(shape, []).append(result)
    side.rss_mb = max(side.rss_mb, tree_rss_mb(side.roots))
    print(
        f"    {side.name:11s} {conc:2d} x {n // conc if conc > 1 else n:3d}: p50 {result['p50_ms']:7.1f} ms"
        f"  p99 {result['p99_ms']:7.1f} ms  {result['rps']:6.1f} exec/s  errors {result['errors']}",
        flush=True,
    )
    return result


# ---- lost / duplicated ------------------------------------------------------------------------------


def cf_exactly_once(env: dict[str, str], workflow_url: str) -> dict[str, int]:
    """Every accepted webhook of the workflow must have exactly one successful run (run storage)."""
    wid = workflow_url.split("/api/webhooks/")[1].split("/")[0]
    code = f"""
import json, collections
from dagster import DagsterRunStatus, RunsFilter
from sqlalchemy import text
from connectflow_dagster.instance import get_instance
from connectflow_dagster.store.db import get_engine
with get_engine().connect() as c:
    events = [r[0] for r in c.execute(text("select id from cf_trigger_inbox where workflow_id = :w"), {{"w": {wid!r}}})]
runs = get_instance().get_runs(RunsFilter(tags={{"connectflow/workflow_id": {wid!r}}}))
good = collections.Counter(r.tags.get("connectflow/event_id") for r in runs if r.status == DagsterRunStatus.SUCCESS)
print(json.dumps({{"accepted": len(events), "runs": len(runs), "ok": sum(1 for e in events if good[e] >= 1),
  "lost": sum(1 for e in events if good[e] == 0), "duplicated": sum(1 for e in events if good[e] > 1)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def n8n_last_execution_id(user_folder: Path) -> int:
    """The newest execution id in n8n's database before this run (the folder is reused)."""
    db = user_folder / ".n8n" / "database.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return int(conn.execute("select coalesce(max(id), 0) from execution_entity").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def n8n_executions(user_folder: Path, workflow_id: str, after_id: int) -> dict[str, int]:
    """This run's executions of one workflow, by status, from n8n's own database."""
    db = user_folder / ".n8n" / "database.sqlite"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "select status, count(*) from execution_entity where workflowId = ? and id > ? group by status",
            (workflow_id, after_id),
        ).fetchall()
    return {str(status): int(count) for status, count in rows}


# ---- main -------------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=["peer3", "branch9", "both"], default="both")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 30 x 1 and 100 x 20, 10 s idle"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="ConnectFlow worker processes (default: per core)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory with the logs")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record py-spy profiles (raw stacks, GIL holders) of ConnectFlow's gateway and workers during "
        "the measured rounds into this directory; the profiler perturbs the figures, so profile and "
        "measure in separate runs",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress in logs too
    shapes = ["peer3", "branch9"] if args.shape == "both" else [args.shape]
    rounds, lat_n, thr_n, idle_s = (1, 30, 100, 10.0) if args.quick else (2, 100, 300, 30.0)

    signal.signal(signal.SIGTERM, _on_signal)
    atexit.register(stop_all)
    tmp = Path(tempfile.mkdtemp(prefix="cf-peer-"))
    logs = tmp / "logs"
    logs.mkdir()
    try:
        run(args, shapes, rounds, lat_n, thr_n, idle_s, tmp, logs)
    except BaseException:
        print(f"  logs: {logs}", file=sys.stderr)
        args.keep_logs = True
        raise
    finally:
        stop_all()
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)


def run(
    args: Any, shapes: list[str], rounds: int, lat_n: int, thr_n: int, idle_s: float, tmp: Path, logs: Path
) -> None:
    t_start = time.time()
    print(
        f"peer bench: ConnectFlow vs n8n on this machine ({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})"
    )
    print("  installing n8n (cached) …", flush=True)
    n8n_dir = (
        subprocess.run(
            ["bash", str(PEER / "install-n8n.sh"), str(N8N_DIR)], check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    # mock API
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTFLOW_", "DAGSTER_"))}
    mock = spawn(
        "mock API",
        [
            str(BIN / "uvicorn"),
            "mock_api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--log-level",
            "warning",
        ],
        env=base_env,
        cwd=PEER,
        log=logs / "mock_api.log",
    )
    wait_until("mock API", lambda: httpx.post(f"{api}/echo", json={}).status_code == 200, 30, mock)

    # n8n: a user folder kept next to the install (its database migrations take minutes on a busy
    # machine, once), this run's workflows imported (with retries: a busy machine times the CLI out),
    # then started by the peer's own start-n8n.sh
    n8n_port = free_port()
    n8n_home = N8N_DIR.parent / "n8n-home"
    n8n_files = tmp / "n8n-workflows"
    n8n_documents([PEER / "webhook_http_set.n8n.json", BRANCH_N8N], api_port, n8n_files)
    n8n_env = {
        **base_env,
        "N8N_USER_FOLDER": str(n8n_home),
        "N8N_PORT": str(n8n_port),
        "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
        # what start-n8n.sh sets for its own commands; the CLI import needs the same engine settings
        "N8N_EXPRESSION_ENGINE": "legacy",
        "N8N_RUNNERS_ENABLED": "false",
        "N8N_DIAGNOSTICS_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
    }
    n8n_first_id = n8n_last_execution_id(n8n_home)
    n8n_bin = str(Path(n8n_dir) / "node_modules" / ".bin" / "n8n")
    print("  importing the n8n workflows …", flush=True)
    for document in sorted(n8n_files.glob("*.n8n.json")):
        for attempt in range(3):
            done = subprocess.run(
                [n8n_bin, "import:workflow", f"--input={document}"],
                env=n8n_env | {"N8N_LOG_LEVEL": "warn"},
                capture_output=True,
                text=True,
                timeout=900,
            )
            if done.returncode == 0:
                break
            print(f"  n8n import of {document.name} failed (attempt {attempt + 1}): {done.stdout[-300:]}")
        else:
            raise RuntimeError(f"n8n could not import {document.name}")
    n8n_proc = spawn(
        "n8n", ["bash", str(n8n_files / "start-n8n.sh"), n8n_dir], env=n8n_env, log=logs / "n8n.log"
    )
    n8n = Side("n8n", [n8n_proc.pid])
    n8n_base = f"http://127.0.0.1:{n8n_port}"
    n8n.urls = {"peer3": f"{n8n_base}/webhook/bench", "branch9": f"{n8n_base}/webhook/bench-branch"}

    # ConnectFlow as `connectflow up` configures it (gateway + workers; no Dagster UI/daemon in the bench)
    cf_home = tmp / "cf-home"
    cf_port = free_port()
    cf_env = {
        **base_env,
        "CONNECTFLOW_HOME": str(cf_home),
        "CONNECTFLOW_PORT": str(cf_port),
        "CONNECTFLOW_HOST": "127.0.0.1",
        "CONNECTFLOW_DAGSTER_PORT": str(free_port()),
        "CONNECTFLOW_LOG_LEVEL": "WARNING",
        "CONNECTFLOW_NETWORK_ALLOW": f"127.0.0.1:{api_port},127.0.0.1",  # the mock API is on loopback
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("CONNECTFLOW_DATABASE_URL"):
        cf_env["CONNECTFLOW_DATABASE_URL"] = os.environ["CONNECTFLOW_DATABASE_URL"]
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from connectflow_dagster.store.db import get_engine; from connectflow_dagster.instance "
            "import get_instance; get_engine(); get_instance()",
        ],
        env=cf_env,
        cwd=ROOT,
        check=True,
    )  # migrate once before the processes start, as `connectflow up` does
    cf_env["DAGSTER_HOME"] = str(cf_home / "dagster")
    cf = BIN / "connectflow"
    gateway = spawn(
        "gateway",
        [str(cf), "serve", "--quiet", "--no-worker"],
        env=cf_env,
        cwd=ROOT,
        log=logs / "gateway.log",
    )
    workers = spawn(
        "workers",
        [str(cf), "worker", *(["--processes", str(args.workers)] if args.workers else [])],
        env=cf_env,
        cwd=ROOT,
        log=logs / "workers.log",
    )
    cf_side = Side("ConnectFlow", [gateway.pid, workers.pid])
    cf_base = f"http://127.0.0.1:{cf_port}"
    wait_until(
        "ConnectFlow gateway", lambda: httpx.get(f"{cf_base}/api/health").status_code == 200, 120, gateway
    )
    client = sign_up(cf_base)
    for shape in shapes:
        cf_side.urls[shape] = create_cf_workflow(cf_base, shape, api, client)
    client.close()

    print("  waiting for n8n to answer (about a minute) …", flush=True)
    wait_until(
        "n8n",
        lambda: httpx.post(n8n.urls["peer3"], json={"orderId": "warm"}, timeout=30).status_code == 200,
        900,
        n8n_proc,
    )
    # both answer with the last node's output: check the two agree before timing anything
    for shape in shapes:
        a = httpx.post(cf_side.urls[shape], json={"orderId": "o-2"}, timeout=60)
        b = httpx.post(n8n.urls[shape], json={"orderId": "o-2"}, timeout=60)
        print(f"  {shape}: ConnectFlow {a.status_code} {a.text[:160]}")
        print(f"  {shape}: n8n         {b.status_code} {b.text[:160]}")
        if a.status_code != 200 or b.status_code != 200:
            raise RuntimeError(f"{shape}: a server did not answer 200")
    print(
        f"  started in {time.time() - t_start:.0f} s; warming both (20 requests each per shape)", flush=True
    )
    for shape in shapes:
        for side in (cf_side, n8n):
            load(side.urls[shape], 20, 1)

    profilers: list[subprocess.Popen] = []
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        for label, pid, extra in (("gateway", gateway.pid, []), ("workers", workers.pid, ["--subprocesses"])):
            profilers.append(
                subprocess.Popen(
                    [
                        str(BIN / "py-spy"),
                        "record",
                        "--nonblocking",
                        "--gil",
                        "--format",
                        "raw",
                        "-r",
                        "50",
                        *extra,
                        "-o",
                        str(args.profile / f"{label}.txt"),
                        "--pid",
                        str(pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(2)  # py-spy attaches
    results: dict[str, dict] = {}
    for shape in shapes:
        print(f"\n  shape {shape}: A B A B, {rounds} round(s); load {os.getloadavg()[0]:.2f}", flush=True)
        for _ in range(rounds):
            for side in (cf_side, n8n):
                measured_load(side, shape, lat_n, 1)
            for side in (cf_side, n8n):
                measured_load(side, shape, thr_n, 20)

    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=120)
    if profilers:
        print(f"  profiles: {args.profile}/gateway.txt, workers.txt (bench/profile_top.py)")
    print(f"\n  idle: {idle_s:.0f} s with no traffic (after 5 s to settle)", flush=True)
    time.sleep(5)
    c0, n0, t0 = tree_cpu(cf_side.roots), tree_cpu(n8n.roots), time.monotonic()
    time.sleep(idle_s)
    elapsed = time.monotonic() - t0
    cf_idle = (tree_cpu(cf_side.roots) - c0) / elapsed * 100
    n8n_idle = (tree_cpu(n8n.roots) - n0) / elapsed * 100

    for shape in shapes:
        once = cf_exactly_once(cf_env, cf_side.urls[shape])
        n8n_id = "benchwf0000001" if shape == "peer3" else "benchwfbranch01"
        n8n_exec = n8n_executions(n8n_home, n8n_id, n8n_first_id)
        sent = 20 + 1 + rounds * (lat_n + thr_n)  # warm-up, the agreement check, the measured runs
        n8n_sent = sent + (1 if shape == "peer3" else 0)  # + the call that found n8n ready
        n8n_errors = sum(r["errors"] for r in n8n.runs[shape])
        n8n_total = sum(n8n_exec.values())
        cf_p50 = statistics.median(r["p50_ms"] for r in cf_side.runs[shape] if r["conc"] == 1)
        n_p50 = statistics.median(r["p50_ms"] for r in n8n.runs[shape] if r["conc"] == 1)
        cf_eps = statistics.median(r["rps"] for r in cf_side.runs[shape] if r["conc"] > 1)
        n_eps = statistics.median(r["rps"] for r in n8n.runs[shape] if r["conc"] > 1)
        cf_cpu = cf_side.cpu[shape] / cf_side.requests[shape] * 1000
        n_cpu = n8n.cpu[shape] / n8n.requests[shape] * 1000
        cf_errors = sum(r["errors"] for r in cf_side.runs[shape])
        results[shape] = {
            "p50_ratio": ratio(cf_p50, n_p50),
            "eps_ratio": ratio(cf_eps, n_eps),
            "cpu_ratio": ratio(cf_cpu, n_cpu),
            "cf_idle_cpu_pct": round(cf_idle, 2),
            "n8n_idle_cpu_pct": round(n8n_idle, 2),
            "cf_p50_ms": cf_p50,
            "n8n_p50_ms": n_p50,
            "cf_eps": cf_eps,
            "n8n_eps": n_eps,
            "cf_cpu_ms": round(cf_cpu, 1),
            "n8n_cpu_ms": round(n_cpu, 1),
            "lost": once["lost"] + max(0, sent - cf_errors - once["accepted"]),
            "duplicated": once["duplicated"],
            "cf_accepted": once["accepted"],
            "cf_errors": cf_errors,
            "n8n_lost": n8n_errors + max(0, n8n_sent - n8n_errors - n8n_total),
            "n8n_duplicated": max(0, n8n_total - n8n_sent),
            "n8n_executions": n8n_exec,
            "cf_rss_mb": round(cf_side.rss_mb),
            "n8n_rss_mb": round(n8n.rss_mb),
        }
        r = results[shape]
        print(f"\n  {shape}                     ConnectFlow      n8n     ratio (CF / n8n)")
        print(f"    p50, one caller       {cf_p50:8.1f} ms {n_p50:8.1f} ms   {r['p50_ratio']}  (goal ≤ 0.8)")
        print(f"    exec/s, 20 callers    {cf_eps:8.1f}    {n_eps:8.1f}      {r['eps_ratio']}  (goal ≥ 1.25)")
        print(f"    CPU per execution     {cf_cpu:8.1f} ms {n_cpu:8.1f} ms   {r['cpu_ratio']}  (goal ≤ 1.0)")
        print(
            f"    exactly once: ConnectFlow {once['accepted']} accepted, lost {r['lost']}, duplicated"
            f" {r['duplicated']}; n8n {n8n_total} executions {n8n_exec}, lost {r['n8n_lost']},"
            f" duplicated {r['n8n_duplicated']}"
        )
    print(
        f"\n  resident memory (highest, whole side): ConnectFlow {cf_side.rss_mb:.0f} MB"
        f" (gateway + worker supervisor + workers), n8n {n8n.rss_mb:.0f} MB"
    )
    print(
        f"  idle CPU over {elapsed:.0f} s: ConnectFlow {cf_idle:.2f} % of a core (goal ≤ 1), n8n {n8n_idle:.2f} %"
    )
    print(f"  finished in {time.time() - t_start:.0f} s; load {os.getloadavg()[0]:.2f}")
    print(json.dumps(results if len(results) > 1 else next(iter(results.values())) | {"shape": shapes[0]}))


if __name__ == "__main__":
    main()
