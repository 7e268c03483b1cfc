"""The wizard's session: every answer so far, and the engine work done with them.

The steps (screens/) only show and edit a `WizardState`; what is done with the answers lives
here, plain Python with no Textual, so it is the same in tests and in the App: the connection
settings and credential a test uses, the one save of the profile once the certificate signs
in, and the summary. Heavy modules (MSAL, cryptography) are imported inside the functions:
the first screen imports this module and must not wait for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wizard.clock import utc_now

if TYPE_CHECKING:
    from wizard.admin.graph import AdminGraph
    from wizard.admin.signin import AdminSignIn
    from wizard.emulator import DemoInfo
    from wizard.emulator.process import DemoTenantProcess
    from wizard.errors import Input, UserError
    from wizard.portal import PortalClient
    from wizard.profiles import Profile
    from wizard.signin.catalogue import Explanation
    from wizard.signin.plan import NegativeResult, PositiveResult
    from wizard.signin.settings import ConnectionSettings, Credential
    from wizard.storage import CertificateFiles

Start = Literal["new", "test", "renew"]


@dataclass(frozen=True)
class MadeWith:
    """The Name step's options a certificate on disk was made with."""

    days: int
    key_size: int
    passphrase: bytes | None  # in memory only, like WizardState.passphrase


@dataclass
class WizardState:
    """Every answer so far. Back keeps them; never written to disk as is (holds the passphrase)."""

    demo: bool  # the one "demo" flag: sign in to the demo tenant (demo_info), not a cloud
    demo_info: DemoInfo | None = None
    portal: PortalClient | None = None
    demo_tenant: DemoTenantProcess | None = None  # only when the wizard started it (stopped on exit)
    start: Start = "new"  # Welcome's choice; test/renew name profile_name
    name: str = ""
    days: int = 365
    key_size: int = 2048
    out_dir: Path | None = None
    passphrase: bytes | None = None  # in memory only; None = the user chose no passphrase
    no_passphrase: bool = False  # the explicit "no passphrase" choice on the Name step
    files: CertificateFiles | None = None
    generation_stages: tuple[str, ...] = ()  # what Generate did, shown again on Back
    made_with: MadeWith | None = None  # the options the files on disk were made with
    thumbprint_sha1: str = ""
    not_after: datetime | None = None
    uploaded_thumbprint: str | None = None
    uploaded_at: datetime | None = None
    uploaded_to: str = ""  # the client ID of the app the certificate was uploaded to
    client_id: str = ""
    tenant: str = ""
    object_id: str = ""  # the app registration's object ID, when an admin sign-in found it
    cloud_key: str = "global"  # a key of wizard.clouds.CLOUDS; not used in demo mode
    positive: PositiveResult | None = None
    negative: NegativeResult | None = None
    profile_name: str | None = None  # picked on Welcome, or saved once the certificate signed in
    summary_path: Path | None = None

    @property
    def untested_certificate(self) -> bool:
        """A certificate was written but the positive test has not passed yet (quit asks first)."""
        return self.files is not None and not (self.positive is not None and self.positive.ok)

    def certificate_made(
        self,
        files: CertificateFiles,
        thumbprint_sha1: str,
        not_after: datetime,
        stages: tuple[str, ...],
    ) -> None:
        """Take a newly written certificate; what was uploaded or tested belonged to the old one."""
        self.files = files
        self.made_with = self.options()
        self.thumbprint_sha1 = thumbprint_sha1
        self.not_after = not_after
        self.generation_stages = stages
        self.uploaded_thumbprint = self.uploaded_at = None
        self.uploaded_to = ""
        self.positive = self.negative = None

    def options(self) -> MadeWith:
        """The Name step's options as they stand now."""
        return MadeWith(self.days, self.key_size, self.passphrase)

    def options_changed(self) -> list[str]:
        """What changed on the Name step since the files on disk were made (their words)."""
        made = self.made_with
        if made is None or self.files is None:
            return []
        now = self.options()
        changed = []
        if now.days != made.days:
            changed.append(f"validity {made.days} → {now.days} days")
        if now.key_size != made.key_size:
            changed.append(f"key size RSA {made.key_size} → {now.key_size}")
        if now.passphrase != made.passphrase:
            changed.append("the passphrase")
        return changed

    def upload_recorded(self, thumbprint: str, client_id: str) -> None:
        """The portal of app `client_id` accepted the certificate now, computed `thumbprint`."""
        self.uploaded_thumbprint = thumbprint.upper()
        self.uploaded_at = utc_now()
        self.uploaded_to = client_id

    def admin_added(self, added: AdminAdded) -> None:
        """An admin's sign-in put the certificate on app `added.client_id`: that app and its
        tenant are the ones to test (step 6 shows them filled in)."""
        self.upload_recorded(self.thumbprint_sha1, added.client_id)
        self.client_id, self.object_id = added.client_id, added.object_id
        self.tenant = added.tenant_id or self.tenant

    def uploaded_to_tested_app(self) -> bool:
        """The certificate was uploaded (in this run) to the app the IDs step names."""
        return bool(self.uploaded_to) and self.uploaded_to.lower() == self.client_id.lower()


