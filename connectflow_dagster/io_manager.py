"""Where node contexts travel between ops: pickles on local disk, like Dagster's fs_io_manager.

Same layout as ``fs_io_manager`` (``<instance storage>/<run id>/<step>/<output>``) so launched runs and
"re-execute from failure" find upstream outputs, but without the two debug log lines fs_io_manager
writes per op into the event log (each one is a database write; see docs/decisions.md).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any

from dagster import InitResourceContext, InputContext, IOManager, OutputContext, io_manager


class _PickleFiles(IOManager):
    def __init__(self, base_dir: str):
        self.base_dir = base_dir

    def _path(self, identifier: Sequence[str]) -> str:
        return os.path.join(self.base_dir, *identifier)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        path = self._path(context.get_identifier())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def load_input(self, context: InputContext) -> Any:
        with open(self._path(context.get_identifier()), "rb") as f:
            return pickle.load(f)  # noqa: S301 — our own files, written by handle_output above


@io_manager(description="Pickles each op's output under the Dagster instance's storage directory.")
def context_pickle_io_manager(context: InitResourceContext) -> IOManager:
    """Pickles each op's output under the Dagster instance's storage directory.

    A plain ``@io_manager`` (no config), not a Pythonic ``ConfigurableIOManagerFactory``: Dagster
    initialises it per run without building and validating a pydantic model (docs/decisions.md).
    """
    base = context.instance.storage_directory() if context.instance else os.path.abspath("storage")
    return _PickleFiles(base)
