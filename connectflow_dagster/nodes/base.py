"""What a node is: a ``NodeType`` (params model, output model, executor, optional credential type).

The typed node contract: an executor is ``execute(params: P, ctx: NodeContext[C]) -> output`` where
``P`` is the node's validated params model and ``ctx.auth`` is its credential, already resolved for
the workflow's owner and validated into the credential type's fields model ``C``; whatever the
executor returns is validated against the declared ``output`` model. Executors do I/O only through
``ctx`` (``ctx.http`` for HTTP, ``ctx.connect_tcp`` for other protocols), which goes through the one
transport (``connectflow_dagster.transport``) and its network policy, so tests swap the transport or
the resolver instead of patching modules, and the run's secrets stay inside the executor.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import inspect
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connectflow_dagster.errors import CredentialError, NonRetriableNodeError, Problem
from connectflow_dagster.nodes.ingress import Ingress
from connectflow_dagster.runctl import current_deadline
from connectflow_dagster.templates import is_template
from connectflow_dagster.transport import Resolver, connect_pinned, new_http_client

Group = Literal["trigger", "action", "logic"]


class Params(BaseModel):
    """Base of every node's params model: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CredentialFields(BaseModel):
    """Base of a credential type's fields; secrets are ``SecretStr`` (absent from repr and logs)."""

    model_config = ConfigDict(extra="forbid")


F = TypeVar("F", bound=CredentialFields)
AuthT = TypeVar("AuthT")


@dataclass(frozen=True)
class CredentialType(Generic[F]):
    """A kind of credential (``openai_api``, ``smtp``…): its fields and an optional connectivity test.

    ``test(fields, http)`` gets the validated fields model and the shared transport's HTTP client
    (policy-checked); it returns a short success message or raises.
    """

    type: str
    display_name: str
    fields: builtins.type[F]
    test: Callable[[F, httpx.Client], str] | None = None

    def secret_field_names(self) -> set[str]:
        """Names of the ``SecretStr`` fields (scrubbed from messages and logs)."""
        return {
            name
            for name, info in self.fields.model_fields.items()
            if info.annotation is SecretStr or SecretStr in get_args(info.annotation)
        }

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "display_name": self.display_name,
            "schema": self.fields.model_json_schema(),
            "testable": self.test is not None,
        }


class Suspend(Exception):
    """Raised by a node (Wait) to end its run here without output: the run is resumed later by a
    continuation run (``connectflow_dagster/waits.py``) at ``resume_at`` and/or when the execution's
    resume URL is called (``webhook``)."""

    def __init__(self, *, resume_at: Any = None, webhook: bool = False) -> None:
        super().__init__("waiting")
        self.resume_at = resume_at
        self.webhook = webhook


@dataclass
class Branch:
    """Returned by a branching executor: the output handle taken (or handles: a Switch sending to
    every matching rule) and the node's output."""

    handle: str | list[str]
    output: Any

    @property
    def handles(self) -> list[str]:
        return [self.handle] if isinstance(self.handle, str) else list(self.handle)


@dataclass
class Split:
    """Returned by a splitting executor (Loop): the items the nodes after it run once for each (as
    Dagster mapped steps), and the node's own output (what its variable holds)."""

    items: list[Any]
    output: Any


@dataclass(frozen=True)
class CollectedItem:
    """One item arriving at a collecting node (Aggregate), in item order: its index, its whole
    context (before the loop, plus ``item``, ``item_index`` and the outputs of the nodes it went
    through) and the output of the last node it went through."""

    index: int
    context: Mapping[str, Any]
    output: Any


