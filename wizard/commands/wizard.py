"""The interactive wizard (the default command): `entra-cert-wizard [--demo]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """The wizard as a parsed command line asks for it (`--debug` too)."""
    return open_wizard(demo=bool(getattr(args, "demo", False)))


def open_wizard(*, demo: bool) -> int:
    """Open the wizard; with demo it walks the same flow against the built-in demo tenant.

    The demo tenant is started by the Welcome step in a worker (the first screen does not wait
    for it), in a child process that stops when the wizard closes, however it closes.
    """
    from wizard.app import CertWizardApp, new_event_loop

    app = CertWizardApp(demo=demo)
    loop = new_event_loop()
    try:
        app.run(loop=loop)
    finally:
        app.stop_demo_tenant()
        loop.close()
    if app.finish_note:
        print(app.finish_note)
    return int(app.return_code or 0)
