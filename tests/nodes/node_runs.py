"""Helpers for running one node in a real Dagster run: credentials, a one-action workflow, retry events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from connectflow_dagster.compiler import Runtime
from connectflow_dagster.errors import CredentialError

NO_RETRY = None
RETRY_TWICE = {"max_retries": 2, "delay_seconds": 0}


@dataclass
class CredentialBook:
    """Credentials handed to executors through ``Runtime(credential_resolver=...)``, checked by type
    as the encrypted store checks them."""

    entries: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    lookups: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, credential_type: str, **data: Any) -> str:
        credential_id = f"cred_{secrets.token_hex(4)}"
        self.entries[credential_id] = (credential_type, data)
        return credential_id

    def resolve(self, owner_id: str, credential_id: str, expected_type: str | None) -> dict[str, Any]:
        self.lookups.append((credential_id, expected_type))
        if credential_id not in self.entries:
            raise CredentialError(f"credential '{credential_id}' not found")
        stored_type, data = self.entries[credential_id]
        if expected_type and stored_type != expected_type:
            raise CredentialError(
                f"credential '{credential_id}' is a '{stored_type}', not a '{expected_type}'"
            )
        return dict(data)

    @property
    def runtime(self) -> Runtime:
        return Runtime(credential_resolver=self.resolve)


def action_workflow(
    node_type: str, params: dict[str, Any], credential_id: str | None, retry: dict[str, Any] | None = NO_RETRY
) -> dict[str, Any]:
    """Manual trigger (variable ``trigger``) → one action node ``act`` (variable ``out``)."""
    action: dict[str, Any] = {
        "id": "act",
        "type": node_type,
        "name": "Act",
        "variable_name": "out",
        "params": params,
        "credential_id": credential_id,
    }
    if retry:
        action["retry"] = retry
    return {
        "name": f"one {node_type}",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Start", "variable_name": "trigger"},
            action,
        ],
        "edges": [{"source": "start", "target": "act"}],
    }


@dataclass
class RetryEvent:
    seconds_to_wait: float | None
    error: str  # the message and the messages of its causes


def retry_events(instance: Any, run_id: str, node_id: str) -> list[RetryEvent]:
    """The STEP_UP_FOR_RETRY events of ``node_id`` in the run's event log."""
    from dagster import DagsterEventType

    found = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY):
        event = entry.dagster_event
        if event is None or event.step_key != node_id:
            continue
        data = event.event_specific_data
        messages, error = [], data.error
        while error is not None:
            messages.append(error.message)
            error = error.cause
        found.append(RetryEvent(data.seconds_to_wait, "\n".join(messages)))
    return found
