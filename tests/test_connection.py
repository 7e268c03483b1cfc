"""The connection tests against the real demo tenant: positive, negative, verdicts, timings."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from conftest import credential_of

from wizard.emulator import DemoInfo, Fault
from wizard.portal import PortalClient
from wizard.signin.clouds import demo_cloud
from wizard.signin.negative import run_negative
from wizard.signin.plan import (
    Check,
    CheckStatus,
    NegativeResult,
    PositiveResult,
    ProbeResult,
    exit_code_for,
    format_seconds,
    overall_verdict,
)
from wizard.signin.positive import run_positive
from wizard.signin.run import run_tests
from wizard.signin.settings import ConnectionSettings

MakeCert = Callable[..., object]


def settings_for(
    info: DemoInfo, *, client_id: str | None = None, tenant: str | None = None, timeout: float = 5.0
) -> ConnectionSettings:
    return ConnectionSettings(
        cloud=demo_cloud(info),
        tenant=tenant or info.tenant_id,
        client_id=client_id or info.client_id,
        timeout=timeout,
    )


def statuses(result: PositiveResult) -> dict[str, CheckStatus]:
    return {step.key: step.status for step in result.checks}


# ---------------------------------------------------------------- positive


def test_uploaded_certificate_passes_with_every_step_explained(
    demo_info: DemoInfo, make_cert: MakeCert
) -> None:
    cert = make_cert("PositivePass")
    updates: list[Check] = []
    result = run_positive(settings_for(demo_info), credential_of(cert), on_update=updates.append)

    assert result.ok and result.signed_in and result.error is None
    assert all(status is CheckStatus.OK for status in statuses(result).values())
    assert all(step.seconds is not None and step.seconds >= 0 for step in result.checks)
    assert result.organization is not None
    assert result.organization["display_name"] == demo_info.organization_name
    assert demo_info.tenant_domain in result.organization["verified_domains"]
    token = result.token
    assert token is not None
    assert token.app_id == demo_info.client_id and token.tenant_id == demo_info.tenant_id
    assert token.appidacr == "2"
    assert "Organization.Read.All" in token.roles
    assert token.expires_at is not None and token.expires_at.tzinfo is not None
    assert "not shown" in token.preview and len(token.preview) < 60
    # Every step reported RUNNING, then its end, in order; the callback got copies.
    sequence = [(u.key, u.status) for u in updates]
    for key in ("preflight", "discovery", "token", "claims", "graph"):
        assert sequence.index((key, CheckStatus.RUNNING)) < sequence.index((key, CheckStatus.OK))
    assert updates[0] is not result.checks[0]


def test_tenant_domain_works_like_the_tenant_id(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("ByDomain")
    result = run_positive(
        settings_for(demo_info, tenant=demo_info.tenant_domain), credential_of(cert)
    )
    assert result.ok
    assert result.tenant_id == demo_info.tenant_id
    assert demo_info.tenant_id in result.checks[1].detail


def test_never_uploaded_certificate_fails_with_key_not_found(
    demo_info: DemoInfo, make_cert: MakeCert
) -> None:
    cert = make_cert("NeverUploaded", upload=False)
    result = run_positive(settings_for(demo_info), credential_of(cert))

    assert not result.ok and not result.signed_in
    assert result.error is not None and result.error.code == "AADSTS700027"
    assert "not registered" in result.error.title
    assert "Upload" in result.error.fix
    assert cert.thumbprint_sha1 in result.error.cause  # type: ignore[attr-defined]
    assert statuses(result)["token"] is CheckStatus.FAIL
    assert statuses(result)["claims"] is CheckStatus.SKIPPED
    assert statuses(result)["graph"] is CheckStatus.SKIPPED


def test_wrong_client_id_is_explained(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("WrongClient")
    result = run_positive(settings_for(demo_info, client_id=str(uuid.uuid4())), credential_of(cert))
    assert result.error is not None and result.error.code == "AADSTS700016"
    assert "Object ID" in result.error.cause or "Object ID" in result.error.fix
    assert statuses(result)["token"] is CheckStatus.FAIL


def test_wrong_tenant_fails_at_discovery(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("WrongTenant")
    result = run_positive(settings_for(demo_info, tenant=str(uuid.uuid4())), credential_of(cert))
    assert result.error is not None and result.error.code == "AADSTS90002"
    assert statuses(result)["discovery"] is CheckStatus.FAIL
    assert statuses(result)["token"] is CheckStatus.SKIPPED


def test_unconsented_app_signs_in_but_graph_403_is_explained(
    demo_info: DemoInfo, make_cert: MakeCert
) -> None:
    cert = make_cert("NoConsent", client_id=demo_info.unconsented_client_id)
    result = run_positive(
        settings_for(demo_info, client_id=demo_info.unconsented_client_id), credential_of(cert)
    )
    assert result.signed_in and not result.ok
    assert result.token is not None and result.token.roles == []
    steps = statuses(result)
    assert steps["token"] is CheckStatus.OK
    assert (
        steps["claims"] is CheckStatus.WARN and "admin consent not granted" in result.checks[3].detail
    )
    assert steps["graph"] is CheckStatus.WARN  # not a certificate failure
    assert result.error is not None and result.error.code == "GRAPH-403"
    assert "Signed in fine" in result.error.title and "Organization.Read.All" in result.error.fix
    assert overall_verdict(result, None) == "fail" and exit_code_for(result, None) == 1


def test_a_fresh_application_every_run_never_a_cached_answer(
    demo_info: DemoInfo, make_cert: MakeCert, demo_portal: PortalClient
) -> None:
    cert = make_cert("Uncached")
    settings = settings_for(demo_info)
    assert run_positive(settings, credential_of(cert)).ok
    demo_portal.delete_certificate(demo_info.client_id, cert.thumbprint_sha1)  # type: ignore[attr-defined]
    again = run_positive(settings, credential_of(cert))
    assert not again.ok and again.error is not None and again.error.code == "AADSTS700027"


def test_fresh_upload_is_retried_visibly_then_passes(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="upload-propagation", endpoint="token", seconds=1.5))
    cert = make_cert("JustUploaded")
    updates: list[Check] = []
    started = time.monotonic()
    result = run_positive(
        settings_for(demo_info),
        credential_of(cert),
        on_update=updates.append,
        recently_uploaded=True,
    )
    assert result.ok, result.error
    retries = [u.detail for u in updates if u.key == "token" and u.status is CheckStatus.RUNNING]
    assert any("not accepted yet" in d and "retrying in" in d for d in retries)
    assert "after" in result.checks[2].detail and "retries" in result.checks[2].detail
    assert time.monotonic() - started < 30


def test_fresh_upload_without_the_hint_fails_at_once(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="upload-propagation", endpoint="token", seconds=30.0))
    cert = make_cert("NoPatience")
    started = time.monotonic()
    result = run_positive(settings_for(demo_info), credential_of(cert))
    assert result.error is not None and result.error.code == "AADSTS700027"
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- cancellation


def test_cancel_during_the_propagation_backoff_returns_promptly(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="upload-propagation", endpoint="token", seconds=60.0))
    cert = make_cert("CancelMe")
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def on_update(step: Check) -> None:
        if step.key == "token" and "retrying in" in step.detail and not cancel.is_set():
            # Cancel from another thread, as the wizard does when the user leaves the step.
            def later() -> None:
                time.sleep(0.2)
                cancelled_at.append(time.monotonic())
                cancel.set()

            threading.Thread(target=later).start()

    result = run_positive(
        settings_for(demo_info),
        credential_of(cert),
        on_update=on_update,
        cancel=cancel,
        recently_uploaded=True,
    )
    returned = time.monotonic()
    assert result.cancelled and not result.ok
    assert returned - cancelled_at[0] < 1.0
    assert statuses(result)["token"] is CheckStatus.SKIPPED
    assert result.checks[2].detail == "Cancelled."
    assert statuses(result)["graph"] is CheckStatus.SKIPPED


def test_already_cancelled_runs_nothing(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("PreCancelled", upload=False)
    cancel = threading.Event()
    cancel.set()
    result = run_positive(settings_for(demo_info), credential_of(cert), cancel=cancel)
    assert result.cancelled
    assert all(step.status is CheckStatus.SKIPPED for step in result.checks)
    negative = run_negative(settings_for(demo_info), credential_of(cert), cancel=cancel)
    assert negative.cancelled and negative.verdict == "inconclusive"


def test_cancel_between_steps_during_a_slow_answer(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    """A hung request can't be interrupted, but the timeout bounds it and nothing runs after."""
    fault(Fault(kind="delay", endpoint="token", seconds=1.0))
    cert = make_cert("SlowCancel")
    cancel = threading.Event()

    def on_update(step: Check) -> None:
        if step.key == "token" and step.status is CheckStatus.RUNNING:
            cancel.set()

    result = run_positive(
        settings_for(demo_info), credential_of(cert), on_update=on_update, cancel=cancel
    )
    assert result.cancelled
    assert statuses(result)["graph"] is CheckStatus.SKIPPED


