"""Nothing lost: `generate --force` killed with SIGKILL at random moments, again and again.

tests/test_storage.py kills a handful of runs and checks that no final name holds a partial
key or PFX. This goes further, over one certificate name replaced again and again with
--force: after every kill, every key that was ever in place is still somewhere whole (in
place, or in a backup folder), the final name holds a complete set, and a new set in place
always has its predecessor in a backup. Half the kills are aimed at the moment the staging
folder appears (the write phase), the others land anywhere in the run. A second loop does
the same where the kernel cannot swap folders atomically (the two-rename fallback): there
the final name may be empty for an instant, but the old key must still never be lost.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wizard import certs

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX only")

NAME = "Crash"
PASSPHRASE = "crash-Passphrase-4e1d"
PASS_ENV = "ECW_CRASH_PASSPHRASE"
SET_FILES = sorted(f"{NAME}{suffix}" for suffix in (".cer", ".key", ".pem", ".pfx"))
# The command as installed: the console script runs wizard.entry.run.
CLI = "import sys, wizard.entry; sys.exit(wizard.entry.run(sys.argv[1:]))"
# The same command where renameat2(RENAME_EXCHANGE) is unavailable (other kernels, macOS).
CLI_NO_EXCHANGE = (
    "import sys, wizard.storage as storage; storage._exchange = lambda first, second: False\n"
    + CLI
)


def generate(root: Path, script: str) -> list[str]:
    return [sys.executable, "-c", script, "generate", "--name", NAME, "--out", str(root),
            "--passphrase-env", PASS_ENV, "--force", "--json"]


@dataclass
class Survey:
    """What is under the certificates folder: the set in place and the backed-up sets."""

    final: str | None  # thumbprint of the set at the final name
    backups: dict[str, str]  # backup folder name -> thumbprint
    staging: int  # hidden staging folders left by killed runs (never a final name)

    @property
    def everywhere(self) -> set[str]:
        return {*self.backups.values(), *([self.final] if self.final else [])}


@dataclass
class Checker:
    """Opens every set whole (key with the passphrase, PFX, matching certificate), once."""

    seen: dict[tuple[object, ...], str] = field(default_factory=dict)

    def thumbprint(self, folder: Path) -> str:
        entries = sorted(folder.iterdir())
        names = [p.name for p in entries]
        assert names == SET_FILES, f"{folder.name} is not a complete set: {names}"
        identity = (folder.stat().st_ino, *((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                            for p in entries))
        if identity not in self.seen:
            cert = certs.load_certificate_file(folder / f"{NAME}.cer")
            assert certs.load_certificate_file(folder / f"{NAME}.pem") == cert
            key = certs.load_private_key_file(folder / f"{NAME}.key", PASSPHRASE.encode())
            pfx_cert, pfx_key = certs.load_pfx_file(folder / f"{NAME}.pfx", PASSPHRASE.encode())
            assert certs.key_matches_certificate(key, cert)
            assert pfx_cert == cert and certs.key_matches_certificate(pfx_key, cert)
            self.seen[identity] = certs.thumbprint_sha1(cert)
        return self.seen[identity]

    def survey(self, root: Path) -> Survey:
        final: str | None = None
        backups: dict[str, str] = {}
        staging = 0
        for entry in root.iterdir():
            if entry.name.startswith(f".{NAME}.staging-"):
                staging += 1  # may be partial: it is never read by anyone
            elif entry.name == NAME:
                final = self.thumbprint(entry)
            elif entry.name.startswith(f"{NAME}.backup-"):
                backups[entry.name] = self.thumbprint(entry)
            else:
                raise AssertionError(f"unexpected entry {entry.name}")
        return Survey(final, backups, staging)


def kill_at_random_moments(
    root: Path, script: str, *, kills: int, enough: Callable[[dict[str, int]], bool],
    budget: float, atomic_swap: bool,
) -> dict[str, int]:
    """Kill runs and check the invariants after each, until the outcomes are `enough` (or
    `kills` runs, or `budget` seconds: ceilings for a slow machine, never the usual end)."""
    env = {**os.environ, PASS_ENV: PASSPHRASE}
    checker = Checker()
    started = time.monotonic()
    subprocess.run(generate(root, script), env=env, check=True, capture_output=True, timeout=60)
    whole_run = time.monotonic() - started
    before = checker.survey(root)
    assert before.final is not None
    ever_in_place = {before.final}
    chooser = random.Random(20261127 + int(atomic_swap))
    outcomes = {"finished": 0, "killed while writing": 0, "killed before writing": 0,
                "killed between swap steps": 0, "final name empty": 0}
    for attempt in range(kills):
        if enough(outcomes) or time.monotonic() - started > budget:
            break
        process = subprocess.Popen(generate(root, script), env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staging_seen = False
        mode = attempt % 3
        if mode == 0:  # anywhere in the run
            time.sleep(chooser.uniform(0, whole_run * 1.2))
        else:  # aim at the write phase (1), or at the moment the staging folder is renamed (2)
            pattern = f".{NAME}.staging-{process.pid}-*"
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                present = any(root.glob(pattern))
                if present and mode == 1:
                    staging_seen = True
                    time.sleep(chooser.uniform(0, 0.03))
                    break
                if present:
                    staging_seen = True
                elif staging_seen:
                    break  # renamed away: the swap is under way
                time.sleep(0.0005)
        process.send_signal(signal.SIGKILL)
        returncode = process.wait(timeout=30)

        after = checker.survey(root)
        lost = ever_in_place - after.everywhere
        assert not lost, f"attempt {attempt}: the key(s) {lost} are gone: {after}"
        if after.final is None:
            # Only the two-rename fallback has this instant; the old set is in a backup.
            assert not atomic_swap, f"attempt {attempt}: nothing under the final name"
            outcomes["final name empty"] += 1
        elif after.final != before.final:
            assert before.final is None or before.final in after.backups.values(), (
                f"attempt {attempt}: a new set is in place but the old one is in no backup"
            )
            ever_in_place.add(after.final)
        appeared = {after.backups[name] for name in after.backups.keys() - before.backups.keys()}
        if after.final == before.final and appeared - ever_in_place:
            outcomes["killed between swap steps"] += 1  # the new set waited under a backup name
        wrote = staging_seen or after.backups != before.backups or after.final != before.final
        if returncode == 0:
            outcomes["finished"] += 1
        elif wrote or any(root.glob(f".{NAME}.staging-{process.pid}-*")):
            outcomes["killed while writing"] += 1
        else:
            outcomes["killed before writing"] += 1
        before = after
    return outcomes


def enough_with_atomic_swap(outcomes: dict[str, int]) -> bool:
    killed = outcomes["killed while writing"] + outcomes["killed before writing"]
    return killed >= 20 and outcomes["killed while writing"] >= 10


def enough_with_two_renames(outcomes: dict[str, int]) -> bool:
    return outcomes["killed while writing"] >= 4


def test_sigkill_during_force_replacement_never_loses_the_old_key(tmp_path: Path) -> None:
    outcomes = kill_at_random_moments(tmp_path / "certificates", CLI, kills=48,
                                      enough=enough_with_atomic_swap, budget=120,
                                      atomic_swap=sys.platform.startswith("linux"))
    print(f"SIGKILL outcomes (atomic swap): {outcomes}")
    assert enough_with_atomic_swap(outcomes), outcomes


def test_sigkill_without_an_atomic_swap_never_loses_the_old_key(tmp_path: Path) -> None:
    outcomes = kill_at_random_moments(tmp_path / "certificates", CLI_NO_EXCHANGE, kills=18,
                                      enough=enough_with_two_renames, budget=60,
                                      atomic_swap=False)
    print(f"SIGKILL outcomes (two renames): {outcomes}")
    assert enough_with_two_renames(outcomes), outcomes


def test_ctrl_c_at_random_moments_is_one_line_and_leaves_old_or_new(tmp_path: Path) -> None:
    """SIGINT (Ctrl+C) mid-generate: exit 130 with one line (or 0 if it had finished), no
    traceback, no staging folder left behind, and the old set or the new one in place."""
    # The interrupt lands at random: during imports, key generation, writing or exit.
    root = tmp_path / "certificates"
    env = {**os.environ, PASS_ENV: PASSPHRASE}
    subprocess.run(generate(root, CLI), env=env, check=True, capture_output=True, timeout=60)
    checker = Checker()
    chooser = random.Random(7)
    codes: dict[int, int] = {}
    for attempt in range(12):
        before = checker.survey(root)
        process = subprocess.Popen(generate(root, CLI), env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(chooser.uniform(0.05, 0.45))
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        codes[process.returncode] = codes.get(process.returncode, 0) + 1
        # -SIGINT: the signal came before Python set up its handler, or after it was done
        # (at interpreter exit): either way nothing is half-written.
        assert process.returncode in (0, 130, -signal.SIGINT), (attempt, process.returncode, stderr)
        assert "Traceback" not in stderr, stderr
        if process.returncode == 130:
            assert "Interrupted" in stderr
        after = checker.survey(root)
        assert after.staging == 0, "Ctrl+C must clean up its staging folder"
        assert before.final in after.everywhere
        if after.final != before.final:
            assert before.final in after.backups.values()
    print(f"Ctrl+C outcomes (exit code: runs): {codes}")
    assert codes.get(130, 0) >= 3, codes


def test_ctrl_c_while_the_program_loads_is_the_same_one_line() -> None:
    """The interrupt lands while Python is still importing the command line (a slow disk, a
    cold start): the installed command ends with the one line, never a traceback."""
    script = (
        "import importlib.abc, os, signal, sys\n"
        "class InterruptOnLoad(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'wizard.cli':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, InterruptOnLoad())\n"
        "import wizard.entry\n"
        "sys.exit(wizard.entry.run(['--version']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (130, "")
    assert done.stderr == "Interrupted: nothing was left half-written.\n"


def test_ctrl_c_inside_pythons_own_callbacks_prints_no_traceback() -> None:
    """An interrupt that lands inside a clean-up callback (an import's module lock, a weakref)
    cannot interrupt anything: it is dropped quietly; any other such error is still shown."""
    script = (
        "import sys, weakref, wizard.entry\n"
        "try:\n"
        "    wizard.entry.run(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "class Thing: pass\n"
        "def interrupted(ref): raise KeyboardInterrupt\n"
        "def broken(ref): raise RuntimeError('a real bug')\n"
        "first, second = Thing(), Thing()\n"
        "refs = [weakref.ref(first, interrupted), weakref.ref(second, broken)]\n"
        "del first, second\n"
        "print('went on')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.endswith("went on\n")
    assert "KeyboardInterrupt" not in done.stderr
    assert "RuntimeError: a real bug" in done.stderr
