"""Entra ID's token service as the demo tenant serves it, and the envelope of its refusals.

    GET  /common/discovery/instance                        instance discovery (MSAL asks first)
    GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID configuration (90002; 200 for
                                                           common and organizations)
    GET  /{tenant}/discovery/v2.0/keys                     the tenant's token-signing keys
    POST /{tenant}/oauth2/v2.0/token                       client credentials + client assertion,
                                                           or a device code (device_login)
    POST /{tenant}/oauth2/v2.0/devicecode                  the device code flow's first step

{tenant} is the tenant's GUID or domain; anything else answers Entra's own refusal (900023
on the token endpoint for common, organizations or a malformed name).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wizard.emulator import device_login, errors
from wizard.emulator.assertions import JWT_BEARER, verify_client_assertion
from wizard.emulator.device_code import DEVICE_CODE_GRANT
from wizard.emulator.directory import DNS_RE, GRAPH_APP_ID, GRAPH_RESOURCE, GUID_RE, KeyCredential
from wizard.emulator.errors import EntraError
from wizard.emulator.faults import answer_with_fault
from wizard.emulator.transport import RequestHandler, plain_error
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

log = logging.getLogger("wizard.emulator")

# Entra's multi-tenant authorities: their OpenID configuration answers 200 (issuer template
# "{tenantid}", jwks_uri under the same segment, no region; as published for /common, see
# panva/wellknown issuers/entra-common); only the token endpoint refuses them (900023).
MULTI_TENANT_SEGMENTS = ("common", "organizations")
# Entra's instance discovery names every cloud's sign-in hosts as alias groups; the global
# group is what a --public-hosts tenant answers as. From recorded answers of
# login.microsoftonline.com/common/discovery/instance?api-version=1.1 (e.g. the recordings
# of Azure/azure-sdk-for-js), which also fill the requested tenant into the endpoint.
PUBLIC_ALIAS_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "login.microsoftonline.com",
        "login.windows.net",
        ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"),
    ),
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        ("login.partner.microsoftonline.cn", "login.chinacloudapi.cn"),
    ),
    ("login.microsoftonline.de", "login.microsoftonline.de", ("login.microsoftonline.de",)),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        ("login.microsoftonline.us", "login.usgovcloudapi.net"),
    ),
    ("login-us.microsoftonline.com", "login-us.microsoftonline.com", ("login-us.microsoftonline.com",)),
)
OPENID_CONFIGURATION_PATHS = (
    "v2.0/.well-known/openid-configuration",
    ".well-known/openid-configuration",
)
# The Graph host Entra's OpenID configuration names for a cloud_instance_name (cloud-instance
# fault); other instances keep the global one.
MSGRAPH_HOSTS = {
    "microsoftonline.us": "graph.microsoft.us",
    "partner.microsoftonline.cn": "microsoftgraph.chinacloudapi.cn",
}


def send_entra_error(handler: RequestHandler, tenant: DemoTenant, error: EntraError) -> None:
    """Answer with Entra's error envelope, echoing the client's request ID like Entra does."""
    body = error.envelope(
        authority_host=tenant.authority_host, correlation_id=_correlation_id(handler)
    )
    headers = {"x-ms-request-id": str(body["trace_id"]), **error.headers}
    handler.send_json(error.status, body, headers)


def _correlation_id(handler: RequestHandler) -> str:
    value = handler.headers.get("client-request-id", "") if handler.headers else ""
    return value if GUID_RE.match(value) else str(uuid.uuid4())


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> bool:
    """Answer a request for the token service; False when the path is not one of its own."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "":
        return False
    segment, rest = urllib.parse.unquote(parts[1]), "/".join(parts[2:])
    if segment == "common" and rest == "discovery/instance" and method == "GET":
        if not answer_with_fault(handler, tenant.faults, "instance-discovery"):
            _instance_discovery(handler, tenant)
        return True
    if rest in OPENID_CONFIGURATION_PATHS:
        if method != "GET":
            handler.send_json(
                405, plain_error("MethodNotAllowed", "This method is not allowed here.")
            )
        elif not answer_with_fault(handler, tenant.faults, "discovery"):
            _openid_configuration(handler, tenant, segment)
        return True
    if rest == "discovery/v2.0/keys" and method == "GET":
        if not answer_with_fault(handler, tenant.faults, "discovery"):
            if segment.lower() not in MULTI_TENANT_SEGMENTS:
                resolve_tenant(tenant, segment, error_name="invalid_tenant")
            handler.send_json(200, tenant.issuer.jwks(tenant.issuer_v2))
        return True
    if rest == "oauth2/v2.0/devicecode":
        if method != "POST":
            raise errors.post_only(method)
        if not answer_with_fault(handler, tenant.faults, "token"):
            resolve_tenant(tenant, segment, error_name="invalid_request")
            device_login.start(handler, tenant, body)
        return True
    if rest == "oauth2/v2.0/token":
        if method != "POST":
            raise errors.post_only(method)
        if not answer_with_fault(handler, tenant.faults, "token"):
            _token(handler, tenant, segment, body)
        return True
    return False


