"""The command line: the wizard by default, headless sub-commands for scripts and CI.

Start-up time matters (the wizard's first screen, `generate` in scripts), so this module
imports nothing heavy: each sub-command's module is imported only when it runs, and only
the wizard imports Textual; only the connection tests import MSAL.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from wizard import EXIT_INTERRUPTED, INTERRUPTED, __version__
from wizard.errors import UserError
from wizard.shown import ShownStream

if TYPE_CHECKING:
    import argparse

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what the shell reports for a closed pipe

DESCRIPTION = """\
Set up certificate authentication for a Microsoft Entra ID app registration, and prove it works.

Run without a command to open the step-by-step wizard (add --demo to practise on the
built-in demo tenant, no Microsoft account needed). The commands below do the same steps
without the wizard, for scripts and servers."""

EPILOG = """\
examples:
  entra-cert-wizard --demo                          the wizard, against the demo tenant
  entra-cert-wizard generate --name ScriptServer01  make a certificate (asks for a passphrase)
  entra-cert-wizard inspect ScriptServer01.cer      thumbprints, dates and checks of a file
  entra-cert-wizard test --demo --cert X.pem --key X.key --tenant T --client-id C
  entra-cert-wizard upload --cert X.cer --tenant T --client-id C   add it by an admin's sign-in
