"""Hardened Jinja2 templates for node parameters.

``{{ stripe.raw.amount }}`` and ``{{ api_result | json }}`` render against the run context in an
``ImmutableSandboxedEnvironment``: no loader, no ``lipsum``/``cycler``/``joiner``, ``str.format``
refused, a strict undefined whose error names the node, field and missing variable. Trigger data is
only ever *context*, never template source.

Templates are written by signed-in users, so every one of them is bounded in time and memory
(issue 11, finding 3). Jinja's sandbox alone bounds neither: ``9 ** (9 ** 7)`` is one C call that
holds the GIL for seconds (and Jinja folds constant expressions *at compile time*), ``[1] * 10 ** 6``
or ``s ~ s`` allocate before anything can look at the result. So:

- every arithmetic operator is intercepted (``call_binop``), which also keeps Jinja from folding
  them at compile time; ``**`` and ``*`` check the size of the result *before* computing it
  (integers up to ``MAX_INT_BITS`` bits, strings up to ``MAX_OUTPUT_CHARS``, sequences up to
  ``MAX_ITEMS`` items), the optimizer is off;
- ``~`` concatenation, block and macro bodies (``environment.concat``), every ``{{ }}`` output
  (``finalize``), every filter and every method of ``str`` that can grow its input (``center``,
  ``replace``, ``join``, ``format`` …) check the size their result will have before producing it;
  iterators handed to filters are consumed within the same budget;
- every ``{% for %}`` iterates through a guard, every call, attribute and item access checks the
  deadline: a runaway template fails after ``MAX_RENDER_SECONDS`` with a clear error; no single
  step between two checks can run long, so it cannot stall an event loop or a lease renewal thread;
- the result is capped, a lone ``{{ expression }}`` included (its size measured like compact JSON).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment

from connectflow_dagster.errors import TemplateError

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 1024 * 1024  # rendered text, and the size of any single value a template builds
MAX_RENDER_SECONDS = 2.0
MAX_RANGE = 10_000
MAX_ITEMS = 10_000  # items one sequence multiplication may produce
MAX_INT_BITS = 4096  # ~1,233 decimal digits: far beyond any amount, far below a slow multiplication
MAX_JSON_INDENT = 16

_deadline: ContextVar[float] = ContextVar("template_deadline", default=float("inf"))


def _check_deadline() -> None:
    if time.monotonic() > _deadline.get():
        raise SecurityError(f"template took longer than {MAX_RENDER_SECONDS:g} s")


def _too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} would be larger than {MAX_OUTPUT_CHARS} characters")


def value_size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """The size of ``value`` in characters of compact JSON (roughly), counting a shared object as
    often as it occurs; the walk stops as soon as it passes ``limit`` and returns what it has."""
    total = 0
    stack = [value]
    steps = 0
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif item is None or isinstance(item, bool | float):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 1
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            if total > limit:
                return total
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total > limit:
                return total
            stack.extend(item)
        elif isinstance(item, range):
            total += 2 + 6 * len(item)
        else:
            total += 8
        if total > limit:
            return total
        steps += 1
        if steps & 4095 == 0:
            _check_deadline()
    return total


def _check_size(value: Any, what: str = "a value") -> None:
    if value_size(value) > MAX_OUTPUT_CHARS:
        raise _too_large(what)


def _bounded_list(iterable: Iterable[Any], what: str) -> list[Any]:
    """Consume an iterator within the size budget (a generator of big items must not pile up)."""
    out: list[Any] = []
    total = 0
    for item in iterable:
        _check_deadline()
        total += value_size(item) + 1
        if total > MAX_OUTPUT_CHARS:
            raise _too_large(what)
        out.append(item)
    return out


def _bounded_range(*args: int) -> Iterator[int]:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    for i, value in enumerate(rng):
        if i % 256 == 0:
            _check_deadline()
        yield value


def _guarded_iter(iterable: Any) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: a deadline check per item."""
    for item in iterable:
        _check_deadline()
        yield item


def _to_json(value: Any, indent: int | None = None) -> str:
    if indent is not None and (not isinstance(indent, int) or not 0 <= indent <= MAX_JSON_INDENT):
        raise SecurityError(f"json indent must be a number from 0 to {MAX_JSON_INDENT}")
    _check_size(value, "the JSON text")
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


