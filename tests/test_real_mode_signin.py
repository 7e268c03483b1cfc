"""The sign-in engine on the real-tenant path: which answer counts, which refusals count, and
which certificates are trusted. Real MSAL and real HTTPS against the demo tenant: as its own
host, and (the real mode, instance discovery on) answering as login.microsoftonline.com and
graph.microsoft.com behind a TLS-intercepting proxy that HTTPS_PROXY points to."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest
from conftest import credential_of, make_test_certificate
from intercepting_proxy import InterceptingProxy

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.emulator.tenant import PUBLIC_GRAPH_HOST, PUBLIC_LOGIN_ALIASES
from wizard.portal import PortalClient
from wizard.signin import catalogue
from wizard.signin.clouds import CLOUDS, demo_cloud
from wizard.signin.http import HttpSession, acquire_token, certificate_credential
from wizard.signin.negative import _classify, run_negative
from wizard.signin.plan import (
    NEGATIVE_PROBES,
    STOLEN_PUBLIC_CERTIFICATE,
    STRANGER_CERTIFICATE,
    CheckStatus,
    pending_probes,
)
from wizard.signin.positive import run_positive
from wizard.signin.settings import ConnectionSettings, Credential, CustomHosts, connection_settings
from wizard.signin.trust import choose_trust

MakeCert = Callable[..., object]


def without_ca(info: DemoInfo) -> ConnectionSettings:
    """The demo tenant as a custom cloud given by its hosts, with no CA file: what a user
    whose CA lives only in the system's trust store would type."""
    return connection_settings(
        info.tenant_id,
        info.client_id,
        custom=CustomHosts(info.authority_host, info.graph_endpoint, info.graph_resource),
        timeout=5.0,
    )


# ---------------------------------------------------------------- the token endpoint's answer


def test_the_token_answer_is_kept_apart_from_later_requests(
    demo_info: DemoInfo, fault: Callable[[Fault], None]
) -> None:
    """What MSAL does in real mode after an error (a GET for instance discovery) must not
    replace the token endpoint's answer."""
    settings = ConnectionSettings(demo_cloud(demo_info), demo_info.tenant_id, demo_info.client_id)
    fault(Fault(kind="status", endpoint="token", status=429, retry_after=1, count=1))
    http = HttpSession(settings.cloud, 5.0, None)
    try:
        token_url = f"{demo_info.authority_host}/{demo_info.tenant_id}/oauth2/v2.0/token"
        http.post(token_url, data={"client_id": demo_info.client_id})
        http.get(f"{demo_info.authority_host}/{demo_info.tenant_id}/v2.0/.well-known/openid-configuration")
    finally:
        http.close()
    assert http.last is not None and http.last.status == 200
    assert http.token_answer is not None and http.token_answer.status == 429
    assert http.token_answer.retry_after == "1"


# ---------------------------------------------------------------- refusals that count


NEWER_700027 = (
    "AADSTS700027: The certificate with identifier used to sign the client assertion is not "
    "registered on application. [Reason - The key was not found., Please visit the Azure "
    "Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
    "'11111111-2222-3333-4444-555555555555'.]\r\nTrace ID: x\r\nCorrelation ID: y"
)
LEGACY_PAIR = (
    "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion contains an "
    "invalid signature.\r\nTrace ID: x"
)


def test_the_newer_700027_wording_without_a_thumbprint_is_key_not_found() -> None:
    explained = catalogue.explain_aadsts(700027, NEWER_700027)
    assert catalogue.reason_700027(NEWER_700027) == "not-found"
    assert "never uploaded" in explained.cause
    assert "thumbprint" not in explained.cause.lower()  # none was named: none is invented


def test_7000274_and_the_legacy_pair_are_explained_with_their_source() -> None:
    newer = catalogue.explain_aadsts(7000274, "AADSTS7000274: The key used to sign ...")
    assert newer.code == "AADSTS7000274" and "700027" in newer.cause and newer.link
    legacy = catalogue.explain_error_response(
        {"error": "invalid_client", "error_description": LEGACY_PAIR, "error_codes": [70002, 50012]}
    )
    assert legacy.code == "AADSTS70002" and "50012" in legacy.cause
    assert "AADSTS50012" in (legacy.service_text or "")
    source = Path(catalogue.__file__).read_text(encoding="utf-8")
    for code in ("7000274", "70002", "not registered on application"):
        assert code in source
    assert source.count("https://github.com/") >= 4  # each finding names where it was seen


