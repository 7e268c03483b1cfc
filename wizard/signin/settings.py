"""Where and as whom to sign in, and with which certificate: what every test starts from.

`connection_settings` is the one way to make settings, whichever interface asks (the CLI's
flags, the wizard's answers, a saved profile), so a cloud is chosen the same way everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.errors import UserError
from wizard.signin import catalogue
from wizard.signin.clouds import (
    CLOUDS,
    DEFAULT_CLOUD,
    DEFAULT_GRAPH_RESOURCE,
    DEMO_CLOUD_KEY,
    Cloud,
    custom_cloud,
    demo_cloud,
)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from wizard.emulator import DemoInfo

DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to sign in. `tenant` is a GUID or a domain, `client_id` a GUID."""

    cloud: Cloud
    tenant: str
    client_id: str
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class CustomHosts:
    """A cloud given by its hosts rather than by name (e.g. a demo tenant in another process)."""

    authority_host: str
    graph_endpoint: str
    graph_resource: str = DEFAULT_GRAPH_RESOURCE


class UnknownCloud(UserError):
    """The cloud key names none of CLOUDS; `key` is what was given."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Unknown cloud '{key}'.", exit_code=2)
        self.key = key


class DemoNotRunning(UserError):
    """Settings for the demo cloud were asked for without a running demo tenant."""

    def __init__(self) -> None:
        super().__init__("The demo tenant is not running, so there is nothing to test against.")


def connection_settings(
    tenant: str,
    client_id: str,
    *,
    cloud_key: str | None = None,
    demo: DemoInfo | None = None,
    custom: CustomHosts | None = None,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ConnectionSettings:
    """Settings for one tenant and app, in the cloud `cloud_key` names: a key of CLOUDS
    (default global), or DEMO_CLOUD_KEY for the running demo tenant `demo` (trusting only its
    CA). `custom` hosts replace the named cloud. `ca_bundle`: trust this CA instead of the
    system's (custom hosts, or a company proxy that re-signs HTTPS in front of a real cloud).
    UnknownCloud and DemoNotRunning say why no cloud can be reached; each interface words
    its own hint."""
    cloud: Cloud
    if custom is not None:
        cloud = custom_cloud(
            custom.authority_host,
            custom.graph_endpoint,
            graph_resource=custom.graph_resource,
            ca_bundle=ca_bundle,
        )
    elif cloud_key == DEMO_CLOUD_KEY:
        if demo is None:
            raise DemoNotRunning()
        cloud = demo_cloud(demo)
    else:
        key = cloud_key or DEFAULT_CLOUD
        if key not in CLOUDS:
            raise UnknownCloud(key)
        cloud = CLOUDS[key]
        if ca_bundle:
            cloud = dataclasses.replace(cloud, ca_bundle=ca_bundle)
    return ConnectionSettings(cloud=cloud, tenant=tenant, client_id=client_id, timeout=timeout)


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
