"""The positive test: prove the certificate gets a token, and explain every failure.

Five checks run in the order of `plan.POSITIVE_CHECKS` (pre-flight, tenant discovery, token
with the certificate, the token explained, a Microsoft Graph call); each is reported through
`on_update` as it goes. The test runs in the caller's thread (the wizard uses a worker thread,
the CLI the main one), stops promptly when `cancel` is set, and bounds every network call by
`settings.timeout`. The same code serves the real Entra ID and the demo tenant: only the
cloud's hosts and trust store differ.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard.signin import catalogue
from wizard.signin.catalogue import Explanation
from wizard.signin.discovery import (
    cross_cloud_problem,
    discover_with_retries,
    tenant_id_from_config,
)
from wizard.signin.http import (
    Cancelled,
    HttpSession,
    OpenIdMemo,
    TokenAttempt,
    acquire_token,
    attempt_from_exception,
    certificate_credential,
    explain_exception,
    retry_after_seconds,
    with_transient_retries,
)
from wizard.signin.plan import (
    Check,
    CheckStatus,
    PositiveResult,
    pending_checks,
)
from wizard.signin.tokens import TokenFormatError, summarize

if TYPE_CHECKING:
    from wizard.signin.settings import ConnectionSettings, Credential

CLOCK_SKEW_WARNING_SECONDS = 120.0
# Entra ID can take up to about a minute to accept a certificate that was just uploaded.
PROPAGATION_WINDOW_SECONDS = 60.0
PROPAGATION_BACKOFF = (2.0, 4.0, 8.0, 15.0)


def run_positive(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_update: Callable[[Check], None] | None = None,
    cancel: threading.Event | None = None,
    recently_uploaded: bool = False,
    memo: OpenIdMemo | None = None,
) -> PositiveResult:
    """The positive test. `on_update` gets a copy of a check whenever it changes (from this
    thread). `recently_uploaded`: the certificate was uploaded moments ago, so AADSTS700027
    "key not found" is retried with backoff for up to a minute before it counts. `memo`: the
    OpenID configuration already fetched in this run (see `OpenIdMemo`)."""
    checks = pending_checks()
    http = HttpSession(settings.cloud, settings.timeout, cancel, memo)
    run = _Run(settings, credential, http, PositiveResult(ok=False, checks=checks), on_update,
               recently_uploaded)
    current: Check | None = None
    try:
        for check in checks:
            current = check
            http.check_cancel()
            run.begin(check)
            if not _CHECKS[check.key](run, check):
                break
        current = None
    except Cancelled:
        run.result.cancelled = True
        if current is not None and current.status is CheckStatus.RUNNING:
            run.end(current, CheckStatus.SKIPPED, "Cancelled.", catalogue.CANCELLED)
    except Exception as exc:  # a failure nobody foresaw still ends as a failed check
        if current is not None:
            explanation = explain_exception(exc, http)
            run.end(current, CheckStatus.FAIL, explanation.title, explanation)
    finally:
        http.close()
    run.skip_the_rest()
    run.result.ok = (
        not run.result.cancelled
        and run.result.error is None
        and all(c.status in (CheckStatus.OK, CheckStatus.WARN) for c in checks)
    )
    return run.result


@dataclass
class _Run:
    """What the checks of one positive test share, and how they report."""

    settings: ConnectionSettings
    credential: Credential
    http: HttpSession
    result: PositiveResult
    on_update: Callable[[Check], None] | None
    recently_uploaded: bool
    tenant_config: dict[str, Any] = field(default_factory=dict)
    access_token: str | None = None
    started: float = 0.0

    def emit(self, check: Check) -> None:
        if self.on_update is not None:
            self.on_update(dataclasses.replace(check))

    def begin(self, check: Check) -> None:
        check.status = CheckStatus.RUNNING
        check.detail = ""
        self.started = time.monotonic()
        self.emit(check)

    def progress(self, check: Check, detail: str) -> None:
        """A message while the check runs (a retry, a wait)."""
        check.detail = detail
        check.seconds = time.monotonic() - self.started
        self.emit(check)

    def end(
        self,
        check: Check,
        status: CheckStatus,
        detail: str,
        explanation: Explanation | None = None,
    ) -> None:
        check.status = status
        check.detail = detail
        check.seconds = time.monotonic() - self.started
        check.explanation = explanation
        if status is CheckStatus.FAIL and self.result.error is None:
            self.result.error = explanation
        self.emit(check)

    def skip_the_rest(self) -> None:
        """Mark the checks that never started as skipped, saying why."""
        reason = "Cancelled." if self.result.cancelled else "Not run: an earlier check failed."
        for check in self.result.checks:
            if check.status is CheckStatus.PENDING:
                check.status = CheckStatus.SKIPPED
                check.detail = reason
                self.emit(check)


# ---------------------------------------------------------------- pre-flight


def _check_preflight(run: _Run, check: Check) -> bool:
    """The key matches the certificate, the certificate is valid now, the sign-in host
    answers, and this computer's clock agrees with it."""
    local = _local_certificate_notes(run.credential)
    if isinstance(local, tuple):
        detail, explanation = local
        run.end(check, CheckStatus.FAIL, detail, explanation)
        return False
    notes, status, warning = local.notes, local.status, local.warning
    http = run.http
    host = run.settings.cloud.authority_host
    sent = time.time()
    try:
        http.get(host + "/", allow_redirects=False)
    except Cancelled:
        raise
    except Exception as exc:
        explanation = explain_exception(exc, http)
        run.end(check, CheckStatus.FAIL,
                f"The sign-in host {host} is not reachable: {explanation.title}.", explanation)
        return False
    received = time.time()
    notes.append(f"sign-in host reachable ({(received - sent) * 1000:.0f} ms)")
    skew = _clock_skew(http.last.date if http.last else None, (sent + received) / 2)
    if skew is None:
        notes.append("clock not checked (no Date header)")
    elif abs(skew) > CLOCK_SKEW_WARNING_SECONDS:
        direction = "behind" if skew > 0 else "ahead of"
        notes.append(f"this computer's clock is {abs(skew):.0f} s {direction} the server's")
        status, warning = CheckStatus.WARN, catalogue.CLOCK_SKEW
    else:
        notes.append(f"clock in step (±{max(1.0, abs(skew)):.0f} s)")
    run.end(check, status, "; ".join(notes), warning)
    return True


