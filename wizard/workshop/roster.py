"""The trainer's rows: one per seat, from the claims, the seats' status files and what the
demo tenant recorded (certificates uploaded to each seat's app); sorted, and exported.

Every text that came from outside (attendee names, codes) passes through `shown` here, so the
view and the exports can print the rows as they are.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any

from wizard.shown import shown
from wizard.workshop.room import Room
from wizard.workshop.status import SeatStatus, StatusReader, read_status, seconds_since

COLUMNS = ("Seat", "Name", "Step", "On step", "Cert", "Uploaded", "Positive", "Negative",
           "Last error")


@dataclass(frozen=True)
class SeatRow:
    seat: int
    name: str  # shown() already
    step: str
    generated: bool
    uploaded: bool
    positive: str
    negative: str
    error_code: str
    error_line: str
    seconds_on_step: float
    live: bool
    finished: bool

    def cells(self) -> tuple[str, ...]:
        error = f"{self.error_code}: {self.error_line}" if self.error_code else ""
        return (
            str(self.seat),
            self.name or "(free)",
            self.step,
            duration(self.seconds_on_step) if self.name else "",
            "yes" if self.generated else "",
            "yes" if self.uploaded else "",
            self.positive,
            self.negative,
            error,
        )


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def error_line(code: str, fallback: str) -> str:
    """The catalogue's one line for an error code; the seat's own words when it has none."""
    if code.startswith("AADSTS") and code[6:].isdigit():
        from wizard.signin.catalogue import explain_aadsts

        return explain_aadsts(int(code[6:])).title
    return fallback


def build_rows(
    room: Room,
    tenant_apps: list[dict[str, Any]],
    now: float | None = None,
    statuses: StatusReader | None = None,
) -> list[SeatRow]:
    """One row per seat, in seat order. `tenant_apps`: the demo tenant's applications JSON;
    `statuses`: a reader that keeps what it read (a view reading every second passes one)."""
    now = time.time() if now is None else now
    read = statuses.read if statuses is not None else read_status
    uploads = {str(app["client_id"]).lower(): bool(app.get("key_credentials"))
               for app in tenant_apps}
    claims = room.claims()
    rows = []
    for app in room.seat_apps():
        claim = claims.get(app.number)
        status = (read(room.seat_dir(app.number)) if claim else None) or SeatStatus()
        step = f"{status.step} {status.step_title}".strip() if status.step else (
            "joined" if claim else "")
        rows.append(SeatRow(
            seat=app.number,
            name=shown(claim.name) if claim else "",
            step=shown(step),
            generated=status.generated,
            uploaded=uploads.get(app.client_id.lower(), False),
            positive=shown(status.positive),
            negative=shown(status.negative),
            error_code=shown(status.error_code),
            error_line=shown(error_line(status.error_code, status.error_title)),
            seconds_on_step=seconds_since(status.step_since, now) if status.step_since else 0.0,
            live=claim is not None and room.is_live(app.number),
            finished=status.negative == "pass",
        ))
    return rows


def stuck_longest_first(rows: list[SeatRow]) -> list[SeatRow]:
    """Attendees still working, longest on their step first; finished, then free seats last."""
    return sorted(rows, key=lambda r: (not r.name, r.finished, -r.seconds_on_step, r.seat))


def _csv_safe(cell: str) -> str:
    """A spreadsheet never runs a cell as a formula (a name typed as =HYPERLINK(...))."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def export_csv(rows: list[SeatRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_safe(cell) for cell in row.cells()])
    return out.getvalue()


def export_markdown(rows: list[SeatRow]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in row.cells()) + " |" for row in rows]
    done = sum(1 for r in rows if r.finished)
    joined = sum(1 for r in rows if r.name)
    return f"# Workshop results\n\n{done} of {joined} attendees finished.\n\n" + "\n".join(lines) + "\n"
