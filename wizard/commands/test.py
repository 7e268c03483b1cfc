"""`entra-cert-wizard test`: prove the certificate gets in, and that nothing else does.

Human output (stdout): one line per check and probe with ✓/✗ and its time, the explanation
under a failure, and a one-line verdict. With --json, stdout holds one JSON document and
nothing else. Exit codes: 0 all passed, 1 positive test failed, 2 usage error, 3 a negative
probe got a token, 4 inconclusive, also when the service was never reached
(`wizard.signin.plan.exit_code_for`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from wizard.errors import UserError
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo, DemoTenant
    from wizard.signin.catalogue import Explanation
    from wizard.signin.clouds import Cloud
    from wizard.signin.plan import Check, NegativeResult, PositiveResult, ProbeResult
    from wizard.signin.run import NegativeSkipped
    from wizard.signin.settings import ConnectionSettings, Credential

USAGE = 2


@dataclass
class _Inputs:
    """What to test, gathered from the flags, a saved profile and/or the demo tenant."""

    tenant: str | None
    client_id: str | None
    cloud_key: str | None
    cert: Path | None
    key: Path | None
    pfx: Path | None
    demo: bool
    demo_state_dir: Path | None
    profile: str | None


def _usage(message: str, hint: str | None = None) -> UserError:
    return UserError(message, hint=hint or "run 'entra-cert-wizard test --help' for the options.",
                     exit_code=USAGE)


def _path(value: str | None, option: str = "path") -> Path | None:
    from wizard.paths import user_path

    return user_path(value, option) if value else None


def _gather(args: argparse.Namespace) -> _Inputs:
    inputs = _Inputs(
        tenant=args.tenant,
        client_id=args.client_id,
        cloud_key=args.cloud,
        cert=_path(args.cert, "--cert"),
        key=_path(args.key, "--key"),
        pfx=_path(args.pfx, "--pfx"),
        demo=bool(args.use_demo),
        demo_state_dir=None,
        profile=None,
    )
    if args.profile:
        try:
            from wizard.profiles import connection_inputs_for_profile
        except ImportError:
            raise UserError("profiles are not available yet", exit_code=USAGE) from None
        saved = connection_inputs_for_profile(args.profile)
        # Flags given next to --profile win: "test this profile, but against that tenant".
        inputs.profile = saved.name
        inputs.tenant = inputs.tenant or saved.tenant
        inputs.client_id = inputs.client_id or saved.client_id
        if not (inputs.cert or inputs.key or inputs.pfx):
            inputs.cert, inputs.key, inputs.pfx = saved.cert_path, saved.key_path, None
        if saved.demo and not args.authority_host:
            inputs.demo = True
            inputs.demo_state_dir = saved.demo_state_dir
        elif inputs.cloud_key is None:
            inputs.cloud_key = saved.cloud_key
    return inputs


def _check_flags(args: argparse.Namespace, inputs: _Inputs) -> None:
    custom = args.authority_host or args.graph_endpoint or args.graph_resource
    if inputs.demo and (custom or args.ca_bundle):
        raise _usage("--demo starts its own demo tenant; leave out --authority-host, "
                     "--graph-endpoint, --graph-resource and --ca-bundle.")
    if inputs.demo and args.cloud:
        raise _usage("--demo and --cloud can't be combined: the demo tenant is its own cloud.")
    if custom and args.cloud:
        raise _usage("--cloud and --authority-host/--graph-endpoint can't be combined: choose "
                     "a national cloud or give custom hosts.")
    if custom and not (args.authority_host and args.graph_endpoint):
        raise _usage("A custom cloud needs both --authority-host and --graph-endpoint.",
                     hint="For a running demo tenant, copy both from what `entra-cert-wizard "
                     "emulator` printed (and its --ca-bundle).")
    if inputs.pfx and (inputs.cert or inputs.key):
        raise _usage("Give either --pfx, or --cert with --key, not both.")
    if not inputs.pfx:
        if not inputs.cert and not inputs.key:
            raise _usage("Which certificate? Give --cert FILE --key FILE, or --pfx FILE.")
        if not inputs.key:
            raise _usage("--cert needs its private key: add --key FILE (or use --pfx FILE).")
        if not inputs.cert:
            raise _usage("--key needs its certificate: add --cert FILE (or use --pfx FILE).")
    if args.timeout is not None and not 0 < args.timeout <= 600:
        raise _usage("--timeout must be between 0 and 600 seconds.")
    ca_bundle = _path(args.ca_bundle, "--ca-bundle")
    if ca_bundle is not None:
        _check_ca_bundle(ca_bundle, args.ca_bundle)


MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024  # every public root CA together is under 1 MiB


def _check_ca_bundle(path: Path, given: str) -> None:
    """The CA bundle is read by TLS later, whole: first make sure it is a file of sane size."""
    from wizard.reading import read_regular_file

    try:
        read_regular_file(path, what="CA bundle", limit=MAX_CA_BUNDLE_BYTES)
    except FileNotFoundError:
        raise _usage(f"The CA bundle {given} does not exist.") from None
    except UserError as error:
        raise _usage(str(error), error.hint) from None
    except OSError as error:
        raise _usage(f"Cannot read the CA bundle {given}: {error.strerror or error}.") from None


def _settings(
    args: argparse.Namespace,
    inputs: _Inputs,
    tenant: str,
    client_id: str,
    demo_info: DemoInfo | None,
) -> ConnectionSettings:
    """The demo tenant's cloud, the custom hosts, or a named cloud (--ca-bundle with a named
    cloud: a company proxy that re-signs HTTPS)."""
    from wizard.signin.clouds import DEFAULT_GRAPH_RESOURCE, DEMO_CLOUD_KEY
    from wizard.signin.settings import CustomHosts, connection_settings

    custom = (
        CustomHosts(
            args.authority_host,
            args.graph_endpoint,
            graph_resource=args.graph_resource or DEFAULT_GRAPH_RESOURCE,
        )
        if args.authority_host and demo_info is None
        else None
    )
    return connection_settings(
        tenant,
        client_id,
        cloud_key=DEMO_CLOUD_KEY if demo_info is not None else inputs.cloud_key,
        demo=demo_info,
        custom=custom,
        ca_bundle=str(_path(args.ca_bundle, "--ca-bundle")) if args.ca_bundle else None,
        timeout=float(args.timeout),
    )


def _credential(args: argparse.Namespace, inputs: _Inputs) -> Credential:
    from wizard.passphrase import stdin_is_interactive

    try:
        return _open_credential(args, inputs)
    except UserError as error:
        # An encrypted key, no terminal to ask and no --passphrase-env: the command line
        # lacks an input, a usage error.
        if error.option == "passphrase" and not args.passphrase_env and not stdin_is_interactive():
            raise UserError(error.message, hint=error.hint, exit_code=USAGE,
                            option="passphrase") from None
        raise


def _open_credential(args: argparse.Namespace, inputs: _Inputs) -> Credential:
    from wizard.passphrase import open_with_passphrase
    from wizard.signin.settings import Credential

    if inputs.pfx is not None:
        pfx = inputs.pfx
        return open_with_passphrase(
            lambda passphrase: Credential.from_pfx(pfx, passphrase), args.passphrase_env, str(pfx)
        )
    assert inputs.cert is not None and inputs.key is not None
    cert, key = inputs.cert, inputs.key
    return open_with_passphrase(
        lambda passphrase: Credential.from_files(cert, key, passphrase),
        args.passphrase_env,
        str(key),
    )


# ---------------------------------------------------------------- human output


class _Printer:
    """Progress lines as the checks and probes finish; plain ASCII marks where the terminal
    can't do ✓."""

    TITLE_WIDTH = 36
    SAID_CHARS = 240

    def __init__(
        self, stream: TextIO, demo_hint: Callable[[Explanation], str | None] | None = None
    ) -> None:
        self.stream = stream
        self.demo_hint = demo_hint
        self.width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "✓✗–…".encode(encoding)
            self.marks = {"ok": "✓", "warn": "!", "fail": "✗", "skipped": "–", "running": "…"}
        except (UnicodeEncodeError, LookupError):
            self.marks = {"ok": "+", "warn": "!", "fail": "x", "skipped": "-", "running": "."}
        self._last_progress: dict[str, str] = {}
        self._explained: set[str] = set()

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def wrapped(self, text: str, indent: str, first: str | None = None) -> None:
        self.line(
            textwrap.fill(
                shown(text, multiline=True),  # escaped before wrapping: the widths stay true
                width=self.width,
                initial_indent=first if first is not None else indent,
                subsequent_indent=indent,
                break_on_hyphens=False,
                break_long_words=False,
            )
        )

    def _row(self, key: str, status: str, title: str, seconds: float | None, detail: str) -> None:
        timing = _duration(seconds)
        head = f"  {self.marks.get(status, ' ')} {title:<{self.TITLE_WIDTH}} {timing}  "
        if detail:
            self.wrapped(detail, " " * 6, first=head)
        else:
            self.line(head.rstrip())

    def check(self, check: Check) -> None:
        status = check.status.value
        if status == "running":
            # Retries and waits are reported while the check runs; print each message once.
            if check.detail and self._last_progress.get(check.key) != check.detail:
                self._last_progress[check.key] = check.detail
                self.wrapped(check.detail, " " * 6, first=f"    {self.marks['running']} ")
            return
        if status == "pending":
            return
        self._row(check.key, status, check.title, check.seconds, check.detail)
        # "No roles" is explained by the Graph check that follows (403), not twice.
        if (
            check.explanation is not None
            and status in ("fail", "warn")
            and check.explanation.code != "NO-ROLES"
        ):
            self.explanation(check.explanation)

    def probe(self, probe: ProbeResult) -> None:
        status = probe.status.value
        if status in ("pending", "running"):
            if status == "running" and probe.detail:
                self.wrapped(probe.detail, " " * 6, first=f"    {self.marks['running']} ")
            return
        self._row(probe.key, status, probe.title, probe.seconds, probe.detail)
        explanation = probe.explanation
        # Three probes refused for the same reason need the explanation once.
        if (
            explanation is not None
            and (probe.alarm or probe.inconclusive)
            and explanation.code not in self._explained
        ):
            self._explained.add(explanation.code)
            self.explanation(explanation)

    def explanation(self, explanation: Explanation) -> None:
        pad = " " * 12
        self.wrapped(explanation.cause, pad, first="      Why:  ")
        self.wrapped(explanation.fix, pad, first="      Fix:  ")
        extra_hint = self.demo_hint(explanation) if self.demo_hint else None
        if extra_hint:
            self.wrapped(extra_hint, pad, first="      Demo: ")
        if explanation.service_text:
            said = explanation.service_text
            if len(said) > self.SAID_CHARS:
                said = said[: self.SAID_CHARS].rstrip() + " …"
            self.wrapped(said, pad, first="      Said: ")
        if explanation.link:
            self.line(f"      More: {explanation.link}")


