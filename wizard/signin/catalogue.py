"""Every failure a user can meet, turned into a title, the likely cause in plain words, and the fix.

Two doors in: `explain_aadsts` for the answers of Entra ID (the AADSTS codes, and Microsoft
Graph's HTTP errors through `explain_graph`), `explain_exception` for everything that goes
wrong before an answer arrives (DNS, refused connections, TLS, proxies, timeouts, bodies that
are not JSON, a wrong key passphrase, a missing key file). Unknown AADSTS codes keep
Microsoft's own text and its error page, so nothing is ever hidden behind our words.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from wizard.entra_portal import UPLOAD_CERTIFICATE
from wizard.errors import UserError

ERROR_PAGE = "https://login.microsoftonline.com/error?code={code}"
CERT_CREDENTIALS_DOC = (
    "https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials"
)
ADMIN_CONSENT_DOC = (
    "https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent"
)
FIND_TENANT_DOC = "https://learn.microsoft.com/en-us/entra/fundamentals/how-to-find-tenant"
NATIONAL_CLOUDS_DOC = "https://learn.microsoft.com/en-us/graph/deployments"
ORGANIZATION_GET_DOC = "https://learn.microsoft.com/en-us/graph/api/organization-get"
REQUESTS_TLS_DOC = (
    "https://requests.readthedocs.io/en/latest/user/advanced/#ssl-cert-verification"
)
REQUESTS_PROXY_DOC = "https://requests.readthedocs.io/en/latest/user/advanced/#proxies"
THROTTLING_DOC = "https://learn.microsoft.com/en-us/graph/throttling"

@dataclass(frozen=True)
class Explanation:
    """What went wrong, for a person: `code` is stable for scripts (e.g. AADSTS700027, DNS).

    `service_text` keeps the service's own words (AADSTS descriptions without their trace
    lines), shown under ours so that a support ticket can quote them.
    """

    code: str
    title: str
    cause: str
    fix: str
    link: str | None = None
    service_text: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "title": self.title,
            "cause": self.cause,
            "fix": self.fix,
            "link": self.link,
            "service_text": self.service_text,
        }


def _entry(code: int, title: str, cause: str, fix: str, link: str | None = None) -> Explanation:
    return Explanation(f"AADSTS{code}", title, cause, fix, link or ERROR_PAGE.format(code=code))


_AADSTS: dict[int, Explanation] = {
    int(e.code.removeprefix("AADSTS")): e
    for e in (
        _entry(
            90002,
            "Tenant not found",
            "No tenant with that ID or domain exists in this cloud. Usually a typo in the "
            "Directory (tenant) ID, a domain that is not verified in the tenant, or a tenant "
            "that lives in another cloud (US Government, China).",
            "Copy the Directory (tenant) ID from the app registration's Overview page. If the "
            "tenant is in a national cloud, choose that cloud (--cloud usgov, usgov-dod, china).",
            FIND_TENANT_DOC,
        ),
        _entry(
            900023,
            "Not a valid tenant identifier",
            "The tenant value is neither a GUID nor a domain name Entra ID can look up.",
            "Use the Directory (tenant) ID (a GUID) from the app registration's Overview page, "
            "or a verified domain such as contoso.onmicrosoft.com.",
            FIND_TENANT_DOC,
        ),
        _entry(
            700016,
            "Application not found in this tenant",
            "No app with this Application (client) ID exists in the tenant you named. Often "
            "the Object ID or a secret's ID was copied instead of the client ID, or the app "
            "lives in another tenant.",
            "On the app registration's Overview page copy 'Application (client) ID' (not "
            "'Object ID'), and check that 'Directory (tenant) ID' on the same page is the "
            "tenant you entered.",
        ),
        _entry(
            700027,
            "Certificate not accepted",
            "Entra ID did not accept the certificate that signed the request.",
            f"Upload the .cer file to the app registration: {UPLOAD_CERTIFICATE}; then compare the "
            "thumbprint the portal shows with this certificate's.",
            CERT_CREDENTIALS_DOC,
        ),
        # 7000274: a newer code for a client assertion Entra ID does not accept with the keys
        # registered on the app. Microsoft.Identity.Web lists it among the certificate errors
        # that make it reload its certificate (its tests call it "ClientAssertionContains-
        # InvalidSignature", its constants "CertificateNotWithinValidityPeriod"):
        # https://github.com/AzureAD/microsoft-identity-web/blob/master/tests/Microsoft.Identity.Web.Test/CertificateReloadLogicTests.cs
        _entry(
            7000274,
            "Certificate not accepted (signature or key)",
            "Entra ID could not verify the signed request with any certificate registered on "
            "the app: the certificate was never uploaded to this app (or was removed), or the "
            "request was signed with a private key that doesn't belong to it, or the "
            "certificate is outside its validity dates. This is a newer code for the same "
            "refusal as AADSTS700027.",
            f"Upload the .cer file to the app registration: {UPLOAD_CERTIFICATE}; sign with the "
            "private key created together with it (the .key or .pfx from the same folder).",
            CERT_CREDENTIALS_DOC,
        ),
        # 70002 + 50012: how older tenants (and ADAL-era answers) refuse a client assertion:
        # "AADSTS70002: Error validating credentials. AADSTS50012: <why>", error_codes
        # [70002, 50012]; the second text names the reason (an unknown key, a bad signature,
        # the audience, the time range). Seen in
        # https://github.com/AzureAD/azure-activedirectory-library-for-python/issues/79 and
        # https://github.com/Azure-Samples/active-directory-dotnet-daemon-certificate-credential/issues/46
        _entry(
            70002,
            "Credentials not accepted",
            "Entra ID could not validate the app's credential. With a certificate this is the "
            "older form of AADSTS700027: the second code (AADSTS50012) and Microsoft's text "
            "below say why: a certificate not registered on the app, a signature made with "
            "another private key, or an assertion made for another tenant or at the wrong time.",
            f"Upload the .cer file to the app registration: {UPLOAD_CERTIFICATE}; sign with the "
            "private key from the same folder; check this computer's clock.",
            CERT_CREDENTIALS_DOC,
        ),
        _entry(
            700024,
            "Client assertion is not within its valid time range",
            "The signed request carries timestamps from this computer's clock, and Entra ID "
            "thinks they are in the future or too old: this machine's clock is off.",
            "Synchronise the clock (Linux: timedatectl set-ntp true; Windows: w32tm /resync) "
            "and test again.",
        ),
        _entry(
            7000216,
            "No credential in the request",
            "The token request carried neither a certificate assertion nor a secret. For the "
            "negative test this is the expected refusal.",
            "In a script, pass the certificate (private key and thumbprint or certificate) "
            "to your library; an app can't sign in with its client ID alone.",
        ),
        _entry(
            7000218,
            "No credential in the request",
            "The request body had no client_assertion or client_secret. For the negative test "
            "this is the expected refusal.",
            "In a script, pass the certificate to your library; an app can't sign in with its "
            "client ID alone.",
        ),
        _entry(
            7000215,
            "Invalid client secret",
            "A client secret was sent and it is wrong. A frequent mix-up: the secret's ID (a "
            "GUID) was copied instead of its Value, which is shown only once.",
            "Use the certificate instead of a secret (that is what this tool sets up); if a "
            "script must use a secret, create a new one and copy its Value immediately.",
        ),
        _entry(
            700025,
            "The app is a public client",
            "The app registration is marked as a public client, which may not present any "
            "credential, so the certificate is refused.",
            "In the app registration, Authentication > Advanced settings: set 'Allow public "
            "client flows' to No, save, and test again.",
        ),
        _entry(
            1002012,
            "Scope must end with /.default",
            "App-only sign-in asks for all granted permissions of a resource at once; a scope "
            "such as User.Read is only for signed-in users.",
            "Request the scope 'https://graph.microsoft.com/.default' (the resource followed by "
            "/.default). Permissions are chosen in the app registration, not in the request.",
        ),
        _entry(
            500011,
            "Resource not found in the tenant",
            "The resource (API) the token was requested for does not exist in this tenant, "
            "typically a Graph address of another cloud (graph.microsoft.com from US "
            "Government or China) or a typo in the scope.",
            "Pick the cloud the tenant is in (--cloud) so the Graph resource matches it, or "
            "fix the resource URI in the scope.",
            NATIONAL_CLOUDS_DOC,
        ),
        _entry(
            900382,
            "Cross-cloud request",
            "The tenant lives in a different national cloud from the sign-in host you used, "
            "and an app with a certificate can't sign in across clouds.",
            "Choose the tenant's cloud: --cloud usgov (GCC High), usgov-dod, china, or "
            "global, and test again.",
            NATIONAL_CLOUDS_DOC,
        ),
        _entry(
            1000502,
            "Certificate outside its validity dates",
            "Entra ID refused the certificate because of its dates: it is expired, or it is "
            "not valid yet (its start date is in the future, which also happens when this "
            "computer's clock is wrong).",
            "Check the certificate's 'not before' and 'not after' dates (entra-cert-wizard "
            "inspect FILE); renew an expired one, or fix the clock and wait for the start date.",
        ),
        _entry(
            7000112,
            "Application is disabled",
            "The app's service principal is disabled in the tenant (Enterprise applications > "
            "Properties > Enabled for users to sign in = No).",
            "Ask an administrator to enable the enterprise application, then test again.",
        ),
        _entry(
            53003,
            "Blocked by Conditional Access",
            "A Conditional Access policy for workload identities blocked this sign-in, often "
            "by the server's IP address or location.",
            "Check Entra ID sign-in logs (Service principal sign-ins) for the policy, and ask "
            "an administrator to allow this server.",
        ),
        _entry(
            700038,
            "Not a valid application identifier",
            "The client ID sent is not a well-formed Application (client) ID.",
            "Copy 'Application (client) ID' from the app registration's Overview page.",
        ),
        _entry(
            700023,
            "Assertion audience does not match",
            "The signed request was made for another token endpoint (tenant or cloud) than the "
            "one it was sent to.",
            "Use the same tenant and cloud for the authority as for the request; with MSAL, "
            "create the app with authority=<host>/<tenant>.",
            CERT_CREDENTIALS_DOC,
        ),
        _entry(
            70011,
            "Invalid scope",
            "The scope in the request isn't valid for this flow or resource.",
            "Request '<resource>/.default', e.g. https://graph.microsoft.com/.default.",
        ),
    )
}

# 700027 covers three different failures; the description text tells them apart. Entra words
# "key not found" two ways: "Client assertion contains an invalid signature. [Reason - The key
# was not found., Thumbprint of key used by client: '…', …]" and the newer "The certificate with
# identifier used to sign the client assertion is not registered on application. [Reason - The
# key was not found., …]"; the Thumbprint element is left out when the assertion names no SHA-1
# thumbprint. Seen in https://github.com/pnp/cli-microsoft365/issues/1621 (older),
# https://github.com/keycloak/keycloak/issues/19425 (newer, no thumbprint) and
# https://github.com/AzureAD/microsoft-authentication-library-for-js/issues/8339 (newer, with).
_700027_NOT_FOUND = replace(
    _AADSTS[700027],
    title="Certificate not registered on the app (key not found)",
    cause="Entra ID does not know this certificate: it was never uploaded to this app "
    "registration, it was uploaded to a different app, or it was removed. Right after an "
    "upload, it can also take up to a minute before Entra ID accepts it.",
)
_700027_SIGNATURE = replace(
    _AADSTS[700027],
    title="Signature check failed",
    cause="The request names a registered certificate but was signed with a private key "
    "that doesn't belong to it: the key file and the certificate file don't match.",
    fix="Use the private key created together with the uploaded certificate (the .key or "
    ".pfx from the same folder); if it is lost, make a new certificate and upload it.",
)
_700027_NOT_YET_VALID = replace(
    _AADSTS[700027],
    title="Certificate not valid yet",
    cause="The certificate registered on the app has a start date in the future (or this "
    "computer's clock is behind), so Entra ID does not accept it yet.",
    fix="Check this computer's clock; otherwise wait until the certificate's start date, or "
    "make a new certificate that is valid from now.",
)
_700027_EXPIRED = replace(
    _AADSTS[700027],
    title="Certificate expired",
    cause="The certificate registered on the app has expired, so Entra ID no longer accepts "
    "it.",
    fix="Renew it: make a new certificate, upload it beside the old one, test, then remove "
    "the old one (entra-cert-wizard rotate does this without an outage).",
)

Reason700027 = Literal["not-found", "signature", "expired", "not-yet-valid", "unknown"]


def reason_700027(description: str) -> Reason700027:
    """Which of AADSTS700027's failures the description names (Entra's '[Reason - ...]')."""
    lowered = (description or "").lower()
    if "not yet valid" in lowered:
        return "not-yet-valid"
    if "expired" in lowered:
        return "expired"
    if "not found" in lowered or "not registered" in lowered:
        return "not-found"
    if "signature" in lowered:
        return "signature"
    return "unknown"


_CODE_IN_TEXT = re.compile(r"AADSTS(\d+)")
_TRACE_LINES = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*", re.DOTALL)
_THUMBPRINT_IN_TEXT = re.compile(r"Thumbprint of key used by client: '([0-9A-Fa-f]+)'")


def service_text(description: str) -> str:
    """Microsoft's description without the trace lines (kept short for the screen)."""
    text = _TRACE_LINES.sub("", description or "").strip()
    return re.sub(r"\s+", " ", text)


