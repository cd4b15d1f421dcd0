"""The tree is the architecture: layering, import cycles and private imports, read from the source.

docs/architecture.md draws the layers: ``connectflow_dagster`` (engine) < ``gateway`` < ``ui``; the UI
talks to the gateway over HTTP, and the layers above the engine plug in through entry points. These
tests parse every module (nothing is imported or run) and fail with the offending file and import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connectflow_dagster", "gateway", "ui")
ADAPTER = "connectflow_dagster/dagster_private.py"
# What each layer may import from the project's own packages.
ALLOWED = {
    "connectflow_dagster": {"connectflow_dagster"},
    "gateway": {"connectflow_dagster", "gateway"},
    "ui": {"ui"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in ``path``, relative ones resolved."""
    out = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.append((base, [alias.name for alias in node.names], node.lineno))
    return out


def _project_target(name: str, names: list[str]) -> list[str]:
    """The project modules an import reaches (``from pkg import mod`` reaches ``pkg.mod``)."""
    targets = [f"{name}.{n}" for n in names if f"{name}.{n}" in MODULES]
    if not targets and name in MODULES:
        targets = [name]
    return targets


def test_layers_import_only_downwards() -> None:
    wrong = []
    for module, path in MODULES.items():
        layer = module.split(".")[0]
        for name, _, line in _imports(module, path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == []


def test_private_dagster_modules_are_imported_only_by_the_adapter() -> None:
    wrong = []
    for path in [*(ROOT / p for p in ("connectflow_dagster", "gateway", "ui", "bench", "tests"))]:
        for file in path.rglob("*.py"):
            rel = str(file.relative_to(ROOT))
            if rel == ADAPTER:
                continue
            for name, names, line in _imports(rel[:-3].replace("/", "."), file):
                if name.startswith("dagster._") or (
                    name == "dagster" and any(n.startswith("_") for n in names)
                ):
                    wrong.append(f"{rel}:{line} imports {name} {names}")
    assert wrong == []


def test_no_module_imports_a_private_name_of_another_module() -> None:
    wrong = []
    for module, path in MODULES.items():
        for name, names, line in _imports(module, path):
            if name.split(".")[0] not in PACKAGES:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{path.relative_to(ROOT)}:{line} takes {private} from {name}")
    assert wrong == []


def test_there_are_no_import_cycles() -> None:
    graph = {
        module: {t for name, names, _ in _imports(module, path) for t in _project_target(name, names)}
        - {module}
        for module, path in MODULES.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