@dataclass
class _Notes:
    notes: list[str]
    status: CheckStatus
    warning: Explanation | None


def _local_certificate_notes(credential: Credential) -> _Notes | tuple[str, Explanation]:
    """What the files alone tell: notes so far, or (why it can't work, its explanation)."""
    from wizard import certs, names

    cert = credential.certificate
    if not certs.key_matches_certificate(credential.private_key, cert):
        return "The private key does not belong to the certificate.", catalogue.KEY_MISMATCH
    now = datetime.now(timezone.utc)
    not_before, not_after = certs.not_valid_before(cert), certs.not_valid_after(cert)
    if now < not_before:
        return (f"The certificate is valid only from {not_before:%Y-%m-%d %H:%M} UTC.",
                catalogue.LOCAL_CERT_NOT_YET_VALID)
    if now > not_after:
        return (f"The certificate expired on {not_after:%Y-%m-%d %H:%M} UTC.",
                catalogue.LOCAL_CERT_EXPIRED)
    days_left = (not_after - now).days
    notes = [
        "key matches the certificate",
        f"valid until {not_after:%Y-%m-%d} ({days_left} days)",
    ]
    if days_left < names.EXPIRY_WARNING_DAYS:
        return _Notes(notes, CheckStatus.WARN, catalogue.CERT_EXPIRES_SOON)
    return _Notes(notes, CheckStatus.OK, None)


def _clock_skew(date_header: str | None, local_epoch: float) -> float | None:
    """Server time minus local time in seconds (positive: this clock is behind)."""
    if not date_header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=timezone.utc)
    # The Date header has one-second resolution: half a second either way is noise.
    skew = server.timestamp() - local_epoch
    return 0.0 if abs(skew) < 1.0 else skew


# ---------------------------------------------------------------- tenant discovery


