"""The state folder's file writes and its cross-process lock.

Writes go through the project's one atomic, private-from-the-first-byte writer. The lock
(an flock on `.lock` in the state folder, where the platform has one) keeps two demo
tenants that share a folder — say `emulator` in one terminal and `test --demo` in another —
from creating two different CAs at first start or losing each other's uploads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from wizard.storage import atomic_write, ensure_private_dir

__all__ = ["atomic_write", "ensure_private_dir", "state_lock"]


LOCK_FILE = ".lock"


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold the state folder's exclusive lock (a no-op where flock does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: one process per state folder is the documented use
        yield
        return
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