def _duration(seconds: float | None) -> str:
    """'  12 ms' below a second, ' 1.23 s' above: right-aligned in 7 columns."""
    from wizard.signin.plan import format_seconds

    return f"{format_seconds(seconds):>7}"


def _demo_upload_hint(
    error: Explanation | None, demo_info: DemoInfo | None, client_id: str
) -> str | None:
    """With --demo, "key not found" nearly always means: not uploaded to *this* demo tenant."""
    if demo_info is None or error is None:
        return None
    if error.code != "AADSTS700027" or "not found" not in error.title:
        return None
    # This command's demo tenant stops when it ends: name no address of it.
    return (
        f"with --demo the certificate must have been uploaded to app {client_id} of the demo "
        f"tenant (state in {demo_info.state_dir or 'your data folder'}): run the wizard with "
        "--demo, or start `entra-cert-wizard emulator` and POST the .cer to "
        f"<portal>/applications/{client_id}/certificates, <portal> being the address it prints."
    )


def _verdict_line(
    verdict: str, positive: PositiveResult, negative: NegativeResult | None, skipped: str | None
) -> str:
    if negative is not None and negative.alarm:
        return ("ALARM: a request WITHOUT the certificate got a token. This app accepts what it "
                "must refuse; see the probe above.")
    if not positive.ok:
        if positive.cancelled:
            return "CANCELLED: the test did not finish."
        if positive.unreached and positive.error is not None:
            return (f"INCONCLUSIVE: the service was never reached ({positive.error.title}), so "
                    "this proves nothing about the certificate, either way. Fix the connection "
                    "and test again.")
        if positive.signed_in and positive.error is not None:
            return f"FAIL: {positive.error.title} (the certificate itself works)."
        title = positive.error.title if positive.error else "an unknown error"
        return f"FAIL: the certificate did not get in: {title}."
    if verdict == "inconclusive" and negative is not None:
        unproven = [p.title for p in negative.probes if not p.passed]
        return (
            f"INCONCLUSIVE: the certificate works, but {len(unproven)} negative probe(s) "
            f"proved nothing ({'; '.join(unproven)})."
        )
    if negative is None:
        return f"PASS: the certificate gets a token and Graph answers ({skipped})."
    return ("PASS: the certificate gets a token and Graph answers, and every request without it "
            "was refused.")


