"""n8n workflow JSON → ConnectFlow workflows, with an import report.

``import_n8n(data)`` takes an n8n export (one workflow object, or an array of them) and returns one
``Imported`` per workflow: the ConnectFlow ``Workflow`` (not saved) and its ``ImportReport``. Nothing
is dropped: a node without a mapping, or whose parameters cannot be carried over exactly enough,
becomes an ``n8n.unsupported`` placeholder (``n8n.unsupported_trigger`` for a trigger) that keeps
its n8n type and parameters; sticky notes are kept in the workflow's ``meta``; every node keeps its
n8n id, type, typeVersion, parameters and credentials in ``meta["n8n"]`` so an export gives back
what was imported when the node was not edited.

How a node's parameters are mapped is each family module's job (``mappers/``); this module does the
graph: names → ids and variable names, positions, ``connections`` (by source name, output index) →
edges with source handles, which node's output ``$json`` reads, and the report.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from connectflow_dagster.errors import Problem, WorkflowInvalid
from connectflow_dagster.interop.n8n import mappers
from connectflow_dagster.interop.n8n.expressions import (
    Ref,
    Untranslatable,
    is_expression,
    jinja_path,
    translate_value,
)
from connectflow_dagster.interop.n8n.mappers.base import MapContext, Mapped, View
from connectflow_dagster.spec import MAX_EDGES, MAX_NODES, Workflow, json_depth, variable_name_for

MAX_WORKFLOWS = 100
JS_NODE = "n8n.expressions"
SPLIT_IN_BATCHES = "n8n-nodes-base.splitInBatches"
SYNTHETIC_DONE = "connectflow.loop_done"  # not an n8n type: the Aggregate a Loop Over Items' "done" becomes
_USES_INPUT = re.compile(r"\$json\b|\$input\b|(?<![\w$.])items\b|\$itemIndex\b|\$binary\b")
_NODE_REFS = (
    re.compile(r"\$\(\s*(['\"`])((?:(?!\1).)+)\1\s*\)"),
    re.compile(r"\$node\[\s*(['\"])((?:(?!\1).)+)\1\s*\]"),
    re.compile(r"\$items\(\s*(['\"])((?:(?!\1).)+)\1"),
)
_UNAVAILABLE = re.compile(
    r"\$(vars|env|secrets|jmespath|fromAI|evaluateExpression|prevNode|binary)\b|\bDateTime\b|\bluxon\b"
)
_DATES = re.compile(r"\$(now|today)\b")
# n8n's data-transformation methods (not JavaScript's): the sandbox does not have them
_EXTENSIONS = re.compile(
    r"\.(isEmpty|isNotEmpty|toDateTime|extractDomain|extractEmail|extractUrl|toTitleCase|toSentenceCase|"
    r"toSnakeCase|removeTags|hash|urlEncode|urlDecode|base64Encode|base64Decode|pluck|sum|average|unique|"
    r"compact|isEven|isOdd|toInt|toFloat|toBoolean|removeDuplicates|chunk|difference|intersection|union|"
    r"smartJoin|renameKeys|keepFieldsContaining|removeField|hasField|minus|plus|format|toNumber|quote|"
    r"parseJson|toJsonString|isDomain|isEmail|isUrl|isNumeric|replaceSpecialChars|randomItem|merge|"
    r"toDate|beginningOf|endOfMonth|isWeekend|extract|diffTo|diffToNow|isBetween|isInLast|isInNext)\("
)


def _referenced_nodes(source: str) -> list[str]:
    return [m.group(2) for pattern in _NODE_REFS for m in pattern.finditer(source)]


def _js_unavailable(source: str) -> str:
    m = _UNAVAILABLE.search(source)
    if m:
        return (
            f"`{m.group(0)}` (n8n's Luxon library, instance variables or AI helpers) is not available in the "
            "JavaScript sandbox"
        )
    dates = _DATES.search(source) is not None  # $now/$today have plus, minus and format
    m = next(
        (
            m
            for m in _EXTENSIONS.finditer(source)
            if not (dates and m.group(1) in ("plus", "minus", "format"))
        ),
        None,
    )
    if m:
        return f"n8n's `.{m.group(1)}()` helper is not JavaScript and not available in the sandbox"
    if "$(" in source and not _NODE_REFS[0].search(source):
        return "a node named by a computed value"
    return ""


MAX_DEPTH = 48  # n8n parameters nest a few levels; the workflow document adds 4
STICKY = "n8n-nodes-base.stickyNote"
PLACEHOLDER = "n8n.unsupported"
PLACEHOLDER_TRIGGER = "n8n.unsupported_trigger"


@dataclass
class NodeReport:
    name: str
    n8n_type: str
    type: str
    status: str  # exact | approximated | unsupported | folded | note | inserted
    notes: list[str] = field(default_factory=list)
    credential: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "n8n_type": self.n8n_type,
            "type": self.type,
            "status": self.status,
            "notes": self.notes,
        }
        if self.credential:
            out["credential"] = self.credential
        return out


@dataclass
class ExpressionReport:
    node: str
    field: str
    source: str
    status: str  # translated | js | placeholder
    template: Any = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = {"node": self.node, "field": self.field, "source": self.source, "status": self.status}
        if self.template is not None:
            out["template"] = self.template
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class ImportReport:
    workflow: str
    nodes: list[NodeReport] = field(default_factory=list)
    expressions: list[ExpressionReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # validation problems of the result

    def summary(self) -> dict[str, Any]:
        counted = [n for n in self.nodes if n.status in ("exact", "approximated", "unsupported")]
        by = {s: sum(1 for n in counted if n.status == s) for s in ("exact", "approximated", "unsupported")}
        ex = {
            s: sum(1 for e in self.expressions if e.status == s) for s in ("translated", "js", "placeholder")
        }
        return {
            "nodes": len(counted),
            **by,
            "folded": sum(1 for n in self.nodes if n.status == "folded"),
            "sticky_notes": sum(1 for n in self.nodes if n.status == "note"),
            "expressions": len(self.expressions),
            **{f"expressions_{k}": v for k, v in ex.items()},
            "credentials_to_choose": sum(1 for n in self.nodes if n.credential),
            "valid": not self.problems,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "summary": self.summary(),
            "nodes": [n.as_dict() for n in self.nodes],
            "expressions": [e.as_dict() for e in self.expressions],
            "problems": self.problems,
        }


@dataclass
class Imported:
    workflow: Workflow
    report: ImportReport


def _bad(message: str) -> WorkflowInvalid:
    return WorkflowInvalid([Problem(f"not an n8n workflow: {message}")])


def read_document(data: Any) -> list[dict[str, Any]]:
    """The n8n workflow objects in ``data`` (one object or an array), checked for shape and size."""
    if json_depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise _bad(f"nested deeper than {MAX_DEPTH} levels")
    items = data if isinstance(data, list) else [data]
    if not items:
        raise _bad("an empty array")
    if len(items) > MAX_WORKFLOWS:
        raise _bad(f"{len(items)} workflows in one file (at most {MAX_WORKFLOWS})")
    for i, item in enumerate(items):
        where = f"workflow #{i + 1}: " if isinstance(data, list) else ""
        if not isinstance(item, dict):
            raise _bad(f"{where}expected an object with 'nodes' and 'connections'")
        if isinstance(item.get("data"), dict) and "nodes" in item["data"]:  # n8n API envelope
            items[i] = item = {**item["data"], "name": item["data"].get("name") or item.get("name")}
        nodes = item.get("nodes")
        if "edges" in item and "connections" not in item:
            raise _bad(f"{where}this is a ConnectFlow workflow (it has 'edges'): run or save it as it is")
        if not isinstance(nodes, list):
            raise _bad(f"{where}'nodes' must be a list")
        if len(nodes) > MAX_NODES:
            raise _bad(f"{where}{len(nodes)} nodes (a workflow has at most {MAX_NODES})")
        if not isinstance(item.get("connections", {}), dict):
            raise _bad(f"{where}'connections' must be an object")
        names: set[str] = set()
        for j, node in enumerate(nodes):
            if not isinstance(node, dict) or not isinstance(node.get("name"), str) or not node["name"]:
                raise _bad(f"{where}node #{j + 1} has no name")
            if not isinstance(node.get("type"), str):
                raise _bad(f"{where}node '{node['name']}' has no type")
            if node["name"] in names:
                raise _bad(f"{where}two nodes are named '{node['name']}'")
            names.add(node["name"])
    return items


def import_n8n(data: Any, *, name: str | None = None) -> list[Imported]:
    """Every workflow in an n8n export, converted; ``name`` renames a single workflow."""
    items = read_document(data)
    results = []
    for i, item in enumerate(items):
        try:
            results.append(_Importer(item).run())
        except WorkflowInvalid:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
            # a shape no check above anticipated: a clear refusal, never a server error
            label = item.get("name") if isinstance(item.get("name"), str) else f"#{i + 1}"
            raise _bad(
                f"workflow '{label}' has a part ConnectFlow cannot read ({type(exc).__name__}: {exc})"
            ) from None
    if name and len(results) == 1:
        results[0].workflow.name = name[:200]
        results[0].report.workflow = results[0].workflow.name
    return results


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def params_digest(params: Any) -> str:
    """What an export compares to know whether a node was edited since its import."""
    return _digest(params)


class _Importer:
    def __init__(self, doc: dict[str, Any]):
        from connectflow_dagster.registry import get_registry

        self.doc = doc
        self.registry = get_registry()
        self.report = ImportReport(workflow=str(doc.get("name") or "Imported from n8n")[:200])
        settings = doc.get("settings")
        self.settings: dict[str, Any] = settings if isinstance(settings, dict) else {}
        self.nodes = [n for n in doc["nodes"] if n.get("type") != STICKY]
        self.by_name = {n["name"]: n for n in self.nodes}
        self.ids: dict[str, str] = {}
        self.mapped: dict[str, Mapped] = {}
        self.main_inputs: dict[
            str, list[tuple[int, str, int]]
        ] = {}  # target → (input idx, source, output idx)
        self.subnodes: dict[str, dict[str, list[dict[str, Any]]]] = {}  # parent → kind → sub-nodes
        self.folded_into: dict[str, str] = {}
        self.pending_js: dict[str, dict[str, Any]] = {}  # node → JavaScript its expressions need
        self.js_ids: dict[str, str] = {}
        self.js_notes: dict[str, list[str]] = {}
        self._read_connections()
        self.done_of: dict[str, str] = {}  # synthetic "done" aggregate name → its Loop Over Items
        self._split_loops()

    # ---- connections ---------------------------------------------------------------------------

    def _read_connections(self) -> None:
        self.edges_raw: list[tuple[str, int, str, int]] = []
        for source, outputs in (self.doc.get("connections") or {}).items():
            if source not in self.by_name or not isinstance(outputs, dict):
                continue
            for kind, by_index in outputs.items():
                if not isinstance(by_index, list):
                    continue
                for out_index, targets in enumerate(by_index):
                    if not isinstance(targets, list):
                        continue
                    for target in targets:
                        if not isinstance(target, dict) or not isinstance(target.get("node"), str):
                            continue
                        if target["node"] not in self.by_name:
                            continue
                        in_index = target.get("index", 0) if isinstance(target.get("index", 0), int) else 0
                        if kind == "main":
                            self.edges_raw.append((source, out_index, target["node"], in_index))
                            self.main_inputs.setdefault(target["node"], []).append(
                                (in_index, source, out_index)
                            )
                        else:  # a sub-node (chat model, tool, memory …) feeding its parent
                            self.subnodes.setdefault(target["node"], {}).setdefault(kind, []).append(
                                self.by_name[source]
                            )
                            self.folded_into.setdefault(source, target["node"])
        for inputs in self.main_inputs.values():
            inputs.sort()

    def _split_loops(self) -> None:
        """n8n's Loop Over Items (splitInBatches v3): output 1 ("loop") feeds the body, whose last
        node connects back; output 0 ("done") continues once the items are through. As ConnectFlow:
        a Loop whose body runs per item, an Aggregate ("<name> · done") collecting the body's
        outputs where the back connection was, and the "done" connections leaving that Aggregate."""
        for name, node in list(self.by_name.items()):
            if node.get("type") != SPLIT_IN_BATCHES or _version(node) < 3:
                continue
            body: set[str] = set()
            frontier = [t for s, o, t, _ in self.edges_raw if s == name and o == 1]
            while frontier:
                current = frontier.pop()
                if current in body or current == name:
                    continue
                body.add(current)
                frontier.extend(t for s, _, t, _ in self.edges_raw if s == current)
            back = [(s, o, t, i) for s, o, t, i in self.edges_raw if t == name and s in body]
            if not back:
                continue
            done = f"{name[:180]} · done"
            while done in self.by_name:
                done += "'"
            self.by_name[done] = {"name": done, "type": SYNTHETIC_DONE, "parameters": {}, "position": [0, 0]}
            self.nodes.append(self.by_name[done])
            self.done_of[done] = name
            edges = [e for e in self.edges_raw if e not in back]
            edges = [(done, 0, t, i) if (s == name and o == 0) else (s, o, t, i) for s, o, t, i in edges]
            edges += [(s, o, done, 0) for s, o, _, _ in back]
            self.edges_raw = edges
            position = node.get("position") if isinstance(node.get("position"), list) else [0, 0]
            self.by_name[done]["position"] = [_num(position, 0) + 200, _num(position, 1) + 160]
        if self.done_of:
            self.main_inputs = {}
            for source, out_index, target, in_index in self.edges_raw:
                self.main_inputs.setdefault(target, []).append((in_index, source, out_index))
            for inputs in self.main_inputs.values():
                inputs.sort()

    def _order(self) -> list[str]:
        """Node names with every main input before its target (cycles: file order for the rest)."""
        indegree = {n: 0 for n in self.by_name}
        for _, _, target, _ in self.edges_raw:
            indegree[target] += 1
        ready = [n for n in self.by_name if indegree[n] == 0]
        order: list[str] = []
        while ready:
            current = ready.pop(0)
            order.append(current)
            for source, _, target, _ in self.edges_raw:
                if source == current:
                    indegree[target] -= 1
                    if indegree[target] == 0:
                        ready.append(target)
        order += [n for n in self.by_name if n not in order]
        # sub-nodes are mapped with their parent
        return order

    # ---- ids -----------------------------------------------------------------------------------

    def _assign_ids(self) -> None:
        used: set[str] = set()
        reserved = {"true", "false", "none", "loop", "range", "dict", "namespace", "self"}
        for node in self.nodes:
            base = variable_name_for(node["name"])[:56]
            if base.lower() in reserved:
                base = f"{base}_node"
            candidate, i = base, 2
            while candidate in used:
                candidate = f"{base}_{i}"
                i += 1
            used.add(candidate)
            self.ids[node["name"]] = candidate

    # ---- expressions ---------------------------------------------------------------------------

    def _items_of(self, name: str | None, depth: int = 0) -> str:
        """A template for the list of n8n items node ``name`` outputs: a Code node's output list, an
        HTTP Request's response body (n8n makes an item of each element of a JSON array)."""
        if name is None or depth > 50:
            raise Untranslatable("the node has no input to loop over")
        mapped = self.mapped.get(name)
        if mapped is None or mapped.type in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            raise Untranslatable(f"the items of '{name}' are not known")
        view = mapped.view
        if view.kind == "passthrough":
            return self._items_of(self._input_of(name), depth + 1)
        if view.kind == "prefix":
            path = view.prefix[:-1] if view.prefix and view.prefix[-1] == 0 else view.prefix
            return "{{ " + jinja_path(self.ids[name], path) + " }}"
        if view.kind == "identity":
            return "{{ " + jinja_path(self.ids[name], ()) + " }}"
        raise Untranslatable(f"the items of '{name}' are not a list ConnectFlow holds")

    def _inside_loop(self, name: str) -> bool:
        """Whether a node mapped to a Loop (an n8n Split Out) runs before ``name``."""
        seen: set[str] = set()
        frontier = [src for _, src, _ in self.main_inputs.get(name, [])]
        while frontier:
            current = frontier.pop()
            if current in seen:
                continue
            seen.add(current)
            mapped = self.mapped.get(current)
            if mapped is not None and mapped.type == "loop":
                return True
            frontier.extend(src for _, src, _ in self.main_inputs.get(current, []))
        return False

    def _input_of(self, name: str) -> str | None:
        inputs = self.main_inputs.get(name) or []
        return inputs[0][1] if inputs else None

    def _resolve_view(
        self, name: str, path: tuple[str | int, ...], seen: frozenset[str] = frozenset()
    ) -> str:
        """A Jinja reference to field ``path`` of node ``name``'s n8n item."""
        if name in seen:
            raise Untranslatable("the data comes around a loop")
        mapped = self.mapped.get(name)
        if mapped is None:
            if name not in self.by_name:
                raise Untranslatable(f"no node is named '{name}'")
            raise Untranslatable(f"'{name}' runs later or is not mapped, so its output is not known")
        view: View = mapped.view
        if view.kind == "passthrough" or (view.kind == "overlay" and (not path or path[0] not in view.keys)):
            upstream = self._input_of(name)
            if upstream is None:
                raise Untranslatable(f"'{name}' has no input to read through")
            if view.kind == "overlay" and not path:
                raise Untranslatable(f"the whole item of '{name}' is its input plus its fields")
            return self._resolve_view(upstream, path, seen | {name})
        if mapped.type in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            raise Untranslatable(f"'{name}' is not supported, so its output is not known")
        if view.kind == "item":  # after a Loop: the current item
            return jinja_path("item", path)
        if view.kind == "combine":
            raise Untranslatable(f"'{name}' combines two items: read as JavaScript")
        return jinja_path(self.ids[name], view.map(path) if view.kind != "overlay" else path)

    def _translator(self, name: str, records: list[ExpressionReport]):  # type: ignore[no-untyped-def]
        def resolve(ref: Ref) -> str:
            source = ref.node if ref.node is not None else self._input_of(name)
            if source is None:
                raise Untranslatable(f"'{name}' has no input, so $json is empty")
            return self._resolve_view(source, ref.path)

        def translate(value: Any, field: str) -> Any:
            if isinstance(value, dict):
                return {k: translate(v, f"{field}.{k}") for k, v in value.items()}
            if isinstance(value, list):
                return [translate(v, f"{field}.{i}") for i, v in enumerate(value)]
            if not is_expression(value) or "{{" not in value:
                return translate_value(value, resolve).value
            try:
                result = translate_value(value, resolve, self._js_fallback(name))
            except Untranslatable as exc:
                records.append(ExpressionReport(name, field, value, "placeholder", reason=str(exc)))
                raise Untranslatable(f"{field}: {exc}") from None
            records.append(ExpressionReport(name, field, value, result.status, template=result.value))
            return result.value

        return translate

    # ---- expressions evaluated as JavaScript ---------------------------------------------------

    def _js_fallback(self, name: str):  # type: ignore[no-untyped-def]
        """Evaluate a ``{{ … }}`` part with the n8n data model in the JavaScript sandbox: by an
        ``n8n.expressions`` node inserted before node ``name``, whose output the part then reads."""

        def fallback(source: str) -> str:
            if JS_NODE not in self.registry.type_names():
                raise Untranslatable("needs JavaScript, and the JavaScript sandbox is not installed")
            problem = _js_unavailable(source)
            if problem:
                raise Untranslatable(problem)
            inputs = {src for _, src, _ in self.main_inputs.get(name, [])}
            if len(inputs) > 1:
                raise Untranslatable("JavaScript expressions on a node with several inputs")
            uses_input = bool(_USES_INPUT.search(source))
            referenced = set(_referenced_nodes(source))
            if uses_input:
                if not inputs:
                    raise Untranslatable(f"'{name}' has no input, so $json is empty")
                referenced.add(self._input_of(name) or "")
            sources: dict[str, dict[str, Any]] = {}
            for ref in referenced:
                self._source_recipe(ref, sources, for_node=name)
            if _DATES.search(source):
                note = "$now/$today use ConnectFlow's stand-in for Luxon dates (docs/n8n.md); other methods fail the node"
                notes = self.js_notes.setdefault(name, [])
                if note not in notes:
                    notes.append(note)
            pending = self.pending_js.setdefault(name, {"expressions": {}, "sources": {}})
            key = f"e{len(pending['expressions'])}"
            pending["expressions"][key] = source
            pending["sources"].update(sources)
            return jinja_path(self._js_variable(name), (key,))

        return fallback

    def _source_recipe(
        self, name: str, out: dict[str, dict[str, Any]], depth: int = 0, for_node: str = ""
    ) -> None:
        """How the ``n8n.expressions`` node sees ``name``'s output as n8n's item (``out[name]``).

        A node that is not supported yet is read as it will be once replaced: its output taken as
        n8n's item (the run fails at the placeholder until then); the reading node is approximated."""
        if name in out:
            return
        if depth > 50 or name not in self.by_name:
            raise Untranslatable(f"no node is named '{name}'")
        mapped = self.mapped.get(name)
        if mapped is None:
            raise Untranslatable(f"'{name}' runs later or is not mapped, so its output is not known")
        view = mapped.view
        if mapped.type in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            out[name] = {"variable": self.ids[name], "kind": "identity"}
            note = f"reads '{name}' (not supported yet): its replacement's output is taken as n8n's item"
            notes = self.js_notes.setdefault(for_node, [])
            if note not in notes:
                notes.append(note)
            return
        if view.kind == "opaque":
            raise Untranslatable(
                f"the JavaScript reads '{name}', whose ConnectFlow output differs from n8n's"
            )
        if view.kind == "item":
            out[name] = {"variable": "item", "kind": "identity"}
            return
        if view.kind == "combine":
            inputs = [src for _, src, _ in self.main_inputs.get(name, [])]
            out[name] = {"variable": self.ids[name], "kind": "combine", "inputs": inputs}
            for source in inputs:
                self._source_recipe(source, out, depth + 1, for_node)
            return
        recipe: dict[str, Any] = {"variable": self.ids[name], "kind": view.kind}
        if view.kind == "prefix":
            recipe["prefix"] = list(view.prefix)
        if view.kind == "renamed":
            recipe["renames"] = [[list(a), list(b)] for a, b in view.renames]
        if view.kind in ("passthrough", "overlay"):
            upstream = self._input_of(name)
            if upstream is None:
                raise Untranslatable(f"'{name}' has no input to read through")
            recipe["input"] = upstream
            out[name] = recipe
            self._source_recipe(upstream, out, depth + 1, for_node)
            return
        out[name] = recipe

    def _timezone(self) -> str:
        tz = self.settings.get("timezone")
        return tz if isinstance(tz, str) and "/" in tz else "UTC"

    def _js_variable(self, name: str) -> str:
        if name not in self.js_ids:
            taken = set(self.ids.values()) | set(self.js_ids.values())
            base = f"{self.ids[name][:55]}_expr"
            candidate, i = base, 2
            while candidate in taken:
                candidate = f"{base}{i}"
                i += 1
            self.js_ids[name] = candidate
        return self.js_ids[name]

    def _js_node(self, name: str, target: dict[str, Any]) -> dict[str, Any]:
        pending = self.pending_js[name]
        return {
            "id": self.js_ids[name],
            "type": JS_NODE,
            "name": f"{name[:180]} · expressions",
            "variable_name": self.js_ids[name],
            "position": {"x": target["position"]["x"] - 40, "y": target["position"]["y"] + 140},
            "params": {
                "expressions": pending["expressions"],
                "input": self._input_of(name),
                "sources": pending["sources"],
                "timezone": self._timezone(),
            },
            "meta": {"n8n_synthetic": {"for": target["id"]}},
        }

    # ---- nodes ---------------------------------------------------------------------------------

    def _map(self, name: str) -> tuple[Mapped, NodeReport, list[ExpressionReport]]:
        node = self.by_name[name]
        n8n_type = node["type"]
        records: list[ExpressionReport] = []
        ctx = MapContext(
            node=node,
            translate=self._translator(name, records),
            settings=self.settings,
            subnodes=self.subnodes.get(name, {}),
            inside_loop=self._inside_loop(name),
            input_items=lambda: self._items_of(self._input_of(name)),
        )
        if name in self.done_of:
            loop = self.done_of[name]
            mapped = Mapped(
                "aggregate",
                {},
                View(kind="opaque", reason=f"the items '{loop}' processed, collected in a list"),
            )
            note = f"collects what the loop of '{loop}' produced; the nodes after it run once (n8n: once per item)"
            return mapped, NodeReport(name, "(done output)", "aggregate", "inserted", [note]), records
        fn = mappers.IMPORTERS.get(n8n_type)
        reason = ""
        if fn is None:
            reason = f"no ConnectFlow equivalent for '{n8n_type}'"
        else:
            try:
                mapped = fn(ctx)
                if mapped.type not in self.registry.type_names():
                    raise Untranslatable(f"node type '{mapped.type}' is not installed")
                status = "approximated" if ctx.approximations else "exact"
                report = NodeReport(name, n8n_type, mapped.type, status, list(ctx.approximations))
                for sub in ctx.folded:
                    self.report.nodes.append(
                        NodeReport(
                            sub,
                            str(self.by_name[sub]["type"]),
                            mapped.type,
                            "folded",
                            [f"folded into '{name}'"],
                        )
                    )
                return mapped, report, records
            except Untranslatable as exc:
                reason = str(exc)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                reason = f"unexpected parameters ({type(exc).__name__}: {exc})"
        self.pending_js.pop(name, None)
        self.js_ids.pop(name, None)
        self.js_notes.pop(name, None)
        # the expressions of a placeholder node are kept as they are, in its parameters
        reasons = {r.source: r.reason for r in records if r.status == "placeholder"}
        records = [
            ExpressionReport(
                name, path, source, "placeholder", reason=reasons.get(source, "node not supported")
            )
            for path, source in _expressions_in(node.get("parameters") or {}, "")
        ]
        is_trigger = _looks_like_trigger(n8n_type)
        mapped = Mapped(
            PLACEHOLDER_TRIGGER if is_trigger else PLACEHOLDER,
            {
                "n8n_type": n8n_type,
                "n8n_type_version": _version(node),
                "reason": reason,
            },
            View(kind="opaque", reason=reason),
            outputs=("main", *(f"output_{i}" for i in range(1, 8))) if not is_trigger else ("main",),
        )
        return mapped, NodeReport(name, n8n_type, mapped.type, "unsupported", [reason]), records

    def run(self) -> Imported:
        self._assign_ids()
        nodes_out: dict[str, dict[str, Any]] = {}
        reports: dict[str, NodeReport] = {}
        for name in self._order():
            if name in self.folded_into:
                continue
            mapped, report, records = self._map(name)
            if self.by_name[name].get("onError") == "continueErrorOutput" and mapped.type != PLACEHOLDER:
                mapped.outputs = (*mapped.outputs, "error")  # n8n's last output is the error output
            self.mapped[name] = mapped
            reports[name] = report
            self.report.expressions.extend(records)
            nodes_out[name] = self._node(name, mapped, report)
            if name in self.pending_js:
                helper = self._js_node(name, nodes_out[name])
                nodes_out[f"\0{name}"] = helper
                count = len(self.pending_js[name]["expressions"])
                report.notes.append(
                    f"{count} expression part(s) evaluated as JavaScript by '{helper['name']}'"
                )
                if self.js_notes.get(name):
                    report.notes.extend(self.js_notes[name])
                    if report.status == "exact":
                        report.status = "approximated"
        # the report and the nodes in the file's order
        folded = [r for r in self.report.nodes if r.status == "folded"]
        self.report.nodes = [reports[n["name"]] for n in self.nodes if n["name"] in reports] + folded
        for name in self.folded_into:
            if name not in {r.name for r in folded}:  # a sub-node whose parent did not absorb it
                mapped, report, records = self._map(name)
                self.mapped[name] = mapped
                self.report.nodes.append(report)
                nodes_out[name] = self._node(name, mapped, report)
        edges = self._without_cycles(self._edges())
        self._respond_with_last_node(nodes_out)
        stickies = [n for n in self.doc["nodes"] if n.get("type") == STICKY]
        notes = [_note(sticky, i) for i, sticky in enumerate(stickies[:200])]
        for sticky in stickies:
            self.report.nodes.append(NodeReport(sticky["name"], STICKY, "sticky note", "note", []))
        meta: dict[str, Any] = {"n8n": {"settings": self.settings}}
        for key in ("id", "tags", "meta"):
            if self.doc.get(key) not in (None, "", [], {}):
                meta["n8n"][key] = self.doc[key]
        if stickies:
            meta["n8n"]["sticky_notes"] = stickies
        timezone = self.settings.get("timezone")
        ordered = [
            nodes_out[key] for n in self.nodes for key in (f"\0{n['name']}", n["name"]) if key in nodes_out
        ]
        data = {
            "name": self.report.workflow,
            "nodes": ordered,
            "edges": edges[:MAX_EDGES],
            "settings": {"timezone": timezone} if isinstance(timezone, str) and "/" in timezone else {},
            "notes": notes,
            "meta": meta,
        }
        from connectflow_dagster.spec import parse_workflow, validate

        workflow = parse_workflow(data)
        self.report.problems = [str(p) for p in validate(workflow, self.registry)]
        return Imported(workflow, self.report)

    def _node(self, name: str, mapped: Mapped, report: NodeReport) -> dict[str, Any]:
        node = self.by_name[name]
        position = node.get("position") if isinstance(node.get("position"), list) else [0, 0]
        n8n_meta: dict[str, Any] = {
            key: node[key]
            for key in ("id", "type", "typeVersion", "parameters", "credentials", "webhookId", "notes")
            if key in node
        }
        on_error = {"continueRegularOutput": "continue", "continueErrorOutput": "error_output"}.get(
            str(node.get("onError")), "continue" if node.get("continueOnFail") else None
        )
        for key in ("alwaysOutputData", "executeOnce", "onError", "continueOnFail", "notesInFlow"):
            if node.get(key):
                n8n_meta[key] = node[key]
                if key in ("alwaysOutputData", "executeOnce") or (key == "onError" and on_error is None):
                    report.notes.append(f"setting '{key}' is not carried over")
                    if report.status == "exact":
                        report.status = "approximated"
        subs = self.subnodes.get(name)
        if subs and mapped.type not in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            n8n_meta["subnodes"] = {k: v for k, v in subs.items()}
        n8n_meta["params_digest"] = params_digest(mapped.params)
        out: dict[str, Any] = {
            "id": self.ids[name],
            "type": mapped.type,
            "name": name[:200],
            "variable_name": self.ids[name],
            "position": {"x": _num(position, 0), "y": _num(position, 1)},
            "params": mapped.params,
            "disabled": bool(node.get("disabled")),
            "meta": {
                "n8n": n8n_meta,
                "n8n_outputs": list(mapped.outputs),
                "n8n_view": _view_dict(mapped.view),
            },
        }
        if name in self.done_of:  # inserted: the export gives n8n its loop's "done" output back
            out["meta"] = {"n8n_synthetic": {"for": self.ids[self.done_of[name]], "done": True}}
        if on_error and mapped.type not in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            out["on_error"] = on_error
            if on_error == "error_output":
                report.notes.append("n8n's error output is ConnectFlow's 'error' output")
        if node.get("retryOnFail"):
            tries = node.get("maxTries", 3)
            wait_ms = node.get("waitBetweenTries", 1000)
            out["retry"] = {
                "max_retries": max(0, min(10, int(tries) - 1 if isinstance(tries, int) else 2)),
                "delay_seconds": max(
                    0.0, min(3600.0, (wait_ms if isinstance(wait_ms, int | float) else 1000) / 1000)
                ),
                "backoff": "constant",
            }
        if mapped.credential_type:
            credentials = node.get("credentials")
            n8n_cred = next(iter(credentials.values()), None) if isinstance(credentials, dict) else None
            report.credential = {
                "expected_type": mapped.credential_type,
                "n8n_credential": n8n_cred.get("name") if isinstance(n8n_cred, dict) else None,
                "action": "choose a credential",
            }
            report.notes.append(f"choose a '{mapped.credential_type}' credential")
        return out

    def _edges(self) -> list[dict[str, Any]]:
        edges: list[dict[str, Any]] = []
        seen: set[tuple[str, str | None, str]] = set()
        for source, out_index, target, in_index in self.edges_raw:
            if source not in self.mapped or target not in self.mapped:
                continue
            outputs = self.mapped[source].outputs
            handle: str | None
            if out_index >= len(outputs):
                # an output ConnectFlow's node does not have: the report says so, the node stays
                self._note(
                    source, f"connection from output {out_index} to '{target}' has no ConnectFlow output"
                )
                continue
            handle = outputs[out_index] if len(outputs) > 1 or self._branching(source) else None
            key = (self.ids[source], handle, self.ids[target])
            if key in seen:
                continue
            seen.add(key)
            target_id = self.js_ids.get(target, self.ids[target])  # through its expressions node
            edge: dict[str, Any] = {"source": self.ids[source], "target": target_id}
            if handle is not None:
                edge["source_handle"] = handle
            if in_index:
                edge["target_handle"] = f"input_{in_index}"
            edges.append(edge)
        for name, helper in self.js_ids.items():
            edges.append({"source": helper, "target": self.ids[name]})
        return edges

    def _without_cycles(self, edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """n8n loops by connecting a node back to an earlier one (Loop Over Items); a ConnectFlow
        workflow is acyclic, so each edge closing a cycle is left out and the report says which."""
        names = {self.ids[n]: n for n in self.mapped}
        names.update({v: k for k, v in self.js_ids.items()})
        for _ in range(len(edges)):
            cycle = _cycle([(e["source"], e["target"]) for e in edges])
            if cycle is None:
                return edges
            source, target = cycle[-1], cycle[0]
            edges = [e for e in edges if not (e["source"] == source and e["target"] == target)]
            self._note(
                names.get(target, target),
                f"the connection back from '{names.get(source, source)}' (an n8n loop) is left out: "
                "ConnectFlow workflows have no cycles (use a Loop node)",
            )
        return edges

    def _branching(self, name: str) -> bool:
        """Whether the ConnectFlow type has named outputs (If, Switch …): its edges name theirs."""
        try:
            return tuple(self.registry.get(self.mapped[name].type).outputs) != ("main",)
        except KeyError:
            return False

    def _note(self, name: str, note: str) -> None:
        for r in self.report.nodes:
            if r.name == name:
                r.notes.append(note)
                if r.status == "exact":
                    r.status = "approximated"

    def _respond_with_last_node(self, nodes_out: dict[str, dict[str, Any]]) -> None:
        """A webhook answering with n8n's "last node": ConnectFlow names that node (``response_node``)
        when there is exactly one node at the end of the graph."""
        for name, node in nodes_out.items():
            if node["type"] != "trigger.webhook" or node["params"].get("response_mode") != "after_run":
                continue
            reachable, frontier = set(), [name]
            while frontier:
                current = frontier.pop()
                for source, _, target, _ in self.edges_raw:
                    if source == current and target not in reachable and target in nodes_out:
                        reachable.add(target)
                        frontier.append(target)
            sinks = [n for n in reachable if not any(s == n for s, _, _, _ in self.edges_raw)]
            if len(sinks) == 1:
                node["params"]["response_node"] = self.ids[sinks[0]]
                node["meta"]["n8n"]["params_digest"] = params_digest(node["params"])
            else:
                self._note(name, "answers with the whole run context (n8n: the last node's item)")


_COLORS = {1: "yellow", 2: "yellow", 3: "pink", 4: "green", 5: "blue", 6: "purple", 7: "gray"}


def _note(sticky: dict[str, Any], i: int) -> dict[str, Any]:
    params = sticky.get("parameters") if isinstance(sticky.get("parameters"), dict) else {}
    assert isinstance(params, dict)
    position = sticky.get("position") if isinstance(sticky.get("position"), list) else [0, 0]
    assert isinstance(position, list)

    def size(key: str, default: float) -> float:
        value = params.get(key, default)
        return min(4000.0, max(40.0, float(value))) if isinstance(value, int | float) else default

    return {
        "id": f"note_{i + 1}",
        "text": str(params.get("content", ""))[:20_000],
        "position": {"x": _num(position, 0), "y": _num(position, 1)},
        "size": {"width": size("width", 240.0), "height": size("height", 160.0)},
        "color": _COLORS.get(params.get("color", 1), "yellow"),
    }


def _cycle(pairs: list[tuple[str, str]]) -> list[str] | None:
    """The nodes of one cycle (in edge order) among ``pairs``, or None; iterative."""
    graph: dict[str, list[str]] = {}
    for a, b in pairs:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    state: dict[str, int] = {}
    for root in graph:
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            if i < len(graph[node]):
                stack.append((node, i + 1))
                nxt = graph[node][i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt) :]
                if nxt not in state:
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def _view_dict(view: View) -> dict[str, Any]:
    return {
        "kind": view.kind,
        "prefix": list(view.prefix),
        "renames": [[list(a), list(b)] for a, b in view.renames],
        "keys": list(view.keys),
    }


def _num(position: list[Any], i: int) -> float:
    try:
        value = position[i]
        return float(value) if isinstance(value, int | float) else 0.0
    except IndexError:
        return 0.0


def _version(node: dict[str, Any]) -> float:
    value = node.get("typeVersion", 1)
    return float(value) if isinstance(value, int | float) else 1.0


def _looks_like_trigger(n8n_type: str) -> bool:
    local = n8n_type.rsplit(".", 1)[-1]
    return local.endswith("Trigger") or local in ("webhook", "cron", "start", "interval", "formTrigger")


def _expressions_in(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _expressions_in(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _expressions_in(v, f"{path}.{i}")]
    if is_expression(value) and re.search(r"\{\{", value):
        return [(path, value)]
    return []
