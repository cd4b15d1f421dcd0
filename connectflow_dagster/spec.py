"""The workflow spec: pydantic models that are the one source of truth for a workflow.

Every surface derives from these: the API validates bodies with them, the editor and the AI assistant
read the JSON Schema exported from them, the compiler turns them into a Dagster job. ``validate``
collects *every* problem (unknown type, dangling edge, cycle, bad params …) and names the node and
field of each, so a user can fix a workflow without reading a stack trace.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from connectflow_dagster.errors import Problem, WorkflowInvalid
from connectflow_dagster.templates import syntax_errors

if TYPE_CHECKING:
    from connectflow_dagster.registry import NodeRegistry

ID_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_RESERVED_VARIABLES = {"true", "false", "none", "loop", "range", "dict", "namespace", "self"}

# Size limits no real workflow reaches (the largest example has 12 nodes; the editor bench uses 100),
# far below what breaks: params nested ~900 deep or a chain of 2,000 nodes ended in a 500 (issue 11).
MAX_NODES = 500
MAX_EDGES = 2_000
MAX_PARAMS_DEPTH = 32
MAX_NOTES = 200
MAX_NOTE_CHARS = 20_000


def json_depth(value: Any, limit: int) -> int:
    """How deeply lists and dicts nest in ``value`` (a scalar is 0); iterative, so a hostile value
    cannot exhaust the stack, and it stops counting once past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def variable_name_for(name: str) -> str:
    """A template-friendly variable name derived from a display name ("Fetch order" → ``fetch_order``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "node"
    if slug[0].isdigit():
        slug = f"n_{slug}"
    return slug[:64]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Model):
    x: float = 0.0
    y: float = 0.0


class RetrySettings(_Model):
    """How a node is retried after a retriable failure (429, 5xx, timeouts, resets)."""

    max_retries: int = Field(default=0, ge=0, le=10, description="Attempts after the first one.")
    delay_seconds: float = Field(default=1.0, ge=0, le=3600, description="Wait before the first retry.")
    backoff: Literal["constant", "exponential"] = "exponential"


OnError = Literal["stop", "continue", "error_output"]
ERROR_HANDLE = "error"  # the output an ``on_error: error_output`` node routes its failure to


class Node(_Model):
    """One step of a workflow: a trigger or an action.

    ``on_error`` says what a failure does once the node's retries are exhausted: ``stop`` fails the
    run (default); ``continue`` makes ``{"error": {...}}`` the node's output and goes on along its
    normal output; ``error_output`` sends that output along the node's ``error`` handle instead (the
    normal output is not emitted).
    """

    id: str = Field(pattern=ID_PATTERN, description="Unique within the workflow; letters, digits, _.")
    type: str = Field(description="Registered node type, e.g. 'http.request'.")
    type_version: int = Field(default=1, ge=1)
    name: str = Field(min_length=1, max_length=200)
    variable_name: str = Field(default="", description="Key of this node's output in the context.")
    position: Position = Field(default_factory=Position)
    params: dict[str, Any] = Field(default_factory=dict)
    credential_id: str | None = None
    retry: RetrySettings | None = None
    on_error: OnError = Field(
        default="stop",
        description="After the retries: stop the run, continue with the error as output, or route "
        "it to the 'error' output.",
    )
    disabled: bool = False
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Data other tools keep with the node (e.g. the n8n node it was imported from); "
        "ConnectFlow never reads it when running.",
    )

    @model_serializer(mode="wrap")
    def _omit_defaults_added_later(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Fields added after workflows were saved are left out at their default, so the content
        # hash (and so the version) of an unchanged workflow stays what it was.
        data = handler(self)
        if data.get("on_error") == "stop":
            data.pop("on_error")
        if data.get("meta") == {}:
            data.pop("meta")
        return data

    @model_validator(mode="after")
    def _default_variable_name(self) -> Node:
        if not self.variable_name:
            self.variable_name = variable_name_for(self.name)
        return self

    @field_validator("params", "meta", mode="before")
    @classmethod
    def _check_params_depth(cls, value: Any, info: ValidationInfo) -> Any:
        if json_depth(value, MAX_PARAMS_DEPTH) > MAX_PARAMS_DEPTH:
            raise ValueError(f"{info.field_name} are nested deeper than {MAX_PARAMS_DEPTH} levels")
        return value

    @field_validator("variable_name")
    @classmethod
    def _check_variable_name(cls, value: str) -> str:
        if value and not re.match(VARIABLE_PATTERN, value):
            raise ValueError("must start with a letter or _ and contain only letters, digits and _")
        if value.lower() in _RESERVED_VARIABLES:
            raise ValueError(f"'{value}' is reserved in templates")
        return value


class Edge(_Model):
    """A connection; ``source_handle`` picks a branch output (``true``/``false`` of an If)."""

    source: str
    target: str
    source_handle: str | None = None
    target_handle: str | None = None


class WorkflowSettings(_Model):
    timezone: str = "UTC"
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=7 * 24 * 3600,
        description="Fail a run that takes longer (its running nodes are stopped).",
    )
    error_workflow_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="A workflow of the same owner, with an Error Trigger, run when a run of this one fails.",
    )

    @model_serializer(mode="wrap")
    def _omit_defaults_added_later(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("error_workflow_id") is None:
            data.pop("error_workflow_id", None)
        return data


class NoteSize(_Model):
    width: float = Field(default=240.0, ge=40, le=4000)
    height: float = Field(default=160.0, ge=40, le=4000)


class StickyNote(_Model):
    """A sticky note on the canvas: Markdown text at a place. Kept with the workflow, never run."""

    id: str = Field(pattern=ID_PATTERN, description="Unique among the workflow's notes.")
    text: str = Field(default="", max_length=MAX_NOTE_CHARS, description="Markdown.")
    position: Position = Field(default_factory=Position)
    size: NoteSize = Field(default_factory=NoteSize)
    color: Literal["yellow", "blue", "green", "pink", "purple", "gray"] = "yellow"


class Workflow(_Model):
    """A whole workflow: nodes, edges and settings. ``id`` is assigned by the store when absent."""

    id: str | None = Field(default=None, pattern=ID_PATTERN)
    name: str = Field(default="Untitled workflow", min_length=1, max_length=200)
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    settings: WorkflowSettings = Field(default_factory=WorkflowSettings)
    notes: list[StickyNote] = Field(
        default_factory=list, max_length=MAX_NOTES, description="Sticky notes on the canvas (not run)."
    )
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Data other tools keep with the workflow (e.g. n8n settings of an import).",
    )

    @field_validator("meta", mode="before")
    @classmethod
    def _check_meta_depth(cls, value: Any) -> Any:
        if json_depth(value, MAX_PARAMS_DEPTH) > MAX_PARAMS_DEPTH:
            raise ValueError(f"meta is nested deeper than {MAX_PARAMS_DEPTH} levels")
        return value

    @model_serializer(mode="wrap")
    def _omit_defaults_added_later(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Like Node's: no notes or meta leaves the content (and so the version hash) of older
        # workflows as it was.
        data = handler(self)
        if data.get("notes") == []:
            data.pop("notes")
        if data.get("meta") == {}:
            data.pop("meta")
        return data

    # ---- derived views -------------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def upstream(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]

    def downstream(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def content(self) -> dict[str, Any]:
        """The versioned content: everything but the id."""
        return self.model_dump(mode="json", exclude={"id"})

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the content; equal content ⇒ equal hash."""
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def topological_order(self) -> list[str]:
        """Node ids in dependency order, ties broken by position in ``nodes`` (deterministic)."""
        index = {n.id: i for i, n in enumerate(self.nodes)}
        indegree = {n.id: 0 for n in self.nodes}
        for e in self.edges:
            if e.target in indegree and e.source in indegree:
                indegree[e.target] += 1
        ready = sorted((n for n, d in indegree.items() if d == 0), key=index.__getitem__)
        order: list[str] = []
        while ready:
            current = ready.pop(0)
            order.append(current)
            for e in self.downstream(current):
                if e.target in indegree:
                    indegree[e.target] -= 1
                    if indegree[e.target] == 0:
                        ready.append(e.target)
                        ready.sort(key=index.__getitem__)
        return order


