"""The engine stays light: importing the sign-in modules pulls in neither Textual nor
MSAL nor requests (the wizard's first screen and `generate` must not pay for them); the plan
names nothing heavy (the layers as a whole: test_engine_isolation)."""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
import time
from pathlib import Path

from import_graph import import_graph, imported_names

from wizard.signin.positive import _clock_skew

WIZARD = Path(__file__).resolve().parent.parent / "wizard"
SIGNIN_MODULES = sorted(
    f"wizard.signin.{path.stem}" for path in (WIZARD / "signin").glob("*.py")
    if path.stem != "__init__"
)


def test_the_plan_names_no_heavy_module() -> None:
    """Screens and the CLI draw their rows from the plan before any test runs."""
    assert import_graph()["wizard.signin.plan"] <= {
        "wizard.signin",
        "wizard.signin.catalogue",
        "wizard.signin.tokens",
    }
    named = {name.split(".")[0] for name in imported_names(WIZARD / "signin" / "plan.py")}
    assert not named & {"msal", "requests", "cryptography", "textual"}


def test_signin_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "import wizard.inputs, wizard.commands.test\n"
        f"import {', '.join(SIGNIN_MODULES)}\n"
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
