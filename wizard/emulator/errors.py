"""Entra ID's and Microsoft Graph's error envelopes, with their wording.

The wording is copied from public captures of real responses where one exists (each
constant says where the code is only known from Microsoft's published list, or where the
real code is unknown and we answer a generic invalid_client instead). Clients such as the
wizard's error catalogue parse these strings, so they are kept close to the real ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

CERT_CREDENTIALS_DOC = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"


def entra_timestamp(moment: datetime | None = None) -> str:
    """Entra's timestamp format: '2024-12-03 13:51:30Z'."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def graph_inner_date(moment: datetime) -> str:
    """Graph's innerError.date: UTC without the trailing Z ('2024-12-03T13:51:30'), as in
    the error samples of learn.microsoft.com/graph/errors."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def entra_precise_time(moment: datetime) -> str:
    """The 7-digit fractional form AADSTS700024 uses: '2024-10-02T22:05:03.6755165Z'."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


@dataclass
class EntraError(Exception):
    """A refusal from the token service: OAuth error, AADSTS code and message.

    invalid_client answers 401 like Entra; everything else 400 unless said otherwise.
    """

    error: str
    code: int
    message: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    # Codes after the first, as in the legacy pair "AADSTS70002: ... AADSTS50012: ..."; the
    # message then carries the later codes' own "AADSTSnnnnn:" prefixes.
    more_codes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__init__(f"AADSTS{self.code}: {self.message}")
        if not self.status:
            self.status = 401 if self.error == "invalid_client" else 400

    def envelope(
        self, *, authority_host: str, correlation_id: str | None = None
    ) -> dict[str, object]:
        """The JSON body, exactly shaped like Entra's (CRLF-separated trailer included)."""
        trace_id = str(uuid.uuid4())
        correlation = correlation_id or str(uuid.uuid4())
        stamp = entra_timestamp()
        description = (
            f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        )
        return {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code, *self.more_codes],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
            "error_uri": f"{authority_host}/error?code={self.code}",
        }


# -- tenant discovery ------------------------------------------------------------------


def tenant_not_found(tenant: str) -> EntraError:
    return EntraError(
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.",
        status=400,
    )


def tenant_malformed(tenant: str) -> EntraError:
    return EntraError(
        "invalid_tenant",
        900023,
        f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid "
        "external domain.",
        status=400,
    )


# -- request shape ---------------------------------------------------------------------


def missing_parameter(name: str) -> EntraError:
    return EntraError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def post_only(method: str) -> EntraError:
    return EntraError(
        "invalid_request",
        900561,
        f"The endpoint only accepts POST, OPTIONS requests. Received a {method} request.",
    )


def unsupported_grant(grant: str) -> EntraError:
    return EntraError(
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant}'.",
    )


def invalid_client_id(client_id: str) -> EntraError:
    return EntraError(
        "invalid_request",
        700038,
        f"{client_id} is not a valid application identifier.",
    )


def unknown_application(client_id: str, tenant_name: str) -> EntraError:
    return EntraError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant_name}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
    )


def missing_service_principal(client_id: str, tenant_id: str) -> EntraError:
    # Captured (an invalid_client answer quoted in public bot-framework reports): an app
    # registration with no service principal in the tenant cannot get a token.
    return EntraError(
        "invalid_client",
        7000229,
        f"The client application {client_id} is missing service principal in the tenant "
        f"{tenant_id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
    )


def missing_credential() -> EntraError:
    # Entra answers 7000216 for the client_credentials grant; 7000218 ("The request body
    # must contain the following parameter: 'client_assertion' or 'client_secret'.") is the
    # older wording seen for code/refresh grants. We only serve client_credentials, so 216.
    return EntraError(
        "invalid_client",
        7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the "
        "'client_credentials' grant type.",
    )


