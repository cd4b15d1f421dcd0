"""A form generated from a JSON Schema (a node's params model, a credential type's fields).

The schema comes from the node's pydantic model through ``GET /api/node-types``; nothing here
describes a node by hand. Each property becomes one widget; structured values (dicts, lists, free
JSON) are edited as JSON text and only reach ``value`` once they parse.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

__all__ = ["FieldSpec", "SchemaForm", "field_specs"]

# What a JSON field also takes as a plain string (never valid JSON, so never ambiguous): one
# template (``{{ orders.data }}``: a Loop's items) or a path into the context (``orders.data``).
_LONE_TEMPLATE = re.compile(r"^\{\{.*\}\}$", re.S)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+|\[\d+\])+$")


class FieldSpec(param.Parameterized):
    """One form field derived from a schema property."""

    name = param.String()
    label = param.String()
    kind = param.Selector(
        objects=["text", "code", "secret", "select", "boolean", "integer", "number", "json"]
    )
    options = param.List(default=[])
    required = param.Boolean(default=False)
    description = param.String(default="")
    default = param.Parameter(default=None)


CODE_CSS = "textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }"


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and drop the ``null`` branch of an Optional ``anyOf``."""
    if "$ref" in prop:
        ref = defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
        prop = {**ref, **{k: v for k, v in prop.items() if k != "$ref"}}
    for key in ("anyOf", "oneOf"):
        if key in prop:
            options = [p for p in prop[key] if p.get("type") != "null"]
            if len(options) == 1:
                merged = {**prop, **_resolve(options[0], defs)}
                merged.pop(key, None)
                return merged
    return prop


def _kind(prop: dict[str, Any]) -> tuple[str, list[Any]]:
    if "enum" in prop:
        return "select", list(prop["enum"])
    if "const" in prop:
        return "select", [prop["const"]]
    kind = prop.get("type")
    if kind == "string":
        if prop.get("format") == "password" or prop.get("writeOnly"):
            return "secret", []
        if prop.get("format") == "code":  # a code node's source: a monospace editor, not a template
            return "code", []
        return "text", []
    if kind == "boolean":
        return "boolean", []
    if kind == "integer":
        return "integer", []
    if kind == "number":
        return "number", []
    return "json", []


def field_specs(schema: dict[str, Any] | None) -> list[FieldSpec]:
    """The form fields of a JSON Schema object, in declaration order."""
    if not schema:
        return []
    defs = schema.get("$defs", schema.get("definitions", {}))
    required = set(schema.get("required", []))
    specs = []
    for name, raw in (schema.get("properties") or {}).items():
        prop = _resolve(raw, defs)
        kind, options = _kind(prop)
        specs.append(
            FieldSpec(
                name=name,
                label=prop.get("title") or name.replace("_", " ").capitalize(),
                kind=kind,
                options=options,
                required=name in required,
                description=prop.get("description", ""),
                default=prop.get("default"),
            )
        )
    return specs


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False)


class SchemaForm(Viewer):
    """Widgets for every property of ``schema``; ``value`` holds the parsed values.

    ``errors`` maps a field name to a message while its text does not parse (the last good value
    stays in ``value``). Secrets start empty and are never filled from ``value``.
    """

    schema = param.Dict(default={}, doc="JSON Schema of an object.")
    value = param.Dict(default={}, doc="Current values, keyed by property name.")
    errors = param.Dict(default={}, doc="Field name → why its text is not a valid value.")
    template_fields = param.Boolean(default=True, doc="Text fields accept {{ templates }}.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._widgets: dict[str, Any] = {}
        self._specs = field_specs(self.schema)
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["cf-schema-form"])
        self._build()

    @property
    def widgets(self) -> dict[str, Any]:
        return dict(self._widgets)

    def _build(self) -> None:
        rows = []
        for spec in self._specs:
            widget = self._widget_for(spec)
            self._widgets[spec.name] = widget
            rows.append(widget)
            if spec.description:
                rows.append(
                    pn.pane.HTML(
                        f'<div class="cf-hint">{html.escape(spec.description)}</div>',
                        sizing_mode="stretch_width",
                        margin=(-6, 10, 4, 10),
                    )
                )
        self._layout[:] = rows

    def _widget_for(self, spec: FieldSpec) -> Any:
        current = self.value.get(spec.name, spec.default)
        label = spec.label + (" *" if spec.required else "")
        common = {"name": label, "sizing_mode": "stretch_width", "css_classes": [f"cf-field-{spec.name}"]}
        if spec.kind == "select":
            options = list(spec.options)
            widget = pn.widgets.Select(
                options=options, value=current if current in options else options[0], **common
            )
        elif spec.kind == "boolean":
            widget = pn.widgets.Checkbox(value=bool(current), **{**common, "sizing_mode": None})
        elif spec.kind == "secret":
            widget = pn.widgets.PasswordInput(value="", placeholder="(write-only)", **common)
        elif spec.kind in ("integer", "number") and not (isinstance(current, str) and "{{" in current):
            cls = pn.widgets.IntInput if spec.kind == "integer" else pn.widgets.FloatInput
            widget = cls(value=current if isinstance(current, int | float) else None, **common)
        elif spec.kind == "code":
            widget = pn.widgets.TextAreaInput(
                value="" if current is None else str(current),
                rows=10,
                auto_grow=True,
                max_rows=30,
                stylesheets=[CODE_CSS],
                **common,
            )
        elif spec.kind == "json":
            widget = pn.widgets.TextAreaInput(
                value=_json_text(current), placeholder="JSON", auto_grow=True, max_rows=12, rows=3, **common
            )
        else:
            widget = pn.widgets.TextInput(
                value="" if current is None else str(current),
                placeholder="text or {{ template }}" if self.template_fields else "",
                **common,
            )
        watch = "value_input" if hasattr(widget, "value_input") else "value"
        widget.param.watch(lambda event, spec=spec: self._on_change(spec, event.new), watch)
        return widget

    def _on_change(self, spec: FieldSpec, raw: Any) -> None:
        errors = dict(self.errors)
        errors.pop(spec.name, None)
        value = dict(self.value)
        if spec.kind == "json":
            text = (raw or "").strip()
            if not text:
                value.pop(spec.name, None)
            else:
                try:
                    value[spec.name] = json.loads(text)
                except ValueError as exc:
                    if _LONE_TEMPLATE.match(text) or _PATH.match(text):
                        value[spec.name] = text  # {{ orders.data }} or orders.data: a string, unquoted
                    else:
                        errors[spec.name] = f"not valid JSON: {exc}"
        elif spec.kind == "secret":
            if raw:
                value[spec.name] = raw
            else:
                value.pop(spec.name, None)
        elif spec.kind in ("text", "code"):
            if raw == "" and not spec.required:
                value.pop(spec.name, None)
            else:
                value[spec.name] = raw
        elif raw is None:
            value.pop(spec.name, None)
        else:
            value[spec.name] = raw
        self.param.update(value=value, errors=errors)

    def __panel__(self) -> Any:
        return self._layout
