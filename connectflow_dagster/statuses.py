"""One translation from Dagster events and run states to ConnectFlow statuses.

Live status (``dispatch/live.py``, streamed as server-sent events to the editor) and the executions
read model (``execution.py``, the API, CLI and executions page) both read a run's event log; they
take every status from here, so a node never shows one status live and another in history.

Node statuses: ``running`` (step started or restarted), ``retrying`` (up for retry), ``success``
(finished with an output), ``skipped`` (finished without one — a trigger that did not fire, a
disabled node, a branch not taken), ``failed``; ``pending`` before any event, and ``not_run`` for a
node that never finished in a failed or canceled run. Run statuses: ``queued``, ``running``,
``success``, ``failed``, ``canceling``, ``canceled``.
"""

from __future__ import annotations

from typing import Any

from dagster import DagsterEventType, DagsterRunStatus

__all__ = [
    "NODE_EVENTS",
    "RUN_END",
    "RUN_STATUSES",
    "node_status",
    "output_counts",
    "run_status_name",
    "split_step_key",
    "step_failure_message",
]

RUN_STATUSES = {
    DagsterRunStatus.SUCCESS: "success",
    DagsterRunStatus.FAILURE: "failed",
    DagsterRunStatus.CANCELED: "canceled",
    DagsterRunStatus.CANCELING: "canceling",
    DagsterRunStatus.STARTED: "running",
    DagsterRunStatus.STARTING: "running",
    DagsterRunStatus.QUEUED: "queued",
    DagsterRunStatus.NOT_STARTED: "queued",
    DagsterRunStatus.MANAGED: "running",
}


def run_status_name(status: DagsterRunStatus) -> str:
    """The ConnectFlow name of a Dagster run status."""
    return RUN_STATUSES.get(status, status.value.lower())


# The run's end, as the event that ends it.
RUN_END = {
    DagsterEventType.RUN_SUCCESS: "success",
    DagsterEventType.RUN_FAILURE: "failed",
    DagsterEventType.RUN_CANCELED: "canceled",
}

# Step events that change a node's status (STEP_OUTPUT decides success vs skipped at STEP_SUCCESS).
NODE_EVENTS = frozenset(
    {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_RESTARTED,
        DagsterEventType.STEP_OUTPUT,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
        DagsterEventType.STEP_UP_FOR_RETRY,
    }
)

_NODE_STATUS = {
    DagsterEventType.STEP_START: "running",
    DagsterEventType.STEP_RESTARTED: "running",
    DagsterEventType.STEP_UP_FOR_RETRY: "retrying",
    DagsterEventType.STEP_SKIPPED: "skipped",
    DagsterEventType.STEP_FAILURE: "failed",
}


def output_counts(event: Any) -> bool:
    """Whether a STEP_OUTPUT event is the node's output (the compiler records its ``variable``); a
    disabled node passes the context on without one."""
    data = getattr(event, "event_specific_data", None)
    metadata = getattr(data, "metadata", None) or {}
    return "variable" in metadata


def split_step_key(step_key: str) -> tuple[str, str | None]:
    """(node id, mapping key) of a step key: ``fetch[3]`` (a Dagster mapped step, one item of a node
    inside a loop) → (``fetch``, ``3``); ``fetch`` → (``fetch``, None)."""
    if step_key.endswith("]") and "[" in step_key:
        node_id, _, rest = step_key.partition("[")
        return node_id, rest[:-1]
    return step_key, None


def node_status(event_type: DagsterEventType, *, produced_output: bool) -> str | None:
    """The node status a step event sets, or None when the event does not change it (STEP_OUTPUT)."""
    if event_type == DagsterEventType.STEP_SUCCESS:
        return "success" if produced_output else "skipped"
    return _NODE_STATUS.get(event_type)


def step_failure_message(data: Any) -> str | None:
    """What a user should read for a STEP_FAILURE: the node's own message, not Dagster's wrappers."""
    failure = getattr(data, "user_failure_data", None)
    if failure is not None and failure.description:
        return str(failure.description)  # a Failure raised by the node carries its user-facing text
    error = getattr(data, "error", None)
    return _user_error_message(error) if error is not None else None


# Dagster 1.13 reports exhausted policy retries as ``RetryRequestedFromPolicy``.
_WRAPPERS = (
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "RetryRequested",
    "RetryRequestedFromPolicy",
)


def _user_error_message(err: Any) -> str:
    """The message of the node's own exception, not Dagster's wrappers around it.

    After the last retry Dagster reports "Exceeded max_retries of N" (RetryRequested); the cause
    that says what went wrong is further down the chain.
    """
    current = err
    while (
        current is not None
        and current.cause is not None
        and (current.cls_name in _WRAPPERS or (current.cls_name or "").startswith("Dagster"))
    ):
        current = current.cause
    chosen = current or err
    message = chosen.message.strip()
    prefix = f"{chosen.cls_name}: " if chosen.cls_name else ""
    for candidate in (f"connectflow_dagster.errors.{prefix}", prefix):
        if candidate and message.startswith(candidate) and chosen.cls_name in _OWN_ERRORS:
            message = message[len(candidate) :]
            break
    if err is not chosen and (err.cls_name or "").startswith("RetryRequested"):
        message = f"{message} ({err.message.strip()})"
    return message


_OWN_ERRORS = {"NodeExecutionError", "NonRetriableNodeError", "CredentialError", "TemplateError"}
