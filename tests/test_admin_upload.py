"""An admin's device code sign-in adds the certificate (or creates the app), for real.

Real MSAL signs in against a demo tenant of this module's own over HTTPS; the approval goes
through the demo portal's device-code call, as the approval page would. The certificates an app
holds are checked through the portal's own list, so the upload is judged by the tenant.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import make_test_certificate
from cryptography.hazmat.primitives import serialization

from wizard import certs
from wizard.admin.errors import AdminError
from wizard.admin.graph import AdminGraph, AppRegistration
from wizard.admin.signin import AdminSignIn, DeviceCodePrompt
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.portal import PortalClient
from wizard.signin import catalogue
from wizard.signin.clouds import DEMO_CLOUD_KEY
from wizard.signin.settings import ConnectionSettings, Credential, connection_settings


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    """A tenant of this module's own: its device-code policy is changed by some tests."""
    with DemoTenant(tmp_path_factory.mktemp("admin-tenant")) as running:
        yield running


@pytest.fixture(scope="module")
def info(tenant: DemoTenant) -> DemoInfo:
    return tenant.info


@pytest.fixture(scope="module")
def portal(info: DemoInfo) -> PortalClient:
    return PortalClient.for_demo(info)


def decide(info: DemoInfo, user_code: str, decision: str = "approve", user: str = "admin") -> None:
    """What the admin does on the approval page, through the demo portal's stand-in for it."""
    PortalClient.for_demo(info).decide_device_code(
        user_code, approve=decision == "approve", user=user
    )


@pytest.fixture
def device_codes(portal: PortalClient) -> Iterator[Callable[..., object]]:
    """Change the tenant's device-code policy for one test; put back afterwards."""
    yield portal.set_device_code_policy
    portal.set_device_code_policy(expires_in=900, interval=5, blocked_by_conditional_access=False)


def settings_for(info: DemoInfo, client_id: str = "") -> ConnectionSettings:
    return connection_settings(info.tenant_id, client_id, cloud_key=DEMO_CLOUD_KEY, demo=info)


def start(info: DemoInfo, *, consent: bool = False) -> tuple[AdminSignIn, DeviceCodePrompt]:
    signin = AdminSignIn(settings_for(info), consent=consent)
    return signin, signin.start()


def signed_in(info: DemoInfo, *, user: str = "admin", consent: bool = False) -> AdminGraph:
    signin, prompt = start(info, consent=consent)
    decide(info, prompt.user_code, "approve", user)
    return signin.wait(threading.Event())


def der_of(name: str) -> tuple[bytes, str]:
    cert, _ = make_test_certificate(name)
    return cert.public_bytes(serialization.Encoding.DER), certs.thumbprint_sha1(cert)


def thumbprints_on(portal: PortalClient, client_id: str) -> set[str]:
    app = next(a for a in portal.list_applications() if a["client_id"] == client_id)
    return {str(k["thumbprint"]).upper() for k in app["key_credentials"]}


def app_with(portal: PortalClient, client_id: str, existing: int) -> set[str]:
    """Empty the app's certificates through the portal, then upload `existing` new ones."""
    for thumbprint in thumbprints_on(portal, client_id):
        portal.delete_certificate(client_id, thumbprint)
    for index in range(existing):
        der, _ = der_of(f"Existing{index}")
        portal.upload_certificate(client_id, der)
    return thumbprints_on(portal, client_id)


# ---------------------------------------------------------------- the upload


@pytest.mark.parametrize("existing", [2, 3])
def test_every_existing_certificate_survives_the_upload(
    info: DemoInfo, portal: PortalClient, existing: int
) -> None:
    before = app_with(portal, info.unconsented_client_id, existing)
    assert len(before) == existing
    graph = signed_in(info)
    der, thumbprint = der_of("AddedByAdmin")
    outcome = graph.add_certificate(info.unconsented_client_id, der, display_name="AddedByAdmin")
    assert (outcome.kept, outcome.already_there) == (existing, False)
    assert thumbprints_on(portal, info.unconsented_client_id) == before | {thumbprint}
    registration = graph.find_application(info.unconsented_client_id)
    assert outcome.key_id in registration.key_ids and len(registration.keys) == existing + 1
    assert registration.object_id == outcome.object_id


