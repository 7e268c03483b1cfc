"""The trainer's view: the room at a glance, in the terminal that started the workshop.

The URL, its QR code and the join code on the left; one row per seat on the right (name,
step, certificate made and uploaded, both tests, the last error in one line, time on the
step), stuck-longest first. The rows are read in a worker from the seats' status files and
the demo tenant, once a second (a file is parsed only when it changed); on the UI thread the
seat table redraws only the lines that changed (screens/seat_table.py): with a full room the
seats' processes share the CPU with this view, so each frame is kept small.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from screens.dialogs import ConfirmScreen
from screens.seat_table import SeatTable
from wizard.clock import utc_now
from wizard.qr import qr_lines
from wizard.shown import shown
from wizard.workshop.room import WrongTries
from wizard.workshop.roster import (
    COLUMNS,
    SeatRow,
    build_rows,
    export_csv,
    export_markdown,
    stuck_longest_first,
)
from wizard.workshop.status import StatusReader

if TYPE_CHECKING:
    from wizard.emulator import DemoTenant
    from wizard.workshop.room import Room
    from wizard.workshop.web import SeatWebServer

REFRESH_SECONDS = 1.0


class TrainerApp(App[None]):
    """Who is where, live; r resets a seat, e exports the results, s switches the order."""

    TITLE = "Entra certificate workshop"
    CSS = """
    #join { width: auto; max-width: 50%; padding: 0 1; border-right: solid $primary; }
    #qr { width: auto; }
    #join-code { text-style: bold; color: $success; }
    #room { width: 1fr; }
    #room-summary { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reset_seat", "Reset seat"),
        Binding("e", "export", "Export results"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("q", "quit", "Stop workshop"),
    ]

    def __init__(
        self,
        room: Room,
        tenant: DemoTenant,
        web: SeatWebServer | None,
        url: str,
        join_code: str,
        *,
        follow_room: bool = True,
    ) -> None:
        super().__init__()
        self.room, self.tenant, self.web = room, tenant, web
        self.url, self.join_code = url, join_code
        self.follow_room = follow_room
        self.rows: list[SeatRow] = []
        self.stuck_first = True
        self.last_redraw_ms = 0.0
        self.statuses = StatusReader()
        self.shown_summary = ""
        self.wrong = WrongTries()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="join"):
                yield Static(shown(f"Open {self.url}"), markup=False)
                yield Static("\n".join(qr_lines(self.url)), id="qr", markup=False)
                if self.join_code:
                    yield Static("Join code:", markup=False)
                    yield Static(self.join_code, id="join-code", markup=False)
                else:
                    yield Static("No join code (this machine only).", markup=False)
            with Vertical(id="room"):
                yield Static("", id="room-summary", markup=False)
                yield SeatTable(COLUMNS, id="seats")
        yield Footer()

    def on_mount(self) -> None:
        self.read_room()
        if self.follow_room:
            self.set_interval(REFRESH_SECONDS, self.read_room)

    @work(thread=True, exclusive=True, exit_on_error=False, group="room")
    def read_room(self) -> None:
        apps = self.tenant.directory.applications_json()
        rows = build_rows(self.room, apps, statuses=self.statuses)
        self.call_from_thread(self.show_rows, rows, self.room.wrong_tries())

    def show_rows(self, rows: list[SeatRow], wrong: WrongTries | None = None) -> None:
        """Bring the table up to date (timed: the view must stay responsive with a full room)."""
        started = time.perf_counter()
        self.rows = rows
        self.wrong = wrong or self.wrong
        ordered = stuck_longest_first(rows) if self.stuck_first else rows
        self.query_one("#seats", SeatTable).show([(str(row.seat), row.cells()) for row in ordered])
        joined = sum(1 for r in rows if r.name)
        finished = sum(1 for r in rows if r.finished)
        sort = "stuck longest first" if self.stuck_first else "by seat"
        summary = f"{joined} of {len(rows)} seats taken, {finished} finished · {sort}"
        if self.join_code:
            paused = self.wrong.paused_for(utc_now().timestamp()) > 0
            summary += f" · {self.wrong.total} wrong join codes" + (
                " (joins paused)" if paused else "")
        if summary != self.shown_summary:
            self.query_one("#room-summary", Static).update(summary)
            self.shown_summary = summary
        self.last_redraw_ms = (time.perf_counter() - started) * 1000

    def selected_seat(self) -> int | None:
        selected = self.query_one("#seats", SeatTable).selected
        return int(selected) if selected is not None else None

    def action_toggle_sort(self) -> None:
        self.stuck_first = not self.stuck_first
        self.show_rows(self.rows)

    def action_reset_seat(self) -> None:
        seat = self.selected_seat()
        if seat is None:
            return
        row = next((r for r in self.rows if r.seat == seat), None)
        who = f" ({row.name})" if row is not None and row.name else ""
        question = (f"Reset seat {seat}{who}?\nIts wizard closes, its files and its app's "
                    "certificates are removed, and the seat is free again.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.reset_seat(seat)

        self.push_screen(ConfirmScreen(question, yes="Reset", no="Keep"), answered)

    @work(thread=True, exit_on_error=False, group="reset")
    def reset_seat(self, seat: int) -> None:
        from wizard.workshop.status import read_status

        status = read_status(self.room.seat_dir(seat))
        if status is not None and status.pid and self.web is not None:
            self.web.end_process(status.pid)
        app = self.room.seat_app(seat)
        directory = self.tenant.directory
        application = directory.application(app.client_id)
        for credential in list(application.key_credentials if application else []):
            directory.remove_certificate(app.client_id, credential.thumbprint_sha1)
        self.room.free_seat(seat)
        self.call_from_thread(self.notify, f"Seat {seat} is free again.", title="Reset")
        self.read_room()

    def action_export(self) -> None:
        from wizard.storage import atomic_write_text

        csv_path = self.room.folder / "results.csv"
        markdown_path = self.room.folder / "results.md"
        atomic_write_text(csv_path, export_csv(self.rows))
        atomic_write_text(markdown_path, export_markdown(self.rows))
        self.notify(shown(f"Saved {csv_path} and {markdown_path}"), title="Results",
                    markup=False)
