"""`connectflow import FILE.json` and `connectflow export ID --format n8n|connectflow`, as a user runs them."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tests.engine.test_cli import cli  # noqa: F401  (the fixture)

FIXTURE = ROOT / "tests" / "fixtures" / "n8n" / "schedule_if_discord.json"


def _essentials(doc: dict) -> tuple:
    nodes = sorted(
        (n["name"], n["type"], tuple(n["position"]), json.dumps(n["parameters"], sort_keys=True))
        for n in doc["nodes"]
    )
    return nodes, doc["connections"]


def test_import_prints_the_report_saves_and_exports_back(cli, tmp_path):  # noqa: F811
    done = cli("import", str(FIXTURE), "--name", "Status alerts")
    assert done.returncode == 0, done.stderr
    assert "5 mapped exactly, 0 approximated, 0 not supported" in done.stdout
    assert "2 translated to templates" in done.stdout
    assert "choose a 'discord_webhook' credential" in done.stdout
    workflow_id = done.stdout.split("saved as ", 1)[1].split(" ", 1)[0]

    exported = cli("export", workflow_id, "--format", "n8n")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["name"] == "Status alerts"
    assert _essentials(document) == _essentials(json.loads(FIXTURE.read_text()))

    out = tmp_path / "backup.json"
    own = cli("export", workflow_id, "--format", "connectflow", "-o", str(out))
    assert own.returncode == 0, own.stderr
    assert [n["id"] for n in json.loads(out.read_text())["nodes"]] == [
        "every_hour",
        "check_status",
        "is_down",
        "alert",
        "all_good",
    ]


def test_import_refuses_what_is_not_an_n8n_workflow_and_dry_run_saves_nothing(cli, tmp_path):  # noqa: F811
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    done = cli("import", str(bad))
    assert done.returncode == 1 and "is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    done = cli("import", str(ROOT / "examples" / "branching.json"))
    assert done.returncode == 1 and "this is a ConnectFlow workflow" in done.stderr
    done = cli("import", str(FIXTURE), "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)
    assert "id" not in entry and entry["report"]["summary"]["nodes"] == 5
    missing = cli("export", "no_such_workflow", "--format", "n8n")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_run_on_an_n8n_file_says_to_import_it(cli):  # noqa: F811
    done = cli("run", str(FIXTURE))
    assert (
        done.returncode == 1 and "is an n8n workflow: import it first with `connectflow import" in done.stderr
    )
