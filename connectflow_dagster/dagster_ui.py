"""Links into, and nudges for, the Dagster UI (dagster-webserver)."""

from __future__ import annotations

import logging
import threading

import httpx

from connectflow_dagster.config import get_settings
from connectflow_dagster.execution import CODE_LOCATION

log = logging.getLogger(__name__)

_RELOAD = """mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) { __typename }
}"""


def run_url(run_id: str) -> str:
    """Where the Dagster UI shows this run."""
    return f"{get_settings().dagster_ui_url.rstrip('/')}/runs/{run_id}"


def request_reload(*, wait: bool = False) -> None:
    """Ask a running dagster-webserver to reload the code location so a saved workflow shows up.

    Best effort: with no webserver running there is nothing to refresh, and the next start loads
    the workflow anyway.
    """

    def reload() -> None:
        try:
            httpx.post(
                f"{get_settings().dagster_ui_url.rstrip('/')}/graphql",
                json={"query": _RELOAD, "variables": {"name": CODE_LOCATION}},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            log.debug("dagster-webserver reload skipped: %s", exc)

    if wait:
        reload()
    else:
        threading.Thread(target=reload, name="dagster-reload", daemon=True).start()
