"""Dispatch: the trigger inbox, warm workers, the Dagster sensor and schedules, the threaded executor.

``inbox`` stores accepted events; ``worker`` claims and runs them in-process; ``dagster_defs`` gives
the code location its inbox sensor and one schedule per schedule trigger; ``executor`` runs a run's
independent ops concurrently; ``live`` turns a run's event log into node status changes.
"""
