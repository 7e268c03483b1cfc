"""The device code flow (RFC 8628) as Entra runs it: codes, their approval, and polling.

A client asks for a code (`POST /{tenant}/oauth2/v2.0/devicecode`), shows the user the
verification URL and user code, and polls the token endpoint with the device code until the
user approves or declines on the approval page (or the portal API decides for them).

What the token endpoint answers while it polls, and what we relied on:
- authorization_pending, AADSTS70016 "OAuth 2.0 device flow error. Authorization is pending.
  Continue polling." (a 2025 capture, toblum/ESPTeamsPresence#49; older captures say
  "Pending end-user authorization.").
- expired_token, AADSTS70020 "The provided value for the input parameter 'device_code' is not
  valid. This device code has expired." (captures in Azure/azure-cli#22251 and
  Azure/azure-sdk-for-python#32375).
- slow_down when a poll comes sooner than `interval` seconds after the last one (RFC 8628
  3.5; the interval then grows by 5 s, as MSAL expects). Entra's own AADSTS code for it is
  not known to us: we send it with 70016's number, the code of "still waiting".
- authorization_declined when the user declines. RFC 8628 names it access_denied; Entra's
  device-code docs name authorization_declined. Its AADSTS code is not known to us: 70000
  (Entra's generic invalid-grant code) stands in.
- A device code that was never issued, belongs to another client or was already redeemed:
  invalid_grant with 70000 (the real wording is not known to us).
- Conditional Access blocking the device code flow: invalid_grant AADSTS53003, the wording
  Entra uses for every CA block ("Access has been blocked by Conditional Access policies.
  The access policy does not allow token issuance.").
On the approval page: a wrong code is AADSTS70018 BadVerificationCode, an expired one
AADSTS70019 CodeExpired (Microsoft's published list of AADSTS codes).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from wizard.emulator.directory import GRAPH_APP_ID, GRAPH_RESOURCE
from wizard.emulator.errors import EntraError
from wizard.emulator.users import DemoUser

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# "Microsoft Graph Command Line Tools" (the client Connect-MgGraph uses): a public client
# every tenant knows. The demo tenant knows it too, and no other public client but the
# apps whose portal setting `public_client` is on.
GRAPH_CLI_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
KNOWN_PUBLIC_CLIENTS = {GRAPH_CLI_CLIENT_ID: "Microsoft Graph Command Line Tools"}
# Entra's device codes live 15 minutes and ask for a 5 s interval (captured answers).
EXPIRES_IN = 900
INTERVAL = 5
SLOW_DOWN_STEP = 5
# A flood of code requests cannot grow memory without bound: expired codes go first, then
# the oldest.
MAX_CODES = 512
# Entra's user codes: nine characters, capital letters and digits (e.g. "BPPVYQZMA").
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
USER_CODE_LENGTH = 9
OIDC_SCOPES = ("openid", "profile", "offline_access", "email")
# The delegated Graph permissions the demo tenant knows (a scope outside these is 70011).
GRAPH_DELEGATED_SCOPES = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "Directory.Read.All",
    "Directory.AccessAsUser.All",
    "Organization.Read.All",
    "User.Read",
)
_SCOPE_RE = re.compile(r"^[A-Za-z0-9.:/_-]{1,200}$")

State = Literal["pending", "approved", "declined", "blocked", "redeemed"]


@dataclass
class DeviceCodeSettings:
    """The tenant's device-code policy (changed through the portal API, kept in memory)."""

    expires_in: int = EXPIRES_IN
    interval: int = INTERVAL
    blocked_by_conditional_access: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "expires_in": self.expires_in,
            "interval": self.interval,
            "blocked_by_conditional_access": self.blocked_by_conditional_access,
        }


@dataclass
class DeviceAuthorization:
    device_code: str
    user_code: str
    client_id: str
    app_name: str
    scopes: tuple[str, ...]  # the Graph permissions asked for, short names
    created: float
    expires_at: float
    interval: int
    state: State = "pending"
    user: DemoUser | None = None
    last_poll: float | None = field(default=None)


