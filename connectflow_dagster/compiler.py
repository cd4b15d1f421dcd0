"""Compile a workflow version into a Dagster job.

A saved version is the job ``wf_<workflow>__v<N>`` (``job_name``), described by the workflow's name
and version, so the Dagster UI lists each version a run was made from and a run re-executed there
runs its own version (docs/decisions.md, "Versioned jobs"). One op per node (definition name
``wf_<workflow>__v<N>__<node>``, invoked under the node id as alias, described by the node name),
dependencies from edges, every input a fan-in so a node runs when at least one upstream delivered (a skipped If branch does not block a Merge), upstream contexts merged
in topological order, ``RetryPolicy`` from the node's retry settings, bad input as
``Failure(allow_retries=False)``. Compilation is deterministic and cached by content hash.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
from dagster import (
    Backoff,
    DagsterExecutionInterruptedError,
    DependencyDefinition,
    DynamicOut,
    DynamicOutput,
    Failure,
    Field,
    GraphDefinition,
    In,
    JobDefinition,
    MetadataValue,
    MultiDependencyDefinition,
    NodeInvocation,
    OpExecutionContext,
    Out,
    Output,
    ResourceDefinition,
    RetryPolicy,
    RetryRequested,
    logger,
    op,
)
from pydantic import ValidationError

from connectflow_dagster import runctl, spec, waits
from connectflow_dagster.dagster_private import (
    DynamicCollectDependencyDefinition,
    coerce_valid_log_level,
    create_console_logger,
)
from connectflow_dagster.errors import (
    NodeExecutionError,
    NonRetriableNodeError,
    Problem,
    TemplateError,
    WorkflowInvalid,
)
from connectflow_dagster.executor import DEFAULT_MAX_CONCURRENT, threaded_executor
from connectflow_dagster.io_manager import context_pickle_io_manager
from connectflow_dagster.nodes.base import (
    Branch,
    CollectedItem,
    CredentialType,
    NodeContext,
    NodeType,
    Split,
    Suspend,
)
from connectflow_dagster.registry import NodeRegistry, get_registry
from connectflow_dagster.tags import (
    TAG_LOOP,
    TAG_NODE_NAME,
    TAG_NODE_TYPE,
    TAG_OWNER,
    TAG_VERSION,
    TAG_VERSION_ID,
    TAG_WORKFLOW,
    TAG_WORKFLOW_NAME,
)
from connectflow_dagster.templates import render_value
from connectflow_dagster.transport import Resolver, new_http_client

TRIGGER_RESOURCE = "cf_trigger"
RUNTIME_RESOURCE = "cf_runtime"
DEFAULT_OUTPUT = "result"
LOOP_BASE = "base"  # a loop's second output: the context before it, given once to each mapped step
MAX_ITEM_METADATA_CHARS = 2_000
MAX_METADATA_CHARS = 256 * 1024
# Deepest node output (lists/objects): far past real APIs (~20), far below what pickling survives (~900).
MAX_OUTPUT_DEPTH = 128


@logger(
    {"log_level": Field(str, is_required=False, default_value="WARNING", description="Console threshold.")},
    description="Console logger; quiet by default (the event log keeps everything regardless).",
)
def console_logger(init_context) -> logging.Logger:  # type: ignore[no-untyped-def]
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    # CONNECTFLOW_LOG_LEVEL, when set, wins over the run config's ``log_level`` (default WARNING).
    explicit = "log_level" in settings.model_fields_set
    level = settings.log_level if explicit else init_context.logger_config["log_level"]
    return create_console_logger("connectflow", coerce_valid_log_level(level))


JOB_PREFIX = "wf_"
_VERSION_SEPARATOR = "__v"
MAX_NAME_TAG = 200


def workflow_prefix(workflow_id: str) -> str:
    """What every job (and schedule) of one workflow starts with: ``wf_<id>``."""
    return f"{JOB_PREFIX}{workflow_id}"


def job_name(workflow_id: str, version: int | None = None) -> str:
    """The Dagster job of one saved version, ``wf_<id>__v<N>``; ``wf_<id>`` for an unsaved draft."""
    prefix = workflow_prefix(workflow_id)
    return prefix if version is None else f"{prefix}{_VERSION_SEPARATOR}{version}"


def parse_job_name(name: str) -> tuple[str, int] | None:
    """(workflow id, version number) of a versioned job name, None for any other name."""
    if not name.startswith(JOB_PREFIX):
        return None
    workflow_id, sep, number = name[len(JOB_PREFIX) :].rpartition(_VERSION_SEPARATOR)
    if not sep or not workflow_id or not number.isdigit() or number.startswith("0"):
        return None
    return workflow_id, int(number)


def job_description(workflow: spec.Workflow, version: int | None) -> str:
    """What the Dagster UI shows under the job name: the workflow's name and version."""
    return f"{workflow.name} (version {version})" if version is not None else workflow.name


