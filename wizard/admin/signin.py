"""An admin's sign-in by device code (RFC 8628): a URL and a code, approved on any device.

The device code flow works over SSH with no browser on the server: the admin opens the URL on
a laptop or phone, types the code and signs in; meanwhile this side polls the token endpoint.

Decisions:
- The public client is Microsoft Graph Command Line Tools (what Connect-MgGraph uses): it is
  in every tenant already and may ask for Graph's delegated permissions, so no app has to be
  registered first. Tenants that block it name another with `admin_client_id`.
- MSAL makes each request, one poll per call (`exit_condition` returns True), and the loop
  here waits: so `slow_down` adds 5 seconds to the interval, as RFC 8628 section 3.5 says
  (MSAL's own loop keeps the interval), and a cancel is seen at once, not after a second.
- Memory only: MSAL gets a fresh `TokenCache` that is never serialized, and is dropped when
  the sign-in ends; only the access token lives on, in `AdminGraph`. The refresh token is
  thrown away with the cache.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wizard.admin.errors import AdminError, with_manual_steps
from wizard.signin import catalogue

if TYPE_CHECKING:
    from wizard.admin.graph import AdminGraph
    from wizard.signin.http import HttpSession
    from wizard.signin.settings import ConnectionSettings

GRAPH_COMMAND_LINE_TOOLS = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # what Connect-MgGraph uses
# Delegated permissions: change app registrations; assign app roles only to grant consent.
CHANGE_APPS_SCOPE = "Application.ReadWrite.All"
CONSENT_SCOPE = "AppRoleAssignment.ReadWrite.All"
SLOW_DOWN_SECONDS = 5  # RFC 8628 3.5: "the interval MUST be increased by 5 seconds"
DEFAULT_INTERVAL = 5  # RFC 8628 3.2: when the answer names no interval
_STILL_WAITING = ("authorization_pending", "slow_down")


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What to show the admin: open `verification_uri`, enter `user_code` before `expires_at`
    (a `time.monotonic()` deadline); `interval` is the first wait between polls."""

    verification_uri: str
    user_code: str
    expires_at: float
    interval: int

    def seconds_left(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())