def find_cycle(workflow: Workflow) -> list[str] | None:
    """The node ids on one cycle (in edge order), or None."""
    graph: dict[str, list[str]] = {n.id: [] for n in workflow.nodes}
    for e in workflow.edges:
        if e.source in graph and e.target in graph:
            graph[e.source].append(e.target)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in graph[n]:
            if state.get(m) == 1:
                return path[path.index(m) :]
            if m not in state and (cycle := visit(m)):
                return cycle
        path.pop()
        state[n] = 2
        return None

    for n in graph:
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def parse_workflow(data: Any) -> Workflow:
    """Parse raw JSON data into a Workflow, turning pydantic errors into named Problems."""
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        raise WorkflowInvalid(_problems_from_validation(exc, data)) from None


def _problems_from_validation(exc: ValidationError, data: Any) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            try:
                node_id = str(data["nodes"][loc[1]].get("id") or f"#{loc[1]}")
            except (KeyError, IndexError, TypeError, AttributeError):
                node_id = f"#{loc[1]}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or None
        problems.append(Problem(err["msg"], node_id=node_id, field=field))
    return problems


def _waiting_for_a_respond_node(workflow: Workflow, types: dict[str, Any]) -> list[Problem]:
    """Triggers that keep their caller waiting for a Respond to Webhook node, in a workflow without one
    (the caller would only learn it at run time, with a 500)."""
    found = []
    for node in workflow.nodes:
        ingress = getattr(types.get(node.id), "ingress", None)
        if ingress is None or ingress.after_run is None:
            continue
        try:
            answer = ingress.after_run(types[node.id].params.model_validate(node.params))
        except ValidationError:
            continue  # reported by check_params
        if answer is not None and answer.mode == "respond_node":
            found.append(
                Problem(
                    "response mode 'respond_node' answers from a Respond to Webhook node: add one, "
                    "or choose another response mode",
                    node_id=node.id,
                    field="params.response_mode",
                )
            )
    return found