@dataclass(frozen=True)
class OutputsFrom:
    """Output handles that depend on a node's params (Switch: one per rule, then ``fallback``).

    One handle per entry of the list param ``param``: the entry's ``key`` field, or its index when
    that is empty; then the fixed handles ``then``. Declarative, so the editor draws the same
    handles from the node's params (``GET /api/node-types`` describes it) without engine code.
    """

    param: str
    key: str
    then: tuple[str, ...] = ()

    def handles(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        entries = params.get(self.param) if isinstance(params, Mapping) else None
        names: list[str] = []
        if isinstance(entries, list):
            for i, entry in enumerate(entries):
                name = entry.get(self.key) if isinstance(entry, dict) else None
                names.append(str(name) if isinstance(name, str | int) and str(name) else str(i))
        return (*names, *self.then)

    def describe(self) -> dict[str, Any]:
        return {"param": self.param, "key": self.key, "then": list(self.then)}


@dataclass
class NodeContext(Generic[AuthT]):
    """Everything an executor may use. Built per node execution by the compiled op.

    ``auth`` is the node's credential as its type's fields model (``NodeContext[SmtpCredentialFields]``
    in an executor's signature); ``NodeType.run`` fills it before the executor is called.
    """

    run_id: str
    workflow_id: str
    owner_id: str
    node_id: str
    node_name: str
    context: Mapping[str, Any]
    trigger_input: Any = None
    credential_id: str | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("connectflow.node"))
    http_transport: httpx.BaseTransport | None = None
    shared_http: httpx.Client | None = None
    credential_resolver: Callable[[str, str, str | None], Mapping[str, Any]] | None = None
    resolver: Resolver | None = None
    attempt: int = 0
    upstream_node_ids: tuple[str, ...] = ()
    # A collecting node's items (Aggregate), in item order; empty for every other node.
    items: tuple[CollectedItem, ...] = ()
    # The logical execution (the first run's id; a continuation run has its own run id).
    execution_id: str = ""
    # In a continuation run, for the node it resumes (Wait): what resumed it (waits.py); else None.
    resume: Any = None
    # Every node of the workflow by id: (name, variable name, type). Code nodes resolve
    # ``$('Node name')`` and find their input's variable with it.
    workflow_nodes: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    workflow_name: str = ""
    # The registry's credential types by name (given by the compiler): which fields are secrets.
    credential_types: Mapping[str, CredentialType] = field(default_factory=dict)
    _secrets_seen: list[str] = field(default_factory=list)
    _http: httpx.Client | None = None
    _auth: AuthT | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable per run and node (and so across retries): for APIs that deduplicate writes."""
        return hashlib.sha256(f"connectflow:{self.run_id}:{self.node_id}".encode()).hexdigest()[:40]

    @property
    def http(self) -> httpx.Client:
        """The HTTP client to use: the runtime's shared, pooled one when there is one."""
        if self.shared_http is not None:
            return self.shared_http
        if self._http is None:
            self._http = new_http_client(self.http_transport, resolver=self.resolver)
        return self._http

    @property
    def auth(self) -> AuthT:
        """The node's credential, validated into its credential type's fields model."""
        if self._auth is None:
            raise CredentialError(f"node '{self.node_id}' has no credential type")
        return self._auth

    def load_credential(self, ctype: CredentialType[F]) -> F:
        """Resolve this node's credential for the owner, validate it into ``ctype.fields`` and make it
        ``ctx.auth``; every secret field is remembered for ``scrub``."""
        data = self.credential(ctype.type)
        try:
            fields = ctype.fields.model_validate(dict(data))
        except ValidationError as exc:
            wrong = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise CredentialError(
                f"the '{ctype.display_name}' credential no longer fits its type (fields: {wrong}); "
                "edit and save it again"
            ) from None
        self._auth = fields  # type: ignore[assignment]  # AuthT is this node type's fields model
        return fields

    def connect_tcp(self, host: str, port: int, timeout: float | None) -> socket.socket:
        """A TCP socket to ``host:port`` through the network policy, connected to the checked address
        (for protocols other than HTTP: SMTP)."""
        deadline = current_deadline()  # the run's timeout_seconds bounds every socket operation
        if deadline is not None:
            left = max(0.001, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        return connect_pinned(host, port, timeout, resolver=self.resolver)

    def credential(self, expected_type: str | None = None) -> Mapping[str, Any]:
        """The decrypted fields of this node's credential, checked to belong to the workflow owner
        (a raw mapping; typed executors use ``ctx.auth``)."""
        if not self.credential_id:
            raise CredentialError(
                f"node '{self.node_id}' needs a credential"
                + (f" of type '{expected_type}'" if expected_type else "")
            )
        if self.credential_resolver is None:
            raise CredentialError("no credential store is configured for this run")
        data = self.credential_resolver(self.owner_id, self.credential_id, expected_type)
        ctype = self.credential_types.get(expected_type) if expected_type is not None else None
        secret_names = _secret_field_names(ctype)
        for name, value in data.items():
            # Scrub the SecretStr fields of a known type; for an unknown type every longer string.
            is_secret = name in secret_names if secret_names is not None else len(str(value)) >= 8
            if isinstance(value, str) and value and is_secret:
                self._secrets_seen.append(value)
        return data

    def add_secret(self, value: str) -> None:
        """Scrub ``value`` too (a secret the executor derived or fetched: an access token)."""
        if value:
            self._secrets_seen.append(value)

    def scrub(self, text: str) -> str:
        """Replace every secret this execution touched with ***."""
        for secret in sorted(set(self._secrets_seen), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def scrub_value(self, value: Any) -> Any:
        """``value`` (JSON-like) with every secret this execution touched replaced by ***, in keys
        and strings: a service that echoes the credential back must not get it stored in the output."""
        if not self._secrets_seen:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _secret_field_names(ctype: CredentialType | None) -> set[str] | None:
    """Names of the ``SecretStr`` fields of a credential type (None: type unknown)."""
    return None if ctype is None else ctype.secret_field_names()


@dataclass(frozen=True)
class NodeType:
    """A registered kind of node. ``outputs`` > 1 makes it a branching node (If)."""

    type: str
    display_name: str
    group: Group
    description: str
    params: builtins.type[Params]
    execute: Callable[[Any, Any], Any]
    version: int = 1
    output: builtins.type[BaseModel] | None = None
    credential: CredentialType[Any] | None = None
    outputs: tuple[str, ...] = ("main",)
    icon: str = ""
    ingress: Ingress | None = None  # triggers called over HTTP: how (nodes/ingress.py)
    # Items (docs/items.md): "split" fans out (the nodes after it run once per item, as Dagster
    # mapped steps, until a "collect" node gathers the items back into one list).
    items: Literal["split", "collect"] | None = None
    # Params the compiler leaves unrendered: the executor renders them itself, per item
    # (``{{ item }}`` in a Filter's conditions, an Aggregate's value).
    deferred_params: tuple[str, ...] = ()
    # Outputs that depend on the params (Switch); ``outputs`` then lists the fixed ones.
    outputs_from: OutputsFrom | None = None
    suspends: bool = False  # may raise ``Suspend`` (Wait): its output, and those after it, are optional
    responds: bool = False  # answers a webhook caller waiting in 'respond_node' mode (Respond to Webhook)
    # Top-level params passed to the executor as written: not rendered or checked as templates (the
    # source of a code node, where ``{{`` is code, not a template).
    raw_params: frozenset[str] = frozenset()
    # The field of the output that n8n-style code sees as this node's items (``$input``, ``$('Node')``):
    # the HTTP Request's response body (``data``), as n8n's HTTP node outputs the body. None: all of it.
    item_field: str | None = None
    # Credential types the node may use instead of ``credential``, chosen by its params (the HTTP
    # Request's ``authentication``): listed by the registry, loaded by the executor.
    credential_options: tuple[CredentialType[Any], ...] = ()

    @property
    def is_trigger(self) -> bool:
        return self.group == "trigger"

    def outputs_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The output handles of one node of this type, given its saved params."""
        return self.outputs_from.handles(params) if self.outputs_from is not None else self.outputs

    def run(self, params: Any, ctx: NodeContext[Any]) -> Any:
        """Call the executor with its typed credential in ``ctx.auth`` (awaiting a coroutine
        executor) and return its output checked against the declared ``output`` model."""
        if self.credential is not None:
            ctx.load_credential(self.credential)
        result = self.execute(params, ctx)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        if isinstance(result, Branch):
            return Branch(result.handle, self.checked_output(result.output))
        if isinstance(result, Split):
            return Split(list(result.items), self.checked_output(result.output))
        return self.checked_output(result)

    def checked_output(self, result: Any) -> Any:
        """``result`` validated against the declared output model (as JSON-ready data); a mismatch is
        the node's bug, reported as a non-retriable failure naming the fields. A trigger's output is
        the event its ingress already parsed (and a test or notebook may pass any payload): unchecked."""
        if self.output is None or result is None or self.is_trigger:
            return result
        try:
            model = result if isinstance(result, self.output) else self.output.model_validate(result)
        except ValidationError as exc:
            wrong = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise NonRetriableNodeError(
                f"'{self.type}' returned an output that does not match {self.output.__name__}: {wrong}"
            ) from None
        return model.model_dump(mode="json")

    def check_params(self, node: Any) -> list[Problem]:
        """Problems with a saved node's params; a field holding a template is checked at run time."""
        problems: list[Problem] = []
        try:
            self.params.model_validate(node.params)
        except ValidationError as exc:
            for err in exc.errors():
                path = ".".join(str(p) for p in err["loc"])
                if is_template(_lookup(node.params, err["loc"])):
                    continue
                problems.append(
                    Problem(err["msg"], node_id=node.id, field=f"params.{path}" if path else "params")
                )
        if self.credential is not None and not node.credential_id:
            problems.append(
                Problem(
                    f"choose a '{self.credential.display_name}' credential",
                    node_id=node.id,
                    field="credential_id",
                )
            )
        return problems

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "version": self.version,
            "display_name": self.display_name,
            "group": self.group,
            "description": self.description,
            "icon": self.icon,
            "outputs": list(self.outputs),
            "outputs_from": self.outputs_from.describe() if self.outputs_from else None,
            "items": self.items,
            "params_schema": self.params.model_json_schema(),
            "output_schema": self.output.model_json_schema() if self.output else None,
            "credential_type": self.credential.type if self.credential else None,
            "credential_types": [c.type for c in self.credential_options]
            or ([self.credential.type] if self.credential else []),
            "ingress": self.ingress.describe() if self.ingress else None,
        }


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