@dataclass(frozen=True)
class TriggerEvent:
    """Which trigger fired and its input. Run config, so it is visible in the Dagster UI: never secrets."""

    node_id: str = ""
    input_json: str = "{}"
    event_id: str = ""
    # A continuation run (waits.py): the node it resumes and what resumed it (JSON).
    resume_node: str = ""
    resume_json: str = ""


def trigger_event_resource(default_node_id: str) -> ResourceDefinition:
    """The ``cf_trigger`` resource: run config ``{node_id, input_json, event_id}`` as a ``TriggerEvent``.

    A plain config-schema resource rather than a Pythonic ``ConfigurableResource``: the same run
    config, but Dagster initialises it without re-validating a pydantic model on every run (that was
    ~5 % of a worker's CPU per run; docs/decisions.md).
    """
    return ResourceDefinition(
        resource_fn=lambda init_context: TriggerEvent(**init_context.resource_config),
        config_schema={
            "node_id": Field(str, is_required=False, default_value=default_node_id),
            "input_json": Field(str, is_required=False, default_value="{}"),
            "event_id": Field(str, is_required=False, default_value=""),
            "resume_node": Field(str, is_required=False, default_value=""),
            "resume_json": Field(str, is_required=False, default_value=""),
        },
        description=TriggerEvent.__doc__,
    )


@dataclass
class Runtime:
    """Clients injected into executors; tests swap the transport or the resolver instead of patching
    modules.

    The HTTP client is created once per runtime and shared by every node it runs: creating an httpx
    client costs ~20 ms (its SSL context), more than a whole Set node. ``resolver`` is the name
    resolution the network policy checks (``None``: the system's).
    """

    http_transport: httpx.BaseTransport | None = None
    credential_resolver: Any = None
    resolver: Resolver | None = None
    _http: httpx.Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def http_client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = new_http_client(self.http_transport, resolver=self.resolver)
            return self._http


_DEFAULT_RUNTIME: Runtime | None = None


def default_runtime() -> Runtime:
    """The process-wide runtime: real credential store, one shared HTTP client."""
    global _DEFAULT_RUNTIME
    if _DEFAULT_RUNTIME is None:
        from connectflow_dagster.credentials_runtime import resolve_credential

        _DEFAULT_RUNTIME = Runtime(credential_resolver=resolve_credential)
    return _DEFAULT_RUNTIME


class Emitted(NamedTuple):
    """What flows along an edge: the producing node and the context after it ran.

    Inside a loop (docs/items.md) ``context`` is the item's own part only (``item``, ``item_index``
    and the outputs of the loop's nodes for this item); the context before the loop is the loop's
    ``base`` output, an input of every mapped step, so it is stored once, not once per item.
    ``skipped`` marks a branch not taken inside a loop: Dagster skips a mapped step whose input is
    missing, and a collect then skips the aggregate, so inside loops an untaken output is yielded as
    a marker and the nodes after it pass it on without running (status "skipped").
    """

    node_id: str
    context: dict[str, Any]
    skipped: bool = False


def _check_output_depth(result: Any) -> None:
    """Refuse an output nested deeper than ``MAX_OUTPUT_DEPTH`` (a code node's ``[[[…]]]``, a hostile
    API's answer): deeper values crash pickling and event logging with a RecursionError and the run
    ends without saying why. Refused here, inside the node, so ``on_error`` applies."""
    value = result.output if isinstance(result, Branch | Split) else result
    parts: list[Any] = [value]
    if isinstance(result, Split):
        parts.append(result.items)
    if hasattr(value, "model_dump"):  # a typed output (HttpRequestOutput): its fields hold the data
        parts = list(vars(value).values())
    if spec.json_depth(parts, MAX_OUTPUT_DEPTH + 1) > MAX_OUTPUT_DEPTH + 1:
        raise NonRetriableNodeError(
            f"the node's output is nested deeper than {MAX_OUTPUT_DEPTH} levels of lists and objects"
        )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str))


