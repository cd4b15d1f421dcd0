"""``python -m connectflow_dagster.cli``: the ``connectflow`` command (how ``serve`` starts its workers)."""

from connectflow_dagster.cli import main

main()
