"""Start-up time to the first rendered screen: the wizard against a bare Textual app.

Runs are interleaved (bare, wizard, ... then again). Each run is a fresh `python -c` process that starts the app as a user would (`App.run()`,
the normal terminal driver, its output into a pipe) and exits right after the first screen
has mounted and been refreshed (painted). Reported: the median of N runs of
the process's wall time, and of the time from the first line of the program to that paint.

    uv run python benchmarks/startup.py [--runs 7] [--no-bytecode-cache]

Bytecode: an installed wizard runs from compiled .pyc files, like Textual in site-packages
does for the bare app. With PYTHONDONTWRITEBYTECODE set (as in some sandboxes and CI) a
checkout would compile the wizard's own modules from source on every start (~12 ms) while
Textual's stay precompiled: an unequal race. So each run gets PYTHONPYCACHEPREFIX (a
temporary folder, filled by the warm-up run) for every module, bare and wizard alike.
`--no-bytecode-cache` keeps the calling environment's setting, to see that cost.

Variants:
  bare          App with one Static on its default screen (the yardstick)
  wizard        `entra-cert-wizard` (cli.main([])): real tenant, Welcome on screen
  wizard-demo   `entra-cert-wizard --demo`: Welcome on screen, the demo tenant starting in a
                worker meanwhile (what the command does)
  demo-first    the demo tenant started before the app, then the wizard (the alternative)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROLOGUE = "import time; T0 = time.perf_counter()\n"
# Textual captures print() while an app runs: the time goes to a file named by the runner.
REPORT = (
    "import os; open(os.environ['STARTUP_BENCH_OUT'], 'a')"
    ".write(f'FIRST_SCREEN {time.perf_counter() - T0:.6f} {time.process_time():.6f}\\n')"
)

BARE = PROLOGUE + f"""
from textual.app import App, ComposeResult
from textual.widgets import Static

class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("Hello")

    def on_mount(self) -> None:
        self.call_after_refresh(self.first_paint)

    def first_paint(self) -> None:
        {REPORT}
        self.exit()

Bare().run()
"""

# The wizard is timed through its real entry point; the only addition is a hook that exits
# once the Welcome screen has mounted and painted.
WIZARD_HOOK = PROLOGUE + f"""
import screens.welcome as welcome

_original_on_mount = welcome.WelcomeScreen.on_mount

def _on_mount(self) -> None:
    _original_on_mount(self)
    def first_paint() -> None:
        {REPORT}
        self.app.exit()
    self.call_after_refresh(first_paint)

welcome.WelcomeScreen.on_mount = _on_mount
"""

WIZARD = WIZARD_HOOK + """
import sys
from wizard.cli import main
sys.exit(main([]))
"""

WIZARD_DEMO = WIZARD_HOOK + """
import sys
from wizard.cli import main
sys.exit(main(["--demo"]))
"""

DEMO_FIRST = WIZARD_HOOK + """
from wizard.emulator import DemoTenant
from wizard.app import CertWizardApp

tenant = DemoTenant()
info = tenant.start()
try:
    CertWizardApp(demo_info=info).run()
finally:
    tenant.stop()
"""

VARIANTS = {"bare": BARE, "wizard": WIZARD, "wizard-demo": WIZARD_DEMO, "demo-first": DEMO_FIRST}


def run_once(code: str, home: str, *, bytecode_cache: bool = True) -> tuple[float, float, float]:
    out = Path(home) / "first-screen.txt"
    out.unlink(missing_ok=True)
    env = dict(os.environ, ENTRA_CERT_WIZARD_HOME=home, COLUMNS="80", LINES="24",
               STARTUP_BENCH_OUT=str(out))
    if bytecode_cache:  # see the module's docstring: the same footing for both apps
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(home) / "pycache")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    wall = time.perf_counter() - start
    text = out.read_text() if out.exists() else ""
    marks = re.findall(r"FIRST_SCREEN (\d+\.\d+) (\d+\.\d+)", text)
    if done.returncode != 0 or not marks:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, float(marks[-1][0]), float(marks[-1][1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--no-bytecode-cache", dest="bytecode_cache", action="store_false",
                        help="keep the environment's PYTHONDONTWRITEBYTECODE (compile each run)")
    args = parser.parse_args()
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in args.variants}
    with tempfile.TemporaryDirectory() as home:
        for name in args.variants:
            # Warm the file cache, the bytecode cache and the demo tenant's state.
            run_once(VARIANTS[name], home, bytecode_cache=args.bytecode_cache)
        # Interleaved, so a busy moment on the machine hits every variant alike.
        for _ in range(args.runs):
            for name in args.variants:
                samples[name].append(
                    run_once(VARIANTS[name], home, bytecode_cache=args.bytecode_cache)
                )
    results = {
        name: tuple(statistics.median(run[i] for run in runs) for i in range(3))
        for name, runs in samples.items()
    }
    bare = results.get("bare", (float("nan"),) * 3)
    print(f"median of {args.runs} interleaved runs: process wall time, wall time to the first "
          "painted screen, CPU time (process_time) at that moment; ratio = against bare")
    print(f"{'variant':<12} {'wall':>8} {'first screen':>14} {'CPU':>8}   ratios (wall/first/CPU)")
    for name, (wall, first, cpu) in results.items():
        print(f"{name:<12} {wall * 1000:6.0f}ms {first * 1000:12.0f}ms {cpu * 1000:6.0f}ms   "
              f"{wall / bare[0]:.2f} / {first / bare[1]:.2f} / {cpu / bare[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
