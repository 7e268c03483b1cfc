"""`entra-cert-wizard workshop-seat FOLDER`: one browser's wizard in a workshop (started by the
workshop's web server for each connection; not a command for people to type)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

# A full room's wizards share the machine with the trainer's view and the web server that
# relays every seat's screen: they run at a lower CPU priority, so a busy room slows each
# attendee's wizard a little rather than freezing the view and the relay everyone depends on.
SEAT_NICENESS = 10


def run(args: argparse.Namespace) -> int:
    from wizard.paths import CONFINE_ENV, HOME_ENV
    from wizard.workshop.room import Room

    with contextlib.suppress(OSError):  # a lower priority never needs a privilege; best effort
        os.nice(SEAT_NICENESS)
    room = Room(Path(args.folder))
    # Until the attendee has a seat, nothing of the trainer's own folders is touched.
    os.environ[HOME_ENV] = os.environ[CONFINE_ENV] = str(room.folder / "lobby")

    from wizard.app import run_workshop_seat

    return run_workshop_seat(room)
