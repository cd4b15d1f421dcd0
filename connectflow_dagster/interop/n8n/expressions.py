"""n8n expressions (``={{ … }}``) → ConnectFlow templates, where the translation is exact.

An n8n parameter value that starts with ``=`` is a template: text with ``{{ js }}`` parts. Each part
is parsed (``js.py``) and translated when every construct in it has a template equivalent with the
same result: references to item data (``$json.x``, ``$('Node').item.json.x``, ``.first()``,
``$node["Node"].json.x``, ``$input.item.json.x``) become references to the ConnectFlow node's output
through that node's *view* (how its n8n item maps onto its ConnectFlow output, declared by its
mapper), string concatenation and template literals become ``~`` with JavaScript's ``String()``
(``js_string``), ``JSON.stringify`` becomes ``js_json``, a handful of string methods their
equivalents. Anything else (truthiness-dependent operators, ``$now``, arrow functions, a field the
view cannot name …) raises ``Untranslatable`` with the reason, and the caller decides: evaluate it
as JavaScript, or keep the node as a placeholder. Nothing is translated approximately.

Known, documented difference of a *translated* reference: a field missing from the data fails the
node naming the variable, where n8n would continue with ``undefined``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectflow_dagster.interop.n8n.js import JsSyntaxError, parse, split_template


class Untranslatable(Exception):
    """An expression (or part) with no exact template equivalent; ``str()`` says why."""


@dataclass(frozen=True)
class Ref:
    """A resolved data reference: the n8n node whose output item is read (None: the current node's
    input) and the property path read from its ``json``."""

    node: str | None
    path: tuple[str | int, ...]


# Resolves a Ref to a Jinja expression naming the ConnectFlow value (raises Untranslatable).
Resolver = Callable[[Ref], str]

_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DICT_NAMES = set(dir({})) | set(dir("")) | set(dir([]))


def jinja_path(variable: str, path: tuple[str | int, ...] | list[str | int]) -> str:
    """``variable.key['odd key'][0]``: attribute syntax only where Jinja cannot mistake it for a
    method of dict/str/list (``items``, ``keys`` …)."""
    out = variable
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SAFE_KEY.match(part) and part not in _DICT_NAMES:
            out += f".{part}"
        else:
            out += f"[{literal(part)}]"
    return out


def literal(text: str) -> str:
    """A Jinja string literal for ``text``."""
    return json.dumps(text, ensure_ascii=False)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")


def escape_text(text: str) -> str:
    """Literal text that ConnectFlow must not read as a template."""
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return text
    return "{{ " + literal(text) + " }}"


@dataclass
class Translation:
    value: Any
    # "literal": no expression; "translated": an exact template
    status: str


# Evaluates one ``{{ … }}`` part as JavaScript instead: returns a Jinja expression naming its result
# (raises Untranslatable when that is not possible either).
Fallback = Callable[[str], str]


def translate_value(value: Any, resolve: Resolver, fallback: Fallback | None = None) -> Translation:
    """One n8n parameter value → its ConnectFlow value. Each ``{{ … }}`` part is translated to a
    template when that is exact, else handed to ``fallback`` (status "js"); raises Untranslatable
    when neither can."""
    if not is_expression(value):
        if isinstance(value, str):
            return Translation(escape_text(value), "literal")
        return Translation(value, "literal")
    try:
        parts = split_template(value[1:])
    except JsSyntaxError as exc:
        raise Untranslatable(f"cannot read the expression: {exc}") from None
    js_parts = [p for p in parts if p[0] == "js"]
    if not js_parts:  # "=plain text": n8n reads it as text
        return Translation(escape_text(value[1:]), "translated")
    used_js = False

    done: dict[str, tuple[str, str]] = {}

    def part(source: str) -> tuple[str, str]:
        nonlocal used_js
        if source not in done:
            try:
                done[source] = translate_js(source, resolve)
            except Untranslatable:
                if fallback is None:
                    raise
                used_js = True
                done[source] = (fallback(source.strip()), "any")
        return done[source]

    status = lambda: "js" if used_js else "translated"  # noqa: E731
    if len(parts) == 1:  # a lone {{ … }} keeps its type in n8n and in ConnectFlow
        try:
            tree = parse(parts[0][1])
            result = _structured(tree, _Translator(resolve))
        except (JsSyntaxError, Untranslatable) as exc:
            if fallback is None:
                if isinstance(exc, JsSyntaxError):
                    raise Untranslatable(f"not a JavaScript expression the importer reads: {exc}") from None
                raise
            used_js = True
            result = "{{ " + fallback(parts[0][1].strip()) + " }}"
        return Translation(result, status())
    out: list[str] = []
    for kind, text in parts:
        if kind == "text":
            out.append(escape_text(text))
            continue
        source, typ = part(text)
        out.append("{{ " + (source if typ == "str" else f"{source} | js_string") + " }}")
    joined = "".join(out)
    if not joined.strip().startswith("{{") or not joined.strip().endswith("}}") or joined.count("{{") > 1:
        return Translation(joined, status())
    # Text around one expression is only whitespace: ConnectFlow would read it as a lone expression
    # and drop the whitespace, so write it as one concatenation.
    pieces = [literal(text) if kind == "text" else f"({part(text)[0]} | js_string)" for kind, text in parts]
    return Translation("{{ " + " ~ ".join(pieces) + " }}", status())


def _structured(tree: tuple, translator: _Translator) -> Any:
    """An object or array literal as a dict or list of lone templates (readable, same values);
    anything else as one lone template."""
    if tree[0] == "obj":
        return {key: _structured(value, translator) for key, value in tree[1]}
    if tree[0] == "arr":
        return [_structured(value, translator) for value in tree[1]]
    if tree[0] in ("num", "bool", "null"):
        return {"num": lambda: tree[1], "bool": lambda: tree[1], "null": lambda: None}[tree[0]]()
    if tree[0] == "str":
        return escape_text(tree[1])
    return "{{ " + translator.expr(tree)[0] + " }}"


def translate_js(source: str, resolve: Resolver) -> tuple[str, str]:
    """A JavaScript expression → (Jinja expression, static type: str/num/bool/null/obj/arr/any)."""
    if not source.strip():
        raise Untranslatable("empty expression")
    try:
        tree = parse(source)
    except JsSyntaxError as exc:
        raise Untranslatable(f"not a JavaScript expression the importer reads: {exc}") from None
    return _Translator(resolve).expr(tree)


_METHODS_STR = {"toUpperCase": "upper", "toLowerCase": "lower", "trim": "strip"}


class _Translator:
    def __init__(self, resolve: Resolver):
        self.resolve = resolve

    def expr(self, node: tuple) -> tuple[str, str]:
        kind = node[0]
        if kind == "num":
            return repr(node[1]), "num"
        if kind == "str":
            return literal(node[1]), "str"
        if kind == "bool":
            return ("true" if node[1] else "false"), "bool"
        if kind in ("null", "undefined"):
            if kind == "undefined":
                raise Untranslatable("`undefined` has no template equivalent")
            return "none", "null"
        if kind == "paren":
            inner, typ = self.expr(node[1])
            return f"({inner})", typ
        if kind == "tmpl":
            quasis, exprs = node[1], node[2]
            pieces: list[str] = []
            for i, q in enumerate(quasis):
                if q:
                    pieces.append(literal(q))
                if i < len(exprs):
                    pieces.append(self.as_string(exprs[i]))
            return "(" + (" ~ ".join(pieces) or '""') + ")", "str"
        if kind == "obj":
            entries = ", ".join(f"{literal(k)}: {self.expr(v)[0]}" for k, v in node[1])
            return "{" + entries + "}", "obj"
        if kind == "arr":
            return "[" + ", ".join(self.expr(v)[0] for v in node[1]) + "]", "arr"
        if kind == "bin":
            return self.binary(node)
        if kind == "call":
            return self.call(node)
        if kind in ("member", "index", "ident"):
            if kind == "member" and node[2] == "length" and not node[3]:
                ref = self.try_ref(node[1])
                if ref is not None or node[1][0] in ("str", "arr", "tmpl"):
                    inner = self.resolve(ref) if ref is not None else self.expr(node[1])[0]
                    return f"({inner} | length)", "num"
            ref = self.try_ref(node)
            if ref is None:
                raise Untranslatable(f"`{describe(node)}` has no template equivalent")
            return self.resolve(ref), "any"
        if kind == "unary" and node[1] == "-" and node[2][0] == "num":
            return repr(-node[2][1]), "num"
        raise Untranslatable(f"`{describe(node)}` needs JavaScript (truthiness and operators differ)")

    def as_string(self, node: tuple) -> str:
        source, typ = self.expr(node)
        return source if typ == "str" else f"({source} | js_string)"

    def binary(self, node: tuple) -> tuple[str, str]:
        _, op, left, right = node
        if op == "+":
            ls, lt = self.expr(left)
            rs, rt = self.expr(right)
            if lt == "str" or rt == "str":
                lpart = ls if lt == "str" else f"({ls} | js_string)"
                rpart = rs if rt == "str" else f"({rs} | js_string)"
                return f"({lpart} ~ {rpart})", "str"
            if lt == "num" and rt == "num":
                return f"({ls} + {rs})", "num"
            raise Untranslatable("`+` on values of unknown type (JavaScript adds numbers but joins strings)")
        if op in ("-", "*", "/"):
            ls, lt = self.expr(left)
            rs, rt = self.expr(right)
            if lt in ("num", "any") and rt in ("num", "any"):
                return f"({ls} {op} {rs})", "num"
            raise Untranslatable(f"`{op}` on a non-number")
        if op in ("===", "!=="):
            ls, _ = self.expr(left)
            rs, _ = self.expr(right)
            return f"({ls} {'==' if op == '===' else '!='} {rs})", "bool"
        if op in ("<", ">", "<=", ">="):
            ls, lt = self.expr(left)
            rs, rt = self.expr(right)
            if "num" in (lt, rt) and {lt, rt} <= {"num", "any"}:
                return f"({ls} {op} {rs})", "bool"
        raise Untranslatable(f"`{op}` needs JavaScript (its coercions differ from templates')")

    def call(self, node: tuple) -> tuple[str, str]:
        _, callee, args, optional = node
        if optional:
            raise Untranslatable("optional call `?.()` needs JavaScript")
        if callee[0] == "member" and not callee[3]:
            target, method = callee[1], callee[2]
            if target == ("ident", "JSON") and method == "stringify" and len(args) == 1:
                return f"({self.expr(args[0])[0]} | js_json)", "str"
            if target == ("ident", "Object") and method == "keys" and len(args) == 1:
                return f"({self.expr(args[0])[0]} | list)", "arr"
            if target[0] == "ident" and target[1] in ("Math", "Number", "Date", "JSON", "Object"):
                raise Untranslatable(f"`{target[1]}.{method}` needs JavaScript")
            ref = self.try_ref(node)
            if ref is not None:  # $('Node').first().json … is a reference, not a method
                return self.resolve(ref), "any"
            base, typ = self.expr(target)
            if typ not in ("str", "any", "arr"):
                raise Untranslatable(f"`.{method}()` on a {typ}")
            if method in _METHODS_STR and not args:
                return f"{base}.{_METHODS_STR[method]}()", "str"
            if method == "toString" and not args:
                return f"({base} | js_string)", "str"
            if method == "includes" and len(args) == 1:
                return f"({self.expr(args[0])[0]} in {base})", "bool"
            if method in ("startsWith", "endsWith") and len(args) == 1:
                name = "startswith" if method == "startsWith" else "endswith"
                return f"{base}.{name}({self.expr(args[0])[0]})", "bool"
            if method == "split" and len(args) == 1 and args[0][0] == "str" and args[0][1]:
                return f"{base}.split({literal(args[0][1])})", "arr"
            if method == "join" and len(args) <= 1:
                sep = args[0] if args else ("str", ",")
                if sep[0] != "str":
                    raise Untranslatable("`.join()` with a computed separator")
                return f"({base} | map('js_string') | join({literal(sep[1])}))", "str"
            if (
                method in ("replace", "replaceAll")
                and len(args) == 2
                and args[0][0] == "str"
                and args[1][0] == "str"
                and "$" not in args[1][1]
            ):
                count = ", 1" if method == "replace" else ""
                return f"{base}.replace({literal(args[0][1])}, {literal(args[1][1])}{count})", "str"
        if callee == ("ident", "String") and len(args) == 1:
            return self.as_string(args[0]), "str"
        ref = self.try_ref(node)
        if ref is not None:
            return self.resolve(ref), "any"
        raise Untranslatable(f"`{describe(node)}` needs JavaScript")

    # ---- references --------------------------------------------------------------------------

    def try_ref(self, node: tuple) -> Ref | None:
        """The data reference ``node`` spells, or None when it is not one."""
        path: list[str | int] = []
        while True:
            kind = node[0]
            if kind == "member":
                if node[3]:
                    raise Untranslatable(
                        "optional chaining `?.` needs JavaScript (a missing value is not an error there)"
                    )
                if node[2] == "json" and (item := self._item_of(node[1])) is not False:
                    return Ref(item, tuple(reversed(path)))  # type: ignore[arg-type]
                path.append(node[2])
                node = node[1]
            elif kind == "index":
                if node[3]:
                    raise Untranslatable("optional chaining `?.[]` needs JavaScript")
                key = node[2]
                if key[0] == "str" or (key[0] == "num" and isinstance(key[1], int) and key[1] >= 0):
                    path.append(key[1])
                else:
                    return None
                if key[0] == "str" and key[1] == "json" and (item := self._item_of(node[1])) is not False:
                    path.pop()
                    return Ref(item, tuple(reversed(path)))  # type: ignore[arg-type]
                node = node[1]
            elif kind == "ident":
                if node[1] == "$json":
                    return Ref(None, tuple(reversed(path)))
                return None
            elif kind == "paren":
                node = node[1]
            else:
                return None

    def _item_of(self, node: tuple) -> str | bool | None:
        """What single item ``node`` designates: an n8n node name (``$('X').item``, ``$('X').first()``,
        ``$node["X"]``), None for the current input (``$input.item``, ``$input.first()``), or False
        when it is not an item reference."""
        holder: tuple | None = None
        if node[0] == "member" and node[2] == "item" and not node[3]:
            holder = node[1]
        elif node[0] == "call" and not node[2] and not node[3] and node[1][0] == "member":
            if node[1][2] == "first":
                holder = node[1][1]
            elif node[1][2] == "last" and self._holder(node[1][1]) is not False:
                raise Untranslatable("`.last()` reads the last of several items: needs JavaScript")
        elif node[0] == "index" and node[1] == ("ident", "$node") and node[2][0] == "str":
            return str(node[2][1])
        elif node[0] == "member" and node[1] == ("ident", "$node") and not node[3]:
            return str(node[2])
        return False if holder is None else self._holder(holder)

    def _holder(self, node: tuple) -> str | bool | None:
        if node == ("ident", "$input"):
            return None
        if node[0] == "call" and node[1] == ("ident", "$") and len(node[2]) == 1 and node[2][0][0] == "str":
            return str(node[2][0][1])
        return False


def describe(node: tuple) -> str:
    """A short JavaScript-ish rendering of an AST node, for messages."""
    kind = node[0]
    if kind == "ident":
        return node[1]
    if kind == "member":
        return f"{describe(node[1])}{'?.' if node[3] else '.'}{node[2]}"
    if kind == "index":
        return f"{describe(node[1])}[…]"
    if kind == "call":
        return f"{describe(node[1])}(…)"
    if kind == "bin":
        return f"… {node[1]} …"
    if kind == "cond":
        return "… ? … : …"
    if kind == "unary":
        return f"{node[1]}…"
    if kind == "arrow":
        return "(…) => …"
    if kind in ("str", "num"):
        return repr(node[1])
    return kind
