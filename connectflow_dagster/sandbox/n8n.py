"""n8n's data model in the JavaScript sandbox: items, and the globals n8n code and expressions use.

An *item* is ``{"json": {...}}``. A ConnectFlow node's output becomes items with ``to_items`` (a list
is one item per element, an object one item, a scalar ``{"value": …}``); what n8n-style code returns
becomes plain JSON objects again with ``from_items``, normalised the way n8n's Code node does (a list
of items, a list of plain objects, one object).

``PRELUDE`` (JavaScript, run by ``js.evaluate`` before the user's code) defines, from the globals
``__cf_input`` (the node's input items), ``__cf_nodes`` (earlier nodes' items by node name) and
``__cf_meta`` (workflow and execution ids):

- ``$input.all()``, ``$input.first()``, ``$input.last()``, ``$input.item`` (the current item, in
  "each item" mode), ``items`` (= ``$input.all()``), ``$json`` (the current item's JSON; the first
  item's in "all items" mode), ``$itemIndex``;
- ``$('Node name')`` → ``.all()``, ``.first()``, ``.last()``, ``.item``; ``$node['Node name'].json``;
  ``$items('Node name')``; ``$workflow.id``, ``$execution.id``.

``run_code`` runs a code node's JavaScript in one of n8n's two modes; the n8n import lane evaluates
expressions with ``js.evaluate(expr, globals(...), prelude=PRELUDE, expression=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from connectflow_dagster.sandbox import js

Mode = Literal["all", "each"]
ITEM_KEYS = frozenset({"json", "binary", "pairedItem", "error", "index"})

PRELUDE = r"""
(function () {
  const input = globalThis.__cf_input || [];
  const nodes = globalThis.__cf_nodes || {};
  const meta = globalThis.__cf_meta || {};
  delete globalThis.__cf_input; delete globalThis.__cf_nodes; delete globalThis.__cf_meta;
  let current = null;  // the item index in "each item" mode
  globalThis.__cf_set_index = function (i) { current = i; };
  function accessor(label, list) {
    return {
      all: () => list,
      first: () => list[0],
      last: () => list[list.length - 1],
      get item() {
        if (current === null) return list[0];
        return list[current] !== undefined ? list[current] : list[0];
      },
      itemMatching: (i) => list[i],
      get params() { return {}; },
    };
  }
  const $input = accessor("$input", input);
  Object.defineProperty($input, "item", {
    get() {
      if (current === null) {
        throw new Error("$input.item is only available when running once for each item; use $input.first() or $input.all()");
      }
      return input[current];
    },
  });
  globalThis.$input = $input;
  globalThis.items = input;
  Object.defineProperty(globalThis, "$json", {
    get() { const it = input[current === null ? 0 : current]; return it ? it.json : {}; },
    configurable: true,
  });
  Object.defineProperty(globalThis, "$itemIndex", {
    get() { return current === null ? 0 : current; }, configurable: true,
  });
  function lookup(name) {
    if (!Object.prototype.hasOwnProperty.call(nodes, name)) {
      const known = Object.keys(nodes);
      throw new Error("no node named '" + name + "' ran before this one" +
        (known.length ? " (earlier nodes: " + known.join(", ") + ")" : ""));
    }
    return nodes[name];
  }
  globalThis.$ = function (name) { return accessor(name, lookup(String(name))); };
  globalThis.$items = function (name) { return name === undefined ? input : lookup(String(name)); };
  globalThis.$node = new Proxy({}, {
    get(_, name) {
      if (typeof name !== "string") return undefined;
      const list = lookup(name);
      const it = (current !== null && list[current]) || list[0] || { json: {} };
      return { json: it.json, data: it.json };
    },
    has(_, name) { return Object.prototype.hasOwnProperty.call(nodes, name); },
  });
  globalThis.$workflow = { id: meta.workflow_id || "", name: meta.workflow_name || "", active: true };
  globalThis.$execution = { id: meta.execution_id || "", mode: "production" };
  globalThis.$runIndex = 0;
})();
"""

# "each item": the user's code is the body of a function called once per input item; it starts on
# the wrapper's first line so error line numbers stay the user's.
_EACH_HEAD = "const __cf_fn = async function () {"
_EACH_TAIL = """
};
const __cf_out = [];
for (let __cf_i = 0; __cf_i < items.length; __cf_i++) {
  __cf_set_index(__cf_i);
  const r = await __cf_fn();
  if (r === undefined || r === null) continue;
  if (Array.isArray(r)) { for (const x of r) __cf_out.push(x); } else { __cf_out.push(r); }
}
return __cf_out;
"""


class ItemsError(js.JsResultError):
    """The code returned something that is not items (n8n: "Code doesn't return items properly")."""


def to_items(value: Any) -> list[dict[str, Any]]:
    """A ConnectFlow node output as n8n items."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_item(v) for v in value]
    return [_item(value)]


def _item(value: Any) -> dict[str, Any]:
    if _is_item(value):
        return {"json": value["json"]}
    if isinstance(value, dict):
        return {"json": value}
    return {"json": {"value": value}}


def _is_item(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("json"), dict) and set(value) <= ITEM_KEYS


def from_items(result: Any) -> list[dict[str, Any]]:
    """What the code returned → the node's output: a list of JSON objects (one per item).

    Accepted, like n8n: a list of items (``[{json: {...}}]``), a list of plain objects, one item or
    one object. ``null``/``undefined`` is no items. Anything else is an ``ItemsError``.
    """
    if result is None:
        return []
    values = result if isinstance(result, list) else [result]
    out: list[dict[str, Any]] = []
    for i, value in enumerate(values):
        if _is_item(value):
            out.append(value["json"])
        elif isinstance(value, dict):
            out.append(value)
        else:
            kind = "an array" if isinstance(value, list) else type(value).__name__.replace("str", "a string")
            raise ItemsError(
                "the code must return items: an array of objects (or of {json: {...}}) or one object; "
                f"element {i} is {kind}"
            )
    return out


def globals_for(
    input_items: list[dict[str, Any]],
    nodes: Mapping[str, list[dict[str, Any]]],
    meta: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The sandbox globals ``PRELUDE`` reads."""
    return {"__cf_input": input_items, "__cf_nodes": dict(nodes), "__cf_meta": dict(meta or {})}


def run_code(
    code: str,
    *,
    mode: Mode,
    input_items: list[dict[str, Any]],
    nodes: Mapping[str, list[dict[str, Any]]],
    meta: Mapping[str, str] | None = None,
    timeout: float = js.DEFAULT_TIMEOUT,
    memory: int = js.DEFAULT_MEMORY,
    logs: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Run n8n-style Code-node JavaScript; its returned items as a list of JSON objects
    (``logs`` receives its ``console`` output, see ``js.evaluate``)."""
    body = code if mode == "all" else _EACH_HEAD + code + _EACH_TAIL
    result = js.evaluate(
        body,
        globals_for(input_items, nodes, meta),
        timeout=timeout,
        memory=memory,
        prelude=PRELUDE,
        logs=logs,
    )
    return from_items(result)
