"""Reading a file the one safe way: regular files only, never blocking, never more than a cap.

Every file the tool reads (certificates, keys, PFX files, the profiles file, the demo tenant's
state) may have been swapped for something else: a named pipe nobody writes to would hang a
plain open(), `/dev/zero` or a huge sparse file would be read into memory whole. So the file
is opened without blocking (a FIFO opens at once), checked on the open descriptor (a check on
the path could be raced), refused unless it is a regular file no larger than the cap, and read
up to the cap only. Symbolic links are followed: users link certificates, and what the link
reaches is checked all the same.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from wizard.errors import UserError

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(UserError):
    """The path leads to a folder, pipe, device or socket, not to a file."""


class FileTooLarge(UserError):
    """The file is larger than anything of its kind could be."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: str | os.PathLike[str], *, what: str, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Raises NotARegularFile or FileTooLarge (UserErrors naming the path and `what` it should
    be), and OSError (FileNotFoundError, PermissionError, ...) for the caller to word.
    """
    path = Path(path)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(
                f"{path} is {_kind(info.st_mode)}, not a {what}.",
                hint=f"Give the path of the {what} itself.",
            )
        if info.st_size > limit:
            raise FileTooLarge(
                f"{path} is larger than {limit // 1024} KiB, far too big for a {what}.",
                hint="Check that you picked the right file.",
            )
        chunks: list[bytes] = []
        remaining = limit + 1  # one byte over the cap tells a file that grew while read
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileTooLarge(
            f"{path} is larger than {limit // 1024} KiB, far too big for a {what}.",
            hint="Check that you picked the right file.",
        )
    return data
