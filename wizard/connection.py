"""The connection tests: prove the certificate gets a token, and explain every failure.

`run_positive` walks five steps (pre-flight, tenant discovery, token with the certificate,
the token explained, a Microsoft Graph call) and reports each one through `on_update` as it
goes; `run_negative` (probes in `wizard.probes`) proves that nothing but the certificate gets
in. Both run in the caller's thread (the wizard uses a worker thread, the CLI the main one),
stop promptly when `cancel` is set, and bound every network call by `settings.timeout`.

The same code serves the real Entra ID and the demo tenant: only the cloud's hosts and the
trust store differ (`wizard.clouds`). MSAL and requests are imported inside functions so the
wizard's first screen and the other headless commands never pay for them.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wizard import catalogue
from wizard.catalogue import Explanation
from wizard.clouds import Cloud
from wizard.errors import UserError
from wizard.jwt_inspect import TokenFormatError, TokenSummary, summarize

if TYPE_CHECKING:
    import requests
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "ConnectionSettings",
    "Credential",
    "NegativeResult",
    "PositiveResult",
    "ProbeResult",
    "Step",
    "StepStatus",
    "TokenSummary",
    "Verdict",
    "exit_code_for",
    "format_seconds",
    "overall_verdict",
    "run_negative",
    "run_positive",
]

Verdict = Literal["pass", "fail", "inconclusive"]

DEFAULT_TIMEOUT = 20.0
CLOCK_SKEW_WARNING_SECONDS = 120.0
EXPIRY_WARNING_DAYS = 30
# Entra ID can take up to about a minute to accept a certificate that was just uploaded.
PROPAGATION_WINDOW_SECONDS = 60.0
PROPAGATION_BACKOFF = (2.0, 4.0, 8.0, 15.0)
# 429/5xx: retry twice, honouring Retry-After, unless the service asks for a longer pause.
TRANSIENT_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 30.0
DEFAULT_RETRY_AFTER_SECONDS = 2.0


class Cancelled(Exception):
    """The caller set the cancel event; raised at the next check point."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to sign in. `tenant` is a GUID or a domain, `client_id` a GUID."""

    cloud: Cloud
    tenant: str
    client_id: str
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Credential:
    """A certificate and the private key that belongs to it, loaded in memory only."""

    certificate: x509.Certificate
    private_key: RSAPrivateKey = field(repr=False)

    @classmethod
    def from_files(
        cls, cert_path: str | Path, key_path: str | Path, passphrase: bytes | None
    ) -> Credential:
        """Load a certificate (.pem/.cer) and its key (.key); UserError says what is wrong."""
        from wizard import certs

        _require_file(cert_path, "certificate")
        _require_file(key_path, "private key")
        certificate = certs.load_certificate_file(cert_path)
        key = certs.load_private_key_file(key_path, passphrase)
        return cls(certificate=certificate, private_key=key)

    @classmethod
    def from_pfx(cls, pfx_path: str | Path, passphrase: bytes | None) -> Credential:
        """Load both halves from a .pfx/.p12."""
        from wizard import certs

        _require_file(pfx_path, "PFX file")
        certificate, key = certs.load_pfx_file(pfx_path, passphrase)
        return cls(certificate=certificate, private_key=key)


def _require_file(path: str | Path, what: str) -> None:
    if not Path(path).exists():
        raise catalogue.KeyLoadError(
            catalogue.KEY_MISSING,
            f"The {what} {path} does not exist.",
            hint="Check the path; generated files live in one folder per certificate.",
        )


class StepStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass
class Step:
    """One line of the positive test. `explanation` is set for FAIL (and for some WARNs)."""

    key: str
    title: str
    status: StepStatus = StepStatus.PENDING
    seconds: float | None = None
    detail: str = ""
    explanation: Explanation | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status.value,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "detail": self.detail,
            "explanation": self.explanation.to_json() if self.explanation else None,
        }


def format_seconds(seconds: float | None) -> str:
    """A step's duration for people: "4 ms" below a second, "1.23 s" above, "" if unknown.

    Steps against the demo tenant take a few milliseconds: "0.00 s" would read as "not
    measured", so durations under a second are shown in milliseconds.
    """
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


POSITIVE_STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "Pre-flight checks"),
    ("discovery", "Tenant discovery"),
    ("token", "Token with the certificate"),
    ("claims", "The token explained"),
    ("graph", "Graph: read the organization"),
)


@dataclass
class PositiveResult:
    """The positive test. `signed_in` is True once a token was issued, even if Graph then
    refused the call: the certificate works and `error` explains what else is missing."""

    ok: bool
    steps: list[Step]
    token: TokenSummary | None = None
    organization: dict[str, Any] | None = None
    error: Explanation | None = None
    signed_in: bool = False
    cancelled: bool = False
    tenant_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "signed_in": self.signed_in,
            "cancelled": self.cancelled,
            "tenant_id": self.tenant_id,
            "steps": [step.to_json() for step in self.steps],
            "organization": self.organization,
            "token": self.token.to_json() if self.token else None,
            "error": self.error.to_json() if self.error else None,
        }


@dataclass
class ProbeResult:
    """One negative probe. Passed = refused for the expected reason. `alarm` = it got a token.
    `inconclusive` = refused for another reason, or no answer: it proves nothing."""

    key: str
    title: str
    proves: str
    refused: bool = False
    alarm: bool = False
    expected: str = ""
    observed_code: str | None = None
    detail: str = ""
    inconclusive: bool = False
    status: StepStatus = StepStatus.PENDING
    seconds: float | None = None
    explanation: Explanation | None = None

    @property
    def passed(self) -> bool:
        return self.refused and not self.alarm and not self.inconclusive

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.key,
            "title": self.title,
            "proves": self.proves,
            "ok": self.passed,
            "refused": self.refused,
            "alarm": self.alarm,
            "inconclusive": self.inconclusive,
            "expected": self.expected,
            "observed_code": self.observed_code,
            "detail": self.detail,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "explanation": self.explanation.to_json() if self.explanation else None,
        }


@dataclass
class NegativeResult:
    probes: list[ProbeResult]
    verdict: Verdict
    cancelled: bool = False

    @property
    def alarm(self) -> bool:
        return any(p.alarm for p in self.probes)

    def to_json(self) -> list[dict[str, object]]:
        return [probe.to_json() for probe in self.probes]


def overall_verdict(positive: PositiveResult, negative: NegativeResult | None) -> Verdict:
    """fail if the certificate does not work or anything else does; inconclusive if a probe
    proved nothing; pass otherwise."""
    if negative is not None and negative.verdict == "fail":
        return "fail"
    if not positive.ok:
        return "fail"
    if negative is not None and negative.verdict == "inconclusive":
        return "inconclusive"
    return "pass"


EXIT_PASS = 0
EXIT_POSITIVE_FAILED = 1
EXIT_NEGATIVE_ALARM = 3
EXIT_INCONCLUSIVE = 4


def exit_code_for(positive: PositiveResult, negative: NegativeResult | None) -> int:
    """The CLI contract: 0 pass, 1 positive failed, 3 a probe got a token, 4 inconclusive.
    A token for a probe outranks everything: it is a security problem."""
    if negative is not None and negative.alarm:
        return EXIT_NEGATIVE_ALARM
    if not positive.ok:
        return EXIT_POSITIVE_FAILED
    if negative is not None and negative.verdict != "pass":
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


# ---------------------------------------------------------------- HTTP plumbing


@dataclass(frozen=True)
class SeenResponse:
    """What the last HTTP answer looked like, kept because MSAL drops status and headers."""

    status: int
    body: str
    retry_after: str | None
    date: str | None


class HttpSession:
    """A requests session with the cloud's trust store, a timeout on every call, a cancel
    check before every call, and a record of the last answer.

    Demo/custom CA: verify=<ca> and trust_env=False, so neither REQUESTS_CA_BUNDLE nor a proxy
    in the environment interferes with a local HTTPS server. Real clouds keep trust_env (the
    server's HTTPS_PROXY/NO_PROXY/REQUESTS_CA_BUNDLE); an explicit --ca-bundle is passed per
    request, which requests lets win over the environment.
    """

    def __init__(self, cloud: Cloud, timeout: float, cancel: threading.Event | None) -> None:
        import requests

        self.timeout = timeout
        self.cancel = cancel
        self.ca_bundle = cloud.ca_bundle
        self.last: SeenResponse | None = None
        session = requests.Session()
        session.trust_env = not cloud.is_custom
        if cloud.ca_bundle:
            session.verify = cloud.ca_bundle
        outer = self

        original_request = session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
            outer.check_cancel()
            kwargs.setdefault("timeout", outer.timeout)
            if outer.ca_bundle:
                kwargs.setdefault("verify", outer.ca_bundle)
            outer.last = None
            response = original_request(method, url, *args, **kwargs)
            outer.last = SeenResponse(
                status=response.status_code,
                body=response.text[:4000],
                retry_after=response.headers.get("Retry-After"),
                date=response.headers.get("Date"),
            )
            return response

        # MSAL calls session.get/post, which go through session.request.
        session.request = request  # type: ignore[method-assign, assignment]
        self.session = session

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Wait, waking up at once if cancelled."""
        if self.cancel is None:
            time.sleep(seconds)
            return
        if self.cancel.wait(seconds):
            raise Cancelled()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.post(url, **kwargs)

    def close(self) -> None:
        self.session.close()


def _quiet_msal() -> None:
    """MSAL logs a full exception when a body is not JSON; without a handler Python's
    last-resort handler would print it. Our explanation says it better."""
    logger = logging.getLogger("msal")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@dataclass
class TokenAttempt:
    """The outcome of one token request, whichever way it went."""

    token: str | None = None
    code: int | None = None
    description: str = ""
    explanation: Explanation | None = None
    transient: bool = False
    retry_after: float | None = None
    raw: dict[str, Any] | None = None


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, (parsed - datetime.now(timezone.utc)).total_seconds())


def _is_network_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.RequestException | OSError)


def attempt_from_answer(status: int, body: str, retry_after: str | None) -> TokenAttempt:
    """Classify an HTTP answer of a token or discovery endpoint."""
    if status == 429 or status >= 500:
        return TokenAttempt(
            explanation=catalogue.explain_http_status(status, retry_after, body),
            transient=True,
            retry_after=_retry_after_seconds(retry_after),
        )
    try:
        data = json.loads(body)
    except ValueError:
        return TokenAttempt(explanation=catalogue.explain_not_json(status, body))
    if not isinstance(data, dict):
        return TokenAttempt(explanation=catalogue.explain_not_json(status, body))
    return attempt_from_result(data)


def attempt_from_result(result: dict[str, Any]) -> TokenAttempt:
    """Classify a parsed token-endpoint answer (MSAL's dict, or our own raw POST's)."""
    token = result.get("access_token")
    if isinstance(token, str) and token:
        return TokenAttempt(token=token, raw=result)
    description = str(result.get("error_description") or "")
    code = catalogue.aadsts_code(description, result.get("error_codes"))
    return TokenAttempt(
        code=code,
        description=description,
        explanation=catalogue.explain_error_response(result),
        raw={k: v for k, v in result.items() if k != "access_token"},
    )


def attempt_from_exception(exc: BaseException, http: HttpSession) -> TokenAttempt:
    """MSAL raises ValueError (tenant discovery 4xx, a non-JSON body), its MsalServiceError
    ("HTTP Error: 500") or requests' own errors: look at what really came over the wire."""
    if isinstance(exc, Cancelled):
        raise exc
    seen = http.last
    if not _is_network_error(exc) and seen is not None and _blames_the_answer(exc, seen):
        return attempt_from_answer(seen.status, seen.body, seen.retry_after)
    explanation = catalogue.explain_exception(exc)
    return TokenAttempt(
        explanation=explanation,
        transient=explanation.code == catalogue.CONNECTION_RESET.code,
    )


def _blames_the_answer(exc: BaseException, seen: SeenResponse) -> bool:
    """True when `exc` is MSAL's reaction to the last answer rather than a local problem:
    its ValueError/RuntimeError/MsalServiceError after an error status or a non-JSON body."""
    if not (isinstance(exc, ValueError | RuntimeError) or type(exc).__name__ == "MsalServiceError"):
        return False
    if seen.status != 200:
        return True
    try:
        json.loads(seen.body)
    except ValueError:
        return True
    return False


def acquire_token(
    settings: ConnectionSettings,
    http: HttpSession,
    client_credential: dict[str, Any],
) -> TokenAttempt:
    """One token request with a brand-new MSAL application and token cache.

    A fresh app every time: MSAL caches tokens (and, for 60 s, HTTP 400 answers) per app,
    and a test must never be answered from a cache.
    """
    import msal

    _quiet_msal()
    try:
        app = msal.ConfidentialClientApplication(
            settings.client_id,
            authority=settings.cloud.authority(settings.tenant),
            client_credential=client_credential,
            http_client=http.session,
            # MSAL asks login.microsoftonline.com to validate any other host: never for the
            # demo tenant or a custom cloud.
            instance_discovery=None if settings.cloud.is_microsoft else False,
            token_cache=msal.TokenCache(),
            # timeout= would be ignored with our own http_client; HttpSession applies it.
        )
        result = app.acquire_token_for_client(scopes=[settings.cloud.graph_scope])
    except Cancelled:
        raise
    except Exception as exc:  # MSAL's failure modes are many and undocumented: see above.
        return attempt_from_exception(exc, http)
    seen = http.last
    if seen is not None and (seen.status == 429 or seen.status >= 500):
        return attempt_from_answer(seen.status, seen.body, seen.retry_after)
    if not isinstance(result, dict):
        return TokenAttempt(explanation=catalogue.explain_not_json(None, ""))
    return attempt_from_result(result)


def certificate_credential(credential: Credential) -> dict[str, Any]:
    """MSAL's client_credential for the positive test.

    Decision: private_key + public_certificate, so MSAL signs PS256 with `x5t#S256` and sends
    `x5c` — what current MSAL does for a .pfx and for a certificate with its key, i.e. what the
    user's own script will most likely send. (With `thumbprint` it would sign RS256 with a
    SHA-1 `x5t`; Entra ID accepts both.) The key object is handed over as is, so no unencrypted
    PEM copy of it is ever made.
    """
    from wizard import certs

    return {
        "private_key": credential.private_key,
        "public_certificate": certs.cert_pem(credential.certificate).decode("ascii"),
    }


def discover_tenant(
    settings: ConnectionSettings, http: HttpSession
) -> tuple[dict[str, Any] | None, TokenAttempt | None]:
    """GET the tenant's OpenID configuration: (config, None) or (None, the failure)."""
    url = f"{settings.cloud.authority(settings.tenant)}/v2.0/.well-known/openid-configuration"
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except Cancelled:
        raise
    except Exception as exc:
        return None, attempt_from_exception(exc, http)
    if response.status_code != 200:
        return None, attempt_from_answer(
            response.status_code, response.text, response.headers.get("Retry-After")
        )
    try:
        config = response.json()
    except ValueError:
        return None, TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    if not isinstance(config, dict) or not isinstance(config.get("token_endpoint"), str):
        return None, TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    return config, None


def tenant_id_from_config(config: dict[str, Any]) -> str | None:
    """The tenant GUID: the first path segment of the token endpoint."""
    from urllib.parse import urlsplit

    from wizard.inputs import is_guid

    for key in ("token_endpoint", "issuer"):
        value = config.get(key)
        if isinstance(value, str):
            segments = [s for s in urlsplit(value).path.split("/") if s]
            for segment in segments:
                if is_guid(segment):
                    return segment.lower()
    return None


def cross_cloud_problem(settings: ConnectionSettings, config: dict[str, Any]) -> Explanation | None:
    """Entra's OpenID configuration names the cloud a tenant lives in; a mismatch means the
    token request would fail (AADSTS900382) or the Graph call would go to the wrong cloud."""
    from wizard.clouds import cloud_for_instance

    expected = settings.cloud.instance_name
    actual = config.get("cloud_instance_name")
    if not expected or not isinstance(actual, str) or actual.lower() == expected:
        return None
    home = cloud_for_instance(actual)
    where = f"the {home.label} cloud (--cloud {home.key})" if home else f"the {actual} cloud"
    base = catalogue.explain_aadsts(900382)
    return dataclasses.replace(
        base,
        cause=f"This tenant lives in {where}, not in {settings.cloud.label}. {base.cause}",
    )


def with_transient_retries(
    request: Callable[[], TokenAttempt],
    http: HttpSession,
    report: Callable[[str], None],
) -> TokenAttempt:
    """Run `request`; on 429/5xx/a dropped connection wait (Retry-After, capped) and retry."""
    attempt = request()
    for retry in range(1, TRANSIENT_RETRIES + 1):
        if not attempt.transient:
            return attempt
        wait = attempt.retry_after if attempt.retry_after is not None else (
            DEFAULT_RETRY_AFTER_SECONDS * retry
        )
        if wait > MAX_RETRY_AFTER_SECONDS:
            return attempt  # the service asked for a long pause: report, don't hang
        title = attempt.explanation.title if attempt.explanation else "temporary failure"
        report(f"{title}; retrying in {wait:.0f} s (retry {retry} of {TRANSIENT_RETRIES})")
        http.sleep(wait)
        attempt = request()
    return attempt


# ---------------------------------------------------------------- the positive test


class _PositiveRun:
    def __init__(
        self,
        settings: ConnectionSettings,
        credential: Credential,
        on_update: Callable[[Step], None] | None,
        cancel: threading.Event | None,
        recently_uploaded: bool,
    ) -> None:
        self.settings = settings
        self.credential = credential
        self.on_update = on_update
        self.cancel = cancel
        self.recently_uploaded = recently_uploaded
        self.steps = [Step(key, title) for key, title in POSITIVE_STEPS]
        self.result = PositiveResult(ok=False, steps=self.steps)
        self.tenant_config: dict[str, Any] = {}
        self.access_token: str | None = None
        self._started = 0.0

    # -- reporting

    def _emit(self, step: Step) -> None:
        if self.on_update is not None:
            self.on_update(dataclasses.replace(step))

    def _begin(self, step: Step) -> None:
        step.status = StepStatus.RUNNING
        step.detail = ""
        self._started = time.monotonic()
        self._emit(step)

    def _progress(self, step: Step, detail: str) -> None:
        step.detail = detail
        step.seconds = time.monotonic() - self._started
        self._emit(step)

    def _end(
        self,
        step: Step,
        status: StepStatus,
        detail: str,
        explanation: Explanation | None = None,
    ) -> None:
        step.status = status
        step.detail = detail
        step.seconds = time.monotonic() - self._started
        step.explanation = explanation
        if status is StepStatus.FAIL and self.result.error is None:
            self.result.error = explanation
        self._emit(step)

    # -- the run

    def run(self) -> PositiveResult:
        http = HttpSession(self.settings.cloud, self.settings.timeout, self.cancel)
        actions = {
            "preflight": self._preflight,
            "discovery": self._discovery,
            "token": self._token,
            "claims": self._claims,
            "graph": self._graph,
        }
        current: Step | None = None
        try:
            for step in self.steps:
                current = step
                http.check_cancel()
                self._begin(step)
                if not actions[step.key](step, http):
                    break
            current = None
        except Cancelled:
            self.result.cancelled = True
            if current is not None and current.status is StepStatus.RUNNING:
                self._end(current, StepStatus.SKIPPED, "Cancelled.", catalogue.CANCELLED)
        except Exception as exc:  # a failure nobody foresaw still ends as a failed step
            if current is not None:
                explanation = catalogue.explain_exception(exc)
                self._end(current, StepStatus.FAIL, explanation.title, explanation)
        finally:
            http.close()
        reason = "Cancelled." if self.result.cancelled else "Not run: an earlier step failed."
        for step in self.steps:
            if step.status is StepStatus.PENDING:
                step.status = StepStatus.SKIPPED
                step.detail = reason
                self._emit(step)
        self.result.ok = (
            not self.result.cancelled
            and self.result.error is None
            and all(s.status in (StepStatus.OK, StepStatus.WARN) for s in self.steps)
        )
        return self.result

    def _preflight(self, step: Step, http: HttpSession) -> bool:
        from wizard import certs

        cert = self.credential.certificate
        if not certs.key_matches_certificate(self.credential.private_key, cert):
            self._end(step, StepStatus.FAIL, "The private key does not belong to the certificate.",
                      catalogue.KEY_MISMATCH)
            return False
        now = datetime.now(timezone.utc)
        not_before, not_after = certs.not_valid_before(cert), certs.not_valid_after(cert)
        if now < not_before:
            self._end(step, StepStatus.FAIL,
                      f"The certificate is valid only from {not_before:%Y-%m-%d %H:%M} UTC.",
                      catalogue.LOCAL_CERT_NOT_YET_VALID)
            return False
        if now > not_after:
            self._end(step, StepStatus.FAIL,
                      f"The certificate expired on {not_after:%Y-%m-%d %H:%M} UTC.",
                      catalogue.LOCAL_CERT_EXPIRED)
            return False
        days_left = (not_after - now).days
        notes = [
            "key matches the certificate",
            f"valid until {not_after:%Y-%m-%d} ({days_left} days)",
        ]
        status = StepStatus.OK
        warning: Explanation | None = None
        if days_left < EXPIRY_WARNING_DAYS:
            status, warning = StepStatus.WARN, catalogue.CERT_EXPIRES_SOON
        sent = time.time()
        try:
            http.get(self.settings.cloud.authority_host + "/", allow_redirects=False)
        except Cancelled:
            raise
        except Exception as exc:
            explanation = catalogue.explain_exception(exc)
            self._end(step, StepStatus.FAIL,
                      f"The sign-in host {self.settings.cloud.authority_host} is not reachable: "
                      f"{explanation.title}.", explanation)
            return False
        received = time.time()
        notes.append(f"sign-in host reachable ({(received - sent) * 1000:.0f} ms)")
        skew = _clock_skew(http.last.date if http.last else None, (sent + received) / 2)
        if skew is None:
            notes.append("clock not checked (no Date header)")
        elif abs(skew) > CLOCK_SKEW_WARNING_SECONDS:
            direction = "behind" if skew > 0 else "ahead of"
            notes.append(f"this computer's clock is {abs(skew):.0f} s {direction} the server's")
            status, warning = StepStatus.WARN, catalogue.CLOCK_SKEW
        else:
            notes.append(f"clock in step (±{max(1.0, abs(skew)):.0f} s)")
        self._end(step, status, "; ".join(notes), warning)
        return True

    def _discovery(self, step: Step, http: HttpSession) -> bool:
        def discover() -> TokenAttempt:
            config, failure = discover_tenant(self.settings, http)
            if config is not None:
                self.tenant_config = config
                return TokenAttempt()
            assert failure is not None
            return failure

        failure = with_transient_retries(discover, http, lambda text: self._progress(step, text))
        if failure.explanation is not None:
            self._end(step, StepStatus.FAIL, failure.explanation.title, failure.explanation)
            return False
        cross = cross_cloud_problem(self.settings, self.tenant_config)
        if cross is not None:
            self._end(step, StepStatus.FAIL, cross.cause.split(". ")[0] + ".", cross)
            return False
        tenant_id = tenant_id_from_config(self.tenant_config)
        self.result.tenant_id = tenant_id
        shown = self.settings.tenant
        found = f"tenant {shown} found"
        if tenant_id and tenant_id != shown:
            found += f" (ID {tenant_id})"
        self._end(step, StepStatus.OK, found)
        return True

    def _token(self, step: Step, http: HttpSession) -> bool:
        client_credential = certificate_credential(self.credential)
        first_refusal: float | None = None
        propagation_retry = 0
        while True:
            attempt = with_transient_retries(
                lambda: acquire_token(self.settings, http, client_credential),
                http,
                lambda text: self._progress(step, text),
            )
            if attempt.token is not None:
                break
            if (
                self.recently_uploaded
                and attempt.code == 700027
                and catalogue.reason_700027(attempt.description) == "not-found"
            ):
                now = time.monotonic()
                first_refusal = first_refusal if first_refusal is not None else now
                remaining = PROPAGATION_WINDOW_SECONDS - (now - first_refusal)
                if remaining > 0:
                    wait = min(
                        PROPAGATION_BACKOFF[min(propagation_retry, len(PROPAGATION_BACKOFF) - 1)],
                        remaining,
                    )
                    propagation_retry += 1
                    self._progress(
                        step,
                        f"certificate not accepted yet (a fresh upload can take up to a minute); "
                        f"retrying in {wait:.0f} s (attempt {propagation_retry + 1})",
                    )
                    http.sleep(wait)
                    continue
            explanation = attempt.explanation or catalogue.explain_not_json(None, "")
            self._end(step, StepStatus.FAIL, explanation.title, explanation)
            return False
        self.access_token = attempt.token
        self.result.signed_in = True
        waited = f" after {propagation_retry} retries" if propagation_retry else ""
        self._end(
            step,
            StepStatus.OK,
            f"token issued{waited} (assertion signed PS256 with the key, x5t#S256)",
        )
        return True

    def _claims(self, step: Step, http: HttpSession) -> bool:
        assert self.access_token is not None
        try:
            summary = summarize(self.access_token)
        except TokenFormatError:
            self._end(step, StepStatus.WARN,
                      "The token is not a readable JWT, so its claims can't be shown.")
            return True
        self.result.token = summary
        expected_tenant = self.result.tenant_id or self.settings.tenant
        if summary.app_id.lower() != self.settings.client_id.lower():
            self._end(step, StepStatus.FAIL,
                      f"The token is for app {summary.app_id or '(none)'}, not "
                      f"{self.settings.client_id}.", catalogue.TOKEN_MISMATCH)
            return False
        if summary.tenant_id and summary.tenant_id.lower() != expected_tenant.lower():
            self._end(step, StepStatus.FAIL,
                      f"The token is from tenant {summary.tenant_id}, not {expected_tenant}.",
                      catalogue.TOKEN_MISMATCH)
            return False
        notes = ["app and tenant match"]
        status = StepStatus.OK
        warning: Explanation | None = None
        if summary.appidacr == "2":
            notes.append("certificate sign-in (appidacr 2)")
        else:
            method = {"0": "no credential", "1": "a client secret"}.get(summary.appidacr, "unknown")
            notes.append(f"authenticated with {method} (appidacr {summary.appidacr or '?'})")
            status = StepStatus.WARN
        if summary.expires_at is not None:
            left = summary.expires_at - datetime.now(timezone.utc)
            minutes = max(0, int(left.total_seconds() // 60))
            notes.append(f"expires {summary.expires_at:%H:%M} UTC (in {minutes} min)")
        if summary.roles:
            notes.append("roles: " + ", ".join(sorted(summary.roles)))
        else:
            notes.append("roles: none: admin consent not granted")
            status, warning = StepStatus.WARN, catalogue.NO_ROLES
        self._end(step, status, "; ".join(notes), warning)
        return True

    def _graph(self, step: Step, http: HttpSession) -> bool:
        url = f"{self.settings.cloud.graph_endpoint}/v1.0/organization"
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}
        body: dict[str, Any] = {}

        def call() -> TokenAttempt:
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
                    retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
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

        outcome = with_transient_retries(call, http, lambda text: self._progress(step, text))
        if outcome.explanation is not None:
            if outcome.code == 403:
                # Signed in fine: not a certificate failure. WARN, but the test is not passed,
                # because a script's Graph call would fail the same way.
                self.result.error = outcome.explanation
                self._end(step, StepStatus.WARN, outcome.explanation.title, outcome.explanation)
                return False
            self._end(step, StepStatus.FAIL, outcome.explanation.title, outcome.explanation)
            return False
        organization = _organization(body)
        if organization is None:
            self._end(step, StepStatus.FAIL, "Graph answered without an organization.",
                      catalogue.explain_not_json(200, json.dumps(body)[:200]))
            return False
        self.result.organization = organization
        domains = ", ".join(organization["verified_domains"]) or "none"
        self._end(step, StepStatus.OK,
                  f"{organization['display_name']}; verified domains: {domains}")
        return True


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


def run_positive(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_update: Callable[[Step], None] | None = None,
    cancel: threading.Event | None = None,
    recently_uploaded: bool = False,
) -> PositiveResult:
    """The positive test. `on_update` gets a copy of a step whenever it changes (from this
    thread). `recently_uploaded`: the certificate was uploaded moments ago, so AADSTS700027
    "key not found" is retried with backoff for up to a minute before it counts."""
    return _PositiveRun(settings, credential, on_update, cancel, recently_uploaded).run()


def run_negative(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_update: Callable[[ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> NegativeResult:
    """The negative test: three requests that must be refused (see `wizard.probes`)."""
    from wizard.probes import run_probes

    return run_probes(settings, credential, on_update=on_update, cancel=cancel)


def settings_problem(settings: ConnectionSettings) -> str | None:
    """A quick sanity check for callers that build settings by hand."""
    from wizard.inputs import client_id_problem, tenant_problem

    return client_id_problem(settings.client_id) or tenant_problem(settings.tenant)


def require_settings(settings: ConnectionSettings) -> None:
    problem = settings_problem(settings)
    if problem:
        raise UserError(problem, exit_code=2)
