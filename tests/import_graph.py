"""The engine's import graph, read from the source: which wizard modules each module names.

Every import that runs counts, at the top or inside a function: a lazy import is still a
dependency a reader has to follow. Imports for type checking only (`if TYPE_CHECKING:`) are
left out: they name a type, never run, and cannot make a cycle at run time.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIZARD = ROOT / "wizard"


def module_paths(package: Path = WIZARD) -> dict[str, Path]:
    """Every module of `package` by its dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _run_time_nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of the module but those under `if TYPE_CHECKING:`."""
    return _run_time_nodes_of(path.read_text(encoding="utf-8"))


@functools.cache  # the tests ask for the same few hundred modules again and again
def _run_time_nodes_of(source: str) -> tuple[ast.AST, ...]:
    found: list[ast.AST] = []
    pending: list[ast.AST] = [ast.parse(source)]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending += [node.test, *node.orelse]  # the body names types only
        else:
            pending += ast.iter_child_nodes(node)
    return tuple(found)


def imported_names(path: Path) -> set[str]:
    """Every module name `path` imports at run time; `from pkg import sub` names pkg.sub."""
    found: set[str] = set()
    for node in _run_time_nodes(path):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the wizard modules it imports. A package named only as the way to one of its
    submodules (`from wizard.emulator import errors`) is not counted: Python runs a package's
    __init__ first anyway, so that is no dependency of the importer's design."""
    modules = module_paths()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        names = imported_names(path)
        deps = {n for n in names if n in modules and n != name}
        via_submodule = {n for n in deps if any(d.startswith(f"{n}.") for d in deps)}
        explicit = {n for n in names if n in modules} - {
            n for n in via_submodule if not _names_a_member(path, n)
        }
        graph[name] = (deps & explicit) - {name}
    return graph


def _names_a_member(path: Path, package: str) -> bool:
    """True when `path` takes something from `package` itself (not only its submodules)."""
    modules = module_paths()
    for node in _run_time_nodes(path):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == package
            and any(f"{package}.{alias.name}" not in modules for alias in node.names)
        ):
            return True
        if isinstance(node, ast.Import) and any(a.name == package for a in node.names):
            return True
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
