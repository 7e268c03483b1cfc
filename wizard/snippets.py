"""Copyable code that uses the certificate: PowerShell, Exchange Online, MSAL, azure-identity, az.

Every snippet names the exact client ID, tenant, thumbprint and file paths, quoted for its
language (PowerShell single quotes with '' for an apostrophe, Python literals, POSIX shell
quoting), and never holds a secret: passphrases are prompted for or read from an
environment variable whose *name* appears, never its value.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from wizard.signin.clouds import CLOUDS, DEFAULT_CLOUD

if TYPE_CHECKING:
    from wizard.profiles import Profile
    from wizard.signin.clouds import Cloud

PASSPHRASE_ENV = "ENTRA_CERT_PASSPHRASE"
ORGANIZATION_PLACEHOLDER = "contoso.onmicrosoft.com"
WINDOWS_PFX_FOLDER = "C:\\Certificates"  # where the PowerShell snippet expects the .pfx copied

SNIPPET_TITLES: dict[str, str] = {
    "powershell": "PowerShell: import the PFX, then Connect-MgGraph",
    "exchange-online": "PowerShell: Connect-ExchangeOnline",
    "msal-python": "Python: MSAL",
    "azure-identity": "Python: azure-identity CertificateCredential",
    "az-cli": "Azure CLI: az login --service-principal",
}


@dataclass(frozen=True)
class SnippetFields:
    """What the snippets need; a Profile carries the same attributes."""

    cloud: str
    tenant: str
    client_id: str
    thumbprint_sha1: str
    cert_path: str
    key_path: str
    pfx_path: str | None
    organization_domain: str | None = None
    demo: bool = False


def _fields(source: Profile | SnippetFields) -> SnippetFields:
    if isinstance(source, SnippetFields):
        return source
    return SnippetFields(
        cloud=source.cloud,
        tenant=source.tenant,
        client_id=source.client_id,
        thumbprint_sha1=source.thumbprint_sha1,
        cert_path=source.cert_path,
        key_path=source.key_path,
        pfx_path=source.pfx_path,
        organization_domain=source.organization_domain,
        demo=source.demo,
    )


def _cloud(fields: SnippetFields) -> Cloud:
    """The profile's cloud (a demo profile's snippets are written for the global one)."""
    return CLOUDS.get(fields.cloud, CLOUDS[DEFAULT_CLOUD])


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal: nothing expands inside; ' is written ''."""
    # PowerShell also treats the typographic single quotes as quote characters.
    escaped = "".join(c * 2 if c in "'\u2018\u2019\u201a\u201b" else c for c in text)
    return f"'{escaped}'"


def py_quote(text: str) -> str:
    """A Python string literal for `text` (repr is exact for any str)."""
    return repr(text)


def sh_quote(text: str) -> str:
    """A POSIX shell word for `text`."""
    return shlex.quote(text)


def _sibling(path: str, suffix: str) -> str:
    """`path` with its file name's suffix replaced (kept in the same folder, same style)."""
    pure = PurePath(path)
    return str(pure.with_name(pure.stem + suffix))


def windows_pfx_path(pfx: str) -> str:
    """Where Import-PfxCertificate reads the .pfx: its own path when that is a Windows one,
    else a placeholder in WINDOWS_PFX_FOLDER (a Linux path means nothing to Windows)."""
    if PureWindowsPath(pfx).drive:  # C:\... or \\server\share\...
        return pfx
    return str(PureWindowsPath(WINDOWS_PFX_FOLDER, PurePosixPath(pfx).name))


def _demo_note(fields: SnippetFields, comment: str) -> list[str]:
    if not fields.demo:
        return []
    return [
        f"{comment} Demo profile: these lines are written for the real Microsoft cloud; the demo",
        f"{comment} tenant's IDs only work against the demo tenant.",
    ]


def powershell_graph(fields: SnippetFields) -> str:
    """Import the PFX into Cert:\\CurrentUser\\My with a prompted password, then Connect-MgGraph."""
    cloud = _cloud(fields)
    lines = _demo_note(fields, "#")
    if fields.pfx_path:
        pfx = fields.pfx_path
        lines += [
            "# Once per Windows user: import the certificate and its key (asks the PFX password)."
        ]
    else:
        pfx = _sibling(fields.cert_path, ".pfx")
        lines += [
            "# This certificate was made without a passphrase, so no .pfx was written.",
            "# Make one first (it asks for a new export password):",
            f"#   openssl pkcs12 -export -inkey {sh_quote(fields.key_path)}"
            f" -in {sh_quote(fields.cert_path)} -out {sh_quote(pfx)}",
            "# Then, once per Windows user: import the certificate and its key.",
        ]
    windows_pfx = windows_pfx_path(pfx)
    if windows_pfx != pfx:
        lines += [
            f"# Copy {pfx}",
            f"# to the Windows machine as {windows_pfx} (or change the path below).",
        ]
    lines += [
        '$pw = Read-Host -AsSecureString "PFX password"',
        f"Import-PfxCertificate -FilePath {ps_quote(windows_pfx)}"
        " -CertStoreLocation Cert:\\CurrentUser\\My -Password $pw",
        "",
        "# Every run: sign in as the app with the certificate from the store (no secret here).",
    ]
    environment = "" if fields.cloud == "global" else f" -Environment {cloud.mg_environment}"
    lines += [
        f"Connect-MgGraph -ClientId {ps_quote(fields.client_id)}"
        f" -TenantId {ps_quote(fields.tenant)}"
        f" -CertificateThumbprint {ps_quote(fields.thumbprint_sha1)}{environment}",
        "Get-MgOrganization | Select-Object DisplayName, Id",
    ]
    return "\n".join(lines) + "\n"


