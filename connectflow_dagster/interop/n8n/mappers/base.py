"""What a mapper is: one n8n node type (or several) ↔ one ConnectFlow node type.

A mapper module (one per family: triggers, logic, http, messaging, ai …) registers functions with
``@importer("n8n-nodes-base.x", …)`` and ``@exporter("cf.type")``:

- an importer gets a ``MapContext`` (the n8n node, a ``expr()`` that translates a parameter value,
  ``approximate()`` to record a difference) and returns a ``Mapped``: the ConnectFlow type, params,
  which handle each n8n output index becomes, the credential type it needs, and its ``View``;
- an exporter gets the ConnectFlow node and an ``ExportContext`` and returns the n8n node's type,
  typeVersion and parameters (or None: not exportable).

A ``View`` says how the n8n item a node outputs (``$json``) maps onto its ConnectFlow output, so an
expression reading ``$json.amount`` after an HTTP Request becomes ``{{ fetch.data.amount }}``.
Raising ``Untranslatable`` (from ``expressions``) from an importer makes the node a placeholder with
that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectflow_dagster.interop.n8n.expressions import Untranslatable

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class View:
    """n8n item json path → ConnectFlow output path.

    ``kind``: ``identity`` (same shape), ``prefix`` (under ``prefix``), ``renamed`` (first key
    renamed by ``renames``, others refused), ``passthrough`` (the node outputs its input items:
    read the input node's view), ``opaque`` (no field corresponds; ``reason``)."""

    kind: str = "identity"
    prefix: Path = ()
    renames: tuple[tuple[Path, Path], ...] = ()  # n8n path prefix → ConnectFlow path prefix
    reason: str = ""
    keys: tuple[str, ...] = ()  # overlay: the keys this node sets; others come from its input

    def map(self, path: Path) -> Path:
        if self.kind == "identity":
            return path
        if self.kind == "prefix":
            return (*self.prefix, *path)
        if self.kind == "renamed":
            for source, target in self.renames:
                if tuple(path[: len(source)]) == source:
                    return (*target, *path[len(source) :])
            what = f"field '{'.'.join(map(str, path))}'" if path else "the whole item"
            raise Untranslatable(f"{what} has no ConnectFlow equivalent ({self.reason})")
        if self.kind == "item":
            return path
        raise Untranslatable(self.reason or "this node's output has no ConnectFlow equivalent")

    def unmap(self, path: Path) -> Path | None:
        """The inverse (exports): ConnectFlow output path → n8n item path, or None."""
        if self.kind == "identity":
            return path
        if self.kind == "prefix":
            n = len(self.prefix)
            return path[n:] if tuple(path[:n]) == self.prefix else None
        if self.kind == "renamed":
            for source, target in self.renames:
                if tuple(path[: len(target)]) == target:
                    return (*source, *path[len(target) :])
        return None


IDENTITY = View()
PASSTHROUGH = View(kind="passthrough")


def opaque(reason: str) -> View:
    return View(kind="opaque", reason=reason)


def renamed(reason: str, **pairs: str) -> View:
    """``renamed("…", statusCode="status", body="data")``; dotted names are paths."""
    return View(
        kind="renamed",
        reason=reason,
        renames=tuple((tuple(k.split(".")), tuple(v.split(".")) if v else ()) for k, v in pairs.items()),
    )


def overlay(keys: list[str]) -> View:
    """A node that adds ``keys`` to its input item (Set with "include other fields")."""
    return View(kind="overlay", keys=tuple(keys))


@dataclass
class Mapped:
    type: str
    params: dict[str, Any]
    view: View = IDENTITY
    outputs: tuple[str, ...] = ("main",)  # ConnectFlow handle per n8n output index
    credential_type: str | None = None


@dataclass
class MapContext:
    node: dict[str, Any]
    translate: Callable[[Any, str], Any]
    approximations: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    # sub-nodes attached through non-"main" connections (ai_languageModel …): type → n8n nodes
    subnodes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)  # names of sub-nodes this mapping absorbed
    inside_loop: bool = False  # a Split Out (ConnectFlow Loop) runs before this node
    # a template naming the list of items the node before this one outputs (n8n: its items)
    input_items: Callable[[], str] | None = None

    @property
    def params(self) -> dict[str, Any]:
        value = self.node.get("parameters")
        return value if isinstance(value, dict) else {}

    @property
    def version(self) -> float:
        value = self.node.get("typeVersion", 1)
        return float(value) if isinstance(value, int | float) else 1.0

    def get(self, *path: str, default: Any = None) -> Any:
        value: Any = self.params
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    def expr(self, value: Any, field: str) -> Any:
        """A parameter value translated (templates for expressions); raises Untranslatable."""
        return self.translate(value, field)

    def approximate(self, why: str) -> None:
        self.approximations.append(why)

    def ignore_options(self, where: dict[str, Any] | None, known: set[str], label: str = "option") -> None:
        """Record every set option outside ``known`` as an approximation."""
        for key, value in (where or {}).items():
            if key not in known and value not in (None, "", {}, [], False):
                self.approximate(f"{label} '{key}' is not carried over")


@dataclass
class ExportContext:
    """What an exporter may use: the template → n8n expression translation for a node's params."""

    expression: Callable[[Any], Any]


ImportFn = Callable[[MapContext], Mapped]
ExportFn = Callable[[Any, ExportContext], "tuple[str, float, dict[str, Any]] | None"]

IMPORTERS: dict[str, ImportFn] = {}
EXPORTERS: dict[str, ExportFn] = {}
# How the exported n8n node's item maps onto the ConnectFlow output: references to it are written
# back through this view (``{{ fetch.data.x }}`` → ``$('Fetch').item.json.x``).
EXPORT_VIEWS: dict[str, View] = {}


def importer(*n8n_types: str) -> Callable[[ImportFn], ImportFn]:
    def register(fn: ImportFn) -> ImportFn:
        for name in n8n_types:
            IMPORTERS[name] = fn
        return fn

    return register


def exporter(*cf_types: str, view: View = IDENTITY) -> Callable[[ExportFn], ExportFn]:
    def register(fn: ExportFn) -> ExportFn:
        for name in cf_types:
            EXPORTERS[name] = fn
            EXPORT_VIEWS[name] = view
        return fn

    return register
