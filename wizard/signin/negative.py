"""The negative test: requests that must be refused. Refused = pass; a token = alarm.

The probes, in the order of `plan.NEGATIVE_PROBES`:
a. No credential: the client-credentials request with only the client ID.
b. A stranger's certificate: a throwaway self-signed certificate with exactly the same
   subject, never uploaded. Shows that the name on a certificate proves nothing.
c. The stolen public certificate: the registered certificate (the `.cer` anyone may see) in
   an assertion signed with another private key. Shows that only the key holder gets in.

MSAL builds b and c as any attacker's script would: it does not check that the key belongs
to the certificate it is given, so `public_certificate=<registered cert>` with
`private_key=<another key>` yields PS256 + x5t#S256/x5c of the registered certificate,
signed with the wrong key. a is a raw POST because MSAL refuses to send no credential.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from wizard.signin import catalogue
from wizard.signin.discovery import discover_with_retries
from wizard.signin.http import (
    Cancelled,
    HttpSession,
    OpenIdMemo,
    TokenAttempt,
    acquire_token,
    attempt_from_answer,
    attempt_from_exception,
    explain_exception,
    with_transient_retries,
)
from wizard.signin.plan import (
    NEGATIVE_PROBES,
    NO_CREDENTIAL,
    STOLEN_PUBLIC_CERTIFICATE,
    STRANGER_CERTIFICATE,
    CheckStatus,
    NegativeProbe,
    NegativeResult,
    ProbeResult,
    negative_verdict,
    pending_probes,
)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from wizard.signin.settings import ConnectionSettings, Credential

STRANGER_KEY_SIZE = 2048

ProbeRequest = Callable[[], TokenAttempt]


def run_negative(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_update: Callable[[ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
    memo: OpenIdMemo | None = None,
) -> NegativeResult:
    """The negative test: the three probes, each reported through `on_update` (a copy) as it
    goes. Runs in the caller's thread and stops promptly when `cancel` is set."""
    results = pending_probes()

    def emit(result: ProbeResult) -> None:
        if on_update is not None:
            on_update(dataclasses.replace(result))

    http = HttpSession(settings.cloud, settings.timeout, cancel, memo)
    try:
        http.check_cancel()
        config, failure = discover_with_retries(settings, http, lambda _text: None)
        if config is None:
            assert failure is not None and failure.explanation is not None
            _not_run(results, failure.explanation, emit)
            return NegativeResult(probes=results, verdict="inconclusive")
        token_endpoint = str(config["token_endpoint"])
        requests_by_probe = _probe_requests(settings, credential, http, token_endpoint)
        for probe, result in zip(NEGATIVE_PROBES, results, strict=True):
            _run_probe(probe, result, requests_by_probe[probe.key], http, emit)
    except Cancelled:
        _mark_cancelled(results, emit)
        return NegativeResult(probes=results, verdict="inconclusive", cancelled=True)
    finally:
        http.close()
    return NegativeResult(probes=results, verdict=negative_verdict(results))


def _probe_requests(
    settings: ConnectionSettings, credential: Credential, http: HttpSession, token_endpoint: str
) -> dict[str, ProbeRequest]:
    """The request each probe sends, by probe key."""
    stranger_cert, stranger_key = stranger_certificate(credential.certificate)
    return {
        NO_CREDENTIAL.key: lambda: _raw_no_credential(settings, http, token_endpoint),
        STRANGER_CERTIFICATE.key: lambda: acquire_token(
            settings,
            http,
            {"private_key": stranger_key, "public_certificate": _pem(stranger_cert)},
        ),
        STOLEN_PUBLIC_CERTIFICATE.key: lambda: acquire_token(
            settings,
            http,
            {"private_key": stranger_key, "public_certificate": _pem(credential.certificate)},
        ),
    }


