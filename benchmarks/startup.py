"""Start-up as a user sees it: the first frame on a terminal, then the complete screen.

Each run is a fresh process on its own pseudo-terminal (80x24, TERM=xterm-256color), started
as a user starts it from a shell; this script reads the terminal and notes, from the moment
the process was started:

  first frame   the read that brings the first frame's text (the first full frame Textual
                writes: the screen's body is on the terminal)
  complete      the read that brings the footer's keys (the screen is ready to use)
  exit          the process gone after Ctrl+Q, sent once the screen was complete

    uv run python benchmarks/startup.py [--runs 9] [--cold] [--variants bare wizard ...]

Bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so without care every start compiles
Textual and the wizard from source. Users have bytecode after their first start (warm); the
first start after an install without compiled bytecode is cold. Both are measured, on the
same footing for every variant: warm runs read .pyc files from a private PYTHONPYCACHEPREFIX
folder filled by unmeasured warm-up runs; cold runs point PYTHONPYCACHEPREFIX at an empty
folder with PYTHONDONTWRITEBYTECODE=1, so every module is compiled on every start.

Variants (the yardsticks first):
  bare          App with one Static on its default screen
  bare-hf       the same with a Header and a Footer (what every wizard step has)
  wizard        `entra-cert-wizard`: the Welcome step, real tenant
  wizard-demo   `entra-cert-wizard --demo`: the Welcome step; the demo tenant starts after
                the first frame
Runs are paired: one round runs every variant once, in turn, so a busy moment on the
machine hits them alike; figures are medians with min-max and n.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 80, 24
CTRL_Q = b"\x11"

BARE = """
from textual.app import App, ComposeResult
from textual.widgets import Static

class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("Hello from a bare app")

Bare().run()
"""

BARE_HEADER_FOOTER = """
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Hello from a bare app")
        yield Footer()

Bare().run()
"""


def wizard_command() -> list[str]:
    """`entra-cert-wizard` as a user runs it: the console script of this environment."""
    script = Path(sys.executable).parent / "entra-cert-wizard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "wizard"]


@dataclass(frozen=True)
class Variant:
    argv: tuple[str, ...]
    first_frame: bytes
    """Text the first frame carries."""
    complete: bytes
    """Text that shows the screen complete: a key in the footer (the body, with no footer)."""


def variants() -> dict[str, Variant]:
    python = sys.executable
    welcome = b"Your script signs in"
    return {
        "bare": Variant((python, "-c", BARE), b"Hello from", b"Hello from"),
        "bare-hf": Variant((python, "-c", BARE_HEADER_FOOTER), b"Hello from", b"palette"),
        "wizard": Variant((*wizard_command(),), welcome, b"Real tenant"),
        "wizard-demo": Variant((*wizard_command(), "--demo"), welcome, b"Real tenant"),
    }


STARTUP_VARIANTS = ("bare", "bare-hf", "wizard", "wizard-demo")


@dataclass(frozen=True)
class Sample:
    first_frame: float
    complete: float
    exit: float
    first_frame_cpu: float
    """CPU time of all the process's threads when the first frame arrived (Linux), else nan."""
    complete_cpu: float


FIELDS = ("first_frame", "complete", "exit", "first_frame_cpu", "complete_cpu")


