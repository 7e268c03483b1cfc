"""The engine stays light: importing the connection modules pulls in neither Textual nor
MSAL nor requests (the wizard's first screen and `generate` must not pay for them)."""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
import time

from wizard.connection import _clock_skew


def test_connection_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "import wizard.clouds, wizard.inputs, wizard.catalogue, wizard.connection, "
        "wizard.jwt_inspect, wizard.probes, wizard.commands.test\n"
        "print(json.dumps(sorted(m for m in ('textual', 'msal', 'requests', 'jwt') "
        "if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_clock_skew_from_the_date_header() -> None:
    now = time.time()
    assert _clock_skew(email.utils.formatdate(now, usegmt=True), now) == 0.0
    behind = _clock_skew(email.utils.formatdate(now + 300, usegmt=True), now)
    assert behind is not None and 299 <= behind <= 301  # this clock is 5 minutes behind
    ahead = _clock_skew(email.utils.formatdate(now - 180, usegmt=True), now)
    assert ahead is not None and -181 <= ahead <= -179
    assert _clock_skew(None, now) is None
    assert _clock_skew("not a date", now) is None
