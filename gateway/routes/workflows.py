"""``/api/workflows``: create, list, get, save (a new immutable version), rename, delete, versions,
restore, and manual execute."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectflow_dagster import spec
from connectflow_dagster.compiler import try_compile
from connectflow_dagster.dagster_ui import request_reload
from connectflow_dagster.dispatch.references import reference_problems
from connectflow_dagster.errors import NotFound, Problem, WorkflowInvalid
from connectflow_dagster.execution import RunTarget
from connectflow_dagster.interop.n8n import import_n8n
from connectflow_dagster.interop.n8n.exporter import export_connectflow, export_n8n
from connectflow_dagster.registry import NodeRegistry
from connectflow_dagster.store import workflows as store
from connectflow_dagster.store.models import Credential, Workflow, WorkflowVersion
from gateway.deps import CurrentUser, InstanceDep, RegistryDep, SessionDep
from gateway.routes.webhooks import parse_json, require_json
from gateway.runs import start_execution
from gateway.schemas.common import ProblemPublic
from gateway.schemas.workflows import (
    ExecuteRequest,
    ExecutionStarted,
    ImportedWorkflow,
    ImportedWorkflows,
    ListenState,
    TestUrl,
    VersionDetail,
    VersionPublic,
    VersionsPublic,
    WorkflowCreate,
    WorkflowPublic,
    WorkflowSave,
    WorkflowsPublic,
    WorkflowSummary,
    WorkflowUpdate,
)

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


# ---- shaping -----------------------------------------------------------------------------------------


def _numbers(session: Session, version_ids: list[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = session.execute(
        select(WorkflowVersion.id, WorkflowVersion.number).where(WorkflowVersion.id.in_(version_ids))
    )
    return {vid: number for vid, number in rows}


def _summary(wf: Workflow, number: int | None) -> WorkflowSummary:
    return WorkflowSummary(
        id=wf.id,
        name=wf.name,
        version=number,
        active=wf.active,
        created_at=wf.created_at,
        updated_at=wf.updated_at,
    )


def _problems(
    session: Session, owner_id: str, workflow: spec.Workflow, registry: NodeRegistry
) -> list[Problem]:
    """Everything that stops the workflow from running, including credentials the owner lacks."""
    problems = spec.validate(workflow, registry)
    problems.extend(reference_problems(session, owner_id, workflow))  # error workflow, call cycles
    for node in workflow.nodes:
        if not node.credential_id:
            continue
        cred = session.get(Credential, node.credential_id)
        if cred is None or cred.owner_id != owner_id:
            problems.append(Problem("credential not found", node_id=node.id, field="credential_id"))
            continue
        try:
            wanted = registry.get(node.type, node.type_version).credential
        except KeyError:
            continue
        if wanted is not None and cred.type != wanted.type:
            problems.append(
                Problem(
                    f"credential '{cred.name}' is a '{cred.type}' credential; this node needs '{wanted.type}'",
                    node_id=node.id,
                    field="credential_id",
                )
            )
    return problems


def _public(
    session: Session,
    wf: Workflow,
    registry: NodeRegistry,
    *,
    version_created: bool | None = None,
) -> WorkflowPublic:
    version = store.current_version(session, wf) if wf.current_version_id is not None else None
    document = store.version_spec(version) if version else spec.Workflow(id=wf.id, name=wf.name)
    problems = _problems(session, wf.owner_id, document.model_copy(update={"name": wf.name}), registry)
    dagster_job = None
    if version is not None:
        # What the code location does with this version: lists its job, or leaves it out for these.
        job, left_out_for = try_compile(document, version=version.number, registry=registry)
        dagster_job = job.name if job is not None else None
        problems.extend(p for p in left_out_for if p not in problems)
    return WorkflowPublic(
        **_summary(wf, version.number if version else None).model_dump(),
        spec=document.model_copy(update={"name": wf.name}).model_dump(mode="json"),
        problems=[ProblemPublic(**p.as_dict()) for p in problems],
        version_created=version_created,
        runnable=not problems,
        dagster_job=dagster_job,
    )


def _document(body: WorkflowCreate, workflow_id: str | None, name: str) -> spec.Workflow:
    return spec.Workflow(
        id=workflow_id,
        name=name,
        nodes=body.nodes,
        edges=body.edges,
        settings=body.settings,
        notes=body.notes,
        meta=body.meta,
    )


# ---- routes ------------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=WorkflowPublic)
def create_workflow(
    body: WorkflowCreate, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Create a workflow (version 1). Without a name it gets a readable generated one."""
    saved = store.save_workflow(session, user.id, _document(body, None, body.name or store.generated_name()))
    session.commit()
    request_reload()
    return _public(session, saved.workflow, registry, version_created=saved.created)


