"""What a node is: a ``NodeType`` (params model, output model, executor, optional credential type).

Executors are plain functions ``execute(params, ctx) -> output``. They do I/O only through ``ctx``
(its ``http`` client, ``credential()``, ``llm()``) so tests point them at real local servers and the
run's secrets stay inside the executor.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal, get_args

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connectflow_dagster.errors import Problem
from connectflow_dagster.nodes.ingress import Ingress
from connectflow_dagster.templates import is_template

Group = Literal["trigger", "action", "logic"]


class Params(BaseModel):
    """Base of every node's params model: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CredentialFields(BaseModel):
    """Base of a credential type's fields; secrets are ``SecretStr`` (absent from repr and logs)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class CredentialType:
    """A kind of credential (``openai_api``, ``smtp``…): its fields and an optional connectivity test."""

    type: str
    display_name: str
    fields: builtins.type[CredentialFields]
    test: Callable[[CredentialFields, httpx.Client], str] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "display_name": self.display_name,
            "schema": self.fields.model_json_schema(),
            "testable": self.test is not None,
        }


@dataclass
class Branch:
    """Returned by a branching executor: the output handle taken and the node's output."""

    handle: str
    output: Any


@dataclass
class NodeContext:
    """Everything an executor may use. Built per node execution by the compiled op."""

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
    attempt: int = 0
    upstream_node_ids: tuple[str, ...] = ()
    # The registry's credential types by name (given by the compiler): which fields are secrets.
    credential_types: Mapping[str, CredentialType] = field(default_factory=dict)
    _secrets_seen: list[str] = field(default_factory=list)
    _http: httpx.Client | None = None

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
            self._http = new_http_client(self.http_transport)
        return self._http

    def credential(self, expected_type: str | None = None) -> Mapping[str, Any]:
        """The decrypted fields of this node's credential, checked to belong to the workflow owner."""
        from connectflow_dagster.errors import CredentialError

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

    def scrub(self, text: str) -> str:
        """Replace every secret this execution touched with ***."""
        for secret in sorted(set(self._secrets_seen), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _secret_field_names(ctype: CredentialType | None) -> set[str] | None:
    """Names of the ``SecretStr`` fields of a credential type (None: type unknown)."""
    if ctype is None:
        return None
    return {
        name
        for name, info in ctype.fields.model_fields.items()
        if info.annotation is SecretStr or SecretStr in get_args(info.annotation)
    }


def new_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client for executors: pooled, redirects followed, and no cookie jar shared between
    runs (cookies are refused, so one workflow never sends another's session)."""
    return httpx.Client(
        transport=transport,
        timeout=30.0,
        follow_redirects=True,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


@dataclass(frozen=True)
class NodeType:
    """A registered kind of node. ``outputs`` > 1 makes it a branching node (If)."""

    type: str
    display_name: str
    group: Group
    description: str
    params: builtins.type[Params]
    execute: Callable[[Any, NodeContext], Any]
    version: int = 1
    output: builtins.type[BaseModel] | None = None
    credential: CredentialType | None = None
    outputs: tuple[str, ...] = ("main",)
    icon: str = ""
    ingress: Ingress | None = None  # triggers called over HTTP: how (nodes/ingress.py)

    @property
    def is_trigger(self) -> bool:
        return self.group == "trigger"

    def run(self, params: Any, ctx: NodeContext) -> Any:
        """Call the executor (awaiting it when it is a coroutine function)."""
        result = self.execute(params, ctx)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return result

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
            "params_schema": self.params.model_json_schema(),
            "output_schema": self.output.model_json_schema() if self.output else None,
            "credential_type": self.credential.type if self.credential else None,
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