def _run_probe(
    probe: NegativeProbe,
    result: ProbeResult,
    request: ProbeRequest,
    http: HttpSession,
    emit: Callable[[ProbeResult], None],
) -> None:
    """Send one probe's request (with the usual retries) and judge the answer."""
    http.check_cancel()
    result.status = CheckStatus.RUNNING
    started = time.monotonic()
    emit(result)

    def report(text: str) -> None:
        result.detail = text
        emit(result)

    try:
        attempt = with_transient_retries(request, http, report)
    except Cancelled:
        raise
    except Exception as exc:  # unforeseen: this probe proves nothing, say why
        attempt = TokenAttempt(explanation=explain_exception(exc, http))
    result.seconds = time.monotonic() - started
    _classify(probe, result, attempt)
    emit(result)


def _not_run(
    results: list[ProbeResult],
    explanation: catalogue.Explanation,
    emit: Callable[[ProbeResult], None],
) -> None:
    """Without the tenant no probe can prove anything: say why, once, for all of them."""
    for result in results:
        result.inconclusive = True
        result.status = CheckStatus.WARN
        result.observed_code = explanation.code
        result.explanation = explanation
        result.detail = f"not run: tenant discovery failed ({explanation.title})."
        emit(result)


def _mark_cancelled(results: list[ProbeResult], emit: Callable[[ProbeResult], None]) -> None:
    for result in results:
        if result.status in (CheckStatus.PENDING, CheckStatus.RUNNING):
            result.status = CheckStatus.SKIPPED
            result.inconclusive = True
            result.detail = "Cancelled."
            emit(result)


def stranger_certificate(
    registered: x509.Certificate, key_size: int = STRANGER_KEY_SIZE
) -> tuple[x509.Certificate, RSAPrivateKey]:
    """A throwaway self-signed certificate with exactly the registered one's subject."""
    from cryptography import x509 as x509_module
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509_module.CertificateBuilder()
        .subject_name(registered.subject)
        .issuer_name(registered.subject)
        .public_key(key.public_key())
        .serial_number(x509_module.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _pem(certificate: x509.Certificate) -> str:
    from wizard import certs

    return certs.cert_pem(certificate).decode("ascii")


def _classify(probe: NegativeProbe, result: ProbeResult, attempt: TokenAttempt) -> None:
    """Fill `result` from what the service answered."""
    result.explanation = attempt.explanation
    if attempt.token is not None:
        result.alarm = True
        result.refused = False
        result.status = CheckStatus.FAIL
        result.observed_code = "token"
        result.explanation = catalogue.NEGATIVE_ALARM
        result.detail = "ALARM: a token was issued; this request must be refused"
        return
    if attempt.code is not None:
        codes = attempt.codes or (attempt.code,)
        result.observed_code = _observed_code(probe, codes)
        result.refused = True
        if probe.refused_as_expected(codes):
            result.status = CheckStatus.OK
            result.detail = f"refused as expected ({result.observed_code})"
            return
        title = attempt.explanation.title if attempt.explanation else result.observed_code
        result.inconclusive = True
        result.status = CheckStatus.WARN
        result.detail = f"refused for an unrelated reason: {result.observed_code} {title}"
        return
    result.inconclusive = True
    result.status = CheckStatus.WARN
    explanation = attempt.explanation or catalogue.PROBE_UNRELATED
    result.observed_code = explanation.code
    result.detail = f"no verdict: {explanation.title}"


def _observed_code(probe: NegativeProbe, codes: tuple[int, ...]) -> str:
    """AADSTS700027, or both codes of a refusal that takes two (AADSTS70002+50012)."""
    if tuple(codes[:2]) in probe.expected_pairs:
        return f"AADSTS{codes[0]}+{codes[1]}"
    return f"AADSTS{codes[0]}"


def _raw_no_credential(
    settings: ConnectionSettings, http: HttpSession, token_endpoint: str
) -> TokenAttempt:
    try:
        response = http.post(
            token_endpoint,
            data={
                "client_id": settings.client_id,
                "scope": settings.cloud.graph_scope,
                "grant_type": "client_credentials",
            },
            headers={"Accept": "application/json"},
        )
    except Cancelled:
        raise
    except Exception as exc:
        return attempt_from_exception(exc, http)
    return attempt_from_answer(
        response.status_code, response.text, response.headers.get("Retry-After")
    )