def test_aadsts_codes_keeps_every_code_in_order() -> None:
    assert catalogue.aadsts_codes(LEGACY_PAIR, [70002, 50012]) == (70002, 50012)
    assert catalogue.aadsts_codes(LEGACY_PAIR, None) == (70002, 50012)
    assert catalogue.aadsts_codes("AADSTS700027: x", ["700027"]) == (700027,)
    assert catalogue.aadsts_code(LEGACY_PAIR) == 70002


@pytest.mark.parametrize(
    ("body", "observed"),
    [
        ({"error_description": NEWER_700027, "error_codes": [700027]}, "AADSTS700027"),
        ({"error_description": "AADSTS7000274: x", "error_codes": [7000274]}, "AADSTS7000274"),
        ({"error_description": LEGACY_PAIR, "error_codes": [70002, 50012]}, "AADSTS70002+50012"),
    ],
)
def test_every_form_of_the_certificate_refusal_counts_as_refused(
    body: dict[str, object], observed: str
) -> None:
    from wizard.signin.http import attempt_from_result

    attempt = attempt_from_result({"error": "invalid_client", **body})
    for probe in (STRANGER_CERTIFICATE, STOLEN_PUBLIC_CERTIFICATE):
        result = next(r for r in pending_probes() if r.key == probe.key)
        _classify(probe, result, attempt)
        assert result.status is CheckStatus.OK and result.refused and not result.inconclusive
        assert result.observed_code == observed


def test_70002_alone_or_another_pair_is_not_the_certificate_refusal() -> None:
    from wizard.signin.http import attempt_from_result

    for codes in ([70002], [70002, 50011], [50012, 70002]):
        attempt = attempt_from_result(
            {"error": "invalid_client", "error_description": "x", "error_codes": codes}
        )
        result = next(r for r in pending_probes() if r.key == STRANGER_CERTIFICATE.key)
        _classify(STRANGER_CERTIFICATE, result, attempt)
        assert result.inconclusive and result.status is CheckStatus.WARN


def test_the_probes_say_which_refusals_they_expect() -> None:
    assert STRANGER_CERTIFICATE.expected == (
        "AADSTS700027 or AADSTS7000274 or AADSTS70002+50012"
    )


# ---------------------------------------------------------------- trust