def aadsts_code(description: str, error_codes: object = None) -> int | None:
    """The AADSTS number of an answer: from `error_codes` or, failing that, the description."""
    codes = aadsts_codes(description, error_codes)
    return codes[0] if codes else None


def aadsts_codes(description: str, error_codes: object = None) -> tuple[int, ...]:
    """Every AADSTS number of an answer, in order: `error_codes`, or failing that the
    description's (older answers carry two, e.g. 70002 then 50012)."""
    if isinstance(error_codes, list):
        codes = tuple(
            int(code) for code in error_codes
            if isinstance(code, int) or (isinstance(code, str) and code.isdigit())
        )
        if codes:
            return codes
    return tuple(int(found) for found in _CODE_IN_TEXT.findall(description or ""))


def explain_aadsts(code: int, description: str = "") -> Explanation:
    """The catalogue entry for an AADSTS code; Microsoft's own text and link if unknown."""
    text = service_text(description) or None
    entry = _AADSTS.get(code)
    if entry is None:
        return Explanation(
            code=f"AADSTS{code}",
            title=f"Entra ID refused the request (AADSTS{code})",
            cause=text or "Entra ID gave no description for this error.",
            fix="Open the error page below for Microsoft's advice on this code.",
            link=ERROR_PAGE.format(code=code),
            service_text=text,
        )
    if code == 700027:
        entry = {
            "not-yet-valid": _700027_NOT_YET_VALID,
            "expired": _700027_EXPIRED,
            "not-found": _700027_NOT_FOUND,
            "signature": _700027_SIGNATURE,
            "unknown": entry,
        }[reason_700027(description)]
        thumbprint = _THUMBPRINT_IN_TEXT.search(description or "")
        if thumbprint:
            entry = replace(
                entry,
                cause=f"{entry.cause} (Entra ID saw the certificate with thumbprint "
                f"{thumbprint.group(1).upper()}.)",
            )
    return replace(entry, service_text=text)