def _check_discovery(run: _Run, check: Check) -> bool:
    """The tenant's OpenID configuration answers, in the cloud we were told."""
    config, failure = discover_with_retries(
        run.settings, run.http, lambda text: run.progress(check, text)
    )
    if config is None:
        explanation = (failure.explanation if failure else None) or catalogue.explain_not_json(
            None, ""
        )
        run.end(check, CheckStatus.FAIL, explanation.title, explanation)
        return False
    run.tenant_config = config
    cross = cross_cloud_problem(run.settings, config)
    if cross is not None:
        run.end(check, CheckStatus.FAIL, cross.cause.split(". ")[0] + ".", cross)
        return False
    tenant_id = tenant_id_from_config(config)
    run.result.tenant_id = tenant_id
    shown = run.settings.tenant
    found = f"tenant {shown} found"
    if tenant_id and tenant_id != shown:
        found += f" (ID {tenant_id})"
    run.end(check, CheckStatus.OK, found)
    return True


# ---------------------------------------------------------------- the token


def _check_token(run: _Run, check: Check) -> bool:
    """A token for the app with the certificate, waiting out a fresh upload if need be."""
    client_credential = certificate_credential(run.credential)
    patience = _PropagationPatience() if run.recently_uploaded else None
    while True:
        attempt = with_transient_retries(
            lambda: acquire_token(run.settings, run.http, client_credential),
            run.http,
            lambda text: run.progress(check, text),
        )
        if attempt.token is not None:
            break
        wait = patience.next_wait(attempt) if patience is not None else None
        if wait is None:
            explanation = attempt.explanation or catalogue.explain_not_json(None, "")
            run.result.error_codes = attempt.codes or (
                (attempt.code,) if attempt.code is not None else ()
            )
            run.end(check, CheckStatus.FAIL, explanation.title, explanation)
            return False
        assert patience is not None
        run.progress(
            check,
            f"certificate not accepted yet (a fresh upload can take up to a minute); "
            f"retrying in {wait:.0f} s (attempt {patience.retries + 1})",
        )
        run.http.sleep(wait)
    run.access_token = attempt.token
    run.result.signed_in = True
    retries = patience.retries if patience is not None else 0
    waited = f" after {retries} retries" if retries else ""
    run.end(check, CheckStatus.OK,
            f"token issued{waited} (assertion signed PS256 with the key, x5t#S256)")
    return True


@dataclass
class _PropagationPatience:
    """How long to keep asking while Entra ID has not yet accepted a fresh upload: only
    "key not found" (700027) counts, with backoff, for PROPAGATION_WINDOW_SECONDS."""

    first_refusal: float | None = None
    retries: int = 0

    def next_wait(self, attempt: TokenAttempt) -> float | None:
        """Seconds to wait before asking again, or None when the refusal stands."""
        if attempt.code != 700027 or catalogue.reason_700027(attempt.description) != "not-found":
            return None
        now = time.monotonic()
        if self.first_refusal is None:
            self.first_refusal = now
        remaining = PROPAGATION_WINDOW_SECONDS - (now - self.first_refusal)
        if remaining <= 0:
            return None
        backoff = PROPAGATION_BACKOFF[min(self.retries, len(PROPAGATION_BACKOFF) - 1)]
        self.retries += 1
        return min(backoff, remaining)


# ---------------------------------------------------------------- the token explained


