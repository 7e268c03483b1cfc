"""Fault injection: make the demo tenant misbehave on purpose (tests and benchmarks only)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Literal, cast, get_args

from wizard.emulator import errors
from wizard.emulator.transport import RequestHandler

FaultKind = Literal[
    "accept-any",
    "delay",
    "status",
    "not-json",
    "reset",
    "upload-propagation",
    "aadsts",
    "cloud-instance",
    "key-refusal",
]
# "discovery" covers every discovery answer (instance discovery, OpenID configuration, keys);
# "instance-discovery" only GET /common/discovery/instance.
FaultEndpoint = Literal["token", "discovery", "instance-discovery", "graph", "any"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FAULT_ENDPOINTS: tuple[str, ...] = get_args(FaultEndpoint)
# The endpoints each kind can apply to ("any" always means: wherever the kind makes sense).
_KIND_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "aadsts": ("token", "any"),
    "cloud-instance": ("discovery", "any"),
    "key-refusal": ("token", "any"),
}
# The broader endpoint whose faults also apply to a narrower one.
_BROADER = {"instance-discovery": "discovery"}
MAX_AADSTS_CODE = 99_999_999
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_INSTANCE_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")


@dataclass
class Fault:
    """One misbehaviour, applied to `count` matching requests (None = until cleared).

    - accept-any: the token endpoint issues a token for any assertion of a known app (so the
      negative test's alarm path can be exercised).
    - delay: sleep `seconds` before answering.
    - status: answer `status` (e.g. 429, 503) with an Entra-shaped body and Retry-After.
    - not-json: answer 200 with an HTML page.
    - reset: close the connection in the middle of the response.
    - upload-propagation: certificates uploaded less than `seconds` ago answer 700027
      "key was not found", like Entra's replication delay after an upload.
    - aadsts: the token endpoint refuses with Entra's envelope for AADSTS `code` (its status,
      OAuth error and wording where known; see wizard.emulator.errors.for_code).
    - key-refusal: a certificate the tenant refuses (key not found, wrong signature) is
      refused as AADSTS `code` instead: 700027 in its newer wording, 7000274, or 70002 (the
      legacy pair [70002, 50012]) -- the other forms the real service uses.
    - cloud-instance: the OpenID configuration says the tenant lives in the cloud `instance`
      (its `cloud_instance_name`, e.g. "microsoftonline.us"), as a tenant of another
      national cloud looks from this sign-in host.
    """

    kind: FaultKind
    endpoint: FaultEndpoint = "any"
    seconds: float = 0.0
    status: int = 500
    retry_after: int | None = None
    count: int | None = None
    code: int | None = None  # aadsts, key-refusal: the AADSTS number to answer
    instance: str | None = None  # cloud-instance: the cloud_instance_name to report

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; use one of {', '.join(FAULT_KINDS)}"
            )
        if self.endpoint not in FAULT_ENDPOINTS:
            raise ValueError(
                f"unknown endpoint {self.endpoint!r}; use one of {', '.join(FAULT_ENDPOINTS)}"
            )
        if not 0 <= float(self.seconds) <= 300:
            raise ValueError("seconds must be between 0 and 300")
        if not 100 <= int(self.status) <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.count is not None and int(self.count) < 0:
            raise ValueError("count must be zero or more")
        allowed = _KIND_ENDPOINTS.get(self.kind)
        if allowed is not None and self.endpoint not in allowed:
            raise ValueError(
                f"the {self.kind} fault applies to the {allowed[0]} endpoint (or 'any'), "
                f"not {self.endpoint!r}"
            )
        if self.kind == "aadsts":
            if self.code is None or not 1 <= int(self.code) <= MAX_AADSTS_CODE:
                raise ValueError("an aadsts fault needs a 'code': the AADSTS number, e.g. 900382")
        elif self.kind == "key-refusal":
            if self.code not in errors.KEY_REFUSAL_CODES:
                codes = ", ".join(str(c) for c in errors.KEY_REFUSAL_CODES)
                raise ValueError(f"a key-refusal fault needs a 'code': one of {codes}")
        elif self.code is not None:
            raise ValueError("'code' is only for aadsts and key-refusal faults")
        if self.kind == "cloud-instance":
            if isinstance(self.instance, str):
                self.instance = self.instance.strip().lower()
            if not isinstance(self.instance, str) or not _INSTANCE_RE.match(self.instance):
                raise ValueError(
                    "a cloud-instance fault needs an 'instance': a cloud_instance_name such "
                    "as 'microsoftonline.us'"
                )
        elif self.instance is not None:
            raise ValueError("'instance' is only for cloud-instance faults")

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Build from the portal's JSON; unknown keys or wrong types raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        try:
            return cls(
                kind=cast(FaultKind, str(data["kind"])),
                endpoint=cast(FaultEndpoint, str(data.get("endpoint", "any"))),
                seconds=float(data.get("seconds", 0.0)),
                status=int(data.get("status", 500)),
                retry_after=None if data.get("retry_after") is None else int(data["retry_after"]),
                count=None if data.get("count") is None else int(data["count"]),
                code=None if data.get("code") is None else _integer(data["code"], "code"),
                instance=None if data.get("instance") is None else _text(data["instance"]),
            )
        except (TypeError, ValueError) as error:
            raise ValueError(str(error)) from error

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _integer(value: object, name: str) -> int:
    """A whole number from JSON (an int, or a string of digits); not a float or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be a whole number")
    return int(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("instance must be a string")
    return value


class FaultSwitch:
    """The one active fault, consumed request by request under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None

    def set(self, fault: Fault | None) -> None:
        with self._lock:
            self._fault = None if fault is None else Fault(**asdict(fault))

    def current(self) -> Fault | None:
        with self._lock:
            return None if self._fault is None else Fault(**asdict(self._fault))

    def take(self, endpoint: str, kinds: tuple[str, ...]) -> Fault | None:
        """The active fault if it applies to this endpoint and kind; counts one use."""
        with self._lock:
            fault = self._fault
            if fault is None or fault.kind not in kinds:
                return None
            if fault.endpoint not in ("any", endpoint, _BROADER.get(endpoint)):
                return None
            if fault.count is not None:
                if fault.count <= 0:
                    self._fault = None
                    return None
                fault.count -= 1
                if fault.count == 0:
                    self._fault = None
            return Fault(**asdict(fault))

    def peek(self, endpoint: str, kind: str) -> Fault | None:
        """Like take() but without counting (the caller counts with take when it applies)."""
        with self._lock:
            fault = self._fault
            if (
                fault is None
                or fault.kind != kind
                or fault.endpoint not in ("any", endpoint, _BROADER.get(endpoint))
            ):
                return None
            return Fault(**asdict(fault))


# What a not-json fault answers: a captive proxy's login page instead of the API's JSON.
_PROXY_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Proxy login page</body></html>"
)


def answer_with_fault(handler: RequestHandler, switch: FaultSwitch, endpoint: str) -> bool:
    """Apply a delay, status, not-json or reset fault to a request for this endpoint.

    True when the fault answered in the endpoint's place; a status fault on an Entra endpoint
    raises its EntraError instead, so it is answered like every other refusal of the token
    service. A delay only waits, and the endpoint then answers as usual.
    """
    delay = switch.take(endpoint, ("delay",))
    if delay is not None:
        time.sleep(delay.seconds)
        return False
    fault = switch.take(endpoint, ("status", "not-json", "reset"))
    if fault is None:
        return False
    if fault.kind == "status":
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if endpoint != "graph":
            error = errors.throttled(fault.status)
            error.status = fault.status
            error.headers = headers
            raise error
        request_id = str(uuid.uuid4())
        code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
        handler.send_json(
            fault.status,
            errors.graph_error(
                code,
                "The service is busy; try again later.",
                request_id=request_id,
                client_request_id=request_id,
            ),
            headers,
        )
    elif fault.kind == "not-json":
        handler.send(200, _PROXY_PAGE, "text/html; charset=utf-8")
    else:
        handler.reset_mid_response()
    return True
