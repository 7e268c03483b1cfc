"""The real-tenant path, end to end: `entra-cert-wizard test` without --demo, unchanged.

A demo tenant answers as login.microsoftonline.com and graph.microsoft.com (public_hosts),
and a TLS-intercepting proxy (tests/intercepting_proxy.py) is the only way to those names:
HTTPS_PROXY points the product at it and the proxy's throwaway CA must be trusted, as on a
corporate network. Each run is a separate process, so the environment is exactly a user's.
Nothing leaves the machine: the proxy answers 502 for any other host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import make_test_certificate
from intercepting_proxy import InterceptingProxy

from wizard import certs
from wizard.emulator import DemoTenant, Fault
from wizard.emulator.tenant import PUBLIC_GRAPH_HOST, PUBLIC_LOGIN_ALIASES
from wizard.paths import data_dir
from wizard.portal import PortalClient

PROXY_USER = "alice:s3cret"
# Variables a developer's own shell may carry that would change what the product trusts or
# where it connects; every run starts without them.
_ENV_TO_DROP = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@dataclass(frozen=True)
class Files:
    cert: Path
    key: Path


@dataclass(frozen=True)
class RealRun:
    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    @property
    def shown(self) -> str:
        return self.stdout + self.stderr


def _routes(tenant: DemoTenant) -> dict[str, tuple[str, int]]:
    address = ("127.0.0.1", int(tenant.info.listen_url.rsplit(":", 1)[1]))
    return {host: address for host in (*PUBLIC_LOGIN_ALIASES, PUBLIC_GRAPH_HOST)}


@pytest.fixture(scope="session")
def proxy(public_tenant: DemoTenant) -> Iterator[InterceptingProxy]:
    """The intercepting proxy in front of the public-hosts tenant, without credentials."""
    with InterceptingProxy(_routes(public_tenant), public_tenant.info.ca_bundle) as running:
        yield running


@pytest.fixture(scope="session")
def proxy_with_credentials(public_tenant: DemoTenant) -> Iterator[InterceptingProxy]:
    """The same proxy asking for Basic credentials (PROXY_USER) before any CONNECT."""
    with InterceptingProxy(
        _routes(public_tenant), public_tenant.info.ca_bundle, credentials=PROXY_USER
    ) as running:
        yield running


@pytest.fixture
def fault(public_tenant: DemoTenant) -> Iterator[Callable[[Fault], None]]:
    yield public_tenant.set_fault
    public_tenant.set_fault(None)


def _certificate_files(
    folder: Path, tenant: DemoTenant, *, upload: bool = True, client_id: str | None = None
) -> Files:
    cert, key = make_test_certificate("RealModeCert", days=90)
    if upload:
        info = tenant.info
        PortalClient(info.portal, info.ca_bundle).upload_certificate(
            client_id or info.client_id, certs.cert_der(cert)
        )
    folder.mkdir(parents=True, exist_ok=True)
    pem, key_file = folder / "cert.pem", folder / "cert.key"
    pem.write_bytes(certs.cert_pem(cert))
    key_file.write_bytes(certs.key_pem(key, None))
    key_file.chmod(0o600)
    return Files(pem, key_file)


@pytest.fixture
def uploaded(tmp_path: Path, public_tenant: DemoTenant) -> Files:
    """A fresh certificate, uploaded to the consented app of the public-hosts tenant."""
    return _certificate_files(tmp_path / "uploaded", public_tenant)


def run_real(
    files: Files,
    *,
    tenant: str,
    client_id: str,
    env: dict[str, str],
    extra: tuple[str, ...] = (),
) -> RealRun:
    """`entra-cert-wizard test --json` in real mode (no --demo, no custom hosts)."""
    environment = {k: v for k, v in os.environ.items() if k not in _ENV_TO_DROP}
    environment.update(env)
    done = subprocess.run(
        [
            sys.executable, "-m", "wizard", "test",
            "--tenant", tenant, "--client-id", client_id,
            "--cert", str(files.cert), "--key", str(files.key),
            "--json", *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    return RealRun(done.returncode, done.stdout, done.stderr)


def run_through(
    proxy: InterceptingProxy,
    tenant: DemoTenant,
    files: Files,
    *,
    by_domain: bool = False,
    env: dict[str, str] | None = None,
    ca_flag: bool = True,
) -> RealRun:
    """A real-mode run through `proxy`, trusting its CA with --ca-bundle unless told not to."""
    info = tenant.info
    return run_real(
        files,
        tenant=info.tenant_domain if by_domain else info.tenant_id,
        client_id=info.client_id,
        env={"HTTPS_PROXY": proxy.url(), **(env or {})},
        extra=("--ca-bundle", str(proxy.ca_file)) if ca_flag else (),
    )


def statuses(document: dict[str, Any]) -> dict[str, str]:
    """Each check's and probe's status, by key: what a verdict is made of."""
    found = {f"positive.{s['key']}": s["status"] for s in document["positive"]["steps"]}
    for probe in document.get("negative") or []:
        outcome = "alarm" if probe["alarm"] else "inconclusive" if probe["inconclusive"] else None
        found[f"negative.{probe['name']}"] = outcome or ("ok" if probe["ok"] else "fail")
    return found


def assert_passed(run: RealRun) -> None:
    assert run.code == 0, run.shown
    assert run.document["verdict"] == "pass", run.shown
    assert "Traceback" not in run.shown


# -- the happy paths: trust and proxy set-ups ----------------------------------------------


def test_real_mode_passes_through_the_proxy_with_ca_bundle(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    run = run_through(proxy, public_tenant, uploaded)
    assert_passed(run)
    assert run.document["cloud"] == "global"
    assert {"login.microsoftonline.com", PUBLIC_GRAPH_HOST} <= proxy.log.hosts()


def test_tenant_by_domain_with_requests_ca_bundle(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    run = run_through(
        proxy,
        public_tenant,
        uploaded,
        by_domain=True,
        env={"REQUESTS_CA_BUNDLE": str(proxy.ca_file)},
        ca_flag=False,
    )
    assert_passed(run)
    assert run.document["tenant"] == public_tenant.info.tenant_domain


def test_proxy_ca_in_ssl_cert_file_is_trusted_without_flags(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    """The OS-store case: the proxy's CA is known to the system (SSL_CERT_FILE), not to
    certifi; the product must trust it with no flag and no REQUESTS_CA_BUNDLE."""
    run = run_through(
        proxy, public_tenant, uploaded, env={"SSL_CERT_FILE": str(proxy.ca_file)}, ca_flag=False
    )
    assert_passed(run)


def test_untrusted_proxy_ca_is_explained(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    run = run_through(proxy, public_tenant, uploaded, ca_flag=False)
    assert run.code != 0 and "Traceback" not in run.shown
    assert "certificate" in run.shown.lower()


def test_proxy_credentials_in_the_proxy_url_are_used(
    proxy_with_credentials: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    info = public_tenant.info
    run = run_real(
        uploaded,
        tenant=info.tenant_id,
        client_id=info.client_id,
        env={"HTTPS_PROXY": proxy_with_credentials.url(PROXY_USER)},
        extra=("--ca-bundle", str(proxy_with_credentials.ca_file)),
    )
    assert_passed(run)


def test_missing_proxy_credentials_are_explained(
    proxy_with_credentials: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    refused_before = proxy_with_credentials.log.refused_auth
    run = run_through(proxy_with_credentials, public_tenant, uploaded)
    # The proxy turned the run away before the service was reached: inconclusive, not a failure.
    assert run.code == 4 and "Traceback" not in run.shown
    assert proxy_with_credentials.log.refused_auth > refused_before
    assert "407" in run.shown or "proxy" in run.shown.lower()


def test_no_proxy_for_other_hosts_keeps_the_proxy(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    run = run_through(
        proxy, public_tenant, uploaded, env={"NO_PROXY": "localhost,127.0.0.1,.corp.example"}
    )
    assert_passed(run)


def test_no_proxy_for_graph_bypasses_the_proxy(
    proxy: InterceptingProxy, public_tenant: DemoTenant, uploaded: Files
) -> None:
    """NO_PROXY is honoured: Graph is then tried directly (unreachable here), the sign-in
    still goes through the proxy."""
    with proxy.log.lock:
        proxy.log.connects.clear()
    run = run_through(proxy, public_tenant, uploaded, env={"NO_PROXY": PUBLIC_GRAPH_HOST})
    assert run.code == 1 and "Traceback" not in run.shown
    steps = statuses(run.document)
    assert steps["positive.token"] == "ok" and steps["positive.graph"] == "fail"
    assert PUBLIC_GRAPH_HOST not in proxy.log.hosts()
    assert "login.microsoftonline.com" in proxy.log.hosts()


# -- what the tenant answers --------------------------------------------------------------


def test_never_uploaded_certificate_is_refused_700027(
    tmp_path: Path, proxy: InterceptingProxy, public_tenant: DemoTenant
) -> None:
    files = _certificate_files(tmp_path, public_tenant, upload=False)
    run = run_through(proxy, public_tenant, files)
    assert run.code == 1 and "Traceback" not in run.shown
    assert "700027" in run.shown


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (503, 1)])
def test_transient_token_answer_is_retried(
    proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    uploaded: Files,
    fault: Callable[[Fault], None],
    status: int,
    retry_after: int,
) -> None:
    fault(Fault("status", "token", status=status, retry_after=retry_after, count=1))
    run = run_through(proxy, public_tenant, uploaded)
    assert_passed(run)


def test_failing_instance_discovery_does_not_hide_a_refusal(
    tmp_path: Path,
    proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    fault: Callable[[Fault], None],
) -> None:
    files = _certificate_files(tmp_path, public_tenant, upload=False)
    fault(Fault("status", "instance-discovery", status=503))
    run = run_through(proxy, public_tenant, files)
    assert run.code == 1 and "Traceback" not in run.shown
    assert "700027" in run.shown and "HTTP 503" not in run.shown


def test_failing_instance_discovery_leaves_a_good_set_up_passing(
    proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    uploaded: Files,
    fault: Callable[[Fault], None],
) -> None:
    fault(Fault("status", "instance-discovery", status=503))
    run = run_through(proxy, public_tenant, uploaded)
    assert_passed(run)


@pytest.mark.parametrize("code", [700027, 7000274, 70002])
def test_every_form_of_a_key_refusal_counts_as_refused(
    proxy: InterceptingProxy,
    public_tenant: DemoTenant,
    uploaded: Files,
    fault: Callable[[Fault], None],
    code: int,
) -> None:
    """The probes' certificates are refused in whichever form the service picks (700027's
    newer wording, 7000274, or the legacy pair [70002, 50012]): the app still passes."""
    fault(Fault("key-refusal", "token", code=code))
    run = run_through(proxy, public_tenant, uploaded)
    assert_passed(run)
    assert all(status == "ok" for status in statuses(run.document).values()), run.shown


# -- the same tenant state, tested both ways ----------------------------------------------


@pytest.mark.parametrize("upload", [True, False], ids=["uploaded", "never-uploaded"])
def test_demo_and_real_mode_give_the_same_verdicts(tmp_path: Path, upload: bool) -> None:
    """One tenant state (the data folder's demo tenant): `test --demo` and a real-mode run
    through the proxy come to the same verdict, check by check and probe by probe."""
    with DemoTenant(data_dir() / "demo-tenant", public_hosts=True) as tenant:
        files = _certificate_files(tmp_path, tenant, upload=upload)
        with InterceptingProxy(_routes(tenant), tenant.info.ca_bundle) as running:
            real = run_through(running, tenant, files)
        demo = run_real(
            files,
            tenant=tenant.info.tenant_id,
            client_id=tenant.info.client_id,
            env={},
            extra=("--demo",),
        )
    assert real.code == demo.code, real.shown + demo.shown
    assert real.document["verdict"] == demo.document["verdict"]
    assert statuses(real.document) == statuses(demo.document)