def _output_metadata(node: spec.Node, output: Any, started: float) -> dict[str, Any]:
    text = json.dumps(output, default=str)
    meta: dict[str, Any] = {
        "variable": MetadataValue.text(node.variable_name),
        "duration_ms": MetadataValue.float(round((time.perf_counter() - started) * 1000, 3)),
    }
    if len(text) > MAX_METADATA_CHARS:
        meta["output"] = MetadataValue.json({"truncated": True, "size": len(text), "preview": text[:2000]})
    elif isinstance(output, dict):
        meta["output"] = MetadataValue.json(output)
    else:
        meta["output"] = MetadataValue.json({"value": output})
        meta["output_wrapped"] = MetadataValue.bool(True)
    return meta


def _retry_policy(node: spec.Node) -> RetryPolicy | None:
    if node.retry is None or node.retry.max_retries == 0:
        return None
    return RetryPolicy(
        max_retries=node.retry.max_retries,
        delay=node.retry.delay_seconds,
        backoff=Backoff.EXPONENTIAL if node.retry.backoff == "exponential" else None,
    )


def _item_metadata(index: int, value: Any) -> dict[str, Any]:
    text = json.dumps(value, default=str)
    preview: Any = (
        value if len(text) <= MAX_ITEM_METADATA_CHARS else {"truncated": True, "preview": text[:500]}
    )
    return {"item_index": MetadataValue.int(index), "item": MetadataValue.json({"value": preview})}


@dataclass(frozen=True)
class _Placement:
    """Where a node sits relative to loops (spec.item_scopes): per item of ``loop``, or collecting
    the items of ``collects``; ``inputs``: its mapped/collect input names (edge order)."""

    loop: str | None = None
    collects: str | None = None
    inputs: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # node id → variable (collect)