def validate(workflow: Workflow, registry: NodeRegistry | None = None) -> list[Problem]:
    """Every problem with the workflow; empty when it can be compiled and run."""
    from connectflow_dagster.registry import get_registry

    registry = registry or get_registry()
    problems: list[Problem] = []
    ids = [n.id for n in workflow.nodes]
    seen: set[str] = set()
    for node_id in ids:
        if node_id in seen:
            problems.append(Problem("duplicate node id", node_id=node_id, field="id"))
        seen.add(node_id)
    note_ids = [n.id for n in workflow.notes]
    for note_id in sorted({i for i in note_ids if note_ids.count(i) > 1}):
        problems.append(Problem(f"duplicate sticky note id '{note_id}'", field="notes"))
    variables: dict[str, str] = {}
    for node in workflow.nodes:
        if node.variable_name in variables:
            problems.append(
                Problem(
                    f"variable name '{node.variable_name}' is already used by node '{variables[node.variable_name]}'",
                    node_id=node.id,
                    field="variable_name",
                )
            )
        variables.setdefault(node.variable_name, node.id)

    types = {}
    for node in workflow.nodes:
        try:
            types[node.id] = registry.get(node.type, node.type_version)
        except KeyError:
            known = ", ".join(sorted(registry.type_names()))
            problems.append(
                Problem(
                    f"unknown node type '{node.type}' (v{node.type_version}); known types: {known}",
                    node_id=node.id,
                    field="type",
                )
            )
    for node in workflow.nodes:
        if node.id in types:
            problems.extend(types[node.id].check_params(node))
            if types[node.id].is_trigger and node.on_error != "stop":
                problems.append(
                    Problem("a trigger cannot continue after an error", node_id=node.id, field="on_error")
                )
        raw = types[node.id].raw_params if node.id in types else frozenset()
        templated = {k: v for k, v in node.params.items() if k not in raw}
        for path, message in syntax_errors(templated, "params"):
            problems.append(Problem(message, node_id=node.id, field=path))

    if not any(t.is_trigger for t in types.values()):
        problems.append(Problem("a workflow needs at least one trigger node"))
    if not any(t.responds for t in types.values()):
        problems.extend(_waiting_for_a_respond_node(workflow, types))

    node_ids = set(ids)
    nodes_by_id = {n.id: n for n in workflow.nodes}
    for i, e in enumerate(workflow.edges):
        for end in ("source", "target"):
            if getattr(e, end) not in node_ids:
                problems.append(
                    Problem(
                        f"edge #{i} {end} '{getattr(e, end)}' is not a node of this workflow",
                        field=f"edges.{i}.{end}",
                    )
                )
        if e.source == e.target:
            problems.append(
                Problem("an edge cannot connect a node to itself", node_id=e.source, field=f"edges.{i}")
            )
        target_type = types.get(e.target)
        if target_type is not None and target_type.is_trigger:
            problems.append(
                Problem("a trigger cannot have incoming edges", node_id=e.target, field=f"edges.{i}")
            )
        source_type = types.get(e.source)
        if source_type is not None:
            handles = source_type.outputs_for(nodes_by_id[e.source].params)
            if e.source_handle == ERROR_HANDLE and ERROR_HANDLE not in handles:
                if nodes_by_id[e.source].on_error != "error_output":
                    problems.append(
                        Problem(
                            "an edge leaves the 'error' output, but this node's on_error is not "
                            "'error_output'",
                            node_id=e.source,
                            field=f"edges.{i}.source_handle",
                        )
                    )
            elif e.source_handle is not None and e.source_handle not in handles:
                problems.append(
                    Problem(
                        f"output '{e.source_handle}' does not exist (outputs: {', '.join(handles)})",
                        node_id=e.source,
                        field=f"edges.{i}.source_handle",
                    )
                )
            if e.source_handle is None and len(handles) > 1:
                problems.append(
                    Problem(
                        f"choose which output this edge leaves from ({', '.join(handles)})",
                        node_id=e.source,
                        field=f"edges.{i}.source_handle",
                    )
                )
    pairs = [(e.source, e.source_handle, e.target) for e in workflow.edges]
    if len(pairs) != len(set(pairs)):
        problems.append(Problem("the same connection appears twice", field="edges"))

    cycle = find_cycle(workflow)
    if cycle:
        problems.append(Problem("cycle: " + " → ".join([*cycle, cycle[0]]), field="edges"))
    else:
        problems.extend(item_scopes(workflow, types).problems)
    return problems


