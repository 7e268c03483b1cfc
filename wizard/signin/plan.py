"""The plan and results of a sign-in test: which checks and probes run, and what they found.

Screens and the CLI draw their rows from `POSITIVE_CHECKS` and `NEGATIVE_PROBES` before the
test starts, so a row's title is the same before, during and after the run. Nothing here
imports MSAL, requests or cryptography: drawing a row must not load the sign-in machinery.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wizard.signin.catalogue import NETWORK_FAILURE_CODES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wizard.signin.catalogue import Explanation
    from wizard.signin.tokens import TokenSummary

Verdict = Literal["pass", "fail", "inconclusive"]


class CheckStatus(enum.Enum):
    """Where a check (or a probe) stands; the values are the CLI's JSON and the rows' CSS."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedCheck:
    """One check of the positive test, known before it runs."""

    key: str
    title: str


POSITIVE_CHECKS: tuple[PlannedCheck, ...] = (
    PlannedCheck("preflight", "Pre-flight checks"),
    PlannedCheck("discovery", "Tenant discovery"),
    PlannedCheck("token", "Token with the certificate"),
    PlannedCheck("claims", "The token explained"),
    PlannedCheck("graph", "Graph: read the organization"),
)


@dataclass(frozen=True)
class NegativeProbe:
    """One request of the negative test, and the refusal that proves it was turned away."""

    key: str
    title: str
    proves: str
    expected_codes: frozenset[int]
    # Answers with several codes that count only together, e.g. (70002, 50012).
    expected_pairs: frozenset[tuple[int, int]] = frozenset()

    @property
    def expected(self) -> str:
        codes = [f"AADSTS{code}" for code in sorted(self.expected_codes)]
        pairs = [f"AADSTS{first}+{second}" for first, second in sorted(self.expected_pairs)]
        return " or ".join(codes + pairs)

    def refused_as_expected(self, codes: Sequence[int]) -> bool:
        """True when the answer's AADSTS codes are one of the refusals this probe expects."""
        if codes and codes[0] in self.expected_codes:
            return True
        return tuple(codes[:2]) in self.expected_pairs


# How Entra ID refuses a certificate it does not accept (each with its source in catalogue.py):
# 700027 (two wordings), 7000274, and from older tenants the pair 70002 + 50012.
CERTIFICATE_REFUSAL_CODES = frozenset({700027, 7000274})
CERTIFICATE_REFUSAL_PAIRS = frozenset({(70002, 50012)})


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
    expected_codes=CERTIFICATE_REFUSAL_CODES,
    expected_pairs=CERTIFICATE_REFUSAL_PAIRS,
)
STOLEN_PUBLIC_CERTIFICATE = NegativeProbe(
    key="stolen-public-certificate",
    title="The public certificate, wrong key",
    proves="The public .cer is not enough: only the holder of the private key gets in.",
    expected_codes=CERTIFICATE_REFUSAL_CODES,
    expected_pairs=CERTIFICATE_REFUSAL_PAIRS,
)
NEGATIVE_PROBES: tuple[NegativeProbe, ...] = (
    NO_CREDENTIAL,
    STRANGER_CERTIFICATE,
    STOLEN_PUBLIC_CERTIFICATE,
)


# ---------------------------------------------------------------- the results


@dataclass
class Check:
    """One line of the positive test. `explanation` is set for FAIL (and for some WARNs)."""

    key: str
    title: str
    status: CheckStatus = CheckStatus.PENDING
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


def pending_checks() -> list[Check]:
    """Fresh rows for one run of the positive test, in the planned order."""
    return [Check(planned.key, planned.title) for planned in POSITIVE_CHECKS]


@dataclass
class PositiveResult:
    """The positive test. `signed_in` is True once a token was issued, even if Graph then
    refused the call: the certificate works and `error` explains what else is missing."""

    ok: bool
    checks: list[Check]
    token: TokenSummary | None = None
    organization: dict[str, Any] | None = None
    error: Explanation | None = None
    signed_in: bool = False
    cancelled: bool = False
    tenant_id: str | None = None
    error_codes: tuple[int, ...] = ()  # every AADSTS code of a refused token request

    @property
    def refused_the_certificate(self) -> bool:
        """The token request was refused because the key is not registered (in any of the
        forms Entra uses): the refusal the stranger-certificate probe expects."""
        return STRANGER_CERTIFICATE.refused_as_expected(self.error_codes)

    @property
    def unreached(self) -> bool:
        """The service never answered (no network, DNS, refused, reset, timeout, TLS, proxy):
        the run proves nothing about the certificate, either way."""
        return (
            not self.ok
            and not self.signed_in
            and self.error is not None
            and self.error.code in NETWORK_FAILURE_CODES
        )

    def check(self, key: str) -> Check | None:
        """The check with this key (a key of POSITIVE_CHECKS), if it is in the result."""
        return next((check for check in self.checks if check.key == key), None)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "signed_in": self.signed_in,
            "cancelled": self.cancelled,
            "tenant_id": self.tenant_id,
            # "steps": the JSON name scripts already read.
            "steps": [check.to_json() for check in self.checks],
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
    status: CheckStatus = CheckStatus.PENDING
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


def pending_probes() -> list[ProbeResult]:
    """Fresh rows for one run of the negative test, in the planned order."""
    return [
        ProbeResult(key=p.key, title=p.title, proves=p.proves, expected=p.expected)
        for p in NEGATIVE_PROBES
    ]


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


# ---------------------------------------------------------------- verdicts and exit codes


def negative_verdict(results: list[ProbeResult]) -> Verdict:
    """fail if any probe got a token, inconclusive if any proved nothing, else pass."""
    if any(r.alarm for r in results):
        return "fail"
    if any(r.inconclusive or not r.refused for r in results):
        return "inconclusive"
    return "pass"


def overall_verdict(positive: PositiveResult, negative: NegativeResult | None) -> Verdict:
    """fail if the certificate does not work or anything else does; inconclusive if the
    service was never reached or a probe proved nothing; pass otherwise."""
    if negative is not None and negative.verdict == "fail":
        return "fail"
    if not positive.ok:
        return "inconclusive" if positive.unreached else "fail"
    if negative is not None and negative.verdict == "inconclusive":
        return "inconclusive"
    return "pass"


EXIT_PASS = 0
EXIT_POSITIVE_FAILED = 1
EXIT_NEGATIVE_ALARM = 3
EXIT_INCONCLUSIVE = 4


def exit_code_for(positive: PositiveResult, negative: NegativeResult | None) -> int:
    """The CLI contract: 0 pass, 1 positive failed, 3 a probe got a token, 4 inconclusive
    (also when the service was never reached). A token for a probe outranks everything: it
    is a security problem."""
    if negative is not None and negative.alarm:
        return EXIT_NEGATIVE_ALARM
    if not positive.ok:
        return EXIT_INCONCLUSIVE if positive.unreached else EXIT_POSITIVE_FAILED
    if negative is not None and negative.verdict != "pass":
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


def format_seconds(seconds: float | None, *, below_one_ms: str | None = None) -> str:
    """A check's duration for people: "4 ms" under a second, "1.23 s" above, "" if unknown.

    Checks against the demo tenant take a few milliseconds: "0.00 s" would read as "not
    measured". `below_one_ms` replaces "0 ms" for local work (the wizard's rows show "<1 ms";
    the CLI's time column keeps digits).
    """
    if seconds is None:
        return ""
    if below_one_ms is not None and seconds < 0.0005:
        return below_one_ms
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
