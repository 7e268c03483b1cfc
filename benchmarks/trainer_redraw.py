"""The trainer's view under a busy room, without the room: what one redraw costs.

    uv run python benchmarks/trainer_redraw.py [--seats 30] [--seconds 20] [--spinners 2]
                                               [--spinner-nice 0] [--json-out FILE]

A real workshop folder and demo tenant with every seat taken; a thread rewrites the seats'
status files as attendees move (each seat changes step every few seconds, some fail a
test); `--spinners K` processes spin on the CPU as the seat processes of a full room do
(`--spinner-nice 10` starts them as the workshop starts its seats). The real trainer's view
(headless, driven by its pilot) is read and redrawn every second, as it is in a workshop and
as `workshop_load.py` times it: "read" is the worker's read of the records, "redraw" the
table's update on the UI thread (the figure of record), "settled" the redraw plus the frame
drawn after it. Wall and CPU times, p50/p95/max, and the CPU the whole process used per
second (a frame the table defers past "settled" is counted there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CODE = "R3DRAW"
SPIN = "import os, sys\nos.nice(int(sys.argv[1]))\nwhile True:\n    pass\n"
ERRORS = [("AADSTS700027", ""), ("Authorization_RequestDenied", "Graph said no (403)"),
          ("AADSTS7000215", "")]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    return {"p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
            "max": round(ordered[-1], 2)}


def move_attendees(room: Any, seats: int, stop: threading.Event, writes: list[int]) -> None:
    """Each seat's wizard rewrites its record on a change: a step every 2-8 s, a test result."""
    from wizard.workshop.status import SeatStatus, write_status

    rng = random.Random(7)
    now = time.time()
    state = {n: SeatStatus(step=1, step_title="Welcome", step_since=now) for n in range(1, seats + 1)}
    due = {n: now + rng.uniform(0, 8) for n in state}
    while not stop.wait(0.05):
        now = time.time()
        for number, when in due.items():
            if when > now:
                continue
            old = state[number]
            step = old.step % 9 + 1
            code, title = rng.choice(ERRORS) if rng.random() < 0.2 else ("", "")
            state[number] = SeatStatus(
                step=step, step_title=f"Step {step}", step_since=now, generated=step > 2,
                uploaded=step > 3, positive="pass" if step > 6 else "",
                negative="pass" if step > 7 else "", error_code=code, error_title=title,
                pid=os.getpid())
            write_status(room.seat_dir(number), state[number])
            writes[0] += 1
            due[number] = now + rng.uniform(2, 8)


async def measure(seats: int, seconds: float, spinners: int, nice: int, folder: Path) -> dict[str, Any]:
    from screens.trainer import TrainerApp
    from wizard.commands.workshop import open_room
    from wizard.workshop.room import Room
    from wizard.workshop.roster import build_rows

    args = argparse.Namespace(seats=seats, no_consent_seats=0, folder=str(folder))
    tenant, room = open_room(args, CODE)
    holders = [Room(folder) for _ in range(seats)]
    for number, holder in enumerate(holders, start=1):
        holder.join(CODE, f"Attendee {number}")
    stop, writes = threading.Event(), [0]
    mover = threading.Thread(target=move_attendees, args=(room, seats, stop, writes), daemon=True)
    spinning = [subprocess.Popen([sys.executable, "-c", SPIN, str(nice)]) for _ in range(spinners)]
    reads: list[float] = []
    read_cpu: list[float] = []
    redraws: list[float] = []
    redraw_cpu: list[float] = []
    settled: list[float] = []
    settled_cpu: list[float] = []
    try:
        mover.start()
        trainer = TrainerApp(room, tenant, None, "http://127.0.0.1:8000", CODE, follow_room=False)
        async with trainer.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            ends = time.monotonic() + seconds
            process_cpu = time.process_time()
            while time.monotonic() < ends:
                def read() -> tuple[Any, float]:
                    cpu = time.thread_time()
                    rows = build_rows(room, tenant.directory.applications_json())
                    return rows, (time.thread_time() - cpu) * 1000

                started = time.perf_counter()
                rows, cpu_ms = await asyncio.to_thread(read)
                reads.append((time.perf_counter() - started) * 1000)
                read_cpu.append(cpu_ms)
                cpu = time.thread_time()
                started = time.perf_counter()
                trainer.show_rows(rows)
                redraw_cpu.append((time.thread_time() - cpu) * 1000)
                redraws.append(trainer.last_redraw_ms)
                painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                trainer.call_after_refresh(painted.set_result, None)
                await painted
                settled.append((time.perf_counter() - started) * 1000)
                settled_cpu.append((time.thread_time() - cpu) * 1000)
                await asyncio.sleep(1.0)
            process_cpu = time.process_time() - process_cpu
    finally:
        stop.set()
        for process in spinning:
            process.kill()
            process.wait()
        tenant.stop()
    return {
        "seats": seats, "seconds": seconds, "spinners": spinners, "spinner_nice": nice,
        "status_writes_per_second": round(writes[0] / seconds, 1), "samples": len(redraws),
        "load_average": os.getloadavg()[0],
        "read_ms": summary(reads), "read_cpu_ms": summary(read_cpu),
        "redraw_ms": summary(redraws), "redraw_cpu_ms": summary(redraw_cpu),
        "settled_ms": summary(settled), "settled_cpu_ms": summary(settled_cpu),
        # Everything the view's process spent (reads, redraws, frames, the attendees' writes).
        "process_cpu_ms_per_second": round(process_cpu * 1000 / seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--spinners", type=int, default=2)
    parser.add_argument("--spinner-nice", type=int, default=0)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        os.environ["ENTRA_CERT_WIZARD_HOME"] = str(Path(temp) / "home")
        result = asyncio.run(measure(args.seats, args.seconds, args.spinners, args.spinner_nice,
                                     Path(temp) / "room"))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
