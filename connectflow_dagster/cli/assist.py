"""``connectflow assist "…"``: ask the AI assistant for a workflow (or an answer) from the terminal."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.argument("request")
@click.option("--save", is_flag=True, help="Save the proposed workflow as one of your workflows.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["connectflow", "n8n"]),
    default="connectflow",
    show_default=True,
    help="Format the workflow is printed in.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
def assist(request: str, save: bool, fmt: str, as_json: bool) -> None:
    """Describe a workflow in a sentence; get a validated workflow, an explanation and the
    credentials to choose. Without CONNECTFLOW_ASSISTANT_MODEL: the closest template as a draft."""
    from connectflow_dagster import spec
    from connectflow_dagster.assistant.pipeline import ModelConfig
    from connectflow_dagster.assistant.pipeline import assist as run_assistant
    from connectflow_dagster.config import get_settings

    try:
        answer = run_assistant(request, ModelConfig.from_settings(get_settings()))
    except ValueError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    document = answer.workflow
    if document is not None and fmt == "n8n":
        from connectflow_dagster.interop.n8n.exporter import export_n8n

        try:
            document = export_n8n(spec.parse_workflow(answer.workflow))
        except spec.WorkflowInvalid as exc:
            click.secho(f"error: the workflow cannot be exported: {exc}", fg="red", err=True)
            sys.exit(1)
    saved = None
    if save and answer.workflow is not None:
        from connectflow_dagster import authoring
        from connectflow_dagster.errors import ConnectFlowError

        try:
            saved = authoring.save_draft(answer.workflow)
        except ConnectFlowError as exc:
            click.secho(f"error: not saved: {exc}", fg="red", err=True)
            sys.exit(1)
    if as_json:
        out = {**answer.to_dict(), "workflow": document}
        if saved is not None:
            out["saved"] = {"id": saved.id, "version": saved.version, "url": saved.url}
        click.echo(json.dumps(out, indent=2, default=str))
        return
    click.echo(answer.message, err=True)
    if answer.explanation:
        click.echo(answer.explanation, err=True)
    for problem in answer.problems:
        click.secho(f"  problem: {problem}", fg="yellow", err=True)
    if saved is not None:
        click.secho(f"saved as {saved.id} (v{saved.version}): {saved.url}", fg="green", err=True)
    if document is not None:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))


COMMANDS = [assist]
