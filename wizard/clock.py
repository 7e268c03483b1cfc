"""The one clock: every "now" in the engine comes from here, so tests and files agree on UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)