def explain_error_response(body: dict[str, object]) -> Explanation:
    """An OAuth error body ({"error", "error_description", "error_codes"}) explained."""
    description = str(body.get("error_description") or "")
    code = aadsts_code(description, body.get("error_codes"))
    if code is not None:
        return explain_aadsts(code, description)
    error = str(body.get("error") or "unknown_error")
    return Explanation(
        code=error,
        title=f"The sign-in service refused the request ({error})",
        cause=service_text(description) or "The service gave no description.",
        fix="Check the tenant, the client ID and the certificate, then test again.",
        service_text=service_text(description) or None,
    )


# ---------------------------------------------------------------- Microsoft Graph

GRAPH_403 = Explanation(
    code="GRAPH-403",
    title="Signed in fine, but the app lacks Organization.Read.All with admin consent",
    cause="The certificate works: Entra ID issued a token. Microsoft Graph refused the call "
    "because the token carries no permission to read the organization "
    "(Authorization_RequestDenied: Insufficient privileges).",
    fix="In the app registration: API permissions > Add a permission > Microsoft Graph > "
    "Application permissions > Organization.Read.All, then 'Grant admin consent for <your "
    "organization>'. Test again after a minute.",
    link=ADMIN_CONSENT_DOC,
)
GRAPH_401 = Explanation(
    code="GRAPH-401",
    title="Microsoft Graph did not accept the token",
    cause="Graph rejected the token itself (InvalidAuthenticationToken): usually a token for "
    "another cloud's Graph (graph.microsoft.com vs graph.microsoft.us / chinacloudapi.cn), "
    "or a token that expired on the way because the clock is far off.",
    fix="Choose the cloud the tenant lives in (--cloud) so the token's audience matches the "
    "Graph you call, and check this computer's clock.",
    link=NATIONAL_CLOUDS_DOC,
)


