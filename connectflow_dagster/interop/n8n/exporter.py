"""ConnectFlow workflows → n8n workflow JSON (``export_n8n``), and the product's own format.

Per node: a placeholder gives back its n8n type and parameters; a node imported from n8n and not
edited since (its params digest matches) gives back its original n8n node (type, typeVersion,
parameters, credentials, id); any other node goes through its family's exporter, whose templates
are written as n8n expressions (``{{ fetch.data.x }}`` → ``={{ $('Fetch').item.json.x }}``). A
node type without an n8n equivalent becomes a Stop and Error node that says so (never dropped), and
the export report lists it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes

from connectflow_dagster.interop.n8n import mappers
from connectflow_dagster.interop.n8n.importer import PLACEHOLDER, PLACEHOLDER_TRIGGER, params_digest
from connectflow_dagster.interop.n8n.mappers.base import IDENTITY, ExportContext, View
from connectflow_dagster.spec import Node, Workflow
from connectflow_dagster.templates import is_template

_ENV = Environment(autoescape=True)  # parsing only: nothing is ever rendered with it


@dataclass
class ExportReport:
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {name, type, status, note}
    expressions: list[dict[str, Any]] = field(default_factory=list)  # not written as n8n expressions

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "expressions": self.expressions}


class _NotExpressible(Exception):
    pass


def export_n8n(workflow: Workflow, report: ExportReport | None = None) -> dict[str, Any]:
    """The n8n workflow JSON of ``workflow`` (``report`` collects what could not be exported)."""
    return _Exporter(workflow, report or ExportReport()).run()


def export_connectflow(workflow: Workflow) -> dict[str, Any]:
    """The product's own format: the workflow document ``connectflow run`` and the API accept."""
    return workflow.model_dump(mode="json", exclude_defaults=False)


def _view_of(node: Node, original: bool) -> View:
    saved = node.meta.get("n8n_view") if original else None
    if isinstance(saved, dict):
        return View(
            kind=saved.get("kind", "identity"),
            prefix=tuple(saved.get("prefix", ())),
            renames=tuple((tuple(a), tuple(b)) for a, b in saved.get("renames", ())),
            keys=tuple(saved.get("keys", ())),
        )
    return mappers.EXPORT_VIEWS.get(node.type, IDENTITY)


