"""Export each example in examples/ as n8n JSON, import it into a real n8n, execute it there, and
compare every node's result with ConnectFlow's run of the same example. Not a test (n8n is slow to
start and CPU is scarce); run it after changing an exporter.

    .venv/bin/python bench/n8n_export_check.py [EXAMPLE.json …]

Installs n8n like bench/peer.py (cached in ~/.cache/connectflow-peer/n8n). Examples that need the
internet or an outside call to go on (an HTTP call to a public URL, a wait for a resume webhook) are
skipped with the reason. Per example: nodes compared / equal / different (with both values). Last
line: JSON with ``examples``, ``executed``, ``nodes_compared``, ``nodes_equal``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PEER = next(
    (p for p in (ROOT.parent / "shared" / "peer", ROOT.parent.parent / "shared" / "peer") if p.exists()),
    Path(os.environ.get("CONNECTFLOW_PEER_DIR", "../shared/peer")),
)
N8N_DIR = Path(os.environ.get("CONNECTFLOW_N8N_DIR", Path.home() / ".cache" / "connectflow-peer" / "n8n"))
SKIP = {
    "http_chain.json": "calls a public URL (no internet here)",
    "wait_for_webhook.json": "waits for a resume call",
    "error_workflow.json": "an error workflow (started by another workflow's failure)",
    "error_workflow_failing.json": "needs its error workflow saved first",
    "sub_workflow.json": "calls a sub-workflow by id",
    "sub_workflow_child.json": "a sub-workflow (started by its parent)",
    "per_item.json": "calls a public API (no internet here)",
    "switch_fallback.json": "posts to an alert URL given in its input",
}


def n8n_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "N8N_USER_FOLDER": str(home),
        "N8N_DIAGNOSTICS_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
        "N8N_RUNNERS_ENABLED": "false",
        "N8N_EXPRESSION_ENGINE": "legacy",
        "N8N_LOG_LEVEL": "info",  # at "warn", `n8n execute` prints no result
        "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
        "GENERIC_TIMEZONE": "UTC",
    }


def connectflow_run(path: Path, home: Path) -> dict[str, Any]:
    env = {**os.environ, "CONNECTFLOW_HOME": str(home), "CONNECTFLOW_USER": "bench@example.com"}
    for name in ("CONNECTFLOW_TOKEN", "CONNECTFLOW_URL", "DAGSTER_HOME"):
        env.pop(name, None)
    cli = str(Path(sys.executable).parent / "connectflow")
    subprocess.run(
        [cli, "create-user", "bench@example.com"],
        env=env,
        capture_output=True,
        input="bench-Correct-Horse-42\n",
        text=True,
    )
    done = subprocess.run(
        [cli, "run", str(path), "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-500:])
    return json.loads(done.stdout)


def n8n_run(document: dict[str, Any], home: Path) -> dict[str, Any]:
    n8n = str(N8N_DIR / "node_modules" / ".bin" / "n8n")
    env = n8n_env(home)
    home.mkdir(parents=True, exist_ok=True)
    staged = home / "workflow.json"
    staged.write_text(json.dumps(document))
    subprocess.run([n8n, "import:workflow", f"--input={staged}"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [n8n, "execute", f"--id={document['id']}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = done.stdout
    start = text.find("{")
    if start < 0:
        raise RuntimeError((done.stderr or done.stdout)[-500:])
    return json.loads(text[start:])


def main() -> None:
    from connectflow_dagster.interop.n8n import export_n8n
    from connectflow_dagster.interop.n8n.mappers import EXPORT_VIEWS
    from connectflow_dagster.spec import parse_workflow

    wanted = [Path(a) for a in sys.argv[1:]] or sorted((ROOT / "examples").glob("*.json"))
    print("  installing n8n (cached) …", flush=True)
    subprocess.run(["bash", str(PEER / "install-n8n.sh"), str(N8N_DIR)], check=True, capture_output=True)
    executed = compared = equal = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in wanted:
            if path.name in SKIP:
                print(f"{path.name}: skipped ({SKIP[path.name]})")
                continue
            workflow = parse_workflow(json.loads(path.read_text()))
            document = export_n8n(workflow)
            document["id"] = ("cfex" + (workflow.id or path.stem).replace("_", ""))[:16].ljust(16, "0")
            try:
                ours = connectflow_run(path, Path(tmp) / f"cf-{path.stem}")
                theirs = n8n_run(document, Path(tmp) / "n8n")
            except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
                print(f"{path.name}: could not run: {exc}")
                continue
            executed += 1
            run_data = ((theirs.get("data") or theirs).get("resultData") or {}).get("runData") or {}
            context = ours.get("context") or {}
            for node in workflow.nodes:
                view = EXPORT_VIEWS.get(node.type)
                if node.variable_name not in context or node.name not in run_data or view is None:
                    continue
                if view.kind not in ("identity", "prefix"):
                    continue
                items = run_data[node.name][-1].get("data", {}).get("main", [[]])
                n8n_json = [i.get("json") for out in items for i in (out or [])]
                value = context[node.variable_name]
                cf_items = value if isinstance(value, list) else [value]
                compared += 1
                if n8n_json == cf_items:
                    equal += 1
                    print(f"  {path.name}: {node.name}: equal")
                else:
                    print(
                        f"  {path.name}: {node.name}: DIFFERENT\n    n8n:         {json.dumps(n8n_json)[:300]}\n    ConnectFlow: {json.dumps(cf_items)[:300]}"
                    )
    print(
        json.dumps(
            {"examples": len(wanted), "executed": executed, "nodes_compared": compared, "nodes_equal": equal}
        )
    )


if __name__ == "__main__":
    main()
