"""Finding the tenant: its OpenID configuration, its ID, and the cloud it really lives in.

Both tests start here: without the tenant's configuration no token request can prove anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wizard.inputs import is_guid
from wizard.signin import catalogue
from wizard.signin.catalogue import Explanation
from wizard.signin.clouds import cloud_for_instance
from wizard.signin.http import (
    Cancelled,
    HttpSession,
    TokenAttempt,
    attempt_from_answer,
    attempt_from_exception,
    with_transient_retries,
)

if TYPE_CHECKING:
    from wizard.signin.settings import ConnectionSettings


def discover_tenant(
    settings: ConnectionSettings, http: HttpSession
) -> tuple[dict[str, Any] | None, TokenAttempt | None]:
    """GET the tenant's OpenID configuration: (config, None) or (None, the failure)."""
    url = f"{settings.cloud.authority(settings.tenant)}/v2.0/.well-known/openid-configuration"
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except Cancelled:
        raise
    except Exception as exc:
        return None, attempt_from_exception(exc, http)
    if response.status_code != 200:
        return None, attempt_from_answer(
            response.status_code, response.text, response.headers.get("Retry-After")
        )
    try:
        config = response.json()
    except ValueError:
        return None, TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    if not isinstance(config, dict) or not isinstance(config.get("token_endpoint"), str):
        return None, TokenAttempt(explanation=catalogue.explain_not_json(200, response.text))
    return config, None


def discover_with_retries(
    settings: ConnectionSettings, http: HttpSession, report: Callable[[str], None]
) -> tuple[dict[str, Any] | None, TokenAttempt | None]:
    """`discover_tenant`, retried like any request on 429/5xx or a dropped connection."""
    found: dict[str, Any] = {}

    def discover() -> TokenAttempt:
        config, failure = discover_tenant(settings, http)
        if config is None:
            assert failure is not None
            return failure
        found.update(config)
        return TokenAttempt()

    failure = with_transient_retries(discover, http, report)
    if found:
        return found, None
    return None, failure


def tenant_id_from_config(config: dict[str, Any]) -> str | None:
    """The tenant GUID: the first path segment of the token endpoint."""

    for key in ("token_endpoint", "issuer"):
        value = config.get(key)
        if isinstance(value, str):
            segments = [s for s in urlsplit(value).path.split("/") if s]
            for segment in segments:
                if is_guid(segment):
                    return segment.lower()
    return None


def cross_cloud_problem(
    settings: ConnectionSettings, config: dict[str, Any]
) -> Explanation | None:
    """Entra's OpenID configuration names the cloud a tenant lives in; a mismatch means the
    token request would fail (AADSTS900382) or the Graph call would go to the wrong cloud."""
    expected = settings.cloud.instance_name
    actual = config.get("cloud_instance_name")
    if not expected or not isinstance(actual, str) or actual.lower() == expected:
        return None
    home = cloud_for_instance(actual)
    where = f"the {home.label} cloud" if home else f"the {actual} cloud"
    base = catalogue.explain_aadsts(900382)
    # The cause names the cloud; the fix (the command line's words) names its option.
    fix = f"Choose the tenant's cloud: --cloud {home.key}, and test again." if home else base.fix
    return dataclasses.replace(
        base,
        cause=f"This tenant lives in {where}, not in {settings.cloud.label}. {base.cause}",
        fix=fix,
    )
