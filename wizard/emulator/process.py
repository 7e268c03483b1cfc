"""A demo tenant in a child process: `entra-cert-wizard emulator --json --until-stdin-closes`.

`wizard --demo` runs its demo tenant so. The tenant's server, TLS contexts, state and
libraries (http.server, email, its thread) stay out of the wizard's process and memory; the
child reads and writes the same state folder an in-process tenant would (made once, reused).
The wizard reads the child's first line into a DemoInfo and uses it as a workshop seat uses
its workshop's tenant.

The child ends with the wizard however the wizard ends: it stops when its standard input
closes, and the wizard holds the only other end of that pipe (the system closes it even when
the wizard is killed). It runs in a session of its own, so a Ctrl+C meant for the terminal's
program never reaches it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

from wizard.emulator.info import DemoInfo
from wizard.errors import UserError

# The first start makes three RSA keys: seconds on a busy machine, never a minute.
START_TIMEOUT_SECONDS = 60.0
# The child stops within a moment of its input closing; a hung one is killed after this.
STOP_TIMEOUT_SECONDS = 5.0
ERROR_TAIL_BYTES = 4000


class DemoTenantProcess:
    """`tenant = DemoTenantProcess(); info = tenant.start(); ...; tenant.stop()`."""

    def __init__(self, state_dir: Path | None = None) -> None:
        if state_dir is None:
            from wizard.paths import demo_tenant_dir

            state_dir = demo_tenant_dir()
        self.state_dir = state_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._info: DemoInfo | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> DemoInfo:
        """Start the child and read its DemoInfo; UserError says why it did not start."""
        if self._info is not None:
            return self._info
        command = [sys.executable, "-m", "wizard", "emulator", "--json", "--until-stdin-closes",
                   "--state", str(self.state_dir.absolute())]
        # Its log (stderr) goes to a file of its own, never to the terminal the wizard draws
        # on; a file, not a pipe, so a long session's log can never fill a buffer and block it.
        with tempfile.TemporaryFile() as log:
            try:
                self._process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                    start_new_session=True,
                )
            except OSError as error:
                raise UserError(
                    f"The demo tenant could not be started ({error.strerror or error})."
                ) from None
            line, timed_out = self._first_line(self._process)
            try:
                self._info = DemoInfo.from_json(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                self.stop()
                raise UserError(_failure(log, timed_out)) from None
        return self._info

    @staticmethod
    def _first_line(process: subprocess.Popen[bytes]) -> tuple[bytes, bool]:
        """The child's first stdout line (empty if it ended first); True if it timed out."""
        timed_out = threading.Event()

        def give_up() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(START_TIMEOUT_SECONDS, give_up)
        timer.daemon = True
        timer.start()
        stdout = process.stdout
        assert stdout is not None
        try:
            return stdout.readline(), timed_out.is_set()
        finally:
            timer.cancel()
            stdout.close()  # nothing else comes on it

    def cancel(self) -> None:
        """End a start in progress at once, from any thread: the child is killed (its state
        files are written atomically, so none is left half made) and `start()` then fails."""
        process = self._process
        if process is not None and self._info is None:
            with contextlib.suppress(OSError):
                process.kill()

    def stop(self) -> None:
        """Close the child's input (it stops), wait for it; kill it if it hangs."""
        process, self._process = self._process, None
        self._info = None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def info(self) -> DemoInfo:
        if self._info is None:
            raise RuntimeError("The demo tenant is not running: call start() first.")
        return self._info


def _failure(log: IO[bytes], timed_out: bool) -> str:
    """What to tell the user: what the child said (its last lines), or that it said nothing."""
    if timed_out:
        return (f"The demo tenant did not start within {START_TIMEOUT_SECONDS:.0f} seconds. "
                "Choose the real tenant, or try again.")
    log.seek(0, 2)
    size = log.tell()
    log.seek(max(0, size - ERROR_TAIL_BYTES))
    said = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines()]
    said = [line for line in said if line][-4:]
    if not said:
        return "The demo tenant ended before it was ready, without saying why. Try again."
    return "The demo tenant did not start:\n" + "\n".join(said)
