"""The engine stays plain Python: every wizard module but the App imports with Textual blocked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
