"""The demo tenant's directory: one tenant, its app registrations and their certificates.

State lives in one JSON file in the state folder, rewritten atomically on every change under
a lock, so concurrent uploads never interleave and a restart keeps what was uploaded. Readers
(the token endpoint) use immutable index snapshots swapped in after each change, so token
requests never wait for an upload.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wizard import certs
from wizard.emulator import strict_json
from wizard.emulator._files import atomic_write, ensure_private_dir, read_state_file, state_lock
from wizard.errors import UserError

log = logging.getLogger(__name__)

STATE_FILE = "directory.json"
STATE_VERSION = 1
GRAPH_RESOURCE = "https://graph.microsoft.com"
# Graph's well-known application ID; Entra accepts it in place of the resource URI.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ORG_READ_ROLES = ("Organization.Read.All", "Directory.Read.All")
GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# A DNS name: labels of letters, digits and hyphens, at least one dot.
DNS_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
APP_SETTINGS = ("enabled", "public_client", "blocked_by_conditional_access")

DEFAULT_DOMAIN = "contosodemo.onmicrosoft.com"
DEFAULT_ORGANIZATION = "Contoso Demo"
CONSENTED_APP = "Script Processing Server"
UNCONSENTED_APP = "Unconsented Demo App"


class PortalError(Exception):
    """A refusal from the demo portal API: HTTP status, short code, plain-English message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KeyCredential:
    """A certificate registered on an app, as Entra keeps it (keyCredentials)."""

    key_id: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    start: datetime
    end: datetime
    display_name: str
    der: bytes
    added_at: float

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @cached_property
    def public_key(self) -> rsa.RSAPublicKey | None:
        key = self.certificate.public_key()
        return key if isinstance(key, rsa.RSAPublicKey) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "thumbprint": self.thumbprint_sha1,
            "thumbprint_sha256": self.thumbprint_sha256,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "display_name": self.display_name,
            "added_at": self.added_at,
        }

    def to_state(self) -> dict[str, Any]:
        data = self.to_json()
        data["der"] = base64.b64encode(self.der).decode("ascii")
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> KeyCredential:
        return cls(
            key_id=str(data["key_id"]),
            thumbprint_sha1=str(data["thumbprint"]),
            thumbprint_sha256=str(data["thumbprint_sha256"]),
            start=_utc(str(data["start"])),
            end=_utc(str(data["end"])),
            display_name=str(data["display_name"]),
            der=base64.b64decode(str(data["der"])),
            added_at=float(data.get("added_at", 0.0)),
        )

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> KeyCredential:
        return cls(
            key_id=str(uuid.uuid4()),
            thumbprint_sha1=certs.thumbprint_sha1(cert),
            thumbprint_sha256=certs.thumbprint_sha256(cert),
            start=certs.not_valid_before(cert),
            end=certs.not_valid_after(cert),
            display_name=f"CN={certs.subject_cn(cert)}",
            der=certs.cert_der(cert),
            added_at=time.time(),
        )