ITEM_VARIABLES = ("item", "item_index")  # what templates inside a loop see (docs/items.md)


@dataclass
class ItemScopes:
    """Where items fan out and back in (docs/items.md).

    ``loop_of[node]``: the loop (a ``split`` node) whose items ``node`` runs once for each, as Dagster
    mapped steps; None for a node that runs once per run (a loop and an aggregate themselves run
    once). ``collects[aggregate]``: the loop an aggregate collects the items of.
    """

    loop_of: dict[str, str | None] = dataclass_field(default_factory=dict)
    collects: dict[str, str] = dataclass_field(default_factory=dict)
    problems: list[Problem] = dataclass_field(default_factory=list)

    def members(self, loop_id: str) -> list[str]:
        return [n for n, loop in self.loop_of.items() if loop == loop_id]


def item_scopes(workflow: Workflow, types: Mapping[str, Any]) -> ItemScopes:
    """Which nodes run per item of which loop, and what cannot be compiled into Dagster mapping.

    Refused, each with a problem naming the node: a loop inside a loop (Dagster maps one level),
    a node joining a branch inside a loop with one outside it (or with another loop's), and an
    aggregate that no loop's items reach. ``types`` maps node id → NodeType (unknown ids ignored).
    The workflow must be acyclic.
    """
    scopes = ItemScopes()
    inner: dict[str, str | None] = {}  # the loop whose items a node's output belongs to
    has_loops = any(getattr(t, "items", None) == "split" for t in types.values())
    if not has_loops and not any(getattr(t, "items", None) == "collect" for t in types.values()):
        return scopes
    for node_id in workflow.topological_order():
        node_type = types.get(node_id)
        role = getattr(node_type, "items", None)
        sources = {inner.get(e.source) for e in workflow.upstream(node_id) if e.source in inner}
        loops = sorted(s for s in sources if s is not None)
        own = loops[0] if loops else None
        if len(loops) > 1:
            scopes.problems.append(
                Problem(
                    f"joins the items of loops {', '.join(repr(x) for x in loops)}: "
                    "aggregate each loop before joining them",
                    node_id=node_id,
                )
            )
        elif loops and None in sources:
            scopes.problems.append(
                Problem(
                    f"joins a branch inside loop '{own}' (once per item) with a branch outside it "
                    "(once per run): put an aggregate after the loop's nodes and join after it",
                    node_id=node_id,
                )
            )
        if role == "split":
            if own is not None:
                scopes.problems.append(
                    Problem(
                        f"a loop inside loop '{own}' is not supported: aggregate '{own}' first, "
                        "or loop over a flattened list",
                        node_id=node_id,
                    )
                )
            scopes.loop_of[node_id] = None
            inner[node_id] = node_id
        elif role == "collect":
            if own is None:
                scopes.problems.append(
                    Problem(
                        "an aggregate collects the items of a loop: connect it after a loop's nodes",
                        node_id=node_id,
                    )
                )
            else:
                scopes.collects[node_id] = own
            scopes.loop_of[node_id] = None
            inner[node_id] = None
        else:
            if own is not None and getattr(node_type, "suspends", False):
                scopes.problems.append(
                    Problem(
                        f"a Wait inside loop '{own}' is not supported (a run suspends as a whole): "
                        "wait before the loop or after its aggregate",
                        node_id=node_id,
                    )
                )
            scopes.loop_of[node_id] = own
            inner[node_id] = own
    if has_loops:
        for node in workflow.nodes:
            if node.variable_name in ITEM_VARIABLES:
                scopes.problems.append(
                    Problem(
                        f"'{node.variable_name}' is the current item inside loops: choose another "
                        "variable name",
                        node_id=node.id,
                        field="variable_name",
                    )
                )
    return scopes


def ensure_valid(workflow: Workflow, registry: NodeRegistry | None = None) -> Workflow:
    """Return the workflow if valid, else raise WorkflowInvalid with every problem."""
    problems = validate(workflow, registry)
    if problems:
        raise WorkflowInvalid(problems)
    return workflow


def json_schema() -> dict[str, Any]:
    """JSON Schema of a workflow document (node params are described per type by the registry)."""
    return Workflow.model_json_schema()


def triggers_of(workflow: Workflow, registry: NodeRegistry | None = None) -> Iterable[Node]:
    from connectflow_dagster.registry import get_registry

    registry = registry or get_registry()
    return [n for n in workflow.nodes if registry.get(n.type, n.type_version).is_trigger]