def explain_graph(status: int, body: str = "") -> Explanation:
    """A Microsoft Graph error answer explained (401, 403, throttling, outages)."""
    graph_text = _graph_message(body)
    if status == 403:
        return replace(GRAPH_403, service_text=graph_text)
    if status == 401:
        return replace(GRAPH_401, service_text=graph_text)
    if status == 429 or status >= 500:
        return replace(explain_http_status(status, None, body), service_text=graph_text)
    return Explanation(
        code=f"GRAPH-{status}",
        title=f"Microsoft Graph answered HTTP {status}",
        cause=graph_text or "Graph gave no error message.",
        fix="Test again; if it persists, check the Graph endpoint for this cloud.",
        link=ORGANIZATION_GET_DOC,
        service_text=graph_text,
    )


def _graph_message(body: str) -> str | None:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code", "")
        message = error.get("message", "")
        return f"{code}: {message}".strip(": ") or None
    return None


# ---------------------------------------------------------------- an admin's sign-in and app changes

# Every failure of the admin path ends with the way that always works: the portal, by hand.
MANUAL_STEPS = f"Or use the manual steps: {UPLOAD_CERTIFICATE}."
APP_ROLES_DOC = "https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference#application-administrator"
DEVICE_CODE_CA_DOC = (
    "https://learn.microsoft.com/en-us/entra/identity/conditional-access/policy-block-authentication-flows"
)
UPDATE_APPLICATION_DOC = "https://learn.microsoft.com/en-us/graph/api/application-update"