"""


def _add_passphrase_options(parser: argparse.ArgumentParser, *, allow_none: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the passphrase from this environment variable (never pass it on the command line)",
    )
    if allow_none:
        group.add_argument(
            "--no-passphrase",
            action="store_true",
            help="write the private key unencrypted, protected by file permissions alone (no .pfx)",
        )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document for scripts")


def build_parser() -> argparse.ArgumentParser:
    # Inside, not at the top: main() reads the command line within its Ctrl+C handling, and
    # the wizard's own start (WIZARD_ARGUMENTS) never imports argparse.
    import argparse

    from wizard.names import EXPIRY_WARNING_DAYS
    from wizard.rotation.stages import STAGE_NAMES
    from wizard.signin.clouds import CLOUD_KEYS

    class _Parser(argparse.ArgumentParser):
        """argparse that ends usage errors with exit code 2 and one line of advice."""

        def error(self, message: str) -> None:  # type: ignore[override]
            self.print_usage(sys.stderr)
            self.exit(
                EXIT_USAGE, f"error: {message}\nhint: run '{self.prog} --help' for the options.\n"
            )

    parser = _Parser(
        prog="entra-cert-wizard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="open the wizard against the built-in demo tenant"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # --debug is accepted after the command too; SUPPRESS keeps the sub-parser from resetting it.
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show full tracebacks for errors",
    )

    generate = commands.add_parser(
        "generate",
        parents=[common],
        help="make a self-signed certificate and its key, safely stored",
        description="Make an RSA key and a self-signed certificate for an app registration, and "
        "write .cer (upload this one), .pem, .key and (with a passphrase) .pfx into one folder.",
    )
    generate.add_argument(
        "--name", required=True, help="certificate name, the subject CN (e.g. ScriptServer01)"
    )
    generate.add_argument(
        "--days", type=int, default=365, help="validity in days, 1-3650 (default 365)"
    )
    generate.add_argument(
        "--key-size", type=int, default=2048, help="RSA key size: 2048 (default), 3072 or 4096"
    )
    generate.add_argument("--out", metavar="DIR", help="parent folder (default: your data folder)")
    _add_passphrase_options(generate, allow_none=True)
    generate.add_argument(
        "--force",
        action="store_true",
        help="replace an existing certificate of that name (the old files are backed up first)",
    )
    _add_json(generate)

    inspect = commands.add_parser(
        "inspect",
        parents=[common],
        help="show thumbprints, dates and checks of a certificate, key or PFX",
        description="Read a certificate (.cer/.crt/.pem, DER or PEM, or a bundle) or a .pfx/.p12 "
        "and show what the Entra portal will show for it; with --key, check the key matches.",
        epilog="exit codes: 0 read and every check passed or only warned, 1 a check failed "
        "(expired, not RSA, key does not match) or the file cannot be read, 2 usage error",
    )
    inspect.add_argument("file", help="the certificate or PFX file")
    inspect.add_argument(
        "--key", metavar="KEYFILE", help="a private key file to check against the certificate"
    )
    _add_passphrase_options(inspect, allow_none=False)
    _add_json(inspect)

    test = commands.add_parser(
        "test",
        parents=[common],
        help="prove the certificate gets a token and that nothing else does",
        description="Positive test: a token with the certificate and a Microsoft Graph call. "
        "Negative test: the same app without the certificate must be refused.",
        epilog="exit codes: 0 all passed, 1 positive test failed, 2 usage error, "
        "3 a negative test got a token, 4 inconclusive (or the service was never reached)",
    )
    test.add_argument("--profile", metavar="NAME", help="re-run the tests of a saved profile")
    test.add_argument(
        "--tenant", help="Directory (tenant) ID, or a domain such as contoso.onmicrosoft.com"
    )
    test.add_argument("--client-id", help="Application (client) ID of the app registration")
    test.add_argument("--cert", metavar="FILE", help="the certificate (.pem or .cer)")
    test.add_argument("--key", metavar="FILE", help="the private key (.key)")
    test.add_argument("--pfx", metavar="FILE", help="a .pfx holding both (instead of --cert/--key)")
    _add_passphrase_options(test, allow_none=False)
    test.add_argument(
        "--cloud",
        choices=CLOUD_KEYS,
        default=None,
        help="national cloud (default global)",
    )
    test.add_argument("--no-negative", action="store_true", help="skip the negative test")
    test.add_argument(
        "--demo",
        action="store_true",
        dest="use_demo",
        help="test against the built-in demo tenant (started for the run)",
    )
    test.add_argument(
        "--authority-host", metavar="URL", help="custom authority host (e.g. a running demo tenant)"
    )
    test.add_argument("--graph-endpoint", metavar="URL", help="custom Microsoft Graph endpoint")
    test.add_argument(
        "--graph-resource",
        metavar="URL",
        help="custom Graph resource (default https://graph.microsoft.com)",
    )
    test.add_argument("--ca-bundle", metavar="FILE",
                      help="CA bundle to trust (a proxy's CA, or the custom hosts')")
    test.add_argument(
        "--timeout", type=float, default=20.0, help="seconds for each network call (default 20)"
    )
    test.add_argument(
        "--just-uploaded",
        action="store_true",
        help="the certificate was just uploaded: retry 'key not found' (AADSTS700027) for up to a minute",
    )
    _add_json(test)

    emulator = commands.add_parser(
        "emulator",
        parents=[common],
        help="run the demo tenant: a local stand-in for Entra ID and Microsoft Graph",
        description="Serve the demo tenant over HTTPS until Ctrl+C (SIGINT) or SIGTERM.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulator.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    emulator.add_argument("--state", metavar="DIR", help="state folder (default: your data folder)")
    emulator.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (the portal then needs the admin token printed at start)",
    )
    emulator.add_argument(
        "--public-hosts",
        action="store_true",
        help="answer as login.microsoftonline.com and graph.microsoft.com (for a proxy or hosts "
        "entry that points those names here); loopback only",
    )
    emulator.add_argument(
        "--until-stdin-closes",
        action="store_true",
        help="also stop when standard input closes (a program that starts it as a child keeps "
        "a pipe open to it, so it ends with that program however it ends)",
    )
    _add_json(emulator)

    workshop = commands.add_parser(
        "workshop",
        parents=[common],
        help="run a workshop: the wizard in attendees' browsers, one demo tenant, a trainer's view",
        description="Serve the wizard to browsers (one seat, one demo app each) and show who is "
        "where. Stop with q in the trainer's view, or Ctrl+C / SIGTERM with --json.",
    )
    workshop.add_argument("--seats", type=int, default=10, help="number of seats (default 10)")
    workshop.add_argument(
        "--no-consent-seats",
        type=int,
        default=0,
        metavar="K",
        help="the last K seats' apps have no admin consent (to see Graph's 403)",
    )
    workshop.add_argument(
        "--host",
        default="127.0.0.1",
        help="address browsers connect to (default 127.0.0.1: this machine only)",
    )
    workshop.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    workshop.add_argument(
        "--join-code", default=None, help="the code attendees type (default: a new random one)"
    )
    workshop.add_argument(
        "--no-join-code",
        action="store_true",
        help="let anyone who opens the URL join (loopback only)",
    )
    workshop.add_argument(
        "--folder", metavar="DIR", help="the workshop's folder (default: a new one in your data folder)"
    )
    _add_json(workshop)

    seat = commands.add_parser("workshop-seat", parents=[common])
    seat.add_argument("folder")

    profiles = commands.add_parser(
        "profiles",
        parents=[common],
        help="list saved set-ups with their expiry",
        description="Every saved profile with days to expiry and whether its files are still there.",
        epilog="exit codes: 0 every certificate valid and its files present (a warning is printed "
        f"for any that expires within {EXPIRY_WARNING_DAYS} days), 1 at least one certificate has expired or its files "
        "are missing (so a monitoring job can alert), or the profiles file cannot be read, "
        "2 usage error",
    )
    _add_json(profiles)

    upload = commands.add_parser(
        "upload",
        parents=[common],
        help="add the certificate to the app by an admin's sign-in (no portal)",
        description="An admin signs in with a code on any device (device code flow) and the "
        "certificate is added to the app registration; every certificate it already has stays. "
        "With --create-app the app registration is made first.",
        epilog="The sign-in uses the public client 'Microsoft Graph Command Line Tools' (the one "
        "Connect-MgGraph uses), asking for Application.ReadWrite.All (and "
        "AppRoleAssignment.ReadWrite.All with --consent); nothing of the admin's is saved. "
        "exit codes: 0 added or already there, 1 the admin path failed (the manual steps still "
        "work), 2 usage error, 130 cancelled",
    )
    upload.add_argument("--profile", metavar="NAME", help="the saved profile's app and certificate")
    upload.add_argument(
        "--tenant", help="Directory (tenant) ID, or a domain such as contoso.onmicrosoft.com"
    )
    upload.add_argument("--client-id", help="Application (client) ID of the app registration")
    upload.add_argument("--cert", metavar="FILE", help="the certificate to add (.cer or .pem)")
    upload.add_argument(
        "--create-app",
        action="store_true",
        help="create the app registration (named after the certificate) and its service principal",
    )
    upload.add_argument(
        "--consent",
        action="store_true",
        help="with --create-app: grant admin consent for Microsoft Graph Organization.Read.All",
    )
    upload.add_argument(
        "--admin-client-id",
        metavar="ID",
        help="the public client the admin signs in with (default: Microsoft Graph Command Line "
        "Tools), for tenants that block it",
    )
    upload.add_argument("--cloud", choices=CLOUD_KEYS, default=None,
                        help="national cloud (default global)")
    upload.add_argument(
        "--demo",
        action="store_true",
        dest="use_demo",
        help="add it on the built-in demo tenant (started for the run)",
    )
    upload.add_argument("--ca-bundle", metavar="FILE", help="CA bundle to trust (a proxy's CA)")
    upload.add_argument(
        "--timeout", type=float, default=20.0, help="seconds for each network call (default 20)"
    )
    _add_json(upload)

    rotate = commands.add_parser(
        "rotate",
        parents=[common],
        help="replace a profile's certificate without an outage",
        description="Walk a saved profile through rotation: new certificate, upload beside the old "
        "one, test, switch, remove the old one and prove it is refused. Resumable.",
        epilog="Without --step, runs the next steps until one needs you (then says what to do). "
        "Demo profiles upload and remove certificates on the demo tenant for real. "
        "exit codes: 0 done or waiting for you (--unattended: done, or not due yet), 1 a step "
        "failed, 2 usage error (--unattended: something only a person can give is missing), "
        "3 a negative test got a token, 4 inconclusive (or the service was never reached), "
        "5 another run holds the profile's lock. "
        "With the app's object ID known (--object-id, asked once) the app rolls its own "
        "certificate through Microsoft Graph (addKey/removeKey): no admin and no portal. "
        "Daily from cron: 17 3 * * * entra-cert-wizard rotate NAME --unattended --json "
        "(a systemd timer works the same; the finished rotation prints both).",
    )
    rotate.add_argument("profile", help="the saved profile to rotate")
    rotate.add_argument(
        "--step",
        choices=[*STAGE_NAMES, "status"],
        default=None,
        help="run one step (default: the next one)",
    )
    _add_passphrase_options(rotate, allow_none=True)
    rotate.add_argument(
        "--old-passphrase-env",
        metavar="VAR",
        help="passphrase of the OLD key, to prove it is refused (default: the --passphrase-env variable)",
    )
    rotate.add_argument(
        "--days",
        type=int,
        default=None,
        help="validity of the new certificate in days (default: as the old one)",
    )
    rotate.add_argument(
        "--confirm",
        action="store_true",
        help="answer yes to the step's question: you uploaded the new .cer, switched your script, or removed the old certificate in the portal",
    )
    rotate.add_argument(
        "--abandon",
        action="store_true",
        help="stop the rotation under way (before the old certificate is removed); the new files stay",
    )
    rotate.add_argument(
        "--timeout", type=float, default=20.0, help="seconds for each network call (default 20)"
    )
    rotate.add_argument(
        "--object-id",
        metavar="GUID",
        help="the app registration's Object ID (not the client ID), remembered in the profile: "
        "the app then rolls its own certificate through Graph",
    )
    rotate.add_argument(
        "--key-id",
        metavar="GUID",
        help="the current certificate's Certificate ID in the portal, remembered in the profile "
        "(needed once, when the certificate was not added by a rotation)",
    )
    rotate.add_argument(
        "--unattended",
        action="store_true",
        help="for cron/systemd: never ask, do nothing until the certificate is due, hold a lock, "
        "resume after a crash",
    )
    rotate.add_argument(
        "--within-days",
        type=int,
        default=30,
        metavar="N",
        help="--unattended: rotate once the certificate expires within N days (default 30)",
    )
    _add_json(rotate)
    return parser


WIZARD_ARGUMENTS: dict[tuple[str, ...], bool] = {(): False, ("--demo",): True}
"""The wizard's own start, with whether it is --demo: it opens at once, building no parser
(the sub-commands' parsers cost the first screen ~4% of its start)."""


def main(argv: Sequence[str] | None = None) -> int:
    with contextlib.suppress(ValueError):  # ValueError: not the main thread (tests), nothing to do
        # From here on Ctrl+C is a KeyboardInterrupt again, so a command can clean up after it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    arguments = tuple(sys.argv[1:] if argv is None else argv)
    if arguments in WIZARD_ARGUMENTS:
        from wizard.commands.wizard import open_wizard

        demo = WIZARD_ARGUMENTS[arguments]
        return _run(lambda: open_wizard(demo=demo), debug=False)
    try:
        args = build_parser().parse_args(arguments)
    except KeyboardInterrupt:  # Ctrl+C while the arguments were read: nothing started yet
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    command = args.command or "wizard"
    if command == "rotate" and args.unattended:
        command = "rotate_unattended"  # the same command, for cron: its own module
    saved = sys.stdout, sys.stderr
    try:
        # Every line a command prints goes through `shown`: outside text never drives the
        # terminal. Not for the wizard: Textual writes to the terminal itself, and its
        # screens show outside text escaped and plain.
        if command not in ("wizard", "workshop-seat"):
            sys.stdout, sys.stderr = ShownStream(sys.stdout), ShownStream(sys.stderr)
        return _run(lambda: _run_command(command, args), debug=args.debug)
    except KeyboardInterrupt:  # Ctrl+C between the lines above
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        sys.stdout, sys.stderr = saved


def _run_command(command: str, args: argparse.Namespace) -> int:
    module = importlib.import_module(f"wizard.commands.{command.replace('-', '_')}")
    return int(module.run(args))


def _run(command: Callable[[], int], *, debug: bool) -> int:
    """Run a command; what a user can cause ends in a message and its exit code."""
    try:
        return command()
    except UserError as error:
        if debug:
            raise
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
