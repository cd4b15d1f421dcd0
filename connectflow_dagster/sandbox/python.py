"""Python code in a child process with resource limits — for trusted authors, not a security sandbox.

``run(code, globals_, timeout=…, memory=…)`` starts ``python -I`` (isolated: no ``PYTHON*``
variables, no user site) with:

- an environment of its own: ``PATH``, ``LANG``, ``HOME`` (a private temporary directory, also the
  working directory) — nothing of the worker's environment, so no secrets;
- no inherited file descriptors besides stdin/stdout/stderr (all three are files in that directory);
- limits it sets on itself before the user's code runs (``resource.setrlimit``): CPU seconds
  (``RLIMIT_CPU``), address space (``RLIMIT_AS``), file size (``RLIMIT_FSIZE``, which also bounds
  what it prints and returns), open files, no core dumps;
- a wall-clock timeout after which its whole process group is killed;
- no process that outlives it: as root the code runs as PID 1 of a new PID namespace (the kernel
  kills what it started when it ends, ``setsid`` or not); otherwise ``RLIMIT_NPROC`` 0 (no fork).

The code is the body of a function (``return`` works) seeing ``items``, ``_input`` (``.all()``,
``.first()``, ``.last()``, ``.item``), ``_json``, ``_item_index``, ``_(name)`` (an earlier node's
items) — n8n's Python names — and returns items like the JavaScript node.

Python has no in-process sandbox: the code can read files the worker's user can read and open
network connections (the network policy does not apply to it). That is why the node is off unless
the operator sets ``CONNECTFLOW_PYTHON_CODE=on``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

MAX_CODE_CHARS = 256 * 1024
MAX_RESULT_BYTES = 16 * 1024 * 1024
MAX_LOG_CHARS = 4_000
# The interpreter itself maps ~40 MB of address space before any user code runs.
INTERPRETER_OVERHEAD = 96 * 1024 * 1024


class PythonCodeError(Exception):
    """The code failed, was stopped or returned something unusable; ``str()`` is for the user."""


# The child's entry point: set the limits, build the n8n-like names, run the code, write the result.
_RUNNER = r"""
import json, resource, sys, traceback
cpu, memory, fsize = (int(a) for a in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

def _contain():
    # Processes the code starts must not outlive it (a double fork + setsid escapes a process-group
    # kill). As root: the code runs as PID 1 of a new PID namespace, so the kernel kills everything
    # in it when the code ends or is killed. Otherwise: it may start no process at all.
    import ctypes, os, signal
    if os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x20000000) != 0:  # CLONE_NEWPID refused (no CAP_SYS_ADMIN): limits as before
        return
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed with this process (the timeout)
        return
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):  # die the same way, for the parent's diagnosis
        # As PID 1 of its namespace the code ignores SIGXCPU, so the CPU limit ends it with the hard
        # limit's SIGKILL, whose disposition cannot be set (EINVAL): just send it.
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status))

_contain()
with open("input.json", encoding="utf-8") as f:
    spec = json.load(f)
mode, code, input_items, nodes = spec["mode"], spec["code"], spec["input"], spec["nodes"]

class _Items:
    def __init__(self, items, index):
        self._items, self._index = items, index
    def all(self):
        return self._items
    def first(self):
        return self._items[0] if self._items else None
    def last(self):
        return self._items[-1] if self._items else None
    @property
    def item(self):
        if self._index is None:
            raise RuntimeError("_input.item is only available when running once for each item; use _input.first() or _input.all()")
        return self._items[self._index] if self._index < len(self._items) else None

def _lookup(name):
    if name not in nodes:
        raise KeyError(f"no node named {name!r} ran before this one (earlier nodes: {', '.join(nodes)})")
    return nodes[name]

source = "def __cf_main():\n" + "".join("    " + line + "\n" for line in (code.splitlines() or ["pass"])) + "    return None\n"
out, error = [], None
sys.stdout = sys.stderr  # print() goes to the log, not into the result
try:
    compiled = compile(source, "<code>", "exec")
    indexes = [None] if mode == "all" else list(range(len(input_items)))
    for index in indexes:
        current = input_items[index] if index is not None else (input_items[0] if input_items else None)
        scope = {
            "items": input_items,
            "_input": _Items(input_items, index),
            "_json": current["json"] if current else {},
            "_item_index": index or 0,
            "_": lambda name, _i=index: _Items(_lookup(name), _i),
            "_items": _lookup,
            "__name__": "__cf_code__",
        }
        exec(compiled, scope)
        result = scope["__cf_main"]()
        if mode == "all":
            out = result
        elif result is None:
            continue
        elif isinstance(result, list):
            out.extend(result)
        else:
            out.append(result)
