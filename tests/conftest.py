"""Shared test set-up: every test runs with its own data and config folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fast_kdf import LOWERED

from wizard.paths import HOME_ENV

CHILD_SITE = Path(__file__).resolve().parent / "child_site"


@pytest.fixture(scope="session", autouse=True)
def fast_test_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What makes the suite fast without changing what any test proves.

    - Lower key-derivation counts (tests/fast_kdf.py), in this process and in every child
      process the tests start (tests/child_site on PYTHONPATH); test_passphrase_safety pins
      the product's own counts.
    - Child processes keep their bytecode in one folder for the session: where the machine
      sets PYTHONDONTWRITEBYTECODE, each child would otherwise compile cryptography, MSAL,
      Textual and the wizard from source again (about 1 s of CPU per process).
    """
    import importlib

    with pytest.MonkeyPatch.context() as patch:
        for name, constants in LOWERED.items():
            module = importlib.import_module(name)
            for constant, count in constants.items():
                patch.setattr(module, constant, count)
        paths = [str(CHILD_SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
        patch.setenv("PYTHONPATH", os.pathsep.join(paths))
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        patch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.mktemp("pycache")))
        yield


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep the user's own certificates, profiles and demo state out of every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv(HOME_ENV, str(home))
    yield home


# -- the demo tenant (owner: emulator) ---------------------------------------------------
# One real HTTPS demo tenant for the whole test session. Tests that change shared state
# (faults, consent, deleting a certificate they did not upload) must put it back; upload a
# fresh certificate per test with `demo_certificate` instead of reusing someone else's.

import dataclasses  # noqa: E402
import datetime as _dt  # noqa: E402
from collections.abc import Callable  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from wizard.emulator import DemoInfo, DemoTenant, Fault  # noqa: E402
from wizard.portal import PortalClient  # noqa: E402
from wizard.signin.settings import Credential  # noqa: E402

# What every DemoInfo JSON (in-process and from the `emulator` command) must fill in.
DEMO_INFO_KEYS = (
    "authority_host",
    "authority",
    "tenant_id",
    "tenant_domain",
    "token_endpoint",
    "graph_endpoint",
    "graph_resource",
    "ca_bundle",
    "client_id",
    "app_name",
    "portal",
)


@pytest.fixture(scope="session")
def demo_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    """The running demo tenant (session-wide, state in a temp folder); `.info` is its DemoInfo.

    Faults set with `demo_tenant.set_fault(...)` must be cleared by the test that set them
    (`demo_tenant.set_fault(None)` in a finally block).
    """
    state = tmp_path_factory.mktemp("demo-tenant")
    with DemoTenant(state) as tenant:
        yield tenant


@pytest.fixture(scope="session")
def public_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    """A demo tenant answering as the global cloud's public hosts (its own state, loopback):
    login.microsoftonline.com in its URLs and audiences, graph.microsoft.com for Graph."""
    with DemoTenant(tmp_path_factory.mktemp("public-tenant"), public_hosts=True) as tenant:
        yield tenant


@pytest.fixture(scope="session")
def demo_info(demo_tenant: DemoTenant) -> DemoInfo:
    """The DemoInfo of the session's demo tenant (URLs, tenant/app IDs, CA bundle)."""
    return demo_tenant.info


@pytest.fixture(scope="session")
def demo_portal(demo_info: DemoInfo) -> PortalClient:
    """A PortalClient for the session's demo tenant."""
    return PortalClient.for_demo(demo_info)


@dataclasses.dataclass(frozen=True)
class DemoCertificate:
    """A certificate made for a test (and uploaded unless asked not to)."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    thumbprint_sha1: str  # 40 uppercase hex, as the portal shows it
    client_id: str
    uploaded: bool

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


# Key generation is the slow part of making certificates: tests share a small pool.
_KEY_POOL: list[rsa.RSAPrivateKey] = []


def _pooled_key(index: int) -> rsa.RSAPrivateKey:
    while len(_KEY_POOL) <= index % 4:
        _KEY_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEY_POOL[index % 4]


_counter = iter(range(1_000_000))


def make_test_certificate(
    name: str = "TestCert",
    *,
    days: int = 30,
    not_before: _dt.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed SHA-256 certificate like the wizard makes: fresh serial and thumbprint.

    The key comes from a pool of four shared by the session (key generation is the slow
    part), so two certificates may share a key: pass `key=` a key of your own when a test
    needs a key that no other certificate has (e.g. "signed with the wrong key").
    """
    key = key or _pooled_key(next(_counter))
    start = not_before or (_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.fixture
def demo_certificate(
    demo_info: DemoInfo, demo_portal: PortalClient
) -> Callable[..., DemoCertificate]:
    """Factory: `demo_certificate(name="X", client_id=None, upload=True, days=30, not_before=None)`.

    Makes a fresh self-signed certificate (keys come from a small shared pool, the
    certificate and its thumbprint are always new) and uploads it to the app (default: the
    consented app, demo_info.client_id) through the real portal API.
    """

    def make(
        name: str = "TestCert",
        *,
        client_id: str | None = None,
        upload: bool = True,
        days: int = 30,
        not_before: _dt.datetime | None = None,
    ) -> DemoCertificate:
        cert, key = make_test_certificate(name, days=days, not_before=not_before)
        target = client_id or demo_info.client_id
        thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()
        if upload:
            der = cert.public_bytes(serialization.Encoding.DER)
            shown = demo_portal.upload_certificate(target, der)
            assert shown == thumbprint
        return DemoCertificate(cert, key, thumbprint, target, upload)

    return make


@pytest.fixture
def fault(demo_tenant: DemoTenant) -> Iterator[Callable[[Fault], None]]:
    """Set a fault on the shared demo tenant; always cleared afterwards."""
    yield demo_tenant.set_fault
    demo_tenant.set_fault(None)


@pytest.fixture
def make_cert(demo_certificate: Callable[..., object]) -> Callable[..., object]:
    """Like demo_certificate, valid for 90 days so pre-flight has no expiry warning."""

    def make(name: str, **kwargs: object) -> object:
        kwargs.setdefault("days", 90)
        return demo_certificate(name, **kwargs)

    return make


def credential_of(cert: object) -> Credential:
    """The Credential of a certificate made by make_cert / demo_certificate."""
    return Credential(certificate=cert.certificate, private_key=cert.private_key)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def hostile_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    """A demo tenant whose organization, domain and app names carry hostile text."""
    from hostile_text import make_hostile_tenant_state

    state = tmp_path_factory.mktemp("hostile-tenant")
    make_hostile_tenant_state(state)
    with DemoTenant(state) as tenant:
        yield tenant