@router.post("/import", status_code=201, response_model=ImportedWorkflows)
async def import_workflows(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    name: str | None = Query(default=None, min_length=1, max_length=200, description="Name (one workflow)."),
) -> ImportedWorkflows:
    """Import an n8n workflow export (one workflow object, or an array of them) as new workflows of
    the signed-in user, each with its import report: nodes mapped exactly / approximated (why) /
    not supported (kept as placeholders), expressions translated / evaluated as JavaScript / left in
    placeholders, credentials to choose. Malformed JSON is 400, a document that is not an n8n
    workflow (or too large: 500 nodes, 100 workflows) 422, a body over the size limit 413."""
    require_json(request)
    body = await request.body()
    # Converting and saving up to a megabyte of n8n JSON takes seconds of CPU: in a thread, so the
    # event loop (every other request, webhooks included) is not stalled meanwhile.
    return await run_in_threadpool(_import, body, session, user.id, name)


def _import(body: bytes, session: Session, owner_id: str, name: str | None) -> ImportedWorkflows:
    imported = import_n8n(parse_json(body), name=name)
    out = []
    for item in imported:
        saved = store.save_workflow(session, owner_id, item.workflow)
        out.append(
            ImportedWorkflow(
                id=saved.workflow.id,
                name=saved.workflow.name,
                version=saved.version.number,
                report=item.report.as_dict(),
            )
        )
    session.commit()
    request_reload()
    return ImportedWorkflows(workflows=out)


@router.get("/{workflow_id}/export")
def export_workflow(
    workflow_id: str,
    session: SessionDep,
    user: CurrentUser,
    format: str = Query(default="connectflow", pattern="^(n8n|connectflow)$"),
) -> JSONResponse:
    """The workflow's current version as n8n workflow JSON (``format=n8n``: n8n 1.x imports it) or
    as ConnectFlow's own document (``format=connectflow``: for backup and version control)."""
    wf = store.get_workflow(session, user.id, workflow_id)
    version = store.current_version(session, wf) if wf.current_version_id is not None else None
    document = store.version_spec(version) if version else spec.Workflow(id=wf.id, name=wf.name)
    document = document.model_copy(update={"id": wf.id, "name": wf.name})
    body = export_n8n(document) if format == "n8n" else export_connectflow(document)
    filename = f"{wf.id}.{'n8n' if format == 'n8n' else 'connectflow'}.json"
    return JSONResponse(body, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("", response_model=WorkflowsPublic)
def list_workflows(
    session: SessionDep,
    user: CurrentUser,
    search: str | None = Query(default=None, max_length=200, description="Part of the name or id."),
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=200),
) -> WorkflowsPublic:
    """The signed-in user's workflows, most recently changed first."""
    rows, total = store.list_workflows(session, user.id, search=search, offset=offset, limit=limit)
    numbers = _numbers(session, [w.current_version_id for w in rows if w.current_version_id is not None])
    return WorkflowsPublic(
        data=[_summary(w, numbers.get(w.current_version_id or -1)) for w in rows], count=total
    )


