"""Graph's app registrations in the demo tenant: reads, PATCH keyCredentials, who may do it.

These tests replace whole credential collections, so they run against a tenant of their own
(`graph_tenant`), never the session's shared one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from conftest import make_test_certificate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_emulator_helpers import delegated_token, key_pem, session, thumbprint_credential

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant
from wizard.portal import PortalClient

ORG_READ_ROLE_ID = "498476ce-e0fe-48b0-b801-37ba7e2685c6"


@pytest.fixture(scope="module")
def graph_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    with DemoTenant(tmp_path_factory.mktemp("graph-tenant")) as tenant:
        yield tenant


@pytest.fixture(scope="module")
def info(graph_tenant: DemoTenant) -> DemoInfo:
    return graph_tenant.info


@pytest.fixture(scope="module")
def admin(info: DemoInfo) -> str:
    return delegated_token(info)


class Graph:
    """A Graph client with one bearer token, speaking to the demo tenant's Graph."""

    def __init__(self, info: DemoInfo, token: str | None) -> None:
        self.info = info
        self.http = session(info)
        if token is not None:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.info.graph_endpoint}/v1.0/{path}", **kwargs)

    def patch(self, path: str, body: Any = None, *, data: bytes | None = None) -> requests.Response:
        url = f"{self.info.graph_endpoint}/v1.0/{path}"
        if data is not None:
            return self.http.patch(url, data=data, headers={"Content-Type": "application/json"})
        return self.http.patch(url, json=body)

    def app(self, client_id: str) -> dict[str, Any]:
        answer = self.get(f"applications(appId='{client_id}')")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def keys(self, client_id: str) -> list[dict[str, Any]]:
        return list(self.app(client_id)["keyCredentials"])


def _upload(info: DemoInfo, name: str) -> tuple[Any, Any]:
    cert, key = make_test_certificate(name)
    PortalClient(info.portal, info.ca_bundle).upload_certificate(
        info.client_id, certs.cert_der(cert)
    )
    return cert, key


def _new_key(cert: Any, **overrides: Any) -> dict[str, Any]:
    entry = {
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64.b64encode(certs.cert_der(cert)).decode(),
        "displayName": f"CN={certs.subject_cn(cert)}",
    }
    entry.update(overrides)
    return entry


def _signs_in(info: DemoInfo, cert: Any, key: Any) -> bool:
    app = msal.ConfidentialClientApplication(
        info.client_id,
        authority=info.authority,
        client_credential=thumbprint_credential(cert, key),
        http_client=session(info),
        instance_discovery=False,
    )
    return "access_token" in app.acquire_token_for_client([info.graph_resource + "/.default"])


