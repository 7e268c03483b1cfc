"""The markdown summary written beside the certificate: what was set up, proven, and how to use it.

It is meant to be kept, forwarded and pasted into a ticket, so it holds no secret: no key,
no passphrase, no token (not even a truncated one) — only names, IDs, thumbprints, paths,
dates, test verdicts and the snippets (which hold no secret either).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wizard.clock import utc_now
from wizard.entra_portal import THUMBPRINT_COLUMN
from wizard.names import EXPIRY_WARNING_DAYS, file_stem_for
from wizard.paths import data_dir
from wizard.profiles import Profile, certificate_folder_of
from wizard.signin.clouds import CLOUDS
from wizard.snippets import SNIPPET_TITLES, schedule_snippets, snippets

if TYPE_CHECKING:
    from wizard.signin.plan import NegativeResult, PositiveResult

SUMMARIES_FOLDER = "summaries"  # in the data folder, for certificates kept outside their own folder
_SNIPPET_LANGUAGES = {
    "powershell": "powershell",
    "exchange-online": "powershell",
    "msal-python": "python",
    "azure-identity": "python",
    "az-cli": "sh",
}


def _cloud_line(profile: Profile, demo_authority_host: str | None) -> str:
    """Where the app signs in. A demo profile names the demo tenant, never a Microsoft cloud:
    its IDs exist only there (the profile's `cloud` is just what its snippets are written for)."""
    if not profile.demo:
        cloud = CLOUDS.get(profile.cloud)
        if cloud is None:
            return f"- Cloud: {profile.cloud}"
        return f"- Cloud: {cloud.label}, {urlsplit(cloud.authority_host).hostname}"
    # The demo tenant listens on a new port each time it starts: say which run this was.
    where = f"; {_code(demo_authority_host)} in this run" if demo_authority_host else ""
    return (
        f"- Cloud: the demo tenant on this computer (`entra-cert-wizard --demo`{where}),"
        " not a Microsoft cloud"
    )


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _code(text: str) -> str:
    """Inline code that survives backticks inside `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(text: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def summary_path_for(profile: Profile) -> Path:
    """Where the summary goes: beside the certificate, `<stem>-summary.md`, when the certificate
    is in its own folder as the tool writes it; otherwise (a certificate brought from elsewhere,
    or a path edited into the profiles file) in the tool's own summaries folder, never into a
    folder a profile merely names."""
    folder = certificate_folder_of(profile.cert_path)
    if folder is not None:
        return folder / f"{folder.name}-summary.md"
    return data_dir() / SUMMARIES_FOLDER / f"{file_stem_for(profile.name)}-summary.md"


def _expiry_line(profile: Profile, now: datetime) -> str:
    days = profile.days_left(now)
    status = profile.expiry_status(now)
    base = f"Valid until **{_when(profile.not_after)}**"
    rotate = f"`entra-cert-wizard rotate {profile.shell_name}`"
    if status == "expired":
        ago = (now - profile.not_after).days
        return f"{base}: **expired** {ago} day(s) ago. Rotate now: {rotate}."
    if status == "warning":
        return f"{base}: **{days} day(s) left**. Rotate soon: {rotate}."
    return f"{base}: {days} days left. `entra-cert-wizard profiles` warns {EXPIRY_WARNING_DAYS} days before."


def _test_lines(
    profile: Profile, positive: PositiveResult | None, negative: NegativeResult | None
) -> list[str]:
    lines: list[str] = []
    if positive is not None:
        verdict = "passed" if positive.ok else "FAILED"
        lines.append(
            f"- Positive test (token with the certificate, then Microsoft Graph): **{verdict}**"
        )
        token = positive.token
        if token is not None:
            roles = ", ".join(token.roles) if token.roles else "none (no admin consent yet)"
            lines.append(
                f"  - Token for app {_code(token.app_id)} in tenant {_code(token.tenant_id)};"
                f" permissions: {roles}"
            )
        organization = positive.organization
        if isinstance(organization, dict) and organization.get("display_name"):
            lines.append(f"  - Organization read from Graph: {organization['display_name']}")
        if positive.error is not None:
            lines.append(f"  - {positive.error.code}: {positive.error.title}")
    if negative is not None:
        lines.append(
            "- Negative test (the app without the certificate must be refused):"
            f" **{negative.verdict}**"
        )
        for probe in negative.probes:
            outcome = (
                "refused" if probe.refused else ("GOT A TOKEN" if probe.alarm else "inconclusive")
            )
            code = f" ({probe.observed_code})" if probe.observed_code else ""
            lines.append(f"  - {probe.title}: {outcome}{code}")
    if not lines and profile.last_test:
        lines.append(f"- Last test: **{profile.last_test}** on {_when(profile.last_test_at)}")
    if profile.last_test and lines and positive is not None:
        lines.append(f"- Overall: **{profile.last_test}** on {_when(profile.last_test_at)}")
    return lines or ["- Not tested yet: `entra-cert-wizard test --profile " + profile.name + "`"]


def summary_markdown(
    profile: Profile,
    *,
    positive: PositiveResult | None = None,
    negative: NegativeResult | None = None,
    now: datetime | None = None,
    demo_authority_host: str | None = None,
) -> str:
    """The summary as markdown text (pure; see write_summary).

    `demo_authority_host`: the demo tenant's address in this run, named for a demo profile.
    """
    now = now or utc_now()
    title = profile.certificate_name or profile.name
    lines = [
        f"# Certificate sign-in: {title}",
        "",
        f"Written by entra-cert-wizard on {_when(now)}. This file holds no secret: no private",
        "key, no passphrase, no token. Keep the `.key` and `.pfx` files private.",
        "",
        "## What was set up",
        "",
        f"- Profile: {_code(profile.name)}" + (" (demo tenant)" if profile.demo else ""),
        f"- Certificate: {_code('CN=' + title)}, self-signed",
        f"- App registration (client) ID: {_code(profile.client_id)}",
        f"- Tenant: {_code(profile.tenant)}"
        + (f" ({profile.organization_domain})" if profile.organization_domain else ""),
        _cloud_line(profile, demo_authority_host),
        "",
        "## Thumbprints",
        "",
        f"- SHA-1 (what the portal shows under {THUMBPRINT_COLUMN}):"
        f" {_code(profile.thumbprint_sha1)}",
        f"- SHA-256: {_code(profile.thumbprint_sha256)}",
        "",
        "## Expiry",
        "",
        _expiry_line(profile, now),
        "",
        "## Files",
        "",
    ]
    files: list[tuple[str, str | None]] = [
        ("Upload this one to the app registration (public)", profile.cer_path),
        ("Certificate, PEM (public)", profile.cert_path),
        ("Private key (secret: keep it on this machine, readable by you alone)", profile.key_path),
        ("Key and certificate for Windows Import-PfxCertificate (secret)", profile.pfx_path),
    ]
    lines += [f"- {label}: {_code(path)}" for label, path in files if path]
    lines += ["", "## Tests", "", *_test_lines(profile, positive, negative), "", "## Use it", ""]
    lines.append(
        "Passphrases are asked for, or read from the environment variable named in the code; "
        "never write one into a script."
    )
    for key, text in snippets(profile).items():
        lines += ["", f"### {SNIPPET_TITLES[key]}", "", _fence(text, _SNIPPET_LANGUAGES[key])]
    lines += [
        "",
        "## Later",
        "",
        f"- Test again: `entra-cert-wizard test --profile {profile.shell_name}`",
        "- Expiry of every profile: `entra-cert-wizard profiles`",
        "- Replace the certificate without an outage: "
        f"`entra-cert-wizard rotate {profile.shell_name}`",
    ]
    if profile.object_id:
        schedule = schedule_snippets(profile)
        lines += [
            "- Let the app roll its own certificate before it expires, daily from cron:",
            "",
            _fence(schedule["cron"], "sh"),
            "",
            "  or a systemd service and timer:",
            "",
            _fence(schedule["systemd_service"] + "\n" + schedule["systemd_timer"], "ini"),
        ]
    return "\n".join(lines) + "\n"


def write_summary(
    profile: Profile,
    *,
    positive: PositiveResult | None = None,
    negative: NegativeResult | None = None,
    now: datetime | None = None,
    path: Path | None = None,
    demo_authority_host: str | None = None,
) -> Path:
    """Write the summary where `summary_path_for` says (atomic, 0644: no secret in it); return
    its path."""
    from wizard.storage import atomic_write_text, ensure_private_dir

    target = path or summary_path_for(profile)
    ensure_private_dir(target.parent)  # the summaries folder on first use; else already there
    text = summary_markdown(
        profile, positive=positive, negative=negative, now=now,
        demo_authority_host=demo_authority_host,
    )
    atomic_write_text(target, text, mode=0o644)
    return target
