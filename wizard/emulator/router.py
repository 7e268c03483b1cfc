"""Which of the demo tenant's three APIs a request is for, and what a failure in one answers.

/portal goes to the portal API, /graph/ to Microsoft Graph, /devicelogin to the device code
approval page, everything else to Entra ID's token service. An Entra refusal raised anywhere is answered with Entra's envelope; any
unexpected exception becomes a 500 in that envelope and a log line, and the server goes on.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from wizard.emulator import device_login, entra_routes, errors, graph_routes, portal_routes
from wizard.emulator.errors import EntraError
from wizard.emulator.transport import CONNECTION_ENDED, RequestHandler, plain_error
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

log = logging.getLogger("wizard.emulator")


def respond(
    tenant: DemoTenant, handler: RequestHandler, method: str, path: str, body: bytes
) -> None:
    """Answer one request (the server's Responder, with the tenant bound first)."""
    if tenant.answers_as_graph(handler.headers.get("Host", "")):
        path = graph_routes.GRAPH_PREFIX + path  # graph.microsoft.com/v1.0/... is /graph/v1.0/...
    try:
        if portal_routes.serves(path):
            portal_routes.respond(handler, tenant, method, path, body)
        elif graph_routes.serves(path):
            graph_routes.respond(handler, tenant, method, path, body)
        elif device_login.serves(path):
            device_login.respond(handler, tenant, method, body)
        elif not entra_routes.respond(handler, tenant, method, path, body):
            handler.send_json(
                404, plain_error("NotFound", f"Nothing is served at {path} by the demo tenant.")
            )
    except CONNECTION_ENDED:
        raise
    except EntraError as error:
        entra_routes.send_entra_error(handler, tenant, error)
    except Exception:
        log.exception("unexpected error answering %s %s", method, shown(path))
        handler.close_connection = True
        with contextlib.suppress(OSError):
            entra_routes.send_entra_error(handler, tenant, errors.server_error())