class AdminSignIn:
    """One device code sign-in: `start` (blocking, in a worker) then `wait` (blocking)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        admin_client_id: str = GRAPH_COMMAND_LINE_TOOLS,
        consent: bool = False,
    ) -> None:
        self.settings = settings
        self.admin_client_id = admin_client_id
        self.consent = consent
        self._http: HttpSession | None = None
        self._app: Any = None
        self._flow: dict[str, Any] | None = None
        self._prompt: DeviceCodePrompt | None = None
        self.interval = 0  # seconds between polls now (grows with each slow_down)

    @property
    def scopes(self) -> list[str]:
        resource = self.settings.cloud.graph_resource
        wanted = [CHANGE_APPS_SCOPE, *([CONSENT_SCOPE] if self.consent else [])]
        return [f"{resource}/{scope}" for scope in wanted]

    def start(self) -> DeviceCodePrompt:
        """Ask Entra ID for a device code; AdminError says why there is none."""
        import msal

        from wizard.signin.http import Cancelled, HttpSession, _quiet_msal

        _quiet_msal()
        cloud = self.settings.cloud
        http = HttpSession(cloud, self.settings.timeout, None)
        self._http = http
        try:
            app = msal.PublicClientApplication(
                self.admin_client_id,
                authority=cloud.authority(self.settings.tenant),
                http_client=http.session,
                instance_discovery=None if cloud.is_microsoft else False,
                token_cache=msal.TokenCache(),  # memory only, never serialized
            )
            flow = app.initiate_device_flow(scopes=self.scopes)
        except Cancelled:
            raise AdminError.cancelled() from None
        except Exception as exc:  # MSAL's failure modes are many: see signin.http
            raise _sign_in_error(exc, http) from None
        if not isinstance(flow, dict) or "user_code" not in flow:
            raise AdminError.explained(
                catalogue.explain_admin_sign_in(flow if isinstance(flow, dict) else {}), "refused"
            )
        self._app, self._flow = app, flow
        self._prompt = DeviceCodePrompt(
            verification_uri=str(flow.get("verification_uri") or flow.get("verification_url")),
            user_code=str(flow["user_code"]),
            expires_at=time.monotonic() + int(flow.get("expires_in", 900)),
            interval=max(1, int(flow.get("interval") or DEFAULT_INTERVAL)),
        )
        return self._prompt

    def wait(self, cancelled: threading.Event) -> AdminGraph:
        """Poll until the admin approved, then hand over the Graph client; AdminError for an
        expired, declined, blocked or cancelled sign-in."""
        from wizard.admin.graph import AdminGraph
        from wizard.signin.http import Cancelled

        if self._prompt is None or self._http is None or self._flow is None:
            raise RuntimeError("start() first")
        http, flow, prompt = self._http, self._flow, self._prompt
        http.cancel = cancelled
        self.interval = self.interval or prompt.interval
        try:
            while True:
                if cancelled.is_set():
                    raise AdminError.cancelled()
                result = self._poll_once(flow)
                error = result.get("error")
                if "access_token" in result:
                    break
                if error not in _STILL_WAITING:
                    raise AdminError.explained(catalogue.explain_admin_sign_in(result), "refused")
                if error == "slow_down":
                    self.interval += SLOW_DOWN_SECONDS
                if time.monotonic() + self.interval > prompt.expires_at:
                    # One last poll at the deadline would be refused as expired_token anyway.
                    if cancelled.wait(max(0.0, prompt.expires_at - time.monotonic())):
                        raise AdminError.cancelled()
                    raise AdminError("expired", catalogue.ADMIN_EXPIRED)
                if cancelled.wait(self.interval):
                    raise AdminError.cancelled()
        except Cancelled:
            raise AdminError.cancelled() from None
        finally:
            # The cache and the kept token answer hold the refresh token: let them go now,
            # whatever happened.
            self._app = self._flow = None
            http.token_answer = http.last = None
        token = str(result["access_token"])
        return AdminGraph(
            http,
            token,
            tenant_id=_tenant_of(result) or self.settings.tenant,
            graph_endpoint=self.settings.cloud.graph_endpoint,
        )

    def _poll_once(self, flow: dict[str, Any]) -> dict[str, Any]:
        """One token request for the device code; its answer as a dict."""
        from wizard.signin.http import Cancelled

        assert self._http is not None
        try:
            result = self._app.acquire_token_by_device_flow(flow, exit_condition=lambda _: True)
        except Cancelled:
            raise
        except Exception as exc:
            raise _sign_in_error(exc, self._http) from None
        return result if isinstance(result, dict) else {}


def _sign_in_error(exc: BaseException, http: HttpSession) -> AdminError:
    """An exception while signing in: the network, or an answer MSAL could not read."""
    from wizard.signin.http import attempt_from_answer, attempt_from_exception

    answer = http.token_answer
    attempt = (
        attempt_from_answer(answer.status, answer.body, answer.retry_after)
        if answer is not None and answer.status != 200
        else attempt_from_exception(exc, http)
    )
    if attempt.raw:
        return AdminError.explained(catalogue.explain_admin_sign_in(attempt.raw), "refused")
    explanation = attempt.explanation or catalogue.explain_exception(exc)
    if explanation.code in catalogue.NETWORK_FAILURE_CODES:
        return AdminError.unreachable(explanation)
    return AdminError.explained(with_manual_steps(explanation), "refused")


def _tenant_of(result: dict[str, Any]) -> str | None:
    """The tenant the admin signed in to, from the ID token MSAL checked."""
    claims = result.get("id_token_claims")
    if isinstance(claims, dict) and isinstance(claims.get("tid"), str):
        return str(claims["tid"])
    return None