@router.get("/{workflow_id}", response_model=WorkflowPublic)
def get_workflow(
    workflow_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """The workflow with its current version's document and what must be fixed before it runs."""
    return _public(session, store.get_workflow(session, user.id, workflow_id), registry)


@router.put("/{workflow_id}", response_model=WorkflowPublic)
def save_workflow(
    workflow_id: str, body: WorkflowSave, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Save the whole workflow as a new immutable version (identical content reuses its version).

    An id nobody uses creates the workflow under that id (what ``cf.save`` of a builder with an id
    does); another user's id is 404, as everywhere."""
    if not re.fullmatch(spec.ID_PATTERN, workflow_id):
        raise HTTPException(
            422,
            [
                {
                    "loc": ["path", "workflow_id"],
                    "msg": "letters, digits and _ only (1-64)",
                    "type": "value_error",
                }
            ],
        )
    try:
        name = store.get_workflow(session, user.id, workflow_id).name
    except NotFound:
        name = store.generated_name()  # saved below under this id, unless it is someone else's (404)
    if body.id is not None and body.id != workflow_id:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "id"],
                    "msg": "must be the id in the URL (or left out)",
                    "type": "value_error",
                }
            ],
        )
    saved = store.save_workflow(session, user.id, _document(body, workflow_id, body.name or name))
    session.commit()
    request_reload()
    return _public(session, saved.workflow, registry, version_created=saved.created)


