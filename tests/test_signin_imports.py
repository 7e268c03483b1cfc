"""The engine stays light: importing the sign-in modules pulls in neither Textual nor
MSAL nor requests (the wizard's first screen and `generate` must not pay for them), and the
sign-in package imports in layers, without cycles."""

from __future__ import annotations

import ast
import email.utils
import json
import subprocess
import sys
import time
from pathlib import Path

from wizard.signin.positive import _clock_skew

WIZARD = Path(__file__).resolve().parent.parent / "wizard"
SIGNIN_MODULES = sorted(
    f"wizard.signin.{path.stem}" for path in (WIZARD / "signin").glob("*.py")
    if path.stem != "__init__"
)


def wizard_imports(path: Path) -> set[str]:
    """Every wizard module `path` imports, at the top, inside functions or for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("wizard.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "wizard":
            # `from wizard.signin import plan` imports the module wizard.signin.plan.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
            found.add(str(node.module))
    return found


def engine_import_graph() -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for path in WIZARD.rglob("*.py"):
        parts = path.relative_to(WIZARD.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: wizard_imports(path) & set(modules) for name, path in modules.items()}


def test_the_signin_package_has_no_import_cycle() -> None:
    """Checked with every import (lazy and type-only ones too): each module of the package
    can be read knowing only the modules it names, never one that names it back."""
    graph = engine_import_graph()
    for start in SIGNIN_MODULES:
        stack, seen = [start], set()
        while stack:
            for imported in graph[stack.pop()]:
                assert imported != start, f"{start} is imported back by a module it imports"
                if imported not in seen:
                    seen.add(imported)
                    stack.append(imported)


def test_the_plan_names_no_heavy_module() -> None:
    """Screens and the CLI draw their rows from the plan before any test runs."""
    assert engine_import_graph()["wizard.signin.plan"] <= {
        "wizard.signin",
        "wizard.signin.catalogue",
        "wizard.signin.tokens",
    }


def test_signin_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "import wizard.inputs, wizard.commands.test\n"
        f"import {', '.join(SIGNIN_MODULES)}\n"
        "print(json.dumps(sorted(m for m in ('textual', 'msal', 'requests', 'jwt') "
        "if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_clock_skew_from_the_date_header() -> None:
    now = time.time()
    assert _clock_skew(email.utils.formatdate(now, usegmt=True), now) == 0.0
    behind = _clock_skew(email.utils.formatdate(now + 300, usegmt=True), now)
    assert behind is not None and 299 <= behind <= 301  # this clock is 5 minutes behind
    ahead = _clock_skew(email.utils.formatdate(now - 180, usegmt=True), now)
    assert ahead is not None and -181 <= ahead <= -179
    assert _clock_skew(None, now) is None
    assert _clock_skew("not a date", now) is None