# --- the certificate added by an admin's sign-in (step 4) ---------------------------------


@dataclass(frozen=True)
class AdminTarget:
    """The app the admin's sign-in adds the certificate to: the existing one with `client_id`,
    or (no client ID) a new registration named `new_app_name`, with admin consent for
    Organization.Read.All when `consent`."""

    client_id: str = ""
    new_app_name: str = ""
    consent: bool = False


@dataclass(frozen=True)
class AdminAdded:
    """What the admin path did: the app (created or found) and its certificates."""

    client_id: str
    object_id: str
    tenant_id: str
    kept: int  # the certificates already on the app, left as they were
    already_there: bool
    created: bool
    consented: bool


def admin_sign_in(state: WizardState, target: AdminTarget) -> AdminSignIn:
    """The admin's device-code sign-in: to the demo tenant in demo mode, else to the tenant
    of step 6 if typed already (else the admin's own, "organizations") in the cloud chosen
    there (global until then)."""
    from wizard.admin.signin import GRAPH_COMMAND_LINE_TOOLS, AdminSignIn

    info = state.demo_info if state.demo else None
    tenant = info.tenant_id if info is not None else state.tenant or "organizations"
    # A test's settings, with the admin tool's client ID in place of the app's.
    admin = replace(state, client_id=GRAPH_COMMAND_LINE_TOOLS, tenant=tenant)
    return AdminSignIn(connection_settings(admin), consent=target.consent)


def admin_add_certificate(graph: AdminGraph, state: WizardState, target: AdminTarget) -> AdminAdded:
    """Create the app if asked, then add this step's certificate to it, keeping every
    certificate already there. Plain I/O, for a worker thread."""
    from wizard.admin.graph import add_to_app
    from wizard.certs import cert_der, load_certificate_file

    assert state.files is not None
    der = cert_der(load_certificate_file(state.files.cer))
    try:
        outcome, created = add_to_app(
            graph, der, display_name=target.new_app_name or state.name or state.files.stem,
            client_id=target.client_id or None, consent=target.consent,
        )
    finally:
        graph.close()  # the admin's token is forgotten as soon as the work is done
    return AdminAdded(
        created.client_id if created else target.client_id, outcome.object_id,
        created.tenant_id if created else graph.tenant_id, outcome.kept, outcome.already_there,
        created=created is not None, consented=created is not None and created.consented,
    )


# --- a saved set-up, picked up again -------------------------------------------------------


def load_saved_profile(state: WizardState) -> None:
    """Fill the answers from the saved set-up Welcome picked (`state.profile_name`)."""
    from wizard.profiles import get_profile
    from wizard.storage import CertificateFiles

    assert state.profile_name is not None
    profile = get_profile(state.profile_name)
    state.client_id = profile.client_id
    state.tenant = profile.tenant
    state.demo = profile.demo
    state.cloud_key = profile.cloud
    state.name = profile.certificate_name or profile.name
    state.thumbprint_sha1 = profile.thumbprint_sha1
    state.not_after = profile.not_after
    key = Path(profile.key_path)
    cert = Path(profile.cert_path)
    state.files = CertificateFiles(
        folder=key.parent,
        stem=key.stem,
        cer=Path(profile.cer_path) if profile.cer_path else cert.with_suffix(".cer"),
        pem=cert,
        key=key,
        pfx=Path(profile.pfx_path) if profile.pfx_path else None,
    )
    state.positive = state.negative = None
    state.uploaded_at = state.uploaded_thumbprint = None
    state.uploaded_to = ""


def key_needs_passphrase(state: WizardState) -> bool:
    """Whether the key is encrypted (ask for its passphrase); UserError when it cannot be read."""
    from wizard.certs import PassphraseNeeded, load_private_key_file

    assert state.files is not None
    try:
        load_private_key_file(state.files.key, None)
    except PassphraseNeeded:
        return True
    return False


def key_passphrase_problem(state: WizardState, passphrase: bytes) -> str | None:
    """None when `passphrase` opens the key, else what to tell the user."""
    from wizard.certs import PassphraseNeeded, load_private_key_file
    from wizard.errors import UserError

    assert state.files is not None
    try:
        load_private_key_file(state.files.key, passphrase)
    except PassphraseNeeded:
        return "Enter the passphrase chosen when the certificate was made."
    except UserError as error:
        return error.message
    return None


# --- what a test needs ---------------------------------------------------------------------


def connection_settings(state: WizardState) -> ConnectionSettings:
    """Where and as whom to sign in, from the IDs step (the demo tenant in demo mode)."""
    from wizard.errors import UserError
    from wizard.signin.clouds import DEMO_CLOUD_KEY
    from wizard.signin.settings import DemoNotRunning, UnknownCloud, connection_settings

    try:
        return connection_settings(
            state.tenant,
            state.client_id,
            cloud_key=DEMO_CLOUD_KEY if state.demo else state.cloud_key,
            demo=state.demo_info,
        )
    except DemoNotRunning as error:
        raise UserError(error.message, hint="Quit and start the wizard again with --demo.") from None
    except UnknownCloud:
        raise UserError(
            f"Unknown cloud '{state.cloud_key}'.", hint="Pick the cloud again on step 6."
        ) from None


def load_credential(state: WizardState) -> Credential:
    """The certificate and its private key, read from the files written on step 3."""
    from wizard.errors import UserError
    from wizard.signin.settings import Credential

    files = state.files
    if files is None:
        raise UserError(
            "There is no certificate to test yet.", hint="Go back to step 3 and generate one."
        )
    return Credential.from_files(files.pem, files.key, state.passphrase)


def recently_uploaded(state: WizardState, now: datetime | None = None) -> bool:
    """True when the demo upload to the app being tested happened moments ago (Entra ID may
    still be catching up). An upload to another app is no reason to wait: the certificate
    is not on this one."""
    from wizard.signin.run import just_uploaded

    return state.uploaded_to_tested_app() and just_uploaded(state.uploaded_at, now or utc_now())


def uploaded_elsewhere_note(state: WizardState) -> str | None:
    """In demo mode, when the certificate went to another app than the one tested: say so."""
    info = state.demo_info
    if not state.demo or not state.uploaded_to or state.uploaded_to_tested_app():
        return None
    names = {info.client_id: info.app_name,
             info.unconsented_client_id: info.unconsented_app_name} if info else {}
    where = names.get(state.uploaded_to, state.uploaded_to)
    return (f"This certificate was uploaded on step 4 to '{where}' ({state.uploaded_to}), "
            f"not to the app tested here ({state.client_id}).")


# --- the profile: saved once ---------------------------------------------------------------