def _admin(code: str, title: str, cause: str, fix: str, link: str | None = None) -> Explanation:
    return Explanation(code, title, cause, f"{fix} {MANUAL_STEPS}", link)


ADMIN_CONDITIONAL_ACCESS = _admin(
    "ADMIN-CONDITIONAL-ACCESS",
    "Device code sign-in blocked by Conditional Access",
    "A Conditional Access policy of the tenant blocked this sign-in. Many tenants block the "
    "device code flow (Authentication flows > Device code flow), because it is a favourite "
    "of phishing campaigns.",
    "Ask an administrator for an exception for this sign-in, or upload the certificate in the "
    "portal yourself.",
    DEVICE_CODE_CA_DOC,
)
ADMIN_FORBIDDEN = _admin(
    "ADMIN-FORBIDDEN",
    "Signed in, but not allowed to change this app",
    "Microsoft Graph refused the change (Authorization_RequestDenied): the account that signed "
    "in holds no role that may edit app registrations (Application Administrator, Cloud "
    "Application Administrator) and is not an owner of the app, or the sign-in was not "
    "granted Application.ReadWrite.All.",
    "Sign in with an account that holds one of those roles (or owns the app), or ask such an "
    "administrator to add the certificate.",
    APP_ROLES_DOC,
)
ADMIN_EXPIRED = _admin(
    "ADMIN-EXPIRED",
    "The sign-in code expired",
    "Nobody finished the sign-in with the code before it expired (codes last about 15 "
    "minutes).",
    "Start again and enter the new code soon after it appears.",
)
ADMIN_DECLINED = _admin(
    "ADMIN-DECLINED",
    "The sign-in was declined",
    "On the sign-in page the request was declined, so no permission was given and nothing "
    "was changed.",
    "Start again and approve the request, if it was yours.",
)
ADMIN_CANCELLED = _admin(
    "ADMIN-CANCELLED",
    "Cancelled",
    "The admin sign-in was cancelled before anything was changed on the app.",
    "Start again when ready.",
)
ADMIN_APP_NOT_FOUND = _admin(
    "ADMIN-APP-NOT-FOUND",
    "No app registration with this client ID",
    "Microsoft Graph found no application with this Application (client) ID in the tenant "
    "the admin signed in to: a typo, the Object ID copied instead, or another tenant.",
    "Copy 'Application (client) ID' from the app registration's Overview page and sign in to "
    "the tenant that holds it.",
)
ADMIN_CHANGED_UNDERNEATH = _admin(
    "ADMIN-CHANGED-UNDERNEATH",
    "The app's certificates changed while the wizard was working",
    "Between reading the app's certificates and writing them back, someone (or something) "
    "else changed them. Writing now could remove a certificate that was just added, so "
    "nothing was written.",
    "Check the app's certificates in the portal, then start again.",
    UPDATE_APPLICATION_DOC,
)
ADMIN_NOT_VERIFIED = _admin(
    "ADMIN-NOT-VERIFIED",
    "The app's certificates are not what was written",
    "After the change, reading the app back did not show every certificate it had before "
    "plus the new one.",
    "Check the app's certificates in the portal now; add back any that is missing.",
    UPDATE_APPLICATION_DOC,
)
ADMIN_SIGN_IN_REFUSED = _admin(
    "ADMIN-SIGN-IN-REFUSED",
    "The admin sign-in was refused",
    "Entra ID refused the device code sign-in; its own words are below.",
    "Check the tenant; if the tenant blocks the public client used for this sign-in, name "
    "another one with --admin-client-id.",
)


