"""``connectflow`` command line. Each module here adds one family of commands to ``main``.

| module                  | commands                           |
|-------------------------|------------------------------------|
| engine.py               | run, executions, up                |
| account.py              | login, logout, whoami, create-user |
| dispatch.py             | worker                             |
| keys.py                 | rotate-keys                        |
| interop.py              | import, export (n8n JSON)          |
| assist.py               | assist (the AI assistant)          |
| ``connectflow.cli`` EPs | serve (``gateway.cli``)            |

Other packages add commands through the ``connectflow.cli`` entry-point group (each entry point names a
click command): that is how the gateway contributes ``serve`` without the engine importing the
gateway. Errors a user can fix (missing file, invalid JSON, invalid workflow) print a message and
exit 1, never a traceback.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

import click

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_COMMAND_MODULES = ("engine", "account", "dispatch", "keys", "interop", "assist")
ENTRY_POINT_GROUP = "connectflow.cli"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="connectflow-dagster")
def main() -> None:
    """ConnectFlow: workflow automation on Dagster."""
    # Files ConnectFlow and the Dagster processes it starts create (SQLite database and its WAL,
    # Dagster storage, IO-manager pickles, keys) are for this account only: 0600, directories 0700.
    os.umask(0o077)


for _name in _COMMAND_MODULES:
    for _command in importlib.import_module(f"connectflow_dagster.cli.{_name}").COMMANDS:
        main.add_command(_command)

_seen: set[str] = set()
for _ep in entry_points(group=ENTRY_POINT_GROUP):
    if _ep.value in _seen:  # the same distribution found twice on sys.path
        continue
    _seen.add(_ep.value)
    main.add_command(_ep.load())
