"""`entra-cert-wizard emulator`: serve the demo tenant until Ctrl+C or SIGTERM.

With --json the first stdout line is the DemoInfo contract (printed once the server
listens), so scripts can start it in the background and read one line. With
--until-stdin-closes it also stops when its standard input ends (DemoTenantProcess).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo


def _describe(info: DemoInfo) -> str:
    lines = [
        "The demo tenant is running: a practice Entra ID and Microsoft Graph on this machine.",
        "",
        f"  Organization            {info.organization_name}",
        f"  Directory (tenant) ID   {info.tenant_id}",
        f"  Domain                  {info.tenant_domain}",
        f"  Authority               {info.authority}",
        f"  Graph endpoint          {info.graph_endpoint}",
        f"  CA bundle to trust      {info.ca_bundle}",
        "",
        f"  App with admin consent  {info.app_name}",
        f"    Application (client) ID  {info.client_id}",
        f"  App without consent     {info.unconsented_app_name}",
        f"    Application (client) ID  {info.unconsented_client_id}",
        "",
        f"  Portal API              {info.portal}",
        "    upload a certificate:  POST /applications/<client id>/certificates (the .cer)",
        '    approve a device code: POST /devicecode/<user code> {"decision": "approve", '
        '"user": "admin"}',
        "",
        f"  Admin sign-in page      {info.device_login}",
        f"    sign in as admin@{info.tenant_domain} (Application Administrator)",
        f"    or user@{info.tenant_domain} (no admin role)",
    ]
    if info.admin_token:
        lines += [
            "",
            f"  Admin token (portal API, other machines can reach this server): {info.admin_token}",
        ]
    if info.public_hosts:
        lines += [
            "",
            f"  Answering as the public hosts; it listens on {info.listen_url}.",
            "  Point login.microsoftonline.com and graph.microsoft.com here (a proxy, or a hosts",
            "  entry with port 443) and trust the CA bundle above; then test without --demo:",
            f"  entra-cert-wizard test --tenant {info.tenant_id} --client-id {info.client_id} "
            "--cert X.pem --key X.key",
            "",
            "Press Ctrl+C to stop it. Uploaded certificates are kept for the next start.",
        ]
        return "\n".join(lines)
    lines += [
        "",
        "Test a certificate against it:",
        f"  entra-cert-wizard test --authority-host {info.authority_host} "
        f"--graph-endpoint {info.graph_endpoint} --ca-bundle {info.ca_bundle} \\",
        f"      --tenant {info.tenant_id} --client-id {info.client_id} --cert X.pem --key X.key",
        "",
        "Press Ctrl+C to stop it. Uploaded certificates are kept for the next start.",
    ]
    return "\n".join(lines)


def _log_to_stderr(debug: bool) -> None:
    """Uploads, faults and errors on stderr (each request too with --debug); stdout stays clean."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("wizard.emulator")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


def _stop_when_stdin_closes(stopping: list[int]) -> None:
    """Stop once standard input reaches its end: the parent that holds the pipe's other end
    has closed it, or ended (even killed: the system closes its end then)."""

    def watch() -> None:
        # The file descriptor, not sys.stdin: a thread blocked in a buffered read holds its
        # lock, and the interpreter's exit (an error, a signal) would then abort on it.
        with contextlib.suppress(OSError, ValueError):
            while os.read(sys.stdin.fileno(), 4096):
                pass
        stopping.append(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    from wizard.emulator import DemoTenant

    _log_to_stderr(bool(getattr(args, "debug", False)))

    # A plain flag, not a threading.Event: Event.set() inside a signal handler can deadlock
    # when the signal lands while the main thread holds the Event's internal lock.
    stopping: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    from wizard.paths import user_path

    state = user_path(args.state, "--state") if args.state else None
    tenant = DemoTenant(
        state,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        public_hosts=args.public_hosts,
    )
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    if getattr(args, "until_stdin_closes", False):
        _stop_when_stdin_closes(stopping)
    try:
        info = tenant.start()
        if args.json:
            sys.stdout.write(json.dumps(info.to_json()) + "\n")
            sys.stdout.flush()
        else:
            print(_describe(info), flush=True)
        while not stopping:
            time.sleep(0.2)
    finally:
        tenant.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not args.json:
        print("The demo tenant stopped.", file=sys.stderr)
    return 0
