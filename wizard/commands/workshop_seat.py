"""`entra-cert-wizard workshop-seat FOLDER`: one browser's wizard in a workshop (started by the
workshop's web server for each connection; not a command for people to type)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from wizard.paths import HOME_ENV
    from wizard.workshop.room import Room

    room = Room(Path(args.folder))
    # Until the attendee has a seat, nothing of the trainer's own folders is touched.
    os.environ[HOME_ENV] = str(room.folder / "lobby")

    from wizard.app import run_workshop_seat

    return run_workshop_seat(room)