def explain_admin_sign_in(body: dict[str, object]) -> Explanation:
    """A refused device code sign-in: Conditional Access and the RFC 8628 answers in our
    words, anything else with Entra's own."""
    error = str(body.get("error") or "")
    description = str(body.get("error_description") or "")
    text = service_text(description) or None
    codes = aadsts_codes(description, body.get("error_codes"))
    # AADSTS53000-53004 and 530xxx: a Conditional Access policy said no.
    if any(53000 <= code <= 53004 or 530000 <= code < 531000 for code in codes):
        return replace(ADMIN_CONDITIONAL_ACCESS, service_text=text)
    if error == "expired_token" or 70020 in codes:
        return replace(ADMIN_EXPIRED, service_text=text)
    if error == "authorization_declined" or (70000 in codes and "declined" in description):
        return replace(ADMIN_DECLINED, service_text=text)
    if codes:
        known = explain_aadsts(codes[0], description)
        return replace(ADMIN_SIGN_IN_REFUSED, title=f"{ADMIN_SIGN_IN_REFUSED.title}: {known.title}",
                       service_text=text, link=known.link)
    return replace(ADMIN_SIGN_IN_REFUSED, code=error or ADMIN_SIGN_IN_REFUSED.code,
                   service_text=text)


def explain_admin_graph(status: int, body: str = "") -> Explanation:
    """A Graph refusal of an admin's change: 403 is the missing role, not the app's consent."""
    if status == 403:
        return replace(ADMIN_FORBIDDEN, service_text=_graph_message(body))
    if status == 404:
        return replace(ADMIN_APP_NOT_FOUND, service_text=_graph_message(body))
    explanation = explain_graph(status, body)
    return replace(explanation, fix=f"{explanation.fix} {MANUAL_STEPS}")


# ---------------------------------------------------------------- HTTP answers that are not OAuth

def explain_http_status(status: int, retry_after: str | None, body: str = "") -> Explanation:
    """429, 5xx, or any answer whose body is not the JSON a sign-in service sends."""
    if status == 429:
        wait = f" It asked to wait {retry_after} seconds (Retry-After)." if retry_after else ""
        return Explanation(
            code="HTTP-429",
            title="Too many requests (throttled)",
            cause=f"The service is limiting requests from this app or network.{wait}",
            fix="Wait the time it asked for and test again; scripts should honour Retry-After "
            "and back off.",
            link=THROTTLING_DOC,
        )
    if status >= 500:
        wait = f" It asked to retry after {retry_after} seconds." if retry_after else ""
        return Explanation(
            code=f"HTTP-{status}",
            title=f"The service had a problem (HTTP {status})",
            cause="The sign-in or Graph service answered with a server error: a temporary "
            f"outage on its side, not a problem with your certificate.{wait}",
            fix="Test again in a minute; if it persists, check the Microsoft 365 / Azure "
            "service health page.",
        )
    return explain_not_json(status, body)


def explain_not_json(status: int | None, body: str = "") -> Explanation:
    snippet = re.sub(r"\s+", " ", body or "").strip()[:120]
    got = f" (HTTP {status})" if status else ""
    return Explanation(
        code="NOT-JSON",
        title="The answer was not from the sign-in service",
        cause=f"Instead of a JSON answer the server sent something else{got}"
        + (f": {snippet!r}" if snippet else "")
        + ". Typically a proxy's or firewall's block page, a captive portal, or a wrong host.",
        fix="Open the authority host in a browser from this server, check the proxy "
        "(HTTPS_PROXY/NO_PROXY) and the cloud you chose.",
    )


# ---------------------------------------------------------------- failures before any answer

DNS_FAILURE = Explanation(
    code="DNS",
    title="Host name could not be resolved",
    cause="This computer could not look up the sign-in host's name: no DNS, no network, a "
    "typo in a custom host, or a network that only allows a proxy.",
    fix="Check the network and DNS (try: nslookup login.microsoftonline.com); behind a proxy, "
    "set HTTPS_PROXY=http://proxy:port.",
    link=REQUESTS_PROXY_DOC,
)
CONNECTION_REFUSED = Explanation(
    code="CONNECTION-REFUSED",
    title="Connection refused",
    cause="The host was found, but nothing accepted the connection on that port: a firewall "
    "rejecting it, or (for the demo tenant) the demo tenant is not running.",
    fix="Check the address and port; for the demo tenant, start it (entra-cert-wizard "
    "emulator) or use --demo; otherwise ask for outbound HTTPS (443) to be allowed.",
)
CONNECTION_RESET = Explanation(
    code="CONNECTION-RESET",
    title="Connection dropped",
    cause="The connection was cut before a complete answer arrived: a proxy or firewall "
    "interfering, or a network glitch.",
    fix="Test again; if it repeats, check the proxy/firewall between this server and the "
    "sign-in host.",
)
TIMEOUT = Explanation(
    code="TIMEOUT",
    title="No answer in time",
    cause="The service did not answer within the time limit: a slow or filtered network, a "
    "proxy holding the connection, or an outage.",
    fix="Test again; on a slow network raise the limit with --timeout 60; check that "
    "outbound HTTPS is allowed.",
)
TLS_FAILURE = Explanation(
    code="TLS",
    title="The server's certificate is not trusted (TLS verification failed)",
    cause="The HTTPS certificate presented for the sign-in host is not signed by a CA this "
    "computer trusts. On company networks this is usually a proxy that inspects HTTPS and "
    "re-signs traffic with its own CA; for the demo tenant, its CA was not given.",
    fix="Get the proxy's root CA (PEM) from IT and install it in the system's trust store "
    "(Linux: update-ca-certificates, or export SSL_CERT_FILE=/path/to/ca.pem; Windows and "
    "macOS: the system's certificate store), or point to it: --ca-bundle FILE, or export "
    "REQUESTS_CA_BUNDLE=/path/to/ca-bundle.pem. For the demo tenant pass its ca_bundle. "
    "Never turn verification off.",
    link=REQUESTS_TLS_DOC,
)
PROXY_FAILURE = Explanation(
    code="PROXY",
    title="The proxy refused or failed the connection",
    cause="The HTTPS proxy configured in the environment (HTTPS_PROXY) could not be reached, "
    "needs authentication, or refused to connect to the sign-in host.",
    fix="Check HTTPS_PROXY (http://user:password@proxy:port if it needs a login) and "
    "NO_PROXY; ask IT to allow login.microsoftonline.com and graph.microsoft.com.",
    link=REQUESTS_PROXY_DOC,
)