def test_a_ca_known_only_through_ssl_cert_file_is_trusted_without_flags(
    demo_info: DemoInfo, make_cert: MakeCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = make_cert("SystemTrust")
    monkeypatch.setenv("SSL_CERT_FILE", demo_info.ca_bundle)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    result = run_positive(without_ca(demo_info), credential_of(cert))
    assert result.ok, result.error


def test_a_tls_failure_names_the_trust_store_that_was_used(
    demo_info: DemoInfo, make_cert: MakeCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = make_cert("SystemTrustMissing")
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # a real store without the demo CA
    monkeypatch.setenv("SSL_CERT_DIR", str(Path(demo_info.ca_bundle).parent / "no-such-dir"))
    result = run_positive(without_ca(demo_info), credential_of(cert))
    assert not result.ok and result.error is not None and result.error.code == "TLS"
    assert "operating system's trust store" in result.error.cause
    assert f"SSL_CERT_FILE={certifi.where()}" in result.error.cause
    assert "SSL_CERT_FILE" in result.error.fix and "--ca-bundle" in result.error.fix


def test_a_given_ca_bundle_still_wins_and_is_named(
    demo_info: DemoInfo, make_cert: MakeCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = make_cert("GivenBundle")
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # the system store would fail
    settings = connection_settings(
        demo_info.tenant_id,
        demo_info.client_id,
        custom=CustomHosts(demo_info.authority_host, demo_info.graph_endpoint),
        ca_bundle=demo_info.ca_bundle,
        timeout=5.0,
    )
    assert run_positive(settings, credential_of(cert)).ok
    assert choose_trust(settings.cloud).source == f"the CA bundle given ({demo_info.ca_bundle})"


def test_the_trust_order_for_a_real_cloud(tmp_path: Path) -> None:
    bundle = str(tmp_path / "proxy-ca.pem")
    real = CLOUDS["global"]
    assert choose_trust(real, {}).uses_system_store
    assert choose_trust(real, {"SSL_CERT_FILE": bundle}).source == (
        f"the operating system's trust store (SSL_CERT_FILE={bundle})"
    )
    from_env = choose_trust(real, {"REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": "x"})
    assert from_env.ca_file == bundle and from_env.source == f"REQUESTS_CA_BUNDLE ({bundle})"
    given = connection_settings(str(uuid.uuid4()), str(uuid.uuid4()), ca_bundle=bundle)
    assert choose_trust(given.cloud, {"REQUESTS_CA_BUNDLE": "other.pem"}).ca_file == bundle


def test_the_trust_source_shows_no_control_characters() -> None:
    trust = choose_trust(CLOUDS["global"], {"SSL_CERT_FILE": "/tmp/ca\x1b[31m.pem\n"})
    assert trust.source == "the operating system's trust store (SSL_CERT_FILE=/tmp/ca?[31m.pem?)"


def test_the_demo_tenant_trusts_only_its_own_ca(demo_info: DemoInfo) -> None:
    trust = choose_trust(demo_cloud(demo_info), {"REQUESTS_CA_BUNDLE": certifi.where()})
    assert trust.ca_file == demo_info.ca_bundle
    assert trust.source.startswith("the demo tenant's own CA")


# ---------------------------------------------------------------- real mode, through a proxy

# What a developer's shell may carry that would change the trust or the route.
_ROUTE_AND_TRUST_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(scope="module")
def public_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    with DemoTenant(tmp_path_factory.mktemp("public"), public_hosts=True) as tenant:
        yield tenant


@pytest.fixture(scope="module")
def proxy(public_tenant: DemoTenant) -> Iterator[InterceptingProxy]:
    port = int(public_tenant.info.listen_url.rsplit(":", 1)[1])
    routes = {host: ("127.0.0.1", port) for host in (*PUBLIC_LOGIN_ALIASES, PUBLIC_GRAPH_HOST)}
    with InterceptingProxy(routes, public_tenant.info.ca_bundle) as running:
        yield running


@pytest.fixture
def behind_proxy(proxy: InterceptingProxy, monkeypatch: pytest.MonkeyPatch) -> InterceptingProxy:
    """This process reaches the public hosts only through the proxy, as on a company network."""
    for name in _ROUTE_AND_TRUST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    # Local addresses go direct, as company set-ups have it: the demo portal (uploads) is one.
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    return proxy


@pytest.fixture
def public_fault(public_tenant: DemoTenant) -> Iterator[Callable[[Fault], None]]:
    yield public_tenant.set_fault
    public_tenant.set_fault(None)


def real_settings(tenant: DemoTenant, proxy: InterceptingProxy | None) -> ConnectionSettings:
    """The global cloud, as the CLI builds it without --demo; the proxy's CA given when
    `proxy` is (None: trust comes from the environment)."""
    return connection_settings(
        tenant.info.tenant_id,
        tenant.info.client_id,
        ca_bundle=str(proxy.ca_file) if proxy is not None else None,
        timeout=30.0,  # generous: the machine running the suite may be busy
    )


def public_credential(tenant: DemoTenant, *, upload: bool = True) -> Credential:
    cert, key = make_test_certificate("RealModeSignin", days=90)
    if upload:
        info = tenant.info
        PortalClient(info.portal, info.ca_bundle).upload_certificate(
            info.client_id, certs.cert_der(cert)
        )
    return Credential(certificate=cert, private_key=key)


def test_real_mode_asks_for_instance_discovery_after_an_error(
    behind_proxy: InterceptingProxy, public_tenant: DemoTenant
) -> None:
    """The ground the next tests stand on: MSAL in real mode really sends the discovery GET
    after an error answer (through the proxy, to the demo tenant), so the last answer seen
    is not the token endpoint's."""
    settings = real_settings(public_tenant, behind_proxy)
    credential = public_credential(public_tenant, upload=False)
    http = HttpSession(settings.cloud, settings.timeout, None)
    try:
        attempt = acquire_token(settings, http, certificate_credential(credential))
    finally:
        http.close()
    assert attempt.code == 700027
    assert http.token_answer is not None and http.token_answer.status == 401
    assert http.last is not None and '"metadata"' in http.last.body
    assert "login.microsoftonline.com" in behind_proxy.log.hosts()


def test_a_429_from_the_token_endpoint_is_retried_within_retry_after(
    behind_proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    public_fault: Callable[[Fault], None],
) -> None:
    credential = public_credential(public_tenant)
    public_fault(Fault("status", "token", status=429, retry_after=1, count=1))
    progress: list[str] = []
    result = run_positive(
        real_settings(public_tenant, behind_proxy),
        credential,
        on_update=lambda check: progress.append(check.detail) if check.key == "token" else None,
    )
    assert result.ok, result.error
    assert any("retrying in 1 s" in text for text in progress), progress
    token = next(check for check in result.checks if check.key == "token")
    assert token.seconds is not None and 1.0 <= token.seconds < 20.0


def test_a_failing_discovery_call_does_not_hide_the_refusal(
    behind_proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    public_fault: Callable[[Fault], None],
) -> None:
    public_fault(Fault("status", "instance-discovery", status=503))
    result = run_positive(
        real_settings(public_tenant, behind_proxy), public_credential(public_tenant, upload=False)
    )
    assert result.error is not None and result.error.code == "AADSTS700027", result.error
    assert "not registered" in result.error.title


def test_a_failing_discovery_call_leaves_the_probes_conclusive(
    behind_proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    public_fault: Callable[[Fault], None],
) -> None:
    credential = public_credential(public_tenant)
    public_fault(Fault("status", "instance-discovery", status=503))
    negative = run_negative(real_settings(public_tenant, behind_proxy), credential)
    assert negative.verdict == "pass", [(p.key, p.observed_code, p.detail) for p in negative.probes]
    assert all(p.status is CheckStatus.OK and not p.inconclusive for p in negative.probes)


@pytest.mark.parametrize(
    ("code", "observed"),
    [(700027, "AADSTS700027"), (7000274, "AADSTS7000274"), (70002, "AADSTS70002+50012")],
)
def test_every_form_of_the_refusal_passes_the_probes_in_real_mode(
    behind_proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    public_fault: Callable[[Fault], None],
    code: int,
    observed: str,
) -> None:
    credential = public_credential(public_tenant)
    public_fault(Fault("key-refusal", "token", code=code))
    negative = run_negative(real_settings(public_tenant, behind_proxy), credential)
    assert negative.verdict == "pass"
    by_key = {p.key: p for p in negative.probes}
    for probe in NEGATIVE_PROBES[1:]:
        assert by_key[probe.key].observed_code == observed
        assert by_key[probe.key].status is CheckStatus.OK


def test_the_proxy_ca_in_ssl_cert_file_is_trusted_in_real_mode(
    behind_proxy: InterceptingProxy, public_tenant: DemoTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = public_credential(public_tenant)
    monkeypatch.setenv("SSL_CERT_FILE", str(behind_proxy.ca_file))
    assert run_positive(real_settings(public_tenant, None), credential).ok


def test_requests_ca_bundle_still_wins_and_is_named_when_wrong(
    behind_proxy: InterceptingProxy, public_tenant: DemoTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = public_credential(public_tenant)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(behind_proxy.ca_file))
    assert run_positive(real_settings(public_tenant, None), credential).ok
    # The system store would trust the proxy, but REQUESTS_CA_BUNDLE says otherwise: it wins.
    monkeypatch.setenv("SSL_CERT_FILE", str(behind_proxy.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    result = run_positive(real_settings(public_tenant, None), credential)
    assert result.error is not None and result.error.code == "TLS"
    assert f"Trusted here: REQUESTS_CA_BUNDLE ({certifi.where()})" in result.error.cause


def test_a_given_ca_bundle_wins_over_requests_ca_bundle_in_real_mode(
    behind_proxy: InterceptingProxy, public_tenant: DemoTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = public_credential(public_tenant)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # would not trust the proxy
    assert run_positive(real_settings(public_tenant, behind_proxy), credential).ok
