"""Lists of items: where a Loop or a Filter finds its list, and how many items it may hold.

``items`` params take a template (``{{ fetch_orders.data.orders }}``; a lone path like this one is
looked up directly, so no template size limit applies to a long list), a path into the context
(``fetch_orders.data.orders``) or a literal JSON list. The node renders it itself (``deferred_params``). Every list is bounded by ``CONNECTFLOW_ITEMS_MAX`` (docs/items.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectflow_dagster.errors import NonRetriableNodeError, TemplateError
from connectflow_dagster.templates import is_template, render

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def lookup_path(context: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (``a.b.0.c`` or ``a.b[0].c``) in ``context``; a clear error when absent."""
    parts = [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PART.finditer(path)]
    if not parts or not re.fullmatch(r"[A-Za-z0-9_.\[\]\- ]+", path):
        raise NonRetriableNodeError(
            f"'{path}' is neither a template nor a path like fetch_orders.data.orders"
        )
    value: Any = context
    walked: list[str] = []
    for part in parts:
        if isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and (isinstance(part, int) or str(part).isdigit()):
            index = int(part)
            if index >= len(value):
                raise NonRetriableNodeError(
                    f"path '{path}': {'.'.join(walked) or 'the context'} has {len(value)} items, no item {index}"
                )
            value = value[index]
        else:
            where = ".".join(walked) or "the context"
            if isinstance(value, Mapping):
                known = ", ".join(sorted(map(str, value))[:20]) or "none"
                raise NonRetriableNodeError(f"path '{path}': {where} has no field '{part}' (fields: {known})")
            raise NonRetriableNodeError(f"path '{path}': {where} is {_kind(value)}, it has no field '{part}'")
        walked.append(str(part))
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def items_limit(own: int | None = None) -> int:
    """The most items a list may hold: the node's own ``max_items``, never above CONNECTFLOW_ITEMS_MAX."""
    from connectflow_dagster.config import get_settings

    ceiling = get_settings().items_max
    return min(own, ceiling) if own else ceiling


_LONE_PATH = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[\d+\])*)\s*\}\}$")


def resolve_items(
    value: Any, context: Mapping[str, Any], *, limit: int, what: str = "items", node_id: str | None = None
) -> list[Any]:
    """The list ``value`` names, checked to be a list of at most ``limit`` items: a template
    (``{{ orders.data }}``: a lone path is looked up directly, so the template size limit does not
    apply to a long list; anything else is rendered), a path, or a literal list."""
    described = "the value"
    if isinstance(value, str):
        described = f"'{value}'"
        lone = _LONE_PATH.match(value.strip())
        if lone is not None:
            value = lookup_path(context, lone.group(1))
        elif is_template(value):
            try:
                value = render(value, context, node_id=node_id, field=f"params.{what}")
            except TemplateError as exc:
                raise NonRetriableNodeError(str(exc)) from None
        else:
            value = lookup_path(context, value.strip())
    if not isinstance(value, list):
        hint = ""
        if isinstance(value, Mapping):
            lists = [k for k, v in value.items() if isinstance(v, list)]
            hint = f" (its list fields: {', '.join(map(str, lists[:10]))})" if lists else ""
        raise NonRetriableNodeError(f"{what}: {described} is {_kind(value)}, not a list{hint}")
    if len(value) > limit:
        raise NonRetriableNodeError(
            f"{what}: the list has {len(value):,} items, more than the limit of {limit:,} "
            "(the node's max_items, at most CONNECTFLOW_ITEMS_MAX)"
        )
    return value
