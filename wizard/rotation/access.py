"""What a rotation reaches out to: the profile's tenant, the demo tenant's portal API, and the
two private keys (the new one it tests, the old one whose refusal it proves)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from wizard.errors import UserError
from wizard.profiles import Profile
from wizard.rotation.stages import KeyRole
from wizard.signin.settings import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo
    from wizard.portal import PortalClient
    from wizard.signin.settings import ConnectionSettings, Credential


class TenantAccess(NamedTuple):
    """The running demo tenant and its portal client for a demo profile; both None otherwise."""

    info: DemoInfo | None
    portal: PortalClient | None


def connection_settings(
    profile: Profile, demo_info: DemoInfo | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> ConnectionSettings:
    """How to reach the profile's tenant (the running demo tenant for demo profiles)."""
    from wizard.signin.clouds import DEMO_CLOUD_KEY
    from wizard.signin.settings import DemoNotRunning, connection_settings

    try:
        return connection_settings(
            profile.tenant,
            profile.client_id,
            cloud_key=DEMO_CLOUD_KEY if profile.demo else profile.cloud,
            demo=demo_info,
            timeout=timeout,
        )
    except DemoNotRunning:
        raise UserError(
            f'Profile "{profile.name}" is a demo profile: the demo tenant must be running.'
        ) from None


def portal_for(demo_info: DemoInfo) -> PortalClient:
    """A client of the running demo tenant's portal API."""
    from wizard.portal import PortalClient

    return PortalClient.for_demo(demo_info)


@contextmanager
def demo_tenant_for(profile: Profile) -> Iterator[DemoInfo | None]:
    """Start the profile's demo tenant for the duration (None for a real-tenant profile)."""
    if not profile.demo:
        yield None
        return
    from wizard.emulator import DemoTenant
    from wizard.paths import demo_tenant_dir

    state_dir = Path(profile.demo_state_dir) if profile.demo_state_dir else demo_tenant_dir()
    tenant = DemoTenant(state_dir)
    info = tenant.start()
    try:
        yield info
    finally:
        tenant.stop()


@contextmanager
def started_tenant(profile: Profile) -> Iterator[TenantAccess]:
    """The profile's demo tenant started for the duration, with its portal client."""
    with demo_tenant_for(profile) as info:
        yield TenantAccess(info, portal_for(info) if info is not None else None)


def registered_thumbprints(portal: PortalClient, client_id: str) -> set[str]:
    """The SHA-1 thumbprints the demo tenant has on the app registration `client_id`."""
    for app in portal.list_applications():
        if str(app.get("client_id", "")).lower() == client_id.lower():
            keys = app.get("key_credentials") or []
            return {str(k.get("thumbprint", "")).upper() for k in keys if isinstance(k, dict)}
    raise UserError(f"The demo tenant has no app registration with client ID {client_id}.")


def key_is_encrypted(path: str | Path) -> bool:
    """True when the PEM key file is encrypted (needs a passphrase to open)."""
    from wizard.certs import MAX_INPUT_BYTES
    from wizard.reading import read_regular_file

    try:
        head = read_regular_file(path, what="private key", limit=MAX_INPUT_BYTES)[:4096]
    except (OSError, UserError):
        return False  # opening it later says what is wrong with it
    return b"ENCRYPTED" in head


def new_credential(profile: Profile, passphrase: bytes | None) -> Credential:
    """The new certificate and key of the rotation under way."""
    from wizard.signin.settings import Credential

    state = profile.rotation
    if state is None or not state.new_cert_path:
        raise UserError(f'No new certificate was generated for "{profile.name}" yet.', exit_code=2)
    return Credential.from_files(Path(state.new_cert_path), Path(state.new_key_path), passphrase)


def old_credential(profile: Profile, passphrase: bytes | None) -> Credential:
    """The certificate and key the rotation replaces."""
    from wizard.signin.settings import Credential

    state = profile.rotation
    cert = state.old_cert_path if state is not None and state.old_cert_path else profile.cert_path
    key = state.old_key_path if state is not None and state.old_key_path else profile.key_path
    if not Path(key).is_file():
        raise UserError(
            f"The old private key {key} is not there any more, so its refusal cannot be proven."
        )
    return Credential.from_files(Path(cert), Path(key), passphrase)


def key_path_for(profile: Profile, role: KeyRole) -> str:
    """The private key file a stage signs with: the new key, or the old one it replaces."""
    state = profile.rotation
    if role == "new":
        return state.new_key_path if state is not None else ""
    return (state.old_key_path if state is not None else None) or profile.key_path