@dataclass
class Application:
    """An app registration and its service principal in the demo tenant."""

    client_id: str
    app_object_id: str
    sp_object_id: str
    display_name: str
    requested_roles: list[str]
    consented: bool
    key_credentials: list[KeyCredential] = field(default_factory=list)
    # Settings an admin can get wrong in the real portal, for practising their errors:
    enabled: bool = True  # Enterprise applications > Properties > Enabled for users to sign in
    public_client: bool = False  # Authentication > Allow public client flows
    blocked_by_conditional_access: bool = False  # a workload-identity CA policy blocks it

    @classmethod
    def registered(cls, display_name: str, consented: bool) -> Application:
        """A demo app registration with its service principal, new IDs, asking for
        Organization.Read.All (granted when `consented`)."""
        return cls(
            client_id=str(uuid.uuid4()),
            app_object_id=str(uuid.uuid4()),
            sp_object_id=str(uuid.uuid4()),
            display_name=display_name,
            requested_roles=["Organization.Read.All"],
            consented=consented,
        )

    @property
    def granted_roles(self) -> list[str]:
        """Application permissions in tokens: only those with admin consent."""
        return list(self.requested_roles) if self.consented else []

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "object_id": self.app_object_id,
            "service_principal_id": self.sp_object_id,
            "display_name": self.display_name,
            "requested_roles": list(self.requested_roles),
            "roles": self.granted_roles,
            "consented": self.consented,
            "enabled": self.enabled,
            "public_client": self.public_client,
            "blocked_by_conditional_access": self.blocked_by_conditional_access,
            "key_credentials": [k.to_json() for k in self.key_credentials],
        }

    def to_state(self) -> dict[str, Any]:
        data = self.to_json()
        data["key_credentials"] = [k.to_state() for k in self.key_credentials]
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Application:
        return cls(
            client_id=str(data["client_id"]),
            app_object_id=str(data["object_id"]),
            sp_object_id=str(data["service_principal_id"]),
            display_name=str(data["display_name"]),
            requested_roles=[str(r) for r in data.get("requested_roles", [])],
            consented=bool(data.get("consented", False)),
            enabled=bool(data.get("enabled", True)),
            public_client=bool(data.get("public_client", False)),
            blocked_by_conditional_access=bool(data.get("blocked_by_conditional_access", False)),
            key_credentials=[KeyCredential.from_state(k) for k in data.get("key_credentials", [])],
        )


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    domain: str
    display_name: str
    created: datetime
    country: str = "US"


def _parse_upload(data: bytes) -> x509.Certificate:
    """The certificate in an upload, or PortalError saying what is wrong with it.

    Like the real portal, only a public certificate is accepted: anything carrying a private
    key (a key file, a PEM bundle with the key, a PFX) is refused, so a secret never travels.
    """
    if b"PRIVATE KEY-----" in data:
        raise PortalError(
            400,
            "InvalidCertificate",
            "The upload contains a private key. Upload only the public certificate (.cer), "
            "never the key.",
        )
    try:
        return certs.load_certificate_bytes(data, source="The uploaded file")
    except UserError as error:
        raise PortalError(400, "InvalidCertificate", error.message) from None


