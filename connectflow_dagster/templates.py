"""Hardened Jinja2 templates for node parameters.

``{{ stripe.raw.amount }}`` and ``{{ api_result | json }}`` render against the run context in an
``ImmutableSandboxedEnvironment``: no loader, no ``lipsum``/``cycler``/``joiner``, ``str.format``
refused, a strict undefined whose error names the node, field and missing variable, and limits on
template size, output size and time. Trigger data is only ever *context*, never template source.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectflow_dagster.errors import TemplateError

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 1024 * 1024
MAX_RENDER_SECONDS = 2.0
MAX_RANGE = 10_000

_deadline: ContextVar[float] = ContextVar("template_deadline", default=float("inf"))


def _check_deadline() -> None:
    if time.monotonic() > _deadline.get():
        raise SecurityError(f"template took longer than {MAX_RENDER_SECONDS:g} s")


def _bounded_range(*args: int) -> Iterator[int]:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    for i, value in enumerate(rng):
        if i % 256 == 0:
            _check_deadline()
        yield value


def _to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


class _NamedUndefined(StrictUndefined):
    """StrictUndefined whose message is the full dotted path that was missing."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise UndefinedError(self._undefined_message)


class _SandboxEnvironment(ImmutableSandboxedEnvironment):
    def wrap_str_format(self, value: Any) -> None:
        # Jinja would hand back a sandboxed str.format; we refuse it outright (is_safe_attribute below).
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        _check_deadline()
        if isinstance(obj, str) and attr in ("format", "format_map"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        return super().call(__context, __obj, *args, **kwargs)


def _make_environment() -> _SandboxEnvironment:
    env = _SandboxEnvironment(undefined=_NamedUndefined, autoescape=False, loader=None)
    for name in ("lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(name, None)
    env.globals["range"] = _bounded_range
    env.filters["json"] = _to_json
    env.filters["tojson"] = _to_json
    return env


_ENV = _make_environment()
_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def is_template(value: Any) -> bool:
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
    renders to text.
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
        try:
            _ENV.parse(value)
        except TemplateSyntaxError as exc:
            return [(field, f"template syntax error: {exc.message} (line {exc.lineno})")]
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