@router.patch("/{workflow_id}", response_model=WorkflowPublic)
def rename_workflow(
    workflow_id: str, body: WorkflowUpdate, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Rename (the versions are not changed; the next save carries the new name)."""
    wf = store.rename_workflow(session, user.id, workflow_id, body.name)
    session.commit()
    return _public(session, wf, registry)


def _set_active(
    workflow_id: str, active: bool, session: Session, user_id: str, registry: NodeRegistry
) -> WorkflowPublic:
    wf = store.set_active(session, user_id, workflow_id, active)
    session.commit()
    request_reload()  # schedules of an inactive workflow leave the code location
    return _public(session, wf, registry)


@router.post("/{workflow_id}/activate", response_model=WorkflowPublic)
def activate_workflow(
    workflow_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Activate: its production triggers (webhook, Stripe, form, API key, schedules) accept calls."""
    return _set_active(workflow_id, True, session, user.id, registry)


@router.post("/{workflow_id}/deactivate", response_model=WorkflowPublic)
def deactivate_workflow(
    workflow_id: str, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Deactivate: its production trigger URLs answer 404 and its schedules stop. Manual Execute,
    the test URL while listening and resume URLs of waiting executions keep working."""
    return _set_active(workflow_id, False, session, user.id, registry)


def _listen_state(session: Session, wf: Workflow, registry: NodeRegistry, request: Request) -> ListenState:
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.store.listening import is_listening

    urls: list[TestUrl] = []
    if wf.current_version_id is not None:
        document = store.version_spec(store.current_version(session, wf))
        base = get_settings().public_url or str(request.base_url)
        for node in spec.triggers_of(document, registry):
            try:
                ingress = registry.get(node.type, node.type_version).ingress
            except KeyError:
                continue
            url = ingress.test_url_for(base, wf.id, node.params) if ingress is not None else None
            if url is not None and not node.disabled:
                urls.append(TestUrl(node_id=node.id, type=node.type, url=url))
    listening = is_listening(wf)
    return ListenState(
        workflow_id=wf.id,
        listening=listening,
        listening_until=wf.listening_until if listening else None,
        execution_id=wf.test_execution_id,
        test_urls=urls,
    )


@router.post("/{workflow_id}/listen", response_model=ListenState)
def listen_for_test_event(
    workflow_id: str, request: Request, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> ListenState:
    """Listen for a test event: the workflow's test URLs (``/api/webhook-test/…``) accept one call
    for ``CONNECTFLOW_LISTEN_SECONDS`` (default 120), running the current saved version even when the
    workflow is inactive; outside listening they answer 404. Poll ``GET …/listen`` for the execution."""
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.store import listening

    wf = listening.listen(session, user.id, workflow_id, get_settings().listen_seconds)
    session.commit()
    return _listen_state(session, wf, registry, request)


@router.get("/{workflow_id}/listen", response_model=ListenState)
def listen_state(
    workflow_id: str, request: Request, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> ListenState:
    """Whether the test URLs listen now, and the execution the last test call started."""
    return _listen_state(session, store.get_workflow(session, user.id, workflow_id), registry, request)


@router.delete("/{workflow_id}/listen", response_model=ListenState)
def stop_listening(
    workflow_id: str, request: Request, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> ListenState:
    """Stop listening: the test URLs answer 404 again."""
    from connectflow_dagster.store import listening

    wf = listening.stop(session, user.id, workflow_id)
    session.commit()
    return _listen_state(session, wf, registry, request)


@router.delete("/{workflow_id}", status_code=204)
def delete_workflow(workflow_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Delete (its executions stay inspectable; its triggers stop accepting events)."""
    store.delete_workflow(session, user.id, workflow_id)
    session.commit()
    request_reload()
    return Response(status_code=204)


def _version_public(version: WorkflowVersion, current_id: int | None) -> VersionPublic:
    return VersionPublic(
        number=version.number,
        content_hash=version.content_hash,
        created_at=version.created_at,
        current=version.id == current_id,
    )


@router.get("/{workflow_id}/versions", response_model=VersionsPublic)
def list_versions(workflow_id: str, session: SessionDep, user: CurrentUser) -> VersionsPublic:
    """Every saved version, newest first."""
    wf = store.get_workflow(session, user.id, workflow_id)
    versions = store.list_versions(session, user.id, workflow_id)
    return VersionsPublic(
        data=[_version_public(v, wf.current_version_id) for v in versions], count=len(versions)
    )


@router.get("/{workflow_id}/versions/{number}", response_model=VersionDetail)
def get_version(workflow_id: str, number: int, session: SessionDep, user: CurrentUser) -> VersionDetail:
    """One saved version with its document."""
    wf = store.get_workflow(session, user.id, workflow_id)
    version = store.get_version(session, user.id, workflow_id, number)
    return VersionDetail(
        **_version_public(version, wf.current_version_id).model_dump(),
        spec=store.version_spec(version).model_dump(mode="json"),
    )


@router.post("/{workflow_id}/versions/{number}/restore", response_model=WorkflowPublic)
def restore_version(
    workflow_id: str, number: int, session: SessionDep, user: CurrentUser, registry: RegistryDep
) -> WorkflowPublic:
    """Make an old version current again (saved as the newest version, so history stays linear)."""
    saved = store.restore_version(session, user.id, workflow_id, number)
    session.commit()
    request_reload()
    return _public(session, saved.workflow, registry, version_created=saved.created)


@router.post("/{workflow_id}/execute", status_code=202, response_model=ExecutionStarted)
def execute_workflow(
    workflow_id: str,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    registry: RegistryDep,
    instance: InstanceDep,
    body: ExecuteRequest | None = None,
) -> ExecutionStarted:
    """Run the current version now with an optional JSON input; returns the execution id at once.

    The run goes through the trigger inbox and a worker, like every trigger's (status ``queued``)."""
    body = body or ExecuteRequest()
    wf = store.get_workflow(session, user.id, workflow_id)
    version = store.current_version(session, wf)
    document = store.version_spec(version)
    problems = _problems(session, user.id, document, registry)
    if problems:
        raise WorkflowInvalid(problems)
    target = RunTarget(document, version.id, version.number, user.id)
    trigger_ids = [n.id for n in spec.triggers_of(document, registry)]
    if body.trigger_node_id is not None and body.trigger_node_id not in trigger_ids:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "trigger_node_id"],
                    "msg": f"not a trigger of this workflow (triggers: {', '.join(trigger_ids)})",
                    "type": "value_error",
                }
            ],
        )
    run_id = start_execution(session, target, trigger_node_id=body.trigger_node_id, payload=body.input)
    return ExecutionStarted(execution_id=run_id, workflow_id=wf.id, version=version.number, status="queued")
