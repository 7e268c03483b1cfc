"""Atomic, private file writes for the demo tenant's state folder.

Uses wizard.storage.atomic_write (the project's one implementation) when it is present;
the fallback below does the same thing (O_EXCL temp file, fsync, rename) so the demo tenant
never depends on the order in which modules land.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create the folder (0700) if needed and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never half of one."""
    try:
        from wizard import storage
    except ImportError:
        storage = None  # type: ignore[assignment]
    writer = getattr(storage, "atomic_write", None) if storage is not None else None
    if writer is not None:
        writer(path, data, mode=mode)
        return
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