def test_a_certificate_already_there_is_not_written_again(
    info: DemoInfo, portal: PortalClient
) -> None:
    app_with(portal, info.unconsented_client_id, 1)
    graph = signed_in(info)
    der, _ = der_of("Twice")
    first = graph.add_certificate(info.unconsented_client_id, der, display_name="Twice")
    second = graph.add_certificate(info.unconsented_client_id, der, display_name="Twice")
    assert (first.already_there, second.already_there) == (False, True)
    assert second.key_id == first.key_id and second.kept == 2
    assert len(thumbprints_on(portal, info.unconsented_client_id)) == 2


class _SomeoneElseUploads(AdminGraph):
    """The admin's Graph, while someone else adds a certificate in the portal right after
    the wizard's first read (a real change on the tenant, at the worst moment)."""

    portal: PortalClient
    other_der: bytes
    reads = 0

    def find_application(self, client_id: str) -> AppRegistration:
        found = super().find_application(client_id)
        self.reads += 1
        if self.reads == 1:
            self.portal.upload_certificate(client_id, self.other_der)
        return found


def test_a_change_between_read_and_write_stops_the_upload(
    info: DemoInfo, portal: PortalClient
) -> None:
    before = app_with(portal, info.unconsented_client_id, 2)
    graph = signed_in(info)
    graph.__class__ = _SomeoneElseUploads
    assert isinstance(graph, _SomeoneElseUploads)
    graph.portal = portal
    graph.other_der, other = der_of("Concurrent")
    der, mine = der_of("Mine")
    with pytest.raises(AdminError) as raised:
        graph.add_certificate(info.unconsented_client_id, der, display_name="Mine")
    assert raised.value.kind == "changed_underneath"
    # Nothing was written: the other one's certificate is there, ours is not.
    assert thumbprints_on(portal, info.unconsented_client_id) == before | {other}
    assert mine not in thumbprints_on(portal, info.unconsented_client_id)
    assert catalogue.MANUAL_STEPS in (raised.value.hint or "")


class _SomeoneElseDeletes(AdminGraph):
    """The admin's Graph, while someone deletes a certificate in the portal right after the
    wizard's write: the check afterwards must notice that one is gone."""

    portal: PortalClient
    doomed: str
    reads = 0

    def find_application(self, client_id: str) -> AppRegistration:
        self.reads += 1
        if self.reads == 3:
            self.portal.delete_certificate(client_id, self.doomed)
        return super().find_application(client_id)


def test_a_certificate_gone_after_the_write_is_reported(
    info: DemoInfo, portal: PortalClient
) -> None:
    before = app_with(portal, info.unconsented_client_id, 2)
    graph = signed_in(info)
    graph.__class__ = _SomeoneElseDeletes
    assert isinstance(graph, _SomeoneElseDeletes)
    graph.portal, graph.doomed = portal, sorted(before)[0]
    der, _ = der_of("Verified")
    with pytest.raises(AdminError) as raised:
        graph.add_certificate(info.unconsented_client_id, der, display_name="Verified")
    assert raised.value.kind == "not_verified"
    assert "1 certificate(s) the app had are gone" in (raised.value.explanation.service_text or "")


def test_a_user_without_the_role_is_refused_with_the_manual_steps(
    info: DemoInfo, portal: PortalClient
) -> None:
    before = app_with(portal, info.unconsented_client_id, 1)
    graph = signed_in(info, user="user")
    der, _ = der_of("NotAllowed")
    with pytest.raises(AdminError) as raised:
        graph.add_certificate(info.unconsented_client_id, der, display_name="NotAllowed")
    assert raised.value.kind == "forbidden"
    assert "Authorization_RequestDenied" in (raised.value.explanation.service_text or "")
    assert thumbprints_on(portal, info.unconsented_client_id) == before


def test_an_unknown_client_id_is_not_found(info: DemoInfo) -> None:
    graph = signed_in(info)
    with pytest.raises(AdminError) as raised:
        graph.find_application("11111111-2222-3333-4444-555555555555")
    assert raised.value.kind == "not_found"


