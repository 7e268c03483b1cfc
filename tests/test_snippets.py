"""Snippets as text: exact IDs, thumbprint and paths, correct quoting per language, no secret.

We cannot run PowerShell, az or the Python SDKs against Entra here, so the snippets are checked
as text against a real certificate's thumbprint and real paths: Python snippets are compiled
and their literals evaluated, shell lines are split with shlex, PowerShell literals follow
the language's single-quote rule.
"""

from __future__ import annotations

import ast
import contextlib
import re
import shlex
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard import certs
from wizard.profiles import Profile, profile_from_files
from wizard.snippets import (
    PASSPHRASE_ENV,
    SNIPPET_TITLES,
    SnippetFields,
    ps_quote,
    py_quote,
    sh_quote,
    snippet_changes,
    snippet_diff,
    snippets,
)
from wizard.storage import CertificateFiles, write_certificate_set

PASSPHRASE = "s3cret passphrase never shown"
TENANT = "0a1b2c3d-0000-4000-8000-00000000abcd"
CLIENT = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def tricky_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose path has a space, an apostrophe and a dollar sign."""
    root = tmp_path_factory.mktemp("snip") / "O'Brien's certs $HOME"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def files(tricky_root: Path) -> CertificateFiles:
    generated = certs.generate_certificate("Snippet Server")
    return write_certificate_set(
        generated, "Snippet Server", out_root=tricky_root, passphrase=PASSPHRASE.encode()
    ).files


@pytest.fixture(scope="module")
def unencrypted_files(tricky_root: Path) -> CertificateFiles:
    generated = certs.generate_certificate("Plain Server")
    return write_certificate_set(
        generated, "Plain Server", out_root=tricky_root, passphrase=None
    ).files


def profile_for(files: CertificateFiles, cloud: str = "global", **extra: str) -> Profile:
    profile = profile_from_files(
        name="snip", files=files, cloud=cloud, tenant=TENANT, client_id=CLIENT
    )
    for key, value in extra.items():
        setattr(profile, key, value)
    return profile


def ps_unquote(literal: str) -> str:
    assert literal.startswith("'") and literal.endswith("'")
    body = literal[1:-1]
    assert re.search(r"(?<!')'(?!')", body.replace("''", "")) is None
    return body.replace("''", "'")


def ps_argument(text: str, parameter: str) -> str:
    """The single-quoted value after `-Parameter` in a PowerShell line."""
    match = re.search(rf"-{parameter} ('(?:[^']|'')*')", text)
    assert match, f"-{parameter} not found in {text!r}"
    return ps_unquote(match.group(1))


def python_assignments(source: str) -> dict[str, object]:
    tree = ast.parse(source)
    values: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                values[node.targets[0].id] = ast.literal_eval(node.value)
        if isinstance(node, ast.keyword) and node.arg:
            with contextlib.suppress(ValueError):
                values[node.arg] = ast.literal_eval(node.value)
    return values


def test_every_snippet_is_there_in_order(files: CertificateFiles) -> None:
    assert list(snippets(profile_for(files))) == list(SNIPPET_TITLES)


def test_powershell_imports_the_pfx_with_a_prompted_password_and_connects(
    files: CertificateFiles,
) -> None:
    profile = profile_for(files)
    text = snippets(profile)["powershell"]
    assert '$pw = Read-Host -AsSecureString "PFX password"' in text
    import_line = next(
        line for line in text.splitlines() if line.startswith("Import-PfxCertificate")
    )
    # A Linux path means nothing to Windows: the snippet says where to copy the .pfx to.
    assert files.pfx is not None
    windows_path = f"C:\\Certificates\\{files.pfx.name}"
    assert ps_argument(import_line, "FilePath") == windows_path
    assert f"# Copy {files.pfx.resolve()}" in text
    assert f"# to the Windows machine as {windows_path}" in text
    assert "-CertStoreLocation Cert:\\CurrentUser\\My -Password $pw" in import_line
    connect = next(line for line in text.splitlines() if line.startswith("Connect-MgGraph"))
    assert ps_argument(connect, "ClientId") == CLIENT
    assert ps_argument(connect, "TenantId") == TENANT
    assert ps_argument(connect, "CertificateThumbprint") == profile.thumbprint_sha1
    assert re.fullmatch(r"[0-9A-F]{40}", profile.thumbprint_sha1)
    assert "-Environment" not in connect


def test_powershell_quoting_of_apostrophes_spaces_and_dollars(files: CertificateFiles) -> None:
    path = str(files.pfx)
    assert "'" in path and " " in path and "$HOME" in path
    literal = ps_quote(path)
    assert literal.count("''") == path.count("'")
    assert ps_unquote(literal) == path
    # single quotes: PowerShell expands nothing inside, so $HOME stays literal
    assert literal.startswith("'") and '"' not in literal
    # PowerShell also ends strings on typographic quotes: they are doubled too
    assert ps_quote("it’s") == "'it’’s'"


def test_exchange_online_uses_the_app_thumbprint_and_organization(files: CertificateFiles) -> None:
    profile = profile_for(files, organization_domain="contoso.onmicrosoft.com")
    text = snippets(profile)["exchange-online"]
    line = next(line for line in text.splitlines() if line.startswith("Connect-ExchangeOnline"))
    assert ps_argument(line, "AppId") == CLIENT
    assert ps_argument(line, "CertificateThumbprint") == profile.thumbprint_sha1
    assert ps_argument(line, "Organization") == "contoso.onmicrosoft.com"
    unknown = snippets(profile_for(files))["exchange-online"]
    assert "-Organization 'contoso.onmicrosoft.com'" in unknown
    assert "Replace the organization" in unknown


def test_msal_python_compiles_and_names_the_exact_key_and_thumbprint(
    files: CertificateFiles,
) -> None:
    profile = profile_for(files)
    source = snippets(profile)["msal-python"]
    compile(source, "msal_snippet.py", "exec")
    values = python_assignments(source)
    assert values["KEY_FILE"] == str(files.key.resolve())
    assert values["THUMBPRINT"] == profile.thumbprint_sha1
    assert values["authority"] == f"https://login.microsoftonline.com/{TENANT}"
    assert f"os.environ['{PASSPHRASE_ENV}']" in source
    assert f"'{CLIENT}'" in source
    assert "scopes=['https://graph.microsoft.com/.default']" in source


def test_msal_python_without_passphrase_has_no_passphrase_line(
    unencrypted_files: CertificateFiles,
) -> None:
    source = snippets(profile_for(unencrypted_files))["msal-python"]
    compile(source, "msal_snippet.py", "exec")
    assert "passphrase" not in source and "import os" not in source


def test_azure_identity_uses_the_pfx_with_password_from_the_environment(
    files: CertificateFiles,
) -> None:
    source = snippets(profile_for(files))["azure-identity"]
    compile(source, "identity_snippet.py", "exec")
    values = python_assignments(source)
    assert values["certificate_path"] == str(files.pfx.resolve()) if files.pfx else False
    assert values["tenant_id"] == TENANT and values["client_id"] == CLIENT
    assert f"password=os.environ['{PASSPHRASE_ENV}']" in source
    assert "AzureAuthorityHosts.AZURE_PUBLIC_CLOUD" in source


def test_azure_identity_without_pfx_builds_one_pem_with_key_and_cert(
    unencrypted_files: CertificateFiles,
) -> None:
    source = snippets(profile_for(unencrypted_files))["azure-identity"]
    compile(source, "identity_snippet.py", "exec")
    cat_line = next(line for line in source.splitlines() if line.startswith("#   cat "))
    words = shlex.split(cat_line[len("#   ") :])
    assert words[1:3] == [
        str(unencrypted_files.key.resolve()),
        str(unencrypted_files.pem.resolve()),
    ]
    assert python_assignments(source)["certificate_path"] == words[-1]


def test_az_cli_uses_certificate_flag_with_a_pem_holding_key_and_cert(
    files: CertificateFiles,
) -> None:
    text = snippets(profile_for(files))["az-cli"]
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    pkey = shlex.split(next(line for line in lines if line.startswith("openssl pkey")))
    assert pkey[pkey.index("-in") + 1] == str(files.key.resolve())
    assert pkey[pkey.index("-passin") + 1] == f"env:{PASSPHRASE_ENV}"
    combined = pkey[pkey.index("-out") + 1]
    cat = shlex.split(next(line for line in lines if line.startswith("cat ")))
    assert cat[1] == str(files.pem.resolve()) and cat[-1] == combined and ">>" in cat
    login = shlex.split(next(line for line in lines if line.startswith("az login")))
    assert login[login.index("--username") + 1] == CLIENT
    assert login[login.index("--tenant") + 1] == TENANT
    assert login[login.index("--certificate") + 1] == combined
    assert "--service-principal" in login and "--password" not in login
    assert "az cloud set --name AzureCloud" in text
    assert "older than 2.67" in text


@pytest.mark.parametrize(
    ("cloud", "mg", "exo", "az", "authority", "graph", "identity"),
    [
        (
            "usgov",
            "USGov",
            "O365USGovGCCHigh",
            "AzureUSGovernment",
            "login.microsoftonline.us",
            "graph.microsoft.us",
            "AZURE_GOVERNMENT",
        ),
        (
            "usgov-dod",
            "USGovDoD",
            "O365USGovDoD",
            "AzureUSGovernment",
            "login.microsoftonline.us",
            "dod-graph.microsoft.us",
            "AZURE_GOVERNMENT",
        ),
        (
            "china",
            "China",
            "O365China",
            "AzureChinaCloud",
            "login.partner.microsoftonline.cn",
            "microsoftgraph.chinacloudapi.cn",
            "AZURE_CHINA",
        ),
    ],
)
def test_national_clouds(
    files: CertificateFiles,
    cloud: str,
    mg: str,
    exo: str,
    az: str,
    authority: str,
    graph: str,
    identity: str,
) -> None:
    texts = snippets(profile_for(files, cloud=cloud))
    assert f"-Environment {mg}" in texts["powershell"]
    assert f"-ExchangeEnvironmentName {exo}" in texts["exchange-online"]
    assert f"az cloud set --name {az}" in texts["az-cli"]
    values = python_assignments(texts["msal-python"])
    assert values["authority"] == f"https://{authority}/{TENANT}"
    assert f"https://{graph}/.default" in texts["msal-python"]
    assert f"AzureAuthorityHosts.{identity}" in texts["azure-identity"]
    assert f"https://{graph}/.default" in texts["azure-identity"]


def test_no_secret_in_any_snippet(
    files: CertificateFiles, unencrypted_files: CertificateFiles
) -> None:
    for source in (files, unencrypted_files):
        for text in snippets(profile_for(source)).values():
            assert PASSPHRASE not in text
            assert "PRIVATE KEY" not in text and "BEGIN" not in text
            key_body = source.key.read_text().splitlines()[1]
            assert key_body not in text


def test_snippet_fields_work_without_a_profile(files: CertificateFiles) -> None:
    fields = SnippetFields(
        cloud="global",
        tenant=TENANT,
        client_id=CLIENT,
        thumbprint_sha1="AB" * 20,
        cert_path="/c/x.pem",
        key_path="/c/x.key",
        pfx_path=None,
        demo=True,
    )
    texts = snippets(fields)
    assert "Demo profile" in texts["powershell"]
    assert "openssl pkcs12 -export" in texts["powershell"]
    assert "Import-PfxCertificate -FilePath 'C:\\Certificates\\x.pfx'" in texts["powershell"]
    windows = snippets(replace(fields, pfx_path="D:\\keys\\x.pfx"))["powershell"]
    assert "Import-PfxCertificate -FilePath 'D:\\keys\\x.pfx'" in windows
    assert "# Copy" not in windows  # already a Windows path: nothing to copy


def test_diff_shows_exactly_the_lines_that_change(
    files: CertificateFiles, tricky_root: Path
) -> None:
    old = profile_for(files)
    generated = certs.generate_certificate("Snippet Server")
    newer = write_certificate_set(
        generated, "Snippet Server-20270101", out_root=tricky_root, passphrase=PASSPHRASE.encode()
    ).files
    new = profile_from_files(
        name="snip", files=newer, cloud="global", tenant=TENANT, client_id=CLIENT
    )
    changes = snippet_changes(old, new)
    assert set(changes) == set(SNIPPET_TITLES)
    for lines in changes.values():
        removed = [line for sign, line in lines if sign == "-"]
        added = [line for sign, line in lines if sign == "+"]
        assert removed and added
    text = snippet_diff(old, new)
    assert f"- Connect-MgGraph -ClientId '{CLIENT}'" in text
    assert new.thumbprint_sha1 in text and old.thumbprint_sha1 in text
    # unchanged lines are not repeated
    assert "Read-Host" not in text and "Get-MgOrganization" not in text
    assert snippet_diff(old, old) == ""


PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_decode(literal: str) -> str:
    """Read a PowerShell single-quoted literal: any quote character ends it unless doubled."""
    assert literal[0] == "'" and literal[-1] == "'"
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char in PS_QUOTES:
            assert index + 1 < len(body) and body[index + 1] in PS_QUOTES, (
                "a lone quote ends the string"
            )
            index += 1
        out.append(char)
        index += 1
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=40,
    )
)
def test_quoting_round_trips_any_path(text: str) -> None:
    assert ps_decode(ps_quote(text)) == text
    assert shlex.split(sh_quote(text)) == [text]
    assert ast.literal_eval(py_quote(text)) == text
