"""`entra-cert-wizard generate`: make a key and a self-signed certificate, stored safely."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import stat
import sys
import textwrap
from pathlib import Path

from wizard import certs, names
from wizard.entra_portal import UPLOAD_CERTIFICATE
from wizard.errors import UserError
from wizard.passphrase import passphrase_for_new_key
from wizard.paths import user_path
from wizard.storage import IS_WINDOWS, check_name_is_free, write_certificate_set


def iso_utc(moment: dt.datetime) -> str:
    """A UTC timestamp as 2026-11-27T09:55:00Z."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mode(path: Path) -> str:
    if IS_WINDOWS:
        return "(no POSIX mode)"
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def _file_table(described: list[tuple[Path, str]], width: int = 80) -> list[str]:
    """File name, mode and purpose, the purpose wrapped to fit an 80-column terminal."""
    name_width = max(len(path.name) for path, _ in described)
    indent = 2 + name_width + 2 + 4 + 2
    lines = []
    for path, purpose in described:
        wrapped = textwrap.wrap(purpose, max(30, width - indent), break_on_hyphens=False)
        lines.append(f"  {path.name:<{name_width}}  {_mode(path):<4}  {wrapped[0]}")
        lines += [" " * indent + more for more in wrapped[1:]]
    return lines


def _check_arguments(args: argparse.Namespace) -> None:
    for problem, option in (
        (names.certificate_name_problem(args.name), "--name"),
        (names.days_problem(args.days), "--days"),
        (names.key_size_problem(args.key_size), "--key-size"),
    ):
        if problem:
            raise UserError(f"{option}: {problem}", exit_code=2)


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    out_root = user_path(args.out, "--out").absolute() if args.out else None
    check_name_is_free(args.name, out_root=out_root, force=args.force)
    passphrase = passphrase_for_new_key(args.passphrase_env, args.no_passphrase)
    warnings = [w for w in [names.long_validity_warning(args.days)] if w]

    if not args.json:
        print(f"Generating an RSA {args.key_size}-bit key and certificate...", file=sys.stderr)
    generated = certs.generate_certificate(args.name, days=args.days, key_size=args.key_size)
    result = write_certificate_set(
        generated, args.name, out_root=out_root, passphrase=passphrase, force=args.force
    )
    warnings.extend(result.warnings)
    cert = generated.certificate
    files = result.files

    if args.json:
        document = {
            "name": args.name,
            "folder": str(files.folder),
            "files": files.as_dict(),
            "thumbprint_sha1": certs.thumbprint_sha1(cert),
            "thumbprint_sha256": certs.thumbprint_sha256(cert),
            "x5t": certs.x5t(cert),
            "x5t_s256": certs.x5t_s256(cert),
            "not_before": iso_utc(certs.not_valid_before(cert)),
            "not_after": iso_utc(certs.not_valid_after(cert)),
            "key_size": args.key_size,
            "serial": f"{cert.serial_number:X}",
            "key_encrypted": passphrase is not None,
            "warnings": warnings,
            "backup_folder": str(result.backup_folder) if result.backup_folder else None,
        }
        print(json.dumps(document, indent=2))
        return 0

    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    described: list[tuple[Path, str]] = [
        (files.cer, f"UPLOAD THIS ONE to the app registration: {UPLOAD_CERTIFICATE}"),
        (files.pem, "the same public certificate as PEM (az ad app credential reset --cert @file)"),
        (
            files.key,
            f"the private key (PKCS#8, {'encrypted' if passphrase else 'NOT encrypted'}): "
            "stays on this machine, never upload or email it",
        ),
    ]
    if files.pfx:
        described.append(
            (files.pfx, "key + certificate for Windows (Import-PfxCertificate), same passphrase")
        )
    lines = [
        f"Certificate {args.name!r} written to {files.folder} (folder {_mode(files.folder)}):",
        "",
        *_file_table(described),
    ]
    if not files.pfx:
        lines.append("  (no .pfx: a .pfx is only written with a passphrase)")
    not_after = certs.not_valid_after(cert)
    lines += [
        "",
        "Thumbprint (SHA-1, as the portal shows it):",
        f"  {certs.thumbprint_sha1(cert)}",
        f"SHA-256: {certs.thumbprint_sha256(cert)}",
        f"Valid until {not_after:%Y-%m-%d %H:%M} UTC ({args.days} days)",
    ]
    if result.backup_folder:
        lines.append(f"The previous files were moved to {result.backup_folder}")
    lines += [
        "",
        f"Next: upload {files.cer.name}; check the portal shows the same thumbprint.",
    ]
    print("\n".join(lines))
    return 0
