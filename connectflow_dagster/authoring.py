"""Build, validate, save, run and inspect workflows from Python (notebooks, scripts).

    >>> import connectflow_dagster as cf
    >>> wf = cf.WorkflowBuilder("Greet")
    >>> start = wf.add("trigger.manual", "Start", variable_name="trigger")
    >>> greet = wf.add("set", "Greeting", fields={"text": "Hello {{ trigger.name }}"})
    >>> wf.connect(start, greet)
    >>> execution = cf.run(wf, {"name": "Ada"})
    >>> execution.context["greeting"]["text"]
    'Hello Ada'

Every call acts as a real user (``connectflow_dagster.identity``): with a token (``connectflow login``,
``CONNECTFLOW_TOKEN``, or ``cf.connect(url=…, token=…)``) through the gateway's REST API, so the
workflow is in that user's editor (``cf.save(wf).url``) and editor-made workflows load here
(``cf.workflows()``, ``cf.load(id)``); without one, on this home's database as a named account
(``CONNECTFLOW_USER`` / ``cf.connect(user=…)``, or the only account there is).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from connectflow_dagster import spec
from connectflow_dagster.errors import NotFound, Problem
from connectflow_dagster.execution import Execution, RunTarget, get_execution, list_executions
from connectflow_dagster.identity import Remote, connect, local_account, remote_identity
from connectflow_dagster.instance import get_instance
from connectflow_dagster.remote import GatewayClient, SavedWorkflow, WorkflowSummary
from connectflow_dagster.store.db import session_scope

_X_STEP, _Y_STEP = 240.0, 140.0


class WorkflowBuilder:
    """Assemble a workflow node by node; ``build()`` returns the validated-ready ``spec.Workflow``."""

    def __init__(self, name: str, *, id: str | None = None):
        self.name = name
        self.id = id
        self._nodes: list[spec.Node] = []
        self._edges: list[spec.Edge] = []

    def add(
        self,
        type: str,
        name: str,
        *,
        id: str | None = None,
        variable_name: str = "",
        credential_id: str | None = None,
        retry: dict[str, Any] | None = None,
        type_version: int = 1,
        **params: Any,
    ) -> str:
        """Add a node; keyword arguments are its params. Returns the node id."""
        node_id = id or self._unique_id(name)
        column = len(self._nodes)
        self._nodes.append(
            spec.Node(
                id=node_id,
                type=type,
                type_version=type_version,
                name=name,
                variable_name=variable_name,
                position=spec.Position(x=column * _X_STEP, y=0),
                params=params,
                credential_id=credential_id,
                retry=spec.RetrySettings(**retry) if retry else None,
            )
        )
        return node_id

    def connect(self, source: str, target: str, *, branch: str | None = None) -> WorkflowBuilder:
        """Connect two nodes; ``branch`` picks an output of a branching node (``"true"``/``"false"``)."""
        self._edges.append(spec.Edge(source=source, target=target, source_handle=branch))
        if branch == "false":
            node = next(n for n in self._nodes if n.id == target)
            node.position.y = _Y_STEP
        return self

    def chain(self, *node_ids: str) -> WorkflowBuilder:
        """Connect each node to the next."""
        for a, b in itertools.pairwise(node_ids):
            self.connect(a, b)
        return self

    def build(self) -> spec.Workflow:
        """The workflow document (``spec.Workflow``) of what was added so far."""
        return spec.Workflow(id=self.id, name=self.name, nodes=list(self._nodes), edges=list(self._edges))

    @classmethod
    def from_workflow(cls, workflow: spec.Workflow) -> WorkflowBuilder:
        """A builder holding an existing workflow (``cf.load``), to change and run it."""
        builder = cls(workflow.name, id=workflow.id)
        builder._nodes = [n.model_copy(deep=True) for n in workflow.nodes]
        builder._edges = [e.model_copy(deep=True) for e in workflow.edges]
        return builder

    def _unique_id(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "node"
        taken = {n.id for n in self._nodes}
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        return candidate


def _as_workflow(workflow: spec.Workflow | WorkflowBuilder | dict[str, Any]) -> spec.Workflow:
    if isinstance(workflow, WorkflowBuilder):
        return workflow.build()
    if isinstance(workflow, dict):
        return spec.parse_workflow(workflow)
    return workflow


def _remember_id(workflow: Any, workflow_id: str) -> None:
    # A builder without an id gets the saved one, so running it again versions the same workflow
    # (in the editor: one workflow, several versions) instead of creating a new one each time.
    if isinstance(workflow, WorkflowBuilder) and not workflow.id:
        workflow.id = workflow_id


def _client(remote: Remote) -> GatewayClient:
    return GatewayClient(remote.url, remote.token)


def _editor_url(workflow_id: str) -> str:
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return f"{base}/ui/editor?id={workflow_id}"


def validate(workflow: spec.Workflow | WorkflowBuilder | dict[str, Any]) -> list[Problem]:
    """Every problem with the workflow (empty list: it can run)."""
    return spec.validate(_as_workflow(workflow))


def whoami() -> str:
    """Whom calls act as: ``ada@example.com at http://…`` (remote) or ``ada@example.com (local)``."""
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            return f"{client.me()['email']} at {remote.url}"
    with session_scope() as session:
        return f"{local_account(session).email} (local)"