def _graph_error(answer: requests.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    inner = error["innerError"]
    assert set(inner) == {"date", "request-id", "client-request-id"}
    assert answer.headers["request-id"] == inner["request-id"]
    return str(error["message"])


# -- reading ---------------------------------------------------------------------------------


def test_an_app_reads_the_same_by_app_id_by_filter_and_by_object_id(
    info: DemoInfo, admin: str
) -> None:
    graph = Graph(info, admin)
    cert, _ = _upload(info, "GraphRead")
    by_app_id = graph.app(info.client_id)
    assert by_app_id["appId"] == info.client_id
    assert by_app_id["@odata.context"].endswith("$metadata#applications/$entity")
    by_id = graph.get(f"applications/{by_app_id['id']}").json()
    listed = graph.get("applications", params={"$filter": f"appId eq '{info.client_id}'"}).json()
    assert [a["id"] for a in listed["value"]] == [by_app_id["id"]]
    assert (
        by_id["keyCredentials"]
        == by_app_id["keyCredentials"]
        == listed["value"][0]["keyCredentials"]
    )
    uploaded = next(
        k
        for k in by_app_id["keyCredentials"]
        if base64.b64decode(k["customKeyIdentifier"]).hex().upper() == certs.thumbprint_sha1(cert)
    )
    assert uploaded["key"] is None
    assert (uploaded["type"], uploaded["usage"]) == ("AsymmetricX509Cert", "Verify")
    access = by_app_id["requiredResourceAccess"]
    assert access == [
        {
            "resourceAppId": "00000003-0000-0000-c000-000000000000",
            "resourceAccess": [{"id": ORG_READ_ROLE_ID, "type": "Role"}],
        }
    ]
    every = graph.get("applications").json()["value"]
    assert {info.client_id, info.unconsented_client_id} <= {a["appId"] for a in every}


def test_filters_and_identifiers_graph_does_not_take_are_refused(
    info: DemoInfo, admin: str
) -> None:
    graph = Graph(info, admin)
    nobody = "11111111-2222-3333-4444-555555555555"
    assert (
        graph.get("applications", params={"$filter": f"appId eq '{nobody}'"}).json()["value"] == []
    )
    _graph_error(graph.get("applications", params={"$filter": "appId eq"}), 400, "BadRequest")
    _graph_error(graph.get("applications", params={"$filter": "appId = 'x'"}), 400, "BadRequest")
    _graph_error(
        graph.get("applications", params={"$filter": "displayName eq 'x'"}),
        400,
        "Request_UnsupportedQuery",
    )
    twice = graph.get(f"applications?$filter=appId eq '{nobody}'&$filter=appId eq '{nobody}'")
    assert "more than once" in _graph_error(twice, 400, "BadRequest")
    quoted = graph.get("applications", params={"$filter": "appId eq 'it''s'"})
    assert quoted.json()["value"] == []
    _graph_error(graph.get(f"applications/{nobody}"), 404, "Request_ResourceNotFound")
    _graph_error(graph.get(f"applications(appId='{nobody}')"), 404, "Request_ResourceNotFound")
    _graph_error(graph.get("applications/not-a-guid"), 400, "Request_BadRequest")
    _graph_error(graph.get("applications(appId='%3Cscript%3E')"), 400, "Request_BadRequest")
    assert graph.http.delete(f"{info.graph_endpoint}/v1.0/applications/{nobody}").status_code == 405


# -- PATCH keyCredentials --------------------------------------------------------------------


@pytest.mark.parametrize("existing", [2, 3])
def test_patch_adds_a_certificate_and_every_existing_one_survives(
    info: DemoInfo, admin: str, existing: int
) -> None:
    graph = Graph(info, admin)
    olds = [_upload(info, f"Existing{existing}-{n}") for n in range(existing)]
    before = graph.keys(info.client_id)
    new_cert, new_key = make_test_certificate(f"Added{existing}")
    # Existing entries go back as read (key null), as a client merging the collection sends them.
    answer = graph.patch(
        f"applications(appId='{info.client_id}')",
        {"keyCredentials": [*before, _new_key(new_cert)]},
    )
    assert answer.status_code == 204 and answer.content == b""
    after = graph.keys(info.client_id)
    assert [k["keyId"] for k in after[:-1]] == [k["keyId"] for k in before]
    assert base64.b64decode(after[-1]["customKeyIdentifier"]).hex().upper() == (
        certs.thumbprint_sha1(new_cert)
    )
    assert _signs_in(info, new_cert, new_key)
    assert all(_signs_in(info, cert, key) for cert, key in olds)
    portal = PortalClient(info.portal, info.ca_bundle).list_applications()
    listed = next(a for a in portal if a["client_id"] == info.client_id)
    assert certs.thumbprint_sha1(new_cert) in {k["thumbprint"] for k in listed["key_credentials"]}


def test_patch_replaces_the_whole_collection_so_an_entry_left_out_is_removed(
    info: DemoInfo, admin: str
) -> None:
    graph = Graph(info, admin)
    gone_cert, gone_key = _upload(info, "LeftOut")
    assert _signs_in(info, gone_cert, gone_key)
    thumbprint = certs.thumbprint_sha1(gone_cert)
    keep = [
        {"keyId": k["keyId"]}
        for k in graph.keys(info.client_id)
        if base64.b64decode(k["customKeyIdentifier"]).hex().upper() != thumbprint
    ]
    assert (
        graph.patch(f"applications(appId='{info.client_id}')", {"keyCredentials": keep}).status_code
        == 204
    )
    assert [k["keyId"] for k in graph.keys(info.client_id)] == [k["keyId"] for k in keep]
    assert not _signs_in(info, gone_cert, gone_key)


def test_a_known_key_id_with_changed_content_is_refused_and_nothing_changes(
    info: DemoInfo, admin: str
) -> None:
    graph = Graph(info, admin)
    _upload(info, "Unchangeable")
    before = graph.keys(info.client_id)
    other, _ = make_test_certificate("Impostor")
    target = before[-1]["keyId"]
    changes = [
        _new_key(other, keyId=target),
        {**before[-1], "displayName": "renamed"},
        {**before[-1], "usage": "Sign"},
        {**before[-1], "endDateTime": "2099-01-01T00:00:00Z"},
    ]
    for changed in changes:
        answer = graph.patch(
            f"applications(appId='{info.client_id}')",
            {"keyCredentials": [*before[:-1], changed]},
        )
        message = _graph_error(answer, 400, "Request_BadRequest")
        assert message == f"Update to existing credential with KeyId '{target}' is not allowed."
    assert graph.keys(info.client_id) == before


@pytest.mark.parametrize(
    ("entry", "status", "code", "says"),
    [
        ({"usage": "Encrypt"}, 400, "Request_BadRequest", 'property "usage"'),
        ({"usage": None}, 400, "Request_BadRequest", 'property "usage"'),
        ({"usage": "Sign"}, 400, "Request_BadRequest", "X509CertAndPassword"),
        ({"type": "Symmetric"}, 400, "Request_BadRequest", "AsymmetricX509Cert"),
        ({"key": "not base64!!"}, 400, "BadRequest", "Edm.Binary"),
        (
            {"key": base64.b64encode(b"\x30\x03\x02\x01\x00").decode()},
            400,
            "Request_BadRequest",
            "invalid certificate",
        ),
        (
            {"key": base64.b64encode(b"hello").decode()},
            400,
            "Request_BadRequest",
            "invalid certificate",
        ),
        ({"key": None}, 400, "Request_BadRequest", "Key value is null"),
        ({"keyId": "not-a-guid"}, 400, "BadRequest", "Edm.Guid"),
        ({"keyId": 7}, 400, "BadRequest", "Edm.Guid"),
        ({"endDateTime": "2099-01-01T00:00:00Z"}, 400, "Request_BadRequest", "end date"),
        ({"endDateTime": "tomorrow"}, 400, "BadRequest", "Edm.DateTimeOffset"),
        ({"displayName": ["x"]}, 400, "BadRequest", "displayName"),
        ({"secretText": "x"}, 400, "BadRequest", "secretText"),
    ],
    ids=[
        "usage-encrypt",
        "usage-missing",
        "usage-sign",
        "symmetric",
        "bad-base64",
        "not-a-certificate",
        "not-der",
        "no-key",
        "key-id-not-guid",
        "key-id-number",
        "beyond-certificate",
        "bad-date",
        "odd-display-name",
        "unknown-field",
    ],
)
def test_a_bad_new_key_credential_is_refused_and_nothing_changes(
    info: DemoInfo, admin: str, entry: dict[str, Any], status: int, code: str, says: str
) -> None:
    graph = Graph(info, admin)
    before = graph.keys(info.client_id)
    cert, _ = make_test_certificate("BadEntry")
    answer = graph.patch(
        f"applications(appId='{info.client_id}')",
        {"keyCredentials": [*before, _new_key(cert, **entry)]},
    )
    assert says.lower() in _graph_error(answer, status, code).lower()
    assert graph.keys(info.client_id) == before


def test_a_private_key_or_a_wrong_key_id_never_becomes_a_credential(
    info: DemoInfo, admin: str, tmp_path: Path
) -> None:
    graph = Graph(info, admin)
    before = graph.keys(info.client_id)
    cert, key = make_test_certificate("WithKey")
    bundle = (certs.cert_pem(cert).decode() + key_pem(key)).encode()
    unknown_id = "0f0f0f0f-0000-4000-8000-000000000000"
    for entry in (
        _new_key(cert, key=base64.b64encode(bundle).decode()),
        {"keyId": unknown_id},  # a keyId the app does not have, and no key to make it from
    ):
        answer = graph.patch(
            f"applications(appId='{info.client_id}')", {"keyCredentials": [*before, entry]}
        )
        _graph_error(answer, 400, "Request_BadRequest")
    twice = _new_key(cert)
    answer = graph.patch(
        f"applications(appId='{info.client_id}')", {"keyCredentials": [*before, twice, twice]}
    )
    assert "more than once" in _graph_error(answer, 400, "Request_BadRequest")
    assert graph.keys(info.client_id) == before


def test_hostile_patch_bodies_are_refused_without_harm(info: DemoInfo, admin: str) -> None:
    graph = Graph(info, admin)
    before = graph.keys(info.client_id)
    path = f"applications(appId='{info.client_id}')"
    for body in (
        b"[",
        b"[]",
        b'{"keyCredentials": {}}',
        b'{"keyCredentials": [1]}',
        b"NaN",
        b'{"keyCredentials": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"displayName": "x"}',
        b'{"keyCredentials": [' + b"{}," * 15000 + b"{}]}",
    ):
        answer = graph.patch(path, data=body)
        assert answer.status_code == 400, (body[:40], answer.text)
        assert answer.json()["error"]["code"] in ("BadRequest", "Request_BadRequest")
    huge = graph.patch(path, data=b'{"keyCredentials": [' + b'"x",' * 40000 + b'"x"]}')
    assert huge.status_code == 413
    assert graph.patch(path, data=b"{}").status_code == 204  # nothing asked, nothing changed
    assert graph.keys(info.client_id) == before


# -- who may -----------------------------------------------------------------------------------


def test_a_user_without_the_admin_role_is_refused_the_write(info: DemoInfo) -> None:
    graph = Graph(info, delegated_token(info, user="user"))
    before = graph.keys(info.client_id)  # reading is allowed
    cert, _ = make_test_certificate("NoRole")
    answer = graph.patch(
        f"applications(appId='{info.client_id}')", {"keyCredentials": [*before, _new_key(cert)]}
    )
    message = _graph_error(answer, 403, "Authorization_RequestDenied")
    assert message == "Insufficient privileges to complete the operation."
    assert graph.keys(info.client_id) == before


def test_a_read_only_scope_reads_but_cannot_write(info: DemoInfo) -> None:
    graph = Graph(info, delegated_token(info, scope="Application.Read.All"))
    before = graph.keys(info.client_id)
    answer = graph.patch(f"applications(appId='{info.client_id}')", {"keyCredentials": before})
    _graph_error(answer, 403, "Authorization_RequestDenied")
    user_read = Graph(info, delegated_token(info, scope="User.Read"))
    _graph_error(user_read.get("applications"), 403, "Authorization_RequestDenied")


def test_an_app_only_token_cannot_stand_in_for_the_admin_and_vice_versa(
    info: DemoInfo, admin: str
) -> None:
    cert, key = _upload(info, "AppOnly")
    app = msal.ConfidentialClientApplication(
        info.client_id,
        authority=info.authority,
        client_credential=thumbprint_credential(cert, key),
        http_client=session(info),
        instance_discovery=False,
    )
    app_only = Graph(
        info, app.acquire_token_for_client([info.graph_resource + "/.default"])["access_token"]
    )
    _graph_error(
        app_only.get(f"applications(appId='{info.client_id}')"), 403, "Authorization_RequestDenied"
    )
    _graph_error(
        app_only.patch(f"applications(appId='{info.client_id}')", {"keyCredentials": []}),
        403,
        "Authorization_RequestDenied",
    )
    # The admin's delegated token is no app-only token with Organization.Read.All.
    _graph_error(Graph(info, admin).get("organization"), 403, "Authorization_RequestDenied")


@pytest.mark.parametrize(
    "token", [None, "", "a.b.c", "x" * 20000], ids=["none", "empty", "junk", "huge"]
)
def test_no_valid_token_is_401_with_graphs_challenge(info: DemoInfo, token: str | None) -> None:
    graph = Graph(info, token)
    answer = graph.get(f"applications(appId='{info.client_id}')")
    _graph_error(answer, 401, "InvalidAuthenticationToken")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")


def test_graph_applications_answer_as_graph_microsoft_com(public_tenant: DemoTenant) -> None:
    info = public_tenant.info
    token = delegated_token(info)
    answer = session(info).get(
        f"{info.listen_url}/v1.0/applications(appId='{info.client_id}')",
        headers={"Host": "graph.microsoft.com", "Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["@odata.context"].startswith("https://graph.microsoft.com/v1.0/")


# -- creating an app, its service principal, admin consent -----------------------------------

SETUP_SCOPES = "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All"
GRAPH_SP = "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')"


def _app_token(info: DemoInfo, client_id: str, cert: Any, key: Any) -> dict[str, Any]:
    app = msal.ConfidentialClientApplication(
        client_id,
        authority=info.authority,
        client_credential=thumbprint_credential(cert, key),
        http_client=session(info),
        instance_discovery=False,
    )
    return dict(app.acquire_token_for_client([info.graph_resource + "/.default"]))


def _create(graph: Graph, name: str, roles: list[str] | None = None) -> dict[str, Any]:
    access = [
        {
            "resourceAppId": "00000003-0000-0000-c000-000000000000",
            "resourceAccess": [{"id": r, "type": "Role"} for r in (roles or [ORG_READ_ROLE_ID])],
        }
    ]
    answer = graph.http.post(
        f"{graph.info.graph_endpoint}/v1.0/applications",
        json={"displayName": name, "requiredResourceAccess": access},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_an_admin_creates_an_app_that_then_signs_in_and_reads_the_organization(
    info: DemoInfo,
) -> None:
    graph = Graph(info, delegated_token(info, scope=SETUP_SCOPES))
    created = _create(graph, "Created By Graph")
    client_id = created["appId"]
    assert created["keyCredentials"] == [] and created["displayName"] == "Created By Graph"
    cert, key = make_test_certificate("CreatedApp")
    assert (
        graph.patch(
            f"applications/{created['id']}", {"keyCredentials": [_new_key(cert)]}
        ).status_code
        == 204
    )
    no_sp = _app_token(info, client_id, cert, key)
    assert no_sp["error_codes"] == [7000229], no_sp

    made = graph.http.post(
        f"{info.graph_endpoint}/v1.0/servicePrincipals", json={"appId": client_id}
    )
    assert made.status_code == 201, made.text
    principal = made.json()
    again = graph.http.post(
        f"{info.graph_endpoint}/v1.0/servicePrincipals", json={"appId": client_id}
    )
    _graph_error(again, 409, "Request_MultipleObjectsWithSameKeyValue")
    token = _app_token(info, client_id, cert, key)
    assert "roles" not in jwt_claims(token["access_token"])
    _graph_error(
        Graph(info, token["access_token"]).get("organization"), 403, "Authorization_RequestDenied"
    )

    graph_sp = graph.get(GRAPH_SP).json()
    assert ORG_READ_ROLE_ID in {r["id"] for r in graph_sp["appRoles"]}
    listed = graph.get("servicePrincipals", params={"$filter": f"appId eq '{client_id}'"}).json()
    assert [p["id"] for p in listed["value"]] == [principal["id"]]
    grant = {
        "principalId": principal["id"],
        "resourceId": graph_sp["id"],
        "appRoleId": ORG_READ_ROLE_ID,
    }
    url = f"{info.graph_endpoint}/v1.0/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo"
    granted = graph.http.post(url, json=grant)
    assert granted.status_code == 201, granted.text
    assert granted.json()["principalId"] == principal["id"]
    twice = graph.http.post(url, json=grant)
    assert (
        _graph_error(twice, 400, "Request_BadRequest")
        == "Permission being assigned already exists on the object"
    )

    consented = _app_token(info, client_id, cert, key)
    assert jwt_claims(consented["access_token"])["roles"] == ["Organization.Read.All"]
    organization = Graph(info, consented["access_token"]).get("organization")
    assert organization.status_code == 200, organization.text


def jwt_claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_granting_consent_needs_the_scope_and_a_privileged_role(info: DemoInfo) -> None:
    setup = Graph(info, delegated_token(info, scope=SETUP_SCOPES))
    created = _create(setup, "Consent Checks")
    principal = setup.http.post(
        f"{info.graph_endpoint}/v1.0/servicePrincipals", json={"appId": created["appId"]}
    ).json()
    graph_sp = setup.get(GRAPH_SP).json()
    grant = {
        "principalId": principal["id"],
        "resourceId": graph_sp["id"],
        "appRoleId": ORG_READ_ROLE_ID,
    }
    url = f"{info.graph_endpoint}/v1.0/{GRAPH_SP}/appRoleAssignedTo"
    for token in (
        delegated_token(info, scope="Application.ReadWrite.All"),  # scope missing
        delegated_token(info, user="user", scope=SETUP_SCOPES),  # role missing
    ):
        _graph_error(
            Graph(info, token).http.post(url, json=grant), 403, "Authorization_RequestDenied"
        )
    nobody = "11111111-2222-3333-4444-555555555555"
    refusals = [
        ({**grant, "appRoleId": nobody}, 400, "Request_BadRequest"),
        ({**grant, "principalId": nobody}, 404, "Request_ResourceNotFound"),
        ({**grant, "principalId": "x"}, 400, "Request_BadRequest"),
        ({**grant, "resourceId": principal["id"]}, 400, "Request_BadRequest"),
        ({**grant, "extra": 1}, 400, "BadRequest"),
    ]
    for body, status, code in refusals:
        _graph_error(setup.http.post(url, json=body), status, code)
    own = f"{info.graph_endpoint}/v1.0/servicePrincipals/{principal['id']}/appRoleAssignedTo"
    assert "was not found on application" in _graph_error(
        setup.http.post(own, json=grant), 400, "Request_BadRequest"
    )
    assert setup.app(created["appId"])["requiredResourceAccess"][0]["resourceAccess"]  # unchanged
    portal_view = [
        a
        for a in PortalClient(info.portal, info.ca_bundle).list_applications()
        if a["client_id"] == created["appId"]
    ]
    assert portal_view[0]["consented"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"displayName": ""},
        {"displayName": "x" * 121},
        {"displayName": 5},
        {"displayName": "ok", "requiredResourceAccess": "Organization.Read.All"},
        {
            "displayName": "ok",
            "requiredResourceAccess": [
                {"resourceAppId": "00000002-0000-0000-c000-000000000000", "resourceAccess": []}
            ],
        },
        {
            "displayName": "ok",
            "requiredResourceAccess": [
                {
                    "resourceAppId": "00000003-0000-0000-c000-000000000000",
                    "resourceAccess": [{"id": ORG_READ_ROLE_ID, "type": "Scope"}],
                }
            ],
        },
        {"displayName": "ok", "signInAudience": "AzureADMultipleOrgs"},
        {"displayName": "ok", "keyCredentials": []},
    ],
    ids=[
        "empty",
        "blank-name",
        "long-name",
        "number-name",
        "access-string",
        "other-resource",
        "scope-type",
        "multi-tenant",
        "unknown-field",
    ],
)
def test_creating_an_app_refuses_what_graph_would(
    info: DemoInfo, admin: str, body: dict[str, Any]
) -> None:
    graph = Graph(info, admin)
    before = len(graph.get("applications").json()["value"])
    answer = graph.http.post(f"{info.graph_endpoint}/v1.0/applications", json=body)
    assert answer.status_code == 400, answer.text
    assert len(graph.get("applications").json()["value"]) == before


def test_service_principal_requests_graph_refuses(info: DemoInfo, admin: str) -> None:
    graph = Graph(info, admin)
    url = f"{info.graph_endpoint}/v1.0/servicePrincipals"
    nobody = "11111111-2222-3333-4444-555555555555"
    _graph_error(graph.http.post(url, json={"appId": nobody}), 400, "Request_BadRequest")
    _graph_error(graph.http.post(url, json={"appId": "<x>"}), 400, "Request_BadRequest")
    _graph_error(
        graph.http.post(url, json={"appId": info.client_id}),
        409,
        "Request_MultipleObjectsWithSameKeyValue",
    )
    _graph_error(graph.http.post(url, data=b"[]"), 400, "BadRequest")
    _graph_error(graph.get(f"servicePrincipals(appId='{nobody}')"), 404, "Request_ResourceNotFound")
    _graph_error(graph.get("servicePrincipals/not-a-guid"), 400, "Request_BadRequest")
    _graph_error(graph.http.delete(f"{url}(appId='{info.client_id}')"), 405, "Request_BadRequest")
    user = Graph(info, delegated_token(info, user="user", scope="User.Read"))
    _graph_error(
        user.http.post(url, json={"appId": info.client_id}), 403, "Authorization_RequestDenied"
    )


def test_an_app_only_token_cannot_create_or_grant(info: DemoInfo) -> None:
    cert, key = _upload(info, "AppOnlySetup")
    token = _app_token(info, info.client_id, cert, key)["access_token"]
    graph = Graph(info, token)
    base = f"{info.graph_endpoint}/v1.0"
    for url, body in (
        (f"{base}/applications", {"displayName": "Sneaky"}),
        (f"{base}/servicePrincipals", {"appId": info.unconsented_client_id}),
        (f"{base}/{GRAPH_SP}/appRoleAssignedTo", {"appRoleId": ORG_READ_ROLE_ID}),
    ):
        _graph_error(graph.http.post(url, json=body), 403, "Authorization_RequestDenied")
    _graph_error(graph.get(GRAPH_SP), 403, "Authorization_RequestDenied")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[",
        b"null",
        b'{"displayName": NaN}',
        b"[" * 3000 + b"]" * 3000,
        b'{"displayName": "x", "requiredResourceAccess": [' + b"{}," * 15000 + b"{}]}",
    ],
    ids=["empty", "broken", "null", "nan", "deep", "many-entries"],
)
def test_hostile_bodies_to_the_create_calls_are_refused(info: DemoInfo, body: bytes) -> None:
    graph = Graph(info, delegated_token(info, scope=SETUP_SCOPES))
    before = len(graph.get("applications").json()["value"])
    base = f"{info.graph_endpoint}/v1.0"
    headers = {"Content-Type": "application/json"}
    for url in (
        f"{base}/applications",
        f"{base}/servicePrincipals",
        f"{base}/{GRAPH_SP}/appRoleAssignedTo",
    ):
        answer = graph.http.post(url, data=body, headers=headers)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["error"]["code"] in ("BadRequest", "Request_BadRequest")
    assert len(graph.get("applications").json()["value"]) == before


def test_paths_this_graph_does_not_serve_answer_graphs_not_found(
    info: DemoInfo, admin: str
) -> None:
    graph = Graph(info, admin)
    for path in ("applications/x/y/z", "applicationz", "servicePrincipals/x/owners"):
        answer = graph.get(path)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["message"].startswith("Resource not found for the segment")


# -- property: whatever a PATCH says, Graph answers 204 or a clear 400, never a crash -----------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_KEY_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "keyId": _JSON | st.uuids().map(str),
        "key": _JSON | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        "type": _JSON | st.sampled_from(["AsymmetricX509Cert", "Symmetric", "X509CertAndPassword"]),
        "usage": _JSON | st.sampled_from(["Verify", "Sign", "Encrypt"]),
        "displayName": _JSON,
        "startDateTime": _JSON | st.datetimes().map(lambda d: d.isoformat() + "Z"),
        "endDateTime": _JSON | st.datetimes().map(lambda d: d.isoformat()),
        "customKeyIdentifier": _JSON,
    },
)
_PATCH_BODY = st.fixed_dictionaries({"keyCredentials": st.lists(_KEY_ENTRY, max_size=3)}) | _JSON


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_PATCH_BODY)
def test_any_patch_body_gets_204_or_a_graph_400_and_the_tenant_keeps_serving(
    fuzz_target: tuple[Graph, str], body: Any
) -> None:
    graph, object_id = fuzz_target
    answer = graph.patch(f"applications/{object_id}", body)
    assert answer.status_code in (204, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["error"]["code"] in ("BadRequest", "Request_BadRequest")
    assert graph.get(f"applications/{object_id}").status_code == 200


@pytest.fixture(scope="module")
def fuzz_target(info: DemoInfo) -> tuple[Graph, str]:
    """An app of its own for the property test (a valid empty list empties its collection)."""
    graph = Graph(info, delegated_token(info, scope=SETUP_SCOPES))
    return graph, _create(graph, "Fuzz Target")["id"]
