"""The certificate engine: make an RSA key and a self-signed certificate, export and load them.

Plain data in and out; the only I/O is in the `load_*_file` functions, which turn every
problem a user can cause (missing, empty, huge, damaged, wrong kind of file, wrong
passphrase) into a `UserError` that says what happened and what to do.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard import names
from wizard.errors import UserError
from wizard.key_encryption import encrypted_pkcs8_pem, strengthen_pfx_mac
from wizard.reading import read_regular_file

KEY_SIZES = names.KEY_SIZES
DEFAULT_KEY_SIZE = 2048
DEFAULT_DAYS = 365
MAX_DAYS = names.MAX_DAYS
LONG_VALIDITY_WARNING_DAYS = names.LONG_VALIDITY_WARNING_DAYS
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_INPUT_BYTES = 1024 * 1024  # no certificate, key or PFX a user brings is anywhere near this
PFX_KDF_ROUNDS = 100_000


@dataclass(frozen=True)
class GeneratedCertificate:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey


class PassphraseNeeded(UserError):
    """The file is encrypted and no passphrase was given (callers may prompt and retry)."""


class WrongPassphrase(UserError):
    """The passphrase given does not open the file (callers may prompt and retry)."""


def key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """An X.509 key usage allowing only the uses named; every other use is off.

    Shared with the demo tenant's CA and server certificates, so one place spells out the
    nine flags.
    """
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def generate_certificate(
    name: str,
    *,
    days: int = DEFAULT_DAYS,
    key_size: int = DEFAULT_KEY_SIZE,
    now: dt.datetime | None = None,
) -> GeneratedCertificate:
    """A new RSA key and a self-signed client-authentication certificate `CN=<name>`.

    Not-before is five minutes in the past so a server whose clock runs a little behind
    still accepts the certificate straight away.
    """
    for problem in (
        names.certificate_name_problem(name),
        names.days_problem(days),
        names.key_size_problem(key_size),
    ):
        if problem:
            raise UserError(problem, exit_code=2)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True, key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return GeneratedCertificate(certificate=builder.sign(key, hashes.SHA256()), private_key=key)


# --- thumbprints --------------------------------------------------------------------------


def thumbprint_sha1(cert: x509.Certificate) -> str:
    """SHA-1 of the DER certificate: 40 uppercase hex digits, exactly as the Entra portal shows."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def thumbprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate as 64 uppercase hex digits."""
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def x5t(cert: x509.Certificate) -> str:
    """The JOSE `x5t` header: base64url of the SHA-1 digest, with `=` padding as MSAL sends it."""
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode("ascii")


def x5t_s256(cert: x509.Certificate) -> str:
    """The JOSE `x5t#S256` header: base64url of the SHA-256 digest, with `=` padding."""
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode("ascii")


# --- exports ------------------------------------------------------------------------------


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey, passphrase: bytes | None) -> bytes:
    """The private key as PKCS#8 PEM; with a passphrase, encrypted (AES-256-CBC, PBKDF2-SHA256
    with KEY_KDF_ROUNDS iterations, see wizard.key_encryption)."""
    if not passphrase:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return encrypted_pkcs8_pem(plain, passphrase)


def pfx_bytes(
    key: rsa.RSAPrivateKey, cert: x509.Certificate, passphrase: bytes, friendly_name: str
) -> bytes:
    """PKCS#12 with key and certificate, AES-256-CBC + PBKDF2-SHA256 and a SHA-256 MAC.

    These are the algorithms Windows (10 1709+, Server 2019+), PowerShell and OpenSSL 3 all
    open; the legacy RC2/3DES defaults are refused by OpenSSL 3 without its legacy provider.
    """
    if not passphrase:
        raise ValueError("a .pfx is only written with a passphrase")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PFX_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    pfx = pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), key, cert, None, encryption
    )
    return strengthen_pfx_mac(pfx, passphrase)


# --- loading what the user brings ---------------------------------------------------------


def read_input_file(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of a file the user named, or a UserError that says why it cannot be read."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UserError(
                f"{path} is a folder, not a {what}.", hint=f"Give the path of the {what} itself."
            )
        data = read_regular_file(path, what=what, limit=MAX_INPUT_BYTES)
    except FileNotFoundError:
        raise UserError(
            f"{path} does not exist.", hint="Check the path (tab completion helps)."
        ) from None
    except PermissionError:
        raise UserError(
            f"You do not have permission to read {path}.",
            hint="Run as the user who owns the file, or fix its permissions.",
        ) from None
    except OSError as error:
        raise UserError(f"Cannot read {path}: {error.strerror or error}.") from None
    if not data.strip():
        raise UserError(f"{path} is empty.", hint=f"Pick the {what} again, or re-export it.")
    return data