def save(
    workflow: spec.Workflow | WorkflowBuilder | dict[str, Any], *, owner_id: str | None = None
) -> SavedWorkflow:
    """Validate and save as the current user; identical content reuses the existing version.

    ``owner_id`` saves locally for that user id (scripts that manage several accounts)."""
    wf = spec.ensure_valid(_as_workflow(workflow))
    remote = remote_identity() if owner_id is None else None
    if remote is not None:
        with _client(remote) as client:
            saved = client.save(wf)
    else:
        saved, _ = _save_locally(wf, owner_id)
    _remember_id(workflow, saved.id)
    return saved


def save_draft(workflow: spec.Workflow | dict[str, Any]) -> SavedWorkflow:
    """Save as the current user even while credentials are still to choose (like an n8n import):
    the assistant's answers and imported workflows are drafts the editor finishes."""
    wf = _as_workflow(workflow)
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            return client.save(wf)
    return _save_locally(wf, None)[0]


def _save_locally(wf: spec.Workflow, owner_id: str | None) -> tuple[SavedWorkflow, RunTarget]:
    from connectflow_dagster.dispatch.references import reference_problems
    from connectflow_dagster.errors import WorkflowInvalid
    from connectflow_dagster.store.workflows import save_workflow

    with session_scope() as session:
        owner = owner_id or local_account(session).user_id
        problems = reference_problems(session, owner, wf)  # error workflow, sub-workflow call cycles
        if problems:
            raise WorkflowInvalid(problems)
        stored = save_workflow(session, owner, wf)
        saved = SavedWorkflow(
            stored.workflow.id,
            stored.workflow.name,
            stored.version.number,
            stored.created,
            _editor_url(stored.workflow.id),
        )
        return saved, RunTarget(stored.spec(), stored.version.id, stored.version.number, owner)


def run_locally(target: RunTarget, *, trigger: str | None = None, payload: Any = None) -> str:
    """Execute a saved version in this process (no server needed); returns the execution id.

    The one place the Python API and ``connectflow run`` start a local run: the path every run takes
    (an inbox event executed by worker code, ``dispatch.worker.run_in_process``), here in-process."""
    from connectflow_dagster.dispatch.worker import run_in_process

    return run_in_process(
        target, trigger_node_id=trigger, payload=payload, instance=get_instance(), then_error_workflow=True
    )


def run(
    workflow: spec.Workflow | WorkflowBuilder | dict[str, Any],
    input: Any = None,
    *,
    trigger: str | None = None,
    owner_id: str | None = None,
) -> Execution:
    """Save the workflow, execute it as a Dagster run, and return the finished execution.

    Remotely the gateway's workers run it and this call waits on its live event stream."""
    wf = spec.ensure_valid(_as_workflow(workflow))
    remote = remote_identity() if owner_id is None else None
    if remote is not None:
        with _client(remote) as client:
            saved, execution = client.run(wf, input, trigger)
        _remember_id(workflow, saved.id)
        return execution
    saved, target = _save_locally(wf, owner_id)
    _remember_id(workflow, saved.id)
    run_id = run_locally(target, trigger=trigger, payload=input)
    return get_execution(get_instance(), run_id)


def error_workflow_execution(execution_id: str) -> Execution | None:
    """The execution of the error workflow a failed execution started (None: none did, or it is
    not visible yet). Locally it has finished: ``run`` executes it after the failed run."""
    from connectflow_dagster.dispatch.error_workflow import report_event_id

    if remote_identity() is not None:  # the gateway's workers run it; its executions list shows it
        return None
    with session_scope() as session:
        event_id = report_event_id(session, execution_id)
    if event_id is None:
        return None
    try:
        return execution(event_id)
    except NotFound:
        return None


