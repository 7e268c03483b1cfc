"""The negative test: requests that must be refused. Refused = pass; a token = alarm.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wizard import catalogue
from wizard.connection import (
    Cancelled,
    ConnectionSettings,
    Credential,
    HttpSession,
    NegativeResult,
    ProbeResult,
    StepStatus,
    TokenAttempt,
    Verdict,
    acquire_token,
    attempt_from_answer,
    attempt_from_exception,
    discover_tenant,
    with_transient_retries,
)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

STRANGER_KEY_SIZE = 2048


@dataclass(frozen=True)
class NegativeProbe:
    key: str
    title: str
    proves: str
    expected_codes: frozenset[int]

    @property
    def expected(self) -> str:
        return " or ".join(f"AADSTS{code}" for code in sorted(self.expected_codes))


NO_CREDENTIAL = NegativeProbe(
    key="no-credential",
    title="No credential at all",
    proves="The client ID alone is not enough: a request without any credential is refused.",
    expected_codes=frozenset({7000216, 7000218}),
)
STRANGER_CERTIFICATE = NegativeProbe(
    key="stranger-certificate",
    title="A stranger's certificate, same name",
    proves="A certificate's name proves nothing: a self-signed certificate with the same "
    "subject, never uploaded, is refused.",
    expected_codes=frozenset({700027}),
)
STOLEN_PUBLIC_CERTIFICATE = NegativeProbe(
    key="stolen-public-certificate",
    title="The public certificate, wrong key",
    proves="The public .cer is not enough: only the holder of the private key gets in.",
    expected_codes=frozenset({700027}),
)
PROBES: tuple[NegativeProbe, ...] = (NO_CREDENTIAL, STRANGER_CERTIFICATE, STOLEN_PUBLIC_CERTIFICATE)


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
        result.status = StepStatus.FAIL
        result.observed_code = "token"
        result.explanation = catalogue.NEGATIVE_ALARM
        result.detail = "ALARM: a token was issued; this request must be refused"
        return
    if attempt.code is not None:
        result.observed_code = f"AADSTS{attempt.code}"
        result.refused = True
        if attempt.code in probe.expected_codes:
            result.status = StepStatus.OK
            result.detail = f"refused as expected ({result.observed_code})"
            return
        title = attempt.explanation.title if attempt.explanation else result.observed_code
        result.inconclusive = True
        result.status = StepStatus.WARN
        result.detail = f"refused for an unrelated reason: {result.observed_code} {title}"
        return
    result.inconclusive = True
    result.status = StepStatus.WARN
    explanation = attempt.explanation or catalogue.PROBE_UNRELATED
    result.observed_code = explanation.code
    result.detail = f"no verdict: {explanation.title}"


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


def run_probes(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_update: Callable[[ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> NegativeResult:
    """Run the three probes; see `wizard.connection.run_negative`."""
    results = [
        ProbeResult(key=p.key, title=p.title, proves=p.proves, expected=p.expected) for p in PROBES
    ]

    def emit(result: ProbeResult) -> None:
        if on_update is not None:
            on_update(dataclasses.replace(result))

    http = HttpSession(settings.cloud, settings.timeout, cancel)
    cancelled = False
    try:
        http.check_cancel()
        found: dict[str, object] = {}

        def discover() -> TokenAttempt:
            config, failure = discover_tenant(settings, http)
            if config is None:
                assert failure is not None
                return failure
            found.update(config)
            return TokenAttempt()

        failure = with_transient_retries(discover, http, lambda _text: None)
        config = found or None
        if config is None:
            # Without the tenant no probe can prove anything: say why, once, for all of them.
            assert failure is not None and failure.explanation is not None
            for result in results:
                result.inconclusive = True
                result.status = StepStatus.WARN
                result.observed_code = failure.explanation.code
                result.explanation = failure.explanation
                result.detail = (
                    f"not run: tenant discovery failed ({failure.explanation.title})."
                )
                emit(result)
            return NegativeResult(probes=results, verdict="inconclusive")
        token_endpoint = str(config["token_endpoint"])
        stranger_cert, stranger_key = stranger_certificate(credential.certificate)
        requests_by_probe: dict[str, Callable[[], TokenAttempt]] = {
            NO_CREDENTIAL.key: lambda: _raw_no_credential(settings, http, token_endpoint),
            STRANGER_CERTIFICATE.key: lambda: acquire_token(
                settings,
                http,
                {"private_key": stranger_key, "public_certificate": _pem(stranger_cert)},
            ),
            STOLEN_PUBLIC_CERTIFICATE.key: lambda: acquire_token(
                settings,
                http,
                {
                    "private_key": stranger_key,
                    "public_certificate": _pem(credential.certificate),
                },
            ),
        }
        for probe, result in zip(PROBES, results, strict=True):
            http.check_cancel()
            result.status = StepStatus.RUNNING
            started = time.monotonic()
            emit(result)

            def report(text: str, result: ProbeResult = result) -> None:
                result.detail = text
                emit(result)

            try:
                attempt = with_transient_retries(requests_by_probe[probe.key], http, report)
            except Cancelled:
                raise
            except Exception as exc:  # unforeseen: this probe proves nothing, say why
                attempt = TokenAttempt(explanation=catalogue.explain_exception(exc))
            result.seconds = time.monotonic() - started
            _classify(probe, result, attempt)
            emit(result)
    except Cancelled:
        cancelled = True
    finally:
        http.close()
    if cancelled:
        for result in results:
            if result.status in (StepStatus.PENDING, StepStatus.RUNNING):
                result.status = StepStatus.SKIPPED
                result.inconclusive = True
                result.detail = "Cancelled."
                emit(result)
        return NegativeResult(probes=results, verdict="inconclusive", cancelled=True)
    return NegativeResult(probes=results, verdict=negative_verdict(results))


def negative_verdict(results: list[ProbeResult]) -> Verdict:
    """fail if any probe got a token, inconclusive if any proved nothing, else pass."""
    if any(r.alarm for r in results):
        return "fail"
    if any(r.inconclusive or not r.refused for r in results):
        return "inconclusive"
    return "pass"