def test_what_graph_lists_is_read_defensively() -> None:
    """Each way a thumbprint can come back is read; anything odd is ignored, never raised."""
    import base64

    from wizard.admin.graph import _registration

    der, thumbprint = der_of("Listed")
    raw = bytes.fromhex(thumbprint)
    body = {
        "id": "obj", "appId": "app", "displayName": "Name\x1b[31m",
        "keyCredentials": [
            {"keyId": "a", "customKeyIdentifier": base64.b64encode(raw).decode()},
            {"keyId": "b", "customKeyIdentifier": thumbprint.lower()},
            {"keyId": "c", "customKeyIdentifier": base64.b64encode(thumbprint.encode()).decode()},
            {"keyId": "d", "key": base64.b64encode(der).decode(), "customKeyIdentifier": None},
            {"keyId": "e", "customKeyIdentifier": "not base64!"},
            {"keyId": "f", "key": "%%%", "customKeyIdentifier": 7},
            {"customKeyIdentifier": base64.b64encode(raw).decode()},  # no keyId: not a credential
            "a string", None, ["a list"],
        ],
    }
    registration = _registration(body)
    found = {key.key_id: key.thumbprint_sha1 for key in registration.keys}
    assert found == {"a": thumbprint, "b": thumbprint, "c": thumbprint, "d": thumbprint,
                     "e": None, "f": None}
    assert _registration({"keyCredentials": "nope"}).keys == ()
    assert _registration({}).object_id == ""


def test_the_admin_modules_import_nothing_heavy() -> None:
    """MSAL, requests and segno load when the admin path runs, not when its modules load."""
    code = (
        "import sys, json\n"
        "import wizard.admin.signin, wizard.admin.graph, wizard.commands.upload, wizard.qr\n"
        "print(json.dumps(sorted(m for m in ('textual', 'msal', 'requests', 'segno') "
        "if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


@pytest.fixture
def graph_fault(tenant: DemoTenant) -> Iterator[Callable[[Fault | None], None]]:
    yield tenant.set_fault
    tenant.set_fault(None)


def test_graph_throttling_is_waited_out(
    info: DemoInfo, portal: PortalClient, graph_fault: Callable[[Fault | None], None]
) -> None:
    before = app_with(portal, info.unconsented_client_id, 1)
    graph = signed_in(info)
    graph_fault(Fault(kind="status", endpoint="graph", status=429, retry_after=1, count=2))
    der, thumbprint = der_of("Throttled")
    outcome = graph.add_certificate(info.unconsented_client_id, der, display_name="Throttled")
    assert outcome.kept == 1
    assert thumbprints_on(portal, info.unconsented_client_id) == before | {thumbprint}


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        (Fault(kind="status", endpoint="graph", status=503, retry_after=0), "graph_error",
         "HTTP-503"),
        (Fault(kind="reset", endpoint="graph"), "unreachable", "CONNECTION-RESET"),
    ],
)
def test_a_graph_outage_is_explained_and_writes_nothing(
    info: DemoInfo, portal: PortalClient, graph_fault: Callable[[Fault | None], None],
    fault: Fault, kind: str, code: str,
) -> None:
    before = app_with(portal, info.unconsented_client_id, 1)
    graph = signed_in(info)
    graph_fault(fault)
    der, _ = der_of("Outage")
    with pytest.raises(AdminError) as raised:
        graph.add_certificate(info.unconsented_client_id, der, display_name="Outage")
    assert (raised.value.kind, raised.value.explanation.code) == (kind, code)
    assert catalogue.MANUAL_STEPS in raised.value.explanation.fix
    graph_fault(None)
    assert thumbprints_on(portal, info.unconsented_client_id) == before


# ---------------------------------------------------------------- the sign-in's failures


def test_a_declined_sign_in_says_so(info: DemoInfo) -> None:
    signin, prompt = start(info)
    decide(info, prompt.user_code, "decline")
    with pytest.raises(AdminError) as raised:
        signin.wait(threading.Event())
    assert raised.value.kind == "declined"


def test_an_expired_code_says_so(info: DemoInfo, device_codes: Callable[..., object]) -> None:
    device_codes(expires_in=2, interval=1)
    signin, prompt = start(info)
    assert prompt.interval == 1 and prompt.seconds_left() <= 2
    started = time.monotonic()
    with pytest.raises(AdminError) as raised:
        signin.wait(threading.Event())
    assert raised.value.kind == "expired"
    assert time.monotonic() - started < 10


