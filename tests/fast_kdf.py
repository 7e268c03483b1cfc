"""The tests' lower key-derivation counts: the product's strong counts cost every test that
makes or opens a protected key about a quarter of a second each, for nothing it proves.

The product has no knob for this. In the test process a session fixture (conftest) sets the
module constants below; child processes started by the tests get them from
tests/child_site/sitecustomize.py, which conftest puts on PYTHONPATH for the session only.
tests/test_passphrase_safety.py writes its key and PFX under `production_rounds()` and pins
the real counts (the only test that may read them).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

# module -> {constant: the count tests use}; 2048 is cryptography's own default.
LOWERED: dict[str, dict[str, int]] = {
    "wizard.key_encryption": {"KEY_KDF_ROUNDS": 2048, "PFX_MAC_ROUNDS": 2048},
    "wizard.certs": {"PFX_KDF_ROUNDS": 2048},
}


def lower(module: object) -> None:
    """Set the lowered counts on an imported module named in LOWERED."""
    for constant, count in LOWERED[module.__name__].items():  # type: ignore[attr-defined]
        setattr(module, constant, count)


def production_counts() -> dict[tuple[str, str], int]:
    """The counts as the product defines them (read from a fresh copy of each module)."""
    counts = {}
    for name, constants in LOWERED.items():
        source = importlib.util.find_spec(name)
        assert source is not None and source.loader is not None
        fresh = importlib.util.module_from_spec(source)
        source.loader.exec_module(fresh)
        counts.update({(name, constant): getattr(fresh, constant) for constant in constants})
    return counts


@contextmanager
def production_rounds() -> Iterator[None]:
    """The product's own counts for the block (the test process only)."""
    modules = {name: importlib.import_module(name) for name in LOWERED}
    try:
        for (name, constant), count in production_counts().items():
            setattr(modules[name], constant, count)
        yield
    finally:
        for module in modules.values():
            lower(module)
