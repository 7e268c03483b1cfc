"""The demo tenant's own certificate authority and HTTPS server certificate.

Both are generated once and kept in the state folder, so start-up is fast and a client that
trusted the CA bundle once keeps trusting it across restarts. The server certificate is
re-issued (by the same CA) when it nears expiry or lacks a name the server now answers on.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wizard.certs import key_usage
from wizard.emulator._files import atomic_write, ensure_private_dir, read_state_file

CA_FILE = "demo-ca.pem"
CA_KEY_FILE = "demo-ca.key"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server.key"
CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = timedelta(days=14)
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san_entries(names: tuple[str, ...]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _names_in(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    found = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    found.update(n.lower() for n in san.get_values_for_type(x509.DNSName))
    return found


def _make_ca(now: datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "entra-cert-wizard demo tenant"),
            x509.NameAttribute(NameOID.COMMON_NAME, "entra-cert-wizard demo CA"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_server(
    ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, names: tuple[str, ...], now: datetime
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_san_entries(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_usage(digital_signature=True, key_encipherment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def ensure_tls(state_dir: Path, extra_names: tuple[str, ...] = ()) -> TlsFiles:
    """Load the CA and server certificate from the state folder, creating what is missing."""
    ensure_private_dir(state_dir)
    now = datetime.now(timezone.utc)
    ca_path, ca_key_path = state_dir / CA_FILE, state_dir / CA_KEY_FILE
    server_path, server_key_path = state_dir / SERVER_FILE, state_dir / SERVER_KEY_FILE
    names = tuple(dict.fromkeys((*DEFAULT_NAMES, *(n.lower() for n in extra_names if n))))

    ca_cert: x509.Certificate | None = None
    ca_key: rsa.RSAPrivateKey | None = None
    if ca_path.exists() and ca_key_path.exists():
        try:
            ca_cert = x509.load_pem_x509_certificate(read_state_file(ca_path))
            loaded = serialization.load_pem_private_key(read_state_file(ca_key_path), password=None)
            ca_key = loaded if isinstance(loaded, rsa.RSAPrivateKey) else None
            if ca_cert.not_valid_after_utc - now < RENEW_BEFORE:
                ca_cert = ca_key = None
        except ValueError:
            ca_cert = ca_key = None
    renew_server = False
    if ca_cert is None or ca_key is None:
        ca_cert, ca_key = _make_ca(now)
        atomic_write(ca_key_path, _key_pem(ca_key))
        atomic_write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        renew_server = True

    if not renew_server and server_path.exists() and server_key_path.exists():
        try:
            server_cert = x509.load_pem_x509_certificate(read_state_file(server_path))
            renew_server = (
                server_cert.issuer != ca_cert.subject
                or server_cert.not_valid_after_utc - now < RENEW_BEFORE
                or not set(names) <= _names_in(server_cert)
            )
        except ValueError:
            renew_server = True
    else:
        renew_server = True
    if renew_server:
        server_cert, server_key = _make_server(ca_cert, ca_key, names, now)
        atomic_write(server_key_path, _key_pem(server_key))
        atomic_write(server_path, server_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return TlsFiles(ca_path, server_path, server_key_path)