def test_conditional_access_blocking_device_code_is_explained(
    info: DemoInfo, device_codes: Callable[..., object]
) -> None:
    device_codes(blocked_by_conditional_access=True)
    signin, prompt = start(info)
    decide(info, prompt.user_code, "approve")
    with pytest.raises(AdminError) as raised:
        signin.wait(threading.Event())
    assert raised.value.kind == "conditional_access"
    assert "AADSTS53003" in (raised.value.explanation.service_text or "")
    assert catalogue.MANUAL_STEPS in raised.value.explanation.fix


def test_a_client_that_is_not_public_is_refused_with_a_way_out(info: DemoInfo) -> None:
    signin = AdminSignIn(settings_for(info), admin_client_id=info.client_id)
    with pytest.raises(AdminError) as raised:
        signin.start()
    assert raised.value.kind == "refused"
    assert "--admin-client-id" in raised.value.explanation.fix
    assert catalogue.MANUAL_STEPS in raised.value.explanation.fix


def test_the_scopes_asked_for(info: DemoInfo) -> None:
    graph = "https://graph.microsoft.com"
    assert AdminSignIn(settings_for(info)).scopes == [f"{graph}/Application.ReadWrite.All"]
    assert AdminSignIn(settings_for(info), consent=True).scopes == [
        f"{graph}/Application.ReadWrite.All", f"{graph}/AppRoleAssignment.ReadWrite.All"]


def test_slow_down_makes_the_polls_5_seconds_further_apart(
    info: DemoInfo, device_codes: Callable[..., object]
) -> None:
    device_codes(interval=1)
    signin, prompt = start(info)
    assert signin._flow is not None
    assert signin._poll_once(signin._flow)["error"] == "authorization_pending"
    # The wait's first poll comes at once, sooner than the interval: the tenant says slow_down.
    threading.Timer(0.5, decide, (info, prompt.user_code)).start()
    started = time.monotonic()
    signin.wait(threading.Event())
    assert signin.interval == 1 + 5
    assert time.monotonic() - started >= 5


def test_cancel_stops_the_wait_at_once(info: DemoInfo) -> None:
    signin, _ = start(info)
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(AdminError) as raised:
        signin.wait(cancelled)
    assert raised.value.kind == "cancelled"
    assert time.monotonic() - started < 2  # not after the 5 s interval


# ---------------------------------------------------------------- creating the app


def test_created_app_with_consent_signs_in_with_its_certificate(info: DemoInfo) -> None:
    from wizard.signin.run import run_tests

    graph = signed_in(info, consent=True)
    created = graph.create_application("CreatedByAdmin", consent=True)
    assert created.consented and created.tenant_id == info.tenant_id
    cert, key = make_test_certificate("CreatedByAdmin")
    outcome = graph.add_certificate(
        created.client_id, certs.cert_der(cert), display_name="CreatedByAdmin"
    )
    assert (outcome.kept, outcome.already_there) == (0, False)
    assert outcome.object_id == created.object_id
    tests = run_tests(
        settings_for(info, created.client_id),
        Credential(certificate=cert, private_key=key),
        negative=False,
        recently_uploaded=True,
    )
    assert tests.positive.ok, tests.positive.error



# ---------------------------------------------------------------- the command


