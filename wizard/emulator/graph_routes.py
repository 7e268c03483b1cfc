"""The small Microsoft Graph the demo tenant serves: GET /graph/v1.0/organization, and the
app registrations (graph_applications, graph_provisioning).

It answers like Graph: 200 with the organization for a token carrying an organization-read
role, 403 for a valid token without one, 401 for any other bearer token, and Graph's
"Resource not found for the segment" for every other path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timezone
from typing import TYPE_CHECKING, Any

from wizard.emulator import graph_applications, graph_provisioning
from wizard.emulator.directory import ORG_READ_ROLES
from wizard.emulator.errors import graph_error
from wizard.emulator.faults import answer_with_fault
from wizard.emulator.graph_access import GraphAnswer, GraphRefusal
from wizard.emulator.tokens import BearerRejected
from wizard.emulator.transport import RequestHandler

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

GRAPH_PREFIX = "/graph"
ORGANIZATION_PATH = GRAPH_PREFIX + "/v1.0/organization"
# What Graph sends with a 401, so clients that read the challenge see the real shape: the
# client_id is Graph's own app ID (as in captured 401s of graph.microsoft.com, e.g. in
# microsoftgraph/msgraph-sdk-python issues).
_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


def serves(path: str) -> bool:
    """Whether a path is Graph's (everything under /graph/)."""
    return path.startswith(GRAPH_PREFIX + "/")


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> None:
    """Answer a request under /graph/ (faults for the graph endpoint apply first)."""
    if answer_with_fault(handler, tenant.faults, "graph"):
        return
    if graph_provisioning.serves(method, path):
        _answer(handler, lambda: graph_provisioning.respond(handler, tenant, method, path, body))
    elif graph_applications.serves(path):
        _answer(handler, lambda: graph_applications.respond(handler, tenant, method, path, body))
    elif method == "GET" and path.rstrip("/") == ORGANIZATION_PATH:
        _organization(handler, tenant)
    else:
        _not_found(handler, path)


def _request_ids(handler: RequestHandler) -> tuple[str, str]:
    """Graph's request-id, and the client's own request ID echoed back (or the same one)."""
    request_id = str(uuid.uuid4())
    client_request_id = handler.headers.get("client-request-id") or request_id
    return request_id, client_request_id[:64]


def _answer(handler: RequestHandler, produce: Callable[[], GraphAnswer]) -> None:
    """Send a Graph answer, or its refusal in Graph's envelope (401s with the challenge)."""
    request_id, client_request_id = _request_ids(handler)
    ids = {"request-id": request_id, "client-request-id": client_request_id}
    try:
        answer = produce()
    except GraphRefusal as refusal:
        headers = {**ids, "WWW-Authenticate": _CHALLENGE} if refusal.status == 401 else ids
        handler.send_json(
            refusal.status,
            graph_error(
                refusal.code,
                refusal.message,
                request_id=request_id,
                client_request_id=client_request_id,
            ),
            headers,
        )
        return
    if answer.body is None:
        handler.send(answer.status, b"", "text/plain", ids)
    else:
        handler.send_json(answer.status, answer.body, {**ids, "OData-Version": "4.0"})


def _not_found(handler: RequestHandler, path: str) -> None:
    request_id, client_request_id = _request_ids(handler)
    handler.send_json(
        400,
        graph_error(
            "BadRequest",
            f"Resource not found for the segment '{path.rsplit('/', 1)[-1]}'.",
            request_id=request_id,
            client_request_id=client_request_id,
        ),
        {"request-id": request_id, "client-request-id": client_request_id},
    )


def _organization(handler: RequestHandler, tenant: DemoTenant) -> None:
    request_id, client_request_id = _request_ids(handler)
    ids = {"request-id": request_id, "client-request-id": client_request_id}
    authorization = handler.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        token = ""
    try:
        claims = tenant.issuer.validate(token.strip())
    except BearerRejected as rejected:
        handler.send_json(
            401,
            graph_error(
                "InvalidAuthenticationToken",
                str(rejected),
                request_id=request_id,
                client_request_id=client_request_id,
            ),
            {**ids, "WWW-Authenticate": _CHALLENGE},
        )
        return
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not any(r in ORG_READ_ROLES for r in roles):
        handler.send_json(
            403,
            graph_error(
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                request_id=request_id,
                client_request_id=client_request_id,
            ),
            ids,
        )
        return
    handler.send_json(200, organization_document(tenant), {**ids, "OData-Version": "4.0"})


def organization_document(tenant: DemoTenant) -> dict[str, Any]:
    """The tenant as Graph's /organization lists it."""
    directory_tenant = tenant.directory.tenant
    created = directory_tenant.created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "@odata.context": f"{tenant.graph_endpoint}/v1.0/$metadata#organization",
        "value": [
            {
                "id": directory_tenant.tenant_id,
                "deletedDateTime": None,
                "businessPhones": [],
                "city": None,
                "country": None,
                "countryLetterCode": directory_tenant.country,
                "createdDateTime": created,
                "defaultUsageLocation": None,
                "displayName": directory_tenant.display_name,
                "isMultipleDataLocationsForServicesEnabled": None,
                "marketingNotificationEmails": [],
                "onPremisesLastSyncDateTime": None,
                "onPremisesSyncEnabled": None,
                "partnerTenantType": None,
                "postalCode": None,
                "preferredLanguage": "en",
                "securityComplianceNotificationMails": [],
                "securityComplianceNotificationPhones": [],
                "state": None,
                "street": None,
                "technicalNotificationMails": [],
                "tenantType": "AAD",
                "directorySizeQuota": {"used": 3, "total": 50000},
                "privacyProfile": None,
                "assignedPlans": [],
                "onPremisesProvisioningErrors": [],
                "provisionedPlans": [],
                "verifiedDomains": [
                    {
                        "capabilities": "Email, OfficeCommunicationsOnlineService",
                        "isDefault": True,
                        "isInitial": True,
                        "name": directory_tenant.domain,
                        "type": "Managed",
                    }
                ],
            }
        ],
    }