def powershell_exchange(fields: SnippetFields) -> str:
    """Connect-ExchangeOnline with the same certificate (after the same Import-PfxCertificate)."""
    cloud = _cloud(fields)
    organization = fields.organization_domain
    if not organization and "." in fields.tenant:
        organization = fields.tenant
    lines = _demo_note(fields, "#")
    lines += [
        "# Needs the certificate imported as above, the app permission Exchange.ManageAsApp",
        "# (Office 365 Exchange Online) with admin consent, and an Exchange role for the app.",
    ]
    if not organization:
        organization = ORGANIZATION_PLACEHOLDER
        lines.append(
            "# Replace the organization with your tenant's initial *.onmicrosoft.com domain."
        )
    environment = (
        ""
        if fields.cloud == "global"
        else f" -ExchangeEnvironmentName {cloud.exchange_environment}"
    )
    lines.append(
        f"Connect-ExchangeOnline -AppId {ps_quote(fields.client_id)} -CertificateThumbprint "
        f"{ps_quote(fields.thumbprint_sha1)} -Organization {ps_quote(organization)}{environment}"
    )
    return "\n".join(lines) + "\n"


def msal_python(fields: SnippetFields) -> str:
    """MSAL Python ConfidentialClientApplication with the key file and the SHA-1 thumbprint."""
    cloud = _cloud(fields)
    encrypted = fields.pfx_path is not None
    scope = cloud.graph_resource + "/.default"
    lines = _demo_note(fields, "#")
    if encrypted:
        lines += ["import os", ""]
    lines += ["import msal", ""]
    lines += [
        f"KEY_FILE = {py_quote(fields.key_path)}",
        f"THUMBPRINT = {py_quote(fields.thumbprint_sha1)}  # SHA-1, as the portal shows it",
        "",
        'with open(KEY_FILE, encoding="ascii") as key_file:',
        "    private_key = key_file.read()",
        "",
        "app = msal.ConfidentialClientApplication(",
        f"    {py_quote(fields.client_id)},",
        f"    authority={py_quote(cloud.authority_host + '/' + fields.tenant)},",
        "    client_credential={",
        '        "private_key": private_key,',
        '        "thumbprint": THUMBPRINT,',
    ]
    if encrypted:
        lines.append(
            f'        "passphrase": os.environ[{py_quote(PASSPHRASE_ENV)}],  # key passphrase'
        )
    lines += [
        "    },",
        ")",
        f"result = app.acquire_token_for_client(scopes=[{py_quote(scope)}])",
        'if "access_token" not in result:',
        "    raise SystemExit(f\"{result.get('error')}: {result.get('error_description')}\")",
    ]
    return "\n".join(lines) + "\n"


def azure_identity(fields: SnippetFields) -> str:
    """azure-identity CertificateCredential: the PFX with its password from the environment,
    or (no passphrase) one PEM holding key + certificate."""
    cloud = _cloud(fields)
    lines = _demo_note(fields, "#")
    if fields.pfx_path:
        lines += [
            "import os",
            "",
            "from azure.identity import AzureAuthorityHosts, CertificateCredential",
            "",
            "credential = CertificateCredential(",
            f"    tenant_id={py_quote(fields.tenant)},",
            f"    client_id={py_quote(fields.client_id)},",
            f"    certificate_path={py_quote(fields.pfx_path)},",
            f"    password=os.environ[{py_quote(PASSPHRASE_ENV)}],",
        ]
    else:
        combined = _sibling(fields.cert_path, "-with-key.pem")
        lines += [
            "# certificate_path needs the key and the certificate in one PEM file; make it once:",
            f"#   cat {sh_quote(fields.key_path)} {sh_quote(fields.cert_path)}"
            f" > {sh_quote(combined)}",
            "from azure.identity import AzureAuthorityHosts, CertificateCredential",
            "",
            "credential = CertificateCredential(",
            f"    tenant_id={py_quote(fields.tenant)},",
            f"    client_id={py_quote(fields.client_id)},",
            f"    certificate_path={py_quote(combined)},",
        ]
    lines += [
        f"    authority=AzureAuthorityHosts.{cloud.identity_authority},",
        ")",
        f"token = credential.get_token({py_quote(cloud.graph_resource + '/.default')})",
    ]
    return "\n".join(lines) + "\n"