def start_upload(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wizard", "upload", "--demo", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def read_prompt(process: subprocess.Popen[str]) -> tuple[str, str, list[str]]:
    """The verification URL and user code the command printed on stderr."""
    assert process.stderr is not None
    said: list[str] = []
    url = code = ""
    while not (url and code):
        line = process.stderr.readline()
        assert line, f"the command ended before showing a code: {said}"
        said.append(line)
        if line.strip().startswith("open "):
            url = line.split()[-1]
        if line.strip().startswith("enter "):
            code = line.split()[-1]
    return url, code, said


def approve_printed(
    url: str, code: str, decision: str = "approve", state_dir: Path | None = None
) -> None:
    """Decide the code printed by a command whose demo tenant keeps its state in `state_dir`
    (default: the user's), through that tenant's portal."""
    from urllib.parse import urlsplit

    from wizard.emulator.tls import CA_FILE
    from wizard.paths import demo_tenant_dir

    parts = urlsplit(url)
    portal = f"{parts.scheme}://{parts.netloc}/portal"
    ca_bundle = (state_dir or demo_tenant_dir()) / CA_FILE
    PortalClient(portal, str(ca_bundle)).decide_device_code(code, approve=decision == "approve")


@pytest.fixture
def cer_file(tmp_path: Path) -> tuple[Path, str]:
    cert, _ = make_test_certificate("UploadedByCommand")
    path = tmp_path / "UploadedByCommand.cer"
    path.write_bytes(certs.cert_der(cert))
    return path, certs.thumbprint_sha1(cert)


def test_upload_command_creates_the_app_with_consent(cer_file: tuple[Path, str]) -> None:
    path, thumbprint = cer_file
    process = start_upload("--cert", str(path), "--create-app", "--consent")
    url, code, _ = read_prompt(process)
    approve_printed(url, code)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "service principal and admin consent for Organization.Read.All" in out
    assert f"Added the certificate {thumbprint}" in out and "it had none before" in out


def test_upload_by_profile_records_the_app_object_id_and_key_id(
    info: DemoInfo, portal: PortalClient, tmp_path: Path
) -> None:
    from demo_profiles import save_uploaded_demo_profile

    from wizard.profiles import get_profile

    save_uploaded_demo_profile(info, portal, certificate_name="ByProfile",
                               profile_name="ByProfile", out_root=tmp_path, passphrase=None)
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "upload", "--profile", "ByProfile", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url, code, _ = read_prompt(process)
    approve_printed(url, code, state_dir=Path(info.state_dir))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    document = json.loads(out)
    # The profile's certificate was uploaded when it was saved: nothing to write.
    assert document["already_there"] is True and document["profile"] == "ByProfile"
    saved = get_profile("ByProfile")
    assert (saved.object_id, saved.key_id) == (document["object_id"], document["key_id"])


def test_upload_command_at_a_terminal_shows_a_qr_code_and_the_time_passed(
    cer_file: tuple[Path, str],
) -> None:
    """stderr is a terminal (the prompt, a QR code, the time passed); stdout has the JSON."""
    import os
    import pty
    import re

    path, thumbprint = cer_file
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "upload", "--demo", "--cert", str(path), "--json"],
        stdout=subprocess.PIPE, stderr=terminal, text=True,
    )
    os.close(terminal)
    seen = ""
    while "passed, the code expires in" not in seen:
        chunk = os.read(master, 4096).decode("utf-8", "replace")
        assert chunk, seen
        seen += chunk
    url = re.search(r"open\s+(\S+)", seen)
    code = re.search(r"enter\s+(\S+)", seen)
    assert url and code, seen
    approve_printed(url.group(1), code.group(1))
    out, _ = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == 0
    assert "scan this with a phone" in seen and "██" in seen
    assert re.search(r"waiting for the sign-in: 0:0\d passed, the code expires in 1[45]:\d\d", seen)
    document = json.loads(out)
    assert document["thumbprint_sha1"] == thumbprint
    assert document["already_there"] is False and document["created"] is False
    assert document["admin_client_id"] == "14d82eec-204b-4c2f-b7e8-296a70dab67e"


def test_ctrl_c_while_waiting_cancels_cleanly(cer_file: tuple[Path, str]) -> None:
    path, _ = cer_file
    process = start_upload("--cert", str(path))
    read_prompt(process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert out == "" and "Traceback" not in err and "Interrupted" in err


def test_a_declined_sign_in_ends_with_the_manual_steps(cer_file: tuple[Path, str]) -> None:
    path, _ = cer_file
    process = start_upload("--cert", str(path), "--json")
    url, code, _ = read_prompt(process)
    approve_printed(url, code, "decline")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert json.loads(out)["error"] == "declined"
    assert "declined" in err and "manual steps" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--cert", "x.cer", "--consent"], "--create-app"),
        (["--cert", "x.cer", "--create-app", "--client-id", "11111111-2222-3333-4444-555555555555"],
         "--client-id"),
        ([], "--cert"),
    ],
)
def test_upload_usage_errors(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from wizard import cli

    assert cli.main(["upload", "--demo", *argv]) == 2
    assert said in capsys.readouterr().err