class Directory:
    """The tenant and its apps; every change is persisted before it becomes visible."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = ensure_private_dir(state_dir)
        self.path = state_dir / STATE_FILE
        self._lock = threading.RLock()
        self.tenant: Tenant
        self._apps: dict[str, Application] = {}
        self._by_sha1: dict[tuple[str, str], KeyCredential] = {}
        self._by_sha256: dict[tuple[str, str], KeyCredential] = {}
        self._stamp: tuple[int, int, int] | None = None
        with self._lock, state_lock(self.state_dir):
            if self.path.exists():
                self._load()
            else:
                self._create()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def refresh(self) -> None:
        """Pick up changes another process made to the state file (one stat when none).

        Never call it with the state lock held: flock does not nest within a process.
        """
        if self._file_stamp() == self._stamp:
            return
        with self._lock, state_lock(self.state_dir):
            if self._file_stamp() not in (self._stamp, None):
                self._load()

    # -- persistence -------------------------------------------------------------------

    def _create(self) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self.tenant = Tenant(str(uuid.uuid4()), DEFAULT_DOMAIN, DEFAULT_ORGANIZATION, now)
        for name, consented in ((CONSENTED_APP, True), (UNCONSENTED_APP, False)):
            app = Application.registered(name, consented)
            self._apps[app.client_id] = app
        self._save()

    def _load(self) -> None:
        try:
            data = strict_json.loads(read_state_file(self.path))
            tenant = data["tenant"]
            self.tenant = Tenant(
                tenant_id=str(tenant["tenant_id"]),
                domain=str(tenant["domain"]),
                display_name=str(tenant["display_name"]),
                created=_utc(str(tenant["created"])),
                country=str(tenant.get("country", "US")),
            )
            apps = [Application.from_state(a) for a in data["applications"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            # A damaged state file is reported, never silently overwritten.
            raise UserError(
                f"The demo tenant's state file {self.path} is damaged ({error}).",
                hint="Move it away (or use another --state folder) to start a fresh demo tenant.",
            ) from None
        self._apps = {a.client_id: a for a in apps}
        self._reindex()
        self._stamp = self._file_stamp()

    def _save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "tenant": {
                "tenant_id": self.tenant.tenant_id,
                "domain": self.tenant.domain,
                "display_name": self.tenant.display_name,
                "created": _iso(self.tenant.created),
                "country": self.tenant.country,
            },
            "applications": [a.to_state() for a in self._apps.values()],
        }
        atomic_write(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        self._stamp = self._file_stamp()
        self._reindex()

    def _reindex(self) -> None:
        by_sha1: dict[tuple[str, str], KeyCredential] = {}
        by_sha256: dict[tuple[str, str], KeyCredential] = {}
        for app in self._apps.values():
            for key in app.key_credentials:
                by_sha1[(app.client_id, key.thumbprint_sha1)] = key
                by_sha256[(app.client_id, key.thumbprint_sha256)] = key
        self._by_sha1, self._by_sha256 = by_sha1, by_sha256

    # -- reads (lock-free snapshots) ---------------------------------------------------

    def tenant_matches(self, identifier: str) -> bool:
        lowered = identifier.lower()
        return lowered in (self.tenant.tenant_id.lower(), self.tenant.domain.lower())

    def application(self, client_id: str) -> Application | None:
        self.refresh()
        return self._apps.get(client_id.lower())

    def applications(self) -> list[Application]:
        return list(self._apps.values())

    def application_by_object_id(self, object_id: str) -> Application | None:
        """The app whose application object ID (Graph's `id`) this is."""
        self.refresh()
        wanted = object_id.lower()
        return next((a for a in self._apps.values() if a.app_object_id == wanted), None)

    def applications_json(self) -> list[dict[str, Any]]:
        """What the portal lists; taken under the lock so no half-made change shows."""
        self.refresh()
        with self._lock:
            return [a.to_json() for a in self._apps.values()]

    def credential_by_sha1(self, client_id: str, thumbprint_hex: str) -> KeyCredential | None:
        return self._by_sha1.get((client_id.lower(), thumbprint_hex.upper()))

    def credential_by_sha256(self, client_id: str, thumbprint_hex: str) -> KeyCredential | None:
        return self._by_sha256.get((client_id.lower(), thumbprint_hex.upper()))

    # -- changes (the portal) ----------------------------------------------------------

    def _require_app(self, client_id: str) -> Application:
        """The app, with the file lock held: reload first if another process changed it."""
        if self._file_stamp() not in (self._stamp, None):
            self._load()
        app = self._apps.get(client_id.lower())
        if app is None:
            raise PortalError(
                404,
                "ApplicationNotFound",
                f"No application with client ID '{client_id}' in the demo tenant. "
                "List them with GET /applications.",
            )
        return app

    def add_applications(self, names: list[tuple[str, bool]]) -> list[Application]:
        """Register one app per (display name, admin consent granted), in one save."""
        made = [Application.registered(name, consented) for name, consented in names]
        with self._lock, state_lock(self.state_dir):
            if self._file_stamp() not in (self._stamp, None):
                self._load()
            self._apps.update((app.client_id, app) for app in made)
            self._save()
        return made

    def add_certificate(
        self, client_id: str, data: bytes, key_id: str | None = None
    ) -> KeyCredential:
        cert = _parse_upload(data)
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise PortalError(
                400,
                "InvalidCertificate",
                "The certificate does not hold an RSA key; Entra expects RSA.",
            )
        credential = KeyCredential.from_certificate(cert)
        if key_id is not None:
            credential.key_id = key_id.lower()
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            if any(k.thumbprint_sha1 == credential.thumbprint_sha1 for k in app.key_credentials):
                raise PortalError(
                    409,
                    "CertificateAlreadyRegistered",
                    f"This certificate (thumbprint {credential.thumbprint_sha1}) is already "
                    f"registered on '{app.display_name}'. Nothing was changed.",
                )
            app.key_credentials.append(credential)
            try:
                self._save()
            except BaseException:
                app.key_credentials.remove(credential)
                self._reindex()
                raise
        log.info("certificate %s added to app %s", credential.thumbprint_sha1, client_id)
        return credential

    def remove_certificate(self, client_id: str, thumbprint: str) -> KeyCredential:
        wanted = re.sub(r"[^0-9A-Fa-f]", "", thumbprint).upper()
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            for key in app.key_credentials:
                if wanted in (key.thumbprint_sha1, key.thumbprint_sha256):
                    app.key_credentials.remove(key)
                    try:
                        self._save()
                    except BaseException:
                        app.key_credentials.append(key)
                        self._reindex()
                        raise
                    log.info("certificate %s removed from app %s", key.thumbprint_sha1, client_id)
                    return key
        raise PortalError(
            404,
            "CertificateNotFound",
            f"No certificate with thumbprint '{thumbprint}' on '{app.display_name}'.",
        )

    def set_consent(self, client_id: str, granted: bool) -> Application:
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            previous = app.consented
            app.consented = granted
            try:
                self._save()
            except BaseException:
                app.consented = previous
                raise
        return app

    def update_settings(self, client_id: str, changes: dict[str, object]) -> Application:
        """Change `enabled`, `public_client` or `blocked_by_conditional_access` (booleans)."""
        unknown = set(changes) - set(APP_SETTINGS)
        if unknown or not changes or not all(isinstance(v, bool) for v in changes.values()):
            raise PortalError(
                400,
                "InvalidSettings",
                "Send a JSON object of booleans, any of: " + ", ".join(APP_SETTINGS) + ".",
            )
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            previous = {name: getattr(app, name) for name in changes}
            for name, value in changes.items():
                setattr(app, name, value)
            try:
                self._save()
            except BaseException:
                for name, value in previous.items():
                    setattr(app, name, value)
                raise
        return app

    def replace_key_credentials(
        self, client_id: str, build: Callable[[list[KeyCredential]], list[KeyCredential]]
    ) -> Application:
        """Replace an app's whole keyCredentials collection (Graph's PATCH) with what `build`
        makes of the current one, under the lock, so no upload slips in between."""
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            previous = list(app.key_credentials)
            app.key_credentials = build(previous)
            try:
                self._save()
            except BaseException:
                app.key_credentials = previous
                self._reindex()
                raise
        log.info("key credentials of app %s replaced (%d now)", client_id, len(app.key_credentials))
        return app

    # -- changes (Graph: creating an app, its service principal, a role grant) ---------

    def create_application(self, display_name: str, requested_roles: list[str]) -> Application:
        """A new app registration, without a service principal until one is created."""
        app = Application(
            client_id=str(uuid.uuid4()),
            app_object_id=str(uuid.uuid4()),
            sp_object_id="",
            display_name=display_name,
            requested_roles=requested_roles,
            consented=False,
        )
        with self._lock, state_lock(self.state_dir):
            if self._file_stamp() not in (self._stamp, None):
                self._load()
            self._apps[app.client_id] = app
            try:
                self._save()
            except BaseException:
                del self._apps[app.client_id]
                raise
        log.info("application %s created", app.client_id)
        return app

    def change_application(self, client_id: str, change: Callable[[Application], None]) -> Application:
        """Apply `change` to an app under the lock and persist it (undone if saving fails)."""
        with self._lock, state_lock(self.state_dir):
            app = self._require_app(client_id)
            before = Application.from_state(app.to_state())
            change(app)
            try:
                self._save()
            except BaseException:
                self._apps[app.client_id] = before
                self._reindex()
                raise
        return app