class DecisionError(Exception):
    """A refusal on the approval page or the portal's decision call: status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# -- refusals -------------------------------------------------------------------------------


def authorization_pending() -> EntraError:
    return EntraError(
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )


def slow_down(interval: int) -> EntraError:
    return EntraError(
        "slow_down",
        70016,
        f"OAuth 2.0 device flow error. Polling too frequently: wait {interval} seconds "
        "between requests.",
    )


def expired_token() -> EntraError:
    return EntraError(
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device "
        "code has expired.",
    )


def authorization_declined() -> EntraError:
    return EntraError(
        "authorization_declined", 70000, "The end user declined the authorization request."
    )


def invalid_device_code() -> EntraError:
    return EntraError(
        "invalid_grant",
        70000,
        "The provided value for the input parameter 'device_code' is not valid.",
    )


def blocked_by_conditional_access() -> EntraError:
    return EntraError(
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
    )


def invalid_scope(scope: str) -> EntraError:
    # Wording from the sample error in Microsoft's AADSTS reference (70011).
    return EntraError(
        "invalid_scope",
        70011,
        f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
        "is not valid.",
    )


def not_a_public_client(client_id: str) -> EntraError:
    # A confidential app must authenticate itself; Entra's 7000218 says so.
    return EntraError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        f"'client_secret'. (The application '{client_id}' is not a public client: turn on "
        "'Allow public client flows', or use another client ID.)",
    )


# -- scopes ---------------------------------------------------------------------------------


def graph_scopes(scope_text: str) -> tuple[str, ...]:
    """The Graph permissions in a scope parameter (short names), or 70011 for a bad one.

    Graph's permissions may come bare ("Application.ReadWrite.All") or with Graph's URI or
    app ID in front; OpenID scopes are allowed alongside. `.default` asks for what was
    consented before: for the demo's public clients that is User.Read.
    """
    wanted: list[str] = []
    for scope in scope_text.split():
        if scope in OIDC_SCOPES:
            continue
        if not _SCOPE_RE.match(scope):
            raise invalid_scope(scope[:200])
        name = scope
        for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/"):
            if scope.lower().startswith(prefix.lower()):
                name = scope[len(prefix) :]
        known = {s.lower(): s for s in (*GRAPH_DELEGATED_SCOPES, ".default")}
        if name.lower() not in known:
            raise invalid_scope(scope)
        canonical = known[name.lower()]
        if canonical == ".default":
            canonical = "User.Read"
        if canonical not in wanted:
            wanted.append(canonical)
    if not wanted:
        wanted.append("User.Read")  # Entra grants sign-in and profile reading at least
    return tuple(wanted)


# -- the codes ------------------------------------------------------------------------------


def _user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalized_user_code(text: str) -> str:
    """A typed user code as stored: capitals, no spaces or dashes."""
    return re.sub(r"[\s-]", "", text).upper()[:64]


def _setting_ok(name: str, value: object) -> bool:
    if name == "blocked_by_conditional_access":
        return isinstance(value, bool)
    if name in ("expires_in", "interval"):
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3600
    return False


class DeviceCodes:
    """The tenant's outstanding device codes and its device-code policy, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_device: dict[str, DeviceAuthorization] = {}
        self._by_user: dict[str, DeviceAuthorization] = {}
        self.settings = DeviceCodeSettings()

    def configure(self, changes: dict[str, object]) -> DeviceCodeSettings:
        """Change the policy: expires_in and interval (whole seconds), the CA block (bool).

        Every change is checked before any is made, so a refused request changes nothing.
        """
        if not all(_setting_ok(name, value) for name, value in changes.items()):
            raise DecisionError(
                400,
                "InvalidSettings",
                "Send a JSON object with any of: expires_in and interval (whole seconds, "
                "1 to 3600), blocked_by_conditional_access (true or false).",
            )
        with self._lock:
            for name, value in changes.items():
                setattr(self.settings, name, value)
            return dataclasses.replace(self.settings)

    def start(
        self, client_id: str, app_name: str, scopes: tuple[str, ...], *, now: float | None = None
    ) -> DeviceAuthorization:
        moment = time.time() if now is None else now
        with self._lock:
            self._make_room(moment)
            user_code = _user_code()
            while user_code in self._by_user:
                user_code = _user_code()
            authorization = DeviceAuthorization(
                device_code=secrets.token_urlsafe(96),
                user_code=user_code,
                client_id=client_id,
                app_name=app_name,
                scopes=scopes,
                created=moment,
                expires_at=moment + self.settings.expires_in,
                interval=self.settings.interval,
            )
            self._by_device[authorization.device_code] = authorization
            self._by_user[user_code] = authorization
            return authorization

    def _make_room(self, now: float) -> None:
        for authorization in [a for a in self._by_device.values() if a.expires_at <= now]:
            self._forget(authorization)
        while len(self._by_device) >= MAX_CODES:
            self._forget(min(self._by_device.values(), key=lambda a: a.created))

    def _forget(self, authorization: DeviceAuthorization) -> None:
        self._by_device.pop(authorization.device_code, None)
        self._by_user.pop(authorization.user_code, None)

    def poll(
        self, device_code: str, client_id: str, *, now: float | None = None
    ) -> DeviceAuthorization:
        """The approved authorization (now redeemed), or the refusal a poll gets now."""
        moment = time.time() if now is None else now
        with self._lock:
            authorization = self._by_device.get(device_code)
            if authorization is None or authorization.client_id != client_id.lower():
                raise invalid_device_code()
            if authorization.state == "redeemed":
                raise invalid_device_code()
            if moment >= authorization.expires_at:
                self._forget(authorization)
                raise expired_token()
            last, authorization.last_poll = authorization.last_poll, moment
            if authorization.state == "declined":
                self._forget(authorization)
                raise authorization_declined()
            if authorization.state == "blocked":
                self._forget(authorization)
                raise blocked_by_conditional_access()
            if authorization.state == "pending":
                # A little slack: clients sleep `interval` and then send, never sooner.
                if last is not None and moment - last < authorization.interval - 0.5:
                    authorization.interval += SLOW_DOWN_STEP
                    raise slow_down(authorization.interval)
                raise authorization_pending()
            authorization.state = "redeemed"
            self._forget(authorization)
            return authorization

    def find(self, user_code: str, *, now: float | None = None) -> DeviceAuthorization:
        """The pending authorization for a typed user code (70018 / 70019 otherwise)."""
        moment = time.time() if now is None else now
        with self._lock:
            authorization = self._by_user.get(normalized_user_code(user_code))
            if authorization is None or authorization.state == "redeemed":
                raise DecisionError(
                    404,
                    "BadVerificationCode",
                    "AADSTS70018: The code you entered is not valid. Check the code the "
                    "application shows and enter it again.",
                )
            if moment >= authorization.expires_at:
                raise DecisionError(
                    400,
                    "CodeExpired",
                    "AADSTS70019: This code has expired. Start the sign-in again in the "
                    "application to get a new code.",
                )
            if authorization.state != "pending":
                raise DecisionError(
                    409,
                    "AlreadyDecided",
                    f"This code was already {authorization.state}; start the sign-in again "
                    "in the application for a new one.",
                )
            return authorization

    def decide(
        self, user_code: str, *, approve: bool, user: DemoUser, now: float | None = None
    ) -> DeviceAuthorization:
        """Approve or decline a pending code as `user`; a CA block turns approval into 53003."""
        authorization = self.find(user_code, now=now)
        with self._lock:
            if authorization.state != "pending":  # decided by someone else meanwhile
                raise DecisionError(
                    409, "AlreadyDecided", f"This code was already {authorization.state}."
                )
            authorization.user = user
            if not approve:
                authorization.state = "declined"
            elif self.settings.blocked_by_conditional_access:
                authorization.state = "blocked"
            else:
                authorization.state = "approved"
            return authorization