def looks_like_pfx(data: bytes) -> bool:
    """True for PKCS#12 structure: SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data ... } }."""
    return (
        data[:1] == b"\x30"
        and b"\x02\x01\x03\x30" in data[:16]
        and b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01" in data[:32]
    )


def _looks_like_der_private_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # encrypted PKCS#8: a key that needs a password
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate in a bundle that issued none of the others (usually the first)."""
    for cert in certificates:
        others = (other for other in certificates if other is not cert)
        if not any(other.issuer == cert.subject for other in others):
            return cert
    return certificates[0]


def load_certificate_bytes(data: bytes, source: str = "input") -> x509.Certificate:
    """A certificate from DER or PEM bytes (a PEM bundle gives its leaf)."""
    if not data.strip():
        raise UserError(f"{source} is empty.", hint="Pick the certificate file again.")
    if b"-----BEGIN" in data:
        if b"-----BEGIN CERTIFICATE-----" in data or b"-----BEGIN X509 CERTIFICATE-----" in data:
            try:
                pem = data.replace(b"X509 CERTIFICATE", b"CERTIFICATE")
                return _leaf(x509.load_pem_x509_certificates(pem))
            except ValueError:
                raise UserError(
                    f"{source} holds a PEM certificate block that is damaged or truncated.",
                    hint="Export or copy the certificate again, including the BEGIN and END lines.",
                ) from None
        if b"PRIVATE KEY-----" in data:
            raise UserError(
                f"{source} is a private key, not a certificate.",
                hint="Give the certificate (.cer, .crt or .pem); pass a key with --key.",
            )
        if b"CERTIFICATE REQUEST-----" in data:
            raise UserError(
                f"{source} is a certificate signing request (CSR), not a certificate.",
                hint="Use the certificate the request produced, or make one with 'generate'.",
            )
        raise UserError(
            f"{source} is PEM text but holds no certificate.",
            hint="A certificate starts with -----BEGIN CERTIFICATE-----.",
        )
    if data[:1] == b"\x30":
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            pass
        if looks_like_pfx(data):
            raise UserError(
                f"{source} is a PFX/PKCS#12 file (key and certificate), not a bare certificate.",
                hint="Open it with 'inspect FILE.pfx', or give the .cer/.pem exported next to it.",
            )
        if _looks_like_der_private_key(data):
            raise UserError(
                f"{source} is a private key, not a certificate.",
                hint="Give the certificate (.cer, .crt or .pem); pass a key with --key.",
            )
        raise UserError(
            f"{source} looks like DER data but is not a valid certificate (damaged or truncated?).",
            hint="Export the certificate again.",
        )
    if _is_text(data):
        raise UserError(
            f"{source} is text without a certificate in it.",
            hint="A PEM certificate starts with -----BEGIN CERTIFICATE-----; "
            "a .cer may also be binary DER.",
        )
    raise UserError(
        f"{source} is not a certificate (neither PEM nor DER).",
        hint="Give a .cer, .crt or .pem certificate file.",
    )


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text.lstrip("\ufeff"))


def load_certificate_file(path: str | os.PathLike[str]) -> x509.Certificate:
    return load_certificate_bytes(read_input_file(path, "certificate"), str(path))


def _require_rsa(key: object, source: str) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UserError(
            f"{source} holds a {type(key).__name__.lstrip('_')} key; Entra ID certificate "
            "credentials need an RSA key.",
            hint="Make a new RSA certificate with 'entra-cert-wizard generate'.",
        )
    return key


def load_private_key_bytes(
    data: bytes, passphrase: bytes | None, source: str = "input"
) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8, encrypted or not) or DER bytes."""
    if b"-----BEGIN" in data:
        if b"PRIVATE KEY-----" not in data:
            kind = (
                "a certificate" if b"CERTIFICATE-----" in data else "PEM text without a private key"
            )
            raise UserError(
                f"{source} is {kind}, not a private key.",
                hint="Give the .key file written next to the certificate.",
            )
        loader = serialization.load_pem_private_key
    elif looks_like_pfx(data):
        raise UserError(
            f"{source} is a PFX/PKCS#12 file, not a bare private key.",
            hint="Use the .pfx as the certificate file instead (it holds the key too).",
        )
    else:
        loader = serialization.load_der_private_key
    try:
        key = loader(data, password=passphrase or None)
    except TypeError as error:
        if passphrase and "not encrypted" in str(error):
            # A passphrase for an unencrypted key is harmless: load the key without it
            # (and refuse a damaged one as clearly as without a passphrase).
            return load_private_key_bytes(data, None, source)
        raise PassphraseNeeded(
            f"{source} is encrypted and needs its passphrase.",
            hint="Put the passphrase in an environment variable and pass --passphrase-env VAR.",
        ) from None
    except ValueError as error:
        said = str(error).lower()
        # A wrong passphrase usually fails the decryption itself, but about one in 256 decrypts
        # to bytes with valid padding that are no key: for an encrypted key that, too, means
        # the passphrase does not open it.
        if "password" in said or "decrypt" in said or (passphrase and _encrypted(loader, data)):
            raise WrongPassphrase(
                f"The passphrase does not open {source}.",
                hint="Check the passphrase (and which environment variable holds it).",
            ) from None
        raise UserError(
            f"{source} is not a readable private key (damaged, truncated or not a key).",
            hint="Give the .key file written next to the certificate.",
        ) from None
    except UnsupportedAlgorithm:
        raise UserError(f"{source} uses a key type or cipher this tool cannot read.") from None
    return _require_rsa(key, source)