def organization_domain(positive: PositiveResult | None) -> str | None:
    """The tenant's initial *.onmicrosoft.com domain (or the first verified one), if Graph said."""
    organization = positive.organization if positive is not None else None
    if not isinstance(organization, dict):
        return None
    domains = [str(domain) for domain in organization.get("verified_domains") or []]
    initial = [domain for domain in domains if domain.lower().endswith(".onmicrosoft.com")]
    return next(iter(initial or domains), None)


def profile_for(
    state: WizardState, last_test: str | None = None, positive: PositiveResult | None = None
) -> Profile:
    """The profile for what the wizard set up (not saved); `last_test`: the verdict to record,
    `positive`: the test that proved it (else `state.positive`), which names the tenant's domain."""
    from wizard.errors import UserError
    from wizard.profiles import profile_from_files

    if state.files is None:
        raise UserError("No certificate was made in this session, so there is nothing to save.")
    info = state.demo_info if state.demo else None
    profile = profile_from_files(
        name=state.profile_name or state.name or state.files.stem,
        files=state.files,
        cloud="global" if state.demo else state.cloud_key,
        tenant=state.tenant,
        client_id=state.client_id,
        demo=state.demo,
        demo_state_dir=Path(info.state_dir) if info is not None and info.state_dir else None,
        organization_domain=organization_domain(positive or state.positive)
        or (info.tenant_domain if info is not None else None),
        last_test=last_test,
        last_test_at=utc_now().replace(microsecond=0) if last_test else None,
    )
    profile.object_id = state.object_id or None  # known when an admin's sign-in added it
    return profile


def save_set_up(profile: Profile) -> Profile:
    """Save `profile`; replacing a saved set-up of the same name continues its history."""
    from wizard.errors import UserError
    from wizard.profiles import load_profiles, save_profile

    try:
        saved = next(
            (p for p in load_profiles() if p.name.casefold() == profile.name.casefold()), None
        )
    except UserError:
        saved = None  # a damaged file: save_profile below says so, and refuses
    if saved is not None:
        profile.name = saved.name
        profile.created_at = saved.created_at or profile.created_at
        profile.retired = list(saved.retired)
        profile.organization_domain = profile.organization_domain or saved.organization_domain
        profile.object_id = profile.object_id or saved.object_id
        if saved.thumbprint_sha1 == profile.thumbprint_sha1:
            profile.rotation = saved.rotation
    save_profile(profile)
    return profile


def save_untested_profile(state: WizardState) -> str | None:
    """Before a new set-up's first test: save it, marked untested, so a failed or abandoned
    test leaves something to come back to (Welcome offers to continue). A profile already
    saved for this very certificate keeps its verdict. The profile's name, or None."""
    from wizard.errors import UserError
    from wizard.profiles import load_profiles

    if state.start != "new" or state.files is None:
        return None
    try:
        profile = profile_for(state)
        saved = next((p for p in load_profiles()
                      if p.name.casefold() == profile.name.casefold()), None)
        if saved is not None and saved.thumbprint_sha1 == profile.thumbprint_sha1:
            return saved.name
        return save_set_up(profile).name
    except UserError:
        return None  # the test itself matters more; a failure to save shows after a pass


def save_tested_profile(
    state: WizardState, positive: PositiveResult, *, cancelled: bool = False
) -> tuple[str | None, str | None]:
    """After the positive test: (the profile's name, why it was not saved).

    The one save: a certificate that signed in is saved as a profile here, with the positive
    verdict; later the summary only records the final verdict (`record_test_result`). A saved
    set-up tested again keeps its profile as it is.
    """
    from wizard.errors import UserError

    if state.start == "test":
        return state.profile_name, None
    if not positive.ok or cancelled:
        return None, None
    try:
        return save_set_up(profile_for(state, last_test="pass", positive=positive)).name, None
    except UserError as error:
        return None, error.message


# --- the summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What step 9 shows: the saved profile, the markdown written, the snippets, what failed."""

    profile_name: str | None
    summary_path: Path | None
    snippets: dict[str, str]
    problem: str | None