except MemoryError:
    error = {"kind": "memory"}
except BaseException as exc:
    tb = traceback.extract_tb(exc.__traceback__)
    lines = [f.lineno - 1 for f in tb if f.filename == "<code>" and f.lineno and f.lineno > 1]
    if isinstance(exc, SyntaxError) and exc.filename == "<code>" and exc.lineno:
        lines = [exc.lineno - 1]
    error = {"kind": "code", "name": type(exc).__name__, "message": exc.msg if isinstance(exc, SyntaxError) else str(exc), "line": lines[-1] if lines else None}
try:
    text = json.dumps({"error": error} if error else {"ok": out}, default=str)
except (TypeError, ValueError) as exc:
    text = json.dumps({"error": {"kind": "result", "message": f"the result is not JSON: {exc}"}})
except MemoryError:
    text = '{"error": {"kind": "memory"}}'
with open("result.json", "w", encoding="utf-8") as f:
    f.write(text)
"""


def run(
    code: str,
    *,
    mode: Literal["all", "each"],
    input_items: list[dict[str, Any]],
    nodes: Mapping[str, list[dict[str, Any]]],
    timeout: float,
    memory: int,
    cpu_seconds: int | None = None,
) -> Any:
    """Run ``code`` in a limited child process; what it returned (JSON). Raises ``PythonCodeError``.

    ``timeout`` is wall-clock seconds; ``cpu_seconds`` (default: ``timeout`` rounded up) the CPU limit.
    """
    if len(code) > MAX_CODE_CHARS:
        raise PythonCodeError(f"the code is longer than {MAX_CODE_CHARS} characters")
    cpu_seconds = cpu_seconds or max(1, math.ceil(timeout))
    with tempfile.TemporaryDirectory(prefix="cf-python-") as tmp:
        work = Path(tmp)
        (work / "input.json").write_text(
            json.dumps({"mode": mode, "code": code, "input": input_items, "nodes": dict(nodes)}, default=str),
            encoding="utf-8",
        )
        (work / "runner.py").write_text(_RUNNER, encoding="utf-8")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp}
        limits = [str(cpu_seconds), str(memory + INTERPRETER_OVERHEAD), str(MAX_RESULT_BYTES + 1024)]
        with open(work / "log.txt", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(work / "runner.py"), *limits],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=True,
                start_new_session=True,  # its own process group: killed whole on timeout
            )
            try:
                returncode = proc.wait(timeout=timeout + 1.0)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise PythonCodeError(
                    f"the code ran longer than its time limit ({timeout:g} s) and was stopped"
                ) from None
            finally:
                _kill_group(proc)  # anything it started in the background goes too
        log_text = _tail(work / "log.txt")
        result_path = work / "result.json"
        if returncode == -signal.SIGXCPU or (returncode == -signal.SIGKILL and not result_path.exists()):
            raise PythonCodeError(
                f"the code used more than its CPU time limit ({cpu_seconds} s) and was stopped"
            )
        if returncode == -signal.SIGXFSZ or "File too large" in log_text:
            raise PythonCodeError(f"the code's result or output is larger than {MAX_RESULT_BYTES} bytes")
        if not result_path.exists():
            detail = log_text.strip().splitlines()[-1] if log_text.strip() else f"exit status {returncode}"
            if "MemoryError" in log_text:
                raise PythonCodeError(_memory_message(memory))
            raise PythonCodeError(f"the Python process ended without a result: {detail}")
        outcome = json.loads(result_path.read_text(encoding="utf-8"))
    if "ok" in outcome:
        return outcome["ok"]
    error = outcome["error"]
    if error["kind"] == "memory":
        raise PythonCodeError(_memory_message(memory))
    if error["kind"] == "result":
        raise PythonCodeError(error["message"])
    if error["name"] == "OSError" and "File too large" in error["message"]:
        raise PythonCodeError(f"the code's result or output is larger than {MAX_RESULT_BYTES} bytes")
    line = f" (line {error['line']})" if error.get("line") else ""
    raise PythonCodeError(f"{error['name']}: {error['message']}"[:2000] + line)


def _memory_message(memory: int) -> str:
    return f"the code needed more memory than its limit ({memory // (1024 * 1024)} MiB) and was stopped"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - MAX_LOG_CHARS))
        return f.read().decode("utf-8", "replace")
