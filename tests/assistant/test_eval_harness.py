"""bench/assistant_eval.py keeps working: a short run against its scripted local server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_eval_harness_runs_against_the_scripted_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "assistant_eval.py"), "--scripted", "--limit", "4"],
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "CONNECTFLOW_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["requests"] == 4
    assert set(report) >= {
        "valid_after_repair_rate", "first_attempt_rate", "node_type_precision", "node_type_recall",
        "repairs_mean", "latency_p50_s", "latency_p90_s", "tokens_mean",
    }  # fmt: skip
    assert report["valid_after_repair_rate"] == 1.0 and report["repairs_mean"] > 0
