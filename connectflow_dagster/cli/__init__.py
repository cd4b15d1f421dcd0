"""``connectflow`` command line. Each module here adds one family of commands to ``main``.

| module       | commands                         |
|--------------|----------------------------------|
| engine.py    | run, executions, up              |
| account.py   | login, logout, whoami, create-user |
| gateway.py   | serve, rotate-keys               |
| dispatch.py  | worker                           |
| n8n.py       | import, export                   |

Errors a user can fix (missing file, invalid JSON, invalid workflow) print a message and exit 1,
never a traceback.
"""

from __future__ import annotations

import importlib
import os

import click

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_COMMAND_MODULES = ("engine", "account", "gateway", "dispatch", "n8n")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="connectflow-dagster")
def main() -> None:
    """ConnectFlow: workflow automation on Dagster."""


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"connectflow_dagster.cli.{_name}")
    except ModuleNotFoundError as exc:  # a family not built yet
        if exc.name != f"connectflow_dagster.cli.{_name}":
            raise
        continue
    for _command in getattr(_module, "COMMANDS", []):
        main.add_command(_command)