# ---------------------------------------------------------------- the command


def _start_demo(inputs: _Inputs) -> DemoTenant:
    from wizard.emulator import DemoTenant

    tenant = DemoTenant(inputs.demo_state_dir)
    tenant.start()
    return tenant


def _document(
    *,
    verdict: str,
    exit_code: int,
    settings_tenant: str,
    client_id: str,
    cloud: Cloud,
    credential: Credential,
    positive: PositiveResult,
    negative: NegativeResult | None,
    negative_skipped: str | None,
    hint: str | None,
    profile: str | None,
) -> dict[str, Any]:
    from wizard import certs

    cert = credential.certificate
    return {
        "verdict": verdict,
        "exit_code": exit_code,
        "tenant": settings_tenant,
        "client_id": client_id,
        "cloud": cloud.key,
        "authority": cloud.authority(settings_tenant),
        "graph_endpoint": cloud.graph_endpoint,
        "profile": profile,
        "certificate": {
            "subject": cert.subject.rfc4514_string(),
            "thumbprint_sha1": certs.thumbprint_sha1(cert),
            "not_after": certs.not_valid_after(cert).isoformat(),
        },
        "positive": positive.to_json(),
        "negative": negative.to_json() if negative is not None else None,
        "negative_verdict": negative.verdict if negative is not None else None,
        "negative_skipped": negative_skipped,
        "hint": hint,
    }