def client_secret_not_registered(client_id: str) -> EntraError:
    # The demo apps have no secrets, so any secret is wrong: Entra's 7000215 wording.
    return EntraError(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def public_client_with_credential() -> EntraError:
    return EntraError(
        "invalid_client",
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )


def application_disabled(client_id: str, display_name: str) -> EntraError:
    return EntraError(
        "unauthorized_client", 7000112, f"Application '{client_id}'({display_name}) is disabled."
    )


def blocked_by_conditional_access() -> EntraError:
    # The wording is Entra's; the OAuth error name sent with 53003 for an app-only sign-in is
    # not known to us (interactive flows see invalid_grant), so access_denied here.
    return EntraError(
        "access_denied",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
    )


def missing_assertion_type() -> EntraError:
    # Wording from public captures of Entra's 7000219.
    return EntraError(
        "invalid_request",
        7000219,
        "'client_assertion_type' is required when 'client_assertion' is sent.",
    )


def wrong_assertion_type(value: str) -> EntraError:
    # The real code for an unknown client_assertion_type value is not known to us: answer
    # invalid_client with Entra's generic "Error validating credentials" code.
    return EntraError(
        "invalid_client",
        70002,
        f"Error validating credentials. The client_assertion_type '{value}' is not supported. "
        "Use 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
    )


def malformed_assertion(detail: str) -> EntraError:
    # Entra's exact code for a structurally broken client_assertion is not published; 50027
    # ("JWT token is invalid or is malformed.") is its generic JWT code, sent as invalid_client.
    return EntraError(
        "invalid_client", 50027, f"JWT token is invalid or is malformed. {detail}".strip()
    )


def unsupported_algorithm(alg: str) -> EntraError:
    # 5002738 is the code Entra uses for JWT algorithms it does not accept; the list of
    # supported algorithms in the message is ours (RS256 and PS256, what MSAL sends).
    return EntraError(
        "invalid_client",
        5002738,
        f"Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing "
        "algorithms are: 'RS256, PS256'",
    )


def wrong_audience() -> EntraError:
    # Captured from Entra (MSAL.NET issue 2746): invalid_client AADSTS700023.
    return EntraError(
        "invalid_client",
        700023,
        "Client assertion audience claim does not match Realm issuer. Review the documentation "
        f"at {CERT_CREDENTIALS_DOC} .",
    )


def wrong_issuer() -> EntraError:
    # From Microsoft's published list of AADSTS codes (700021); not captured by us.
    return EntraError(
        "invalid_client",
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter. Review "
        f"the documentation at {CERT_CREDENTIALS_DOC} .",
    )


def outside_time_range(now: datetime, valid_from: datetime, expires: datetime) -> EntraError:
    return EntraError(
        "invalid_client",
        700024,
        f"Client assertion is not within its valid time range. Current time: "
        f"{entra_precise_time(now)}, assertion valid from {entra_precise_time(valid_from)}, "
        f"expiry time of assertion {entra_precise_time(expires)}. Review the documentation at "
        f"{CERT_CREDENTIALS_DOC} .",
    )


def _found_key(start: datetime, end: datetime) -> str:
    fmt = "%m/%d/%Y %H:%M:%S"
    return f"Found key 'Start={start.strftime(fmt)}, End={end.strftime(fmt)}'"


def invalid_signature(
    reason: str,
    *,
    thumbprint: str,
    client_id: str,
    found: tuple[datetime, datetime] | None = None,
) -> EntraError:
    """AADSTS700027 with one of Entra's reasons (key not found, signature, expired)."""
    parts = [f"Reason - {reason}", f"Thumbprint of key used by client: '{thumbprint}'"]
    if found is not None:
        parts.append(_found_key(*found))
    parts.append(
        "Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
        f"configured keys for app Id '{client_id}'. Review the documentation at "
        "https://docs.microsoft.com/en-us/graph/api/application-get to learn more about "
        "application key credentials"
    )
    return EntraError(
        "invalid_client",
        700027,
        "Client assertion contains an invalid signature. [" + ", ".join(parts) + "]",
    )


# The other answers Entra gives for the same refusal of a certificate (the key-refusal
# fault). The newer 700027 wording, which leaves the Thumbprint element out when the
# assertion names none, is from a capture in keycloak/keycloak#19425; the legacy pair
# [70002, 50012] from jasonjoh/python_clientcred#5 and AzureAD ADAL-Python #79. 7000274 is in
# Microsoft's AADSTS list for an assertion whose key cannot be used; its full wording is
# not known to us.
KEY_REFUSAL_CODES = (700027, 7000274, 70002)


def key_refused_as(code: int, reason: str, *, thumbprint: str, client_id: str) -> EntraError:
    """The refusal of a certificate's key in one of Entra's other forms (KEY_REFUSAL_CODES)."""
    if code == 70002:
        return EntraError(
            "invalid_client",
            70002,
            "Error validating credentials. AADSTS50012: Client assertion contains an invalid "
            "signature.",
            more_codes=(50012,),
        )
    parts = [f"Reason - {reason}"]
    if thumbprint:
        parts.append(f"Thumbprint of key used by client: '{thumbprint}'")
    parts.append(
        "Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
        f"configured keys for app Id '{client_id}'. Review the documentation at "
        "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding "
        "service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?"
        "view=graph-rest-1.0&tabs=http to build a query request URL, such as "
        f"'https://graph.microsoft.com/beta/applications/{client_id}'"
    )
    if code == 7000274:
        lead = "The key used to sign the client assertion is not valid for this application."
    else:
        lead = (
            "The certificate with identifier used to sign the client assertion is not "
            "registered on application."
        )
    return EntraError(code=code, error="invalid_client", message=f"{lead} [{', '.join(parts)}].")


KEY_NOT_FOUND = "The key was not found."
SIGNATURE_MISMATCH = "The provided signature value did not match the expected signature value."
KEY_EXPIRED = "The key used is expired."
# Entra's wording for a credential whose start date is in the future is not known to us.
KEY_NOT_YET_VALID = "The key used is not yet valid."


def invalid_scope_suffix(scope: str) -> EntraError:
    return EntraError(
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have "
        "a scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def unknown_resource(resource: str, tenant_name: str) -> EntraError:
    return EntraError(
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named "
        f"{tenant_name}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might have "
        "sent your authentication request to the wrong tenant.",
    )


def server_error() -> EntraError:
    return EntraError(
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
        status=500,
    )


def throttled(status: int) -> EntraError:
    """The body for an injected status fault (429 or 5xx)."""
    if status == 429:
        return EntraError(
            "temporarily_unavailable",
            50196,
            "The server terminated an operation because it encountered a client request loop. "
            "Please contact your app vendor.",
            status=429,
        )
    return EntraError(
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
        status=status,
    )


def cross_cloud_confidential_client() -> EntraError:
    # Captured wording and error name (public reports of real responses, e.g. a GCC High
    # tenant signing in at login.microsoftonline.com): invalid_request, 400.
    return EntraError(
        "invalid_request",
        900382,
        "Confidential Client is not supported in Cross Cloud request.",
    )


def certificate_outside_validity() -> EntraError:
    # Entra's real wording for 1000502 is not known to us: no captured response was found.
    # This text is the one Microsoft.Identity.Web's own tests use for the code, sent as
    # invalid_client like the other certificate refusals.
    return EntraError(
        "invalid_client",
        1000502,
        "The client certificate is not within its valid time range. Ensure that the "
        "certificate is valid.",
    )


def for_code(code: int, *, client_id: str, app_name: str, tenant_name: str) -> EntraError:
    """The refusal for an AADSTS number (the aadsts fault): Entra's wording where known."""
    known: dict[int, Callable[[], EntraError]] = {
        700016: lambda: unknown_application(client_id, tenant_name),
        700025: public_client_with_credential,
        7000112: lambda: application_disabled(client_id, app_name),
        7000215: lambda: client_secret_not_registered(client_id),
        7000216: missing_credential,
        53003: blocked_by_conditional_access,
        900382: cross_cloud_confidential_client,
        1000502: certificate_outside_validity,
        90033: server_error,
    }
    make = known.get(code)
    if make is not None:
        return make()
    return EntraError(
        "invalid_request",
        code,
        "The demo tenant was told to refuse with this code (fault injection); Entra's own "
        "wording for it is not known here.",
    )


# -- Microsoft Graph -------------------------------------------------------------------


def graph_error(
    code: str, message: str, *, request_id: str, client_request_id: str
) -> dict[str, object]:
    """Graph's error body: {"error": {"code", "message", "innerError": {...}}}."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": graph_inner_date(datetime.now(timezone.utc)),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
