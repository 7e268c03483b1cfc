"""Work the end of the program waits for.

The wizard's thread workers are daemon threads (`wizard.app`), so quitting never waits for a
hung request. A daemon thread still running when the interpreter shuts down is ended where
it stands, and ended inside a C extension that is running Python code (cryptography's Rust
bindings while they load) the whole process aborts (SIGABRT, "FATAL: exception not
rethrown"). Short local work that loads or calls such extensions (the demo tenant's start:
its imports, its keys, its socket) runs here instead, in a thread the interpreter joins
before it shuts down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def finish_before_exit(work: Callable[[], _T], name: str) -> _T:
    """Run `work` in a thread the interpreter waits for at exit (not a daemon) and wait for it
    here; its result, or its exception raised in the caller's thread."""
    outcome: list[_T] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller's thread below
            failures.append(error)

    worker = threading.Thread(target=run, name=name, daemon=False)
    worker.start()
    worker.join()
    if failures:
        raise failures[0]
    return outcome[0]
