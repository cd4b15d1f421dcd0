"""Sandboxed JavaScript: each evaluation gets a fresh, empty QuickJS runtime (quickjs-ng).

``evaluate(code, data, timeout=…, memory=…)`` runs ``code`` as the body of an async function (so
``return`` and ``await`` work; ``expression=True`` evaluates one expression instead) with each key of
``data`` as a global holding a JSON copy of its value, and returns the JSON-ready result. The runtime
is created for the call and freed after it (≈0.1–0.3 ms), so nothing survives from one evaluation to
the next and one evaluation cannot see another's data.

What the code cannot do: QuickJS embedded this way has no module loader (``import``/``import()``
fail), no ``require``, ``process``, ``fetch``, ``XMLHttpRequest``, timers, file or socket API: the
global object holds only the ECMAScript built-ins and what ``data`` and ``prelude`` put there.

Limits (docs/decisions.md, "JavaScript engine"):

- memory: the runtime's allocator refuses allocations past ``memory`` bytes → ``JsMemoryLimit``;
- time: the engine's interrupt handler stops the code after ``timeout`` seconds of *process* CPU
  time (QuickJS measures ``clock()``: CPU spent by other threads of the process counts too, so a
  limit can trip early under load, never late), and promise jobs stop at a wall-clock deadline of
  ``timeout`` → ``JsTimeout``; the interrupt is uncatchable from JS (``try {} catch {}`` does not
  swallow it);
- stack: ``MAX_STACK_BYTES`` of C stack → a ``RangeError`` the code may catch;
- size: ``MAX_CODE_CHARS`` of code and ``MAX_RESULT_CHARS`` of JSON result.

The GIL is released while JavaScript runs, so a long evaluation does not stall the worker's other
threads (lease renewal, other ops).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import quickjs

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY = 64 * 1024 * 1024
MAX_STACK_BYTES = 512 * 1024
MAX_CODE_CHARS = 256 * 1024
MAX_RESULT_CHARS = 16 * 1024 * 1024
MAX_MESSAGE_CHARS = 2_000
MAX_LOG_LINES = 200
MAX_LOG_CHARS = 64 * 1024
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_FRAME_LINE = re.compile(r"<input>:(\d+)(?::(\d+))?")


class JsError(Exception):
    """The evaluation failed; ``str()`` is a message fit for the user (no Python internals)."""


class JsCodeError(JsError):
    """The code threw (or does not parse): ``name`` (TypeError…), ``line`` in the user's code."""

    def __init__(self, message: str, *, name: str = "Error", line: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.line = line


class JsTimeout(JsError):
    """The code ran past its time limit and was stopped."""


class JsMemoryLimit(JsError):
    """The code needed more memory than its limit and was stopped."""


class JsResultError(JsError):
    """The code's result cannot be returned: not JSON (a function, a cycle, a BigInt) or too large."""


# Defined before the prelude and the user's code, in a closure the code cannot reach: ``__cf_settle``
# waits for the code's promise (with ``then`` and ``Reflect.apply`` captured first, so replacing
# them changes nothing) and records the outcome as a JSON string, read back with ``__cf_read()``;
# the globals are non-writable and non-configurable.
_BOOT = r"""
(function () {
  const stringify = JSON.stringify, apply = Reflect.apply, then = Promise.prototype.then;
  const define = Object.defineProperty, max = __cf_max_result;
  let outcome = null, ok = false;
  function fail(name, message, stack) {
    outcome = apply(stringify, JSON, [{ error: { name: name, message: message, stack: stack } }]);
  }
  function finish(isOk, value) {
    if (isOk) {
      let text;
      try {
        text = value === undefined ? "null" : apply(stringify, JSON, [value]);
      } catch (e) {
        outcome = apply(stringify, JSON, [{ result_error: "the result is not JSON: " + String(e && e.message || e) }]);
        return;
      }
      if (text === undefined) text = "null";  // a function or a symbol
      if (text.length > max) {
        outcome = apply(stringify, JSON, [{ result_error: "the result is larger than " + max + " characters of JSON" }]);
        return;
      }
      ok = true;  // the outcome is the result's JSON as it is (no concatenation: a
      outcome = text;  // concatenated string is a rope the binding cannot read)
      return;
    }
    const e = value;
    if (e === null) {
      // QuickJS throws null when it runs out of memory while creating the error object.
      fail("InternalError", "out of memory (null thrown)", "");
    } else if (e instanceof Error) {
      fail(String(e.name || "Error"), String(e.message), String(e.stack || ""));
    } else {
      let message;
      try { message = "uncaught " + (typeof e === "string" ? apply(stringify, JSON, [e]) : String(apply(stringify, JSON, [e]))); }
      catch (_) { message = "uncaught " + String(e); }
      fail("Error", message, "");
    }
  }
  const fixed = (value) => ({ value: value, writable: false, configurable: false, enumerable: false });
  define(globalThis, "__cf_settle", fixed(function (promise) {
    apply(then, promise, [(v) => finish(true, v), (e) => finish(false, e)]);
  }));
  // console.log & co. write into a bounded buffer the host reads after the run (logs, not results).
  const lines = [];
  let logged = 0;
  function log(level) {
    return function (...args) {
      if (lines.length >= __cf_max_log_lines || logged > __cf_max_log_chars) return;
      let text = args.map((a) => {
        if (typeof a === "string") return a;
        try { return apply(stringify, JSON, [a]); } catch (_) { return String(a); }
      }).join(" ");
      text = text.slice(0, __cf_max_log_chars - logged);
      logged += text.length;
      lines.push(level + " " + text);
    };
  }
  define(globalThis, "console", { value: Object.freeze({
    log: log("log"), info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug"),
  }), writable: true, configurable: true });
  define(globalThis, "__cf_logs", fixed(() => apply(stringify, JSON, [lines])));
  define(globalThis, "__cf_read", fixed(() => outcome));
  define(globalThis, "__cf_read_ok", fixed(() => ok));
})();
"""


def evaluate(
    code: str,
    data: Mapping[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
    prelude: str = "",
    expression: bool = False,
    logs: list[str] | None = None,
) -> Any:
    """Run ``code`` in a fresh sandbox and return its (JSON-ready) result.

    ``data``: globals for the code, each a JSON copy (keys must be JS identifiers). ``prelude``:
    trusted JavaScript run first in the same runtime (e.g. ``sandbox.n8n.PRELUDE``), under the same
    limits. ``expression``: ``code`` is one expression (``$json.a + 1``), not a function body.
    ``logs``: a list that receives what ``console.log``/``info``/``warn``/``error`` wrote
    (``"log text"`` lines, at most ``MAX_LOG_LINES`` and ``MAX_LOG_CHARS``), also when the code fails.
    Raises a ``JsError`` subclass with a user-facing message.
    """
    if len(code) > MAX_CODE_CHARS:
        raise JsCodeError(f"the code is longer than {MAX_CODE_CHARS} characters")
    names = dict(data or {})
    for key in names:
        if not _IDENTIFIER.match(key):
            raise ValueError(f"sandbox global {key!r} is not a JavaScript identifier")
    try:
        data_json = json.dumps(names, allow_nan=False, default=str)
    except ValueError as exc:
        raise JsError(f"the input cannot be passed to JavaScript: {exc}") from None
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")

    ctx = quickjs.Context()
    ctx.set_memory_limit(int(memory))
    ctx.set_max_stack_size(MAX_STACK_BYTES)
    ctx.set_time_limit(timeout)
    deadline = time.monotonic() + timeout
    body = f"return (\n{code}\n);" if expression else code
    head = (
        f"globalThis.__cf_max_result = {MAX_RESULT_CHARS};\n"
        + f"const __cf_max_log_lines = {MAX_LOG_LINES}, __cf_max_log_chars = {MAX_LOG_CHARS};\n"
        + _BOOT
        + "delete globalThis.__cf_max_result;\n"
        + "(function () { const d = JSON.parse(__cf_data); delete globalThis.__cf_data;\n"
        + "  for (const k of Object.keys(d)) globalThis[k] = d[k]; })();\n"
        + prelude
        + "\n__cf_settle((async function () {\n"
    )
    offset = head.count("\n")
    script = head + body + "\n})());\n"
    try:
        ctx.set("__cf_data", data_json)
        ctx.eval(script)
        while ctx.execute_pending_job():
            if time.monotonic() > deadline:
                raise JsTimeout(_timeout_message(timeout))
        outcome = ctx.eval("__cf_read()")
        ok = ctx.eval("__cf_read_ok()")
    except quickjs.JSException as exc:
        raise _translate(str(exc), offset, timeout, memory) from None
    finally:
        if logs is not None:
            logs.extend(_read_logs(ctx))
        del ctx
    if outcome is None:
        # Still pending: the code awaits a promise that nothing will ever settle.
        raise JsCodeError("the code awaited a promise that never settles")
    try:
        parsed = json.loads(outcome)
    except RecursionError:
        raise JsResultError("the result is nested too deeply") from None
    except ValueError as exc:  # not expected: the outcome is written by __cf_settle
        raise JsResultError(f"the result could not be read: {exc}") from None
    if ok is True:
        return parsed
    if "result_error" in parsed:
        raise JsResultError(parsed["result_error"])
    error = parsed["error"]
    name, message = error["name"], error["message"]
    if name == "InternalError" and ("out of memory" in message or not message.strip()):
        # Out of memory, QuickJS may create the InternalError but not its message: an empty one.
        raise JsMemoryLimit(_memory_message(memory))
    raise _code_error(name, message, _user_line(error["stack"], offset))


def _read_logs(ctx: quickjs.Context) -> list[str]:
    try:
        ctx.set_time_limit(1.0)  # a fresh budget: the code's own may be spent
        lines = json.loads(ctx.eval("__cf_logs()"))
    except Exception:  # out of memory, interrupted, or never defined (the script did not parse)
        return []
    return [str(line) for line in lines] if isinstance(lines, list) else []


def _code_error(name: str, message: str, line: int | None) -> JsCodeError:
    text = f"{name}: {message}"[:MAX_MESSAGE_CHARS]
    return JsCodeError(text + (f" (line {line})" if line else ""), name=name, line=line)


def _user_line(stack: str, offset: int) -> int | None:
    """The first line of the stack inside the user's code (frames in the prelude are skipped)."""
    for match in _FRAME_LINE.finditer(stack):
        line = int(match.group(1)) - offset
        if line >= 1:
            return line
    return None


def _timeout_message(timeout: float) -> str:
    return f"the code ran longer than its time limit ({timeout:g} s) and was stopped"


def _memory_message(memory: int) -> str:
    return f"the code needed more memory than its limit ({memory // (1024 * 1024)} MiB) and was stopped"


def _translate(text: str, offset: int, timeout: float, memory: int) -> JsError:
    """A QuickJS exception raised out of the engine → the matching ``JsError``."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    if "interrupted" in first:
        return JsTimeout(_timeout_message(timeout))
    if "out of memory" in first:
        return JsMemoryLimit(_memory_message(memory))
    name, _, message = first.partition(": ")
    if name.strip() == "InternalError" and not message.strip():  # out of memory, message unallocated
        return JsMemoryLimit(_memory_message(memory))
    if not message:
        name, message = "Error", first
    return _code_error(name, message, _user_line(text, offset))
