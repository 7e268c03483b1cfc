"""The benchmark command: every figure a ratio, ours against a yardstick, measured side by side.

    uv run python benchmarks/run.py [--quick] [--json-out FILE] [--only NAME ...]

Each figure runs ours and its yardstick alternately in the same run (several rounds, the
median of each), so machine noise hits both alike. The figures (details in README.md):

  startup     first rendered wizard screen vs a bare Textual app (benchmarks/startup.py)
  generate    `entra-cert-wizard generate` vs `openssl req -x509 -newkey rsa:2048 -nodes`
  test        `entra-cert-wizard test [--demo]` vs a bare MSAL script, same token requests
  throughput  the demo tenant's token endpoint vs a bare TLS HTTP server, 1/4/16 clients,
              and vs its goal of 1,000 requests/s at 16 (its line printed under the table)
  memory      peak RSS of a full pilot-driven demo run vs a bare Textual app

It reuses the colleagues' measurement scripts where they exist (startup.py's harness,
test_vs_msal.py's bare MSAL script, emulator_throughput.py's load clients). This module
imports only the standard library at the top: its helper entry point (`memory_main`) runs
in a child process.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# After the path set-up, so that `python benchmarks/run.py` finds the package.
from benchmarks import startup  # noqa: E402

HOME_ENV = "ENTRA_CERT_WIZARD_HOME"
PASSPHRASE_ENV = "ECW_BENCH_PASSPHRASE"
PASSPHRASE = "bench-Passphrase-7f3c9a"
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"
BENCHMARKS = ("startup", "generate", "test", "throughput", "memory")
# A child process that runs a helper entry point of this module.
HELPER = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from benchmarks import run; run.{name}(sys.argv[1:])"
)


class BenchmarkError(RuntimeError):
    """A measured process did not do its job: the figure would be meaningless."""


@dataclass(frozen=True)
class Bounds:
    """How much to measure: rounds of whole processes, and the load test's limits."""

    rounds: int
    generate_rounds: int
    memory_rounds: int
    load_rounds: int
    requests_per_level: int
    seconds_per_level: float
    levels: tuple[int, ...] = (1, 4, 16)
    bytecode: tuple[str, ...] = ("warm", "cold")
    """Which bytecode states to measure (see `environment`)."""


FULL = Bounds(rounds=9, generate_rounds=25, memory_rounds=3, load_rounds=3,
              requests_per_level=3000, seconds_per_level=3.0)
QUICK = Bounds(rounds=3, generate_rounds=5, memory_rounds=1, load_rounds=1,
               requests_per_level=120, seconds_per_level=1.5)
# For the CI smoke test: every benchmark once, just enough to return sane numbers.
TINY = Bounds(rounds=1, generate_rounds=1, memory_rounds=1, load_rounds=1,
              requests_per_level=8, seconds_per_level=1.0, bytecode=("warm",))


@dataclass
class Figure:
    """One comparison: the medians of ours and of the yardstick, and their ratio."""

    key: str
    title: str
    ours_label: str
    baseline_label: str
    unit: str
    ours: float = math.nan
    baseline: float = math.nan
    lower_is_better: bool = True
    samples_ours: list[float] = field(default_factory=list)
    samples_baseline: list[float] = field(default_factory=list)
    note: str = ""
    skipped: str | None = None
    goal: float | None = None
    """The ratio to stay within (at or below; at or above when higher is better)."""
    bytecode: str = ""
    """"warm" (bytecode cached, as every start after the first), "cold" (none), or ""."""
    detail: str = ""
    """A line printed under the table: what the figure rests on (the throughput goal's CPU)."""

    @classmethod
    def measured(cls, key: str, title: str, ours_label: str, baseline_label: str, unit: str,
                 ours: list[float], baseline: list[float], **extra: Any) -> Figure:
        return cls(key, title, ours_label, baseline_label, unit,
                   ours=statistics.median(ours), baseline=statistics.median(baseline),
                   samples_ours=ours, samples_baseline=baseline, **extra)

    @property
    def rounds(self) -> int:
        return min(len(self.samples_ours), len(self.samples_baseline))

    @property
    def met(self) -> bool | None:
        if self.goal is None or math.isnan(self.ratio):
            return None
        return self.ratio <= self.goal if self.lower_is_better else self.ratio >= self.goal

    @property
    def ratio(self) -> float:
        if self.skipped or not self.baseline or math.isnan(self.baseline):
            return math.nan
        return self.ours / self.baseline

    def to_json(self) -> dict[str, Any]:
        def clean(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 6)

        return {
            "key": self.key,
            "title": self.title,
            "ours": {"label": self.ours_label, "median": clean(self.ours),
                     "samples": [round(v, 6) for v in self.samples_ours]},
            "baseline": {"label": self.baseline_label, "median": clean(self.baseline),
                         "samples": [round(v, 6) for v in self.samples_baseline]},
            "unit": self.unit,
            "ratio": clean(self.ratio),
            "lower_is_better": self.lower_is_better,
            "rounds": self.rounds,
            "note": self.note,
            "skipped": self.skipped,
            "goal": self.goal,
            "met": self.met,
            "bytecode": self.bytecode,
            "detail": self.detail,
        }


