"""`entra-cert-wizard workshop`: the wizard in a room of browsers, and the trainer's view.

One demo tenant (loopback only: only the seat processes on this machine talk to it), one app
registration per seat with a portal token that reaches that app alone, and the wizard served
to browsers by textual-serve, one process per browser, each bound to a seat once its attendee
joins. With --json the first stdout line is the contract (url, join_code, seats, tenant_id,
portal, folder) and the workshop runs until SIGINT/SIGTERM; without it the trainer's view
shows the room. Either way, stopping ends every seat process and closes every port.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from wizard.errors import UserError

if TYPE_CHECKING:
    from wizard.emulator import DemoTenant
    from wizard.workshop.room import Room
    from wizard.workshop.web import SeatWebServer


def _check(args: argparse.Namespace) -> str:
    """The join code to use ('' for none), or UserError for options that do not fit."""
    from wizard.emulator.tenant import is_loopback
    from wizard.workshop.room import MAX_SEATS, new_join_code

    if not 1 <= args.seats <= MAX_SEATS:
        raise UserError(f"--seats must be 1 to {MAX_SEATS}.", exit_code=2)
    if not 0 <= args.no_consent_seats <= args.seats:
        raise UserError("--no-consent-seats must be 0 to the number of seats.", exit_code=2)
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be 0 to 65535.", exit_code=2)
    if args.no_join_code:
        if not is_loopback(args.host):
            raise UserError(
                "A workshop that other machines can reach needs a join code.",
                hint="Drop --no-join-code (a code is made for you), or use --host 127.0.0.1.",
                exit_code=2,
            )
        return ""
    code = args.join_code if args.join_code is not None else new_join_code()
    if len(code.strip()) < 4 or not code.strip().isalnum():
        raise UserError("--join-code must be at least 4 letters or digits.", exit_code=2)
    return code.strip().upper()


def _workshop_folder(args: argparse.Namespace) -> Path:
    from wizard.paths import data_dir, user_path

    if args.folder:
        return user_path(args.folder, "--folder")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return data_dir() / "workshops" / f"{stamp}-{secrets.token_hex(2)}"


def open_room(args: argparse.Namespace, join_code: str) -> tuple[DemoTenant, Room]:
    """Start the demo tenant with one app per seat, and write the workshop folder."""
    from wizard.emulator import DemoTenant
    from wizard.workshop.room import Room, SeatApp

    folder = _workshop_folder(args)
    tenant = DemoTenant(folder / "tenant")
    # Every portal call needs a token: the seats get one each that reaches their own app.
    tenant.admin_token = secrets.token_urlsafe(24)
    info = tenant.start()
    try:
        consenting = args.seats - args.no_consent_seats
        apps = tenant.directory.add_applications(
            [(f"Workshop seat {n}", n <= consenting) for n in range(1, args.seats + 1)]
        )
        seats = []
        for number, app in enumerate(apps, start=1):
            token = secrets.token_urlsafe(24)
            tenant.app_tokens[token] = app.client_id
            # The seat's admin sign-in reaches this seat's app (and what it creates) only.
            admin = tenant.app_scopes.add_app_admin(
                tenant.directory.tenant, f"seat{number}-admin", f"Seat {number}", app.client_id
            )
            seats.append(SeatApp(number, app.client_id, app.display_name, app.consented, token,
                                 admin.user_principal_name))
        return tenant, Room.create(folder, info, seats, join_code)
    except BaseException:
        tenant.stop()
        raise


def seat_command(room: Room) -> str:
    """What the web server runs per browser (exec: the seat process is the shell's own pid)."""
    return (f"exec {shlex.quote(sys.executable)} -m wizard workshop-seat "
            f"{shlex.quote(str(room.folder))}")


def run(args: argparse.Namespace) -> int:
    from wizard.workshop.web import SeatWebServer

    join_code = _check(args)
    tenant, room = open_room(args, join_code)
    web: SeatWebServer | None = None
    try:
        web = SeatWebServer(seat_command(room), args.host, args.port, "Entra certificate workshop")
        url = web.start()
        if args.json:
            _serve_headless(args, url, join_code, tenant, room)
        else:
            from wizard.app import run_trainer_view

            run_trainer_view(room, tenant, web, url, join_code)
    finally:
        if web is not None:
            web.stop()
        tenant.stop()
    if not args.json:
        print(f"The workshop stopped. Its folder: {room.folder}", file=sys.stderr)
    return 0


def _serve_headless(
    args: argparse.Namespace, url: str, join_code: str, tenant: DemoTenant, room: Room
) -> None:
    info = tenant.info
    line = {
        "url": url,
        "join_code": join_code,
        "seats": args.seats,
        "tenant_id": info.tenant_id,
        "portal": info.portal,
        "folder": str(room.folder),
    }
    stopping: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        while not stopping:
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
