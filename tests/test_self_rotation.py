"""The app rolls its own certificate: `rotate --unattended` against the demo tenant, as cron
runs it (real subprocesses, real files, Graph addKey/removeKey, no admin and no portal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_real_mode import _ENV_TO_DROP, proxy  # noqa: F401  (the proxy fixture)

from wizard import certs
from wizard.emulator import DemoInfo
from wizard.portal import PortalClient
from wizard.profiles import Profile, get_profile, profile_from_files, profiles_file, save_profile
from wizard.rotation.stages import STAGE_NAMES
from wizard.storage import write_certificate_set

PASSPHRASE = "self rotation passphrase 7c1"
ENV = {"SELF_ROT_PW": PASSPHRASE}


def rotate(*args: str) -> list[str]:
    return [sys.executable, "-m", "wizard", "rotate", *args]


def run(*args: str, timeout: float = 180) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        rotate(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, **ENV}, timeout=timeout, check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def app_keys(portal: PortalClient, client_id: str) -> dict[str, str]:
    listed = next(a for a in portal.list_applications() if a["client_id"] == client_id)
    return {k["thumbprint"]: k["key_id"] for k in listed["key_credentials"]}


def self_rolling_profile(
    info: DemoInfo, portal: PortalClient, root: Path, name: str, *, days: int,
    passphrase: bytes | None = None,
) -> Profile:
    """A demo profile whose certificate is on the app, with the app's object ID and the
    certificate's keyId known (as the admin upload leaves them)."""
    generated = certs.generate_certificate(name, days=days)
    files = write_certificate_set(generated, name, out_root=root, passphrase=passphrase).files
    portal.upload_certificate(info.client_id, certs.cert_der(generated.certificate))
    listed = next(a for a in portal.list_applications() if a["client_id"] == info.client_id)
    profile = profile_from_files(
        name=name, files=files, cloud="global", tenant=info.tenant_id, client_id=info.client_id,
        demo=True, demo_state_dir=Path(info.state_dir),
    )
    profile.object_id = listed["object_id"]
    profile.key_id = app_keys(portal, info.client_id)[certs.thumbprint_sha1(generated.certificate)]
    save_profile(profile)
    return profile


def assert_rolled(profile: Profile, before: Profile, portal: PortalClient) -> None:
    """The profile names a new certificate that is on the app; the old one is off it, was
    proven refused, and its files are archived."""
    assert profile.rotation is None and profile.thumbprint_sha1 != before.thumbprint_sha1
    keys = app_keys(portal, profile.client_id)
    assert before.thumbprint_sha1 not in keys
    assert keys[profile.thumbprint_sha1] == profile.key_id
    assert len(profile.retired) == 1 and profile.retired[0]["thumbprint_sha1"] == (
        before.thumbprint_sha1
    )
    assert not Path(before.key_path).exists() and Path(profile.key_path).is_file()
    assert Path(profile.retired[0]["archive_folder"]).is_dir()