class _Exporter:
    def __init__(self, workflow: Workflow, report: ExportReport):
        self.wf = workflow
        self.report = report
        self.by_var = {n.variable_name: n for n in workflow.nodes}
        self.names: dict[str, str] = {n.id: n.name for n in workflow.nodes}
        self.original = {n.id: self._is_original(n) for n in workflow.nodes}
        self.outputs: dict[str, list[str]] = {}
        self.extra_nodes: list[dict[str, Any]] = []
        self.extra_connections: list[tuple[str, str, int, str, int]] = []
        self.per_item = self._per_item_nodes()

    def _per_item_nodes(self) -> set[str]:
        """Nodes after a Loop (and before its Aggregate): n8n pairs their items."""
        found: set[str] = set()
        frontier = [
            e.target for e in self.wf.edges for n in self.wf.nodes if n.id == e.source and n.type == "loop"
        ]
        while frontier:
            current = frontier.pop()
            if current in found:
                continue
            found.add(current)
            if any(n.id == current and n.type == "aggregate" for n in self.wf.nodes):
                continue
            frontier.extend(e.target for e in self.wf.edges if e.source == current)
        return found

    @staticmethod
    def _is_original(node: Node) -> bool:
        n8n = node.meta.get("n8n")
        return (
            isinstance(n8n, dict)
            and isinstance(n8n.get("type"), str)
            and n8n.get("params_digest") == params_digest(node.params)
        )

    # ---- templates → n8n expressions ---------------------------------------------------------

    def expression(self, node: Node):  # type: ignore[no-untyped-def]
        def convert(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            if not isinstance(value, str):
                return value
            if not is_template(value):
                return "={{ " + json.dumps(value) + " }}" if value.startswith("=") else value
            try:
                return self._template(value)
            except (_NotExpressible, TemplateSyntaxError) as exc:
                self.report.expressions.append({"node": node.name, "template": value, "reason": str(exc)})
                return value

        return convert

    def _template(self, source: str) -> str:
        tree = _ENV.parse(source)
        if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
            raise _NotExpressible("template statements ({% … %}) have no n8n equivalent")
        parts = tree.body[0].nodes
        if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
            return "={{ " + self._js(parts[0]) + " }}"
        out = []
        for part in parts:
            if isinstance(part, nodes.TemplateData):
                out.append(part.data)
            else:
                out.append("{{ " + self._js(part, text=True) + " }}")
        return "=" + "".join(out)

    def _js(self, node: nodes.Node, text: bool = False) -> str:
        if isinstance(node, nodes.Const):
            return json.dumps(node.value)
        if isinstance(node, nodes.Filter):
            inner = self._js(node.node)  # type: ignore[arg-type]
            if node.name == "js_string":
                return inner if text else f"String({inner})"
            if node.name in ("js_json", "json", "tojson") and not node.args:
                return f"JSON.stringify({inner})"
            if (
                node.name == "join"
                and len(node.args) <= 1
                and all(isinstance(a, nodes.Const) for a in node.args)
            ):
                separator = node.args[0].value if node.args else ""  # type: ignore[attr-defined]
                return f"{inner}.join({json.dumps(separator)})"
            if node.name == "length":
                return f"{inner}.length"
            if node.name in ("upper", "lower"):
                return f"{inner}.to{node.name.title()}Case()"
            if node.name == "trim":
                return f"{inner}.trim()"
            raise _NotExpressible(f"the '{node.name}' filter has no n8n equivalent here")
        if isinstance(node, nodes.Concat):
            return "(" + " + ".join(f"String({self._js(n)})" for n in node.nodes) + ")"
        if isinstance(node, nodes.BinExpr) and node.operator in ("+", "-", "*", "/"):
            return f"({self._js(node.left)} {node.operator} {self._js(node.right)})"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1:
            op = {"eq": "===", "ne": "!==", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<="}.get(
                node.ops[0].op
            )
            if op:
                return f"({self._js(node.expr)} {op} {self._js(node.ops[0].expr)})"
        if isinstance(node, nodes.Dict):
            return "{" + ", ".join(f"{self._js(p.key)}: {self._js(p.value)}" for p in node.items) + "}"
        if isinstance(node, nodes.List):
            return "[" + ", ".join(self._js(n) for n in node.items) + "]"
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and not node.args:
            method = {"upper": "toUpperCase", "lower": "toLowerCase", "strip": "trim"}.get(node.node.attr)
            if method:
                return f"{self._js(node.node.node)}.{method}()"
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            return self._reference(node)
        raise _NotExpressible(f"'{type(node).__name__}' has no n8n expression equivalent here")

    def _reference(self, node: nodes.Node) -> str:
        path: list[str | int] = []
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            if isinstance(node, nodes.Getattr):
                path.append(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
                path.append(node.arg.value)
            else:
                raise _NotExpressible("a computed index")
            node = node.node
        if not isinstance(node, nodes.Name) or node.name not in self.by_var:
            raise _NotExpressible(f"'{getattr(node, 'name', '?')}' is not a node's output")
        target = self.by_var[node.name]
        path.reverse()
        view = _view_of(target, self.original[target.id])
        mapped = view.unmap(tuple(path))
        if mapped is None:
            raise _NotExpressible(f"'{'.'.join(map(str, path))}' of '{target.name}' has no n8n equivalent")
        # ``.first()`` is a ConnectFlow output (one per run); per-item nodes (after a Loop) pair by item
        accessor = "item" if target.id in self.per_item else "first()"
        out = f"$({json.dumps(target.name)}).{accessor}.json"
        for part in mapped:
            out += (
                f"[{part}]"
                if isinstance(part, int)
                else (f".{part}" if str(part).isidentifier() else f"[{json.dumps(part)}]")
            )
        return out

    # ---- nodes -----------------------------------------------------------------------------------

    def _node(self, node: Node) -> dict[str, Any]:
        n8n = node.meta.get("n8n") if isinstance(node.meta.get("n8n"), dict) else {}
        assert isinstance(n8n, dict)
        out: dict[str, Any] = {
            "id": n8n.get("id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow:{self.wf.id}:{node.id}")),
            "name": node.name,
            "position": [int(node.position.x), int(node.position.y)],
        }
        outputs = node.meta.get("n8n_outputs")
        if node.type in (PLACEHOLDER, PLACEHOLDER_TRIGGER):
            out.update(
                type=node.params.get("n8n_type", "n8n-nodes-base.noOp"),
                typeVersion=_int_if_whole(n8n.get("typeVersion", node.params.get("n8n_type_version", 1))),
                parameters=n8n.get("parameters", {}),
            )
            status = "kept"
        elif self.original[node.id]:
            out.update(
                type=n8n["type"], typeVersion=n8n.get("typeVersion", 1), parameters=n8n.get("parameters", {})
            )
            status = "original"
        else:
            fn = mappers.EXPORTERS.get(node.type)
            try:
                result = fn(node, ExportContext(self.expression(node))) if fn else None
            except (TypeError, ValueError, AttributeError, KeyError, IndexError):
                result = None  # params that do not fit their type (a saved draft): said below, not a crash
            if result is None:
                out.update(
                    type="n8n-nodes-base.stopAndError",
                    typeVersion=1,
                    parameters={
                        "errorMessage": f"ConnectFlow node type '{node.type}' has no n8n equivalent"
                        if fn is None
                        else f"ConnectFlow node '{node.name}' could not be exported: its params do not fit '{node.type}'"
                    },
                )
                self.report.nodes.append({"name": node.name, "type": node.type, "status": "unsupported"})
                self.outputs[node.id] = ["main"]
                return out
            n8n_type, version, parameters = result
            out.update(type=n8n_type, typeVersion=_int_if_whole(version), parameters=parameters)
            status = "mapped"
            outputs = None
            if node.type == "trigger.manual" and node.params.get("default_input"):
                out = self._manual_with_input(node, out)
        self.report.nodes.append({"name": node.name, "type": node.type, "status": status})
        if isinstance(outputs, list) and outputs:
            self.outputs[node.id] = [str(o) for o in outputs]
        else:
            self.outputs[node.id] = _cf_outputs(node.type)
        for key in (
            "credentials",
            "webhookId",
            "notes",
            "alwaysOutputData",
            "executeOnce",
            "onError",
            "continueOnFail",
        ):
            if key in n8n and (status != "mapped" or key == "credentials"):
                out[key] = n8n[key]
        if status == "mapped" and node.on_error != "stop":
            out["onError"] = "continueRegularOutput" if node.on_error == "continue" else "continueErrorOutput"
        if node.type == "trigger.webhook" and "webhookId" not in out:
            out["webhookId"] = str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow-webhook:{self.wf.id}:{node.id}")
            )
        if node.disabled:
            out["disabled"] = True
        if node.retry and node.retry.max_retries:
            out.update(
                retryOnFail=True,
                maxTries=min(5, node.retry.max_retries + 1),
                waitBetweenTries=int(min(5.0, node.retry.delay_seconds) * 1000),
            )
        if status == "original":
            for kind, subs in (n8n.get("subnodes") or {}).items():
                for sub in subs:
                    self.extra_nodes.append(sub)
                    self.extra_connections.append((sub["name"], kind, 0, node.name, 0))
        return out

    def _manual_with_input(self, node: Node, trigger: dict[str, Any]) -> dict[str, Any]:
        """n8n's manual trigger has no input: the default input becomes a Set (JSON mode) named like
        the ConnectFlow trigger, after a manual trigger, so references to it read the same data."""
        trigger_name = f"{node.name} (trigger)"
        trigger = {
            **trigger,
            "name": trigger_name,
            "position": [int(node.position.x) - 200, int(node.position.y)],
        }
        self.extra_nodes.append(trigger)
        self.extra_connections.append((trigger_name, "main", 0, node.name, 0))
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow-input:{self.wf.id}:{node.id}")),
            "name": node.name,
            "position": [int(node.position.x), int(node.position.y)],
            "type": "n8n-nodes-base.set",
            "typeVersion": 3.4,
            "parameters": {
                "mode": "raw",
                "jsonOutput": json.dumps(node.params["default_input"], indent=2),
                "options": {},
            },
        }

    def _notes(self, n8n_meta: dict[str, Any]) -> list[dict[str, Any]]:
        """Sticky notes: the imported n8n note updated with the note's text, place and size."""
        originals = list(n8n_meta.get("sticky_notes") or [])
        out = []
        for i, note in enumerate(self.wf.notes):
            number = note.id.removeprefix("note_")
            index = int(number) - 1 if note.id.startswith("note_") and number.isdigit() else -1
            base: dict[str, Any] = (
                originals[index]
                if 0 <= index < len(originals)
                else {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"connectflow-note:{self.wf.id}:{note.id}")),
                    "name": f"Sticky Note {i + 1}" if i else "Sticky Note",
                    "type": "n8n-nodes-base.stickyNote",
                    "typeVersion": 1,
                    "parameters": {},
                }
            )
            params = dict(base["parameters"]) if isinstance(base.get("parameters"), dict) else {}
            params["content"] = note.text
            for key, value in (("width", note.size.width), ("height", note.size.height)):
                if params.get(key) != value:
                    params[key] = int(value) if float(value).is_integer() else value
            position = [int(v) if float(v).is_integer() else v for v in (note.position.x, note.position.y)]
            out.append({**base, "parameters": params, "position": position})
        return out

    def run(self) -> dict[str, Any]:
        # an n8n.expressions node the importer inserted is part of the node after it: n8n evaluates
        # those expressions itself (the node after it is exported with its n8n expressions)
        synthetic = {
            n.id: str(n.meta["n8n_synthetic"].get("for"))
            for n in self.wf.nodes
            if isinstance(n.meta.get("n8n_synthetic"), dict)
        }
        # a Loop Over Items' "done" Aggregate: what leaves it leaves the loop's "done" output
        done = {
            n.id
            for n in self.wf.nodes
            if isinstance(n.meta.get("n8n_synthetic"), dict) and n.meta["n8n_synthetic"].get("done")
        }
        out_nodes = [self._node(n) for n in self.wf.nodes if n.id not in synthetic]
        connections: dict[str, dict[str, list[list[dict[str, Any]]]]] = {}

        def connect(source: str, kind: str, index: int, target: str, target_index: int) -> None:
            outputs = connections.setdefault(source, {}).setdefault(kind, [])
            while len(outputs) <= index:
                outputs.append([])
            outputs[index].append({"node": target, "type": kind, "index": target_index})

        for edge in self.wf.edges:
            if edge.source in done:
                edge = edge.model_copy(update={"source": synthetic[edge.source], "source_handle": "done"})
            elif edge.source in synthetic:
                continue
            if edge.target in synthetic:
                edge = edge.model_copy(update={"target": synthetic[edge.target]})
            handles = self.outputs.get(edge.source, ["main"])
            index = handles.index(edge.source_handle) if edge.source_handle in handles else 0
            target_index = 0
            if edge.target_handle and edge.target_handle.startswith("input_"):
                try:
                    target_index = int(edge.target_handle.removeprefix("input_"))
                except ValueError:
                    target_index = 0
            connect(self.names[edge.source], "main", index, self.names[edge.target], target_index)
        for source, kind, index, target, target_index in self.extra_connections:
            connect(source, kind, index, target, target_index)
        n8n_meta = self.wf.meta.get("n8n") if isinstance(self.wf.meta.get("n8n"), dict) else {}
        assert isinstance(n8n_meta, dict)
        settings = dict(n8n_meta.get("settings") or {"executionOrder": "v1"})
        if self.wf.settings.timezone != "UTC":
            settings["timezone"] = self.wf.settings.timezone
        document: dict[str, Any] = {
            "name": self.wf.name,
            "nodes": out_nodes + self.extra_nodes + self._notes(n8n_meta),
            "connections": connections,
            "settings": settings,
            "pinData": {},
        }
        for key in ("id", "tags", "meta"):
            if key in n8n_meta:
                document[key] = n8n_meta[key]
        return document


def _cf_outputs(cf_type: str) -> list[str]:
    from connectflow_dagster.registry import get_registry

    try:
        return list(get_registry().get(cf_type).outputs)
    except KeyError:
        return ["main"]


def _int_if_whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value
