"""Child processes of the test suite only (conftest puts this folder on PYTHONPATH): the
lower key-derivation counts of tests/fast_kdf.py, set when the wizard's modules load.

Kept to almost nothing at start-up (nothing imported that Python has not already), so a child starts, and can be
interrupted while starting, as it would without it.
"""

import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MODULES = ("wizard.key_encryption", "wizard.certs")  # tests/fast_kdf.py's LOWERED


class _LowerOnLoad:
    """An import hook that runs the module as usual, then sets the lower counts."""

    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name not in _MODULES:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def run_then_lower(module):  # type: ignore[no-untyped-def]
            run(module)
            sys.path.insert(0, _TESTS)
            try:
                from fast_kdf import lower
            finally:
                sys.path.remove(_TESTS)
            lower(module)

        spec.loader.exec_module = run_then_lower
        return spec


sys.meta_path.insert(0, _LowerOnLoad())
