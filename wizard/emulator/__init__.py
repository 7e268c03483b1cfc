"""The demo tenant: a local stand-in for Entra ID and Microsoft Graph, over real HTTPS.

`DemoTenant` runs it in-process (a context manager); `entra-cert-wizard emulator` runs it as
a command. No Textual here: the CLI and the tests use it alone.

What it serves (authority_host = https://127.0.0.1:PORT, tenant = its GUID or domain):

    GET  /common/discovery/instance                        instance discovery (alias groups)
    GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID configuration (90002)
    GET  /{tenant}/discovery/v2.0/keys                     the tenant's token-signing keys
    POST /{tenant}/oauth2/v2.0/token                       client credentials + client assertion
    GET  /graph/v1.0/organization                          Microsoft Graph (200, 401, 403)
    GET  /portal/applications                              the demo portal API (portal_routes)
    POST /portal/applications/{client_id}/certificates     body: the .cer (DER or PEM) -> 201
    DELETE /portal/applications/{client_id}/certificates/{thumbprint}
    POST /portal/applications/{client_id}/consent          {"granted": true|false}
    POST|DELETE /portal/faults                             fault injection (see Fault)

With public_hosts (`emulator --public-hosts`) it answers as the global cloud: its URLs,
accepted assertion audiences, OpenID configuration and instance discovery name
login.microsoftonline.com (and its aliases), and a request whose Host is graph.microsoft.com
is Graph (/v1.0/organization). It still listens on loopback only; a proxy or a hosts entry
points those names at it, and its server certificate carries them (issued by its own CA).

Module map (ARCHITECTURE.md at the repository root places it in the whole):
- tenant: DemoTenant (start, stop, the running parts) and DemoInfo (the --json contract)
- transport: the TLS server, connection limits, and the HTTP mechanics of one request
- router: which API a path belongs to; Entra-shaped 500s for unexpected failures
- entra_routes, graph_routes, portal_routes: the three APIs, one module each
- directory (tenant, apps, keys, persisted state), assertions (client-assertion checks),
  tokens (the tenant's access tokens), jose (JWS primitives), tls (CA and server
  certificate), errors (Entra/Graph envelopes and wording), faults (Fault, and how a fault
  answers in an endpoint's place)
"""

import logging

from wizard.emulator.faults import Fault
from wizard.emulator.tenant import DemoInfo, DemoTenant

# Silent unless the host application configures logging: an in-process demo tenant must
# never write to the terminal the wizard is drawing on. The emulator command adds a handler.
logging.getLogger("wizard.emulator").addHandler(logging.NullHandler())

__all__ = ["DemoInfo", "DemoTenant", "Fault"]
