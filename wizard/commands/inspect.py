"""`entra-cert-wizard inspect`: what the Entra portal will show for a certificate, and checks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from wizard import certs, names
from wizard.commands.generate import iso_utc
from wizard.passphrase import open_with_passphrase
from wizard.shown import shown

WEAK_HASHES = {"md5", "sha1"}

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        public_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}", public_key.key_size
    return type(public_key).__name__.lstrip("_").replace("PublicKey", ""), None


def _signature_algorithm(cert: x509.Certificate) -> tuple[str, str | None]:
    """A readable signature algorithm name and its hash (None when it has no separate hash)."""
    oid = cert.signature_algorithm_oid
    # OpenSSL's long name (sha256WithRSAEncryption) is what `openssl x509 -text` shows too.
    name = getattr(oid, "_name", "") or "Unknown OID"
    if name == "Unknown OID":
        name = oid.dotted_string
    try:
        hash_algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return name, None
    return name, hash_algorithm.name if hash_algorithm else None


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension: treat as absent rather than crash
        return None


def run_checks(
    cert: x509.Certificate, key: rsa.RSAPrivateKey | None, now: dt.datetime
) -> list[Check]:
    """What matters for an Entra ID certificate credential, each as ok / warn / fail."""
    checks: list[Check] = []
    before, after = certs.not_valid_before(cert), certs.not_valid_after(cert)
    days_left = (after - now).days
    if now < before:
        checks.append(Check("validity", "fail", f"not valid until {before:%Y-%m-%d %H:%M} UTC"))
    elif now >= after:
        checks.append(Check("validity", "fail", f"expired on {after:%Y-%m-%d %H:%M} UTC"))
    elif days_left < names.EXPIRY_WARNING_DAYS:
        checks.append(Check("validity", "warn", f"expires in {days_left} days: renew it soon"))
    else:
        checks.append(Check("validity", "ok", f"valid now, {days_left} days left"))
    lifetime = (after - before).days
    if lifetime > certs.LONG_VALIDITY_WARNING_DAYS:
        checks.append(
            Check("lifetime", "warn", f"{lifetime} days; many tenants cap credentials at 1-2 years")
        )

    key_type, key_size = _key_description(cert)
    if key_type != "RSA":
        checks.append(Check("key", "fail", f"{key_type} key; Entra ID needs an RSA key"))
    elif key_size is not None and key_size < 2048:
        checks.append(Check("key", "fail", f"RSA {key_size} bits; Entra ID needs 2048 or more"))
    else:
        checks.append(Check("key", "ok", f"RSA {key_size} bits"))

    signature, hash_name = _signature_algorithm(cert)
    if hash_name in WEAK_HASHES:
        checks.append(Check("signature", "warn", f"{signature}: a weak hash; prefer SHA-256"))
    else:
        checks.append(Check("signature", "ok", signature))

    usage = _extension(cert, x509.ExtendedKeyUsage)
    if usage is None:
        checks.append(Check("extended key usage", "ok", "none (no restriction)"))
    elif ExtendedKeyUsageOID.CLIENT_AUTH in usage:  # type: ignore[operator]
        checks.append(Check("extended key usage", "ok", "clientAuth"))
    else:
        checks.append(Check("extended key usage", "warn", "present but without clientAuth"))

    key_usage = _extension(cert, x509.KeyUsage)
    if key_usage is None or key_usage.digital_signature:  # type: ignore[attr-defined]
        checks.append(Check("key usage", "ok", "digitalSignature" if key_usage else "none"))
    else:
        checks.append(Check("key usage", "warn", "does not allow digitalSignature"))

    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:  # type: ignore[attr-defined]
        checks.append(Check("basic constraints", "warn", "a CA certificate; use a leaf"))
    else:
        checks.append(Check("basic constraints", "ok", "CA:false" if constraints else "none"))

    if key is not None:
        if certs.key_matches_certificate(key, cert):
            checks.append(Check("key match", "ok", "the private key belongs to this certificate"))
        else:
            checks.append(
                Check("key match", "fail", "the private key does NOT belong to this certificate")
            )
    return checks


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = certs.read_input_file(path, "certificate or PFX file")
    key: rsa.RSAPrivateKey | None = None
    friendly_name: str | None = None
    if certs.looks_like_pfx(data):
        kind = "PFX/PKCS#12"
        contents = open_with_passphrase(
            lambda passphrase: certs.load_pfx_bytes(data, passphrase, str(path)),
            args.passphrase_env,
            str(path),
        )
        cert, key, friendly_name = (
            contents.certificate,
            contents.private_key,
            contents.friendly_name,
        )
    else:
        kind = "PEM certificate" if b"-----BEGIN" in data else "DER certificate"
        cert = certs.load_certificate_bytes(data, str(path))
        if b"PRIVATE KEY-----" in data and not args.key:  # a combined PEM: check its key too
            kind = "PEM certificate and private key"
            key = open_with_passphrase(
                lambda passphrase: certs.load_private_key_bytes(data, passphrase, str(path)),
                args.passphrase_env,
                str(path),
            )
    if args.key:
        key_data = certs.read_input_file(args.key, "private key")
        key = open_with_passphrase(
            lambda passphrase: certs.load_private_key_bytes(key_data, passphrase, args.key),
            args.passphrase_env,
            args.key,
        )

    now = dt.datetime.now(dt.timezone.utc)
    checks = run_checks(cert, key, now)
    key_type, key_size = _key_description(cert)
    signature, _ = _signature_algorithm(cert)
    before, after = certs.not_valid_before(cert), certs.not_valid_after(cert)
    facts = {
        "file": str(path),
        "kind": kind,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "subject_cn": certs.subject_cn(cert),
        "friendly_name": friendly_name,
        "serial": f"{cert.serial_number:X}",
        "not_before": iso_utc(before),
        "not_after": iso_utc(after),
        "days_left": (after - now).days,
        "expired": now >= after,
        "key_type": key_type,
        "key_size": key_size,
        "signature_algorithm": signature,
        "thumbprint_sha1": certs.thumbprint_sha1(cert),
        "thumbprint_sha256": certs.thumbprint_sha256(cert),
        "x5t": certs.x5t(cert),
        "x5t_s256": certs.x5t_s256(cert),
        "self_signed": certs.is_self_signed(cert),
        "key_file": args.key,
        "key_matches": None if key is None else certs.key_matches_certificate(key, cert),
        "checks": [asdict(check) for check in checks],
    }
    exit_code = 1 if any(check.status == "fail" for check in checks) else 0
    if args.json:
        print(json.dumps(facts, indent=2))
        return exit_code

    days = facts["days_left"]
    validity = f"expired {-days} days ago" if facts["expired"] else f"{days} days left"
    rows = [
        ("File", f"{path} ({kind})"),
        ("Subject", facts["subject"]),
        ("Issuer", f"{facts['issuer']}{' (self-signed)' if facts['self_signed'] else ''}"),
        ("Friendly name", friendly_name),
        ("Serial", facts["serial"]),
        ("Valid from", f"{before:%Y-%m-%d %H:%M} UTC"),
        ("Valid until", f"{after:%Y-%m-%d %H:%M} UTC ({validity})"),
        ("Key", f"{key_type} {key_size} bits" if key_size else key_type),
        ("Signature", signature),
        ("Thumbprint", f"{facts['thumbprint_sha1']} (SHA-1, portal form)"),
        ("SHA-256", facts["thumbprint_sha256"]),
        ("x5t", facts["x5t"]),
        ("x5t#S256", facts["x5t_s256"]),
    ]
    # Each value is one line: a friendly name or subject cannot forge a line of its own.
    lines = [f"{label + ':':<15}{shown(value)}" for label, value in rows if value is not None]
    lines.append("Checks:")
    lines += [f"  {check.status:<5} {check.name}: {check.detail}" for check in checks]
    print("\n".join(lines))
    if exit_code:
        print("error: the certificate fails a check above (see 'fail').", file=sys.stderr)
    return exit_code