def _check_claims(run: _Run, check: Check) -> bool:
    """The token is for this app and tenant, says how it was earned, and which roles it holds."""
    assert run.access_token is not None
    try:
        summary = summarize(run.access_token)
    except TokenFormatError:
        run.end(check, CheckStatus.WARN,
                "The token is not a readable JWT, so its claims can't be shown.")
        return True
    run.result.token = summary
    settings = run.settings
    expected_tenant = run.result.tenant_id or settings.tenant
    if summary.app_id.lower() != settings.client_id.lower():
        run.end(check, CheckStatus.FAIL,
                f"The token is for app {summary.app_id or '(none)'}, not {settings.client_id}.",
                catalogue.TOKEN_MISMATCH)
        return False
    if summary.tenant_id and summary.tenant_id.lower() != expected_tenant.lower():
        run.end(check, CheckStatus.FAIL,
                f"The token is from tenant {summary.tenant_id}, not {expected_tenant}.",
                catalogue.TOKEN_MISMATCH)
        return False
    notes = ["app and tenant match"]
    status = CheckStatus.OK
    warning: Explanation | None = None
    if summary.appidacr == "2":
        notes.append("certificate sign-in (appidacr 2)")
    else:
        method = {"0": "no credential", "1": "a client secret"}.get(summary.appidacr, "unknown")
        notes.append(f"authenticated with {method} (appidacr {summary.appidacr or '?'})")
        status = CheckStatus.WARN
    if summary.expires_at is not None:
        left = summary.expires_at - datetime.now(timezone.utc)
        minutes = max(0, int(left.total_seconds() // 60))
        notes.append(f"expires {summary.expires_at:%H:%M} UTC (in {minutes} min)")
    if summary.roles:
        notes.append("roles: " + ", ".join(sorted(summary.roles)))
    else:
        notes.append("roles: none: admin consent not granted")
        status, warning = CheckStatus.WARN, catalogue.NO_ROLES
    run.end(check, status, "; ".join(notes), warning)
    return True


# ---------------------------------------------------------------- Microsoft Graph


def _check_graph(run: _Run, check: Check) -> bool:
    """Graph answers the token: read the organization, as the user's script would."""
    body: dict[str, Any] = {}
    outcome = with_transient_retries(
        lambda: _read_organization(run, body), run.http, lambda text: run.progress(check, text)
    )
    if outcome.explanation is not None:
        if outcome.code == 403:
            # Signed in fine: not a certificate failure. WARN, but the test is not passed,
            # because a script's Graph call would fail the same way.
            run.result.error = outcome.explanation
            run.end(check, CheckStatus.WARN, outcome.explanation.title, outcome.explanation)
            return False
        run.end(check, CheckStatus.FAIL, outcome.explanation.title, outcome.explanation)
        return False
    organization = _organization(body)
    if organization is None:
        run.end(check, CheckStatus.FAIL, "Graph answered without an organization.",
                catalogue.explain_not_json(200, json.dumps(body)[:200]))
        return False
    run.result.organization = organization
    domains = ", ".join(organization["verified_domains"]) or "none"
    run.end(check, CheckStatus.OK,
            f"{organization['display_name']}; verified domains: {domains}")
    return True


def _read_organization(run: _Run, body: dict[str, Any]) -> TokenAttempt:
    """One GET /v1.0/organization; the JSON answer lands in `body`."""
    http = run.http
    url = f"{run.settings.cloud.graph_endpoint}/v1.0/organization"
    headers = {"Authorization": f"Bearer {run.access_token}", "Accept": "application/json"}
    try:
        response = http.get(url, headers=headers)
    except Cancelled:
        raise
    except Exception as exc:
        return attempt_from_exception(exc, http)
    if response.status_code == 429 or response.status_code >= 500:
        return TokenAttempt(
            explanation=catalogue.explain_graph(response.status_code, response.text),
            transient=True,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if response.status_code != 200:
        return TokenAttempt(
            code=response.status_code,
            explanation=catalogue.explain_graph(response.status_code, response.text),
        )
    try:
        data = response.json()
    except ValueError:
        return TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    if not isinstance(data, dict):
        return TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    body.update(data)
    return TokenAttempt()


def _organization(body: dict[str, Any]) -> dict[str, Any] | None:
    values = body.get("value")
    if not isinstance(values, list) or not values or not isinstance(values[0], dict):
        return None
    org = values[0]
    domains = org.get("verifiedDomains")
    names = [
        str(d.get("name")) for d in domains if isinstance(d, dict) and d.get("name")
    ] if isinstance(domains, list) else []
    default = next(
        (str(d.get("name")) for d in domains or [] if isinstance(d, dict) and d.get("isDefault")),
        None,
    ) if isinstance(domains, list) else None
    return {
        "display_name": str(org.get("displayName") or ""),
        "id": str(org.get("id") or ""),
        "verified_domains": names,
        "default_domain": default,
    }


# The code of each planned check (keys of POSITIVE_CHECKS); False stops the test there.
_CHECKS: dict[str, Callable[[_Run, Check], bool]] = {
    "preflight": _check_preflight,
    "discovery": _check_discovery,
    "token": _check_token,
    "claims": _check_claims,
    "graph": _check_graph,
}