def summarize(state: WizardState) -> Summary:
    """Record the verdict in the saved profile, write the markdown summary beside the
    certificate and build the snippets. Plain I/O, for a worker thread.

    The profile was saved once, after the positive test (or picked on Welcome); only when it
    is not in the file (never saved, or removed since) and the certificate signs in, the
    summary makes that one save.
    """
    from wizard.errors import UserError
    from wizard.profiles import get_profile, record_test_result
    from wizard.signin.plan import overall_verdict
    from wizard.snippets import snippets
    from wizard.summary import write_summary

    if state.files is None:
        return Summary(None, None, {}, "no certificate was made in this session")
    positive = state.positive
    verdict = overall_verdict(positive, state.negative) if positive is not None else None
    problems: list[str] = []
    saved: Profile | None = None
    if state.profile_name is not None:
        name = state.profile_name
        try:
            saved = record_test_result(name, verdict) if verdict else get_profile(name)
        except UserError:
            saved = None  # not in the file (or the file is damaged): the save below says which
    try:
        profile = saved or profile_for(state, last_test=verdict)
    except (UserError, OSError, ValueError) as error:
        return Summary(None, None, {}, str(error))
    if saved is None and positive is not None and positive.ok:
        try:
            saved = save_set_up(profile)
        except UserError as error:
            problems.append(f"the profile was not saved: {error.message}")
    path: Path | None = None
    try:
        host = state.demo_info.authority_host if state.demo_info is not None else None
        path = write_summary(profile, positive=positive, negative=state.negative,
                             demo_authority_host=host if profile.demo else None)
    except (UserError, OSError) as error:
        problems.append(f"the summary was not written: {error}")
    saved_name = saved.name if saved is not None else None
    return Summary(saved_name, path, snippets(profile), "; ".join(problems) or None)


def verdict_line(state: WizardState) -> tuple[str, str]:
    """(the one-line verdict of both tests, its style: success, warning or error)."""
    positive, negative = state.positive, state.negative
    if positive is None:
        return "The tests were not run: go back to step 7 to prove it works.", "warning"
    from wizard.signin.plan import overall_verdict

    verdict = overall_verdict(positive, negative)
    if verdict == "pass" and negative is not None:
        return "✓ Done: the certificate signs in, and nothing else does.", "success"
    if verdict == "pass":
        return "✓ The certificate signs in (the negative test was not run).", "success"
    if negative is not None and negative.alarm:
        return "✗ ALARM: a request without the certificate got a token (see step 8).", "error"
    if positive.unreached:
        return ("? The service was never reached: nothing is proved yet (see step 7).",
                "warning")
    if not positive.ok:
        return "✗ The positive test did not pass: the set-up is not finished.", "error"
    return "! Inconclusive: the negative test did not prove everything (see step 8).", "warning"


def expiry_text(not_after: datetime | None, now: datetime | None = None) -> str:
    """"2027-11-27 09:55 UTC (365 days left)", or how long ago it expired."""
    if not_after is None:
        return "unknown"
    days = (not_after - (now or utc_now())).days
    when = f"{not_after:%Y-%m-%d %H:%M} UTC"
    if days < 0:
        return f"{when} (expired {-days} days ago)"
    return f"{when} ({days} days left)"


def finish_note(state: WizardState) -> str | None:
    """What the wizard prints as it closes after Finish: where the summary and the files are,
    and how to test again (None when nothing was made). Outside text (typed folders) is shown
    with its control characters escaped, never live on the terminal."""
    if state.files is None:
        return None
    lines = []
    if state.summary_path is not None:
        lines.append(f"Summary:           {_printable(str(state.summary_path))}")
    lines.append(f"Certificate files: {_printable(str(state.files.folder))}")
    if state.profile_name is not None:
        lines.append(
            f"Test it again:     entra-cert-wizard test --profile {_printable(state.profile_name)}"
        )
    return "\n".join(lines)


def _printable(text: str) -> str:
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


# --- the wizard's words for an engine error ------------------------------------------------

