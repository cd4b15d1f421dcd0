"""The Dagster run and op tags ConnectFlow writes, in one place.

Every ConnectFlow run carries these tags; they are how a run is found again (by owner, workflow,
version or inbox event) in Dagster's run storage and in the Dagster UI. Tag values are visible to
anyone who can see the run: never put a secret in one.
"""

from __future__ import annotations

__all__ = [
    "TAG_ATTEMPT",
    "TAG_CALLER_NODE",
    "TAG_CALLER_RUN",
    "TAG_CALL_CHAIN",
    "TAG_CHILD_RUNS",
    "TAG_EVENT",
    "TAG_FAILED_RUN",
    "TAG_LOOP",
    "TAG_NODE_NAME",
    "TAG_NODE_TYPE",
    "TAG_OWNER",
    "TAG_PREFIX",
    "TAG_RESUMED",
    "TAG_TIMED_OUT",
    "TAG_TIMED_OUT_NODES",
    "TAG_TRIGGER",
    "TAG_VERSION",
    "TAG_VERSION_HASH",
    "TAG_VERSION_ID",
    "TAG_WORKER",
    "TAG_WORKER_LOST",
    "TAG_WORKFLOW",
    "TAG_WORKFLOW_NAME",
]

TAG_PREFIX = "connectflow/"

# Run tags written when a run is created (execution.create_run).
TAG_WORKFLOW = "connectflow/workflow_id"
TAG_WORKFLOW_NAME = "connectflow/workflow_name"  # the name when the run was created (not renamed later)
TAG_VERSION = "connectflow/version"
TAG_VERSION_ID = "connectflow/version_id"
TAG_VERSION_HASH = "connectflow/version_hash"
TAG_TRIGGER = "connectflow/trigger"
TAG_OWNER = "connectflow/owner"
TAG_EVENT = "connectflow/event_id"
# A continuation run of a waiting execution (waits.py): the Wait node it resumes.
TAG_RESUMED = "connectflow/resumed_node"

# Run tags written by a worker (dispatch.worker).
TAG_WORKER = "connectflow/worker"
TAG_ATTEMPT = "connectflow/attempt"
TAG_WORKER_LOST = "connectflow/worker_lost"
TAG_TIMED_OUT = "connectflow/timed_out"  # the message of a run stopped by settings.timeout_seconds
TAG_TIMED_OUT_NODES = "connectflow/timed_out_nodes"  # the nodes that were running then (comma list)

# Sub-workflows (Execute Workflow): both runs name the other.
TAG_CALLER_RUN = "connectflow/caller_run_id"  # on a child run: the run whose node called it
TAG_CALLER_NODE = "connectflow/caller_node"  # on a child run: that node's id
TAG_CALL_CHAIN = "connectflow/call_chain"  # on a child run: workflow ids of its callers, outermost first
TAG_CHILD_RUNS = "connectflow/child_runs"  # on a caller: "<node id>=<child run id>,…"

# Error workflows: the run of an error workflow names the failed run it reports.
TAG_FAILED_RUN = "connectflow/failed_run_id"

# Op tags: what the Dagster UI shows for each node (compiler).
TAG_NODE_TYPE = "connectflow/node_type"
TAG_NODE_NAME = "connectflow/node_name"
TAG_LOOP = "connectflow/loop"  # on the ops that run per item: the loop (node id) they belong to
