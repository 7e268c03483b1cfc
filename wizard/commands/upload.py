"""`entra-cert-wizard upload`: an admin signs in by device code and the certificate is added.

The URL and the code go to stderr (with a QR code of the URL at a terminal), then the command
waits, showing the time passed and the time left on the code; Ctrl+C cancels, and nothing is
changed until the admin has signed in. Every certificate the app holds stays (see
`wizard.admin.graph`). With --create-app the app registration is created first (named after
the certificate), with --consent also granted Organization.Read.All.

stdout: one line saying what was done, or with --json one JSON document. Exit codes: 0 added or
already there, 1 the admin path failed (the error says why and offers the manual steps),
2 usage error, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import UserError
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.admin.graph import AdminGraph, CreatedApplication, UploadOutcome
    from wizard.admin.signin import AdminSignIn, DeviceCodePrompt
    from wizard.emulator import DemoInfo, DemoTenant
    from wizard.signin.settings import ConnectionSettings

USAGE = 2
EXIT_FAILED = 1
PROGRESS_EVERY_SECONDS = 1.0  # at a terminal: the elapsed-time line is redrawn this often
QUIET_PROGRESS_EVERY_SECONDS = 60.0  # into a file or pipe: one line a minute


@dataclass
class _Inputs:
    tenant: str | None
    client_id: str | None
    cloud_key: str | None
    cert: Path | None
    demo: bool
    demo_state_dir: Path | None
    profile: str | None


def _usage(message: str) -> UserError:
    return UserError(message, hint="run 'entra-cert-wizard upload --help' for the options.",
                     exit_code=USAGE)


def _gather(args: argparse.Namespace) -> _Inputs:
    from wizard.paths import user_path

    inputs = _Inputs(
        tenant=args.tenant,
        client_id=args.client_id,
        cloud_key=args.cloud,
        cert=user_path(args.cert, "--cert") if args.cert else None,
        demo=bool(args.use_demo),
        demo_state_dir=None,
        profile=None,
    )
    if args.profile:
        if args.create_app:
            raise _usage("--create-app makes a new app, and a profile already names its app: "
                         "leave out one of them.")
        from wizard.profiles import get_profile

        saved = get_profile(args.profile)
        inputs.profile = saved.name
        inputs.tenant = inputs.tenant or saved.tenant
        inputs.client_id = inputs.client_id or saved.client_id
        inputs.cert = inputs.cert or Path(saved.cer_path or saved.cert_path)
        if saved.demo:
            inputs.demo = True
            inputs.demo_state_dir = Path(saved.demo_state_dir) if saved.demo_state_dir else None
        elif inputs.cloud_key is None:
            inputs.cloud_key = saved.cloud
    return inputs


def _check(args: argparse.Namespace, inputs: _Inputs) -> None:
    if args.consent and not args.create_app:
        raise _usage("--consent grants admin consent to an app this command creates: add "
                     "--create-app, or grant consent in the portal.")
    if args.create_app and args.client_id:
        raise _usage("--create-app makes a new app with a new client ID: leave out --client-id.")
    if inputs.demo and (args.cloud or args.ca_bundle):
        raise _usage("--demo starts its own demo tenant: leave out --cloud and --ca-bundle.")
    if inputs.cert is None:
        raise _usage("Which certificate? Give --cert FILE (the .cer or .pem), or --profile NAME.")
    if not inputs.demo and not inputs.tenant:
        raise _usage("--tenant is required: the Directory (tenant) ID or a domain such as "
                     "contoso.onmicrosoft.com.")
    if not inputs.demo and not args.create_app and not inputs.client_id:
        raise _usage("--client-id is required (the app registration's Application (client) "
                     "ID), or --create-app to make a new app.")
    if not 0 < args.timeout <= 600:
        raise _usage("--timeout must be between 0 and 600 seconds.")


def _settings(
    args: argparse.Namespace, inputs: _Inputs, tenant: str, demo: DemoInfo | None
) -> ConnectionSettings:
    from wizard.paths import user_path
    from wizard.signin.clouds import DEMO_CLOUD_KEY
    from wizard.signin.settings import connection_settings

    # The admin signs in to the tenant; the app's client ID is for Graph, not for the sign-in.
    return connection_settings(
        tenant,
        inputs.client_id or "",
        cloud_key=DEMO_CLOUD_KEY if demo is not None else inputs.cloud_key,
        demo=demo,
        ca_bundle=str(user_path(args.ca_bundle, "--ca-bundle")) if args.ca_bundle else None,
        timeout=float(args.timeout),
    )


# ---------------------------------------------------------------- waiting for the admin


def _show_prompt(prompt: DeviceCodePrompt) -> None:
    minutes = round(prompt.seconds_left() / 60)
    err = sys.stderr
    print("To let this computer add the certificate, sign in as an admin:", file=err)
    print(f"  open   {shown(prompt.verification_uri)}", file=err)
    print(f"  enter  {shown(prompt.user_code)}", file=err)
    print(f"  (on any device; the code expires in about {minutes} minutes)", file=err)
    from wizard.qr import qr_lines

    drawn = qr_lines(prompt.verification_uri) if err.isatty() else []
    if drawn:
        print("  or scan this with a phone to open the address:", file=err)
        for line in drawn:
            print(f"  {line}", file=err)
    err.flush()


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _wait(signin: AdminSignIn, prompt: DeviceCodePrompt) -> AdminGraph:
    """Wait for the admin in a thread while this one shows the time; Ctrl+C cancels it."""
    cancelled = threading.Event()
    outcome: list[AdminGraph | BaseException] = []

    def wait() -> None:
        try:
            outcome.append(signin.wait(cancelled))
        except BaseException as error:  # handed to the main thread, raised there
            outcome.append(error)

    worker = threading.Thread(target=wait, name="admin-sign-in", daemon=True)
    started = time.monotonic()
    at_terminal = sys.stderr.isatty()
    every = PROGRESS_EVERY_SECONDS if at_terminal else QUIET_PROGRESS_EVERY_SECONDS
    worker.start()
    try:
        while worker.is_alive():
            worker.join(every)
            if worker.is_alive():
                line = (f"  waiting for the sign-in: {_clock(time.monotonic() - started)} "
                        f"passed, the code expires in {_clock(prompt.seconds_left())}")
                print(f"\r{line}" if at_terminal else line, end="" if at_terminal else "\n",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        cancelled.set()
        worker.join()
        if at_terminal:
            print(file=sys.stderr)
        raise
    if at_terminal:
        print(file=sys.stderr)
    result = outcome[0]
    if isinstance(result, BaseException):  # an AdminError, most likely
        raise result
    return result


# ---------------------------------------------------------------- the command


def _start_demo(inputs: _Inputs) -> DemoTenant:
    from wizard.emulator import DemoTenant

    tenant = DemoTenant(inputs.demo_state_dir)
    tenant.start()
    return tenant


def _record_in_profile(profile: str, outcome: UploadOutcome) -> None:
    """The app's object ID and the certificate's keyId, for rotations without an admin; only
    GUIDs, as the profiles file holds them (what a server sends is not trusted to be one)."""
    import re

    from wizard.profiles import get_profile, save_profile
    from wizard.profiles.model import GUID

    ids = (outcome.object_id, outcome.key_id)
    if not all(re.fullmatch(GUID["pattern"], value) for value in ids):
        return
    saved = get_profile(profile)
    if (saved.object_id, saved.key_id) != ids:
        saved.object_id, saved.key_id = ids
        save_profile(saved)


def _document(
    settings: ConnectionSettings,
    admin_client_id: str,
    thumbprint: str,
    outcome: UploadOutcome,
    created: CreatedApplication | None,
    graph: AdminGraph,
    profile: str | None,
) -> dict[str, Any]:
    return {
        **outcome.to_json(),
        "tenant_id": graph.tenant_id,
        "thumbprint_sha1": thumbprint,
        "created": created is not None,
        "consented": created.consented if created is not None else None,
        "service_principal_id": created.service_principal_id if created is not None else None,
        "admin_client_id": admin_client_id,
        "cloud": settings.cloud.key,
        "profile": profile,
    }


def _said(outcome: UploadOutcome, created: CreatedApplication | None, thumbprint: str) -> str:
    lines = []
    if created is not None:
        consent = " and admin consent for Organization.Read.All" if created.consented else ""
        lines.append(f"Created app {created.client_id} (object ID {created.object_id}) with its "
                     f"service principal{consent}, in tenant {created.tenant_id}.")
    if outcome.already_there:
        lines.append(f"The certificate {thumbprint} was already on app {outcome.client_id}: "
                     "nothing to change.")
    else:
        kept = f"all {outcome.kept} it had before are still there" if outcome.kept else (
            "it had none before")
        lines.append(f"Added the certificate {thumbprint} to app {outcome.client_id} (object ID "
                     f"{outcome.object_id}); {kept}.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from wizard import certs
    from wizard.admin.errors import AdminError
    from wizard.admin.graph import add_to_app
    from wizard.admin.signin import GRAPH_COMMAND_LINE_TOOLS, AdminSignIn
    from wizard.inputs import normalize_client_id, normalize_tenant

    inputs = _gather(args)
    _check(args, inputs)
    tenant = normalize_tenant(inputs.tenant) if inputs.tenant else None
    inputs.client_id = normalize_client_id(inputs.client_id) if inputs.client_id else None
    admin_client_id = (
        normalize_client_id(args.admin_client_id) if args.admin_client_id
        else GRAPH_COMMAND_LINE_TOOLS
    )
    assert inputs.cert is not None
    certificate = certs.load_certificate_file(inputs.cert)
    der = certs.cert_der(certificate)
    thumbprint = certs.thumbprint_sha1(certificate)
    name = certs.subject_cn(certificate) or inputs.cert.stem
    demo = _start_demo(inputs) if inputs.demo else None
    try:
        if demo is not None:
            tenant = tenant or demo.info.tenant_id
            if not args.create_app:
                inputs.client_id = inputs.client_id or demo.info.client_id
        assert tenant is not None
        settings = _settings(args, inputs, tenant, demo.info if demo is not None else None)
        signin = AdminSignIn(settings, admin_client_id=admin_client_id, consent=args.consent)
        try:
            prompt = signin.start()
            _show_prompt(prompt)
            graph = _wait(signin, prompt)
            try:
                outcome, created = add_to_app(
                    graph, der, display_name=name, consent=args.consent,
                    client_id=None if args.create_app else inputs.client_id,
                )
                document = _document(settings, admin_client_id, thumbprint, outcome, created,
                                     graph, inputs.profile)
            finally:
                graph.close()
        except AdminError as error:
            if args.json:
                sys.stdout.write(json.dumps({"error": error.kind,
                                             "explanation": error.explanation.to_json()},
                                            indent=2) + "\n")
            raise
        if inputs.profile:
            _record_in_profile(inputs.profile, outcome)
        if args.json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            print(_said(outcome, created, thumbprint))
        return 0
    finally:
        if demo is not None:
            demo.stop()