def _js_json(value: Any) -> str:
    """``JSON.stringify(value)``: compact separators, as JavaScript writes it (imported n8n expressions)."""
    _check_size(value, "the JSON text")
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _js_string(value: Any) -> str:
    """``String(value)`` as JavaScript spells it: ``true``, ``null``, ``99`` for 99.0, objects as JSON
    (how n8n writes a value into text; imported n8n expressions use it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, dict | list):
        return _js_json(value)
    return str(value)


# ---- size checks made before an operation runs ------------------------------------------------------

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


def _check_printf(fmt: str, args: Any) -> None:
    """``fmt % args`` (also the ``format`` filter): widths and the number of substitutions bounded."""
    conversions = 0
    for match in _PRINTF_SPEC.finditer(fmt):
        width, precision, kind = match.groups()
        for number in (width, precision):
            if number == "*":
                raise SecurityError("'*' widths are not allowed in templates")
            if number and int(number) > MAX_OUTPUT_CHARS:
                raise _too_large("the formatted text")
        if kind != "%":
            conversions += 1
    if len(fmt) + conversions * value_size(args) > MAX_OUTPUT_CHARS:
        raise _too_large("the formatted text")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**":
        big = _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1
        if big and (left.bit_length() - 1) * right > MAX_INT_BITS:
            raise SecurityError(f"the result of ** would be larger than {MAX_INT_BITS} bits")
    elif operator == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise SecurityError(f"the result of * would be larger than {MAX_INT_BITS} bits")
            return
        count, seq = (right, left) if _is_int(right) else (left, right)
        if _is_int(count) and count > 0:
            if isinstance(seq, str | bytes):
                if len(seq) * count > MAX_OUTPUT_CHARS:
                    raise _too_large("the repeated text")
            elif isinstance(seq, list | tuple):
                if len(seq) * count > MAX_ITEMS:
                    raise SecurityError(f"a repeated sequence is limited to {MAX_ITEMS} items")
                if value_size(seq) * count > MAX_OUTPUT_CHARS:
                    raise _too_large("the repeated sequence")
    elif operator == "+":
        if isinstance(left, str | bytes) and isinstance(right, str | bytes):
            if len(left) + len(right) > MAX_OUTPUT_CHARS:
                raise _too_large("the joined text")
        elif (
            isinstance(left, list | tuple)
            and isinstance(right, list | tuple)
            and value_size(left) + value_size(right) > MAX_OUTPUT_CHARS
        ):
            raise _too_large("the joined sequence")
    elif operator == "%" and isinstance(left, str | bytes):
        _check_printf(_as_text(left), right)


def _as_text(value: Any) -> Any:
    """``bytes`` (``'x'.encode()``) measured as text: one character per byte."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _check_str_method(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Methods of ``str`` and ``bytes`` whose result can be much larger than the string itself;
    returns the arguments to call with (an iterator given to ``join`` is consumed here, within the
    budget). ``bytes`` has the same growing methods, so it is measured the same way."""
    text = _as_text(owner)
    if name in ("translate", "maketrans"):
        raise SecurityError(f"str.{name} is not allowed in templates")
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        if _is_int(width) and width > MAX_OUTPUT_CHARS:
            raise _too_large(f"the result of {name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(size) and len(text) + text.count("\t") * size > MAX_OUTPUT_CHARS:
            raise _too_large("the result of expandtabs()")
    elif name == "replace" and len(args) >= 2:
        old, new = _as_text(args[0]), _as_text(args[1])
        if isinstance(old, str) and isinstance(new, str):
            _check_replace(text, old, new, args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        parts = args[0] if isinstance(args[0], list | tuple) else _bounded_list(args[0], "the joined text")
        if value_size(parts) + len(text) * len(parts) > MAX_OUTPUT_CHARS:
            raise _too_large("the joined text")
        return (parts, *args[1:])
    return args


def _check_replace(text: str, old: str, new: str, count: Any) -> None:
    hits = text.count(old) if old else len(text) + 1
    if _is_int(count) and count is not None and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * max(len(new) - len(old), 0) > MAX_OUTPUT_CHARS:
        raise _too_large("the result of replace()")


# ---- filters: every one checks the deadline and its inputs' size; some check their growth --------------


def _filter_checks() -> dict[str, Callable[..., None]]:
    def center(value: Any, width: Any = 80) -> None:
        if _is_int(width) and width > MAX_OUTPUT_CHARS:
            raise _too_large("the centered text")

    def indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
        text = str(value)
        pad = len(width) if isinstance(width, str) else width if _is_int(width) else 0
        if len(text) + (text.count("\n") + 1) * pad > MAX_OUTPUT_CHARS:
            raise _too_large("the indented text")

    def wordwrap(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
        wrap = kwargs.get("wrapstring") or (args[1] if len(args) > 1 and args[1] else "\n")
        text = str(value)
        lines = len(text) // max(width if _is_int(width) else 1, 1) + text.count("\n") + 1
        if len(text) + lines * len(str(wrap)) > MAX_OUTPUT_CHARS:
            raise _too_large("the wrapped text")

    def format_(value: Any, *args: Any, **kwargs: Any) -> None:
        _check_printf(str(value), kwargs or args)

    def replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
        _check_replace(str(value), str(old), str(new), count)

    def batch_or_slice(value: Any, count: Any, fill_with: Any = None) -> None:
        if _is_int(count) and count > MAX_ITEMS:
            raise SecurityError(f"batch and slice are limited to {MAX_ITEMS} items")

    def join(value: Any, d: Any = "", attribute: Any = None) -> None:
        items = len(value) if isinstance(value, list | tuple | str) else 0
        if len(str(d)) * items > MAX_OUTPUT_CHARS:
            raise _too_large("the joined text")

    def urlize(value: Any, *args: Any, **kwargs: Any) -> None:
        extra = sum(len(str(a)) for a in (*args, *kwargs.values()) if isinstance(a, str))
        if len(str(value)) * (extra + 64) > 64 * MAX_OUTPUT_CHARS:
            raise _too_large("the linked text")

    return {
        "center": center,
        "indent": indent,
        "wordwrap": wordwrap,
        "format": format_,
        "replace": replace,
        "batch": batch_or_slice,
        "slice": batch_or_slice,
        "join": join,
        "urlize": urlize,
    }


@pass_environment
def _sum_numbers(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    """``sum`` of numbers only: summing lists or strings is quadratic inside one C call."""
    items = list(iterable)
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    if not all(isinstance(x, int | float) for x in [*items, start]):
        raise SecurityError("sum adds numbers; use join for text")
    return sum(items, start)


def _guard_filter(
    name: str, func: Callable[..., Any], check: Callable[..., None] | None
) -> Callable[..., Any]:
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        args_list = list(args)
        first = 1 if passes else 0
        if len(args_list) > first and isinstance(args_list[first], Iterator):
            args_list[first] = _bounded_list(args_list[first], f"the input of '{name}'")
        for value in (*args_list[first:], *kwargs.values()):
            _check_size(value, f"the input of '{name}'")
        if check is not None:
            check(*args_list[first:], **kwargs)
        return func(*args_list, **kwargs)

    return guarded


# ---- the environment ------------------------------------------------------------------------------------


class _NamedUndefined(StrictUndefined):
    """StrictUndefined whose message is the full dotted path that was missing."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise UndefinedError(self._undefined_message)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a size-checked join instead of Jinja's unbounded ``str_join``."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _bounded_join(parts: Iterable[Any]) -> str:
    """``environment.concat``: joins the output buffers of macros, blocks and ``{% set %}`` bodies."""
    out: list[str] = []
    size = 0
    for part in parts:
        text = part if isinstance(part, str) else str(part)
        size += len(text)
        if size > MAX_OUTPUT_CHARS:
            raise _too_large("the rendered text")
        out.append(text)
    return "".join(out)


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ }}`` output before it becomes text."""
    _check_deadline()
    if not isinstance(value, str | int | float | bool) and value is not None:
        _check_size(value, "the output")
    return value


class _SandboxEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    concat = staticmethod(_bounded_join)  # type: ignore[assignment]

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:  # type: ignore[override]
        # Jinja's documented hook for a different code generation: route every for-loop's iterable
        # through a guard that checks the deadline per item.
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_cf_iter", [], [], None, None, lineno=loop.iter.lineno)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        """``a ~ b``: each operand is size-checked before it becomes text."""
        for part in parts:
            if not isinstance(part, str):
                _check_size(part, "the joined text")
        return _bounded_join(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_deadline()
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        if _is_int(result) and result.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"the result of {operator} would be larger than {MAX_INT_BITS} bits")
        return result

    def wrap_str_format(self, value: Any) -> None:
        # Jinja would hand back a sandboxed str.format; we refuse it outright (is_safe_attribute below).
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        _check_deadline()
        if isinstance(obj, str) and attr in ("format", "format_map", "translate", "maketrans"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_deadline()
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            args = _check_str_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _make_environment() -> _SandboxEnvironment:
    # optimized=False: Jinja's optimizer folds constant expressions at compile time, outside every
    # check above (``{{ 9 ** (9 ** 7) }}`` ran 6.9 s inside ``from_string``).
    env = _SandboxEnvironment(
        undefined=_NamedUndefined, autoescape=False, loader=None, optimized=False, finalize=_finalize
    )
    for name in ("lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(name, None)
    env.globals["range"] = _bounded_range
    env.filters.pop("pprint", None)  # indentation grows with depth × items: a debugging aid only
    env.filters["sum"] = _sum_numbers
    env.filters["json"] = _to_json
    env.filters["tojson"] = _to_json
    env.filters["js_json"] = _js_json
    env.filters["js_string"] = _js_string
    checks = _filter_checks()
    env.filters = {name: _guard_filter(name, func, checks.get(name)) for name, func in env.filters.items()}
    env.filters["_cf_iter"] = _guarded_iter
    return env


_ENV = _make_environment()
_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def is_template(value: Any) -> bool:
    """Whether a parameter value is a template (holds ``{{`` or ``{%``)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _missing_variable(message: str) -> str | None:
    m = re.search(r"'([^']+)' is undefined", message) or re.search(r"has no attribute '([^']+)'", message)
    return m.group(1) if m else None


def render(
    source: str, context: Mapping[str, Any], *, node_id: str | None = None, field: str | None = None
) -> Any:
    """Render one template string.

    A string that is a single ``{{ expression }}`` keeps the expression's type (a number stays a
    number, a dict stays a dict) so ``{{ trigger.items }}`` can feed a JSON body; anything else
    renders to text. Either result is at most ``MAX_OUTPUT_CHARS`` large.
    """
    where = f"node '{node_id}', field '{field}'" if node_id else f"field '{field}'"
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"{where}: template is longer than {MAX_TEMPLATE_CHARS} characters", node_id=node_id, field=field
        )
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        single = _EXPRESSION.match(source)
        if single and "}}" not in single.group(1) and "{{" not in single.group(1):
            try:
                expr = _ENV.compile_expression(single.group(1), undefined_to_none=False)
                value = expr(**context)
                if not isinstance(value, _NamedUndefined):
                    if isinstance(value, Iterator):
                        value = _bounded_list(value, "the result")
                    _check_size(value, "the result")
                    return value
            except TemplateSyntaxError:
                pass  # fall through to a full render, which reports the syntax error with context
        template = _ENV.from_string(source)
        out: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"rendered output is larger than {MAX_OUTPUT_CHARS} characters")
            _check_deadline()
            out.append(chunk)
        return "".join(out)
    except UndefinedError as exc:
        if "is unsafe" in str(exc):
            raise TemplateError(f"{where}: template refused: {exc}", node_id=node_id, field=field) from None
        variable = _missing_variable(str(exc))
        name = f"variable '{variable}'" if variable else str(exc)
        raise TemplateError(
            f"{where}: {name} is not defined ({exc}); available: {', '.join(sorted(context)) or 'nothing'}",
            node_id=node_id,
            field=field,
            variable=variable,
        ) from None
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"{where}: template syntax error: {exc.message} (line {exc.lineno})", node_id=node_id, field=field
        ) from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: template refused: {exc}", node_id=node_id, field=field) from None
    except TemplateError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(
            f"{where}: template refused: too deeply nested or too large ({type(exc).__name__})",
            node_id=node_id,
            field=field,
        ) from None
    except Exception as exc:
        raise TemplateError(
            f"{where}: template failed: {type(exc).__name__}: {exc}", node_id=node_id, field=field
        ) from None
    finally:
        _deadline.reset(token)


