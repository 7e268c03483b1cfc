"""The markdown summary: everything a person needs later, beside the certificate, no secret."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wizard import certs
from wizard.profiles import Profile, profile_from_files
from wizard.snippets import SNIPPET_TITLES, snippets
from wizard.storage import CertificateFiles, write_certificate_set
from wizard.summary import summary_markdown, summary_path_for, write_summary

PASSPHRASE = b"summary passphrase 42"


@dataclass
class ProvenSetup:
    files: CertificateFiles
    profile: Profile
    positive: object
    negative: object
    access_token_preview: str


@pytest.fixture(scope="module")
def tested(demo_info, demo_portal, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real certificate, uploaded to the demo tenant, positive and negative tests run."""
    from wizard.signin.clouds import demo_cloud
    from wizard.signin.negative import run_negative
    from wizard.signin.positive import run_positive
    from wizard.signin.settings import ConnectionSettings, Credential

    generated = certs.generate_certificate("Summary Server")
    root = tmp_path_factory.mktemp("summary")
    files = write_certificate_set(
        generated, "Summary Server", out_root=root, passphrase=PASSPHRASE
    ).files
    thumbprint = demo_portal.upload_certificate(
        demo_info.client_id, certs.cert_der(generated.certificate)
    )
    try:
        settings = ConnectionSettings(
            demo_cloud(demo_info), demo_info.tenant_id, demo_info.client_id
        )
        credential = Credential.from_files(files.pem, files.key, PASSPHRASE)
        positive = run_positive(settings, credential)
        negative = run_negative(settings, credential)
    finally:
        demo_portal.delete_certificate(demo_info.client_id, thumbprint)
    assert positive.ok and negative.verdict == "pass"
    profile = profile_from_files(
        name="summary-profile",
        files=files,
        cloud="global",
        tenant=demo_info.tenant_id,
        client_id=demo_info.client_id,
        demo=True,
        organization_domain=demo_info.tenant_domain,
        last_test="pass",
        last_test_at=datetime.now(timezone.utc).replace(microsecond=0),
    )
    preview = positive.token.preview if positive.token else ""
    return ProvenSetup(files, profile, positive, negative, preview)


def test_summary_is_written_beside_the_certificate_atomically(tested: ProvenSetup) -> None:
    path = write_summary(tested.profile, positive=tested.positive, negative=tested.negative)  # type: ignore[arg-type]
    assert path == summary_path_for(tested.profile)
    assert path.parent == tested.files.folder.resolve()
    assert path.name == f"{tested.files.stem}-summary.md"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_summary_says_what_when_files_thumbprints_expiry_tests_and_snippets(
    tested: ProvenSetup,
) -> None:
    now = datetime.now(timezone.utc)
    text = summary_markdown(
        tested.profile, positive=tested.positive, negative=tested.negative, now=now
    )  # type: ignore[arg-type]
    profile = tested.profile
    assert text.startswith("# Certificate sign-in: Summary Server")
    for expected in (
        profile.thumbprint_sha1,
        profile.thumbprint_sha256,
        profile.client_id,
        profile.tenant,
        str(tested.files.cer.resolve()),
        str(tested.files.key.resolve()),
        f"{profile.not_after:%Y-%m-%d %H:%M} UTC",
        f"{profile.days_left(now)} days left",
        "Positive test (token with the certificate, then Microsoft Graph): **passed**",
        "Negative test (the app without the certificate must be refused): **pass**",
        f"entra-cert-wizard rotate {profile.name}",
    ):
        assert expected in text, expected
    for key, title in SNIPPET_TITLES.items():
        assert f"### {title}" in text
        assert snippets(profile)[key].rstrip() in text
    organization = tested.positive.organization  # type: ignore[attr-defined]
    assert organization["display_name"] in text


def test_summary_holds_no_secret(tested: ProvenSetup) -> None:
    text = summary_markdown(tested.profile, positive=tested.positive, negative=tested.negative)  # type: ignore[arg-type]
    assert PASSPHRASE.decode() not in text
    assert "PRIVATE KEY" not in text and "-----BEGIN" not in text
    for line in tested.files.key.read_text().splitlines()[1:4]:
        assert line not in text
    if tested.access_token_preview:
        assert tested.access_token_preview.rstrip(".…") not in text
    assert "eyJ" not in text  # no JWT, not even part of one


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (400, "days left. `entra-cert-wizard profiles` warns"),
        (10, "day(s) left**. Rotate soon"),
        (-3, "**expired**"),
    ],
)
def test_expiry_wording(tested: ProvenSetup, days: int, expected: str) -> None:
    now = datetime.now(timezone.utc)
    profile = Profile(
        **{**tested.profile.__dict__, "not_after": now + timedelta(days=days, hours=1)}
    )
    assert expected in summary_markdown(profile, now=now)


def test_untested_summary_says_how_to_test(tmp_path: Path) -> None:
    generated = certs.generate_certificate("Untested")
    files = write_certificate_set(generated, "Untested", out_root=tmp_path, passphrase=None).files
    profile = profile_from_files(
        name="u", files=files, cloud="china", tenant="t.onmicrosoft.com", client_id="c"
    )
    text = summary_markdown(profile)
    assert "Not tested yet: `entra-cert-wizard test --profile u`" in text
    assert "China" in text
    assert "Key and certificate for Windows" not in text  # no .pfx without a passphrase