def resolve_tenant(tenant: DemoTenant, identifier: str, *, error_name: str) -> str:
    """The tenant ID for a GUID or domain in a URL, or Entra's 90002/900023 refusal."""
    directory = tenant.directory
    if GUID_RE.match(identifier) or DNS_RE.match(identifier):
        if directory.tenant_matches(identifier):
            return directory.tenant.tenant_id
        error = errors.tenant_not_found(identifier)
    else:
        # 'common', 'organizations' and other non-DNS names land here too: the demo
        # tenant serves one tenant only and app-only flows need a specific tenant.
        error = errors.tenant_malformed(identifier)
    error.error = error_name
    raise error


# -- discovery -----------------------------------------------------------------------------


def _instance_discovery(handler: RequestHandler, tenant: DemoTenant) -> None:
    """Entra's instance discovery: the tenant from `authorization_endpoint` filled into the
    discovery endpoint (else the "{tenant}" template), and the hosts' alias groups."""
    host = tenant.login_host_for(handler.headers.get("Host", ""))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
    asked = urllib.parse.urlsplit(query.get("authorization_endpoint", [""])[0]).path
    requested = asked.split("/")[1] if asked.count("/") >= 2 else ""
    requested = requested if GUID_RE.match(requested) or DNS_RE.match(requested) else "{tenant}"
    if tenant.public_hosts:
        groups = [
            {"preferred_network": network, "preferred_cache": cache, "aliases": list(aliases)}
            for network, cache, aliases in PUBLIC_ALIAS_GROUPS
        ]
    else:
        netloc = urllib.parse.urlsplit(tenant.authority_host).netloc
        groups = [{"preferred_network": netloc, "preferred_cache": netloc, "aliases": [netloc]}]
    handler.send_json(
        200,
        {
            "tenant_discovery_endpoint": (
                f"{host}/{requested}/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": groups,
        },
    )


def _openid_configuration(handler: RequestHandler, tenant: DemoTenant, segment: str) -> None:
    host = tenant.login_host_for(handler.headers.get("Host", ""))
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        config = openid_configuration(host, segment, "{tenantid}")
        config["jwks_uri"] = f"{host}/{segment}/discovery/v2.0/keys"
        config["tenant_region_scope"] = None
        handler.send_json(200, config)
        return
    if not (GUID_RE.match(segment) or DNS_RE.match(segment)):
        # Entra answers a malformed tenant on its OpenID configuration with 90002 ("Tenant
        # '...' not found"); 900023 is the token endpoint's answer.
        raise errors.tenant_not_found(segment)
    canonical = resolve_tenant(tenant, segment, error_name="invalid_tenant")
    config = openid_configuration(host, segment, canonical)
    elsewhere = tenant.faults.take("discovery", ("cloud-instance",))
    if elsewhere is not None and elsewhere.instance:
        config["cloud_instance_name"] = elsewhere.instance
        config["msgraph_host"] = MSGRAPH_HOSTS.get(elsewhere.instance, config["msgraph_host"])
    handler.send_json(200, config)


def openid_configuration(authority_host: str, requested: str, tenant_id: str) -> dict[str, Any]:
    """Entra's v2.0 OpenID configuration, endpoints in the tenant form requested."""
    base = f"{authority_host}/{requested}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{authority_host}/{tenant_id}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{authority_host}/{tenant_id}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


# -- the token endpoint --------------------------------------------------------------------


def _token(handler: RequestHandler, tenant: DemoTenant, segment: str, body: bytes) -> None:
    resolve_tenant(tenant, segment, error_name="invalid_request")
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise errors.missing_parameter("grant_type") from None

    def field(name: str) -> str:
        values = form.get(name)
        return values[0].strip() if values else ""

    grant = field("grant_type")
    if not grant:
        raise errors.missing_parameter("grant_type")
    if grant == DEVICE_CODE_GRANT:
        device_login.redeem(handler, tenant, field)
        return
    if grant != "client_credentials":
        raise errors.unsupported_grant(grant)
    client_id = field("client_id")
    if not client_id:
        raise errors.missing_parameter("client_id")
    if not GUID_RE.match(client_id):
        raise errors.invalid_client_id(client_id)
    scope = field("scope")
    if not scope:
        raise errors.missing_parameter("scope")
    directory = tenant.directory
    app = directory.application(client_id)
    if app is None:
        # Entra names the directory by its display name in 700016 and 500011.
        raise errors.unknown_application(client_id, directory.tenant.display_name)
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise errors.invalid_scope_suffix(scope)
    resource = scopes[0][: -len("/.default")]
    refusal = tenant.faults.take("token", ("aadsts",))
    if refusal is not None and refusal.code is not None:
        raise errors.for_code(
            refusal.code,
            client_id=app.client_id,
            app_name=app.display_name,
            tenant_name=directory.tenant.display_name,
        )

    accept_any = tenant.faults.peek("token", "accept-any")
    if accept_any is not None and tenant.faults.take("token", ("accept-any",)) is not None:
        log.warning(
            "accept-any fault: issuing a token for app %s without checking its credential",
            shown(client_id),
        )
    else:
        if app.public_client and (field("client_assertion") or field("client_secret")):
            raise errors.public_client_with_credential()
        _authenticate_client(tenant, field, client_id)
    if not app.sp_object_id:
        raise errors.missing_service_principal(app.client_id, directory.tenant.tenant_id)
    if not app.enabled:
        raise errors.application_disabled(app.client_id, app.display_name)
    if app.blocked_by_conditional_access:
        raise errors.blocked_by_conditional_access()
    if resource.rstrip("/").lower() not in (
        GRAPH_RESOURCE,
        GRAPH_APP_ID,
        tenant.graph_resource.rstrip("/").lower(),
    ):
        raise errors.unknown_resource(resource, directory.tenant.display_name)
    issued = tenant.issuer.issue(app, tenant.graph_resource)
    handler.send_json(
        200,
        {
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in,
            "access_token": issued.access_token,
        },
        {"x-ms-request-id": str(uuid.uuid4())},
    )


def _authenticate_client(tenant: DemoTenant, field: Callable[[str], str], client_id: str) -> None:
    """Check the client assertion (a secret is refused: only certificates are registered)."""
    if field("client_secret"):
        raise errors.client_secret_not_registered(client_id)
    assertion = field("client_assertion")
    if not assertion:
        raise errors.missing_credential()
    assertion_type = field("client_assertion_type")
    if not assertion_type:
        raise errors.missing_assertion_type()
    if assertion_type != JWT_BEARER:
        raise errors.wrong_assertion_type(assertion_type)
    now = time.time()
    propagation = tenant.faults.peek("token", "upload-propagation")

    def hidden(key: KeyCredential) -> bool:
        if propagation is None or now - key.added_at >= propagation.seconds:
            return False
        return tenant.faults.take("token", ("upload-propagation",)) is not None

    verify_client_assertion(
        assertion,
        client_id=client_id,
        directory=tenant.directory,
        audiences=tenant.token_audiences(),
        now=now,
        hidden=hidden,
        refusal_code=lambda: _key_refusal_code(tenant),
    )


def _key_refusal_code(tenant: DemoTenant) -> int | None:
    """The AADSTS form the key-refusal fault asks for, counting one use; None without one."""
    fault = tenant.faults.take("token", ("key-refusal",))
    return None if fault is None else fault.code
