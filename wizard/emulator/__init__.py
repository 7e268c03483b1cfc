"""The demo tenant: a local stand-in for Entra ID and Microsoft Graph, over real HTTPS.

`DemoTenant` runs it in-process (a context manager); `entra-cert-wizard emulator` runs it as
a command, and `DemoTenantProcess` runs that command as a child that ends with its parent.
No Textual here: the CLI and the tests use it alone.

What it serves (authority_host = https://127.0.0.1:PORT, tenant = its GUID or domain):

    GET  /common/discovery/instance                        instance discovery (alias groups)
    GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID configuration (90002)
    GET  /{tenant}/discovery/v2.0/keys                     the tenant's token-signing keys
    POST /{tenant}/oauth2/v2.0/token                       client credentials + client assertion
    POST /{tenant}/oauth2/v2.0/devicecode                  the device code flow (device_login)
    GET|POST /devicelogin                                  its approval page (demo admin sign-in)
    GET  /graph/v1.0/organization                          Microsoft Graph (200, 401, 403)
    GET|PATCH /graph/v1.0/applications/{id}                app registrations, also by appId and
                                                           $filter (graph_applications)
    POST /graph/v1.0/applications, /servicePrincipals      creating an app and its service
    POST /graph/v1.0/servicePrincipals/{id}/appRoleAssignedTo   principal, admin consent
                                                           (graph_provisioning)
    GET  /portal/applications                              the demo portal API (portal_routes)
    POST /portal/applications/{client_id}/certificates     body: the .cer (DER or PEM) -> 201
    DELETE /portal/applications/{client_id}/certificates/{thumbprint}
    POST /portal/applications/{client_id}/consent          {"granted": true|false}
    POST|DELETE /portal/faults                             fault injection (see Fault)
    GET  /portal/users                                     the demo users (admin and not)
    GET|PATCH /portal/devicecode                           the device-code policy
    POST /portal/devicecode/{user_code}                    approve or decline a code, as a user

With public_hosts (`emulator --public-hosts`) it answers as the global cloud: its URLs,
accepted assertion audiences, OpenID configuration and instance discovery name
login.microsoftonline.com (and its aliases), and a request whose Host is graph.microsoft.com
is Graph (/v1.0/organization). It still listens on loopback only; a proxy or a hosts entry
points those names at it, and its server certificate carries them (issued by its own CA).

Module map (ARCHITECTURE.md at the repository root places it in the whole):
- tenant: DemoTenant (start, stop, the running parts); info: DemoInfo (the --json contract);
  process: DemoTenantProcess (a demo tenant in a child process, as `wizard --demo` runs it)
- transport: the TLS server, connection limits, and the HTTP mechanics of one request
- router: which API a path belongs to; Entra-shaped 500s for unexpected failures
- entra_routes, graph_routes, portal_routes: the three APIs, one module each
- device_code (codes, polling, the device-code policy) and device_login (its endpoints and
  approval page); users (the demo users and their directory roles)
- graph_access (who may call Graph's app endpoints; Graph's refusals), graph_applications
  (reading apps), graph_key_credentials (PATCH keyCredentials) and graph_provisioning
  (creating an app and its service principal, admin consent)
- directory (tenant, apps, keys, persisted state), assertions (client-assertion checks),
  tokens (the tenant's access tokens), jose (JWS primitives), tls (CA and server
  certificate), errors (Entra/Graph envelopes and wording), faults (Fault, and how a fault
  answers in an endpoint's place)
"""

import logging
from typing import TYPE_CHECKING

from wizard.emulator.info import DemoInfo

if TYPE_CHECKING:
    from wizard.emulator.faults import Fault
    from wizard.emulator.tenant import DemoTenant

# Silent unless the host application configures logging: an in-process demo tenant must
# never write to the terminal the wizard is drawing on. The emulator command adds a handler.
logging.getLogger("wizard.emulator").addHandler(logging.NullHandler())

__all__ = ["DemoInfo", "DemoTenant", "Fault"]


def __getattr__(name: str) -> object:
    """DemoTenant and Fault load the tenant (cryptography, the HTTPS server) when first asked
    for: a client of a tenant running elsewhere needs only DemoInfo."""
    if name == "DemoTenant":
        from wizard.emulator.tenant import DemoTenant

        return DemoTenant
    if name == "Fault":
        from wizard.emulator.faults import Fault

        return Fault
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
