"""``connectflow import`` (n8n workflow JSON → saved ConnectFlow workflows, with a report) and
``connectflow export`` (a saved workflow as n8n JSON or as ConnectFlow's own format)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from connectflow_dagster.errors import ConnectFlowError, WorkflowInvalid

MAX_IMPORT_BYTES = 16 * 1024 * 1024


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def print_report(report: dict[str, Any]) -> None:
    s = report["summary"]
    click.secho(f"{report['workflow']}", bold=True)
    click.echo(
        f"  nodes: {s['exact']} mapped exactly, {s['approximated']} approximated, {s['unsupported']} not supported"
        + (f", {s['folded']} folded into their parent" if s["folded"] else "")
        + (f", {s['sticky_notes']} sticky notes" if s["sticky_notes"] else "")
    )
    click.echo(
        f"  expressions: {s['expressions_translated']} translated to templates, {s['expressions_js']} evaluated "
        f"as JavaScript, {s['expressions_placeholder']} left in placeholders"
    )
    for node in report["nodes"]:
        if node["status"] in ("approximated", "unsupported") or node.get("credential"):
            colour = "red" if node["status"] == "unsupported" else "yellow"
            click.secho(
                f"  {node['status']:<12} {node['name']} ({node['n8n_type']} → {node['type']})", fg=colour
            )
            for note in node["notes"]:
                click.echo(f"      - {note}")
    for problem in report["problems"]:
        click.secho(f"  to fix before it runs: {problem}", fg="yellow")


@click.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the imported workflow (a file with one workflow).")
@click.option("--json", "as_json", is_flag=True, help="Print the saved workflows and reports as JSON.")
@click.option("--dry-run", is_flag=True, help="Only print the report; save nothing.")
def import_(file: Path, name: str | None, as_json: bool, dry_run: bool) -> None:
    """Import an n8n workflow export (one workflow or an array) into your workflows.

    Every node is kept: nodes without an equivalent become "not supported" placeholders. The report
    says what was mapped exactly, approximated (and why), or not supported, how each expression was
    carried over, and which credentials to choose."""
    from connectflow_dagster import authoring
    from connectflow_dagster.interop.n8n import import_n8n

    if not file.is_file():
        _fail(f"file not found: {file}")
    if file.stat().st_size > MAX_IMPORT_BYTES:
        _fail(f"{file} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        _fail(f"{file} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except (UnicodeDecodeError, RecursionError):
        _fail(f"{file} is not a JSON text file ConnectFlow can read")
    if dry_run:
        try:
            results = [{"report": item.report.as_dict()} for item in import_n8n(data, name=name)]
        except WorkflowInvalid as exc:
            _fail(f"{file}: {exc}")
    else:
        try:
            results = authoring.import_n8n(data, name=name)
        except ConnectFlowError as exc:
            _fail(f"{file}: {exc}")
    if not as_json:
        for entry in results:
            print_report(entry["report"])
            if "id" in entry:
                click.secho(f"  saved as {entry['id']} (v{entry['version']}): {entry['url']}", fg="green")
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))


@click.command()
@click.argument("workflow_id")
@click.option(
    "--format", "fmt", type=click.Choice(["n8n", "connectflow"]), default="connectflow", show_default=True
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
def export(workflow_id: str, fmt: str, output: Path | None) -> None:
    """Export one of your workflows: n8n JSON (n8n 1.x imports it) or ConnectFlow's own format."""
    from connectflow_dagster import authoring

    try:
        document = authoring.export(workflow_id, format=fmt)
    except ConnectFlowError as exc:
        _fail(str(exc))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    if fmt == "n8n":
        for node in document.get("nodes", []):
            if node.get("type") == "n8n-nodes-base.stopAndError" and "no n8n equivalent" in str(
                node.get("parameters")
            ):
                click.secho(
                    f"warning: node '{node['name']}' has no n8n equivalent (exported as Stop and Error)",
                    fg="yellow",
                    err=True,
                )


COMMANDS = [import_, export]