def cpu_seconds(pid: int) -> float:
    """CPU time so far of every thread of a process, in nanoseconds from the scheduler
    (/proc/PID/task/*/schedstat): far less disturbed by a busy machine than wall time."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return float("nan")
    return total / 1e9


class RunFailed(RuntimeError):
    """A run did not show its screen or did not exit: its times would mean nothing."""


def environment(home: Path, pycache: Path, *, warm: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(ENTRA_CERT_WIZARD_HOME=str(home), TERM="xterm-256color",
               PYTHONPYCACHEPREFIX=str(pycache))
    if warm:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_once(
    variant: Variant,
    env: dict[str, str],
    timeout: float = 60.0,
    *,
    prefix: Sequence[str] = (),
    at_marks: Callable[[int, str], None] | None = None,
) -> Sample:
    """One start on a fresh pseudo-terminal; the times of its first frame, complete screen
    and exit after Ctrl+Q, in seconds from the start of the process. `prefix` runs it under
    another program (valgrind); `at_marks(pid, name)` is called at each of the two marks (once,
    with "first-frame", when one read brings both)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen([*prefix, *variant.argv], cwd=ROOT, env=env, stdin=slave, stdout=slave,
                               stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    first = complete = None
    first_cpu = complete_cpu = float("nan")
    quit_sent = 0.0
    deadline = started + timeout
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                if complete is not None and time.perf_counter() - quit_sent > 5:
                    # A process stopped and continued at its marks (--instructions) may be
                    # restarting its terminal input as Ctrl+Q arrives: say it again.
                    os.write(master, CTRL_Q)
                    quit_sent = time.perf_counter()
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal (it exited)
                break
            if not chunk:
                break
            now = time.perf_counter()
            # Keep a tail long enough for a marker split across two reads.
            seen = seen[-64:] + chunk
            marked = False
            if first is None and variant.first_frame in seen:
                first, first_cpu = now - started, cpu_seconds(process.pid)
                if at_marks is not None:
                    at_marks(process.pid, "first-frame")
                marked = True
            if first is not None and complete is None and variant.complete in seen:
                complete, complete_cpu = now - started, cpu_seconds(process.pid)
                if at_marks is not None and not marked:
                    at_marks(process.pid, "complete")
                os.write(master, CTRL_Q)
                quit_sent = time.perf_counter()
        process.wait(timeout=max(1.0, deadline - time.perf_counter()))
        ended = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{variant.argv[-1][:40]!r} did not exit within {timeout:.0f} s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    if first is None or complete is None or process.returncode != 0:
        raise RunFailed(f"{' '.join(variant.argv)[:60]} ... exited {process.returncode} "
                        f"(first frame seen: {first is not None}, complete: {complete is not None})")
    return Sample(first, complete, ended, first_cpu, complete_cpu)


def vgdb_running(pid: int) -> bool:
    """Whether a vgdb process is talking to valgrind process `pid`."""
    wanted = f"--pid={pid}".encode()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if command and command[0].endswith(b"vgdb") and wanted in command:
                return True
    return False


def count_instructions(variant: Variant, env: dict[str, str], folder: Path) -> tuple[int, int]:
    """Instructions executed to the first frame and to the complete screen, counted by
    valgrind's callgrind (exact to a fraction of a percent where wall time is noisy; ~50x
    slower). At each mark callgrind_control dumps the counts so far (a dump restarts them).

    The process is stopped (SIGSTOP) the moment its mark is read and continued only once
    callgrind_control has sent its command, which valgrind carries out at once: the counts
    end at the mark, however long the busy machine takes to run callgrind_control. (Without
    the stop, a program working on after its first frame was counted up to ~10% high.)"""
    out = folder / "callgrind.out"

    def dump(pid: int, name: str) -> None:
        os.kill(pid, signal.SIGSTOP)
        try:
            control = subprocess.Popen(["callgrind_control", f"--dump={name}", str(pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # callgrind_control hands the command to vgdb, which waits for the process to
            # take it: continue the process once vgdb is there (or after 10 s regardless).
            deadline = time.monotonic() + 10
            while not vgdb_running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # vgdb writes the command into valgrind's pipe
        finally:
            os.kill(pid, signal.SIGCONT)
        control.wait(timeout=120)

    for stale in folder.glob("callgrind.out*"):
        stale.unlink()
    run_once(variant, env, timeout=1200, at_marks=dump,
             prefix=("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"))
    # One file per dump, named by its trigger ("dump first-frame", "dump complete"), each
    # with the counts since the dump before; no "complete" dump when one read brought both.
    parts: dict[str, int] = {}
    for dumped in folder.glob("callgrind.out.*"):
        lines = dumped.read_text(errors="replace").splitlines()
        trigger = next((line.split("Trigger: dump ", 1)[1] for line in lines
                        if line.startswith("desc: Trigger: dump ")), "")
        totals = next((line for line in lines if line.startswith(("summary:", "totals:"))), "")
        if trigger and totals:
            parts[trigger] = int(totals.split()[1])
    first, complete = parts.get("first-frame"), parts.get("complete", 0)
    if first is None:
        raise RunFailed(f"callgrind dumps not found: {sorted(parts)}")
    return first, first + complete


def measure(
    names: Sequence[str], rounds: int, *, warm: bool, workdir: Path, warm_up: bool = True
) -> dict[str, list[Sample]]:
    """Paired rounds of the named variants, after one unmeasured warm-up run of each (it
    fills the bytecode folder when warm, and the file cache and the demo state always;
    only a cold smoke run goes without)."""
    chosen = {name: variants()[name] for name in names}
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    pycache = workdir / ("pycache-warm" if warm else "pycache-empty")
    pycache.mkdir(exist_ok=True)
    env = environment(home, pycache, warm=warm)
    for variant in chosen.values() if warm or warm_up else ():
        run_once(variant, env)
    if not warm:
        shutil.rmtree(pycache)  # nothing written, but make sure: cold means no .pyc at all
        pycache.mkdir()
    samples: dict[str, list[Sample]] = {name: [] for name in chosen}
    for _ in range(rounds):
        for name, variant in chosen.items():
            samples[name].append(run_once(variant, env))
    return samples


def spread(values: Sequence[float]) -> str:
    return (f"{statistics.median(values) * 1000:.0f} ms "
            f"({min(values) * 1000:.0f}-{max(values) * 1000:.0f})")


def instructions_main(names: Sequence[str], runs: int, *, warm: bool) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (callgrind) is not installed: no instruction counts", file=sys.stderr)
        return 1
    counts: dict[str, list[tuple[int, int]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="ecw-startup-") as temp:
        workdir = Path(temp)
        home, pycache = workdir / "home", workdir / "pycache"
        home.mkdir()
        pycache.mkdir()
        env = environment(home, pycache, warm=warm)
        for name in names:  # fills the bytecode folder (warm) and the demo state
            run_once(variants()[name], env)
        for _ in range(runs):
            for name in names:
                counts[name].append(count_instructions(variants()[name], env, workdir))
    label = "warm bytecode" if warm else "cold (no bytecode)"
    print(f"{label}, n={runs}: instructions (millions, median) to the first frame and to the "
          "complete screen; ratio against bare")
    bare = counts.get("bare")
    for name, values in counts.items():
        first = statistics.median(v[0] for v in values)
        complete = statistics.median(v[1] for v in values)
        ratio = ""
        if bare:
            ratio = (f"{first / statistics.median(v[0] for v in bare):.3f} / "
                     f"{complete / statistics.median(v[1] for v in bare):.3f}")
        print(f"{name:<12} {first / 1e6:10.1f} M {complete / 1e6:10.1f} M   {ratio}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="paired rounds (default 9)")
    parser.add_argument("--cold", action="store_true",
                        help="no bytecode: every module compiled on every start")
    parser.add_argument("--variants", nargs="*", default=list(variants()))
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with valgrind instead (--runs each)")
    args = parser.parse_args()
    warm = not args.cold
    if args.instructions:
        return instructions_main(args.variants, args.runs, warm=warm)
    with tempfile.TemporaryDirectory(prefix="ecw-startup-") as temp:
        samples = measure(args.variants, args.runs, warm=warm, workdir=Path(temp))
    label = "warm bytecode" if warm else "cold (no bytecode)"
    print(f"{label}, n={args.runs} paired rounds: median (min-max) from process start; "
          "ratio = ratio of medians against bare")
    titles = ("first frame", "complete", "exit", "CPU@first", "CPU@complete")
    print(f"{'variant':<12} " + " ".join(f"{t:>20}" for t in titles) + "   ratios")
    bare = samples.get("bare")
    for name, runs in samples.items():
        columns = [[getattr(s, field) for s in runs] for field in FIELDS]
        ratios = ""
        if bare:
            base = [[getattr(s, f) for s in bare] for f in FIELDS]
            ratios = " / ".join(f"{statistics.median(c) / statistics.median(b):.2f}"
                                for c, b in zip(columns, base, strict=True))
        print(f"{name:<12} " + " ".join(f"{spread(c):>20}" for c in columns) + f"   {ratios}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
