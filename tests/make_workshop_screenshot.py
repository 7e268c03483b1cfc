"""Make the README's picture of the trainer's view: a room of six attendees mid-workshop.

    uv run python tests/make_workshop_screenshot.py [--out assets/screenshots]

A real demo tenant and workshop folder in a temporary directory; the attendees' records are
written as their wizards write them (status.json per seat), and one certificate is really
uploaded. The URL and join code are fixed so that a re-run changes the picture only when the
view changed. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

URL = "http://192.168.1.20:8000"
CODE = "K7QM2X"
ATTENDEES = [  # name, step, title, minutes on it, generated, positive, negative, error
    ("Ada", 9, "Summary", 2, True, "pass", "pass", ""),
    ("Grace", 7, "Positive test", 6, True, "fail", "", "AADSTS700027"),
    ("Linus", 4, "Export & upload", 3, True, "", "", ""),
    ("Margaret", 7, "Positive test", 1, True, "fail", "", "Authorization_RequestDenied"),
    ("Ken", 2, "Name & options", 4, False, "", "", ""),
    ("Barbara", 8, "Negative test", 0, True, "pass", "", ""),
]


async def shoot(out: Path) -> Path:
    from screens.trainer import TrainerApp
    from wizard.commands.workshop import open_room
    from wizard.workshop.room import Room
    from wizard.workshop.status import SeatStatus, write_status

    with tempfile.TemporaryDirectory() as temp:
        os.environ["ENTRA_CERT_WIZARD_HOME"] = str(Path(temp) / "home")
        args = argparse.Namespace(seats=8, no_consent_seats=2, folder=str(Path(temp) / "room"))
        tenant, room = open_room(args, CODE)
        try:
            holders = []
            now = time.time()
            for name, step, title, minutes, generated, positive, negative, error in ATTENDEES:
                holder = Room(room.folder)
                claim = holder.join(CODE, name)
                holders.append(holder)
                write_status(room.seat_dir(claim.number), SeatStatus(
                    step=step, step_title=title, step_since=now - minutes * 60 - 7,
                    generated=generated, positive=positive, negative=negative,
                    error_code=error,
                    error_title="Insufficient privileges: no admin consent" if error.startswith(
                        "Authorization") else "",
                ))
            app = TrainerApp(room, tenant, None, URL, CODE, follow_room=False)
            async with app.run_test(size=(132, 34)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause()
                out.mkdir(parents=True, exist_ok=True)
                path = out / "workshop-trainer.svg"
                path.write_text(app.export_screenshot(title="entra-cert-wizard workshop"),
                                encoding="utf-8")
                return path
        finally:
            tenant.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "screenshots")
    args = parser.parse_args()
    print(asyncio.run(shoot(args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
