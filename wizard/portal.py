"""The client of the demo tenant's portal API (the stand-in for "Certificates & secrets").

Plain urllib + ssl trusting the demo CA bundle, so the wizard and the CLI need nothing else.
Every failure becomes a UserError carrying the portal's own message.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from wizard.errors import UserError

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo

_NOT_REACHABLE_HINT = (
    "Start it with 'entra-cert-wizard emulator' (or use --demo, which starts one for the run)."
)


class PortalClient:
    """Lists apps, uploads and deletes certificates, grants consent, sets faults."""

    def __init__(
        self, portal_url: str, ca_bundle: str, admin_token: str | None = None, timeout: float = 20
    ) -> None:
        self.portal_url = portal_url.rstrip("/")
        self.admin_token = admin_token
        self.timeout = timeout
        try:
            self._context = ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as error:
            raise UserError(
                f"The demo tenant's CA bundle {ca_bundle} cannot be read ({error}).",
                hint="Use the ca_bundle path the demo tenant printed when it started.",
            ) from None

    @classmethod
    def for_demo(cls, info: DemoInfo) -> PortalClient:
        """The client of a running demo tenant's portal, from what the tenant says about itself."""
        return cls(info.portal, info.ca_bundle, info.admin_token)

    def _request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> Any:
        request = urllib.request.Request(self.portal_url + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.admin_token:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self._context
            ) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise UserError(self._message(error), hint=self._hint(error.code)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(
                f"The demo tenant is not reachable at {self.portal_url} ({reason}).",
                hint=_NOT_REACHABLE_HINT,
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise UserError(
                f"The demo tenant at {self.portal_url} sent an answer that is not JSON.",
                hint=_NOT_REACHABLE_HINT,
            ) from None

    @staticmethod
    def _message(error: urllib.error.HTTPError) -> str:
        try:
            payload = json.loads(error.read() or b"null")
            message = payload["error"]["message"]
            if isinstance(message, str) and message:
                return message
        except (ValueError, KeyError, TypeError, OSError):
            pass
        return f"The demo portal refused the request (HTTP {error.code})."

    @staticmethod
    def _hint(status: int) -> str | None:
        if status == 401:
            return "Pass the admin token the demo tenant printed at start."
        if status == 404:
            return "Check the Application (client) ID against the demo tenant's list of apps."
        return None

    def list_applications(self) -> list[dict[str, Any]]:
        """Each app: client_id, display_name, key_credentials, roles, consented, ..."""
        payload = self._request("GET", "/applications")
        return list(payload["value"]) if isinstance(payload, dict) else []

    def upload_certificate(self, client_id: str, data: bytes) -> str:
        """Upload a certificate (DER or PEM); returns the SHA-1 thumbprint the portal shows."""
        quoted = urllib.parse.quote(client_id, safe="")
        payload = self._request(
            "POST", f"/applications/{quoted}/certificates", data, "application/octet-stream"
        )
        return str(payload["thumbprint"])

    def delete_certificate(self, client_id: str, thumbprint: str) -> None:
        quoted = urllib.parse.quote(client_id, safe="")
        self._request(
            "DELETE",
            f"/applications/{quoted}/certificates/{urllib.parse.quote(thumbprint, safe='')}",
        )

    def set_consent(self, client_id: str, granted: bool) -> None:
        quoted = urllib.parse.quote(client_id, safe="")
        body = json.dumps({"granted": granted}).encode()
        self._request("POST", f"/applications/{quoted}/consent", body, "application/json")

    def update_application(
        self,
        client_id: str,
        *,
        enabled: bool | None = None,
        public_client: bool | None = None,
        blocked_by_conditional_access: bool | None = None,
    ) -> dict[str, Any]:
        """Change an app's settings to practise their errors (7000112, 700025, 53003)."""
        changes = {
            name: value
            for name, value in (
                ("enabled", enabled),
                ("public_client", public_client),
                ("blocked_by_conditional_access", blocked_by_conditional_access),
            )
            if value is not None
        }
        quoted = urllib.parse.quote(client_id, safe="")
        body = json.dumps(changes).encode()
        payload = self._request("PATCH", f"/applications/{quoted}", body, "application/json")
        return dict(payload) if isinstance(payload, dict) else {}

    def decide_device_code(self, user_code: str, *, approve: bool, user: str = "admin") -> str:
        """Approve or decline a device code as a demo user ("admin", "user" or a UPN), as the
        approval page does; returns the code's status (approved, declined or blocked)."""
        body = json.dumps({"decision": "approve" if approve else "decline", "user": user})
        quoted = urllib.parse.quote(user_code, safe="")
        payload = self._request("POST", f"/devicecode/{quoted}", body.encode(), "application/json")
        return str(payload["status"]) if isinstance(payload, dict) else ""

    def set_device_code_policy(self, **settings: int | bool) -> dict[str, Any]:
        """Change the device-code policy: expires_in, interval, blocked_by_conditional_access."""
        body = json.dumps(settings).encode()
        payload = self._request("PATCH", "/devicecode", body, "application/json")
        return dict(payload) if isinstance(payload, dict) else {}

    def set_fault(self, fault: dict[str, Any] | None) -> None:
        """Inject a fault (the JSON of wizard.emulator.Fault), or clear it with None."""
        if fault is None:
            self._request("DELETE", "/faults")
        else:
            self._request("POST", "/faults", json.dumps(fault).encode(), "application/json")