# The command line's hints name its options; in the wizard the same inputs are fields of the
# Name step, and Back is the way to them.
_WIZARD_HINTS: dict[Input, str] = {
    "name": "Go back and choose another name (the Certificate name field on step 2).",
    "out": "Go back and choose another folder (the Output folder field on step 2).",
    "passphrase": "Go back and check the passphrase (step 2).",
}


# The catalogue's fixes are worded for the command line where the cure is an option (--cloud,
# --timeout, --ca-bundle, --passphrase-env, a command); in the wizard it is a field or a step.
_WIZARD_FIXES: dict[str, str] = {
    "AADSTS90002": "Copy the Directory (tenant) ID from the app registration's Overview page "
    "(step 6). If the tenant is in a national cloud (US Government, China), choose that cloud "
    "in the Cloud field on step 6.",
    "AADSTS500011": "Choose the cloud the tenant is in (the Cloud field on step 6), so the "
    "Graph resource matches it, and test again.",
    "AADSTS900382": "Choose the tenant's cloud in the Cloud field on step 6, and test again.",
    "GRAPH-401": "Choose the cloud the tenant lives in (the Cloud field on step 6), so the "
    "token's audience matches the Graph called, and check this computer's clock.",
    "TIMEOUT": "Test again (Retry); if it repeats, check that outbound HTTPS to the sign-in "
    "host is allowed and that no proxy holds the connection.",
    "TLS": "Get the proxy's root CA (PEM) from IT, quit, and start the wizard again with "
    "REQUESTS_CA_BUNDLE=/path/to/ca-bundle.pem in the environment. Never turn verification off.",
    "KEY-PASSPHRASE": "Type the passphrase chosen when the certificate was made.",
    "CERT-EXPIRED": "Make a new certificate and replace this one without an outage: on "
    "Welcome, pick this set-up and choose Renew its certificate.",
    "CERT-EXPIRES-SOON": "Plan the renewal now: on Welcome, pick this set-up and choose Renew "
    "its certificate.",
    "UNEXPECTED": "Test again (Retry); if it repeats, note this step and the message above "
    "and report them.",
    "AADSTS1000502": "Check the certificate's dates (its expiry is on the summary); renew an "
    "expired one (on Welcome: Renew its certificate), or fix this computer's clock and wait "
    "for the start date.",
    "AADSTS700027 · Certificate expired": "Renew it: on Welcome, pick this set-up and choose "
    "Renew its certificate (new one uploaded beside the old, tested, then the old removed).",
    "CONNECTION-REFUSED": "Check the address and port; for the demo tenant, quit and start the "
    "wizard again (the demo tenant starts from Welcome); otherwise ask for outbound HTTPS "
    "(443) to be allowed.",
    "ADMIN-SIGN-IN-REFUSED": "Check the tenant; if it blocks the public client this sign-in "
    "uses (Microsoft Graph Command Line Tools), ask an administrator to allow it. Or use the "
    "manual steps above.",
}


def wizard_fix(explanation: Explanation) -> str:
    """What to do about a failure, in the wizard's words (its fields and steps, no options).

    Looked up by code, or by code and title where one code has several causes."""
    return _WIZARD_FIXES.get(
        f"{explanation.code} · {explanation.title}",
        _WIZARD_FIXES.get(explanation.code, explanation.fix),
    )


RENEW_PASSPHRASE_HINT = (
    "Type that key's passphrase in its field above (New passphrase for the new key, Old "
    "passphrase for the old one) and press the button again."
)


def renew_hint(error: UserError) -> str | None:
    """What to do when a Renew stage stops, in the Renew screen's words: a passphrase is typed
    in its field there, never passed as an option."""
    from wizard.certs import PassphraseNeeded, WrongPassphrase

    if error.option == "passphrase" or isinstance(error, PassphraseNeeded | WrongPassphrase):
        return RENEW_PASSPHRASE_HINT
    return error.hint


def wizard_hint(error: UserError, fallback: str) -> str:
    """What to do, in the wizard's words: the hint for the input at fault, else the engine's
    own hint (it names no option), else `fallback`."""
    if error.option is not None:
        return _WIZARD_HINTS[error.option]
    return error.hint or fallback
