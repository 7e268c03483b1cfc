"""The state folder's file reads and writes, and its cross-process lock.

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

from wizard.errors import UserError
from wizard.reading import read_regular_file
from wizard.storage import atomic_write, ensure_private_dir

__all__ = ["atomic_write", "ensure_private_dir", "read_state_file", "state_lock"]


LOCK_FILE = ".lock"
MAX_STATE_FILE_BYTES = 16 * 1024 * 1024


def read_state_file(path: Path) -> bytes:
    """A state file's bytes, read the one safe way; a pipe, device or huge file is damage
    (ValueError, as for unparsable content), so callers recreate or report it as such."""
    try:
        return read_regular_file(path, what="state file", limit=MAX_STATE_FILE_BYTES)
    except UserError as error:
        raise ValueError(str(error)) from None


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
