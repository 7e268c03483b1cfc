"""The demo tenant's device code flow, driven by real MSAL and raw HTTPS like Entra's clients.

Tests that change the tenant's device-code policy put it back (`_policy`).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import msal
import pytest
from conftest import make_test_certificate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_emulator_helpers import session

from wizard.emulator import DemoInfo, DemoTenant
from wizard.emulator.device_code import (
    DEVICE_CODE_GRANT,
    GRAPH_CLI_CLIENT_ID,
    MAX_CODES,
    DeviceCodeSettings,
)
from wizard.emulator.users import APPLICATION_ADMINISTRATOR
from wizard.portal import PortalClient

WRITE_SCOPE = "https://graph.microsoft.com/Application.ReadWrite.All"


def _public_app(info: DemoInfo) -> Any:
    return msal.PublicClientApplication(
        GRAPH_CLI_CLIENT_ID,
        authority=info.authority,
        http_client=session(info),
        instance_discovery=False,
    )


def _start(info: DemoInfo, scope: str = WRITE_SCOPE, client_id: str = GRAPH_CLI_CLIENT_ID) -> Any:
    return session(info).post(
        f"{info.authority}/oauth2/v2.0/devicecode",
        data={"client_id": client_id, "scope": scope},
    )


def _poll(info: DemoInfo, device_code: str, client_id: str = GRAPH_CLI_CLIENT_ID) -> Any:
    return session(info).post(
        info.token_endpoint,
        data={"grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": device_code},
    )


def _decide(info: DemoInfo, user_code: str, decision: str, user: str = "admin") -> Any:
    return session(info).post(
        f"{info.portal}/devicecode/{user_code}", json={"decision": decision, "user": user}
    )


@contextmanager
def _policy(info: DemoInfo, **changes: int | bool) -> Iterator[None]:
    """The device-code policy changed for one test, and the defaults put back after it."""
    portal = PortalClient(info.portal, info.ca_bundle)
    applied = portal.set_device_code_policy(**changes)
    assert all(applied[name] == value for name, value in changes.items()), applied
    try:
        yield
    finally:
        defaults = DeviceCodeSettings()
        portal.set_device_code_policy(
            expires_in=defaults.expires_in,
            interval=defaults.interval,
            blocked_by_conditional_access=defaults.blocked_by_conditional_access,
        )


def _refusal(response: Any) -> tuple[str, int]:
    body = response.json()
    assert response.status_code == 400, body
    assert "access_token" not in body
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)
    return str(body["error"]), int(body["error_codes"][0])


# -- real MSAL -----------------------------------------------------------------------------


def test_msal_device_flow_gets_a_delegated_graph_token_once_the_admin_approves(
    demo_info: DemoInfo,
) -> None:
    app = _public_app(demo_info)
    flow = app.initiate_device_flow(scopes=[WRITE_SCOPE])
    assert (
        flow["verification_uri"]
        == demo_info.device_login
        == (f"{demo_info.authority_host}/devicelogin")
    )
    assert flow["interval"] == 5 and flow["expires_in"] == 900
    assert flow["user_code"] in flow["message"] and flow["verification_uri"] in flow["message"]
    assert _decide(demo_info, flow["user_code"], "approve").json()["status"] == "approved"

    result = app.acquire_token_by_device_flow(flow)

    assert "access_token" in result, result
    assert "refresh_token" not in result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["idtyp"] == "user" and claims["ver"] == "1.0"
    assert claims["scp"] == "Application.ReadWrite.All"
    assert claims["upn"] == f"admin@{demo_info.tenant_domain}"
    assert claims["tid"] == demo_info.tenant_id
    assert claims["appid"] == GRAPH_CLI_CLIENT_ID and claims["appidacr"] == "0"
    assert claims["aud"] == "00000003-0000-0000-c000-000000000000"
    assert APPLICATION_ADMINISTRATOR in claims["wids"]
    assert "roles" not in claims
    assert result["id_token_claims"]["oid"] == claims["oid"]
    assert [a["username"] for a in app.get_accounts()] == [claims["upn"]]


def test_msal_keeps_polling_through_authorization_pending_until_approval(
    demo_info: DemoInfo,
) -> None:
    with _policy(demo_info, interval=1):
        app = _public_app(demo_info)
        flow = app.initiate_device_flow(scopes=[WRITE_SCOPE])
        portal = PortalClient(demo_info.portal, demo_info.ca_bundle)
        approver = threading.Timer(
            1.5, lambda: portal.decide_device_code(flow["user_code"], approve=True, user="user")
        )
        approver.start()
        started = time.monotonic()
        result = app.acquire_token_by_device_flow(flow)
        approver.join()
    assert "access_token" in result, result
    assert time.monotonic() - started >= 1.4  # it waited for the approval
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["upn"] == f"user@{demo_info.tenant_domain}"
    assert APPLICATION_ADMINISTRATOR not in claims["wids"]


def test_msal_returns_authorization_declined(demo_info: DemoInfo) -> None:
    app = _public_app(demo_info)
    flow = app.initiate_device_flow(scopes=[WRITE_SCOPE])
    _decide(demo_info, flow["user_code"], "decline")
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "authorization_declined", result


# -- polling, as the RFC and Entra answer it -----------------------------------------------


def test_polling_answers_pending_then_slow_down_and_the_interval_grows(
    demo_info: DemoInfo,
) -> None:
    flow = _start(demo_info).json()
    assert _refusal(_poll(demo_info, flow["device_code"])) == ("authorization_pending", 70016)
    too_soon = _poll(demo_info, flow["device_code"])
    assert _refusal(too_soon)[0] == "slow_down"
    assert "10 seconds" in too_soon.json()["error_description"]


def test_a_declined_code_answers_once_then_is_gone(demo_info: DemoInfo) -> None:
    flow = _start(demo_info).json()
    assert _decide(demo_info, flow["user_code"], "decline").json()["status"] == "declined"
    assert _refusal(_poll(demo_info, flow["device_code"])) == ("authorization_declined", 70000)
    assert _refusal(_poll(demo_info, flow["device_code"])) == ("invalid_grant", 70000)


def test_an_approved_code_is_redeemed_once(demo_info: DemoInfo) -> None:
    flow = _start(demo_info).json()
    _decide(demo_info, flow["user_code"], "approve")
    first = _poll(demo_info, flow["device_code"])
    assert first.status_code == 200 and "access_token" in first.json()
    assert _refusal(_poll(demo_info, flow["device_code"])) == ("invalid_grant", 70000)
    again = _decide(demo_info, flow["user_code"], "approve")
    assert again.status_code == 404 and again.json()["error"]["code"] == "BadVerificationCode"


def test_an_expired_code_answers_expired_token_and_cannot_be_approved(
    demo_info: DemoInfo,
) -> None:
    with _policy(demo_info, expires_in=1):
        flow = _start(demo_info).json()
        assert flow["expires_in"] == 1
        time.sleep(1.1)
        late = _decide(demo_info, flow["user_code"], "approve")
        assert late.status_code == 400 and late.json()["error"]["code"] == "CodeExpired"
        assert _refusal(_poll(demo_info, flow["device_code"])) == ("expired_token", 70020)


def test_conditional_access_blocks_the_device_code_flow_with_53003(demo_info: DemoInfo) -> None:
    with _policy(demo_info, blocked_by_conditional_access=True):
        flow = _start(demo_info).json()
        assert _decide(demo_info, flow["user_code"], "approve").json()["status"] == "blocked"
        assert _refusal(_poll(demo_info, flow["device_code"])) == ("invalid_grant", 53003)


# -- the code endpoint's refusals ------------------------------------------------------------


def test_the_code_endpoint_refuses_like_entra(demo_info: DemoInfo) -> None:
    unknown = "11111111-2222-3333-4444-555555555555"
    assert _refusal(_start(demo_info, client_id=unknown)) == ("unauthorized_client", 700016)
    confidential = _start(demo_info, client_id=demo_info.client_id)
    assert confidential.status_code == 401
    assert confidential.json()["error_codes"] == [7000218]
    assert _refusal(_start(demo_info, scope="https://example.com/Files.Read")) == (
        "invalid_scope",
        70011,
    )
    missing = session(demo_info).post(
        f"{demo_info.authority}/oauth2/v2.0/devicecode", data={"scope": WRITE_SCOPE}
    )
    assert _refusal(missing) == ("invalid_request", 900144)
    wrong_tenant = session(demo_info).post(
        f"{demo_info.authority_host}/contoso.example/oauth2/v2.0/devicecode",
        data={"client_id": GRAPH_CLI_CLIENT_ID, "scope": WRITE_SCOPE},
    )
    assert wrong_tenant.json()["error_codes"] == [90002]
    got = session(demo_info).get(f"{demo_info.authority}/oauth2/v2.0/devicecode")
    assert got.json()["error_codes"] == [900561]


def test_an_app_with_public_client_flows_on_may_use_the_device_code_flow(
    demo_tenant: DemoTenant,
) -> None:
    info = demo_tenant.info
    http = session(info)
    http.patch(
        f"{info.portal}/applications/{info.unconsented_client_id}", json={"public_client": True}
    )
    try:
        flow = _start(info, client_id=info.unconsented_client_id).json()
        _decide(info, flow["user_code"], "approve")
        token = _poll(info, flow["device_code"], client_id=info.unconsented_client_id).json()
        claims = jwt.decode(token["access_token"], options={"verify_signature": False})
        assert claims["appid"] == info.unconsented_client_id
        assert claims["app_displayname"] == info.unconsented_app_name
    finally:
        http.patch(
            f"{info.portal}/applications/{info.unconsented_client_id}",
            json={"public_client": False},
        )


# -- the approval page and the portal call -------------------------------------------------


def test_the_approval_page_signs_in_a_demo_user(demo_info: DemoInfo) -> None:
    http = session(demo_info)
    page = http.get(f"{demo_info.authority_host}/devicelogin")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"admin@{demo_info.tenant_domain}" in page.text and "Approve" in page.text
    flow = _start(demo_info).json()
    typed = flow["user_code"].lower()[:4] + "-" + flow["user_code"].lower()[4:]
    done = http.post(
        f"{demo_info.authority_host}/devicelogin",
        data={
            "user_code": typed,
            "user": f"admin@{demo_info.tenant_domain}",
            "decision": "approve",
        },
    )
    assert done.status_code == 200 and "signed in" in done.text
    assert _poll(demo_info, flow["device_code"]).status_code == 200


def test_the_approval_page_escapes_what_it_is_sent(demo_info: DemoInfo) -> None:
    hostile = '"><script>alert(1)</script>'
    answer = session(demo_info).post(
        f"{demo_info.authority_host}/devicelogin",
        data={"user_code": hostile, "user": "admin", "decision": "approve"},
    )
    assert answer.status_code == 404 and "AADSTS70018" in answer.text
    assert "<script>" not in answer.text and "&lt;script&gt;" in answer.text


def test_the_portal_decision_refuses_bad_requests(demo_info: DemoInfo) -> None:
    flow = _start(demo_info).json()
    http = session(demo_info)
    url = f"{demo_info.portal}/devicecode/{flow['user_code']}"
    assert http.post(url, json={"decision": "maybe", "user": "admin"}).status_code == 400
    assert http.post(url, json={"decision": "approve", "user": "mallory"}).status_code == 400
    assert http.post(url, data=b"[1, 2").status_code == 400
    assert http.post(url, json={"decision": "approve"}).status_code == 400
    users = http.get(f"{demo_info.portal}/users").json()["value"]
    assert [u["application_administrator"] for u in users] == [True, False]
    bad_policy = http.patch(f"{demo_info.portal}/devicecode", json={"interval": 0})
    assert bad_policy.status_code == 400
    assert http.patch(f"{demo_info.portal}/devicecode", json={"interval": True}).status_code == 400
    # still pending: none of the refused calls decided it
    assert _refusal(_poll(demo_info, flow["device_code"]))[0] == "authorization_pending"


# -- floods ----------------------------------------------------------------------------------


def test_a_flood_of_code_requests_keeps_memory_bounded(demo_tenant: DemoTenant) -> None:
    codes = demo_tenant.device_codes
    for _ in range(MAX_CODES + 50):
        codes.start(GRAPH_CLI_CLIENT_ID, "flood", ("User.Read",))
    assert len(codes._by_device) <= MAX_CODES
    assert len(codes._by_user) <= MAX_CODES


def test_a_polling_flood_gets_slow_down_and_never_a_token(demo_info: DemoInfo) -> None:
    flow = _start(demo_info).json()
    http = session(demo_info)
    answers = [
        http.post(
            demo_info.token_endpoint,
            data={
                "grant_type": DEVICE_CODE_GRANT,
                "client_id": GRAPH_CLI_CLIENT_ID,
                "device_code": flow["device_code"],
            },
        ).json()["error"]
        for _ in range(30)
    ]
    assert answers[0] == "authorization_pending"
    assert set(answers[1:]) == {"slow_down"}


@pytest.mark.parametrize(
    "device_code",
    ["", "x" * 5000, "\x00\u202e", "%00"],
    ids=["empty", "huge", "controls", "percent"],
)
def test_odd_device_codes_are_refused(demo_info: DemoInfo, device_code: str) -> None:
    error, code = _refusal(_poll(demo_info, device_code))
    assert (error, code) in (("invalid_grant", 70000), ("invalid_request", 900144))


def test_the_device_code_flow_works_through_the_public_hosts(public_tenant: DemoTenant) -> None:
    info = public_tenant.info
    http = session(info)
    host = {"Host": "login.microsoftonline.com"}
    flow = http.post(
        f"{info.listen_url}/{info.tenant_id}/oauth2/v2.0/devicecode",
        data={"client_id": GRAPH_CLI_CLIENT_ID, "scope": "Application.ReadWrite.All"},
        headers=host,
    ).json()
    assert flow["verification_uri"] == "https://login.microsoftonline.com/devicelogin"
    page = http.get(f"{info.listen_url}/devicelogin", headers=host)
    assert page.status_code == 200
    _decide(info, flow["user_code"], "approve")
    token = http.post(
        f"{info.listen_url}/{info.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "client_id": GRAPH_CLI_CLIENT_ID,
            "device_code": flow["device_code"],
        },
        headers=host,
    ).json()
    claims = jwt.decode(token["id_token"], options={"verify_signature": False})
    assert claims["iss"] == f"https://login.microsoftonline.com/{info.tenant_id}/v2.0"


def test_real_msal_admin_sign_in_and_graph_write_through_an_intercepting_proxy(
    public_tenant: DemoTenant,
) -> None:
    """Real mode: MSAL with instance discovery on, the public hosts reached through a proxy."""
    import requests
    from intercepting_proxy import InterceptingProxy

    from wizard import certs
    from wizard.emulator.tenant import PUBLIC_GRAPH_HOST, PUBLIC_LOGIN_ALIASES

    info = public_tenant.info
    address = ("127.0.0.1", int(info.listen_url.rsplit(":", 1)[1]))
    routes = {host: address for host in (*PUBLIC_LOGIN_ALIASES, PUBLIC_GRAPH_HOST)}
    with InterceptingProxy(routes, info.ca_bundle) as proxy:
        http = requests.Session()
        http.trust_env = False
        http.verify = str(proxy.ca_file)
        http.proxies = {"https": proxy.url()}
        app = msal.PublicClientApplication(
            GRAPH_CLI_CLIENT_ID,
            authority=f"https://login.microsoftonline.com/{info.tenant_id}",
            http_client=http,
        )
        flow = app.initiate_device_flow(scopes=[WRITE_SCOPE])
        assert flow["verification_uri"] == "https://login.microsoftonline.com/devicelogin"
        _decide(info, flow["user_code"], "approve")
        result = app.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result
        graph = "https://graph.microsoft.com/v1.0"
        bearer = {"Authorization": f"Bearer {result['access_token']}"}
        found = http.get(
            f"{graph}/applications",
            params={"$filter": f"appId eq '{info.client_id}'"},
            headers=bearer,
        ).json()["value"][0]
        cert, _ = make_test_certificate("ThroughProxy")
        entry = {
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": base64.b64encode(certs.cert_der(cert)).decode(),
        }
        keys = [{"keyId": k["keyId"]} for k in found["keyCredentials"]]
        answer = http.patch(
            f"{graph}/applications/{found['id']}",
            json={"keyCredentials": [*keys, entry]},
            headers=bearer,
        )
        assert answer.status_code == 204, answer.text
        after = http.get(f"{graph}/applications/{found['id']}", headers=bearer).json()
        assert len(after["keyCredentials"]) == len(keys) + 1


_FORM_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from([GRAPH_CLI_CLIENT_ID, WRITE_SCOPE, "openid offline_access", ".default", ""]),
)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    form=st.dictionaries(
        st.sampled_from(["client_id", "scope", "grant_type", "device_code", "code"]),
        _FORM_TEXT,
        max_size=5,
    ),
    endpoint=st.sampled_from(["devicecode", "token"]),
)
def test_any_device_code_form_gets_an_answer_in_entras_envelope(
    demo_info: DemoInfo, form: dict[str, str], endpoint: str
) -> None:
    if endpoint == "token":
        form = {"grant_type": DEVICE_CODE_GRANT, **form}
    answer = session(demo_info).post(f"{demo_info.authority}/oauth2/v2.0/{endpoint}", data=form)
    body = answer.json()
    if answer.status_code == 200:
        assert endpoint == "devicecode" and body["user_code"]
    else:
        assert answer.status_code in (400, 401), body
        assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
        assert "access_token" not in body


def test_a_refused_policy_change_changes_nothing(demo_info: DemoInfo) -> None:
    http = session(demo_info)
    before = http.get(f"{demo_info.portal}/devicecode").json()
    refused = http.patch(f"{demo_info.portal}/devicecode", json={"interval": 2, "bogus": 1})
    assert refused.status_code == 400
    assert http.get(f"{demo_info.portal}/devicecode").json() == before