def _build_op(
    workflow: spec.Workflow,
    name: str,
    node: spec.Node,
    node_type: NodeType,
    order: dict[str, int],
    first_trigger: str | None,
    credential_types: Mapping[str, CredentialType],
    workflow_nodes: Mapping[str, tuple[str, str, str]],
    ancestors: frozenset[str] = frozenset(),
    suspending: frozenset[str] = frozenset(),
    placement: _Placement = _Placement(),
):
    has_inputs = bool(workflow.upstream(node.id))
    per_item = placement.loop is not None
    error_output = node.on_error == "error_output"
    # Nodes that may suspend the run (Wait) before this one: if one did, this one yields nothing.
    waits_before = ancestors & suspending
    optional = node_type.is_trigger or node_type.suspends or bool(waits_before) or error_output
    uses_execution = "execution" in json.dumps(node.params)  # {{ execution.resume_url }} (waits.py)
    handles = node_type.outputs_for(node.params)
    if node_type.items == "split":
        outs: dict[str, Out] = {DEFAULT_OUTPUT: DynamicOut(), LOOP_BASE: Out(is_required=not optional)}
    elif len(handles) > 1 or per_item:
        outs = {h: Out(is_required=False) for h in (handles if len(handles) > 1 else (DEFAULT_OUTPUT,))}
    else:
        outs = {DEFAULT_OUTPUT: Out(is_required=not optional)}
    if error_output:
        outs[spec.ERROR_HANDLE] = Out(is_required=False)
    if placement.inputs:
        ins = {name: In() for name in (*placement.inputs, LOOP_BASE)}
    else:
        ins = {"upstream": In()} if has_inputs else {}

    def _not_taken(handles_taken: list[str] | tuple[str, ...] = ()) -> Iterator[Output]:
        """Inside a loop: a marker on every output not taken, so Dagster keeps the item's path."""
        for handle in outs:
            if handle not in handles_taken:
                yield Output(
                    Emitted(node.id, {}, skipped=True),
                    output_name=handle,
                    metadata={"not_taken": MetadataValue.bool(True)},
                )

    def compute(
        context: OpExecutionContext,
        upstream: list[Emitted] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Iterator[Output | DynamicOutput]:
        started = time.perf_counter()
        merged: dict[str, Any] = {}
        delta: dict[str, Any] = {}  # inside a loop: the item's own part of the context
        collected: tuple[CollectedItem, ...] = ()
        if inputs is not None:
            base: Emitted = inputs[LOOP_BASE]
            merged.update(base.context)
            if placement.collects is not None:
                by_index: dict[int, Emitted] = {}
                for input_name in placement.inputs:  # edge order: a later branch wins an index
                    for emitted in inputs[input_name]:
                        if not emitted.skipped:
                            by_index[int(emitted.context.get("item_index", 0))] = emitted
                collected = tuple(
                    CollectedItem(
                        index=i,
                        context={**merged, **e.context},
                        output=e.context.get(placement.variables.get(e.node_id, ""), e.context.get("item")),
                    )
                    for i, e in sorted(by_index.items())
                )
                arrived = list(by_index.values())
            else:
                arrived = [e for e in (inputs[n] for n in placement.inputs) if not e.skipped]
                if not arrived:  # every input is a branch not taken for this item
                    yield from _not_taken()
                    return
                for emitted in arrived:
                    delta.update(emitted.context)
                merged.update(delta)
        else:
            arrived = sorted(upstream or [], key=lambda e: order[e.node_id])
            for emitted in arrived:
                merged.update(emitted.context)
        trigger: TriggerEvent = getattr(context.resources, TRIGGER_RESOURCE)
        trigger_input: Any = None
        if node_type.is_trigger:
            if (trigger.node_id or first_trigger) != node.id:
                context.log.info(f"trigger '{node.id}' did not fire in this run")
                return
            try:
                trigger_input = json.loads(trigger.input_json or "null")
            except ValueError as exc:
                raise Failure(
                    f"node '{node.id}': the run's input is not valid JSON: {exc}", allow_retries=False
                ) from None
        if waits_before and waits_before & waits.suspended_in(context.run_id):
            # A Wait before this node suspended the run: it runs in the continuation instead, with
            # every branch's output (not now with the other branches' alone).
            context.log.info(f"node '{node.id}' runs when the wait before it resumes")
            return
        if node.disabled:
            first = LOOP_BASE if node_type.items == "split" else next(iter(outs))
            yield Output(
                Emitted(node.id, delta if per_item else merged),
                output_name=first,
                metadata={"disabled": MetadataValue.bool(True)},
            )
            if per_item:
                yield from _not_taken([first])
            return
        runtime: Runtime = getattr(context.resources, RUNTIME_RESOURCE)
        tags = context.run.tags
        execution_id = context.run.root_run_id or context.run_id
        resume: Any = None
        if trigger.resume_node and trigger.resume_node == node.id:
            resume = json.loads(trigger.resume_json or "{}")
        ctx: NodeContext[Any] = NodeContext(
            run_id=context.run_id,
            workflow_id=workflow.id or "",
            owner_id=tags.get(TAG_OWNER, ""),
            node_id=node.id,
            node_name=node.name,
            context=merged,
            trigger_input=trigger_input,
            credential_id=node.credential_id,
            log=context.log,  # type: ignore[arg-type]
            http_transport=runtime.http_transport,
            shared_http=runtime.http_client(),
            credential_resolver=runtime.credential_resolver,
            resolver=runtime.resolver,
            attempt=context.retry_number,
            upstream_node_ids=tuple(dict.fromkeys(e.node_id for e in arrived)),
            credential_types=credential_types,
            items=collected,
            execution_id=execution_id,
            resume=resume,
            workflow_nodes=workflow_nodes,
            workflow_name=workflow.name,
        )
        rendering = merged
        if uses_execution and "execution" not in merged:
            rendering = {
                **merged,
                "execution": {"id": execution_id, "resume_url": waits.resume_url(execution_id)},
            }
        control = runctl.get(context.run_id)  # None when no worker of this process executes the run
        try:
            with control.node_running(node.id) if control is not None else nullcontext():
                try:
                    result = _execute(node, node_type, ctx, rendering)
                    _check_output_depth(result)
                except Suspend:
                    raise
                except Exception:
                    if control is not None and (control.stop_reason is not None or control.expired()):
                        # The run is being stopped (timeout, cancel): no retry and no on_error.
                        runctl.time_out(context.instance, control, spare=threading.get_ident())
                        raise DagsterExecutionInterruptedError(control.stop_reason or "stopped") from None
                    raise
        except Suspend as wait:
            _record_wait(context, node, execution_id, wait)
            return
        except Exception as exc:
            failure = _as_failure(node, exc, ctx)
            if node.on_error == "stop" or _retries_left(node, failure, context.retry_number):
                raise failure from _cause(exc, failure)
            caught: dict[str, Any] | None = _error_output(node, exc, failure, ctx, context.retry_number)
        else:
            caught = None
        finally:
            ctx.close()
        if caught is not None:
            # on_error: the failure (retries exhausted) is the node's output, along the normal output
            # (continue) or the 'error' handle (error_output); the run goes on. A loop that fails
            # this way has no items; inside a loop, only this item's path continues.
            message = caught["error"]["message"]
            context.log.warning(f"node '{node.id}' failed, on_error={node.on_error}: {message}")
            meta = _output_metadata(node, caught, started)
            meta["on_error"] = MetadataValue.text(node.on_error)
            meta["error"] = MetadataValue.text(message)
            if node.on_error == "error_output":
                target = spec.ERROR_HANDLE
            else:
                target = LOOP_BASE if node_type.items == "split" else next(iter(outs))
            yield Output(
                Emitted(node.id, {**(delta if per_item else merged), node.variable_name: caught}),
                output_name=target,
                metadata=meta,
            )
            if per_item:
                yield from _not_taken([target])
            return
        if isinstance(result, Split):
            output = ctx.scrub_value(_jsonable(result.output))
            yield Output(
                Emitted(node.id, {**merged, node.variable_name: output}),
                output_name=LOOP_BASE,
                metadata={**_output_metadata(node, output, started), "items_count": len(result.items)},
            )
            for index, value in enumerate(result.items):
                yield DynamicOutput(
                    Emitted(node.id, {"item": value, "item_index": index}),
                    mapping_key=str(index),
                    output_name=DEFAULT_OUTPUT,
                    metadata=_item_metadata(index, value),
                )
            return
        taken, output = (
            (result.handles, result.output) if isinstance(result, Branch) else ([DEFAULT_OUTPUT], result)
        )
        output = ctx.scrub_value(_jsonable(output))  # recorded in the event log and IO-manager files
        new_context = {**(delta if per_item else merged), node.variable_name: output}
        metadata = _output_metadata(node, output, started)
        for handle in taken:
            yield Output(Emitted(node.id, new_context), output_name=handle, metadata=metadata)
        if per_item:
            yield from _not_taken(taken)

    # No annotations: Dagster evaluates string hints (``from __future__ import annotations``) with
    # ``typing.get_type_hints`` per op, a measurable share of compiling every listed version on a
    # code-location reload; the outputs are declared explicitly above.
    if placement.inputs:

        def body(context, **inputs):  # type: ignore[no-untyped-def]
            yield from compute(context, inputs=inputs)
    elif not has_inputs:

        def body(context):  # type: ignore[no-untyped-def,misc]
            yield from compute(context)
    else:

        def body(context, upstream):  # type: ignore[no-untyped-def,misc]
            yield from compute(context, upstream)

    tags = {TAG_NODE_TYPE: node_type.type, TAG_NODE_NAME: node.name[:200]}
    if per_item:
        tags[TAG_LOOP] = str(placement.loop)
    return op(
        name=f"{name}__{node.id}",
        description=node.name,
        ins=ins,
        out=outs,
        retry_policy=_retry_policy(node),
        required_resource_keys={TRIGGER_RESOURCE, RUNTIME_RESOURCE},
        tags=tags,
    )(body)


def _record_wait(context: OpExecutionContext, node: spec.Node, execution_id: str, wait: Suspend) -> None:
    """The node suspended the run: record the wait durably (waits.py); the op ends without output."""
    from connectflow_dagster.store.db import session_scope

    tags = context.run.tags
    with session_scope() as session:
        waits.record(
            session,
            execution_id=execution_id,
            run_id=context.run_id,
            workflow_id=tags.get(TAG_WORKFLOW, ""),
            owner_id=tags.get(TAG_OWNER, ""),
            version_id=int(tags.get(TAG_VERSION_ID, "0") or 0),
            node_id=node.id,
            webhook=wait.webhook,
            resume_at=wait.resume_at,
        )
    waits.mark_suspended(context.run_id, node.id)
    until = f" until {wait.resume_at.isoformat()}" if wait.resume_at is not None else ""
    how = " or its resume URL is called" if wait.webhook else ""
    context.log.info(f"node '{node.id}' waits{until}{how}; the run ends here and continues later")


def _as_failure(node: spec.Node, exc: Exception, ctx: NodeContext) -> Exception:
    """What a node's exception is raised as: a message naming the node, secrets scrubbed; a
    non-retriable error as ``Failure(allow_retries=False)``; ``retry_after`` honoured."""
    if isinstance(exc, NonRetriableNodeError):
        return Failure(
            description=ctx.scrub(f"node '{node.id}' ({node.name}): {exc}"),
            allow_retries=False,
            metadata={"node_id": node.id},
        )
    if isinstance(exc, NodeExecutionError):
        message = ctx.scrub(f"node '{node.id}' ({node.name}): {exc}")
        policy = _retry_policy(node)
        if policy is not None and exc.retry_after is not None:
            requested = RetryRequested(max_retries=policy.max_retries, seconds_to_wait=exc.retry_after)
            requested.__cause__ = NodeExecutionError(message)
            return requested
        return NodeExecutionError(message)
    if isinstance(exc, Failure):
        return exc
    scrubbed = ctx.scrub(str(exc))
    if scrubbed != str(exc):  # a secret was in the message: drop the original and its frames
        return NodeExecutionError(f"node '{node.id}' ({node.name}): {type(exc).__name__}: {scrubbed}")
    return exc


def _cause(exc: Exception, failure: Exception) -> BaseException | None:
    """The cause a raised failure keeps: the original only when it is raised as itself."""
    if failure is exc:
        return exc.__cause__
    return failure.__cause__


def _retries_left(node: spec.Node, failure: Exception, retry_number: int) -> bool:
    """Whether Dagster will run the node again after ``failure`` (its ``RetryPolicy``)."""
    policy = _retry_policy(node)
    if policy is None or (isinstance(failure, Failure) and not failure.allow_retries):
        return False
    return retry_number < policy.max_retries


def _error_output(
    node: spec.Node, exc: Exception, failure: Exception, ctx: NodeContext, retry_number: int
) -> dict[str, Any]:
    """The output of a node whose failure ``on_error`` handles: ``{"error": {...}}``, scrubbed."""
    if isinstance(failure, Failure):
        message = failure.description or str(failure)
    elif isinstance(failure, RetryRequested) and failure.__cause__ is not None:
        message = str(failure.__cause__)
    else:
        message = str(failure)
    prefix = f"node '{node.id}' ({node.name}): "
    return {
        "error": {
            "message": ctx.scrub(message.removeprefix(prefix)),
            "type": type(exc).__name__,
            "node_id": node.id,
            "node_name": node.name,
            "attempts": retry_number + 1,
        }
    }


def _execute(node: spec.Node, node_type: NodeType, ctx: NodeContext, merged: Mapping[str, Any]) -> Any:
    # raw params are never templates (code); deferred ones are templates the executor renders
    # itself, per item (Filter conditions, Aggregate value).
    kept = {
        k: v for k, v in node.params.items() if k in node_type.raw_params or k in node_type.deferred_params
    }
    templated = {k: v for k, v in node.params.items() if k not in kept}
    try:
        rendered = {**render_value(templated, merged, node_id=node.id, field="params"), **kept}
    except TemplateError as exc:
        raise NonRetriableNodeError(str(exc)) from None
    try:
        params = node_type.params.model_validate(rendered)
    except ValidationError as exc:
        problems = "; ".join(
            f"field 'params.{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors()
        )
        raise NonRetriableNodeError(f"invalid parameters: {problems}") from None
    return node_type.run(params, ctx)


# Shared by every job: building a resource definition costs ~5 ms, a third of compiling a small job,
# and a code-location reload compiles every listed version. An empty ``node_id`` means "the first
# trigger" (``compute`` falls back to it), so one default serves every workflow.
_TRIGGER_DEFAULT = trigger_event_resource("")
_IO_MANAGER = context_pickle_io_manager

_cache: OrderedDict[tuple[str, int | None, str, int], JobDefinition] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 256


def compile_workflow(
    workflow: spec.Workflow,
    *,
    version: int | None = None,
    registry: NodeRegistry | None = None,
    runtime: Runtime | None = None,
) -> JobDefinition:
    """The Dagster job for ``workflow`` (validated first), named for its saved ``version``.

    Cached by (id, version, content hash): a version is immutable, so the cache is never stale.
    """
    registry = registry or get_registry()
    key = (workflow.id or "draft", version, workflow.content_hash(), id(runtime) if runtime else 0)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    spec.ensure_valid(workflow, registry)
    job = _compile(workflow, version, registry, runtime or default_runtime())
    with _cache_lock:
        _cache[key] = job
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return job


def try_compile(
    workflow: spec.Workflow, *, version: int | None = None, registry: NodeRegistry | None = None
) -> tuple[JobDefinition | None, list[Problem]]:
    """(job, []) when ``workflow`` compiles, else (None, why): never raises for a workflow.

    Validation problems as they are; anything else the compiler raises as one problem, so a caller
    (the code location, the API) can leave the version out and say why instead of failing.
    """
    try:
        return compile_workflow(workflow, version=version, registry=registry), []
    except WorkflowInvalid as exc:
        return None, list(exc.problems)
    except Exception as exc:  # whatever a node type or Dagster raises must not escape to the loader
        return None, [Problem(f"does not compile: {type(exc).__name__}: {exc}")]


def compile_problems(
    workflow: spec.Workflow, *, version: int | None = None, registry: NodeRegistry | None = None
) -> list[Problem]:
    """Why ``workflow`` cannot become a Dagster job (empty when it compiles)."""
    return try_compile(workflow, version=version, registry=registry)[1]


def _compile(
    workflow: spec.Workflow, version: int | None, registry: NodeRegistry, runtime: Runtime
) -> JobDefinition:
    name = job_name(workflow.id or "draft", version)
    description = job_description(workflow, version)
    order = {node_id: i for i, node_id in enumerate(workflow.topological_order())}
    types = {n.id: registry.get(n.type, n.type_version) for n in workflow.nodes}
    triggers = [n.id for n in workflow.nodes if types[n.id].is_trigger]
    first_trigger = triggers[0] if triggers else None
    credential_types = registry.credential_types()
    scopes = spec.item_scopes(workflow, types)
    variables = {n.id: n.variable_name for n in workflow.nodes}
    params = {n.id: n.params for n in workflow.nodes}
    workflow_nodes = {n.id: (n.name, n.variable_name, n.type) for n in workflow.nodes}
    node_defs = []
    dependencies: dict[NodeInvocation, dict[str, Any]] = {}
    ancestors = _ancestors(workflow)
    suspending = frozenset(n.id for n in workflow.nodes if types[n.id].suspends)
    for node in sorted(workflow.nodes, key=lambda n: order[n.id]):
        edges = sorted(workflow.upstream(node.id), key=lambda e: (order[e.source], e.source_handle or ""))
        loop, collects = scopes.loop_of.get(node.id), scopes.collects.get(node.id)
        placement = _Placement()
        if loop is not None or collects is not None:
            placement = _Placement(loop, collects, tuple(f"in_{i}" for i in range(len(edges))), variables)
        op_def = _build_op(
            workflow,
            name,
            node,
            types[node.id],
            order,
            first_trigger,
            credential_types,
            workflow_nodes,
            ancestors[node.id],
            suspending,
            placement,
        )
        node_defs.append(op_def)
        invocation = NodeInvocation(op_def.name, alias=node.id)
        if placement.inputs:
            # Per item: one direct input per edge (Dagster maps them; a fan-in cannot be mapped) and
            # the loop's base context. Collecting: one collect per edge.
            dep = DynamicCollectDependencyDefinition if collects is not None else DependencyDefinition
            deps: dict[str, Any] = {
                input_name: dep(e.source, _output_name(e, types[e.source], params[e.source]))
                for input_name, e in zip(placement.inputs, edges, strict=True)
            }
            deps[LOOP_BASE] = DependencyDefinition(str(loop or collects), LOOP_BASE)
            dependencies[invocation] = deps
        elif edges:
            dependencies[invocation] = {
                "upstream": MultiDependencyDefinition(
                    [
                        DependencyDefinition(e.source, _output_name(e, types[e.source], params[e.source]))
                        for e in edges
                    ]
                )
            }
        else:
            dependencies[invocation] = {}
    graph = GraphDefinition(
        name=name, node_defs=node_defs, dependencies=dependencies, description=description
    )
    return graph.to_job(
        resource_defs={
            TRIGGER_RESOURCE: _TRIGGER_DEFAULT,
            RUNTIME_RESOURCE: ResourceDefinition.hardcoded_resource(runtime, "Injected clients"),
            "io_manager": _IO_MANAGER,
        },
        executor_def=_executor_for(workflow, types, scopes),
        logger_defs={"console": console_logger},
        tags=job_tags(workflow, version),
        description=description,
    )


def loop_concurrency(node: spec.Node) -> int:
    """Items of ``node`` (a loop) in progress at once: its ``concurrency`` param (a template or none:
    CONNECTFLOW_ITEMS_CONCURRENCY), at most CONNECTFLOW_ITEMS_MAX_CONCURRENCY."""
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    wanted = node.params.get("concurrency")
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
        wanted = settings.items_concurrency
    return max(1, min(wanted, settings.items_max_concurrency))


def _executor_for(workflow: spec.Workflow, types: Mapping[str, NodeType], scopes: spec.ItemScopes) -> Any:
    """The threaded executor (independent branches run concurrently, executor.py); with loops, each
    loop's mapped steps limited to its concurrency by the op tag ``connectflow/loop``."""
    loops = {n.id: loop_concurrency(n) for n in workflow.nodes if types[n.id].items == "split"}
    if not loops:
        return threaded_executor
    return threaded_executor.configured(
        {
            "max_concurrent": max(DEFAULT_MAX_CONCURRENT, *loops.values()),
            "loop_concurrency": loops,
        },
        name="connectflow_threaded",
    )


def _ancestors(workflow: spec.Workflow) -> dict[str, frozenset[str]]:
    """Every node's transitive upstream nodes (the graph is acyclic: validated before compiling)."""
    found: dict[str, frozenset[str]] = {}
    for node_id in workflow.topological_order():
        parents = {e.source for e in workflow.upstream(node_id)}
        found[node_id] = frozenset(parents.union(*(found.get(p, frozenset()) for p in parents)))
    return found


def descendants(workflow: spec.Workflow, node_id: str) -> list[str]:
    """``node_id`` and every node after it, in topological order (a continuation's steps).

    As Dagster step keys: a node inside a loop is its unresolved mapped step ``<node>[?]`` (its
    items are mapped when the continuation runs the loop)."""
    after = {node_id}
    for current in workflow.topological_order():
        if any(e.source in after for e in workflow.upstream(current)):
            after.add(current)
    registry = get_registry()
    types = {n.id: registry.get(n.type, n.type_version) for n in workflow.nodes}
    loop_of = spec.item_scopes(workflow, types).loop_of
    return [f"{n}[?]" if loop_of.get(n) else n for n in workflow.topological_order() if n in after]


def _output_name(edge: spec.Edge, source_type: NodeType, source_params: Mapping[str, Any]) -> str:
    """The op output an edge leaves from: its handle on a branching node (a Switch's handles come from
    its params), ``error`` for an error output, the one output of any other node (a loop's items)."""
    handle = edge.source_handle
    handles = source_type.outputs_for(source_params)
    if handle is None or (len(handles) == 1 and handle != spec.ERROR_HANDLE):
        return DEFAULT_OUTPUT
    return handle


def job_tags(workflow: spec.Workflow, version: int | None) -> dict[str, str]:
    """Tags of the job; Dagster copies them onto every run of it (also runs launched in its UI)."""
    tags = {TAG_WORKFLOW: workflow.id or "draft", TAG_WORKFLOW_NAME: workflow.name[:MAX_NAME_TAG]}
    if version is not None:
        tags[TAG_VERSION] = str(version)
    return tags
