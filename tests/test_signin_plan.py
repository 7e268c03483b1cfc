"""The sign-in rules every interface shares: the planned rows, the one settings builder, when
the negative test runs, and the "just uploaded" window. No network: these are decisions."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from wizard import cli
from wizard.emulator import DemoInfo
from wizard.signin import catalogue
from wizard.signin.clouds import CLOUD_KEYS, CLOUDS, DEMO_CLOUD_KEY
from wizard.signin.plan import (
    NEGATIVE_PROBES,
    POSITIVE_CHECKS,
    Check,
    CheckStatus,
    PositiveResult,
    format_seconds,
    pending_checks,
    pending_probes,
)
from wizard.signin.run import JUST_UPLOADED_WINDOW, just_uploaded, should_run_negative
from wizard.signin.settings import (
    DEFAULT_TIMEOUT,
    CustomHosts,
    DemoNotRunning,
    UnknownCloud,
    connection_settings,
)

TENANT = "contoso.onmicrosoft.com"
CLIENT = "11111111-2222-3333-4444-555555555555"


def test_rows_are_drawn_from_the_plan() -> None:
    """A row's title is the plan's, before, during and after the run."""
    assert [(c.key, c.title) for c in pending_checks()] == [
        (p.key, p.title) for p in POSITIVE_CHECKS
    ]
    assert [(p.key, p.title, p.proves) for p in pending_probes()] == [
        (p.key, p.title, p.proves) for p in NEGATIVE_PROBES
    ]
    assert all(c.status is CheckStatus.PENDING for c in pending_checks())
    assert pending_probes()[1].expected == "AADSTS700027 or AADSTS7000274 or AADSTS70002+50012"


def test_durations_read_as_measured() -> None:
    assert [format_seconds(s) for s in (None, 0.0001, 0.0042, 1.234)] == [
        "", "0 ms", "4 ms", "1.23 s"
    ]
    assert format_seconds(0.0001, below_one_ms="<1 ms") == "<1 ms"
    assert format_seconds(0.0042, below_one_ms="<1 ms") == "4 ms"


def test_settings_for_a_named_cloud() -> None:
    settings = connection_settings(TENANT, CLIENT, cloud_key="usgov")
    assert settings.cloud is CLOUDS["usgov"]
    assert (settings.tenant, settings.client_id, settings.timeout) == (
        TENANT, CLIENT, DEFAULT_TIMEOUT
    )
    assert connection_settings(TENANT, CLIENT).cloud is CLOUDS["global"]
    # A company proxy that re-signs HTTPS: the real cloud, trusting its CA.
    proxied = connection_settings(TENANT, CLIENT, ca_bundle="/etc/proxy-ca.pem", timeout=5.0)
    assert proxied.cloud == dataclasses.replace(CLOUDS["global"], ca_bundle="/etc/proxy-ca.pem")
    assert proxied.timeout == 5.0


def test_settings_for_custom_hosts() -> None:
    hosts = CustomHosts("https://127.0.0.1:8443/", "https://127.0.0.1:8443/graph")
    settings = connection_settings(TENANT, CLIENT, custom=hosts, ca_bundle="ca.pem")
    assert settings.cloud.is_custom and not settings.cloud.is_microsoft
    assert settings.cloud.authority_host == "https://127.0.0.1:8443"
    assert settings.cloud.graph_resource == "https://graph.microsoft.com"
    assert settings.cloud.ca_bundle == "ca.pem"


def test_settings_refuse_what_can_not_be_reached() -> None:
    with pytest.raises(UnknownCloud) as unknown:
        connection_settings(TENANT, CLIENT, cloud_key="mars")
    assert unknown.value.key == "mars" and unknown.value.exit_code == 2
    with pytest.raises(DemoNotRunning):
        connection_settings(TENANT, CLIENT, cloud_key=DEMO_CLOUD_KEY)


def test_settings_for_the_demo_tenant(demo_info: DemoInfo) -> None:
    """The demo tenant's hosts and CA; its info counts only where the cloud key says demo."""
    settings = connection_settings(TENANT, CLIENT, cloud_key=DEMO_CLOUD_KEY, demo=demo_info)
    assert settings.cloud.key == DEMO_CLOUD_KEY and settings.cloud.is_custom
    assert settings.cloud.authority_host == demo_info.authority_host.rstrip("/")
    assert settings.cloud.ca_bundle == demo_info.ca_bundle
    named = connection_settings(TENANT, CLIENT, cloud_key="china", demo=demo_info)
    assert named.cloud is CLOUDS["china"]


def test_the_cloud_list_is_the_cli_choice_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert CLOUD_KEYS == tuple(CLOUDS) == ("global", "usgov", "usgov-dod", "china")
    parser = cli.build_parser()
    for key in CLOUD_KEYS:
        assert parser.parse_args(["test", "--cloud", key]).cloud == key
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["test", "--cloud", "mars"])
    assert refused.value.code == 2
    assert "usgov-dod" in capsys.readouterr().err


def _positive(discovery: CheckStatus, error: catalogue.Explanation | None = None,
              *, cancelled: bool = False) -> PositiveResult:
    checks = [Check("preflight", "", CheckStatus.OK), Check("discovery", "", discovery)]
    return PositiveResult(ok=False, checks=checks, error=error, cancelled=cancelled)


def test_the_negative_test_runs_once_the_tenant_answered() -> None:
    assert should_run_negative(_positive(CheckStatus.OK))
    # The certificate was refused: the probes still show whether anything else gets in.
    refused = catalogue.explain_aadsts(700027)
    assert should_run_negative(_positive(CheckStatus.OK, refused))
    assert not should_run_negative(_positive(CheckStatus.FAIL, catalogue.explain_aadsts(90002)))
    assert not should_run_negative(_positive(CheckStatus.OK, catalogue.TIMEOUT))
    assert not should_run_negative(_positive(CheckStatus.OK, cancelled=True))
    assert not should_run_negative(PositiveResult(ok=False, checks=[]))


def test_just_uploaded_window() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert timedelta(minutes=10) == JUST_UPLOADED_WINDOW
    assert just_uploaded(now - timedelta(seconds=5), now)
    assert just_uploaded(now - timedelta(minutes=9, seconds=59), now)
    assert not just_uploaded(now - JUST_UPLOADED_WINDOW, now)
    assert not just_uploaded(None, now)
