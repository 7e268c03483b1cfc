"""The process's entry point (the `entra-cert-wizard` command and `python -m wizard`).

Ctrl+C is quiet from the first moment: until the command line takes over, an interrupt
(while Python loads the program) ends the process with the same one line a running command
prints, never a traceback. Nothing can be half-written yet: no command has started. So this
module loads as little as it can before the handler is in place (no typing, no annotations
import).
"""

import signal
import sys

from wizard import EXIT_INTERRUPTED, INTERRUPTED


def _interrupted_while_starting(signum: int, frame: object) -> None:
    print(INTERRUPTED, file=sys.stderr)
    raise SystemExit(EXIT_INTERRUPTED)


def _quiet_about_lost_interrupts(unraisable: "sys.UnraisableHookArgs") -> None:
    """Python cannot raise inside its own clean-up callbacks (an import's module lock, a
    weakref): a Ctrl+C landing exactly there interrupts nothing, and is dropped without the
    traceback Python would print. Every other such error is reported as usual."""
    if unraisable.exc_type is not None and issubclass(
        unraisable.exc_type, (KeyboardInterrupt, SystemExit)
    ):
        return
    sys.__unraisablehook__(unraisable)


def run(argv: "list[str] | None" = None) -> int:
    """Quiet Ctrl+C first, then load and run the command line."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    sys.unraisablehook = _quiet_about_lost_interrupts
    from wizard.cli import main

    return main(argv)