# Failures of the network itself, before any answer from Entra.
NETWORK_FAILURE_CODES = frozenset(
    entry.code
    for entry in (DNS_FAILURE, CONNECTION_REFUSED, CONNECTION_RESET, TIMEOUT, TLS_FAILURE, PROXY_FAILURE)
)

KEY_PASSPHRASE = Explanation(
    code="KEY-PASSPHRASE",
    title="Wrong passphrase for the private key",
    cause="The private key is encrypted and the passphrase given does not open it (or none "
    "was given).",
    fix="Give the passphrase chosen when the certificate was made, e.g. "
    "--passphrase-env VAR with the passphrase in that environment variable.",
)
KEY_MISSING = Explanation(
    code="KEY-MISSING",
    title="Key or certificate file not found",
    cause="A file named for the test does not exist (moved, deleted, or a typo in the path).",
    fix="Check the path; the generated files live in one folder per certificate (.cer, .pem, "
    ".key, .pfx).",
)
KEY_MISMATCH = Explanation(
    code="KEY-MISMATCH",
    title="The private key does not belong to the certificate",
    cause="The key file and the certificate file are from different pairs, so anything signed "
    "with this key would be refused (AADSTS700027).",
    fix="Use the .key (or .pfx) written in the same folder as the certificate you uploaded.",
)
LOCAL_CERT_EXPIRED = Explanation(
    code="CERT-EXPIRED",
    title="The certificate has expired",
    cause="Its 'not after' date has passed; Entra ID refuses expired certificates "
    "(AADSTS700027, 'key used is expired').",
    fix="Make a new certificate, upload it, test, then remove the old one "
    "(entra-cert-wizard rotate).",
)
LOCAL_CERT_NOT_YET_VALID = Explanation(
    code="CERT-NOT-YET-VALID",
    title="The certificate is not valid yet",
    cause="Its 'not before' date is in the future, or this computer's clock is behind.",
    fix="Check the clock (timedatectl / w32tm /resync); otherwise wait for the start date.",
)
CERT_EXPIRES_SOON = Explanation(
    code="CERT-EXPIRES-SOON",
    title="The certificate expires soon",
    cause="When it expires, every script using it stops signing in.",
    fix="Plan the renewal now: entra-cert-wizard rotate replaces it without an outage.",
)
CLOCK_SKEW = Explanation(
    code="CLOCK-SKEW",
    title="This computer's clock is off",
    cause="The signed request carries this computer's time; a clock more than a few minutes "
    "off makes Entra ID refuse it (AADSTS700024).",
    fix="Turn on time synchronisation (Linux: timedatectl set-ntp true; Windows: w32tm "
    "/resync).",
)
TOKEN_MISMATCH = Explanation(
    code="TOKEN-MISMATCH",
    title="The token is not for the app or tenant entered",
    cause="The token's appid/tid claims differ from the Application (client) ID or the "
    "tenant you entered: something between this computer and Entra ID is not what it seems.",
    fix="Check the IDs, the cloud and any proxy or custom authority host in use.",
)
NO_ROLES = Explanation(
    code="NO-ROLES",
    title="No application permissions: admin consent not granted",
    cause="The token carries no roles, so the app may sign in but can't read anything.",
    fix="In the app registration: API permissions > add the application permissions the script "
    "needs (e.g. Microsoft Graph Organization.Read.All) > Grant admin consent.",
    link=ADMIN_CONSENT_DOC,
)
NEGATIVE_ALARM = Explanation(
    code="ALARM",
    title="ALARM: a token was issued without the certificate",
    cause="The tenant gave a token to a request that must be refused. Anyone who knows the "
    "client ID (or downloads the public certificate) can act as this app with all its "
    "permissions.",
    fix="Treat it as a security incident: remove the app's client secrets and federated "
    "credentials you don't recognise, review its sign-in logs, and test again. (On the demo "
    "tenant, the 'accept-any' fault is switched on.)",
)
PROBE_UNRELATED = Explanation(
    code="INCONCLUSIVE",
    title="Refused, but for an unrelated reason",
    cause="The request was refused before the credential was even checked (unknown app, wrong "
    "tenant, network), so it proves nothing about the certificate.",
    fix="Fix the positive test first (correct client ID, tenant, network), then run the "
    "negative test again.",
)
CANCELLED = Explanation(
    code="CANCELLED",
    title="Cancelled",
    cause="The test was cancelled before it finished.",
    fix="Run it again when ready.",
)