def test_unattended_rotation_end_to_end_then_not_due(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    before = self_rolling_profile(
        demo_info, demo_portal, tmp_path, "SelfRollE2E", days=20, passphrase=PASSPHRASE.encode()
    )
    code, document, stderr = run(
        "SelfRollE2E", "--unattended", "--json", "--passphrase-env", "SELF_ROT_PW",
        "--days", "365",
    )
    assert code == 0, stderr
    assert document["status"] == "rotated"
    assert document["steps_run"] == list(STAGE_NAMES)
    assert document["results"]["retire"]["refused"] is True
    assert document["results"]["retire"]["observed"] == "AADSTS700027"
    assert "OnCalendar=daily" in document["schedule"]["systemd_timer"]
    assert "--unattended" in document["schedule"]["cron"]
    after = get_profile("SelfRollE2E")
    assert_rolled(after, before, demo_portal)
    assert after.days_left() >= 360
    # The next day's run: not due, nothing changes.
    saved = profiles_file().read_bytes()
    code, document, _ = run("SelfRollE2E", "--unattended", "--json",
                            "--passphrase-env", "SELF_ROT_PW")
    assert (code, document["status"], document["steps_run"]) == (0, "not due", [])
    assert document["days_left"] == after.days_left()
    assert profiles_file().read_bytes() == saved


def test_what_only_a_person_can_give_is_an_error_not_a_prompt(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    profile = self_rolling_profile(
        demo_info, demo_portal, tmp_path, "SelfRollAsk", days=20, passphrase=PASSPHRASE.encode()
    )
    try:
        # Encrypted key, no --passphrase-env: exit 2 before anything changes.
        code, document, stderr = run("SelfRollAsk", "--unattended", "--json")
        assert (code, document["status"]) == (2, "failed")
        assert "--passphrase-env" in document["error"]["hint"]
        # No object ID: exit 2, saying how to give it.
        profile = get_profile("SelfRollAsk")
        profile.object_id = None
        save_profile(profile)
        code, document, _ = run("SelfRollAsk", "--unattended", "--json",
                                "--passphrase-env", "SELF_ROT_PW")
        assert code == 2 and "--object-id" in document["error"]["hint"]
        assert get_profile("SelfRollAsk").rotation is None
        # The client ID given as the object ID is refused with the difference explained.
        code, _, stderr = run("SelfRollAsk", "--object-id", demo_info.client_id, "--step", "status")
        assert code == 2 and "Object ID" in stderr
    finally:
        demo_portal.delete_certificate(demo_info.client_id, profile.thumbprint_sha1)


def test_a_wrong_object_id_is_explained(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    """Graph refuses the proof when iss is not the app's object ID (another app's here)."""
    profile = self_rolling_profile(demo_info, demo_portal, tmp_path, "SelfRollWrong", days=20)
    other = next(
        a for a in demo_portal.list_applications()
        if a["client_id"] == demo_info.unconsented_client_id
    )
    try:
        code, document, stderr = run("SelfRollWrong", "--object-id", other["object_id"],
                                     "--unattended", "--json", "--days", "365")
        assert code == 1 and document["status"] == "failed", stderr
        message = document["error"]["message"] + document["error"]["hint"]
        assert "proof of possession" in message or "removeKey" in message or "addKey" in message
        assert "Object ID" in document["error"]["hint"]
        assert get_profile("SelfRollWrong").rotation.stage == "upload"  # type: ignore[union-attr]
    finally:
        for thumbprint in app_keys(demo_portal, demo_info.client_id):
            if thumbprint == profile.thumbprint_sha1:
                demo_portal.delete_certificate(demo_info.client_id, thumbprint)


def test_two_runs_at_once_rotate_once(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    before = self_rolling_profile(demo_info, demo_portal, tmp_path, "SelfRollTwice", days=20)
    args = ("SelfRollTwice", "--unattended", "--json", "--days", "365")
    processes = [
        subprocess.Popen(rotate(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True, env={**os.environ, **ENV})
        for _ in range(2)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert "Traceback" not in out + err, err
        outcomes.append((process.returncode, json.loads(out)["status"]))
    assert (0, "rotated") in outcomes, outcomes
    other = next(o for o in outcomes if o != (0, "rotated")) if outcomes.count((0, "rotated")) == 1 else None
    assert other in ((5, "locked"), (0, "not due")), outcomes
    assert_rolled(get_profile("SelfRollTwice"), before, demo_portal)


def _stage_in_file(name: str) -> str | None:
    try:
        data = json.loads(profiles_file().read_text())
    except (OSError, ValueError):
        return None
    for entry in data.get("profiles", data) if isinstance(data, dict) else data:
        if isinstance(entry, dict) and entry.get("name") == name:
            rotation = entry.get("rotation")
            return rotation.get("step") if isinstance(rotation, dict) else None
    return None


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX only")
def test_killed_at_each_stage_then_resumed_to_a_proven_rotation(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    """One rotation, killed as soon as each stage is reached, resumed each time by the next
    run (the lock the killed run held is gone with it); the last run finishes it."""
    before = self_rolling_profile(demo_info, demo_portal, tmp_path, "SelfRollCrash", days=20)
    args = ("SelfRollCrash", "--unattended", "--json", "--days", "365")
    killed_at: list[str] = []
    # Stage 1, generate: killed as soon as its first file or folder appears.
    present = set(tmp_path.iterdir())
    process = subprocess.Popen(rotate(*args), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env={**os.environ, **ENV})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and set(tmp_path.iterdir()) == present:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if get_profile("SelfRollCrash").rotation is None:
        killed_at.append("generate")
    assert Path(before.key_path).is_file()  # the old key is untouched
    for target in STAGE_NAMES[1:]:
        if killed_at and STAGE_NAMES.index(killed_at[-1]) >= STAGE_NAMES.index(target):
            continue  # the last kill landed at or beyond this stage already
        process = subprocess.Popen(rotate(*args), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **ENV})
        deadline = time.monotonic() + 120
        stage = None
        while time.monotonic() < deadline and process.poll() is None:
            stage = _stage_in_file("SelfRollCrash")
            if stage in STAGE_NAMES and STAGE_NAMES.index(stage) >= STAGE_NAMES.index(target):
                break
            time.sleep(0.002)
        if process.poll() is not None:
            break  # it finished before the kill: nothing left to interrupt
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at.append(str(_stage_in_file("SelfRollCrash")))
        assert get_profile("SelfRollCrash").rotation is not None  # the file is whole
    assert len(killed_at) >= 3, killed_at  # kills landed in several stages
    code, document, stderr = run(*args)
    assert code == 0 and document["status"] == "rotated", stderr
    assert_rolled(get_profile("SelfRollCrash"), before, demo_portal)


def test_a_proof_graph_refuses_is_explained(
    demo_info: DemoInfo, demo_portal: PortalClient, make_cert: Any
) -> None:
    """The mistake people make most (iss = the client ID) comes back as Graph's bare 401, and
    the error says what to check; a proof made by make_proof is accepted."""
    from conftest import credential_of

    from wizard.rotation import self_service
    from wizard.rotation.access import connection_settings

    made = make_cert("SelfRollProof")
    credential = credential_of(made)
    profile = Profile(
        name="proof", cloud="global", tenant=demo_info.tenant_id, client_id=demo_info.client_id,
        thumbprint_sha1=made.thumbprint_sha1, cert_path="x", key_path="y", pfx_path=None,
        not_after=certs.not_valid_after(made.certificate), demo=True,
    )
    settings = connection_settings(profile, demo_info)
    object_id = next(a for a in demo_portal.list_applications()
                     if a["client_id"] == demo_info.client_id)["object_id"]
    wrong = self_service.make_proof(credential, demo_info.client_id)
    body = {"keyId": "00000000-0000-4000-8000-000000000000", "proof": wrong}
    status, text = self_service._call(settings, credential, object_id, "removeKey", body)
    assert status == 401 and "Authentication_MissingOrMalformed" in text
    error = self_service._explain(status, text, "removeKey", object_id)
    assert "proof of possession" in error.message
    assert "Object ID" in (error.hint or "") and "client) ID" in (error.hint or "")
    # The same call with the proof make_proof builds for the object ID gets past the proof.
    assert self_service.remove_key(settings, credential, object_id, body["keyId"]) is False
    demo_portal.delete_certificate(demo_info.client_id, made.thumbprint_sha1)


def test_a_real_tenant_profile_rolls_itself_through_a_proxy(
    public_tenant: Any, proxy: Any, tmp_path: Path  # noqa: F811  (the fixture)
) -> None:
    """Real mode: login.microsoftonline.com and graph.microsoft.com, reached only through a
    TLS-intercepting proxy (as on a corporate network), no demo tenant in the profile, no
    portal and no admin: the upload and the removal are the app's own Graph calls."""
    info = public_tenant.info
    portal = PortalClient(info.portal, info.ca_bundle)
    generated = certs.generate_certificate("SelfRollReal", days=20)
    files = write_certificate_set(generated, "SelfRollReal", out_root=tmp_path, passphrase=None).files
    portal.upload_certificate(info.client_id, certs.cert_der(generated.certificate))
    before = profile_from_files(
        name="SelfRollReal", files=files, cloud="global", tenant=info.tenant_id,
        client_id=info.client_id,
    )
    before.key_id = app_keys(portal, info.client_id)[certs.thumbprint_sha1(generated.certificate)]
    save_profile(before)
    object_id = next(a for a in portal.list_applications()
                     if a["client_id"] == info.client_id)["object_id"]
    environment = {k: v for k, v in os.environ.items() if k not in _ENV_TO_DROP}
    environment.update(HTTPS_PROXY=proxy.url(), REQUESTS_CA_BUNDLE=str(proxy.ca_file))
    done = subprocess.run(
        rotate("SelfRollReal", "--object-id", object_id, "--unattended", "--json",
               "--days", "365"),
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=environment,
        timeout=180, check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "rotated" and document["results"]["test"]["verdict"] == "pass"
    after = get_profile("SelfRollReal")
    assert after.object_id == object_id and not after.demo
    keys = app_keys(portal, info.client_id)
    assert before.thumbprint_sha1 not in keys and keys[after.thumbprint_sha1] == after.key_id


def test_who_does_each_stage_when_the_app_rolls_its_own_keys() -> None:
    from wizard.rotation.stages import STAGES, asks_the_user, keys_needed

    asked = [s.name for s in STAGES if asks_the_user(s, demo=False, rolls_itself=True)]
    assert asked == ["switch"]  # upload and retire are Graph calls now, on any tenant
    needed = {s.name: keys_needed(s, rolls_itself=True) for s in STAGES}
    assert needed["upload"] == ("old",)  # the current certificate proves the addition
    assert needed["retire"] == ("old", "new")  # the new one proves the removal
    assert keys_needed(STAGES[1], rolls_itself=False) == ()


def test_the_lock_refuses_a_second_holder_and_is_released() -> None:
    from wizard.rotation.unattended import RotationLocked, lock_path, rotation_lock

    with rotation_lock("Locked One"):
        assert lock_path("Locked One").stat().st_mode & 0o777 == 0o600
        with pytest.raises(RotationLocked) as refused, rotation_lock("Locked One"):
            pass
        assert refused.value.exit_code == 5
        with rotation_lock("Another One"):
            pass  # one lock per profile
    with rotation_lock("Locked One"):
        pass  # released when the holder ended


def test_the_summary_offers_the_schedule_once_the_object_id_is_known(tmp_path: Path) -> None:
    from wizard.summary import summary_markdown

    generated = certs.generate_certificate("SelfRollSummary")
    files = write_certificate_set(generated, "SelfRoll Summary", out_root=tmp_path,
                                  passphrase=None).files
    profile = profile_from_files(
        name="Summary's one", files=files, cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    )
    assert "--unattended" not in summary_markdown(profile)
    profile.object_id = "22222222-3333-4444-8555-666666666666"
    text = summary_markdown(profile)
    assert "rotate 'Summary'\"'\"'s one' --unattended --json" in text
    assert "OnCalendar=daily" in text and "ExecStart=" in text


def test_saves_of_different_profiles_at_once_lose_nothing(tmp_path: Path) -> None:
    """Scheduled rotations of two profiles save at the same moments: every save is kept."""
    import threading

    generated = certs.generate_certificate("SelfRollSaves")
    files = write_certificate_set(generated, "SelfRollSaves", out_root=tmp_path,
                                  passphrase=None).files

    def save_many(prefix: str) -> None:
        for number in range(15):
            save_profile(profile_from_files(
                name=f"{prefix}{number}", files=files, cloud="global",
                tenant="contoso.onmicrosoft.com", client_id="11111111-2222-4333-8444-555555555555",
            ))

    threads = [threading.Thread(target=save_many, args=(prefix,)) for prefix in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from wizard.profiles import load_profiles

    names = {profile.name for profile in load_profiles()}
    assert names == {f"{prefix}{n}" for prefix in "AB" for n in range(15)}


def test_a_manual_rotation_waits_for_no_one_while_a_scheduled_one_runs(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    from wizard.rotation.unattended import rotation_lock

    profile = self_rolling_profile(demo_info, demo_portal, tmp_path, "SelfRollBusy", days=20)
    try:
        with rotation_lock("SelfRollBusy"):
            code, document, stderr = run("SelfRollBusy", "--unattended", "--json")
            assert (code, document["status"]) == (5, "locked")
            code, _, stderr = run("SelfRollBusy", "--confirm")
            assert code == 5 and "Another run is rotating" in stderr
        assert get_profile("SelfRollBusy").rotation is None
    finally:
        demo_portal.delete_certificate(demo_info.client_id, profile.thumbprint_sha1)


def test_graph_unavailable_is_inconclusive_and_changes_nothing(
    demo_info: DemoInfo, demo_portal: PortalClient, make_cert: Any, fault: Any
) -> None:
    from conftest import credential_of

    from wizard.emulator import Fault
    from wizard.rotation import self_service
    from wizard.rotation.access import connection_settings

    made = make_cert("SelfRollBusyGraph")
    new_cert = make_cert("SelfRollBusyNew", upload=False)
    profile = Profile(
        name="busy", cloud="global", tenant=demo_info.tenant_id, client_id=demo_info.client_id,
        thumbprint_sha1=made.thumbprint_sha1, cert_path="x", key_path="y", pfx_path=None,
        not_after=certs.not_valid_after(made.certificate), demo=True,
    )
    object_id = next(a for a in demo_portal.list_applications()
                     if a["client_id"] == demo_info.client_id)["object_id"]
    fault(Fault(kind="status", endpoint="graph", status=503))
    try:
        with pytest.raises(self_service.SelfServiceError) as refused:
            self_service.add_key(
                connection_settings(profile, demo_info), credential_of(made), object_id,
                certs.cert_der(new_cert.certificate), key_id="00000000-0000-4000-8000-00000000abcd",
            )
        assert refused.value.exit_code == 4 and "carries on" in (refused.value.hint or "")
        assert new_cert.thumbprint_sha1 not in app_keys(demo_portal, demo_info.client_id)
    finally:
        demo_portal.delete_certificate(demo_info.client_id, made.thumbprint_sha1)
