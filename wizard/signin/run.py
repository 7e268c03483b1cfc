"""Both tests in one call, and the rules every interface follows when running them: when the
negative test runs, and when a certificate counts as just uploaded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from wizard.signin.catalogue import NETWORK_FAILURE_CODES
from wizard.signin.http import OpenIdMemo
from wizard.signin.negative import run_negative
from wizard.signin.plan import (
    Check,
    CheckStatus,
    NegativeResult,
    PositiveResult,
    ProbeResult,
    Verdict,
    exit_code_for,
    overall_verdict,
)
from wizard.signin.positive import run_positive
from wizard.signin.settings import ConnectionSettings, Credential

# A certificate uploaded this recently may not be accepted everywhere yet, so the positive
# test waits out AADSTS700027 "key not found" (up to a minute) instead of failing at once.
# Entra ID itself needs seconds to a minute; ten minutes leaves room for a person who
# uploads, then reads the thumbprint and types the IDs in the wizard, or walks through a
# rotation's stages, before testing. Longer would only slow down the verdict on a
# certificate that is really missing.
JUST_UPLOADED_WINDOW = timedelta(minutes=10)

NegativeSkipped = Literal["not-wanted", "tenant-unreachable"]


def just_uploaded(uploaded_at: datetime | None, now: datetime) -> bool:
    """True when the certificate was uploaded within JUST_UPLOADED_WINDOW before `now`."""
    return uploaded_at is not None and now - uploaded_at < JUST_UPLOADED_WINDOW


def should_run_negative(positive: PositiveResult) -> bool:
    """The negative probes prove something only once the tenant was found and answered.

    After a cancelled test, or a failure of the network itself, every probe would meet the
    same wall and prove nothing. A certificate that was refused still leaves the probes
    worth running: they show whether anything else gets in.
    """
    discovery = positive.check("discovery")
    found = discovery is not None and discovery.status is CheckStatus.OK
    network_down = positive.error is not None and positive.error.code in NETWORK_FAILURE_CODES
    return found and not network_down and not positive.cancelled


@dataclass
class SignInResult:
    """Both tests' results; `negative_skipped` says why the negative test did not run."""

    positive: PositiveResult
    negative: NegativeResult | None
    negative_skipped: NegativeSkipped | None = None

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.positive, self.negative)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.positive, self.negative)


def run_tests(
    settings: ConnectionSettings,
    credential: Credential,
    *,
    negative: bool = True,
    recently_uploaded: bool = False,
    on_check: Callable[[Check], None] | None = None,
    on_negative_start: Callable[[], None] | None = None,
    on_probe: Callable[[ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> SignInResult:
    """The positive test, then the negative one when `negative` is wanted and
    `should_run_negative` allows it. `on_negative_start` is called just before the probes.
    Both tests share one fetch of the tenant's OpenID configuration."""
    memo = OpenIdMemo()
    positive = run_positive(
        settings,
        credential,
        on_update=on_check,
        cancel=cancel,
        recently_uploaded=recently_uploaded,
        memo=memo,
    )
    if not negative:
        return SignInResult(positive, None, "not-wanted")
    if not should_run_negative(positive):
        return SignInResult(positive, None, "tenant-unreachable")
    if on_negative_start is not None:
        on_negative_start()
    negative_result = run_negative(
        settings, credential, on_update=on_probe, cancel=cancel, memo=memo
    )
    return SignInResult(positive, negative_result)
