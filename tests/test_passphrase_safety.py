"""Passphrases: undecodable variables are usage errors, weak ones are warned about, and the
key and PFX are encrypted with the strongest PBKDF2 settings the libraries offer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fast_kdf import production_counts, production_rounds

from wizard import certs, names
from wizard.cli import main

PASS_ENV = "ECW_SAFETY_PASS"
NOT_UTF8 = b"caf\xe9-\xff\xfe-secret"  # Latin-1 bytes: no UTF-8 decoder accepts them


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.skipif(os.name == "nt", reason="Windows keeps the environment as UTF-16 text")
def test_a_variable_that_is_not_utf8_is_a_usage_error_naming_no_byte(tmp_path: Path) -> None:
    made = tmp_path / "made"
    environment = dict(os.environb)
    environment[b"ECW_SAFETY_GOOD"] = b"a good long passphrase 42"
    code = subprocess.run(
        [sys.executable, "-m", "wizard", "generate", "--name", "Made", "--out", str(made),
         "--passphrase-env", "ECW_SAFETY_GOOD"],
        env=environment, capture_output=True, timeout=60,
    ).returncode
    assert code == 0
    environment[PASS_ENV.encode()] = NOT_UTF8
    key = made / "Made" / "Made.key"
    for argv in (
        ["generate", "--name", "Bytes", "--out", str(tmp_path / "out")],
        ["inspect", str(made / "Made" / "Made.pem"), "--key", str(key)],
        ["inspect", str(made / "Made" / "Made.pfx")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "wizard", *argv, "--passphrase-env", PASS_ENV],
            env=environment, capture_output=True, timeout=60,
        )
        shown = done.stdout + done.stderr
        assert done.returncode == 2, (argv, shown)
        assert b"Traceback" not in shown and b"UnicodeEncodeError" not in shown, argv
        assert b"not UTF-8" in done.stderr, argv
        for byte in (b"\\udce9", b"\\udcff", b"\\xe9", b"\\xff", b"position", b"\xe9"):
            assert byte not in shown, (argv, byte)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("passphrase", "weak"),
    [
        ("a", True),
        ("password", True),
        ("Tr0ub4dor&3", True),  # 11 characters
        ("aaaaaaaaaaaaaaaaaaaaaaaa", True),  # long, but one character
        ("abcdefghijklmno", True),  # one kind of character, not long
        ("correct horse battery staple", False),
        ("Kx7-pq2!Lm9z", False),
        ("thisisaverylongpassphrase", False),
    ],
)
def test_weak_passphrases_are_named_by_one_engine_function(passphrase: str, weak: bool) -> None:
    assert (names.weak_passphrase_warning(passphrase) is not None) is weak
    assert (names.weak_passphrase_warning(passphrase.encode()) is not None) is weak


def test_generate_warns_about_a_weak_passphrase_but_uses_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASS_ENV, "a")
    code, _, stderr = run_cli(
        capsys, "generate", "--name", "Weak", "--out", str(tmp_path), "--passphrase-env", PASS_ENV
    )
    assert code == 0, stderr
    assert "warning: This passphrase is weak" in stderr
    certs.load_private_key_file(tmp_path / "Weak" / "Weak.key", b"a")
    monkeypatch.setenv(PASS_ENV, "correct horse battery staple")
    code, _, stderr = run_cli(
        capsys, "generate", "--name", "Strong", "--out", str(tmp_path), "--passphrase-env", PASS_ENV
    )
    assert code == 0, stderr
    assert "weak" not in stderr


# --- how strongly the key and PFX are encrypted --------------------------------------------

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A key and a PFX written with the product's own counts (other tests use lower ones)."""
    folder = tmp_path_factory.mktemp("strength")
    generated = certs.generate_certificate("Strength")
    files = {"key": folder / "s.key", "pfx": folder / "s.pfx"}
    with production_rounds():
        files["key"].write_bytes(certs.key_pem(generated.private_key, b"a strong passphrase 1"))
        files["pfx"].write_bytes(certs.pfx_bytes(
            generated.private_key, generated.certificate, b"a strong passphrase 1", "S"))
    return files


def test_the_product_counts_are_the_strong_ones() -> None:
    """The counts the product defines (the suite runs with lower ones: tests/fast_kdf.py)."""
    assert production_counts() == {
        ("wizard.key_encryption", "KEY_KDF_ROUNDS"): 600_000,
        ("wizard.key_encryption", "PFX_MAC_ROUNDS"): 100_000,
        ("wizard.certs", "PFX_KDF_ROUNDS"): 100_000,
    }


def openssl(*argv: str) -> str:
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@needs_openssl
def test_the_key_uses_pbes2_aes256_and_many_pbkdf2_rounds(written: dict[str, Path]) -> None:
    parsed = openssl("asn1parse", "-in", str(written["key"]))
    for expected in (":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc"):
        assert expected in parsed, expected
    rounds = [int(line.rsplit(":", 1)[1], 16) for line in parsed.splitlines() if "INTEGER" in line]
    assert rounds == [600_000]  # cryptography's own PKCS#8 encryption writes 2048
    openssl("pkey", "-in", str(written["key"]), "-passin", "pass:a strong passphrase 1", "-noout")


