"""Fail when uv.lock pins a version with a known security advisory; works offline.

Why not pip-audit: it needs a vulnerability service, and neither answers here. Its default
(PyPI's JSON API, one request per `/pypi/NAME/VERSION/json`) gets 404 for every version
from the index this project's machines and CI reach (only the per-project document is
served, and its `vulnerabilities` list covers the newest release alone); its other service,
OSV, is not reachable at all. pip-audit then reports each package as "could not be audited"
and still exits 0, so it would pass CI while checking nothing.

So the advisories that touch this lock are kept here, as data, each with its identifier and
the affected versions as published (PyPA advisory database / GitHub advisories). The check
is the same as pip-audit's (is a locked version inside an affected range?) and reads only
uv.lock. When a dependency is added, or an advisory published for one, add it here.

    uv run --frozen python .ci/audit_lock.py [path/to/uv.lock]

Exit 0: no locked version is affected; 1: some are (each printed with its advisory and the
first version without it); 2: the lock could not be read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from the lock's own tomli
    import tomli as tomllib


@dataclass(frozen=True)
class Advisory:
    package: str
    ids: str
    affected: str  # a PEP 440 specifier set
    fixed: str
    summary: str


ADVISORIES = (
    # cryptography (inspect parses untrusted PKCS#12 and PEM/DER with it)
    Advisory("cryptography", "CVE-2023-0286 (OpenSSL in the wheels)", "<39.0.1", "39.0.1",
             "X.400 address type confusion in the bundled OpenSSL"),
    Advisory("cryptography", "CVE-2023-23931", ">=1.8,<39.0.1", "39.0.1",
             "Cipher.update_into could write into immutable objects"),
    Advisory("cryptography", "CVE-2023-49083", ">=3.1,<41.0.6", "41.0.6",
             "NULL dereference loading PKCS#7 certificates"),
    Advisory("cryptography", "CVE-2023-50782", "<42.0.0", "42.0.0",
             "Bleichenbacher timing oracle in RSA PKCS#1 v1.5 decryption"),
    Advisory("cryptography", "CVE-2024-26130, GHSA-6vqw-3v5j-54x4", ">=38.0.0,<42.0.4", "42.0.4",
             "NULL dereference in PKCS#12 serialization with a mismatched key"),
    Advisory("cryptography", "GHSA-h4gh-qq45-vh27 (OpenSSL in the wheels)", ">=37.0.0,<43.0.1",
             "43.0.1", "vulnerable OpenSSL bundled in the wheels"),
    Advisory("cryptography", "CVE-2024-12797 (OpenSSL in the wheels)", ">=42.0.0,<44.0.1",
             "44.0.1", "raw public key authentication failures not detected (bundled OpenSSL)"),
    # requests and what it stands on
    Advisory("requests", "CVE-2023-32681", ">=2.3.0,<2.31.0", "2.31.0",
             "Proxy-Authorization header leaked to the destination on redirects"),
    Advisory("requests", "CVE-2024-35195", "<2.32.0", "2.32.0",
             "verify=False kept for later requests on the same connection"),
    Advisory("requests", "CVE-2024-47081", "<2.32.4", "2.32.4",
             ".netrc credentials leaked to third parties for crafted URLs"),
    Advisory("urllib3", "CVE-2023-43804", "<1.26.17", "1.26.17",
             "Cookie header not stripped on cross-origin redirects"),
    Advisory("urllib3", "CVE-2023-43804", ">=2.0.0,<2.0.6", "2.0.6",
             "Cookie header not stripped on cross-origin redirects"),
    Advisory("urllib3", "CVE-2023-45803", "<1.26.18", "1.26.18",
             "request body not removed on a 303 redirect"),
    Advisory("urllib3", "CVE-2023-45803", ">=2.0.0,<2.0.7", "2.0.7",
             "request body not removed on a 303 redirect"),
    Advisory("urllib3", "CVE-2024-37891", "<1.26.19", "1.26.19",
             "Proxy-Authorization header kept on cross-origin redirects"),
    Advisory("urllib3", "CVE-2024-37891", ">=2.0.0,<2.2.2", "2.2.2",
             "Proxy-Authorization header kept on cross-origin redirects"),
    Advisory("urllib3", "CVE-2025-50181", "<2.5.0", "2.5.0",
             "redirects not disabled when retries are disabled on a PoolManager"),
    Advisory("urllib3", "CVE-2025-66418", ">=1.24,<2.6.0", "2.6.0",
             "unbounded number of links in the decompression chain"),
    Advisory("urllib3", "CVE-2025-66471", ">=1.0,<2.6.0", "2.6.0",
             "streaming API decompresses highly compressed data whole"),
    Advisory("urllib3", "CVE-2026-21441", "<2.6.3", "2.6.3",
             "decompression-bomb safeguards bypassed when redirects are followed"),
    Advisory("idna", "CVE-2024-3651", "<3.7", "3.7",
             "quadratic-time encode() on crafted input"),
    Advisory("certifi", "CVE-2022-23491", "<2022.12.7", "2022.12.7",
             "TrustCor root certificates still trusted"),
    Advisory("certifi", "CVE-2023-37920", "<2023.7.22", "2023.7.22",
             "e-Tugra root certificates still trusted"),
    Advisory("certifi", "CVE-2024-39689", "<2024.7.4", "2024.7.4",
             "GLOBALTRUST root certificates still trusted"),
    # MSAL's JWT library and the Azure SDK the tests compare against
    Advisory("pyjwt", "CVE-2022-29217", ">=1.5.0,<2.4.0", "2.4.0",
             "algorithm confusion with a public key as an HMAC secret"),
    Advisory("pyjwt", "CVE-2024-53861", "==2.10.0", "2.10.1",
             "issuer checked as a substring"),
    Advisory("azure-identity", "CVE-2024-35255", "<1.16.1", "1.16.1",
             "elevation of privilege through managed identity"),
    # text and templates (Textual's markdown, the snapshot tests' reports)
    Advisory("pygments", "CVE-2021-27291", "<2.7.4", "2.7.4",
             "regular expressions with exponential backtracking"),
    Advisory("pygments", "CVE-2022-40896", "<2.15.0", "2.15.0",
             "regular expressions with exponential backtracking"),
    Advisory("markdown-it-py", "CVE-2023-26302, CVE-2023-26303", "<2.2.0", "2.2.0",
             "crashes and infinite loops on crafted input"),
    Advisory("jinja2", "CVE-2024-22195", "<3.1.3", "3.1.3",
             "xmlattr filter accepts keys with spaces (XSS)"),
    Advisory("jinja2", "CVE-2024-34064", "<3.1.4", "3.1.4",
             "xmlattr filter accepts keys with / > = (XSS)"),
    Advisory("jinja2", "CVE-2024-56201", ">=3.0.0,<3.1.5", "3.1.5",
             "sandbox escape through a malicious file name"),
    Advisory("jinja2", "CVE-2024-56326", "<3.1.5", "3.1.5",
             "sandbox escape through str.format"),
    Advisory("jinja2", "CVE-2025-27516", "<3.1.6", "3.1.6",
             "sandbox escape through the |attr filter"),
)


def locked_versions(lock: Path) -> list[tuple[str, str]]:
    """Every (name, version) uv.lock pins; a name may appear with several versions."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return [
        (canonicalize_name(package["name"]), package["version"])
        for package in data.get("package", [])
        if "version" in package
    ]


def findings(locked: list[tuple[str, str]]) -> list[str]:
    """One line per locked version inside an advisory's affected range."""
    found = []
    for name, raw in locked:
        try:
            version = Version(raw)
        except InvalidVersion:
            continue
        for advisory in ADVISORIES:
            if canonicalize_name(advisory.package) == name and SpecifierSet(
                advisory.affected
            ).contains(version, prereleases=True):
                found.append(
                    f"{name} {raw}: {advisory.ids} ({advisory.summary}); "
                    f"fixed in {advisory.fixed}"
                )
    return found


def main(argv: list[str]) -> int:
    lock = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "uv.lock"
    try:
        locked = locked_versions(lock)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        print(f"audit: cannot read {lock}: {error}", file=sys.stderr)
        return 2
    found = findings(locked)
    for line in found:
        print(f"audit: known-vulnerable locked version: {line}")
    if found:
        print(f"audit: {len(found)} advisories apply to {lock.name}: upgrade (uv lock -P NAME).")
        return 1
    print(f"audit: {len(locked)} locked versions checked against {len(ADVISORIES)} advisories: none apply.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
