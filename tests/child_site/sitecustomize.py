"""Child processes of the test suite only (conftest puts this folder on PYTHONPATH): the
lower key-derivation counts of tests/fast_kdf.py, set when the wizard's modules load.

Lazily, through an import hook, so a child imports exactly what it would without it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fast_kdf import LOWERED, lower

del sys.path[0]


class _LowerOnLoad(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in LOWERED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def run_then_lower(module: ModuleType) -> None:
            run(module)
            lower(module)

        spec.loader.exec_module = run_then_lower  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _LowerOnLoad())