# ---------------------------------------------------------------- negative


def test_negative_probes_are_all_refused(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("NegativePass")
    seen: list[ProbeResult] = []
    negative = run_negative(settings_for(demo_info), credential_of(cert), on_update=seen.append)
    assert negative.verdict == "pass" and not negative.alarm
    by_key = {p.key: p for p in negative.probes}
    assert by_key["no-credential"].observed_code in ("AADSTS7000216", "AADSTS7000218")
    assert by_key["stranger-certificate"].observed_code == "AADSTS700027"
    assert by_key["stolen-public-certificate"].observed_code == "AADSTS700027"
    stolen = by_key["stolen-public-certificate"].explanation
    assert stolen is not None and stolen.title == "Signature check failed"
    for probe in negative.probes:
        assert probe.passed and probe.refused and probe.status is CheckStatus.OK
        assert probe.proves and probe.expected.startswith("AADSTS")
    assert [p.status for p in seen if p.key == "no-credential"] == [
        CheckStatus.RUNNING,
        CheckStatus.OK,
    ]
    positive = run_positive(settings_for(demo_info), credential_of(cert))
    assert overall_verdict(positive, negative) == "pass" and exit_code_for(positive, negative) == 0


def test_accept_any_fault_raises_the_alarm(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    cert = make_cert("AlarmCase")
    positive = run_positive(settings_for(demo_info), credential_of(cert))
    fault(Fault(kind="accept-any", endpoint="token"))
    negative = run_negative(settings_for(demo_info), credential_of(cert))
    assert negative.verdict == "fail" and negative.alarm
    for probe in negative.probes:
        assert probe.alarm and not probe.refused and probe.status is CheckStatus.FAIL
        assert probe.explanation is not None and probe.explanation.code == "ALARM"
        assert "ALARM" in probe.detail
    assert overall_verdict(positive, negative) == "fail"
    assert exit_code_for(positive, negative) == 3


def test_unrelated_refusal_is_inconclusive(demo_info: DemoInfo, make_cert: MakeCert) -> None:
    cert = make_cert("Unrelated")
    settings = settings_for(demo_info, client_id=str(uuid.uuid4()))
    negative = run_negative(settings, credential_of(cert))
    assert negative.verdict == "inconclusive"
    for probe in negative.probes:
        assert probe.inconclusive and probe.observed_code == "AADSTS700016"
        assert "unrelated" in probe.detail
    positive = PositiveResult(ok=True, checks=[])
    assert overall_verdict(positive, negative) == "inconclusive"
    assert exit_code_for(positive, negative) == 4


def test_unknown_tenant_makes_every_probe_inconclusive_at_once(
    demo_info: DemoInfo, make_cert: MakeCert
) -> None:
    cert = make_cert("NoTenant", upload=False)
    negative = run_negative(settings_for(demo_info, tenant=str(uuid.uuid4())), credential_of(cert))
    assert negative.verdict == "inconclusive"
    assert {p.observed_code for p in negative.probes} == {"AADSTS90002"}
    assert all("tenant discovery failed" in p.detail for p in negative.probes)


def test_verdict_table() -> None:
    ok = PositiveResult(ok=True, checks=[])
    bad = PositiveResult(ok=False, checks=[])
    passed = NegativeResult(probes=[], verdict="pass")
    alarm = NegativeResult(probes=[ProbeResult("a", "A", "p", alarm=True)], verdict="fail")
    unsure = NegativeResult(probes=[], verdict="inconclusive")
    assert (overall_verdict(ok, passed), exit_code_for(ok, passed)) == ("pass", 0)
    assert (overall_verdict(ok, None), exit_code_for(ok, None)) == ("pass", 0)
    assert (overall_verdict(bad, passed), exit_code_for(bad, passed)) == ("fail", 1)
    assert (overall_verdict(bad, alarm), exit_code_for(bad, alarm)) == ("fail", 3)
    assert (overall_verdict(ok, unsure), exit_code_for(ok, unsure)) == ("inconclusive", 4)
    assert (overall_verdict(bad, unsure), exit_code_for(bad, unsure)) == ("fail", 1)


def test_step_seconds_measure_the_requests(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    """Check.seconds is the wall time of the step's own requests (a slowed Graph shows it)."""
    fault(Fault(kind="delay", endpoint="graph", seconds=0.3))
    cert = make_cert("Timed")
    result = run_positive(settings_for(demo_info), credential_of(cert))
    by_key = {step.key: step for step in result.checks}
    assert result.ok
    assert 0.3 <= (by_key["graph"].seconds or 0) < 1.5
    assert (by_key["claims"].seconds or 0) < 0.3
    assert format_seconds(by_key["graph"].seconds).endswith(" ms")
    assert (format_seconds(0.0042), format_seconds(1.234), format_seconds(None)) == (
        "4 ms",
        "1.23 s",
        "",
    )


def test_negative_test_retries_a_server_error_at_discovery(
    demo_info: DemoInfo, make_cert: MakeCert, fault: Callable[[Fault], None]
) -> None:
    cert = make_cert("NegativeRetry")
    fault(Fault(kind="status", endpoint="discovery", status=503, retry_after=0, count=1))
    negative = run_negative(settings_for(demo_info), credential_of(cert))
    assert negative.verdict == "pass"


def test_one_run_fetches_the_openid_configuration_once(
    demo_info: DemoInfo, make_cert: MakeCert, caplog: pytest.LogCaptureFixture
) -> None:
    """The checks, MSAL's applications and the probes of one run share one fetch of the
    tenant's OpenID configuration (counted in the demo tenant's own request log)."""
    cert = make_cert("OneDiscovery")
    with caplog.at_level(logging.DEBUG, logger="wizard.emulator"):
        result = run_tests(settings_for(demo_info), credential_of(cert))
    assert result.verdict == "pass"
    served = [r.getMessage() for r in caplog.records if r.name.startswith("wizard.emulator")]
    # The access-log lines ('127.0.0.1 "POST … HTTP/1.1" 200'): written as the answer starts,
    # so every request is in them by the time the client has its answer (the "in N ms" line
    # comes after the answer is sent, and may not be written yet).
    requests = [line for line in served if ' HTTP/1.1" ' in line]
    fetched = [line for line in requests if '"GET ' in line
               and "/.well-known/openid-configuration" in line]
    tokens = [line for line in requests if '"POST ' in line and "/oauth2/v2.0/token" in line]
    assert len(tokens) == 4, served  # the certificate's token and the three probes
    assert len(fetched) == 1, served
