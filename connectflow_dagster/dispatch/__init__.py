"""Dispatch: the trigger inbox, warm workers, the Dagster sensor and schedules, live run events.

``inbox`` stores accepted events; ``ingest`` finds the trigger a request is for and accepts it;
``worker`` claims and runs them in-process; ``dagster_defs`` gives the code location its inbox sensor
and one schedule per schedule trigger; ``live`` turns a
run's event log into node status changes. The threaded executor runs below, beside the compiler
(``connectflow_dagster/executor.py``).
"""
