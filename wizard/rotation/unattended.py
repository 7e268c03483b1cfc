"""What an unattended rotation (cron, a systemd timer) needs beyond the stages: whether it is
due, a lock so two runs never rotate the same profile at once, and the schedule to offer.

The lock is an flock on a file beside the profiles file: the kernel drops it when the process
ends, however it ends, so a crashed run never leaves the profile locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from wizard.errors import UserError
from wizard.profiles import Profile, profiles_file

DEFAULT_WITHIN_DAYS = 30


class RotationLocked(UserError):
    """Another run holds the profile's rotation lock."""


def is_due(profile: Profile, within_days: int) -> bool:
    """Rotate when a rotation is under way (resume it) or the certificate expires within
    `within_days` days."""
    return profile.rotation is not None or profile.days_left() <= within_days


def lock_path(profile_name: str) -> Path:
    digest = hashlib.sha256(profile_name.encode("utf-8")).hexdigest()[:16]
    return profiles_file().parent / f".rotate-{digest}.lock"


@contextlib.contextmanager
def rotation_lock(profile_name: str) -> Iterator[None]:
    """Hold the profile's rotation lock for the duration, or raise RotationLocked at once.
    Where flock does not exist (Windows) there is no lock: one run at a time is up to the
    scheduler (Task Scheduler starts no second instance by default)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    from wizard.storage import ensure_private_dir

    path = lock_path(profile_name)
    ensure_private_dir(path.parent)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationLocked(
                f'Another run is rotating "{profile_name}" right now; nothing was changed.',
                hint="It carries on where it is; this run can simply end.",
                exit_code=5,
            ) from None
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