def _encrypted(loader: Callable[..., object], data: bytes) -> bool:
    """True when `data` is a private key that only opens with a passphrase."""
    try:
        loader(data, password=None)
    except TypeError:  # "Password was not given but private key is encrypted"
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def load_private_key_file(
    path: str | os.PathLike[str], passphrase: bytes | None
) -> rsa.RSAPrivateKey:
    return load_private_key_bytes(read_input_file(path, "private key"), passphrase, str(path))


@dataclass(frozen=True)
class PfxContents:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    friendly_name: str | None


def load_pfx_bytes(data: bytes, passphrase: bytes | None, source: str = "input") -> PfxContents:
    """Certificate and RSA key from PKCS#12 bytes; without a passphrase also tries the empty one."""
    if not looks_like_pfx(data):
        if b"-----BEGIN" in data or data[:1] == b"\x30":
            raise UserError(
                f"{source} is not a PFX/PKCS#12 file.",
                hint="Certificates (.cer/.pem) are read without a passphrase; keys go with --key.",
            )
        raise UserError(f"{source} is not a PFX/PKCS#12 file (damaged, or another kind of file).")
    attempts = [passphrase] if passphrase else [None, b""]
    for attempt in attempts:
        try:
            with warnings.catch_warnings():
                # For a file with bytes after its end cryptography falls back to BER and warns,
                # printing a source line of ours on the user's terminal: the file opens anyway.
                warnings.simplefilter("ignore", UserWarning)
                loaded = pkcs12.load_pkcs12(data, attempt)
            break
        except ValueError:
            continue
        except UnsupportedAlgorithm:
            raise UserError(
                f"{source} uses a cipher this tool cannot read (old RC2/DES PFX?).",
                hint="Re-export it with AES-256 (Windows: Export-PfxCertificate "
                "-CryptoAlgorithmOption AES256_SHA256).",
            ) from None
    else:
        if passphrase:
            raise WrongPassphrase(
                f"The passphrase does not open {source} (or the file is damaged).",
                hint="Check the passphrase (and which environment variable holds it).",
            )
        raise PassphraseNeeded(
            f"{source} is protected by a passphrase.",
            hint="Put the passphrase in an environment variable and pass --passphrase-env VAR.",
        )
    if loaded.cert is None:
        raise UserError(f"{source} holds no certificate for its key.")
    if loaded.key is None:
        raise UserError(
            f"{source} holds a certificate but no private key.",
            hint="Export the PFX again with its private key.",
        )
    friendly = loaded.cert.friendly_name
    return PfxContents(
        certificate=loaded.cert.certificate,
        private_key=_require_rsa(loaded.key, source),
        friendly_name=friendly.decode("utf-8", "replace") if friendly else None,
    )


def load_pfx_file(
    path: str | os.PathLike[str], passphrase: bytes | None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    contents = load_pfx_bytes(read_input_file(path, "PFX file"), passphrase, str(path))
    return contents.certificate, contents.private_key


# --- facts about a certificate ------------------------------------------------------------


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches_certificate(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bool:
    """True when the certificate carries this key's public half."""
    try:
        return _public_der(key.public_key()) == _public_der(cert.public_key())
    except (ValueError, UnsupportedAlgorithm):
        return False


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def subject_cn(cert: x509.Certificate) -> str:
    """The subject's common name, or "" when it has none."""
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def not_valid_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


def not_valid_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc
