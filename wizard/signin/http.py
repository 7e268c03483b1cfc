"""The HTTP and MSAL plumbing both tests share: one session per test, token requests, retries.

MSAL and requests are imported inside functions so that importing this module stays cheap
(the wizard's first screen and the other headless commands never pay for them).
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard.signin import catalogue
from wizard.signin.catalogue import Explanation
from wizard.signin.trust import choose_trust, use_system_store

if TYPE_CHECKING:
    import requests

    from wizard.signin.clouds import Cloud
    from wizard.signin.settings import ConnectionSettings, Credential

# 429/5xx: retry twice, honouring Retry-After, unless the service asks for a longer pause.
TRANSIENT_RETRIES = 2
MAX_RETRY_AFTER_SECONDS = 30.0
DEFAULT_RETRY_AFTER_SECONDS = 2.0
# Enough for any token answer (an access token with many roles), so it can be read again.
_KEPT_BODY_CHARS = 64_000


class Cancelled(Exception):
    """The caller set the cancel event; raised at the next check point."""


@dataclass(frozen=True)
class SeenResponse:
    """What an HTTP answer looked like, kept because MSAL drops status and headers."""

    status: int
    body: str
    retry_after: str | None
    date: str | None


OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"


class OpenIdMemo:
    """The tenant's OpenID configuration as first answered (200) in one run, kept so that the
    checks, MSAL's applications and the probes of that run fetch it once, not five times.

    Only a 200 answer is kept: a failed fetch is asked again (retries, faults), and a new run
    (a new memo) asks the tenant afresh.
    """

    def __init__(self) -> None:
        self._answers: dict[str, requests.Response] = {}
        self._lock = threading.Lock()

    @staticmethod
    def applies_to(method: str, url: str, kwargs: dict[str, Any]) -> bool:
        return (method.upper() == "GET" and not kwargs.get("params")
                and url.split("?", 1)[0].endswith(OPENID_CONFIGURATION_PATH))

    def answer(self, url: str) -> requests.Response | None:
        with self._lock:
            return self._answers.get(url)

    def keep(self, url: str, response: requests.Response) -> None:
        if response.status_code == 200:
            with self._lock:
                self._answers.setdefault(url, response)


class HttpSession:
    """A requests session with the cloud's trust store, a timeout on every call, a cancel
    check before every call, and a record of the answers: `last` is the last of all,
    `token_answer` the last answer to a POST. The OpenID configuration comes from `memo`
    once it answered (one memo per run, shared by its sessions).

    Decision: the token endpoint's answer is kept apart because MSAL, with instance discovery
    on (the real clouds), sends a GET to /common/discovery/instance after every error answer:
    that GET must neither hide a 429 (which would then go unretried) nor, when it fails
    itself, the refusal that matters. In the client-credentials flow the only POSTs are
    token requests.

    Demo/custom CA: verify=<ca> and trust_env=False, so neither REQUESTS_CA_BUNDLE nor a proxy
    in the environment interferes with a local HTTPS server. Real clouds keep trust_env (the
    server's HTTPS_PROXY/NO_PROXY/REQUESTS_CA_BUNDLE); an explicit --ca-bundle is passed per
    request, which requests lets win over the environment. Without a CA file from either, the
    operating system's trust store is used (`trust.py`).
    """

    def __init__(
        self,
        cloud: Cloud,
        timeout: float,
        cancel: threading.Event | None,
        memo: OpenIdMemo | None = None,
    ) -> None:
        import requests

        self.memo = memo if memo is not None else OpenIdMemo()
        self.timeout = timeout
        self.cancel = cancel
        self.ca_bundle = cloud.ca_bundle
        self.trust = choose_trust(cloud)
        self.last: SeenResponse | None = None
        self.token_answer: SeenResponse | None = None
        session = requests.Session()
        session.trust_env = not cloud.is_custom
        if cloud.ca_bundle:
            session.verify = cloud.ca_bundle
        elif self.trust.uses_system_store:
            use_system_store(session)
        outer = self

        original_request = session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
            outer.check_cancel()
            kwargs.setdefault("timeout", outer.timeout)
            if outer.ca_bundle:
                kwargs.setdefault("verify", outer.ca_bundle)
            posting = method.upper() == "POST"
            outer.last = None
            if posting:
                outer.token_answer = None
            remembered = OpenIdMemo.applies_to(method, url, kwargs)
            response = outer.memo.answer(url) if remembered else None
            if response is None:
                response = original_request(method, url, *args, **kwargs)
                if remembered:
                    outer.memo.keep(url, response)
            seen = SeenResponse(
                status=response.status_code,
                body=response.text[:_KEPT_BODY_CHARS],
                retry_after=response.headers.get("Retry-After"),
                date=response.headers.get("Date"),
            )
            outer.last = seen
            if posting:
                outer.token_answer = seen
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
    codes: tuple[int, ...] = ()  # every AADSTS code of the answer (`code` is the first)
    description: str = ""
    explanation: Explanation | None = None
    transient: bool = False
    retry_after: float | None = None
    raw: dict[str, Any] | None = None


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
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
            retry_after=retry_after_seconds(retry_after),
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
    codes = catalogue.aadsts_codes(description, result.get("error_codes"))
    return TokenAttempt(
        code=codes[0] if codes else None,
        codes=codes,
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
    explanation = explain_exception(exc, http)
    return TokenAttempt(
        explanation=explanation,
        transient=explanation.code == catalogue.CONNECTION_RESET.code,
    )


def explain_exception(exc: BaseException, http: HttpSession) -> Explanation:
    """`catalogue.explain_exception`, naming the trust store when TLS verification failed."""
    return catalogue.with_trust_source(catalogue.explain_exception(exc), http.trust.source)


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
    http.token_answer = None
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
        answer = http.token_answer
        if answer is not None:
            # The token endpoint answered; what failed came after it (instance discovery, even
            # when it could not connect): the token endpoint's answer is the one that counts.
            return attempt_from_answer(answer.status, answer.body, answer.retry_after)
        return attempt_from_exception(exc, http)
    answer = http.token_answer
    if answer is not None and answer.status != 200:
        return attempt_from_answer(answer.status, answer.body, answer.retry_after)
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
