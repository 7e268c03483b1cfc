"""Where a seat's wizard is: one small JSON file per seat, rewritten (atomically) when it changes.

The seat's wizard writes it; the trainer's view reads it. Nothing in it is secret: the step,
what has been done, and the code of the last failure.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.errors import UserError
from wizard.reading import read_regular_file
from wizard.storage import atomic_write

if TYPE_CHECKING:
    from wizard.session import WizardState

STATUS_FILE = "status.json"
MAX_STATUS_BYTES = 64 * 1024


@dataclass(frozen=True)
class SeatStatus:
    step: int = 0  # 0 = joined, not on a step yet; 1-9 the wizard's steps
    step_title: str = ""
    step_since: float = 0.0  # time.time() when this step was shown
    generated: bool = False
    uploaded: bool = False
    positive: str = ""  # "", "pass" or "fail"
    negative: str = ""  # "", or the negative test's verdict
    error_code: str = ""  # the last failure's code (AADSTS700027, Authorization_RequestDenied...)
    error_title: str = ""  # its one line, as the catalogue words it
    pid: int = 0

    def same_place(self, other: SeatStatus) -> bool:
        """Everything but the time stamps: whether a rewrite is needed."""
        mine, theirs = asdict(self), asdict(other)
        mine.pop("step_since"), theirs.pop("step_since")
        return mine == theirs


def status_of(state: WizardState, step: int, step_title: str, since: float, pid: int) -> SeatStatus:
    """The record of a wizard's state on a step."""
    error = None
    positive = ""
    if state.positive is not None and not state.positive.cancelled:
        positive = "pass" if state.positive.ok else "fail"
        error = state.positive.error
    negative = ""
    if state.negative is not None and not state.negative.cancelled:
        negative = state.negative.verdict
        alarms = [p.explanation for p in state.negative.probes if p.alarm and p.explanation]
        error = alarms[0] if alarms else error
    return SeatStatus(
        step=step,
        step_title=step_title,
        step_since=since,
        generated=state.files is not None,
        uploaded=state.uploaded_thumbprint is not None,
        positive=positive,
        negative=negative,
        error_code=error.code if error is not None else "",
        error_title=error.title if error is not None else "",
        pid=pid,
    )


def write_status(seat_dir: Path, status: SeatStatus) -> None:
    atomic_write(seat_dir / STATUS_FILE, json.dumps(asdict(status)).encode("utf-8"),
                 sync_folder=False)


def read_status(seat_dir: Path) -> SeatStatus | None:
    """The seat's last record, or None (not joined yet, reset, or unreadable)."""
    try:
        raw = json.loads(read_regular_file(seat_dir / STATUS_FILE, what="seat status",
                                           limit=MAX_STATUS_BYTES))
    except (OSError, ValueError, UserError):
        return None
    if not isinstance(raw, dict):
        return None
    known = {f.name: f.type for f in fields(SeatStatus)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return SeatStatus(**values)
    except TypeError:
        return None


class StatusReader:
    """The seats' records for a view that reads them every second: a file is parsed again only
    when it changed (a rewrite is a rename, so its inode, size or mtime differs)."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[tuple[int, int, int], SeatStatus | None]] = {}

    def read(self, seat_dir: Path) -> SeatStatus | None:
        path = seat_dir / STATUS_FILE
        try:
            info = os.stat(path)
        except OSError:
            self._seen.pop(path, None)
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        seen = self._seen.get(path)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        status = read_status(seat_dir)
        self._seen[path] = (stamp, status)
        return status


def seconds_since(moment: float, now: float | None = None) -> float:
    return max(0.0, (time.time() if now is None else now) - moment)
