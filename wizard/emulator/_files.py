"""The state folder's file writes: the project's one atomic, private-from-the-first-byte writer."""

from __future__ import annotations

from wizard.storage import atomic_write, ensure_private_dir

__all__ = ["atomic_write", "ensure_private_dir"]
