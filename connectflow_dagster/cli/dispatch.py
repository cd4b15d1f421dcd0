"""``connectflow worker``: warm processes that execute accepted trigger events as Dagster runs."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    help="Worker processes (default: one per core). With 1 the worker runs in this process.",
)
@click.option(
    "--status", "show_status", is_flag=True, help="Print how many events are in each state and exit."
)
def worker(processes: int | None, show_status: bool) -> None:
    """Claim trigger events from the inbox and run each as a Dagster run, in warm processes.

    SIGTERM / Ctrl-C lets every worker finish its current run, then stops. A worker that dies
    mid-run loses nothing: its event is retried when its lease expires (CONNECTFLOW_LEASE_SECONDS).
    """
    from connectflow_dagster.dispatch.worker import configure_logging

    configure_logging()
    from connectflow_dagster.dispatch.config import get_dispatch_settings

    if show_status:
        from connectflow_dagster.dispatch.inbox import status_counts
        from connectflow_dagster.store.db import session_scope

        with session_scope() as session:
            click.echo(json.dumps(status_counts(session), sort_keys=True))
        return
    if get_dispatch_settings().dispatch != "worker":
        click.secho(
            "note: CONNECTFLOW_DISPATCH=sensor: the Dagster sensor also submits inbox events; "
            "both are safe together (claims are exclusive)",
            fg="yellow",
            err=True,
        )
    from connectflow_dagster.dispatch.worker import run_worker, run_worker_processes

    if processes == 1:
        from connectflow_dagster.store.db import get_engine

        get_engine()
        run_worker()
        return
    sys.exit(run_worker_processes(processes))


COMMANDS = [worker]
