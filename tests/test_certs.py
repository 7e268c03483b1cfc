"""The certificate engine against real tools: OpenSSL and MSAL read what it writes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard import certs
from wizard.errors import UserError

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(scope="module")
def generated() -> certs.GeneratedCertificate:
    return certs.generate_certificate("Script Server 01")


@pytest.fixture(scope="module")
def files(
    generated: certs.GeneratedCertificate, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    cert, key = generated.certificate, generated.private_key
    contents = {
        "cer": certs.cert_der(cert),
        "pem": certs.cert_pem(cert),
        "key": certs.key_pem(key, PASSPHRASE),
        "plain.key": certs.key_pem(key, None),
        "pfx": certs.pfx_bytes(key, cert, PASSPHRASE, "Script Server 01"),
    }
    paths = {}
    for suffix, data in contents.items():
        path = folder / f"cert.{suffix}"
        path.write_bytes(data)
        paths[suffix] = path
    return paths


def openssl(*args: str, env: dict[str, str] | None = None) -> str:
    assert OPENSSL is not None
    completed = subprocess.run(
        [OPENSSL, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


# --- the certificate itself ---------------------------------------------------------------


def test_generated_certificate_is_a_self_signed_v3_client_certificate(
    generated: certs.GeneratedCertificate,
) -> None:
    cert = generated.certificate
    assert cert.version == x509.Version.v3
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Script Server 01"
    assert certs.subject_cn(cert) == "Script Server 01"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert generated.private_key.key_size == 2048
    assert certs.key_matches_certificate(generated.private_key, cert)
    assert certs.is_self_signed(cert)
    assert 0 < cert.serial_number < 2**159


def test_extensions_and_their_criticality(generated: certs.GeneratedCertificate) -> None:
    extensions = generated.certificate.extensions
    basic = extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    expected = x509.SubjectKeyIdentifier.from_public_key(generated.private_key.public_key())
    assert ski.value == expected


def test_validity_starts_five_minutes_back_and_runs_the_given_days() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    cert = certs.generate_certificate("Dated", days=30, now=now).certificate
    assert certs.not_valid_before(cert) == now - dt.timedelta(minutes=5)
    assert certs.not_valid_after(cert) == now + dt.timedelta(days=30)
    assert certs.not_valid_after(cert).tzinfo is not None


def test_serials_are_random() -> None:
    first = certs.generate_certificate("Same").certificate.serial_number
    second = certs.generate_certificate("Same").certificate.serial_number
    assert first != second


@pytest.mark.parametrize("key_size", [3072, 4096])
def test_larger_keys(key_size: int) -> None:
    generated = certs.generate_certificate("Big", key_size=key_size)
    assert generated.private_key.key_size == key_size
    assert generated.certificate.public_key().key_size == key_size  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"key_size": 1024}, "too weak"),
        ({"key_size": 2047}, "2048"),
        ({"key_size": 8192}, "2048"),
        ({"days": 0}, "1 to 3650"),
        ({"days": 3651}, "1 to 3650"),
        ({"name": ""}, "Enter a certificate name"),
        ({"name": "x" * 65}, "at most 64"),
        ({"name": "bad\x00name"}, "control character"),
    ],
)
def test_refuses_what_entra_would_not_take(kwargs: dict[str, object], words: str) -> None:
    arguments: dict[str, object] = {"name": "Valid", **kwargs}
    name = arguments.pop("name")
    with pytest.raises(UserError) as raised:
        certs.generate_certificate(name, **arguments)  # type: ignore[arg-type]
    assert words in str(raised.value)


# --- thumbprints --------------------------------------------------------------------------


def test_thumbprint_forms(generated: certs.GeneratedCertificate) -> None:
    cert = generated.certificate
    der = certs.cert_der(cert)
    assert certs.thumbprint_sha1(cert) == hashlib.sha1(der).hexdigest().upper()
    assert certs.thumbprint_sha256(cert) == hashlib.sha256(der).hexdigest().upper()
    assert len(certs.thumbprint_sha1(cert)) == 40
    assert len(certs.thumbprint_sha256(cert)) == 64
    assert certs.x5t(cert).endswith("=")  # padded, as MSAL sends it
    assert base64.urlsafe_b64decode(certs.x5t(cert)) == hashlib.sha1(der).digest()
    assert base64.urlsafe_b64decode(certs.x5t_s256(cert)) == hashlib.sha256(der).digest()
    assert "+" not in certs.x5t_s256(cert) and "/" not in certs.x5t_s256(cert)


def test_x5t_is_what_msal_puts_in_the_header(generated: certs.GeneratedCertificate) -> None:
    from msal.oauth2cli.assertion import _encode_thumbprint

    cert = generated.certificate
    assert _encode_thumbprint(certs.thumbprint_sha1(cert)) == certs.x5t(cert)
    assert _encode_thumbprint(certs.thumbprint_sha256(cert)) == certs.x5t_s256(cert)


@needs_openssl
@pytest.mark.parametrize(
    ("digest", "suffix"), [("sha1", "cer"), ("sha256", "cer"), ("sha1", "pem")]
)
def test_thumbprints_equal_openssl(
    generated: certs.GeneratedCertificate, files: dict[str, Path], digest: str, suffix: str
) -> None:
    form = "DER" if suffix == "cer" else "PEM"
    output = openssl(
        "x509", "-in", str(files[suffix]), "-inform", form, "-noout", "-fingerprint", f"-{digest}"
    )
    openssl_value = output.strip().split("=", 1)[1].replace(":", "")
    ours = {"sha1": certs.thumbprint_sha1, "sha256": certs.thumbprint_sha256}[digest]
    assert openssl_value == ours(generated.certificate)


@needs_openssl
def test_openssl_reads_the_extensions(files: dict[str, Path]) -> None:
    text = openssl("x509", "-in", str(files["pem"]), "-noout", "-text")
    assert "Version: 3" in text
    assert "sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    assert "X509v3 Basic Constraints: critical\n                CA:FALSE" in text
    assert "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment" in text
    assert "TLS Web Client Authentication" in text
    assert "X509v3 Subject Key Identifier" in text


# --- exports ------------------------------------------------------------------------------


@needs_openssl
def test_openssl_opens_the_pfx_with_the_passphrase(files: dict[str, Path]) -> None:
    env = {"ECW_TEST_PASS": PASSPHRASE.decode()}
    command = [OPENSSL or "openssl", "pkcs12", "-info", "-in", str(files["pfx"]), "-nokeys"]
    completed = subprocess.run(
        [*command, "-passin", "env:ECW_TEST_PASS"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    report = completed.stdout + completed.stderr
    assert "MAC: sha256" in report
    assert "PBES2, PBKDF2, AES-256-CBC" in report
    assert "friendlyName: Script Server 01" in report
    assert "-----BEGIN CERTIFICATE-----" in report


@needs_openssl
def test_openssl_refuses_the_pfx_with_a_wrong_passphrase(files: dict[str, Path]) -> None:
    command = [OPENSSL or "openssl", "pkcs12", "-info", "-in", str(files["pfx"]), "-nokeys"]
    completed = subprocess.run(
        [*command, "-passin", "pass:wrong"], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode != 0


@needs_openssl
def test_openssl_opens_the_encrypted_key(
    files: dict[str, Path], generated: certs.GeneratedCertificate
) -> None:
    assert files["key"].read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    modulus = openssl(
        *("rsa", "-in", str(files["key"]), "-passin", "env:ECW_TEST_PASS", "-noout", "-modulus"),
        env={"ECW_TEST_PASS": PASSPHRASE.decode()},
    )
    expected = f"{generated.private_key.public_key().public_numbers().n:X}"
    assert modulus.strip() == f"Modulus={expected}"
    assert files["plain.key"].read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_pfx_needs_a_passphrase(generated: certs.GeneratedCertificate) -> None:
    with pytest.raises(ValueError):
        certs.pfx_bytes(generated.private_key, generated.certificate, b"", "x")


# --- MSAL builds a client assertion from what we wrote ------------------------------------


class _DiscoveryOnly:
    """An HTTP client for MSAL that only answers the tenant discovery request.

    MSAL fetches the OpenID configuration while the application object is built; this
    answers it so the test needs no network. Nothing is signed or checked here: the
    client assertion below is made and signed by MSAL itself.
    """

    def __init__(self, authority: str) -> None:
        self.authority = authority

    def get(self, url: str, **_: object) -> object:
        assert url.startswith(self.authority)
        body = {
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
            "issuer": f"{self.authority}/v2.0",
        }
        return type("Response", (), {"status_code": 200, "text": json.dumps(body), "headers": {}})()

    def post(self, url: str, **_: object) -> object:
        raise AssertionError(f"no token request in this test ({url})")


AUTHORITY = "https://login.example.test/00000000-0000-0000-0000-000000000001"


def _msal_assertion(
    client_credential: dict[str, object],
) -> tuple[dict[str, object], dict[str, object], str]:
    import msal

    app = msal.ConfidentialClientApplication(
        "11111111-1111-1111-1111-111111111111",
        client_credential=client_credential,
        authority=AUTHORITY,
        instance_discovery=False,
        validate_authority=False,
        http_client=_DiscoveryOnly(AUTHORITY),
    )
    assertion = app.client.client_assertion()
    token = assertion.decode() if isinstance(assertion, bytes) else assertion
    return (
        jwt.get_unverified_header(token),
        jwt.decode(token, options={"verify_signature": False}),
        token,
    )


def _verify_signature(token: str, cert: x509.Certificate, algorithm: str) -> None:
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    scheme = (
        padding.PKCS1v15()
        if algorithm == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    )
    public_key.verify(raw, signing_input.encode(), scheme, hashes.SHA256())


def test_msal_signs_an_assertion_with_the_key_file_and_thumbprint(
    files: dict[str, Path], generated: certs.GeneratedCertificate
) -> None:
    cert = generated.certificate
    header, claims, token = _msal_assertion(
        {
            "private_key": files["key"].read_text(),
            "passphrase": PASSPHRASE.decode(),
            "thumbprint": certs.thumbprint_sha1(cert),
        }
    )
    assert header["alg"] == "RS256"
    assert header["x5t"] == certs.x5t(cert)
    assert claims["aud"] == f"{AUTHORITY}/oauth2/v2.0/token"
    _verify_signature(token, cert, "RS256")


def test_msal_signs_an_assertion_with_the_pfx(
    files: dict[str, Path], generated: certs.GeneratedCertificate
) -> None:
    cert = generated.certificate
    header, claims, token = _msal_assertion(
        {"private_key_pfx_path": str(files["pfx"]), "passphrase": PASSPHRASE.decode()}
    )
    assert header["alg"] == "PS256"
    assert header["x5t#S256"] == certs.x5t_s256(cert)
    assert claims["iss"] == "11111111-1111-1111-1111-111111111111"
    _verify_signature(token, cert, "PS256")


def test_msal_assertion_creator_accepts_a_loaded_key(
    files: dict[str, Path], generated: certs.GeneratedCertificate
) -> None:
    from msal.oauth2cli.assertion import JwtAssertionCreator

    key = certs.load_private_key_file(files["key"], PASSPHRASE)
    creator = JwtAssertionCreator(
        key, "RS256", sha1_thumbprint=certs.thumbprint_sha1(generated.certificate)
    )
    token = creator.create_normal_assertion(audience="https://example.test/token", issuer="me")
    _verify_signature(token.decode(), generated.certificate, "RS256")


# --- loading what users bring -------------------------------------------------------------


def test_loads_der_pem_and_pfx(
    files: dict[str, Path], generated: certs.GeneratedCertificate
) -> None:
    cert = generated.certificate
    assert certs.load_certificate_file(files["cer"]) == cert
    assert certs.load_certificate_file(files["pem"]) == cert
    loaded_cert, loaded_key = certs.load_pfx_file(files["pfx"], PASSPHRASE)
    assert loaded_cert == cert
    assert certs.key_matches_certificate(loaded_key, cert)
    contents = certs.load_pfx_bytes(files["pfx"].read_bytes(), PASSPHRASE)
    assert contents.friendly_name == "Script Server 01"


def test_pem_with_windows_line_endings_and_bom(generated: certs.GeneratedCertificate) -> None:
    pem = certs.cert_pem(generated.certificate).replace(b"\n", b"\r\n")
    assert certs.load_certificate_bytes(b"\xef\xbb\xbf" + pem) == generated.certificate


def _ca_and_leaf() -> tuple[x509.Certificate, x509.Certificate]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])

    def build(subject: x509.Name, public_key: object, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

    ca = build(ca_name, ca_key.public_key(), True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Leaf")]), leaf_key.public_key(), False
    )
    return ca, leaf


@pytest.mark.parametrize("order", ["leaf-first", "ca-first"])
def test_a_pem_bundle_gives_its_leaf(order: str) -> None:
    ca, leaf = _ca_and_leaf()
    chain = [leaf, ca] if order == "leaf-first" else [ca, leaf]
    bundle = b"".join(certs.cert_pem(cert) for cert in chain)
    assert certs.load_certificate_bytes(bundle) == leaf


def test_key_match_detects_a_foreign_key(generated: certs.GeneratedCertificate) -> None:
    stranger = certs.generate_certificate("Script Server 01")
    assert not certs.key_matches_certificate(stranger.private_key, generated.certificate)


@pytest.mark.parametrize(
    "private_format",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
@pytest.mark.parametrize("encrypted", [False, True])
def test_loads_pkcs1_and_pkcs8_keys(
    generated: certs.GeneratedCertificate,
    private_format: serialization.PrivateFormat,
    encoding: serialization.Encoding,
    encrypted: bool,
) -> None:
    if (
        encoding is serialization.Encoding.DER
        and private_format is serialization.PrivateFormat.TraditionalOpenSSL
        and encrypted
    ):
        pytest.skip("DER PKCS#1 has no encryption")
    encryption = (
        serialization.BestAvailableEncryption(PASSPHRASE)
        if encrypted
        else serialization.NoEncryption()
    )
    data = generated.private_key.private_bytes(encoding, private_format, encryption)
    key = certs.load_private_key_bytes(data, PASSPHRASE if encrypted else None)
    assert certs.key_matches_certificate(key, generated.certificate)
    if encrypted:
        with pytest.raises(certs.PassphraseNeeded):
            certs.load_private_key_bytes(data, None)
        with pytest.raises(certs.WrongPassphrase):
            certs.load_private_key_bytes(data, b"wrong")
    else:  # a passphrase for an unencrypted key is harmless
        assert certs.key_matches_certificate(
            certs.load_private_key_bytes(data, b"unused"), generated.certificate
        )


def test_pfx_passphrases(files: dict[str, Path], generated: certs.GeneratedCertificate) -> None:
    with pytest.raises(certs.PassphraseNeeded, match="protected by a passphrase"):
        certs.load_pfx_file(files["pfx"], None)
    with pytest.raises(certs.WrongPassphrase, match="does not open"):
        certs.load_pfx_file(files["pfx"], b"wrong")
    unprotected = pkcs12.serialize_key_and_certificates(
        b"open", generated.private_key, generated.certificate, None, serialization.NoEncryption()
    )
    assert certs.load_pfx_bytes(unprotected, None).certificate == generated.certificate


def test_a_non_rsa_key_is_refused_with_a_reason() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(UserError, match="need an RSA key"):
        certs.load_private_key_bytes(pem, None)


def _bad_inputs(
    generated: certs.GeneratedCertificate, files: dict[str, Path]
) -> dict[str, tuple[bytes, str]]:
    key = generated.private_key
    der = certs.cert_der(generated.certificate)
    pem = certs.cert_pem(generated.certificate)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(generated.certificate.subject)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    return {
        "empty": (b"", "is empty"),
        "whitespace": (b"  \n\t\n", "is empty"),
        "binary": (os.urandom(2048).replace(b"0", b"1"), "not a certificate"),
        "text": (b"hello, this is not a certificate\n", "text without a certificate"),
        "truncated der": (der[: len(der) // 2], "damaged or truncated"),
        "truncated pem": (pem[: len(pem) // 2], "damaged or truncated"),
        "pem private key": (files["plain.key"].read_bytes(), "is a private key"),
        "encrypted private key": (files["key"].read_bytes(), "is a private key"),
        "der private key": (
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "is a private key",
        ),
        "pfx": (files["pfx"].read_bytes(), "PFX/PKCS#12"),
        "csr": (csr, "signing request"),
        "public key": (
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "holds no certificate",
        ),
    }


def test_every_bad_certificate_input_has_a_clear_message(
    generated: certs.GeneratedCertificate, files: dict[str, Path]
) -> None:
    for label, (data, words) in _bad_inputs(generated, files).items():
        with pytest.raises(UserError) as raised:
            certs.load_certificate_bytes(data, "the file")
        assert words in str(raised.value), label
        assert str(raised.value).startswith("the file"), label


def test_file_problems_become_user_errors(tmp_path: Path, files: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="does not exist"):
        certs.load_certificate_file(tmp_path / "missing.cer")
    with pytest.raises(UserError, match="is a folder"):
        certs.load_certificate_file(tmp_path)
    huge = tmp_path / "huge.cer"
    huge.write_bytes(b"0" * (certs.MAX_INPUT_BYTES + 1))
    with pytest.raises(UserError, match="far too big"):
        certs.load_certificate_file(huge)
    with pytest.raises(UserError, match="is a certificate, not a private key"):
        certs.load_private_key_file(files["pem"], None)
    with pytest.raises(UserError, match="PFX/PKCS#12 file, not a bare private key"):
        certs.load_private_key_file(files["pfx"], None)
    with pytest.raises(UserError, match="not a PFX"):
        certs.load_pfx_file(files["pem"], None)
    with pytest.raises(UserError, match="not a readable private key"):
        certs.load_private_key_bytes(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", None
        )


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked.cer"
    locked.write_bytes(b"x")
    locked.chmod(0)
    with pytest.raises(UserError, match="permission"):
        certs.load_certificate_file(locked)


def test_a_wrong_passphrase_is_named_even_when_it_decrypts_to_garbage() -> None:
    """About one wrong passphrase in 256 decrypts an encrypted key to bytes with valid padding
    that are no key; the user must still hear "the passphrase does not open it"."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Written with cryptography's 2048 PBKDF2 rounds: hunting for garbage through the tool's
    # own 600 000 would take minutes, which is the point of them.
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"right passphrase"),
    )
    garbage: list[bytes] = []
    for attempt in range(5000):
        wrong = f"wrong {attempt}".encode()
        try:
            serialization.load_pem_private_key(pem, password=wrong)
        except ValueError as error:
            if "decrypt" not in str(error).lower() and "password" not in str(error).lower():
                garbage.append(wrong)
                if len(garbage) == 3:
                    break
    assert len(garbage) == 3, "no wrong passphrase decrypted to garbage in 5000 tries"
    for wrong in [*garbage, b"plainly wrong"]:
        with pytest.raises(certs.WrongPassphrase, match="The passphrase does not open"):
            certs.load_private_key_bytes(pem, wrong, "k.key")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"right passphrase"),
    )
    with pytest.raises(certs.WrongPassphrase):
        certs.load_private_key_bytes(der, b"plainly wrong", "k.der")
    damaged = pem.replace(b"\n", b"")[:200]
    with pytest.raises(UserError) as caught:
        certs.load_private_key_bytes(damaged, b"anything", "k.key")
    assert not isinstance(caught.value, certs.WrongPassphrase)
