"""The engine stays plain Python: every wizard module but the App imports with Textual blocked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from import_graph import cycles, import_graph, imported_names, module_paths

PACKAGE = Path(__file__).resolve().parent.parent / "wizard"
# The App is the one module that may import Textual; __main__ runs the command when imported.
ALLOWED_TO_NEED_TEXTUAL = {"wizard.app", "wizard.__main__"}


def engine_modules() -> list[str]:
    modules = []
    for path in sorted([*PACKAGE.glob("*.py"), *PACKAGE.glob("*/*.py")]):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if name not in ALLOWED_TO_NEED_TEXTUAL:
            modules.append(name)
    return modules


def test_the_engine_has_modules() -> None:
    assert {"wizard.certs", "wizard.storage", "wizard.names", "wizard.cli"} <= set(engine_modules())


@pytest.mark.parametrize("module", engine_modules())
def test_module_imports_with_textual_blocked(module: str) -> None:
    script = (
        "import importlib, sys\n"
        "for blocked in ('textual', 'screens'):\n"
        "    sys.modules[blocked] = None  # any import of it now raises ImportError\n"
        f"importlib.import_module({module!r})\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent,
    )
    assert completed.returncode == 0, f"{module} needs Textual:\n{completed.stderr}"


# --- the layers (ARCHITECTURE.md, "Rules") ---------------------------------------------------

# What each part of the engine may never import, even lazily: a part below never reaches up.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the demo tenant stands alone: the CLI, the wizard and the tests all start it
    "wizard.emulator": (
        "wizard.signin", "wizard.profiles", "wizard.rotation", "wizard.session",
        "wizard.commands", "wizard.cli", "wizard.app", "wizard.portal",
    ),
    # signing in knows nothing of saved set-ups, rotations, the wizard or a command line
    "wizard.signin": (
        "wizard.admin", "wizard.profiles", "wizard.rotation", "wizard.session",
        "wizard.commands", "wizard.cli", "wizard.app",
    ),
    # an admin's sign-in stands on signing in, and knows nothing of saved set-ups or above
    "wizard.admin": (
        "wizard.profiles", "wizard.rotation", "wizard.session", "wizard.commands",
        "wizard.cli", "wizard.app",
    ),
    "wizard.profiles": ("wizard.session", "wizard.commands", "wizard.cli", "wizard.app"),
    "wizard.rotation": ("wizard.session", "wizard.commands", "wizard.cli", "wizard.app"),
    "wizard.session": ("wizard.commands", "wizard.cli", "wizard.app"),
}


def _within(module: str, part: str) -> bool:
    return module == part or module.startswith(f"{part}.")


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_below_it(part: str) -> None:
    graph = import_graph()
    reached = {
        (module, imported)
        for module, imports in graph.items()
        if _within(module, part)
        for imported in imports
        if any(_within(imported, forbidden) for forbidden in FORBIDDEN[part])
    }
    assert not reached, f"{part} reaches up: {sorted(reached)}"


def test_the_engine_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_only_the_app_names_textual_or_the_screens() -> None:
    """Checked in the source, lazy imports too (the import test above sees the top level)."""
    offenders = [
        module
        for module, path in module_paths().items()
        if module not in ALLOWED_TO_NEED_TEXTUAL
        and any(name.split(".")[0] in {"textual", "screens"} for name in imported_names(path))
    ]
    assert offenders == []


def test_only_the_cli_runs_the_commands() -> None:
    graph = import_graph()
    callers = {
        module
        for module, imports in graph.items()
        if any(_within(imported, "wizard.commands") for imported in imports)
        and not _within(module, "wizard.commands")
    }
    assert callers - {"wizard.cli"} == set()