# ---------------------------------------------------------------------------- plumbing


def cli_command() -> list[str]:
    """`entra-cert-wizard` as a user runs it: the console script of this environment."""
    name = "entra-cert-wizard.exe" if os.name == "nt" else "entra-cert-wizard"
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", "wizard"]


def helper_command(name: str, *argv: str) -> list[str]:
    return [sys.executable, "-c", HELPER.format(root=str(ROOT), name=name), *argv]


def run_process(
    command: Sequence[str], env: dict[str, str], *, expect: tuple[int, ...] = (0,),
    timeout: float = 300,
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a whole process; its wall time, or BenchmarkError if it did not succeed."""
    started = time.perf_counter()
    done = subprocess.run(list(command), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in expect:
        shown = " ".join(command[:4])
        raise BenchmarkError(f"{shown} ... exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, done


def environment(home: Path, bytecode: Path | None = None, *, warm: bool = True) -> dict[str, str]:
    """The environment of a measured process. With `bytecode` (a PYTHONPYCACHEPREFIX folder):
    warm reads and writes .pyc files there; cold (PYTHONDONTWRITEBYTECODE=1, the folder kept
    empty) compiles every module on every start. This machine may set
    PYTHONDONTWRITEBYTECODE itself: without a folder its setting is kept, unsaid."""
    env = {**os.environ, HOME_ENV: str(home), PASSPHRASE_ENV: PASSPHRASE}
    if bytecode is not None:
        env["PYTHONPYCACHEPREFIX"] = str(bytecode)
        if warm:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def bytecode_folder(workdir: Path, kind: str) -> Path:
    folder = workdir / f"pycache-{kind}"
    folder.mkdir(exist_ok=True)
    return folder


# ---------------------------------------------------------------------------- start-up


def bench_startup(bounds: Bounds, workdir: Path) -> list[Figure]:
    """The first frame on a terminal and the complete screen (footer keys shown), the wizard
    against a bare Textual app; warm and cold bytecode (benchmarks/startup.py)."""
    figures: list[Figure] = []
    for kind in bounds.bytecode:
        folder = workdir / kind
        folder.mkdir()
        try:
            runs = startup.measure(startup.STARTUP_VARIANTS, bounds.rounds, warm=kind == "warm",
                                   workdir=folder, warm_up=bounds.rounds > 1)
        except startup.RunFailed as failed:
            raise BenchmarkError(str(failed)) from None

        def ms(name: str, measure: str, runs: dict[str, list[startup.Sample]] = runs) -> list[float]:
            return [getattr(sample, measure) * 1000 for sample in runs[name]]

        bare = "bare Textual app (one Static)"
        cold = kind == "cold"
        rows = (
            ("first-frame", "First frame, real tenant", "entra-cert-wizard", "wizard",
             "first_frame", 1.15 if cold else 1.10),
            ("first-frame-demo", "First frame, --demo", "entra-cert-wizard --demo",
             "wizard-demo", "first_frame", 1.15 if cold else 1.10),
            ("complete", "Complete screen (footer keys), real tenant", "entra-cert-wizard",
             "wizard", "complete", None if cold else 1.20),
            ("complete-demo", "Complete screen (footer keys), --demo",
             "entra-cert-wizard --demo", "wizard-demo", "complete", None if cold else 1.20),
            ("cpu-first-frame", "CPU time to the first frame, real tenant", "entra-cert-wizard",
             "wizard", "first_frame_cpu", None),
            ("header-footer", "First frame, bare app with Header+Footer (yardstick)",
             "bare app + Header + Footer", "bare-hf", "first_frame", None),
        )
        for key, title, label, name, measure, goal in rows:
            cpu = measure.endswith("_cpu")
            figures.append(Figure.measured(
                f"startup.{key}.{kind}", title, label, bare, "ms", ms(name, measure),
                ms("bare", measure), goal=goal, bytecode=kind,
                note=("all threads' CPU time (scheduler), less disturbed by a busy machine"
                      if cpu else "from process start, read on a pseudo-terminal")))
    return figures


# ---------------------------------------------------------------------------- generate


def bench_generate(bounds: Bounds, workdir: Path) -> list[Figure]:
    """Whole processes: our generate (no passphrase, and with one) vs openssl req, warm and
    cold bytecode."""
    titles = {"no-passphrase": "generate vs openssl req",
              "passphrase": "generate with passphrase (+ .pfx) vs openssl req"}
    openssl = shutil.which("openssl")
    if openssl is None:
        return [Figure(f"generate.{key}.{kind}", title, "entra-cert-wizard generate",
                       "openssl req", "ms", skipped="openssl not found on PATH", bytecode=kind)
                for kind in bounds.bytecode for key, title in titles.items()]
    counter = iter(range(1_000_000))

    def fresh() -> Path:
        folder = workdir / f"generate-{next(counter)}"
        folder.mkdir()
        return folder

    def ours(passphrase: bool) -> list[str]:
        secret = ["--passphrase-env", PASSPHRASE_ENV] if passphrase else ["--no-passphrase"]
        return [*cli_command(), "generate", "--name", "bench", *secret, "--out", str(fresh())]

    def theirs() -> list[str]:
        out = fresh()
        return [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                "-keyout", str(out / "bench.key"), "-out", str(out / "bench.pem"),
                "-subj", "/CN=bench", "-days", "365"]

    commands: dict[str, Callable[[], list[str]]] = {
        "ours": lambda: ours(False), "ours+pfx": lambda: ours(True), "openssl": theirs,
    }
    note = "RSA 2048 key generation is random in length: compare medians of many rounds"
    figures: list[Figure] = []
    for kind in bounds.bytecode:
        env = environment(workdir / "generate-home", bytecode_folder(workdir, kind),
                          warm=kind == "warm")
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for make in commands.values():
            run_process(make(), env)  # fills the bytecode folder when warm; the file cache
        for _ in range(bounds.generate_rounds):  # key generation time is random: many rounds
            for name, make in commands.items():
                samples[name].append(run_process(make(), env)[0] * 1000)
        figures += [
            Figure.measured(f"generate.no-passphrase.{kind}", titles["no-passphrase"],
                            "generate --no-passphrase (.cer .pem .key)",
                            "openssl req -x509 -nodes", "ms", samples["ours"],
                            samples["openssl"], note=note, bytecode=kind,
                            goal=0.9 if kind == "warm" else 1.1),
            Figure.measured(f"generate.passphrase.{kind}", titles["passphrase"],
                            "generate --passphrase-env (.cer .pem .key .pfx)",
                            "openssl req -x509 -nodes", "ms", samples["ours+pfx"],
                            samples["openssl"], bytecode=kind,
                            note="encrypted key + PFX: two PBKDF2 derivations ours only"),
        ]
    return figures


# ---------------------------------------------------------------------------- test vs MSAL


def _demo_credential(folder: Path) -> tuple[Path, Path, Any]:
    """A new certificate and its unencrypted key as PEM files; and the certificate."""
    from wizard import certs

    generated = certs.generate_certificate("BenchTest", days=90)
    folder.mkdir(mode=0o700)
    cert_file, key_file = folder / "bench.pem", folder / "bench.key"
    cert_file.write_bytes(certs.cert_pem(generated.certificate))
    key_file.touch(mode=0o600)
    key_file.write_bytes(certs.key_pem(generated.private_key, None))
    return cert_file, key_file, generated.certificate


def bench_test(bounds: Bounds, workdir: Path) -> list[Figure]:
    """`test` (positive + negative) vs the bare MSAL script of benchmarks/test_vs_msal.py,
    whole processes, interleaved: against one running demo tenant (`emulator`, its own
    process), and `test --demo`, which starts its own tenant on the same state; warm and cold
    bytecode (the bare script's too)."""
    from benchmarks.test_vs_msal import BARE_MSAL_SCRIPT
    from wizard import certs
    from wizard.portal import PortalClient

    home = workdir / "test-home"
    state = home / "data" / "demo-tenant"  # where `test --demo` keeps its demo tenant
    env = environment(home)
    cert_file, key_file, certificate = _demo_credential(workdir / "bench-cert")
    with serving([*cli_command(), "emulator", "--json", "--state", str(state)], env) as info:
        PortalClient(str(info["portal"]), str(info["ca_bundle"])).upload_certificate(
            str(info["client_id"]), certs.cert_der(certificate))
        ours = [*cli_command(), "test", "--cert", str(cert_file), "--key", str(key_file), "--json"]
        cases = {
            "demo": [*ours, "--demo"],
            "running": [*ours, "--authority-host", str(info["authority_host"]),
                        "--graph-endpoint", str(info["graph_endpoint"]),
                        "--ca-bundle", str(info["ca_bundle"]),
                        "--tenant", str(info["tenant_id"]), "--client-id", str(info["client_id"])],
            "msal": [sys.executable, "-c", BARE_MSAL_SCRIPT,
                     json.dumps({**info, "cert": str(cert_file), "key": str(key_file)})],
        }
        figures: list[Figure] = []
        for kind in bounds.bytecode:
            measured = environment(home, bytecode_folder(workdir, kind), warm=kind == "warm")
            for name, command in cases.items():  # warm-up, and check that each does its job
                _, done = run_process(command, measured)
                if name != "msal" and json.loads(done.stdout)["verdict"] != "pass":
                    raise BenchmarkError(f"test ({name}) did not pass: {done.stdout[-2000:]}")
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(bounds.rounds):
                for name, command in cases.items():
                    samples[name].append(run_process(command, measured)[0] * 1000)
            msal = "bare MSAL script (test_vs_msal.py), running tenant"
            figures += [
                Figure.measured(f"test.running-tenant.{kind}",
                                "test (positive + negative) vs bare MSAL",
                                "entra-cert-wizard test, running tenant", msal, "ms",
                                samples["running"], samples["msal"], bytecode=kind,
                                note="same tenant, same token requests; ours adds pre-flight, "
                                "discovery and the explanations"),
                Figure.measured(f"test.demo.{kind}",
                                "test --demo (starts its own tenant) vs bare MSAL",
                                "entra-cert-wizard test --demo", msal, "ms",
                                samples["demo"], samples["msal"], bytecode=kind,
                                goal=1.2 if kind == "warm" else None,
                                note="ours also starts and stops the demo tenant in-process"),
            ]
    return figures


# ---------------------------------------------------------------------------- throughput


@contextlib.contextmanager
def serving(command: Sequence[str], env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Start a server process that prints one JSON line once it listens; stop it after."""
    process = subprocess.Popen(list(command), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise BenchmarkError(f"{command[0]} did not start: {process.communicate()[1][-2000:]}")
        yield dict(json.loads(line))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_throughput(bounds: Bounds, workdir: Path) -> list[Figure]:
    """Token requests against the demo tenant (`entra-cert-wizard emulator`, its own process)
    and against the do-nothing TLS server, alternately, at each concurrency level; the
    servers, the clients (one assertion each, several processes) and the yardstick are
    benchmarks/emulator_throughput.py's."""
    from benchmarks import emulator_throughput as load

    figures: list[Figure] = []
    goal = load.Goal(quick=bounds != FULL)
    load_before = os.getloadavg()[0]
    with load.both_servers(workdir / "throughput", max(bounds.levels)) as servers, \
            load.ClientPool(load.CLIENT_PROCESSES) as pool:
        for level in bounds.levels:
            rates: dict[str, list[float]] = {"demo": [], "yardstick": []}
            p50: dict[str, list[float]] = {"demo": [], "yardstick": []}
            p99: dict[str, list[float]] = {"demo": [], "yardstick": []}
            for _ in range(bounds.load_rounds):
                rows = {}
                for name, (info, pid, forms) in servers.items():
                    row = rows[name] = load.run_level(
                        pool, info, forms, level, bounds.seconds_per_level,
                        bounds.requests_per_level, server_pid=pid)
                    if row["failures"] or not row["requests"]:
                        raise BenchmarkError(f"{name}, {level} clients: {row}")
                    rates[name].append(float(row["requests_per_second"]))
                    p50[name].append(float(row["p50_ms"]))
                    p99[name].append(float(row["p99_ms"]))
                if level == load.GOAL_CLIENTS:
                    goal.rounds.append(rows)
            labels = ("demo tenant token endpoint", "bare TLS server, fixed answer")
            clients = f"{level} client{'s' if level > 1 else ''}"
            figures += [
                Figure.measured(f"throughput.rps.{level}", f"Token requests/s, {clients}",
                                *labels, "req/s", rates["demo"], rates["yardstick"],
                                lower_is_better=False),
                Figure.measured(f"throughput.p50.{level}", f"Latency p50, {clients}",
                                *labels, "ms", p50["demo"], p50["yardstick"]),
                Figure.measured(f"throughput.p99.{level}", f"Latency p99, {clients}",
                                *labels, "ms", p99["demo"], p99["yardstick"]),
            ]
    if goal.rounds:
        goal.primitives = load.measure_primitives()
        goal.load = (load_before, os.getloadavg()[0])
        rates = goal.values("demo", "requests_per_second")
        figures.append(Figure.measured(
            "throughput.goal", f"Token requests/s, {load.GOAL_CLIENTS} clients, vs the goal",
            "demo tenant token endpoint", "the goal", "req/s", rates,
            [load.GOAL_RPS] * len(rates), lower_is_better=False, goal=1.0, bytecode="warm",
            detail=goal.line()))
    return figures


# ---------------------------------------------------------------------------- memory


def _peak_kib(status_file: Path) -> int | None:
    """VmHWM (peak resident memory, KiB) from a /proc/PID/status file, None where unknown."""
    with contextlib.suppress(OSError):
        for line in status_file.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


async def _drive_wizard(tenant_peak: list[int]) -> list[str]:
    """A full demo run with the pilot, as a user at the keyboard: every step, both tests. As
    with --demo, the Welcome step starts the demo tenant in a child process (its peak memory
    is added to `tenant_peak` at the end: not counted in the figure, said beside it)."""
    from wizard.app import CertWizardApp

    seen: list[str] = []
    app = CertWizardApp(demo=True)
    try:
        async with app.run_test(size=(80, 24)) as pilot:

            async def settle() -> None:
                for _ in range(3000):
                    screen = app.screen
                    if not any(w.node is screen and not w.is_finished for w in app.workers):
                        break
                    await pilot.pause(0.02)
                await pilot.pause()

            async def on(name: str) -> None:
                for _ in range(3000):
                    if type(app.screen).__name__ == name:
                        break
                    await pilot.pause(0.02)
                if type(app.screen).__name__ != name:
                    raise BenchmarkError(f"expected {name}, on {type(app.screen).__name__}")
                await settle()
                seen.append(name)

            await on("WelcomeScreen")
            await pilot.press("enter")
            await on("NameScreen")
            app.screen.query_one("#passphrase").focus()
            await pilot.press(*PASSPHRASE)
            app.screen.query_one("#confirm").focus()
            await pilot.press(*PASSPHRASE)
            await pilot.press("enter")
            await on("GenerateScreen")
            await pilot.press("enter")
            await on("UploadScreen")
            await pilot.press("enter")  # "Upload to the demo tenant"
            await settle()
            await pilot.press("enter")
            await on("ThumbprintScreen")
            await pilot.press("enter")
            await on("IdsScreen")
            await pilot.press("enter")  # "Fill from the demo tenant"
            await pilot.pause()
            await pilot.press("enter")
            await on("PositiveScreen")
            if app.state.positive is None or not app.state.positive.ok:
                raise BenchmarkError("the positive test did not pass in the memory run")
            await pilot.press("enter")
            await on("NegativeScreen")
            await pilot.press("enter")
            await on("SummaryScreen")
            tenant = app.state.demo_tenant
            peak = _peak_kib(Path(f"/proc/{tenant.pid}/status")) if tenant and tenant.pid else None
            tenant_peak.extend([peak] if peak is not None else [])
            await pilot.press("enter")  # Finish
            await pilot.pause()
    finally:
        app.stop_demo_tenant()
    return seen


async def _drive_bare() -> list[str]:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Input, Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Hello")
            yield Input()
            yield Footer()

    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"hello", "enter")
        await pilot.pause()
    return ["Bare"]


def memory_main(argv: Sequence[str]) -> None:
    """Child process: drive one app ("wizard" or "bare") and print its peak RSS.

    On Linux ru_maxrss survives exec(): a child of a big process (pytest) reports its
    parent's size. /proc/self/status VmHWM belongs to this process image alone, so it is
    the figure where it exists; ru_maxrss is printed beside it.
    """
    import asyncio
    import resource

    tenant_peak: list[int] = []
    seen = asyncio.run(_drive_wizard(tenant_peak) if argv[0] == "wizard" else _drive_bare())
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        maxrss //= 1024  # bytes there, KiB on Linux
    hwm = _peak_kib(Path("/proc/self/status"))
    print(json.dumps({"steps": seen, "maxrss_kib": maxrss, "vmhwm_kib": hwm,
                      "peak_kib": hwm if hwm is not None else maxrss,
                      "demo_tenant_peak_kib": tenant_peak[0] if tenant_peak else None}))


def bench_memory(bounds: Bounds, workdir: Path) -> list[Figure]:
    """Peak RSS of a pilot-driven full demo run vs a bare Textual app's. Peak memory does not
    depend on timing, so the two children of a round run side by side. Warm bytecode after
    an unmeasured warm-up round when there are several rounds; a single round (the smoke
    test) is cold for both, said so."""
    if sys.platform == "win32":
        return [Figure("memory.peak", "Peak memory, full demo run", "wizard", "bare", "MiB",
                       skipped="resource.getrusage is POSIX only")]
    warm = bounds.memory_rounds > 1
    kind = "warm" if warm else "cold"
    folder = bytecode_folder(workdir, kind)
    samples: dict[str, list[float]] = {"wizard": [], "bare": []}
    tenant_samples: list[float] = []
    steps: list[str] = []
    for index in range(-1 if warm else 0, bounds.memory_rounds):
        running = {
            app: subprocess.Popen(helper_command("memory_main", app), cwd=ROOT,
                                  env=environment(workdir / f"memory-{app}-{index}", folder,
                                                  warm=warm),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for app in samples
        }
        for app, process in running.items():
            out, err = process.communicate(timeout=300)
            if process.returncode != 0:
                raise BenchmarkError(f"memory run ({app}) exited {process.returncode}:\n"
                                     f"{err[-3000:]}")
            report = json.loads(out.strip().splitlines()[-1])
            if app == "wizard":
                steps = report["steps"]
            if index >= 0:
                samples[app].append(report["peak_kib"] / 1024)
                if report.get("demo_tenant_peak_kib"):
                    tenant_samples.append(report["demo_tenant_peak_kib"] / 1024)
    if len(steps) != 9:
        raise BenchmarkError(f"the wizard run saw {len(steps)} steps, not 9: {steps}")
    return [Figure.measured("memory.peak", "Peak memory (RSS), full demo run: 9 steps",
                            "wizard --demo, pilot-driven", "bare Textual app, pilot-driven",
                            "MiB", samples["wizard"], samples["bare"], goal=1.6, bytecode=kind,
                            note="peak RSS (VmHWM on Linux, else ru_maxrss) of the wizard's "
                            "process; the demo tenant runs in a child process, as with --demo"
                            + (f" (its own peak: {statistics.median(tenant_samples):.1f} MiB)"
                               if tenant_samples else ""))]


# ---------------------------------------------------------------------------- the command


RUNNERS: dict[str, Callable[[Bounds, Path], list[Figure]]] = {
    "startup": bench_startup,
    "generate": bench_generate,
    "test": bench_test,
    "throughput": bench_throughput,
    "memory": bench_memory,
}


def run_benchmarks(names: Sequence[str], bounds: Bounds,
                   progress: Callable[[str], None] | None = None) -> list[Figure]:
    """Run the named benchmarks in a private temporary folder; every figure they measured."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="ecw-bench-") as temp:
        for name in names:
            if progress:
                progress(f"measuring {name} ...")
            workdir = Path(temp) / name
            workdir.mkdir()
            started = time.perf_counter()
            figures += RUNNERS[name](bounds, workdir)
            if progress:
                progress(f"  {name}: {time.perf_counter() - started:.1f} s")
    return figures


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _spread(median: float, samples: Sequence[float], unit: str) -> str:
    """The median with the samples' min-max: "221 (205-260) ms"."""
    if not samples:
        return "-"
    low, high = _number(min(samples), unit), _number(max(samples), unit)
    return f"{_number(median, unit)} ({low}-{high}) {unit}"


def paired_ratios(figure: Figure) -> list[float]:
    """Round by round, ours over the yardstick measured beside it."""
    return [ours / base for ours, base in zip(figure.samples_ours, figure.samples_baseline,
                                              strict=False) if base]


def _goal(figure: Figure) -> str:
    if figure.goal is None:
        return ""
    sign = "<=" if figure.lower_is_better else ">="
    return f"{sign} {figure.goal:.2f}x {'met' if figure.met else 'MISSED'}"


def table(figures: Sequence[Figure]) -> str:
    """One row per figure: bytecode, ours and the yardstick (median, min-max), the ratio of
    the medians with the min-max of the paired ratios, the goal, n."""
    rows = [("figure", "bytecode", "ours", "yardstick", "ratio (paired min-max)", "goal", "n")]
    for figure in figures:
        if figure.skipped:
            rows.append((figure.title, figure.bytecode, "skipped", figure.skipped, "", "", ""))
            continue
        pairs = paired_ratios(figure)
        spread = f" ({min(pairs):.2f}-{max(pairs):.2f})" if pairs else ""
        rows.append((figure.title, figure.bytecode,
                     _spread(figure.ours, figure.samples_ours, figure.unit),
                     _spread(figure.baseline, figure.samples_baseline, figure.unit),
                     f"{figure.ratio:.2f}x{spread}", _goal(figure), str(figure.rounds)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i in (0, 1, 4, 5) else
                               cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import importlib.metadata as metadata

    versions = {}
    for package in ("entra-cert-wizard", "textual", "cryptography", "msal"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    openssl = shutil.which("openssl")
    openssl_version = ""
    if openssl:
        openssl_version = subprocess.run([openssl, "version"], capture_output=True, text=True,
                                         check=False).stdout.strip()
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "versions": versions, "openssl": openssl_version}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: fewer rounds, a shorter load test; its figures are "
                        "not results")
    parser.add_argument("--json-out", metavar="FILE", default=str(DEFAULT_JSON),
                        help="where to write every figure with its samples "
                        "(default: benchmarks/results/latest.json, not tracked by git)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS),
                        metavar="NAME", help=f"run only these: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    bounds = QUICK if args.quick else FULL
    started = time.perf_counter()
    try:
        figures = run_benchmarks(args.only, bounds,
                                 lambda text: print(text, file=sys.stderr, flush=True))
    except BenchmarkError as error:
        print(f"error: a benchmark failed, so its figures would mean nothing:\n{error}",
              file=sys.stderr)
        return 1
    if args.quick:
        print("SMOKE RUN (--quick): too few rounds for results; quote only the full run.\n")
    print(table(figures))
    for figure in figures:
        if figure.detail:
            print(f"\n{figure.title}: {figure.detail}")
    document = {
        "command": "uv run python benchmarks/run.py" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "smoke_only": args.quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "bounds": dataclasses.asdict(bounds),
        "figures": [figure.to_json() for figure in figures],
    }
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nEvery figure with its samples: {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
