"""A small REST client for the gateway, as a token's user: what the Python API and CLI use remotely.

Plain ``httpx`` over HTTP — the engine never imports the gateway. Every call sends
``Authorization: Bearer cf_pat_…``; an error answer becomes ``RemoteError`` carrying the gateway's
own ``detail`` (401 expired/revoked token, 403 missing scope, 404, 422 problems).

``run`` saves the workflow (``PUT /api/workflows/{id}`` creates or versions it), executes it
(``POST …/execute``), waits for the end on the live event stream (``GET /api/executions/{id}/events``,
server-sent events) and reads the finished execution back (``GET /api/executions/{id}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from connectflow_dagster import spec
from connectflow_dagster.errors import ConnectFlowError, NotFound, Problem, WorkflowInvalid
from connectflow_dagster.execution import Execution, NodeStatus

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RUN_TIMEOUT_SECONDS = 600.0


class RemoteError(ConnectFlowError):
    """The gateway refused or failed a request; ``status`` is its HTTP status (0: not reachable)."""

    def __init__(self, message: str, status: int = 0):
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class SavedWorkflow:
    """A workflow as saved: its id, name, current version number, whether this save made a new
    version, and where it opens in the editor."""

    id: str
    name: str
    version: int | None
    created: bool | None
    url: str


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of ``cf.workflows()``."""

    id: str
    name: str
    version: int | None
    updated_at: str
    url: str