def az_cli(fields: SnippetFields) -> str:
    """az login --service-principal --certificate (Azure CLI 2.67+; --password before that)."""
    cloud = _cloud(fields)
    combined = _sibling(fields.cert_path, "-az.pem")
    lines = _demo_note(fields, "#")
    lines += [
        "# az needs the key and the certificate in one PEM file without a passphrase (a .pfx is",
        "# not accepted). Make it once, readable by you alone:",
        "umask 077",
    ]
    if fields.pfx_path:
        lines.append(
            f"openssl pkey -in {sh_quote(fields.key_path)} -passin env:{PASSPHRASE_ENV}"
            f" -out {sh_quote(combined)}"
        )
    else:
        lines.append(f"cat {sh_quote(fields.key_path)} > {sh_quote(combined)}")
    lines += [
        f"cat {sh_quote(fields.cert_path)} >> {sh_quote(combined)}",
        "",
        f"az cloud set --name {cloud.az_cloud}",
        f"az login --service-principal --username {sh_quote(fields.client_id)} "
        f"--tenant {sh_quote(fields.tenant)} --certificate {sh_quote(combined)}"
        " --allow-no-subscriptions",
        "# Azure CLI older than 2.67 takes the same file with --password instead of --certificate.",
    ]
    return "\n".join(lines) + "\n"


def snippets(source: Profile | SnippetFields) -> dict[str, str]:
    """Every snippet for a profile (or plain fields), keyed and ordered as SNIPPET_TITLES."""
    fields = _fields(source)
    return {
        "powershell": powershell_graph(fields),
        "exchange-online": powershell_exchange(fields),
        "msal-python": msal_python(fields),
        "azure-identity": azure_identity(fields),
        "az-cli": az_cli(fields),
    }


def snippet_changes(
    old: Profile | SnippetFields, new: Profile | SnippetFields
) -> dict[str, list[tuple[str, str]]]:
    """For each snippet, the lines that change as ("-", old line) / ("+", new line) pairs."""
    before, after = snippets(old), snippets(new)
    changes: dict[str, list[tuple[str, str]]] = {}
    for key in SNIPPET_TITLES:
        old_lines, new_lines = before[key].splitlines(), after[key].splitlines()
        lines: list[tuple[str, str]] = []
        matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            lines += [("-", line) for line in old_lines[i1:i2]]
            lines += [("+", line) for line in new_lines[j1:j2]]
        if lines:
            changes[key] = lines
    return changes


def snippet_diff(old: Profile | SnippetFields, new: Profile | SnippetFields) -> str:
    """The snippet lines that change from `old` to `new`, as text: a title, then -/+ lines."""
    blocks = []
    for key, lines in snippet_changes(old, new).items():
        body = "\n".join(f"{sign} {line}" for sign, line in lines)
        blocks.append(f"{SNIPPET_TITLES[key]}\n{body}")
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# --- the schedule of an unattended rotation ---------------------------------------------------


def schedule_snippets(profile: Profile, passphrase_env: str | None = None) -> dict[str, str]:
    """A systemd service + timer and a cron line that run the unattended rotation daily."""
    import hashlib

    command = f"entra-cert-wizard rotate {profile.shell_name} --unattended --json"
    if passphrase_env:
        command += f" --passphrase-env {shlex.quote(passphrase_env)}"
        env_line = (
            f"# Put {passphrase_env}=... in this file (chmod 600): never on a command line.\n"
            "EnvironmentFile=/etc/entra-cert-wizard/rotate.env\n"
        )
    else:
        env_line = ""
    unit = f"entra-cert-rotate-{hashlib.sha256(profile.name.encode()).hexdigest()[:8]}"
    return {
        "systemd_service": (
            f"# /etc/systemd/system/{unit}.service\n"
            "[Unit]\n"
            f"Description=Roll the Entra certificate of {profile.name} before it expires\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            "User=YOUR-SERVICE-USER\n"
            f"{env_line}"
            f"ExecStart={command}\n"
        ),
        "systemd_timer": (
            f"# /etc/systemd/system/{unit}.timer  (then: systemctl enable --now {unit}.timer)\n"
            "[Unit]\n"
            f"Description=Daily check of the Entra certificate of {profile.name}\n\n"
            "[Timer]\n"
            "OnCalendar=daily\n"
            "RandomizedDelaySec=1h\n"
            "Persistent=true\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        ),
        "cron": f"17 3 * * * {command} >> ~/.entra-cert-rotate.log 2>&1",
    }