# What the human output and the JSON's "negative_skipped" say when the probes did not run.
_NEGATIVE_SKIPPED_TEXT: dict[NegativeSkipped, str] = {
    "not-wanted": "negative test skipped with --no-negative",
    "tenant-unreachable": "negative test not run: the tenant could not be reached, found, "
    "or answered",
}


def run(args: argparse.Namespace) -> int:
    from wizard.inputs import normalize_client_id, normalize_tenant
    from wizard.signin.run import run_tests

    inputs = _gather(args)
    _check_flags(args, inputs)
    # IDs first: a typo should not cost a passphrase prompt or a demo tenant start.
    tenant = normalize_tenant(inputs.tenant) if inputs.tenant else None
    client_id = normalize_client_id(inputs.client_id) if inputs.client_id else None
    if not inputs.demo and not tenant:
        raise _usage("--tenant is required: the Directory (tenant) ID or a domain such as "
                     "contoso.onmicrosoft.com.")
    if not inputs.demo and not client_id:
        raise _usage("--client-id is required: the app registration's Application "
                     "(client) ID.")
    credential = _credential(args, inputs)
    demo: DemoTenant | None = _start_demo(inputs) if inputs.demo else None
    try:
        demo_info = demo.info if demo is not None else None
        if demo_info is not None:
            # With --demo the IDs default to the demo tenant's consented app.
            tenant = tenant or demo_info.tenant_id
            client_id = client_id or demo_info.client_id
        assert tenant is not None and client_id is not None
        settings = _settings(args, inputs, tenant, client_id, demo_info)
        out = _Printer(
            sys.stdout, lambda error: _demo_upload_hint(error, demo_info, settings.client_id)
        )
        quiet = bool(args.json)
        if not quiet:
            out.line(f"Testing app {settings.client_id} in tenant {settings.tenant} "
                     f"({settings.cloud.label}, {settings.cloud.authority_host})")
            out.line("Positive test: does the certificate get a token?")
        tests = run_tests(
            settings,
            credential,
            negative=not args.no_negative,
            # The user's word that the upload happened within JUST_UPLOADED_WINDOW.
            recently_uploaded=bool(getattr(args, "just_uploaded", False)),
            on_check=None if quiet else out.check,
            on_negative_start=None if quiet else lambda: out.line(
                "Negative test: is everything without the certificate refused?"
            ),
            on_probe=None if quiet else out.probe,
        )
        positive, negative = tests.positive, tests.negative
        verdict, code = tests.verdict, tests.exit_code
        hint = _demo_upload_hint(positive.error, demo_info, settings.client_id)
        skipped = (
            _NEGATIVE_SKIPPED_TEXT[tests.negative_skipped] if tests.negative_skipped else None
        )
        if inputs.profile:
            from wizard.profiles import record_test_result

            record_test_result(inputs.profile, verdict)
        if quiet:
            document = _document(
                verdict=verdict,
                exit_code=code,
                settings_tenant=settings.tenant,
                client_id=settings.client_id,
                cloud=settings.cloud,
                credential=credential,
                positive=positive,
                negative=negative,
                negative_skipped=skipped,
                hint=hint,
                profile=inputs.profile,
            )
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            if tests.negative_skipped == "tenant-unreachable":
                out.line(f"({skipped})")
            out.line()
            out.wrapped(_verdict_line(verdict, positive, negative, skipped), "  ", first="")
        return code
    finally:
        if demo is not None:
            demo.stop()