class KeyLoadError(UserError):
    """A key, certificate or PFX that could not be opened; `explanation` says why."""

    def __init__(self, explanation: Explanation, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or explanation.fix)
        self.explanation = explanation


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3 reasons, args)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


def _type_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def explain_exception(exc: BaseException) -> Explanation:
    """The catalogue entry for a failure that is not an answer from Entra ID or Graph."""
    if isinstance(exc, KeyLoadError):
        return exc.explanation
    chain = list(_chain(exc))
    names: set[str] = set()
    for item in chain:
        names |= _type_names(item)
    text = " ".join(str(item) for item in chain).lower()
    detail = str(exc)
    # Order matters: a proxy failure also looks like a connection error, and a TLS failure
    # through a proxy mentions both.
    if "SSLError" in names or any(isinstance(e, ssl.SSLError) for e in chain):
        return _with_detail(TLS_FAILURE, detail)
    if "ProxyError" in names:
        return _with_detail(PROXY_FAILURE, detail)
    if (
        "NameResolutionError" in names
        or any(isinstance(e, socket.gaierror) for e in chain)
        or "name or service not known" in text
        or "nodename nor servname" in text
        or "failed to resolve" in text
        or "getaddrinfo failed" in text
    ):
        return _with_detail(DNS_FAILURE, detail)
    if any(
        isinstance(e, ConnectionRefusedError)
        or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED)
        for e in chain
    ) or "connection refused" in text:
        return _with_detail(CONNECTION_REFUSED, detail)
    # urllib3's NewConnectionError (refused, DNS) subclasses ConnectTimeoutError, so a
    # timeout is recognised by the requests/socket types only, after DNS and refusals.
    if (
        names & {"ReadTimeout", "ConnectTimeout", "ReadTimeoutError"}
        or any(isinstance(e, socket.timeout | TimeoutError) for e in chain)
        or "read timed out" in text
    ):
        return _with_detail(TIMEOUT, detail)
    if (
        "ChunkedEncodingError" in names
        or "RemoteDisconnected" in names
        or "ProtocolError" in names
        or any(isinstance(e, ConnectionResetError | BrokenPipeError) for e in chain)
        or "connection aborted" in text
        or "connection reset" in text
    ):
        return _with_detail(CONNECTION_RESET, detail)
    if "JSONDecodeError" in names:
        return explain_not_json(None, "")
    if names & {"WrongPassphrase", "PassphraseNeeded"}:
        return _with_detail(KEY_PASSPHRASE, detail)
    if isinstance(exc, FileNotFoundError):
        return _with_detail(KEY_MISSING, f"{exc.filename or detail}")
    if "ConnectionError" in names:
        return _with_detail(CONNECTION_RESET, detail)
    return Explanation(
        code="UNEXPECTED",
        title="Unexpected error",
        cause=f"{type(exc).__name__}: {detail}",
        fix="Run the test again with --debug and report the output if it repeats.",
    )


def with_trust_source(explanation: Explanation, source: str) -> Explanation:
    """A TLS failure says which certificates were trusted; any other explanation is kept."""
    if explanation.code != TLS_FAILURE.code:
        return explanation
    return replace(explanation, cause=f"{explanation.cause} Trusted here: {source}.")


def _with_detail(entry: Explanation, detail: str) -> Explanation:
    return replace(entry, service_text=re.sub(r"\s+", " ", detail).strip()[:300] or None)