def execution(execution_id: str) -> Execution:
    """One of the current user's executions, with per-node status, output and error."""
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            return client.execution(execution_id)
    with session_scope() as session:
        owner = local_account(session).user_id
    return get_execution(get_instance(), execution_id, owner_id=owner)


def executions(
    workflow_id: str | None = None, *, status: str | None = None, limit: int = 20, with_nodes: bool = False
) -> list[Execution]:
    """The current user's recent executions, newest first (``with_nodes``: with per-node status)."""
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            rows = client.executions(workflow_id, status=status, limit=limit)
            return [client.execution(r.id) for r in rows] if with_nodes else rows
    with session_scope() as session:
        owner = local_account(session).user_id
    return list_executions(
        get_instance(),
        owner_id=owner,
        workflow_id=workflow_id,
        status=status,
        limit=limit,
        with_nodes=with_nodes,
    )


def workflows(search: str | None = None) -> list[WorkflowSummary]:
    """The current user's workflows (the editor's list), most recently changed first."""
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            return client.workflows(search)
    from connectflow_dagster.store.workflows import list_workflows

    with session_scope() as session:
        rows, _ = list_workflows(session, local_account(session).user_id, search=search, limit=200)
        numbers = _version_numbers(session, [w.current_version_id for w in rows])
        return [
            WorkflowSummary(
                w.id, w.name, numbers.get(w.current_version_id), str(w.updated_at), _editor_url(w.id)
            )
            for w in rows
        ]


def _version_numbers(session: Any, version_ids: list[int | None]) -> dict[int | None, int]:
    from sqlalchemy import select

    from connectflow_dagster.store.models import WorkflowVersion

    ids = [v for v in version_ids if v is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(WorkflowVersion.id, WorkflowVersion.number).where(WorkflowVersion.id.in_(ids))
    )
    return {vid: number for vid, number in rows}


def import_n8n(data: Any, *, name: str | None = None) -> list[dict[str, Any]]:
    """Import an n8n export (a workflow object or an array) as the current user's workflows:
    ``[{id, name, version, url, report}]``. Saved even when credentials are still to choose (the
    report and the editor say what to fix). ``WorkflowInvalid`` when it is not an n8n workflow."""
    from connectflow_dagster.interop.n8n import import_n8n as convert

    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            params = {"name": name} if name else None
            answer = client.request("POST", "/api/workflows/import", json=data, params=params)
            return [{**w, "url": client.editor_url(w["id"])} for w in answer["workflows"]]
    out = []
    for item in convert(data, name=name):
        saved, _ = _save_locally(item.workflow, None)
        out.append(
            {"id": saved.id, "name": saved.name, "version": saved.version, "url": saved.url,
             "report": item.report.as_dict()}
        )  # fmt: skip
    return out


def export(workflow_id: str, *, format: str = "connectflow") -> dict[str, Any]:
    """One of the current user's workflows as n8n JSON (``format="n8n"``) or ConnectFlow's own."""
    from connectflow_dagster.interop.n8n.exporter import export_connectflow, export_n8n

    if format not in ("n8n", "connectflow"):
        raise ValueError("format is 'n8n' or 'connectflow'")
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            document: dict[str, Any] = client.request(
                "GET", f"/api/workflows/{workflow_id}/export", params={"format": format}
            )
            return document
    from connectflow_dagster.store.workflows import current_version, get_workflow, version_spec

    with session_scope() as session:
        wf = get_workflow(session, local_account(session).user_id, workflow_id)
        version = current_version(session, wf) if wf.current_version_id is not None else None
        workflow = version_spec(version) if version else spec.Workflow(name=wf.name)
        workflow = workflow.model_copy(update={"id": wf.id, "name": wf.name})
    return export_n8n(workflow) if format == "n8n" else export_connectflow(workflow)


def load(workflow_id: str) -> WorkflowBuilder:
    """One of the current user's workflows (e.g. made in the editor), as a builder to change or run."""
    remote = remote_identity()
    if remote is not None:
        with _client(remote) as client:
            return WorkflowBuilder.from_workflow(client.load(workflow_id))
    from connectflow_dagster.store.workflows import current_version, get_workflow, version_spec

    with session_scope() as session:
        wf = get_workflow(session, local_account(session).user_id, workflow_id)
        document = version_spec(current_version(session, wf))
    return WorkflowBuilder.from_workflow(document.model_copy(update={"name": wf.name}))


__all__ = [
    "WorkflowBuilder",
    "connect",
    "execution",
    "executions",
    "export",
    "import_n8n",
    "load",
    "run",
    "run_locally",
    "save",
    "validate",
    "whoami",
    "workflows",
]