@needs_openssl
def test_the_pfx_uses_aes256_pbkdf2_sha256_and_a_sha256_mac(written: dict[str, Path]) -> None:
    info = openssl("pkcs12", "-info", "-noout", "-in", str(written["pfx"]),
                   "-passin", "pass:a strong passphrase 1")
    assert "MAC: sha256, Iteration 100000" in info  # cryptography leaves the MAC at 2048
    assert info.count("PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256") == 2


@needs_openssl
@pytest.mark.parametrize("passphrase", ["plain ascii words 12", "Pässwörd-ÉtÉ-42", "key 🔑 emoji 7"])
def test_the_strengthened_pfx_opens_in_openssl_and_here_and_only_with_its_passphrase(
    tmp_path: Path, passphrase: str
) -> None:
    generated = certs.generate_certificate("Pfx")
    pfx = tmp_path / "p.pfx"
    pfx.write_bytes(
        certs.pfx_bytes(generated.private_key, generated.certificate, passphrase.encode(), "P")
    )
    openssl("pkcs12", "-info", "-noout", "-in", str(pfx), "-passin", f"pass:{passphrase}")
    certificate, key = certs.load_pfx_file(pfx, passphrase.encode())
    assert certificate == generated.certificate and certs.key_matches_certificate(key, certificate)
    with pytest.raises(certs.WrongPassphrase):
        certs.load_pfx_file(pfx, passphrase.encode() + b"x")


def test_opening_the_key_with_its_passphrase_stays_quick(written: dict[str, Path]) -> None:
    started = time.perf_counter()
    certs.load_private_key_file(written["key"], b"a strong passphrase 1")
    # About 0.1 s on an idle machine; the bound leaves room for a loaded test machine.
    assert time.perf_counter() - started < 2.0
    with pytest.raises(certs.WrongPassphrase):
        certs.load_private_key_file(written["key"], b"a strong passphrase 2")


def test_keys_written_the_old_way_still_open(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = certs.generate_certificate("Old").private_key
    for private_format in (
        serialization.PrivateFormat.PKCS8,
        serialization.PrivateFormat.TraditionalOpenSSL,
    ):
        old = key.private_bytes(
            serialization.Encoding.PEM, private_format,
            serialization.BestAvailableEncryption(b"old passphrase"),
        )
        loaded = certs.load_private_key_bytes(old, b"old passphrase")
        assert loaded.private_numbers() == key.private_numbers()


# --- the wizard ----------------------------------------------------------------------------


async def test_step_two_warns_about_a_weak_passphrase_and_still_accepts_it(tmp_path: Path) -> None:
    from screen_host import StepHost
    from textual.widgets import Checkbox, Static

    from screens.base import Nav
    from screens.name import NameScreen
    from wizard.session import WizardState

    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        warning = app.screen.query_one("#passphrase-warning", Static)
        assert warning.has_class("hidden")
        await pilot.press("a")
        await pilot.pause()
        assert not warning.has_class("hidden")
        assert "weak" in str(warning.content)
        await pilot.press(*"-much-Longer 42")
        await pilot.pause()
        assert warning.has_class("hidden")  # strong now
        await pilot.press("ctrl+u", "a")
        await pilot.pause()
        app.screen.query_one("#no-passphrase", Checkbox).value = True
        await pilot.pause()
        assert warning.has_class("hidden")  # no passphrase: its own warning says it
        app.screen.query_one("#no-passphrase", Checkbox).value = False
        await pilot.pause()
        assert not warning.has_class("hidden")
        await pilot.press("enter", "a", "enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.passphrase == b"a"  # a warning, not a refusal


async def test_the_wizard_starts_with_a_date_past_the_calendar_edge_in_a_profile(
    tmp_path: Path,
) -> None:
    """It crashed at start with OverflowError; now the damage is shown on Welcome."""
    import json

    from screen_host import StepHost
    from textual.widgets import Static

    from screens.welcome import WelcomeScreen
    from wizard.profiles import profile_from_files, profiles_file, save_profile
    from wizard.session import WizardState
    from wizard.storage import write_certificate_set

    files = write_certificate_set(
        certs.generate_certificate("Edge"), "Edge", out_root=tmp_path, passphrase=None
    ).files
    save_profile(profile_from_files(
        name="edge", files=files, cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    ))
    document = json.loads(profiles_file().read_text())
    document["profiles"][0]["not_after"] = "9999-12-31T23:59:59-01:00"
    profiles_file().write_text(json.dumps(document))
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = " ".join(str(s.content) for s in app.screen.query(Static))
        assert "Saved set-ups could not be read" in shown and "not_after" in shown