def syntax_errors(value: Any, field: str = "") -> list[tuple[str, str]]:
    """(field path, message) for every template inside ``value`` that does not parse.

    Checked when a workflow is validated, so a version with a broken template is reported on save
    and left out of the Dagster code location; a missing variable is only known at run time.
    """
    if isinstance(value, str):
        if not is_template(value):
            return []
        if len(value) > MAX_TEMPLATE_CHARS:  # never parsed: rendering refuses it the same way
            return [(field, f"template is longer than {MAX_TEMPLATE_CHARS} characters")]
        try:
            _ENV.parse(value)
        except TemplateSyntaxError as exc:
            return [(field, f"template syntax error: {exc.message} (line {exc.lineno})")]
        except RecursionError:  # ``{{ ((((…1…)))) }}`` thousands deep: Jinja's parser recurses per level
            return [(field, "template is too deeply nested")]
        return []
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in syntax_errors(v, f"{field}.{k}" if field else str(k))]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in syntax_errors(v, f"{field}[{i}]")]
    return []


def render_value(
    value: Any, context: Mapping[str, Any], *, node_id: str | None = None, field: str = ""
) -> Any:
    """Render every template string inside a JSON-like value (dicts, lists), naming the field path."""
    if isinstance(value, str):
        return render(value, context, node_id=node_id, field=field) if is_template(value) else value
    if isinstance(value, dict):
        return {
            k: render_value(v, context, node_id=node_id, field=f"{field}.{k}" if field else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [render_value(v, context, node_id=node_id, field=f"{field}[{i}]") for i, v in enumerate(value)]
    return value
