"""Workshop load: N attendees join at once over the web socket and each walks the demo flow.

    uv run python benchmarks/workshop_load.py --seats 30 [--drop 1] [--json-out FILE]

Starts `entra-cert-wizard workshop --json` (its own process, as a trainer would), then N
scripted attendees (benchmarks/workshop_client.py: textual-serve's protocol, keys in,
screens out) connect together; `--drop K` of them hang up right after joining, to show a
dropped seat blocks no one. Meanwhile the trainer's view (the real TrainerApp, headless,
reading the same workshop folder) is redrawn every second and timed. Reports join latency,
full-flow time per seat, resident memory of the server and of the seat processes at their
peak, CPU used by the whole workshop (server + seats), and the view's redraw times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.workshop_client import SeatClient, SeatRun, run_seat  # noqa: E402

CODE = "L0ADTS"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def seat_pids(folder: Path) -> list[int]:
    pids = []
    for status in folder.glob("seats/*/status.json"):
        try:
            pid = int(json.loads(status.read_text()).get("pid", 0))
        except (OSError, ValueError):
            continue
        if pid and Path(f"/proc/{pid}").exists():
            pids.append(pid)
    return pids


async def drop_after_join(url: str, folder: Path, name: str) -> SeatRun:
    run = SeatRun(name)
    client = SeatClient(url, folder, name, timeout=600)
    started = time.monotonic()
    try:
        await client.connect()
        run.seat = await client.join(CODE)
        run.join_seconds = time.monotonic() - started
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"
    finally:
        await client.close()  # gone, mid-way: its seat must not hold anyone up
    return run


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def measure(seats: int, drop: int, folder: Path) -> dict[str, Any]:
    from screens.trainer import TrainerApp
    from wizard.emulator.directory import Directory
    from wizard.workshop.room import Room

    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "workshop", "--seats", str(seats), "--port", "0",
         "--json", "--join-code", CODE, "--folder", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    line = json.loads(process.stdout.readline())
    url = line["url"]
    room = Room(folder)
    # The trainer's view, reading the same records the workshop's own view reads.
    tenant = SimpleNamespace(directory=Directory(folder / "tenant"))
    trainer = TrainerApp(room, tenant, None, url, CODE, follow_room=False)  # type: ignore[arg-type]
    redraws: list[float] = []
    reads: list[float] = []
    peak = {"seats_kib": 0, "server_kib": 0, "live": 0}
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            started = time.perf_counter()
            from wizard.workshop.roster import build_rows

            rows = await asyncio.to_thread(build_rows, room, tenant.directory.applications_json())
            reads.append((time.perf_counter() - started) * 1000)
            trainer.show_rows(rows)
            redraws.append(trainer.last_redraw_ms)
            pids = seat_pids(folder)
            seat_memory = sum(rss_kib(pid) for pid in pids)
            if seat_memory > peak["seats_kib"]:
                peak.update(seats_kib=seat_memory, live=len(pids))
            peak["server_kib"] = max(peak["server_kib"], rss_kib(process.pid))
            await asyncio.sleep(1.0)

    started = time.monotonic()
    async with trainer.run_test(size=(160, 50)):
        watcher = asyncio.create_task(watch())
        names = [f"Attendee {n}" for n in range(1, seats + 1)]
        runs = await asyncio.gather(
            *(drop_after_join(url, folder, name) for name in names[:drop]),
            *(run_seat(url, folder, CODE, name, timeout=900) for name in names[drop:]),
        )
        done.set()
        await watcher
    wall = time.monotonic() - started
    process.terminate()
    process.wait(timeout=60)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = [r for r in runs if r.finished]
    joins = [r.join_seconds for r in runs if r.join_seconds is not None]
    flows = [r.flow_seconds for r in finished if r.flow_seconds is not None]
    return {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_before": os.getloadavg()[0]},
        "seats": seats,
        "dropped": drop,
        "finished": len(finished),
        "errors": [r.error for r in runs if r.error],
        "join_seconds": {"median": statistics.median(joins) if joins else None,
                         "p90": percentile(joins, 0.9), "max": max(joins, default=0)},
        "flow_seconds": {"median": statistics.median(flows) if flows else None,
                         "p90": percentile(flows, 0.9), "max": max(flows, default=0)},
        "wall_seconds": wall,
        "memory_mib": {"server_peak": peak["server_kib"] / 1024,
                       "seats_peak_total": peak["seats_kib"] / 1024,
                       "seats_live_at_peak": peak["live"],
                       "per_seat": peak["seats_kib"] / 1024 / max(1, peak["live"])},
        "cpu_seconds": {"user": cpu.ru_utime, "system": cpu.ru_stime,
                        "per_seat": (cpu.ru_utime + cpu.ru_stime) / seats},
        "trainer_view_ms": {"redraw_max": max(redraws, default=0),
                            "redraw_median": statistics.median(redraws) if redraws else 0,
                            "read_max": max(reads, default=0), "samples": len(redraws)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--drop", type=int, default=1, help="attendees who hang up after joining")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        os.environ["ENTRA_CERT_WIZARD_HOME"] = str(Path(temp) / "home")
        result = asyncio.run(measure(args.seats, args.drop, Path(temp) / "room"))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    ok = result["finished"] == args.seats - args.drop and not result["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