class GatewayClient:
    """The gateway's REST API at ``url`` as the user of ``token`` (``transport`` for tests only)."""

    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "connectflow-python"},
            timeout=DEFAULT_TIMEOUT,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ------------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; the decoded JSON answer (None for 204), or ``RemoteError``/``NotFound``."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach ConnectFlow at {self.url}: {exc}") from None
        return _decoded(response)

    def editor_url(self, workflow_id: str) -> str:
        """Where the workflow opens in the web editor."""
        return f"{self.url}/ui/editor?id={workflow_id}"

    # ---- account -------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The token's user (``id``, ``email``, ``name``)."""
        return self.request("GET", "/api/auth/me")

    def current_token(self) -> dict[str, Any]:
        """The token's own record (prefix, scopes, expiry)."""
        return self.request("GET", "/api/tokens/current")

    def revoke_current_token(self) -> None:
        """Revoke the token this client uses (``connectflow logout``)."""
        self.request("DELETE", "/api/tokens/current")

    # ---- workflows -----------------------------------------------------------------------------------

    def save(self, workflow: spec.Workflow) -> SavedWorkflow:
        """Create or version the workflow under the token's user (its id, if any, is kept)."""
        body = workflow.model_dump(mode="json", exclude={"id"})
        if workflow.id:
            data = self.request("PUT", f"/api/workflows/{workflow.id}", json={**body, "id": workflow.id})
        else:
            data = self.request("POST", "/api/workflows", json=body)
        return SavedWorkflow(
            data["id"],
            data["name"],
            data.get("version"),
            data.get("version_created"),
            self.editor_url(data["id"]),
        )

    def workflows(self, search: str | None = None, limit: int = 200) -> list[WorkflowSummary]:
        """The user's workflows, most recently changed first."""
        params: dict[str, Any] = {"limit": limit}
        if search:
            params["search"] = search
        data = self.request("GET", "/api/workflows", params=params)
        return [
            WorkflowSummary(
                w["id"], w["name"], w.get("version"), str(w.get("updated_at")), self.editor_url(w["id"])
            )
            for w in data["data"]
        ]

    def load(self, workflow_id: str) -> spec.Workflow:
        """The current version's document of one of the user's workflows."""
        data = self.request("GET", f"/api/workflows/{workflow_id}")
        return spec.Workflow.model_validate({**data["spec"], "id": data["id"], "name": data["name"]})

    # ---- executions ----------------------------------------------------------------------------------

    def execute(self, workflow_id: str, input: Any = None, trigger: str | None = None) -> str:
        """Start the current version; returns the execution id at once."""
        body: dict[str, Any] = {"input": input}
        if trigger:
            body["trigger_node_id"] = trigger
        return self.request("POST", f"/api/workflows/{workflow_id}/execute", json=body)["execution_id"]

    def wait(self, execution_id: str, timeout: float = RUN_TIMEOUT_SECONDS) -> str:
        """Block until the execution ends, reading its live event stream; returns the final status."""
        timeouts = httpx.Timeout(timeout, connect=10.0)
        try:
            with self._http.stream(
                "GET", f"/api/executions/{execution_id}/events", timeout=timeouts
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _decoded(response)
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:") and kind == "end":
                        return str(json.loads(line.partition(":")[2]).get("status") or "unknown")
        except httpx.HTTPError as exc:
            raise RemoteError(f"lost the event stream of execution {execution_id}: {exc}") from None
        raise RemoteError(f"the event stream of execution {execution_id} closed before the run ended")

    def execution(self, execution_id: str) -> Execution:
        """One execution with per-node status, output, error and the final context."""
        return _execution(self.request("GET", f"/api/executions/{execution_id}"))

    def executions(
        self, workflow_id: str | None = None, *, status: str | None = None, limit: int = 20
    ) -> list[Execution]:
        """The user's executions, newest first (summaries: no node detail)."""
        params: dict[str, Any] = {"limit": limit}
        if workflow_id:
            params["workflow_id"] = workflow_id
        if status:
            params["status"] = status
        return [_execution(row) for row in self.request("GET", "/api/executions", params=params)["data"]]

    def run(
        self, workflow: spec.Workflow, input: Any = None, trigger: str | None = None
    ) -> tuple[SavedWorkflow, Execution]:
        """Save, execute, wait for the end and read the execution back."""
        saved = self.save(workflow)
        execution_id = self.execute(saved.id, input, trigger)
        self.wait(execution_id)
        return saved, self.execution(execution_id)


def _decoded(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code < 400:
        return data
    detail = data.get("detail") if isinstance(data, dict) else None
    if response.status_code == 422 and isinstance(data, dict) and data.get("problems"):
        raise WorkflowInvalid([Problem(**p) for p in data["problems"]])
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    message = str(detail or response.text[:300] or response.reason_phrase)
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code == 401:
        message = f"{message} (HTTP 401: log in again with `connectflow login`)"
    raise RemoteError(message, response.status_code)


def _execution(data: dict[str, Any]) -> Execution:
    nodes = [
        NodeStatus(**{k: n.get(k) for k in NodeStatus.__dataclass_fields__ if k in n})
        for n in data.get("nodes") or []
    ]
    return Execution(
        id=data["id"],
        workflow_id=data.get("workflow_id"),
        job_name="",  # the Dagster job is the gateway's business
        status=data["status"],
        version=data.get("version"),
        trigger=data.get("trigger"),
        owner_id=None,
        event_id=None,
        started_at=data.get("started_at"),
        finished_at=data.get("finished_at"),
        duration_ms=data.get("duration_ms"),
        nodes=nodes,
        error=data.get("error"),
        failed_node=data.get("failed_node"),
        context=data.get("context"),
        continuations=list(data.get("continuations") or []),
        resume_url=data.get("resume_url"),
    )


def create_token_with_password(
    url: str,
    email: str,
    password: str,
    *,
    name: str,
    expires_in_days: int,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Sign in with e-mail and password, create a personal access token, sign that session out.

    Returns the gateway's answer to ``POST /api/tokens`` (``token`` holds the only copy). The
    password goes to the gateway once and is kept nowhere."""
    base = url.rstrip("/")
    with httpx.Client(base_url=base, timeout=DEFAULT_TIMEOUT, transport=transport) as http:
        try:
            signed_in = http.post("/api/auth/sign-in/email", json={"email": email, "password": password})
            session = _decoded(signed_in)
            cookie = signed_in.cookies.get("cf_session")
            if not cookie:
                raise RemoteError(f"{base} did not start a session (is it a ConnectFlow gateway?)")
            headers = {"Cookie": f"cf_session={cookie}", "X-CSRF-Token": session["csrf_token"]}
            created = _decoded(
                http.post(
                    "/api/tokens",
                    json={"name": name, "expires_in_days": expires_in_days},
                    headers=headers,
                )
            )
            http.post("/api/auth/sign-out", headers=headers)  # the token is what stays signed in
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach ConnectFlow at {base}: {exc}") from None
    return created
